/* The fbdev backend's pure helpers (fbdev.c), for the unit tests. */
#ifndef FBDEV_H
#define FBDEV_H
#include <stdbool.h>
#include <stdint.h>
#include <linux/fb.h>

/* Can this framebuffer be drawn: packed true colour, 16/24/32 bpp, fields
 * inside the pixel. *direct: 32 bpp x8r8g8b8, rows copied unchanged. */
bool fbdev_format_ok(const struct fb_var_screeninfo *v, const struct fb_fix_screeninfo *x, bool *direct);
/* One row of XRGB8888 into the framebuffer's pixel format (little endian). */
void fbdev_convert_row(uint8_t *dst, const uint32_t *src, int width, const struct fb_var_screeninfo *v);
#endif
