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

u32 entry_cs, entry_ds, entry_es, entry_ss, entry_flags;
void checker_main(const u8 *bp, u32 entry);

#define RO_SECTORS 512   /* LBA 0..511: read only */
#define SCRATCH0   512   /* LBA 512..1023: written */
#define CHUNK      16    /* sectors per request */
#define LFB        0xFD000000u /* hal's PC_DIRECT_LFB */
#define DISPI_MMIO 0xFEBF0500u /* PC_DIRECT_MMIO + 0x500 */
#define PM_TMR     0x608
#define IOBASE     0xc000u

/* Guest physical memory the rings and buffers live in (--mem >= 16M). */
#define RING  0x200000u /* legacy layout: desc, avail, then used at 4 KiB */
#define HDRS  0x220000u
#define BUF_R 0x230000u
#define BUF_W 0x240000u
#define DMA_D 0x250000u
#define DMA_B 0x251000u
#define REP_B 0x260000u /* page aligned: KVM hands a rep ins over in one exit per up to 1 KiB */

struct desc { u64 addr; u32 len; u16 flags, next; };
struct blk_hdr { u32 type, reserved; u64 sector; };

static volatile struct desc *desc = (volatile struct desc *)RING;
static volatile u16 *avail;
static volatile u16 *used;
static u16 qsize, avail_idx, used_seen;
static u16 iob;

static void fail(const char *what)
{
	puts("busy: FAIL ");
	puts(what);
	putch('\n');
	for (;;)
		__asm__ volatile("cli; hlt");
}

static u32 pci_read(u32 slot, u32 reg)
{
	outl(0xcf8, 0x80000000u | slot << 11 | reg);
	return inl(0xcfc);
}

static void pci_write(u32 slot, u32 reg, u32 v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | reg);
	outl(0xcfc, v);
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

static u32 blk_slot = 32;

static void blk_init(void)
{
	for (u32 s = 0; s < 32; s++)
		if (pci_read(s, 0) == 0x10011af4u) {
			blk_slot = s;
			break;
		}
	if (blk_slot == 32)
		fail("no virtio-blk (legacy id 1af4:1001) on bus 0");
	pci_write(blk_slot, 0x10, IOBASE | 1);
	pci_write(blk_slot, 0x04, 0x5); /* I/O decode, bus master */
	iob = (u16)(pci_read(blk_slot, 0x10) & ~3u);
	if (iob != IOBASE)
		fail("BAR0 did not take the I/O address");
	outb(iob + 18, 0);           /* reset */
	outb(iob + 18, 1);           /* ACKNOWLEDGE */
	outb(iob + 18, 1 | 2);       /* DRIVER */
	outl(iob + 4, 0);            /* no features */
	outw(iob + 14, 0);           /* queue 0 */
	qsize = inw(iob + 12);
	if (qsize < 8 || (qsize & (qsize - 1)))
		fail("queue size");
	volatile u8 *p = (volatile u8 *)RING;
	for (u32 i = 0; i < 0x20000; i++)
		p[i] = 0;
	avail = (volatile u16 *)(RING + 16u * qsize);
	used = (volatile u16 *)((RING + 16u * qsize + 6 + 2u * qsize + 4095) & ~4095u);
	avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT: polled */
	outl(iob + 8, RING >> 12);
	outb(iob + 18, 1 | 2 | 4);   /* DRIVER_OK */
}

/* One request as three descriptors from `first`: header, data, status. */
static void blk_queue(u16 first, u32 type, u32 sector, u32 buf, volatile u8 *status)
{
	volatile struct blk_hdr *h = (volatile struct blk_hdr *)(HDRS + 32u * first);
	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*status = 0xff;
	desc[first] = (struct desc){ (uptr)h, 16, 1, (u16)(first + 1) };
	desc[first + 1] = (struct desc){ buf, CHUNK * 512, (u16)(1 | (type == 0 ? 2 : 0)), (u16)(first + 2) };
	desc[first + 2] = (struct desc){ (uptr)status, 1, 2, 0 };
	avail[2 + avail_idx % qsize] = first;
	__asm__ volatile("" ::: "memory");
	avail_idx++;
	avail[1] = avail_idx;
}

static volatile u8 st[2];

static void blk_round(u32 round)
{
	u32 k = round % (RO_SECTORS / CHUNK);
	blk_queue(0, 0, k * CHUNK, BUF_R, &st[0]);                 /* VIRTIO_BLK_T_IN */
	blk_queue(3, 1, SCRATCH0 + k * CHUNK, BUF_W, &st[1]);      /* VIRTIO_BLK_T_OUT */
	__asm__ volatile("" ::: "memory");
	outw(iob + 16, 0);
	u32 spins = 0;
	while ((u16)(used[1] - used_seen) < 2) {
		(void)inl(PM_TMR); /* the PM timer while the disk works */
		if (++spins == 0x10000000)
			fail("virtio-blk: no completion");
	}
	used_seen = used[1];
	(void)inb(iob + 19); /* ISR: read to clear */
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
	blk_init();
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
