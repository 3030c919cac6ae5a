/* The guest of the no-acknowledged-write-lost test (tests/guest/journal.sh):
 * 32-bit entry through head32.S, never powers off. On the first virtio-blk
 * disk (legacy interface, polled, VIRTIO_BLK_F_FLUSH negotiated) it writes
 * numbered records, one per 512-byte sector, record n at LBA n, in rounds:
 * two 8-sector writes in flight at once, both completed, then a FLUSH; only
 * when the FLUSH has completed does it print "jrnl: N" on COM1, N the
 * number of records that are now durable (all of 0..N-1). A record is
 *   le32 magic "JRNL", le32 run id, le32 n, le32 ~n, then 124 words
 *   id * 0x9e3779b1 + n * 0x85ebca6b + i (i the word's index)
 * so a record left on the disk by an earlier run never counts: the run id
 * comes from the command line (jrnl.id=HEX). When the next round no longer
 * fits, it prints "jrnl: full" and halts; a request that fails prints
 * "jrnl: FAIL <what>" and halts. tests/guest/jrnlcheck.c checks the disk. */
#include "gio.h"
#include "vblk.h"

u32 entry_cs, entry_ds, entry_es, entry_ss, entry_flags;
void checker_main(const u8 *bp, u32 entry);

#define PER_REQ 8           /* records (sectors) per write request */
#define BUF     0x230000u   /* two requests' data, 8 KiB */

static void fail(const char *what)
{
	puts("jrnl: FAIL ");
	puts(what);
	putch('\n');
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void record(volatile u32 *w, u32 id, u32 n)
{
	w[0] = 0x4c4e524au; /* "JRNL" little endian */
	w[1] = id;
	w[2] = n;
	w[3] = ~n;
	for (u32 i = 4; i < 128; i++)
		w[i] = id * 0x9e3779b1u + n * 0x85ebca6bu + i;
}

/* jrnl.id=HEX from the kernel command line (0 without it) */
static u32 run_id(const char *cmd)
{
	static const char key[] = "jrnl.id=";
	for (int i = 0; cmd && i < 1024 && cmd[i]; i++) {
		int k = 0;
		while (key[k] && cmd[i + k] == key[k])
			k++;
		if (key[k] || (i > 0 && cmd[i - 1] != ' '))
			continue;
		u32 v = 0;
		for (const char *p = cmd + i + k; *p && *p != ' '; p++) {
			u32 d = *p >= '0' && *p <= '9' ? (u32)(*p - '0') : *p >= 'a' && *p <= 'f' ? (u32)(*p - 'a' + 10) : 99;
			if (d > 15)
				fail("jrnl.id= is not hex");
			v = v << 4 | d;
		}
		return v;
	}
	return 0;
}

static volatile u8 st[3];

void checker_main(const u8 *bp, u32 entry)
{
	(void)entry;
	const char *cmd = (const char *)(uptr)(bp[0x228] | bp[0x229] << 8 | bp[0x22a] << 16 | (u32)bp[0x22b] << 24);
	u32 id = run_id(cmd);
	u64 capacity = blk_init(VIRTIO_BLK_F_FLUSH);
	puts("jrnl: ready id=");
	puthex(id, 8);
	puts(" sectors=");
	putdec(capacity);
	putch('\n');
	for (u32 n = 0;; n += 2 * PER_REQ) {
		if (n + 2 * PER_REQ > capacity) {
			puts("jrnl: full\n");
			for (;;)
				__asm__ volatile("cli; hlt");
		}
		for (u32 r = 0; r < 2 * PER_REQ; r++)
			record((volatile u32 *)(BUF + 512 * r), id, n + r);
		blk_queue(0, VIRTIO_BLK_T_OUT, n, BUF, PER_REQ * 512, &st[0]);
		blk_queue(3, VIRTIO_BLK_T_OUT, n + PER_REQ, BUF + PER_REQ * 512, PER_REQ * 512, &st[1]);
		blk_kick();
		blk_wait(2, 0);
		if (st[0] != 0 || st[1] != 0)
			fail("write status");
		blk_queue(6, VIRTIO_BLK_T_FLUSH, 0, 0, 0, &st[2]);
		blk_kick();
		blk_wait(1, 0);
		if (st[2] != 0)
			fail("flush status");
		puts("jrnl: ");
		putdec(n + 2 * PER_REQ);
		putch('\n');
	}
}
