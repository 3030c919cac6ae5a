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
/* Guest code at CPL 0 runs in KVM's instruction emulator on the project's
 * machines (docs/testing.md), a few thousand pixels a second: the payload
 * paints only this rectangle; the rest of the screen stays black. */
#define PATTERN_X 200
#define PATTERN_Y 100
#define PATTERN_W 64
#define PATTERN_HT 48
static inline unsigned pattern_expected(unsigned x, unsigned y)
{
	return x - PATTERN_X < PATTERN_W && y - PATTERN_Y < PATTERN_HT ? pattern_pixel(x, y) : 0;
}
#endif
