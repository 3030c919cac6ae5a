/* bochs-display and the VGA window: DISPI registers (ports 0x1CE/0x1CF and
 * BAR2's MMIO copy with the EDID), VGA registers (0x3C0-0x3DF), the
 * framebuffer BAR, the ROM BAR (a VGA BIOS image whose size is no power of
 * two), config space; after each operation of kind 5 the frame is read the
 * way the framebuffer core reads it (rows converted, or text cells
 * rendered). The VRAM and the VGA memory are malloc'd exactly, so a
 * scanout outside them is an ASan error (the first two, the middle and the
 * last two rows of a frame are converted; of a text frame its first and
 * last two cells). Kinds: 0 BAR2, 1 DISPI
 * ports, 2 VGA ports, 3 config space, 4 framebuffer BAR, 5 render, 6 ROM
 * BAR. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "display/bochs.h"

static char rom_path[64];
static uint8_t *vram, *vgamem;
static uint32_t row[2560], text[640 * 400];

static void render(struct bochs *b)
{
	struct fb_scanout s;
	bochs_scanout(b, &s);
	/* The rows at both ends and one between: an overrun of the frame shows
	 * at its edges, and a whole 2560x1600 frame per operation is slow. */
	int ys[5] = { 0, 1, s.height / 2, s.height - 2, s.height - 1 };
	if (s.kind == FB_GFX && s.width <= 2560) {
		for (int i = 0; i < 5; i++)
			if (ys[i] >= 0 && ys[i] < s.height)
				fb_convert_row(row, s.pixels + (size_t)ys[i] * (size_t)s.stride, s.width, s.bpp, s.palette);
	} else if (s.kind == FB_TEXT && s.rows > 0 && s.cols > 1 && s.cols * 8 * 16 <= 640 * 400) {
		/* likewise the frame's first two and last two cells (an overrun
		 * shows at its end; a whole row is up to 2,000 cells of 128
		 * instrumented pixels, which made this target slow), with the
		 * cursor on the first */
		size_t last = 2 * ((size_t)s.cols * (size_t)s.rows - 2);
		vgatext_render(text, 16, s.cells, 2, 1, s.cursor == 0 ? 0 : -1, true);
		vgatext_render(text, 16, s.cells + last, 2, 1, -1, true);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rom_path[0]) {
		int fd = memfd_create("fuzz-vgabios", 0);
		uint8_t img[3000]; /* rounded up to a 4 KiB BAR */
		for (size_t i = 0; i < sizeof(img); i++)
			img[i] = (uint8_t)i;
		if (fd < 0 || write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
			abort();
		snprintf(rom_path, sizeof(rom_path), "/proc/self/fd/%d", fd);
		vram = malloc(BOCHS_VRAM);
		vgamem = malloc(128 * 1024);
	}
	/* Set up once (bochs_init maps 16 MiB, which ASan makes slow), then
	 * each input starts from a copy of the state after set-up. */
	static struct bochs pristine, b;
	static struct vgatext vpristine, v;
	if (!pristine.vram) {
		pthread_mutex_init(&vpristine.lock, NULL);
		vpristine.slot = -1;
		vpristine.mem = vgamem;
		vgatext_reset_regs(&vpristine);
		the_vm = NULL;
		if (bochs_init(&pristine, &v, rom_path) < 0)
			abort();
		munmap(pristine.vram, BOCHS_VRAM);
		pristine.vram = vram;
	}
	v = vpristine;
	b = pristine;
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&f, &o, 3); n++) {
		switch (o.kind % 8) {
		case 0: fz_io(bochs_mmio, &b, o.addr & 0xfff, o.len, o.val, o.write); break;
		case 1: fz_io(bochs_dispi_io, &b, 0x1ce + (o.addr & 1), o.len, o.val, o.write); break;
		case 2: fz_io(vgatext_io, &v, 0x3c0 + (o.addr & 0x1f), o.len, o.val, o.write); break;
		case 3: {
			uint8_t d[8];
			unsigned len = o.len > 4 ? 4 : o.len;
			memcpy(d, &o.val, 8);
			if (o.write)
				pci_cfg_write(&b.pci, o.addr & 0xff, d, len);
			else
				pci_cfg_read(&b.pci, o.addr & 0xff, d, len);
			break;
		}
		case 4: fz_io(b.pci.bar[0].fn, b.pci.bar[0].dev, o.addr % BOCHS_VRAM, o.len, o.val, o.write); break;
		case 6: {
			struct pci_bar *r = &b.pci.bar[PCI_ROM_BAR];
			fz_io(r->fn, r->dev, o.addr % r->size, o.len, o.val, o.write);
			break;
		}
		default: render(&b);
		}
	}
	render(&b);
	return 0;
}
