/* The picture `payload draw` paints into the screen_info framebuffer and
 * `halctl -pattern` computes on the host: every pixel differs from its
 * neighbours in all three channels, so any shift, scaling or channel swap
 * shows. XRGB8888. */
#ifndef PATTERN_H
#define PATTERN_H
static inline unsigned pattern_pixel(unsigned x, unsigned y)
{
	unsigned r = (x * 3 + y * 5) & 0xff, g = (x * 7 ^ y * 11) & 0xff, b = (x + y * 13 + (x >> 4) * 17) & 0xff;
	return r << 16 | g << 8 | b;
}
#endif
