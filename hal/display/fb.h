/* The framebuffer core (fb.c): what a guest display device shows
 * (struct fb_scanout), the pure conversion helpers, screendumps, and the
 * frame clock that feeds a host backend. See docs/display.md. */
#ifndef FB_H
#define FB_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "display/display.h"

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

/* ---- the core ---------------------------------------------------------------- */

struct fb_source {
	void (*get)(void *ctx, struct fb_scanout *s); /* thread safe */
	void *ctx;
};

/* Opens the backend (backend_name: auto, kms, fb, none; NULL = none) and
 * starts its frame clock. Without a backend nothing runs: a screendump
 * converts the frame when it is asked for (fb_screendump), so a headless
 * hal spends no CPU and no memory on frames nobody looks at. */
int fb_start(const struct fb_source *src, const char *backend_name);
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

#endif
