/* The framebuffer core: a frame clock on the main event loop fetches the
 * guest display's dirty pages (KVM_GET_DIRTY_LOG on its RAM slot), converts
 * only the rows they touch into a shadow XRGB8888 frame at the guest's
 * resolution, and scales those rows with letterboxing into the backend's
 * buffer. When nothing changed a tick costs one ioctl and a bitmap scan.
 * screendump writes the shadow frame; without a backend there is no clock
 * and a screendump converts what changed since the last one. See
 * docs/display.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "core/loop.h"
#include "display/bochs.h"
#include "display/fb.h"

/* The backends live in kms.c and fbdev.c; a build without them still links. */
#pragma weak display_kms
#pragma weak display_fbdev

#define FRAME_NS 16666667L /* 60 Hz */
#define MAX_PAGES (BOCHS_VRAM / 4096)

/* ---- pure helpers ----------------------------------------------------------- */

static uint32_t default_palette(unsigned i)
{
	static const uint32_t cga[16] = {
		0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
		0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
	};
	return i < 16 ? cga[i] : i * 0x010101u;
}

void fb_convert_row(uint32_t *dst, const uint8_t *src, int width, int bpp, const uint32_t *palette)
{
	switch (bpp) {
	case 32:
		for (int x = 0; x < width; x++)
			dst[x] = get_le32(src + 4 * x) & 0xffffff;
		break;
	case 24:
		for (int x = 0; x < width; x++, src += 3)
			dst[x] = (uint32_t)get_le(src, 3);
		break;
	case 16:
		for (int x = 0; x < width; x++, src += 2) {
			unsigned v = get_le16(src), r = v >> 11, g = (v >> 5) & 63, b = v & 31;
			dst[x] = (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
		}
		break;
	case 15:
		for (int x = 0; x < width; x++, src += 2) {
			unsigned v = get_le16(src), r = (v >> 10) & 31, g = (v >> 5) & 31, b = v & 31;
			dst[x] = (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (b << 3 | b >> 2);
		}
		break;
	case 8:
		for (int x = 0; x < width; x++)
			dst[x] = palette ? palette[src[x]] & 0xffffff : default_palette(src[x]);
		break;
	default:
		memset(dst, 0, (size_t)width * 4);
	}
}

void fb_fit(int sw, int sh, int dw, int dh, int *scale, int *x0, int *y0)
{
	int s = sw > 0 && sh > 0 ? (dw / sw < dh / sh ? dw / sw : dh / sh) : 1;
	if (s < 1)
		s = 1;
	*scale = s;
	*x0 = dw > sw * s ? (dw - sw * s) / 2 : 0;
	*y0 = dh > sh * s ? (dh - sh * s) / 2 : 0;
}

void fb_scale_rows(uint32_t *dst, int dst_stride, int dw, int dh, const uint32_t *src, int sw, int sh,
		   int y0, int y1, int scale, int ox, int oy)
{
	if (y1 > sh)
		y1 = sh;
	int cols = sw * scale <= dw - ox ? sw : (dw - ox) / scale; /* source columns that fit */
	if (cols <= 0)
		return;
	for (int y = y0; y < y1; y++) {
		const uint32_t *s = src + (size_t)y * (size_t)sw;
		int dy = oy + y * scale;
		if (dy >= dh)
			break;
		uint32_t *d = dst + (size_t)dy * (size_t)dst_stride + ox;
		if (scale == 1) {
			memcpy(d, s, (size_t)cols * 4);
			continue;
		}
		for (int x = 0; x < cols; x++)
			for (int k = 0; k < scale; k++)
				d[x * scale + k] = s[x];
		for (int k = 1; k < scale && dy + k < dh; k++)
			memcpy(d + (size_t)k * (size_t)dst_stride, d, (size_t)cols * (size_t)scale * 4);
	}
}

int fb_dirty_rows(const uint64_t *bitmap, uint64_t npages, uint64_t offset, int stride, int h, uint8_t *rows)
{
	int n = 0;
	uint64_t end = offset + (uint64_t)stride * (uint64_t)h;
	for (uint64_t w = 0; w < (npages + 63) / 64; w++) {
		uint64_t bits = bitmap[w];
		while (bits) {
			uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			uint64_t a = p * 4096, b = a + 4096;
			if (p >= npages || b <= offset || a >= end)
				continue;
			int r0 = a <= offset ? 0 : (int)((a - offset) / (uint64_t)stride);
			int r1 = (int)((b - offset + (uint64_t)stride - 1) / (uint64_t)stride);
			if (r1 > h)
				r1 = h;
			for (int r = r0; r < r1; r++)
				if (!rows[r]) {
					rows[r] = 1;
					n++;
				}
		}
	}
	return n;
}

/* ---- the core ---------------------------------------------------------------- */

int (*fb_dirty_log)(int slot, uint64_t *bitmap) = vm_dirty_log; /* the benchmark swaps it */

static struct {
	struct fb_source src;
	bool have_src;
	const struct display_backend *be;
	struct display_mode mode;
	int timer_fd, be_fd;
	uint32_t *shadow;
	int sw, sh;
	struct fb_scanout last;
	bool valid;
	uint8_t *rows;
	int scale, ox, oy;
	uint64_t bitmap[MAX_PAGES / 64];
} fb = { .timer_fd = -1, .be_fd = -1 };

void fb_set_source(const struct fb_source *src)
{
	if (src) {
		fb.src = *src;
		fb.have_src = true;
	} else {
		fb.have_src = false;
	}
	fb.valid = false;
}

static bool same_mode(const struct fb_scanout *a, const struct fb_scanout *b)
{
	return a->kind == b->kind && a->width == b->width && a->height == b->height && a->bpp == b->bpp &&
	       a->stride == b->stride && a->pixels == b->pixels && a->cells == b->cells &&
	       a->cursor == b->cursor && a->slot == b->slot && a->serial == b->serial;
}

static int resize_shadow(int w, int h)
{
	if (w == fb.sw && h == fb.sh && fb.shadow)
		return 0;
	uint32_t *s = calloc((size_t)w * (size_t)h, 4);
	uint8_t *r = calloc((size_t)h, 1);
	if (!s || !r) {
		free(s);
		free(r);
		return -1;
	}
	free(fb.shadow);
	free(fb.rows);
	fb.shadow = s;
	fb.rows = r;
	fb.sw = w;
	fb.sh = h;
	if (fb.be) {
		fb_fit(w, h, fb.mode.width, fb.mode.height, &fb.scale, &fb.ox, &fb.oy);
		uint32_t *buf = fb.be->buffer();
		for (int y = 0; buf && y < fb.mode.height; y++) /* letterbox black */
			memset((uint8_t *)buf + (size_t)y * (size_t)fb.mode.stride, 0, (size_t)fb.mode.width * 4);
	}
	return 0;
}

int fb_tick(void)
{
	struct fb_scanout s;
	if (!fb.have_src) {
		memset(&s, 0, sizeof(s));
		s.slot = -1;
	} else {
		fb.src.get(fb.src.ctx, &s);
	}
	bool full = !fb.valid || !same_mode(&s, &fb.last);
	int w = s.kind == FB_OFF ? 640 : s.width, h = s.kind == FB_OFF ? 480 : s.height;
	if (full && resize_shadow(w, h) < 0)
		return 0;
	int y0 = h, y1 = 0, nrows = 0;
	uint64_t npages = s.slot_size / 4096;
	bool dirty = false;
	if (s.slot >= 0 && npages && npages <= MAX_PAGES) {
		if (fb_dirty_log(s.slot, fb.bitmap) < 0)
			full = true;
		else
			dirty = true;
	}
	if (s.kind == FB_OFF) {
		if (!full)
			return 0;
		memset(fb.shadow, 0, (size_t)w * (size_t)h * 4);
		y0 = 0;
		y1 = h;
		nrows = h;
	} else if (s.kind == FB_TEXT) {
		uint8_t trows[64] = { 0 };
		if (!full && !(dirty && fb_dirty_rows(fb.bitmap, npages, s.offset, s.stride, s.rows, trows)))
			goto done;
		vgatext_render(fb.shadow, w, s.cells, s.cols, s.rows, s.cursor, true);
		y0 = 0;
		y1 = h;
		nrows = h;
	} else {
		memset(fb.rows, full, (size_t)h);
		int n = full ? h : dirty ? fb_dirty_rows(fb.bitmap, npages, s.offset, s.stride, h, fb.rows) : 0;
		for (int y = 0; n && y < h; y++) {
			if (!fb.rows[y])
				continue;
			fb_convert_row(fb.shadow + (size_t)y * (size_t)w, s.pixels + (size_t)y * (size_t)s.stride, w,
				       s.bpp, s.palette);
			if (y < y0)
				y0 = y;
			y1 = y + 1;
			nrows++;
		}
	}
	if (fb.be && nrows) {
		uint32_t *buf = fb.be->buffer();
		if (buf) {
			fb_scale_rows(buf, fb.mode.stride / 4, fb.mode.width, fb.mode.height, fb.shadow, w, h, y0, y1,
				      fb.scale, fb.ox, fb.oy);
			int p0 = full ? 0 : fb.oy + y0 * fb.scale, p1 = full ? fb.mode.height : fb.oy + y1 * fb.scale;
			fb.be->present(p0, p1 < fb.mode.height ? p1 : fb.mode.height);
		}
	}
done:
	fb.last = s;
	fb.valid = true;
	return nrows;
}

static void on_timer(void *ctx)
{
	uint64_t n;
	if (read(fb.timer_fd, &n, sizeof(n)) == sizeof(n))
		fb_tick();
}

static void on_backend(void *ctx)
{
	if (fb.be && fb.be->on_event)
		fb.be->on_event();
}

/* --display NAME: "kms", "fb", "none" or "auto" (kms, then fb, then none).
 * Opens the backend and fills *m. Returns the backend, or NULL for none;
 * *failed is set when a backend named explicitly could not be opened (the
 * backend printed why). */
static const struct display_backend *choose(const char *name, struct display_mode *m, bool *failed)
{
	*failed = false;
	if (!name || !strcmp(name, "none"))
		return NULL;
	bool any = !strcmp(name, "auto");
	const struct display_backend *order[] = { &display_kms, &display_fbdev };
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct display_backend *b = order[i];
		if (!b) /* not linked into this build (the weak symbol is NULL) */
			continue;
		if (!any && strcmp(name, b->name))
			continue;
		if (b->open(m, any) == 0) {
			dbg("display: %s %dx%d", b->name, m->width, m->height);
			return b;
		}
		if (!any) {
			*failed = true;
			return NULL;
		}
	}
	if (any) {
		dbg("display: no screen (no KMS device, no /dev/fb0)");
	} else {
		err("--display %s: no such display (kms, fb, auto or none)", name);
		*failed = true;
	}
	return NULL;
}

void fb_emergency_restore(void)
{
	const struct display_backend *b = fb.be;
	if (b && b->emergency_restore)
		b->emergency_restore();
}

static void fb_atexit(void)
{
	if (fb.be)
		fb.be->close();
	fb.be = NULL;
}

int fb_start(const struct fb_source *src, const char *name)
{
	if (src)
		fb_set_source(src);
	bool failed;
	fb.be = choose(name, &fb.mode, &failed);
	if (failed)
		return -1;
	if (fb.be) {
		static bool registered;
		if (!registered)
			atexit(fb_atexit);
		registered = true;
		fb.be_fd = fb.be->fd ? fb.be->fd() : -1;
		if (fb.be_fd >= 0 && loop_add(fb.be_fd, on_backend, NULL) < 0)
			fb.be_fd = -1;
	}
	if (!fb.be)
		return 0;
	fb.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { { 0, FRAME_NS }, { 0, FRAME_NS } };
	if (fb.timer_fd < 0 || timerfd_settime(fb.timer_fd, 0, &its, NULL) < 0 ||
	    loop_add(fb.timer_fd, on_timer, NULL) < 0) {
		err("display: cannot start the frame clock: %s", strerror(errno));
		return -1;
	}
	return 0;
}

bool fb_has_backend(void)
{
	return fb.be != NULL;
}

void fb_stop(void)
{
	if (fb.timer_fd >= 0) {
		loop_del(fb.timer_fd);
		close(fb.timer_fd);
	}
	if (fb.be_fd >= 0)
		loop_del(fb.be_fd);
	fb.timer_fd = fb.be_fd = -1;
	fb_atexit();
	free(fb.shadow);
	free(fb.rows);
	fb.shadow = NULL;
	fb.rows = NULL;
	fb.sw = fb.sh = 0;
	fb.valid = false;
}

static int write_ppm(const char *path, const uint32_t *px, int w, int h)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fprintf(f, "P6\n%d %d\n255\n", w, h);
	for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
		uint8_t rgb[3] = { (uint8_t)(px[i] >> 16), (uint8_t)(px[i] >> 8), (uint8_t)px[i] };
		fwrite(rgb, 3, 1, f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

int fb_screendump(const char *path, char *why, size_t whylen)
{
	fb_tick(); /* bring the shadow frame up to date */
	if (!fb.shadow) {
		snprintf(why, whylen, "no frame");
		return -1;
	}
	size_t n = strlen(path);
	int r = n > 4 && !strcmp(path + n - 4, ".ppm") ? write_ppm(path, fb.shadow, fb.sw, fb.sh)
						       : png_write(path, fb.shadow, fb.sw, fb.sh);
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(why, whylen, "%dx%d", fb.sw, fb.sh);
	return 0;
}

void fb_describe(char *buf, size_t len)
{
	struct fb_scanout s = { .kind = FB_OFF };
	if (fb.have_src)
		fb.src.get(fb.src.ctx, &s);
	const char *be = fb.be ? fb.be->name : "none";
	if (s.kind == FB_GFX)
		snprintf(buf, len, "%dx%d graphics %dbpp display=%s", s.width, s.height, s.bpp, be);
	else if (s.kind == FB_TEXT)
		snprintf(buf, len, "%dx%d text %dx%d display=%s", s.width, s.height, s.cols, s.rows, be);
	else
		snprintf(buf, len, "off display=%s", be);
}
