/* What the project's polled virtio-blk guests share (busy.c, journal.c):
 * PCI config through 0xCF8/0xCFC and the first virtio-blk disk through the
 * legacy interface (virtio 1.x §4.1.4.8: I/O BAR0, one virtqueue, no
 * interrupts). Each guest includes it once, after gio.h, and defines
 * fail(what), which must not return. */
#ifndef VBLK_H
#define VBLK_H

#define VBLK_IOBASE 0xc000u
/* Guest physical memory the ring and request headers live in (--mem >= 16M):
 * legacy layout, descriptors, then avail, then used at the next 4 KiB. */
#define VBLK_RING 0x200000u
#define VBLK_HDRS 0x220000u

#define VIRTIO_BLK_T_IN    0
#define VIRTIO_BLK_T_OUT   1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_F_FLUSH (1u << 9)

static void fail(const char *what);

struct desc { u64 addr; u32 len; u16 flags, next; };
struct blk_hdr { u32 type, reserved; u64 sector; };

static volatile struct desc *desc = (volatile struct desc *)VBLK_RING;
static volatile u16 *avail;
static volatile u16 *used;
static u16 qsize, avail_idx, used_seen;
static u16 iob;
static u32 blk_slot = 32;

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

/* Finds the first virtio-blk (legacy id 1af4:1001) on bus 0 and sets it up
 * with the features in `want` (fails when the device does not offer them).
 * Returns the disk's capacity in 512-byte sectors. */
static u64 blk_init(u32 want)
{
	for (u32 s = 0; s < 32; s++)
		if (pci_read(s, 0) == 0x10011af4u) {
			blk_slot = s;
			break;
		}
	if (blk_slot == 32)
		fail("no virtio-blk (legacy id 1af4:1001) on bus 0");
	pci_write(blk_slot, 0x10, VBLK_IOBASE | 1);
	pci_write(blk_slot, 0x04, 0x5); /* I/O decode, bus master */
	iob = (u16)(pci_read(blk_slot, 0x10) & ~3u);
	if (iob != VBLK_IOBASE)
		fail("BAR0 did not take the I/O address");
	outb(iob + 18, 0);           /* reset */
	outb(iob + 18, 1);           /* ACKNOWLEDGE */
	outb(iob + 18, 1 | 2);       /* DRIVER */
	if ((inl(iob + 0) & want) != want)
		fail("virtio-blk does not offer the features the guest needs");
	outl(iob + 4, want);         /* guest features */
	outw(iob + 14, 0);           /* queue 0 */
	qsize = inw(iob + 12);
	if (qsize < 8 || (qsize & (qsize - 1)))
		fail("queue size");
	volatile u8 *p = (volatile u8 *)VBLK_RING;
	for (u32 i = 0; i < 0x20000; i++)
		p[i] = 0;
	avail = (volatile u16 *)(VBLK_RING + 16u * qsize);
	used = (volatile u16 *)((VBLK_RING + 16u * qsize + 6 + 2u * qsize + 4095) & ~4095u);
	avail[0] = 1; /* VRING_AVAIL_F_NO_INTERRUPT: polled */
	outl(iob + 8, VBLK_RING >> 12);
	outb(iob + 18, 1 | 2 | 4);   /* DRIVER_OK */
	return inl(iob + 20) | (u64)inl(iob + 24) << 32; /* config: le64 capacity */
}

/* One request from descriptor `first` on: header, then (len > 0) the data,
 * then the status byte. Made visible to the device; blk_kick notifies. */
static void blk_queue(u16 first, u32 type, u64 sector, u32 buf, u32 len, volatile u8 *status)
{
	volatile struct blk_hdr *h = (volatile struct blk_hdr *)(VBLK_HDRS + 32u * first);
	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*status = 0xff;
	u16 d = first;
	desc[d] = (struct desc){ (uptr)h, 16, 1, (u16)(d + 1) };
	if (len) {
		d++;
		desc[d] = (struct desc){ buf, len, (u16)(1 | (type == VIRTIO_BLK_T_IN ? 2 : 0)), (u16)(d + 1) };
	}
	desc[d + 1] = (struct desc){ (uptr)status, 1, 2, 0 };
	avail[2 + avail_idx % qsize] = first;
	__asm__ volatile("" ::: "memory");
	avail_idx++;
	avail[1] = avail_idx;
}

static void blk_kick(void)
{
	__asm__ volatile("" ::: "memory");
	outw(iob + 16, 0);
}

/* Polls until n more requests are used; `idle` (may be 0) runs while it waits. */
static void blk_wait(u16 n, void (*idle)(void))
{
	u32 spins = 0;
	while ((u16)(used[1] - used_seen) < n) {
		if (idle)
			idle();
		if (++spins == 0x10000000)
			fail("virtio-blk: no completion");
	}
	used_seen = used[1];
	(void)inb(iob + 19); /* ISR: read to clear */
}

#endif
