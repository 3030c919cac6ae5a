/* --display fb: the guest's frames on /dev/fb0 (docs/display-host.md).
 *
 * For hosts without a KMS driver: efifb (UEFI), vesafb (BIOS with vga=) or a
 * DRM driver's fbdev emulation. The core draws XRGB8888 into a shadow in RAM;
 * present() copies (32 bpp with the usual layout) or converts (16/24/32 bpp
 * with any bit fields) the changed rows into the mapped framebuffer. No
 * panning and no vsync: efifb and vesafb have neither. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fb.h>

#include "core/hal.h"
#include "display/display.h"
#include "host/console.h"
#include "host/fbdev.h"

static struct {
	int fd;
	uint8_t *map;
	size_t map_len;
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	uint32_t *shadow;
	bool direct; /* 32 bpp x8r8g8b8: rows are copied as they are */
} f = { .fd = -1 };

#define say(quiet, ...) do { if (quiet) dbg(__VA_ARGS__); else err(__VA_ARGS__); } while (0)

/* One channel of an XRGB8888 pixel (8 bits at `shift`) into a bit field. */
static uint32_t field(uint32_t px, int shift, const struct fb_bitfield *bf)
{
	uint32_t v = (px >> shift) & 0xff;
	if (bf->length == 0)
		return 0;
	v = bf->length >= 8 ? v << (bf->length - 8) : v >> (8 - bf->length);
	return v << bf->offset;
}

void fbdev_convert_row(uint8_t *dst, const uint32_t *src, int width, const struct fb_var_screeninfo *v)
{
	int bytes = (int)v->bits_per_pixel / 8;
	for (int x = 0; x < width; x++) {
		uint32_t px = src[x];
		uint32_t o = field(px, 16, &v->red) | field(px, 8, &v->green) | field(px, 0, &v->blue);
		for (int i = 0; i < bytes; i++)
			dst[x * bytes + i] = (uint8_t)(o >> (8 * i)); /* little-endian framebuffers */
	}
}

bool fbdev_format_ok(const struct fb_var_screeninfo *v, const struct fb_fix_screeninfo *x, bool *direct)
{
	if (x->type != FB_TYPE_PACKED_PIXELS ||
	    (x->visual != FB_VISUAL_TRUECOLOR && x->visual != FB_VISUAL_DIRECTCOLOR))
		return false;
	unsigned bpp = v->bits_per_pixel;
	if (bpp != 16 && bpp != 24 && bpp != 32)
		return false;
	if (v->red.offset + v->red.length > bpp || v->green.offset + v->green.length > bpp ||
	    v->blue.offset + v->blue.length > bpp)
		return false;
	*direct = bpp == 32 && v->red.offset == 16 && v->red.length == 8 && v->green.offset == 8 &&
		  v->green.length == 8 && v->blue.offset == 0 && v->blue.length == 8;
	return true;
}

static void fbdev_close(void);

static int fbdev_open(struct display_mode *m, bool quiet)
{
	const char *path = "/dev/fb0";
	if (f.fd >= 0)
		return -1;
	f.fd = open(path, O_RDWR | O_CLOEXEC);
	if (f.fd < 0) {
		say(quiet, "fb: %s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(f.fd, FBIOGET_VSCREENINFO, &f.var) < 0 || ioctl(f.fd, FBIOGET_FSCREENINFO, &f.fix) < 0) {
		say(quiet, "fb: %s: not a framebuffer: %s", path, strerror(errno));
		goto fail;
	}
	if (!fbdev_format_ok(&f.var, &f.fix, &f.direct)) {
		say(quiet, "fb: %s: %u bpp type %u visual %u: only 16/24/32 bpp true colour", path,
		    f.var.bits_per_pixel, f.fix.type, f.fix.visual);
		goto fail;
	}
	int w = (int)f.var.xres, h = (int)f.var.yres;
	/* Row stride is line_length, not xres * bpp / 8. */
	size_t need = (size_t)f.fix.line_length * (f.var.yoffset + h);
	f.map_len = f.fix.smem_len;
	if (w <= 0 || h <= 0 || f.map_len < need ||
	    (size_t)(f.var.xoffset + w) * (f.var.bits_per_pixel / 8) > f.fix.line_length) {
		say(quiet, "fb: %s: %dx%d does not fit its %zu bytes", path, w, h, f.map_len);
		goto fail;
	}
	void *p = mmap(NULL, f.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
	if (p == MAP_FAILED) {
		say(quiet, "fb: mmap %s: %s", path, strerror(errno));
		goto fail;
	}
	f.map = p;
	f.shadow = calloc((size_t)w * h, 4);
	if (!f.shadow) {
		say(quiet, "fb: out of memory");
		goto fail;
	}
	console_graphics(); /* fbcon writes into the same memory otherwise */
	for (int y = 0; y < h; y++)
		memset(f.map + (size_t)(f.var.yoffset + y) * f.fix.line_length, 0, f.fix.line_length);
	*m = (struct display_mode){ .width = w, .height = h, .stride = w * 4 };
	dbg("fb: %s %s %dx%d %u bpp, line %u", path, f.fix.id, w, h, f.var.bits_per_pixel, f.fix.line_length);
	return 0;
fail:
	fbdev_close();
	return -1;
}

static uint32_t *fbdev_buffer(void)
{
	return f.shadow;
}

static void fbdev_present(int y0, int y1)
{
	int w = (int)f.var.xres, h = (int)f.var.yres;
	if (!f.map)
		return;
	if (y0 < 0)
		y0 = 0;
	if (y1 > h)
		y1 = h;
	size_t bytes = f.var.bits_per_pixel / 8;
	for (int y = y0; y < y1; y++) {
		uint8_t *dst = f.map + (size_t)(f.var.yoffset + y) * f.fix.line_length + f.var.xoffset * bytes;
		const uint32_t *src = f.shadow + (size_t)y * w;
		if (f.direct)
			memcpy(dst, src, (size_t)w * 4);
		else
			fbdev_convert_row(dst, src, w, &f.var);
	}
}

static int fbdev_fd(void)
{
	return -1;
}

static void fbdev_close(void)
{
	if (f.map)
		munmap(f.map, f.map_len);
	f.map = NULL;
	free(f.shadow);
	f.shadow = NULL;
	if (f.fd >= 0)
		close(f.fd);
	f.fd = -1;
	console_restore(); /* fbcon redraws the text console */
}

const struct display_backend display_fbdev = {
	.name = "fb",
	.open = fbdev_open,
	.buffer = fbdev_buffer,
	.present = fbdev_present,
	.fd = fbdev_fd,
	.on_event = NULL,
	.close = fbdev_close,
	.emergency_restore = console_emergency_restore,
};
