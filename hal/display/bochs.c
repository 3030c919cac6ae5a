/* bochs-display (QEMU's -device bochs-display): PCI 1234:1111, class 0x0380.
 *   BAR0  16 MiB linear framebuffer: host memory mapped into the guest as a
 *         KVM RAM slot with dirty logging, moved when the BAR moves;
 *   BAR2  4 KiB MMIO: EDID at 0, VGA ports 0x3C0-0x3DF at 0x400, DISPI
 *         registers at 0x500 (16 bit each), "qemu extended" regs at 0x600;
 *   ROM   Debian's vgabios-bochs-display.bin (SeaBIOS draws text into the LFB).
 * DISPI is also on ports 0x1CE/0x1CF. While DISPI is disabled the screen
 * shows VGA text from 0xB8000 (vgatext.c). See docs/display.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "display/bochs.h"

enum {
	DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK, DISPI_VIRT_WIDTH,
	DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET, DISPI_VIDEO_MEMORY_64K, DISPI_NREGS,
	EN_ENABLED = 0x01, EN_GETCAPS = 0x02, EN_8BIT_DAC = 0x20, EN_LFB = 0x40, EN_NOCLEAR = 0x80,
	MAX_XRES = 2560, MAX_YRES = 1600,
};


/* ---- EDID: one 128-byte block, preferred mode w x h ------------------------ */

static void dtd(uint8_t *d, int w, int h)
{
	/* CVT-ish reduced blanking: enough for bochs-drm and SeaBIOS, which
	 * take the active size and ignore the rest. */
	int hb = 160, vb = 30, clk = (w + hb) * (h + vb) * 60 / 10000; /* 10 kHz units */
	put_le16(d, (uint16_t)clk); /* pixel clock (EDID 1.4, 3.10.2) */
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)hb;
	d[4] = (uint8_t)((w >> 8) << 4 | hb >> 8);
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)vb;
	d[7] = (uint8_t)((h >> 8) << 4 | vb >> 8);
	d[8] = 48;  /* h sync offset */
	d[9] = 32;  /* h sync width */
	d[10] = 3 << 4 | 6; /* v sync offset, width */
	d[11] = 0;
	int mmw = w * 254 / 960, mmh = h * 254 / 960; /* ~96 dpi */
	d[12] = (uint8_t)mmw;
	d[13] = (uint8_t)mmh;
	d[14] = (uint8_t)((mmw >> 8) << 4 | mmh >> 8);
	d[17] = 0x1e; /* digital separate sync, +h +v */
}

void bochs_edid(uint8_t e[128], int w, int h)
{
	static const uint8_t hdr[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	memset(e, 0, 128);
	memcpy(e, hdr, 8);
	uint16_t mfg = ('H' - '@') << 10 | ('A' - '@') << 5 | ('L' - '@');
	put_be16(e + 8, mfg);       /* manufacturer ID: big endian (EDID 1.4, 3.4) */
	put_le16(e + 10, 0x1234);   /* product */
	e[16] = 1; e[17] = 34;      /* week 1, 2024 */
	e[18] = 1; e[19] = 4;       /* EDID 1.4 */
	e[20] = 0xa5;               /* digital, 8 bits per colour, DisplayPort */
	e[21] = (uint8_t)(w * 254 / 9600); e[22] = (uint8_t)(h * 254 / 9600); /* cm */
	e[23] = 120;                /* gamma 2.2 */
	e[24] = 0x06;               /* RGB 4:4:4, preferred timing is native */
	static const uint8_t chroma[10] = { 0xee, 0x91, 0xa3, 0x54, 0x4c, 0x99, 0x26, 0x0f, 0x50, 0x54 };
	memcpy(e + 25, chroma, 10);
	e[35] = 0x21; e[36] = 0x08; /* established: 640x480@60, 800x600@60, 1024x768@60 */
	for (int i = 38; i < 54; i++)
		e[i] = 1;           /* no standard timings */
	dtd(e + 54, w, h);
	uint8_t *d = e + 72;        /* range limits */
	d[3] = 0xfd; d[5] = 50; d[6] = 125; d[7] = 30; d[8] = 160; d[9] = 60; d[10] = 1; d[11] = 0x0a;
	memset(d + 12, 0x20, 6);
	d = e + 90;                 /* monitor name */
	d[3] = 0xfc;
	memcpy(d + 5, "hal display\n ", 13);
	d = e + 108;                /* dummy */
	d[3] = 0x10;
	uint8_t sum = 0;
	for (int i = 0; i < 127; i++)
		sum = (uint8_t)(sum + e[i]);
	e[127] = (uint8_t)-sum;
}

/* ---- DISPI ------------------------------------------------------------------ */

static uint16_t dispi_read(struct bochs *b, unsigned idx)
{
	if (idx >= DISPI_NREGS)
		return 0;
	if (b->dispi[DISPI_ENABLE] & EN_GETCAPS) {
		if (idx == DISPI_XRES)
			return MAX_XRES;
		if (idx == DISPI_YRES)
			return MAX_YRES;
		if (idx == DISPI_BPP)
			return 32;
	}
	if (idx == DISPI_ID)
		return 0xb0c5;
	if (idx == DISPI_VIDEO_MEMORY_64K)
		return BOCHS_VRAM >> 16;
	return b->dispi[idx];
}

static int bytes_pp(unsigned bpp)
{
	return bpp == 15 ? 2 : (int)(bpp + 7) / 8;
}

static void fix_virt(struct bochs *b)
{
	uint16_t *r = b->dispi;
	int bpp = bytes_pp(r[DISPI_BPP]);
	if (r[DISPI_VIRT_WIDTH] < r[DISPI_XRES])
		r[DISPI_VIRT_WIDTH] = r[DISPI_XRES];
	uint32_t pitch = (uint32_t)r[DISPI_VIRT_WIDTH] * (uint32_t)bpp;
	uint32_t vh = pitch ? BOCHS_VRAM / pitch : 0;
	r[DISPI_VIRT_HEIGHT] = (uint16_t)(vh > 0xffff ? 0xffff : vh);
}

/* Zeroes the first n bytes of VRAM. Whole pages are given back to the
 * kernel (MADV_DONTNEED: they read as zeros and cost no memory until the
 * guest draws there; KVM follows through its MMU notifier) rather than
 * written, so a mode set does not make hal's RSS the size of the mode. */
static void clear_vram(struct bochs *b, size_t n)
{
	size_t pages = n & ~(size_t)4095;
	if (!pages || madvise(b->vram, pages, MADV_DONTNEED) < 0)
		pages = 0;
	memset(b->vram + pages, 0, n - pages);
}

static void dispi_write(struct bochs *b, unsigned idx, uint16_t v)
{
	uint16_t *r = b->dispi;
	switch (idx) {
	case DISPI_ID:
		if (v >= 0xb0c0 && v <= 0xb0c5)
			r[DISPI_ID] = v;
		return;
	case DISPI_XRES: r[idx] = v > MAX_XRES ? MAX_XRES : v & ~7u; break;
	case DISPI_YRES: r[idx] = v > MAX_YRES ? MAX_YRES : v; break;
	case DISPI_BPP:
		r[idx] = (v == 8 || v == 15 || v == 16 || v == 24 || v == 32) ? v : 32;
		break;
	case DISPI_ENABLE:
		if ((v & EN_ENABLED) && !(r[DISPI_ENABLE] & EN_ENABLED)) {
			if (!r[DISPI_BPP])
				r[DISPI_BPP] = 32;
			r[DISPI_VIRT_WIDTH] = r[DISPI_XRES];
			r[DISPI_X_OFFSET] = r[DISPI_Y_OFFSET] = 0;
			fix_virt(b);
			if (!(v & EN_NOCLEAR) && b->vram) {
				size_t n = (size_t)r[DISPI_VIRT_WIDTH] * (size_t)bytes_pp(r[DISPI_BPP]) * r[DISPI_YRES];
				clear_vram(b, n < BOCHS_VRAM ? n : BOCHS_VRAM);
			}
		}
		r[idx] = v;
		break;
	case DISPI_BANK: r[idx] = v & 0xff; break;
	case DISPI_VIRT_WIDTH: r[idx] = v; fix_virt(b); break;
	case DISPI_X_OFFSET: case DISPI_Y_OFFSET: r[idx] = v; break;
	default: return; /* VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only */
	}
	b->serial++;
	/* a mode set: the framebuffer is what the guest means to show */
	if (b->vga && b->vga->mem)
		memcpy(b->text_seen, b->vga->mem + VGA_TEXT_OFF, VGA_TEXT_BYTES);
	b->direct_text = false;
}

void bochs_dispi_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs *b = dev;
	pthread_mutex_lock(&b->lock);
	uint16_t v = (uint16_t)get_le(data, len >= 2 ? 2 : 1);
	if (addr == 0x1ce) {
		if (is_write)
			b->dispi_index = v;
		else
			v = b->dispi_index;
	} else if (is_write) {
		dispi_write(b, b->dispi_index, v);
	} else {
		v = dispi_read(b, b->dispi_index);
	}
	if (!is_write)
		for (uint32_t i = 0; i < len; i++)
			data[i] = i < 2 ? (uint8_t)(v >> (8 * i)) : 0;
	pthread_mutex_unlock(&b->lock);
}

void bochs_mmio(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs *b = dev;
	if (addr >= 0x400 && addr < 0x420) { /* VGA ports 0x3C0-0x3DF */
		if (b->vga)
			vgatext_io(b->vga, 0x3c0 + addr - 0x400, data, len, is_write);
		else if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	uint32_t v = 0;
	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	if (addr < 0x400) {
		for (uint32_t i = 0; !is_write && i < len; i++)
			data[i] = addr + i < 128 ? b->edid[addr + i] : 0;
	} else if (addr >= 0x500 && addr < 0x500 + 2 * DISPI_NREGS) {
		unsigned idx = (unsigned)(addr - 0x500) / 2;
		if (is_write) {
			dispi_write(b, idx, (uint16_t)v);
			if (len == 4)
				dispi_write(b, idx + 1, (uint16_t)(v >> 16));
		} else {
			v = dispi_read(b, idx) | (len == 4 ? (uint32_t)dispi_read(b, idx + 1) << 16 : 0);
			if (addr & 1)
				v >>= 8;
		}
	} else if (addr >= 0x600 && addr < 0x608) {
		/* qext: region size 8; framebuffer byte order little endian */
		v = addr < 0x604 ? 8 : 0x1e1e1e1e;
		v >>= 8 * (addr & 3);
	} else {
		v = 0;
	}
	if (!is_write && !(addr < 0x400))
		for (uint32_t i = 0; i < len; i++)
			data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0;
	pthread_mutex_unlock(&b->lock);
}

/* BAR0 accesses only reach here while the RAM slot could not be set up. */
static void lfb_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct bochs *b = dev;
	if (addr + len > BOCHS_VRAM)
		return;
	if (is_write)
		memcpy(b->vram + addr, data, len);
	else
		memcpy(data, b->vram + addr, len);
}

static void bar_moved(struct pci_dev *d, int bar, bool mapped, uint64_t addr)
{
	struct bochs *b = d->priv;
	if (bar != 0 || !the_vm)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->slot < 0 && mapped)
		b->slot = vm_ram_slot(addr, BOCHS_VRAM, b->vram, true);
	else if (b->slot >= 0 && vm_ram_slot_move(b->slot, addr, BOCHS_VRAM, b->vram, true, mapped) < 0)
		mapped = false;
	b->lfb_mapped = mapped && b->slot >= 0;
	b->serial++;
	pthread_mutex_unlock(&b->lock);
}

static uint8_t *load_rom(const char *path, uint32_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 512 || st.st_size > 256 * 1024)
		goto out;
	buf = malloc((size_t)st.st_size);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	*size = (uint32_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

int bochs_init(struct bochs *b, struct vgatext *vga, const char *rom_path)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->slot = -1;
	b->vga = vga;
	b->vram = mmap(NULL, BOCHS_VRAM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->vram == MAP_FAILED) {
		b->vram = NULL;
		err("cannot map the framebuffer: %s", strerror(errno));
		return -1;
	}
	/* 4 KiB pages: where THP is "always", the guest touching two bytes of
	 * the 16 MiB would cost 4 MiB, and KVM's dirty log for the display
	 * splits huge mappings anyway. */
	madvise(b->vram, BOCHS_VRAM, MADV_NOHUGEPAGE);
	b->dispi[DISPI_ID] = 0xb0c5;
	b->dispi[DISPI_BPP] = 32;
	bochs_edid(b->edid, 1024, 768);

	struct pci_dev *d = &b->pci;
	pci_dev_init(d, "bochs-display", 0x1234, 0x1111, 0x038000, 2, 0x1af4, 0x1100);
	d->priv = b;
	d->bar_moved = bar_moved;
	pci_add_bar(d, 0, BOCHS_VRAM, PCI_BAR_MEM | PCI_BAR_PREFETCH, lfb_io, b);
	pci_add_bar(d, 2, 4096, PCI_BAR_MEM, bochs_mmio, b);
	if (rom_path) {
		b->rom = load_rom(rom_path, &b->rom_size);
		if (b->rom)
			pci_set_rom(d, b->rom, b->rom_size);
		else
			warnx("no VGA BIOS %s: firmware will show no screen (install Debian's seabios)", rom_path);
	}
	return 0;
}

void bochs_exit(struct bochs *b)
{
	/* KVM must not map the memory once it is gone. */
	if (b->slot >= 0 && the_vm)
		vm_ram_slot_move(b->slot, 0, 0, b->vram, false, false);
	b->slot = -1;
	if (b->vram)
		munmap(b->vram, BOCHS_VRAM);
	b->vram = NULL;
	free(b->rom);
	b->rom = NULL;
}

int bochs_direct_mode(struct bochs *b, uint64_t lfb_gpa, uint64_t mmio_gpa, int w, int h)
{
	uint32_t bar0 = (uint32_t)lfb_gpa | 8, bar2 = (uint32_t)mmio_gpa;
	uint16_t cmd = PCI_CMD_MEM;
	pci_cfg_write(&b->pci, 0x10, (const uint8_t *)&bar0, 4);
	pci_cfg_write(&b->pci, 0x18, (const uint8_t *)&bar2, 4);
	pci_cfg_write(&b->pci, 0x04, (const uint8_t *)&cmd, 2);
	pthread_mutex_lock(&b->lock);
	bool ok = b->lfb_mapped;
	dispi_write(b, DISPI_XRES, (uint16_t)w);
	dispi_write(b, DISPI_YRES, (uint16_t)h);
	dispi_write(b, DISPI_BPP, 32);
	dispi_write(b, DISPI_ENABLE, EN_ENABLED | EN_LFB);
	pthread_mutex_unlock(&b->lock);
	return ok ? 0 : -1;
}

void bochs_scanout(void *ctx, struct fb_scanout *s)
{
	struct bochs *b = ctx;
	pthread_mutex_lock(&b->lock);
	const uint16_t *r = b->dispi;
	/* Text written to 0xB8000 since the last mode set (memory testers,
	 * DOS programs, Linux's vgacon under SeaBIOS): as on a real VGA, the
	 * text page is what is on the screen, until the next mode set. */
	if ((r[DISPI_ENABLE] & EN_ENABLED) && !b->direct_text && b->vga && b->vga->mem &&
	    memcmp(b->text_seen, b->vga->mem + VGA_TEXT_OFF, VGA_TEXT_BYTES))
		b->direct_text = true;
	if (!(r[DISPI_ENABLE] & EN_ENABLED) || b->direct_text) {
		pthread_mutex_unlock(&b->lock);
		vgatext_scanout(b->vga, s);
		return;
	}
	memset(s, 0, sizeof(*s));
	int bpp = r[DISPI_BPP], Bpp = bytes_pp((unsigned)bpp);
	uint64_t stride = (uint64_t)r[DISPI_VIRT_WIDTH] * (uint64_t)Bpp;
	uint64_t off = (uint64_t)r[DISPI_Y_OFFSET] * stride + (uint64_t)r[DISPI_X_OFFSET] * (uint64_t)Bpp;
	s->kind = FB_GFX;
	s->width = r[DISPI_XRES];
	s->height = r[DISPI_YRES];
	s->bpp = bpp;
	s->stride = (int)stride;
	if (!s->width || !s->height || off + (uint64_t)(s->height - 1) * stride + (uint64_t)s->width * Bpp > BOCHS_VRAM)
		s->kind = FB_OFF;
	s->pixels = b->vram + off;
	s->offset = off;
	s->slot = b->lfb_mapped ? b->slot : -1;
	s->slot_size = BOCHS_VRAM;
	s->serial = b->serial;
	s->palette = NULL;
	pthread_mutex_unlock(&b->lock);
}
