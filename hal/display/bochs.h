/* The guest's display devices (docs/display.md): the legacy VGA window and
 * text mode (vgatext.c), and bochs-display (bochs.c), which shows the VGA
 * state while its own mode is off. Both hand frames to the core (fb.h). */
#ifndef BOCHS_H
#define BOCHS_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "display/fb.h"
#include "hw/pci.h"

/* ---- vgatext.c: the legacy VGA window 0xA0000-0xBFFFF and text mode --------- */

#define VGA_TEXT_OFF   0x18000u      /* 0xB8000 in the window */
#define VGA_TEXT_BYTES (80 * 25 * 2) /* one 80x25 page of cells */

struct vgatext {
	uint8_t *mem;            /* 128 KiB, mapped at 0xA0000 */
	int slot;
	pthread_mutex_t lock;
	uint8_t misc, seq_idx, gc_idx, crtc_idx, atc_idx, dac_ridx, dac_widx, dac_sub, pel_mask;
	bool atc_flip;
	uint8_t seq[8], gc[16], crtc[32], atc[32];
	uint8_t dac[256][3];
	unsigned status_reads;
};

int vgatext_init(struct vgatext *v);     /* RAM slot at 0xA0000 (needs the VM) */
void vgatext_exit(struct vgatext *v);
void vgatext_reset_regs(struct vgatext *v);
/* Ports 0x3C0-0x3DF. */
void vgatext_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
void vgatext_scanout(struct vgatext *v, struct fb_scanout *s);
/* Render cols x rows cells (char, attr) with the built-in 8x16 font. */
void vgatext_render(uint32_t *dst, int stride_px, const uint8_t *cells, int cols, int rows, int cursor,
		    bool blink_on);
extern const uint8_t vga_font8x16[256][16];

/* ---- bochs.c: bochs-display, PCI 1234:1111 class 0x0380 --------------------- */

#define BOCHS_VRAM (16u * 1024 * 1024)

struct bochs {
	struct pci_dev pci;
	pthread_mutex_t lock;
	uint8_t *vram;           /* BOCHS_VRAM bytes: BAR0 */
	int slot;                /* KVM slot of BAR0, -1 until first mapped */
	bool lfb_mapped;
	uint16_t dispi_index;    /* port 0x1CE */
	uint16_t dispi[16];
	uint8_t edid[128];
	uint8_t *rom;
	uint32_t rom_size;
	uint32_t serial;
	struct vgatext *vga;     /* shown while DISPI is disabled; may be NULL */
	/* A program that writes text straight to 0xB8000 while the VGA BIOS
	 * keeps DISPI on to draw its own text (SeaBIOS's bochs-display BIOS
	 * emulates mode 3 in the framebuffer) is shown as VGA text: the page
	 * as it was at the last DISPI write, and whether it changed since. */
	uint8_t text_seen[VGA_TEXT_BYTES];
	bool direct_text;
};

/* rom_path NULL or missing: no ROM BAR (warned when a path was given). */
int bochs_init(struct bochs *b, struct vgatext *vga, const char *rom_path);
void bochs_exit(struct bochs *b);
void bochs_mmio(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write); /* BAR2 */
void bochs_dispi_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write); /* 0x1CE */
void bochs_scanout(void *ctx, struct fb_scanout *s);
/* Direct boot: place the BARs ourselves and switch to w x h x 32 so the
 * kernel finds a linear framebuffer (boot_params.screen_info). */
int bochs_direct_mode(struct bochs *b, uint64_t lfb_gpa, uint64_t mmio_gpa, int w, int h);
void bochs_edid(uint8_t edid[128], int w, int h);
#endif
