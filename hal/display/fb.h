/* The framebuffer core (fb.c) and the guest display devices behind it
 * (bochs.c, vgatext.c). See docs/display.md. */
#ifndef FB_H
#define FB_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display/display.h"
#include "hw/pci.h"

/* What the guest's display shows now, as the device sees it. */
enum fb_kind { FB_OFF, FB_GFX, FB_TEXT };

struct fb_scanout {
	enum fb_kind kind;
	int width, height;       /* pixels (FB_TEXT: cols*8 x rows*16) */
	/* FB_GFX */
	int bpp, stride;         /* 8, 15, 16, 24 or 32 bits; bytes per row */
	const uint8_t *pixels;   /* host pointer to the first visible pixel */
	uint64_t offset;         /* of `pixels` inside the dirty-logged slot */
	/* FB_TEXT */
	const uint8_t *cells;    /* char, attribute pairs */
	int cols, rows, cursor;  /* cursor: cell index, -1 hidden */
	/* Dirty logging: slot -1 means "always redraw everything". */
	int slot;
	uint64_t slot_size;
	uint32_t serial;         /* changes with the mode, the base, the slot */
	const uint32_t *palette; /* 8 bpp: 256 XRGB entries */
};

/* ---- pure helpers (unit tested) ------------------------------------------- */

/* One row of guest pixels to XRGB8888. */
void fb_convert_row(uint32_t *dst, const uint8_t *src, int width, int bpp, const uint32_t *palette);
/* Largest integer scale of (sw, sh) into (dw, dh), at least 1, and the
 * letterbox offsets that centre it. */
void fb_fit(int sw, int sh, int dw, int dh, int *scale, int *x0, int *y0);
/* Scale rows [y0, y1) of src (sw wide) by `scale` into dst at (ox, oy),
 * clipped to dw x dh; dst_stride in pixels. */
void fb_scale_rows(uint32_t *dst, int dst_stride, int dw, int dh, const uint32_t *src, int sw, int sh,
		   int y0, int y1, int scale, int ox, int oy);
/* Rows touched by dirty 4 KiB pages: marks rows[y] for every row of a
 * frame at `offset` (stride bytes, h rows) that overlaps a set bit.
 * Returns how many rows are marked. */
int fb_dirty_rows(const uint64_t *bitmap, uint64_t npages, uint64_t offset, int stride, int h, uint8_t *rows);

/* PNG of an XRGB8888 image (png.c): 0, or -1 with errno. */
int png_write(const char *path, const uint32_t *px, int w, int h);
/* The same into memory; malloc'ed, *len set. */
uint8_t *png_encode(const uint32_t *px, int w, int h, size_t *len);
uint32_t png_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* ---- the core ---------------------------------------------------------------- */

struct fb_source {
	void (*get)(void *ctx, struct fb_scanout *s); /* thread safe */
	void *ctx;
};

/* Starts the frame clock; backend_name: auto, kms, fb, none (NULL = none).
 * With "none" and no control socket nothing runs at all (need_core false). */
int fb_start(const struct fb_source *src, const char *backend_name, bool need_core);
void fb_stop(void);
/* From a fatal-signal handler: the backend's emergency_restore. */
void fb_emergency_restore(void);
/* A screen (kms or fb) is open: host input belongs to the guest then. */
bool fb_has_backend(void);
/* The guest display of the VM now running (NULL between boots). */
void fb_set_source(const struct fb_source *src);
/* KVM_GET_DIRTY_LOG; a pointer so the benchmark can stand in for KVM. */
extern int (*fb_dirty_log)(int slot, uint64_t *bitmap);
/* One frame now (the clock calls this); returns rows converted. */
int fb_tick(void);
/* Write the guest-resolution frame as PNG ("ppm" suffix: binary PPM). */
int fb_screendump(const char *path, char *why, size_t whylen);
/* "1024x768 gfx 32bpp", "720x400 text", "off" */
void fb_describe(char *buf, size_t len);

/* ---- vgatext.c: the legacy VGA window 0xA0000-0xBFFFF and text mode --------- */

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
	uint16_t dispi[16];
	uint8_t edid[128];
	uint8_t *rom;
	uint32_t rom_size;
	uint32_t serial;
	struct vgatext *vga;     /* shown while DISPI is disabled; may be NULL */
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

/* ---- keymap.c ------------------------------------------------------------------- */

struct i8042;
struct pm;
void input_attach(struct i8042 *k, struct pm *p);
/* Scancodes of a Linux KEY_* code: 0 when unmapped. Bit 8 = 0xE0 prefix. */
unsigned keymap_set1(unsigned code);
unsigned keymap_set2(unsigned code);
/* QEMU-style key names ("ret", "ctrl", "a", "f5"): Linux code or 0. */
unsigned keymap_by_name(const char *name);
/* A character for `type`: Linux code, *shift set when Shift is needed. */
unsigned keymap_char(char c, bool *shift);

/* ---- control.c -------------------------------------------------------------- */

int control_start(const char *path);
void control_stop(void);
/* One command line to one reply line (no newline); exposed for tests. */
void control_command(const char *line, char *reply, size_t len);
#endif
