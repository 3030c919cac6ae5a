/* The guest of the shutdown test (tests/guest/run.sh, "shutdown"): 32-bit
 * entry through head32.S (paging off), never powers off. Sets up the first
 * virtio-blk disk through the legacy interface (I/O BAR0, one virtqueue,
 * polled, no interrupts), prints "busy: ready blk=<queue size>", writes
 * marker 0x05, then loops until hal is stopped, each round touching every
 * device hal's direct boot gives it:
 *   virtio-blk  a 16-sector read from the read-only area (LBA 0-511) and a
 *               16-sector write of what the round before read into the
 *               scratch area (LBA 512-1023), both in flight at once; then,
 *               with "rep" on the command line, 16 KiB of `rep insb` from
 *               its config space (legacy BAR0 + 20)
 *   COM1        "busy: <round>" (every round)
 *   bochs       DISPI ID/XRES through 0x1CE/0x1CF and through BAR2 (MMIO),
 *               Y offset written back, a strip of the framebuffer painted,
 *               the VGA input status register 0x3DA
 *   fw_cfg      the signature through 0x510/0x511, the file directory by DMA
 *               and (with "rep") by `rep insb` (4 KiB)
 *   RTC/CMOS    seconds, status registers A and C
 *   PM timer    PM base 0x600 + 8 (direct boot's PIIX4 PM block)
 *   i8042       status port 0x64
 *   PCI         the disk's vendor/device dword through 0xCF8/0xCFC
 * The disk's LBA 0-511 must never change; a request that fails prints
 * "busy: FAIL <what>" and the guest stops there (hlt). */
#include "gio.h"
#include "vblk.h"

u32 entry_cs, entry_ds, entry_es, entry_ss, entry_flags;
void checker_main(const u8 *bp, u32 entry);

#define RO_SECTORS 512   /* LBA 0..511: read only */
#define SCRATCH0   512   /* LBA 512..1023: written */
#define CHUNK      16    /* sectors per request */
#define LFB        0xFD000000u /* hal's PC_DIRECT_LFB */
#define DISPI_MMIO 0xFEBF0500u /* PC_DIRECT_MMIO + 0x500 */
#define PM_TMR     0x608
/* Guest physical memory of the buffers (vblk.h: ring and headers below) */
#define BUF_R 0x230000u
#define BUF_W 0x240000u
#define DMA_D 0x250000u
#define DMA_B 0x251000u
#define REP_B 0x260000u /* page aligned: KVM hands a rep ins over in one exit per up to 1 KiB */

static void fail(const char *what)
{
	puts("busy: FAIL ");
	puts(what);
	putch('\n');
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* `rep insb` from one port: hal's vCPU thread runs the device's handler
 * once per byte of each exit, so most of the guest's time is spent inside
 * device code on the vCPU thread, which is what the tear-down must wait
 * for before it frees that device. */
static int use_rep; /* "rep" on the command line */

static void rep_insb(u16 port, u32 n)
{
	if (!use_rep)
		return;
	u32 dst = REP_B;
	__asm__ volatile("cld; rep insb" : "+D"(dst), "+c"(n) : "d"(port) : "memory");
}

static volatile u8 st[2];

static void pm_timer(void)
{
	(void)inl(PM_TMR); /* the PM timer while the disk works */
}

static void blk_round(u32 round)
{
	u32 k = round % (RO_SECTORS / CHUNK);
	blk_queue(0, VIRTIO_BLK_T_IN, k * CHUNK, BUF_R, CHUNK * 512, &st[0]);
	blk_queue(3, VIRTIO_BLK_T_OUT, SCRATCH0 + k * CHUNK, BUF_W, CHUNK * 512, &st[1]);
	blk_kick();
	blk_wait(2, pm_timer);
	for (int j = 0; j < 4; j++)
		rep_insb(iob + 20, 4096); /* the disk's config space (capacity) */
	if (st[0] != 0 || st[1] != 0)
		fail("virtio-blk: request status");
	volatile u8 *r = (volatile u8 *)BUF_R, *w = (volatile u8 *)BUF_W;
	for (u32 i = 0; i < CHUNK * 512; i++)
		w[i] = r[i];
}

static void display_round(u32 round)
{
	outw(0x1ce, 0);
	if (inw(0x1cf) < 0xb0c0)
		fail("DISPI ID");
	outw(0x1ce, 1);
	u16 xres = inw(0x1cf);
	volatile u16 *mmio = (volatile u16 *)DISPI_MMIO;
	if (mmio[0] != 0xb0c5 || mmio[1] != xres)
		fail("DISPI through BAR2");
	outw(0x1ce, 9); /* Y offset */
	outw(0x1cf, 0);
	volatile u32 *fb = (volatile u32 *)LFB;
	for (u32 y = 0; y < 4; y++)
		for (u32 x = 0; x < 64; x++)
			fb[(y + (round & 63) * 4) * xres + x] = round * 0x010305u + x;
	(void)inb(0x3da);
}

static void fwcfg_round(void)
{
	outw(0x510, 0x19); /* the file directory, 4 KiB of it (zeros past its end) */
	rep_insb(0x511, 4096);
	outw(0x510, 0);
	if (inb(0x511) != 'Q' || inb(0x511) != 'E' || inb(0x511) != 'M' || inb(0x511) != 'U')
		fail("fw_cfg signature");
	volatile u32 *d = (volatile u32 *)DMA_D;
	/* FWCfgDmaAccess, big endian: control (select 0x19 | SELECT | READ), length, address */
	d[0] = __builtin_bswap32(0x19u << 16 | 0x08 | 0x02);
	d[1] = __builtin_bswap32(64);
	d[2] = 0;
	d[3] = __builtin_bswap32(DMA_B);
	__asm__ volatile("" ::: "memory");
	outl(0x514, 0);
	outl(0x518, __builtin_bswap32(DMA_D));
	if (d[0] != 0)
		fail("fw_cfg DMA");
}

static void cmos_round(void)
{
	outb(0x70, 0x00);
	(void)inb(0x71);
	outb(0x70, 0x0a);
	(void)inb(0x71);
	outb(0x70, 0x0c);
	(void)inb(0x71);
	(void)inb(0x64); /* i8042 status */
	(void)pci_read(blk_slot, 0);
}

void checker_main(const u8 *bp, u32 entry)
{
	(void)entry;
	const char *cmd = (const char *)(uptr)(bp[0x228] | bp[0x229] << 8 | bp[0x22a] << 16 | (u32)bp[0x22b] << 24);
	for (int i = 0; cmd && i < 256 && cmd[i]; i++)
		if (cmd[i] == 'r' && cmd[i + 1] == 'e' && cmd[i + 2] == 'p' && (i == 0 || cmd[i - 1] == ' '))
			use_rep = 1;
	(void)blk_init(0);
	puts("busy: ready blk=");
	putdec(qsize);
	puts(use_rep ? " rep" : "");
	putch('\n');
	outb(0x440, 0x05);
	for (u32 round = 0;; round++) {
		blk_round(round);
		display_round(round);
		fwcfg_round();
		cmos_round();
		puts("busy: ");
		putdec(round);
		putch('\n');
	}
}
