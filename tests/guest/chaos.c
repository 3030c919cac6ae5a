/* The chaos guest (tests/guest/chaos.sh, issue 12): 32-bit entry through
 * head32.S, paging off, never stops by itself. Seeded by chaos.seed=HEX on
 * its command line (xorshift32, so a seed replays the same operations), it
 * does, for ever, one of:
 *   - a read or write of 1, 2 or 4 random bytes at a port: one of the PC's
 *     (i8042 data, RTC, POST, VGA, DISPI, debugcon, fw_cfg, PM block, PCI
 *     config) or a PCI function's I/O BAR, or any 16-bit port
 *   - the same in a PCI function's memory BAR (its first 64 KiB)
 *   - a random write to any function's PCI config space (BARs moved onto
 *     RAM, onto each other, decode turned off, ROM BARs)
 *   - a virtqueue on a random virtio device through its legacy registers:
 *     a ring at a random place (mostly in RAM), random descriptors, a random
 *     avail index, a notify; or a random device status (resets)
 *   - a fw_cfg DMA descriptor with random control, length and address
 *   - `rep insb` / `rep outsb` of up to 4 KiB from a random port
 * Addresses a device may write to are kept out of the guest's own code and
 * stack (below 4 MiB): in the scratch area 4-60 MiB or outside RAM. A random
 * register write can still point a device's DMA anywhere (an AHCI command
 * list, an e1000 ring): the guest may then overwrite itself and crash, a
 * defined end (chaos.sh starts the next run). COM1
 * (0x3f8-0x3ff) is left alone: every 256 operations the guest prints
 * "chaos: N" there. The marker port 0x440 is left out of the list too (a
 * line on hal's stderr per byte). Ports that end the machine on purpose (0x92, 0xcf9,
 * i8042 commands, PM1_CNT) are not in the list; a random port may still
 * hit them, rarely, and hal then exits with its defined status. The PIC,
 * the PIT (with port 0x61), the IOAPIC and the local APIC are KVM's, not
 * hal's: left alone (skip_port). With them in the list the bed's L1 once
 * logged "kvm: pic: single mode not supported" for 90 s and then stopped
 * printing (a lockup by bed.sh's rule); a PIT or PIC programmed at random
 * tests L1's KVM under TCG, not hal. */
#include "gio.h"

u32 entry_cs, entry_ds, entry_es, entry_ss, entry_flags;
void checker_main(const u8 *bp, u32 entry);

#define SCRATCH    0x400000u  /* 4 MiB */
#define SCRATCH_SZ 0x3800000u /* to 60 MiB (--mem 64M) */
#define RAM_END    0x4000000u /* 64 MiB */
#define VRAM_SZ    0x1000000u /* bochs-display's BAR0 (hal/display/bochs.h) */

static u32 rng;
static u32 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* an address a device may write to: the scratch area (7 in 8) or anywhere from 64 MiB on */
static u32 dma_addr(void)
{
	if (rnd() & 7)
		return SCRATCH + rnd() % SCRATCH_SZ;
	return 0x4000000u + rnd() % 0xbc000000u;
}

static u32 pci_read(u32 bdf, u32 reg)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfc));
	return inl(0xcfc);
}

static const u16 pc_ports[] = {
	0x60, 0x70, 0x71, 0x80,
	0x1ce, 0x1cf, 0x3b4, 0x3b5, 0x3ba, 0x3c0, 0x3c1, 0x3c2, 0x3c4, 0x3c5, 0x3c6, 0x3c7, 0x3c8, 0x3c9,
	0x3cc, 0x3ce, 0x3cf, 0x3d4, 0x3d5, 0x3da, 0x402, 0x510, 0x511, 0x514, 0x518,
	0x600, 0x601, 0x602, 0x603, 0x608, 0x609, 0x60a, 0x60b, 0xcf8, 0xcfc, 0xcfd, 0xcfe, 0xcff,
};
#define NPC (sizeof(pc_ports) / sizeof(pc_ports[0]))

#define MAXBAR 32
static u32 io_bar[MAXBAR], mem_bar[MAXBAR], virtio_io[MAXBAR];
static u32 n_io, n_mem, n_virtio, vram;

static void pci_write(u32 bdf, u32 reg, u32 v)
{
	outl(0xcf8, 0x80000000u | bdf << 8 | (reg & 0xfc));
	outl(0xcfc, v);
}

/* Every function's BARs: memory BARs where hal placed them, I/O BARs
 * (direct boot leaves them to the guest) sized and placed from 0xc000 on,
 * decoding and bus mastering on. */
static void scan_pci(void)
{
	u32 next_io = 0xc000;
	for (u32 bdf = 0; bdf < 256; bdf++) {
		u32 id = pci_read(bdf, 0);
		if (id == 0xffffffffu || id == 0)
			continue;
		for (u32 b = 0; b < 6; b++) {
			u32 reg = 0x10 + 4 * b, v = pci_read(bdf, reg);
			if (v & 1) {
				pci_write(bdf, reg, 0xffffffffu);
				u32 size = (~(pci_read(bdf, reg) & 0xfffcu) + 1) & 0xffff;
				if (!size || size > 0x1000 || n_io == MAXBAR) {
					pci_write(bdf, reg, v);
					continue;
				}
				next_io = (next_io + size - 1) & ~(size - 1);
				pci_write(bdf, reg, next_io | 1);
				io_bar[n_io++] = next_io;
				if ((id & 0xffff) == 0x1af4 && b == 0 && n_virtio < MAXBAR)
					virtio_io[n_virtio++] = next_io;
				next_io += size;
			} else if ((v & ~15u) && n_mem < MAXBAR) {
				mem_bar[n_mem++] = v & ~15u;
				if (id == 0x11111234u && b == 0)
					vram = v & ~15u; /* bochs-display's framebuffer */
				if ((v & 6) == 4)
					b++; /* 64-bit: the next BAR is its high half */
			}
		}
		pci_write(bdf, 0x04, pci_read(bdf, 0x04) | 7);
	}
}

/* Not touched: the ports KVM's in-kernel devices serve (KVM_CREATE_IRQCHIP,
 * KVM_CREATE_PIT2: PIC and its ELCR, PIT and its speaker gate), and COM1,
 * where the progress lines go. */
static int skip_port(u16 p)
{
	return p == 0x20 || p == 0x21 || p == 0xa0 || p == 0xa1 || p == 0x4d0 || p == 0x4d1 ||
	       (p >= 0x40 && p <= 0x43) || p == 0x61 || (p >= 0x3f8 && p <= 0x3ff);
}

static void port_op(u16 port)
{
	u32 v = rnd(), k = v >> 28;
	if (skip_port(port))
		return;
	switch (k & 7) {
	case 0: outb(port, (u8)v); break;
	case 1: outw(port, (u16)v); break;
	case 2: outl(port, rnd()); break;
	case 3: (void)inb(port); break;
	case 4: (void)inw(port); break;
	default: (void)inl(port); break;
	}
}

static void mmio_op(u32 base)
{
	u32 off = rnd() & 0xfffc, v = rnd();
	volatile u8 *p = (volatile u8 *)(uptr)(base + off);
	switch (rnd() & 7) {
	case 0: *p = (u8)v; break;
	case 1: *(volatile u16 *)p = (u16)v; break;
	case 2: *(volatile u32 *)p = v; break;
	case 3: (void)*p; break;
	case 4: (void)*(volatile u16 *)p; break;
	default: (void)*(volatile u32 *)p; break;
	}
}

/* random descriptors in a ring the device is told about, then a notify */
static void virtq_op(void)
{
	if (!n_virtio)
		return;
	u16 io = (u16)virtio_io[rnd() % n_virtio];
	u32 r = rnd();
	if ((r & 3) == 0) { /* a random status: 0 resets the device */
		outb(io + 18, (u8)(rnd() & ((r & 4) ? 0xff : 0x0f)));
		return;
	}
	u32 ring = (r & 8) ? SCRATCH + (rnd() % (SCRATCH_SZ - 0x20000) & ~0xfffu) : (dma_addr() & ~0xfffu);
	outb(io + 18, 1 | 2);
	outl(io + 4, rnd());
	outw(io + 14, (u16)(rnd() % 3));
	u16 qs = inw(io + 12);
	outl(io + 8, ring >> 12);
	outb(io + 18, (u8)(1 | 2 | 4 | (rnd() & 8)));
	if (ring >= SCRATCH && ring + 0x20000 <= SCRATCH + SCRATCH_SZ && qs && qs <= 1024) {
		volatile u32 *d = (volatile u32 *)(uptr)ring;
		for (u32 i = 0; i < 4u * qs; i += 4) {
			d[i] = (rnd() & 1) ? dma_addr() : rnd(); /* addr low */
			d[i + 1] = (rnd() & 7) ? 0 : rnd();      /* addr high */
			d[i + 2] = (rnd() & 3) ? rnd() % 8192 : rnd(); /* len */
			d[i + 3] = rnd();                        /* flags, next */
		}
		volatile u16 *avail = (volatile u16 *)(uptr)(ring + 16u * qs);
		for (u32 i = 0; i < qs + 3u; i++)
			avail[i] = (u16)((rnd() & 1) ? rnd() % qs : rnd());
		avail[1] = (u16)((rnd() & 1) ? rnd() % 8 : rnd());
	}
	outw(io + 16, (u16)(rnd() % 3));
	(void)inb(io + 19);
}

static void fwcfg_dma_op(void)
{
	volatile u32 *d = (volatile u32 *)(uptr)(SCRATCH + (rnd() % (SCRATCH_SZ - 16) & ~15u));
	d[0] = __builtin_bswap32((rnd() & 3) ? (rnd() & 0x3f) << 16 | 1u << (1 + rnd() % 4) : rnd());
	d[1] = __builtin_bswap32((rnd() & 1) ? rnd() % 8192 : rnd());
	d[2] = 0;
	d[3] = __builtin_bswap32(dma_addr());
	outl(0x514, 0);
	outl(0x518, __builtin_bswap32((u32)(uptr)d));
}

static void rep_op(void)
{
	u16 port = (rnd() & 1) ? pc_ports[rnd() % NPC] : (n_io ? (u16)(io_bar[rnd() % n_io] + (rnd() & 0x1f)) : 0x80);
	if (skip_port(port))
		return;
	u32 dst = SCRATCH + (rnd() % (SCRATCH_SZ - 4096)), n = rnd() % 4097;
	if (rnd() & 1)
		__asm__ volatile("cld; rep insb" : "+D"(dst), "+c"(n) : "d"(port) : "memory");
	else
		__asm__ volatile("cld; rep outsb" : "+S"(dst), "+c"(n) : "d"(port) : "memory");
}

/* chaos.seed=HEX from the kernel command line (1 without it) */
static u32 seed_from(const char *cmd)
{
	static const char key[] = "chaos.seed=";
	for (int i = 0; cmd && i < 1024 && cmd[i]; i++) {
		int k = 0;
		while (key[k] && cmd[i + k] == key[k])
			k++;
		if (key[k] || (i > 0 && cmd[i - 1] != ' '))
			continue;
		u32 v = 0;
		for (const char *p = cmd + i + k; *p && *p != ' '; p++)
			v = v << 4 | (u32)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
		return v ? v : 1;
	}
	return 1;
}

void checker_main(const u8 *bp, u32 entry)
{
	(void)entry;
	const char *cmd = (const char *)(uptr)(bp[0x228] | bp[0x229] << 8 | bp[0x22a] << 16 | (u32)bp[0x22b] << 24);
	u32 seed = seed_from(cmd);
	rng = seed;
	scan_pci();
	/* every page a device may be told to write to, touched once now: hal's
	 * RSS after this is the baseline chaos.sh compares with. The scratch
	 * area, the rest of RAM above it (read and written back: the stack is
	 * there), and the 16 MiB framebuffer, which a moved BAR can put under a
	 * device's DMA address or under the scratch area. */
	for (u32 a = SCRATCH; a < SCRATCH + SCRATCH_SZ; a += 4096)
		*(volatile u32 *)(uptr)a = a;
	for (u32 a = SCRATCH + SCRATCH_SZ; a < RAM_END; a += 4096)
		*(volatile u32 *)(uptr)a = *(volatile u32 *)(uptr)a;
	for (u32 a = 0; vram && a < VRAM_SZ; a += 4096)
		*(volatile u32 *)(uptr)(vram + a) = 0;
	puts("chaos: seed ");
	puthex(seed, 8);
	puts(" io-bars ");
	putdec(n_io);
	puts(" mem-bars ");
	putdec(n_mem);
	puts(" virtio ");
	putdec(n_virtio);
	putch('\n');
	for (u32 ops = 1;; ops++) {
		u32 r = rnd() % 16;
		if (r < 3)
			port_op(pc_ports[rnd() % NPC]);
		else if (r < 5)
			port_op(n_io ? (u16)(io_bar[rnd() % n_io] + (rnd() & 0x3f)) : 0x80);
		else if (r < 6)
			port_op((u16)rnd());
		else if (r < 9) {
			if (n_mem)
				mmio_op(mem_bar[rnd() % n_mem]);
		} else if (r < 10) {
			u32 bdf = rnd() & 0xff, reg = rnd() & 0xfc;
			outl(0xcf8, 0x80000000u | bdf << 8 | reg);
			port_op((u16)(0xcfc + (rnd() & 3)));
		} else if (r < 13)
			virtq_op();
		else if (r < 14)
			fwcfg_dma_op();
		else
			rep_op();
		if ((ops & 255) == 0) {
			puts("chaos: ");
			putdec(ops);
			putch('\n');
		}
	}
}
