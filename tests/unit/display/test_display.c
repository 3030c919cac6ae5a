/* Display layer without KVM: PNG encoder, pixel conversion, scaling,
 * dirty rows, bochs DISPI/BAR2/EDID, VGA text rendering, keymap, i8042
 * key and mouse injection, control commands. */
#include <linux/input-event-codes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "core/hal.h"
#include "display/bochs.h"
#include "display/fb.h"
#include "host/control.h"
#include "hw/i8042.h"
#include "hw/pm.h"

static uint32_t rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decode what png_encode writes (stored deflate blocks only) and compare. */
static void test_png_roundtrip(void)
{
	int w = 301, h = 117; /* > 64 KiB of image data: several stored blocks */
	uint32_t *px = malloc((size_t)w * h * 4);
	for (int i = 0; i < w * h; i++)
		px[i] = (uint32_t)(i * 2654435761u) & 0xffffff;
	size_t len;
	uint8_t *png = png_encode(px, w, h, &len);
	CHECK(png);
	CHECK(!memcmp(png, "\x89PNG\r\n\x1a\n", 8));
	size_t off = 8, zlen = 0;
	uint8_t *z = malloc(len);
	int saw_end = 0;
	while (off + 12 <= len) {
		uint32_t n = rd_be32(png + off);
		CHECK(off + 12 + n <= len);
		CHECK_EQ(crc32_ieee(0, png + off + 4, n + 4), rd_be32(png + off + 8 + n));
		if (!memcmp(png + off + 4, "IHDR", 4)) {
			CHECK_EQ(rd_be32(png + off + 8), w);
			CHECK_EQ(rd_be32(png + off + 12), h);
			CHECK_EQ(png[off + 16], 8);
			CHECK_EQ(png[off + 17], 2);
		} else if (!memcmp(png + off + 4, "IDAT", 4)) {
			memcpy(z + zlen, png + off + 8, n);
			zlen += n;
		} else if (!memcmp(png + off + 4, "IEND", 4)) {
			saw_end = 1;
		}
		off += 12 + n;
	}
	CHECK(saw_end);
	CHECK_EQ(off, len);
	CHECK_EQ((z[0] << 8 | z[1]) % 31, 0);
	size_t rawlen = (size_t)(1 + 3 * w) * h, got = 0, zi = 2;
	uint8_t *raw = malloc(rawlen);
	for (;;) {
		uint8_t hdr = z[zi++];
		CHECK_EQ(hdr & 6, 0);
		unsigned n = z[zi] | z[zi + 1] << 8, nn = z[zi + 2] | z[zi + 3] << 8;
		CHECK_EQ(n ^ nn, 0xffff);
		zi += 4;
		CHECK(got + n <= rawlen);
		memcpy(raw + got, z + zi, n);
		got += n;
		zi += n;
		if (hdr & 1)
			break;
	}
	CHECK_EQ(got, rawlen);
	uint32_t a = 1, b = 0;
	for (size_t i = 0; i < rawlen; i++) {
		a = (a + raw[i]) % 65521;
		b = (b + a) % 65521;
	}
	CHECK_EQ(rd_be32(z + zi), b << 16 | a);
	for (int y = 0; y < h; y++) {
		const uint8_t *r = raw + (size_t)y * (1 + 3 * w);
		CHECK_EQ(r[0], 0);
		for (int x = 0; x < w; x++) {
			uint32_t c = px[y * w + x];
			CHECK_EQ(r[1 + 3 * x] << 16 | r[2 + 3 * x] << 8 | r[3 + 3 * x], c);
		}
	}
	free(raw);
	free(z);
	free(png);
	free(px);
}

static void test_png_crc(void)
{
	CHECK_EQ(crc32_ieee(0, (const uint8_t *)"123456789", 9), 0xcbf43926);
	CHECK_EQ(crc32_ieee(0, (const uint8_t *)"IEND", 4), 0xae426082);
}

static void test_convert(void)
{
	uint32_t out[2];
	const uint8_t x32[8] = { 0x11, 0x22, 0x33, 0xff, 1, 2, 3, 4 };
	fb_convert_row(out, x32, 2, 32, NULL);
	CHECK_EQ(out[0], 0x332211);
	CHECK_EQ(out[1], 0x030201);
	const uint8_t x24[6] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
	fb_convert_row(out, x24, 2, 24, NULL);
	CHECK_EQ(out[0], 0x332211);
	CHECK_EQ(out[1], 0x665544);
	const uint8_t x16[4] = { 0x00, 0xf8, 0xe0, 0x07 }; /* red, green */
	fb_convert_row(out, x16, 2, 16, NULL);
	CHECK_EQ(out[0], 0xff0000);
	CHECK_EQ(out[1], 0x00ff00);
	const uint8_t x15[4] = { 0x1f, 0x00, 0x00, 0x7c }; /* blue, red */
	fb_convert_row(out, x15, 2, 15, NULL);
	CHECK_EQ(out[0], 0x0000ff);
	CHECK_EQ(out[1], 0xff0000);
	const uint32_t pal[256] = { [7] = 0x123456 };
	const uint8_t x8[2] = { 7, 0 };
	fb_convert_row(out, x8, 2, 8, pal);
	CHECK_EQ(out[0], 0x123456);
}

static void test_fit_scale(void)
{
	int s, x0, y0;
	fb_fit(640, 400, 1920, 1080, &s, &x0, &y0);
	CHECK_EQ(s, 2);
	CHECK_EQ(x0, 320);
	CHECK_EQ(y0, 140);
	fb_fit(1024, 768, 1024, 768, &s, &x0, &y0);
	CHECK_EQ(s, 1);
	CHECK_EQ(x0, 0);
	fb_fit(1920, 1080, 1024, 768, &s, &x0, &y0); /* larger than the screen: cropped */
	CHECK_EQ(s, 1);
	CHECK_EQ(x0, 0);
	CHECK_EQ(y0, 0);

	uint32_t src[2 * 2] = { 1, 2, 3, 4 }, dst[7 * 6];
	memset(dst, 0xee, sizeof(dst));
	fb_scale_rows(dst, 7, 7, 6, src, 2, 2, 0, 2, 3, 0, 0);
	CHECK_EQ(dst[0], 1);
	CHECK_EQ(dst[2], 1);
	CHECK_EQ(dst[3], 2);
	CHECK_EQ(dst[5], 2);
	CHECK_EQ(dst[6], 0xeeeeeeee); /* outside the picture: untouched */
	CHECK_EQ(dst[2 * 7 + 5], 2);
	CHECK_EQ(dst[3 * 7 + 0], 3);
	CHECK_EQ(dst[5 * 7 + 5], 4);
	/* clipping: 2x into 3x3 */
	uint32_t d2[9];
	memset(d2, 0, sizeof(d2));
	fb_scale_rows(d2, 3, 3, 3, src, 2, 2, 0, 2, 2, 0, 0);
	CHECK_EQ(d2[0], 1);
	CHECK_EQ(d2[2], 0); /* column 2 would be pixel 1's first copy; it does not fit whole */
	CHECK_EQ(d2[6], 3);
}

static void test_dirty_rows(void)
{
	uint64_t bm[4] = { 0 };
	uint8_t rows[768];
	memset(rows, 0, sizeof(rows));
	/* 1024x768x4: stride 4096, one page per row; frame at offset 8192 */
	bm[0] = 1ull << 2 | 1ull << 5;
	CHECK_EQ(fb_dirty_rows(bm, 256, 8192, 4096, 768, rows), 2);
	CHECK(rows[0] && rows[3] && !rows[1]);
	/* page 0 and 1 are before the frame */
	memset(rows, 0, sizeof(rows));
	bm[0] = 3;
	CHECK_EQ(fb_dirty_rows(bm, 256, 8192, 4096, 768, rows), 0);
	/* 640 wide x 4 = 2560 stride: page 1 (bytes 4096-8191) touches rows 1-3 */
	memset(rows, 0, sizeof(rows));
	bm[0] = 2;
	CHECK_EQ(fb_dirty_rows(bm, 256, 0, 2560, 480, rows), 3);
	CHECK(rows[1] && rows[2] && rows[3] && !rows[4] && !rows[0]);
}

static void mmio(struct bochs *b, uint64_t off, uint32_t v, int len, int wr, uint32_t *out)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	bochs_mmio(b, off, d, (uint32_t)len, wr);
	if (out)
		*out = d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static void test_bochs_regs(void)
{
	static struct bochs b;
	static struct vgatext v;
	the_vm = NULL;
	memset(&v, 0, sizeof(v));
	pthread_mutex_init(&v.lock, NULL);
	vgatext_reset_regs(&v);
	CHECK_EQ(bochs_init(&b, &v, NULL), 0);
	CHECK_EQ(b.pci.cfg[0], 0x34);
	CHECK_EQ(b.pci.cfg[2], 0x11);
	CHECK_EQ(b.pci.cfg[0x0b], 0x03);
	CHECK_EQ(b.pci.cfg[0x0a], 0x80);
	uint32_t r;
	mmio(&b, 0x500, 0, 2, 0, &r);
	CHECK_EQ(r, 0xb0c5);
	mmio(&b, 0x500 + 2 * 0xa, 0, 2, 0, &r);
	CHECK_EQ(r, 256); /* 16 MiB in 64 KiB units */
	mmio(&b, 0x600, 0, 4, 0, &r);
	CHECK_EQ(r, 8);
	mmio(&b, 0x604, 0, 4, 0, &r);
	CHECK_EQ(r, 0x1e1e1e1e);
	/* EDID: header and checksum */
	mmio(&b, 0, 0, 4, 0, &r);
	CHECK_EQ(r, 0xffffff00);
	uint8_t sum = 0;
	for (int i = 0; i < 128; i++) {
		mmio(&b, (uint64_t)i, 0, 1, 0, &r);
		sum = (uint8_t)(sum + r);
	}
	CHECK_EQ(sum, 0);
	/* GETCAPS */
	mmio(&b, 0x508, 2, 2, 1, NULL);
	mmio(&b, 0x502, 0, 2, 0, &r);
	CHECK_EQ(r, 2560);
	/* disabled: VGA text */
	mmio(&b, 0x508, 0, 2, 1, NULL);
	struct fb_scanout s;
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_OFF); /* no VGA memory mapped in this test */
	/* mode set as bochs-drm does it */
	mmio(&b, 0x502, 800, 2, 1, NULL);
	mmio(&b, 0x504, 600, 2, 1, NULL);
	mmio(&b, 0x506, 32, 2, 1, NULL);
	mmio(&b, 0x508, 0x41, 2, 1, NULL);
	mmio(&b, 0x50c, 0, 2, 0, &r);
	CHECK_EQ(r, 800);   /* VIRT_WIDTH follows XRES on enable */
	mmio(&b, 0x50e, 0, 2, 0, &r);
	CHECK_EQ(r, 16 * 1024 * 1024 / 3200);
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_GFX);
	CHECK_EQ(s.width, 800);
	CHECK_EQ(s.stride, 3200);
	uint32_t serial = s.serial;
	/* page flip: Y_OFFSET 600 */
	mmio(&b, 0x512, 600, 2, 1, NULL);
	bochs_scanout(&b, &s);
	CHECK_EQ(s.offset, 600 * 3200);
	CHECK(s.pixels == b.vram + 600 * 3200);
	CHECK(s.serial != serial);
	/* an offset past VRAM shows nothing rather than reading past it */
	mmio(&b, 0x512, 6000, 2, 1, NULL);
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_OFF);
	/* ports 0x1CE/0x1CF reach the same registers */
	uint8_t d[2] = { 1, 0 };
	bochs_dispi_io(&b, 0x1ce, d, 2, 1);
	bochs_dispi_io(&b, 0x1cf, d, 2, 0);
	CHECK_EQ(d[0] | d[1] << 8, 800);
	/* text written straight to 0xB8000 while DISPI is on (memtest86+ under
	 * SeaBIOS's bochs-display BIOS): the text page is shown, until the
	 * next mode set */
	static uint8_t vmem[0x20000];
	mmio(&b, 0x512, 0, 2, 1, NULL);
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_GFX); /* no VGA memory yet: nothing to compare */
	v.mem = vmem;
	mmio(&b, 0x512, 0, 2, 1, NULL); /* the mode set notes the text page */
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_GFX);
	vmem[VGA_TEXT_OFF + 2 * 80] = 'M';
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_TEXT);
	CHECK(s.cells == vmem + VGA_TEXT_OFF);
	vmem[VGA_TEXT_OFF + 2 * 80] = 0; /* sticky: the page stays shown */
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_TEXT);
	vmem[VGA_TEXT_OFF + 2 * 80] = 'M';
	mmio(&b, 0x512, 0, 2, 1, NULL); /* a DISPI write: graphics again */
	bochs_scanout(&b, &s);
	CHECK_EQ(s.kind, FB_GFX);
	CHECK_EQ(s.width, 800);
	v.mem = NULL;
	/* VGA registers through BAR2+0x400: 0x3DA toggles and resets the flip-flop */
	uint32_t s1, s2;
	mmio(&b, 0x41a, 0, 1, 0, &s1);
	mmio(&b, 0x41a, 0, 1, 0, &s2);
	CHECK(s1 != s2);
	bochs_exit(&b);
}

/* A mode set without NOCLEAR shows a black screen of the new mode and
 * costs no memory for it (the pages are given back, not written); with
 * NOCLEAR the picture stays. */
static void test_bochs_mode_set_clears(void)
{
	static struct bochs b;
	static struct vgatext v;
	the_vm = NULL;
	memset(&v, 0, sizeof(v));
	pthread_mutex_init(&v.lock, NULL);
	vgatext_reset_regs(&v);
	CHECK_EQ(bochs_init(&b, &v, NULL), 0);
	const size_t mode = 1024 * 768 * 4;
	memset(b.vram, 0x5a, mode + 4096 + 3); /* a guest's last picture, and past the mode */
	mmio(&b, 0x502, 1024, 2, 1, NULL);
	mmio(&b, 0x504, 768, 2, 1, NULL);
	mmio(&b, 0x506, 32, 2, 1, NULL);
	mmio(&b, 0x508, 0x41, 2, 1, NULL); /* ENABLED | LFB */
	unsigned char inc[64]; /* before reading: reads map the zero page */
	CHECK_EQ(mincore(b.vram, sizeof(inc) * 4096, inc), 0);
	int resident = 0;
	for (size_t i = 0; i < sizeof(inc); i++)
		resident += inc[i] & 1;
	CHECK_EQ(resident, 0);
	size_t nonzero = 0;
	for (size_t i = 0; i < mode; i++)
		nonzero += b.vram[i] != 0;
	CHECK_EQ(nonzero, 0);
	CHECK_EQ(b.vram[mode], 0x5a); /* past the mode: not the mode's to clear */
	/* disable, draw, enable with NOCLEAR (0x80): kept */
	mmio(&b, 0x508, 0, 2, 1, NULL);
	b.vram[100] = 7;
	mmio(&b, 0x508, 0xc1, 2, 1, NULL);
	CHECK_EQ(b.vram[100], 7);
	bochs_exit(&b);
}

static void test_text_render(void)
{
	uint8_t cells[2 * 2] = { 'A', 0x1f, ' ', 0x70 };
	uint32_t px[16 * 16];
	vgatext_render(px, 16, cells, 2, 1, -1, true);
	/* 'A' white on blue: row 4 of the glyph has set and clear bits */
	int fg = 0, bg = 0;
	for (int y = 0; y < 16; y++)
		for (int x = 0; x < 8; x++) {
			fg += px[y * 16 + x] == 0xffffff;
			bg += px[y * 16 + x] == 0x0000aa;
		}
	CHECK(fg > 10);
	CHECK(bg > 60);
	CHECK_EQ(fg + bg, 128);
	CHECK_EQ(px[8], 0xaaaaaa); /* second cell: space on light grey */
	/* the font has the letters and CP437 box drawing */
	int set = 0;
	for (int y = 0; y < 16; y++)
		set += vga_font8x16[0xc4][y] != 0; /* horizontal line */
	CHECK(set >= 1 && set <= 3);
}

static void test_keymap(void)
{
	CHECK_EQ(keymap_set1(KEY_A), 0x1e);
	CHECK_EQ(keymap_set2(KEY_A), 0x1c);
	CHECK_EQ(keymap_set1(KEY_DOWN), 0x150);
	CHECK_EQ(keymap_set2(KEY_DOWN), 0x172);
	CHECK_EQ(keymap_set1(KEY_F12), 0x58);
	CHECK_EQ(keymap_set2(KEY_F12), 0x07);
	CHECK_EQ(keymap_set1(KEY_ENTER), 0x1c);
	CHECK_EQ(keymap_by_name("ret"), KEY_ENTER);
	CHECK_EQ(keymap_by_name("ctrl"), KEY_LEFTCTRL);
	CHECK_EQ(keymap_by_name("delete"), KEY_DELETE);
	CHECK_EQ(keymap_by_name("f10"), KEY_F10);
	CHECK_EQ(keymap_by_name("f1"), KEY_F1);
	CHECK_EQ(keymap_by_name("f13"), 0);
	CHECK_EQ(keymap_by_name("a"), KEY_A);
	CHECK_EQ(keymap_by_name("7"), KEY_7);
	CHECK_EQ(keymap_by_name("bogus"), 0);
	bool sh;
	CHECK_EQ(keymap_char('Q', &sh), KEY_Q);
	CHECK(sh);
	CHECK_EQ(keymap_char('/', &sh), KEY_SLASH);
	CHECK(!sh);
	CHECK_EQ(keymap_char('!', &sh), KEY_1);
	CHECK(sh);
	/* every mapped key has both sets */
	for (unsigned c = 1; c < 256; c++)
		CHECK_EQ(!keymap_set1(c), !keymap_set2(c));
}

static int irqs[16];
static void irq_cb(int irq, int level)
{
	if (level)
		irqs[irq]++;
}

static uint8_t rd(struct i8042 *k, uint16_t port)
{
	uint8_t d = 0;
	i8042_io(k, port, &d, 1, 0);
	return d;
}

static void wr(struct i8042 *k, uint16_t port, uint8_t v)
{
	i8042_io(k, port, &v, 1, 1);
}

static void test_i8042_keys(void)
{
	static struct i8042 k;
	i8042_init(&k, irq_cb, NULL);
	memset(irqs, 0, sizeof(irqs));
	/* translated (the default CTR): set 1 */
	i8042_key(&k, keymap_set1(KEY_DOWN), keymap_set2(KEY_DOWN), 1);
	i8042_key(&k, keymap_set1(KEY_DOWN), keymap_set2(KEY_DOWN), 0);
	CHECK(irqs[1] >= 1);
	CHECK_EQ(rd(&k, 0x64) & 1, 1);
	CHECK_EQ(rd(&k, 0x60), 0xe0);
	CHECK_EQ(rd(&k, 0x60), 0x50);
	CHECK_EQ(rd(&k, 0x60), 0xe0);
	CHECK_EQ(rd(&k, 0x60), 0xd0);
	CHECK_EQ(rd(&k, 0x64) & 1, 0);
	CHECK(irqs[1] >= 4); /* one edge per byte */
	/* untranslated: set 2 with F0 break prefix */
	wr(&k, 0x64, 0x60);
	wr(&k, 0x60, 0x01); /* KBDINT only */
	i8042_key(&k, keymap_set1(KEY_A), keymap_set2(KEY_A), 1);
	i8042_key(&k, keymap_set1(KEY_A), keymap_set2(KEY_A), 0);
	CHECK_EQ(rd(&k, 0x60), 0x1c);
	CHECK_EQ(rd(&k, 0x60), 0xf0);
	CHECK_EQ(rd(&k, 0x60), 0x1c);
	/* the keyboard disabled by the guest (0xF5) drops keys */
	wr(&k, 0x60, 0xf5);
	CHECK_EQ(rd(&k, 0x60), 0xfa);
	i8042_key(&k, 0x1e, 0x1c, 1);
	CHECK_EQ(rd(&k, 0x64) & 1, 0);
	wr(&k, 0x60, 0xf4);
	CHECK_EQ(rd(&k, 0x60), 0xfa);
	/* a command reply is never split by queued keys */
	for (int i = 0; i < 4; i++)
		i8042_key(&k, 0x1e, 0x1c, 1);
	CHECK_EQ(rd(&k, 0x60), 0x1c);
	wr(&k, 0x60, 0xf2); /* identify: ACK AB 83 */
	int ack = 0;
	for (int i = 0; i < 8; i++)
		if (rd(&k, 0x60) == 0xfa)
			ack = i;
	CHECK(ack >= 0);
}

static void test_i8042_mouse(void)
{
	static struct i8042 k;
	i8042_init(&k, irq_cb, NULL);
	memset(irqs, 0, sizeof(irqs));
	wr(&k, 0x64, 0x60);
	wr(&k, 0x60, 0x47); /* both interrupts, translate */
	/* reporting is off until 0xF4 */
	i8042_mouse(&k, 5, 5, 0, 1);
	CHECK_EQ(rd(&k, 0x64) & 1, 0);
	wr(&k, 0x64, 0xd4);
	wr(&k, 0x60, 0xf4);
	CHECK_EQ(rd(&k, 0x64) & 0x21, 0x21);
	CHECK_EQ(rd(&k, 0x60), 0xfa);
	i8042_mouse(&k, -3, 7, 0, 1);
	CHECK(irqs[12] >= 1);
	CHECK_EQ(rd(&k, 0x64) & 0x21, 0x21);
	CHECK_EQ(rd(&k, 0x60), 0x08 | 0x01 | 0x10);
	CHECK_EQ(rd(&k, 0x60), 0xfd);
	CHECK_EQ(rd(&k, 0x60), 7);
	CHECK_EQ(rd(&k, 0x64) & 1, 0);
	/* IntelliMouse: rates 200, 100, 80 then ID 3 and 4-byte packets */
	const uint8_t rates[3] = { 200, 100, 80 };
	for (int i = 0; i < 3; i++) {
		wr(&k, 0x64, 0xd4);
		wr(&k, 0x60, 0xf3);
		rd(&k, 0x60);
		wr(&k, 0x64, 0xd4);
		wr(&k, 0x60, rates[i]);
		rd(&k, 0x60);
	}
	wr(&k, 0x64, 0xd4);
	wr(&k, 0x60, 0xf2);
	CHECK_EQ(rd(&k, 0x60), 0xfa);
	CHECK_EQ(rd(&k, 0x60), 3);
	i8042_mouse(&k, 1, 1, -1, 0);
	rd(&k, 0x60);
	rd(&k, 0x60);
	rd(&k, 0x60);
	CHECK_EQ(rd(&k, 0x60), 0x0f);
	/* 0xF5 stops reporting */
	wr(&k, 0x64, 0xd4);
	wr(&k, 0x60, 0xf5);
	rd(&k, 0x60);
	i8042_mouse(&k, 1, 1, 0, 0);
	CHECK_EQ(rd(&k, 0x64) & 1, 0);
}

static void test_control(void)
{
	static struct i8042 k;
	static struct pm p;
	char reply[256];
	i8042_init(&k, NULL, NULL);
	pm_init(&p, NULL, NULL);
	input_attach(&k, &p);
	control_command("sendkey ctrl-alt-delete", reply, sizeof(reply));
	CHECK(!strcmp(reply, "ok"));
	/* set 1: 1d 38 e0 53, then breaks e0 d3 b8 9d */
	const uint8_t want[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	for (size_t i = 0; i < sizeof(want); i++)
		CHECK_EQ(rd(&k, 0x60), want[i]);
	control_command("sendkey ctrl-bogus", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error unknown key 'bogus'", 25));
	control_command("type Hi", reply, sizeof(reply));
	CHECK(!strcmp(reply, "ok 2"));
	CHECK_EQ(rd(&k, 0x60), 0x2a); /* shift */
	CHECK_EQ(rd(&k, 0x60), 0x23); /* h */
	control_command("frobnicate", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error unknown command", 21));
	control_command("screendump", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error", 5));
	control_command("status", reply, sizeof(reply));
	CHECK(!strncmp(reply, "ok running", 10));
	input_attach(NULL, NULL);
}

static int media_drive = -1;
static char media_path[64];
static int fake_media(int drive, const char *path, char *why, size_t whylen)
{
	media_drive = drive;
	snprintf(media_path, sizeof(media_path), "%s", path ? path : "(eject)");
	if (path && !strcmp(path, "/missing.iso")) {
		snprintf(why, whylen, "--cdrom /missing.iso: No such file or directory");
		return -1;
	}
	return 0;
}

/* eject and change reach the board's hook with the drive and the path. */
static void test_control_media(void)
{
	char reply[256];
	control_set_media(NULL, 0);
	control_command("eject", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error no CD drive 0", 19));
	control_set_media(fake_media, 2);
	control_command("eject", reply, sizeof(reply));
	CHECK(!strcmp(reply, "ok"));
	CHECK_EQ(media_drive, 0);
	CHECK(!strcmp(media_path, "(eject)"));
	control_command("change cdrom1 /x/new disc.iso", reply, sizeof(reply));
	CHECK(!strcmp(reply, "ok"));
	CHECK_EQ(media_drive, 1);
	CHECK(!strcmp(media_path, "/x/new disc.iso"));
	control_command("change cdrom /missing.iso", reply, sizeof(reply));
	CHECK(!strcmp(reply, "error --cdrom /missing.iso: No such file or directory"));
	media_drive = -1;
	control_command("change cdrom", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error change cdrom PATH", 23));
	control_command("eject cdrom2", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error no CD drive 2", 19));
	control_command("change floppy /a.img", reply, sizeof(reply));
	CHECK(!strncmp(reply, "error unknown drive 'floppy'", 28));
	CHECK_EQ(media_drive, -1);
	control_set_media(NULL, 0);
}

/* hal without --control still tears the control socket down at exit: that
 * must not close descriptors it never opened (it closed stdin, and the
 * terminal stayed raw). */
static void test_control_stop_unstarted(void)
{
	int fd = dup(0);
	CHECK(fd >= 0);
	control_stop();
	CHECK(fcntl(0, F_GETFD) != -1);
	close(fd);
}

int main(void)
{
	RUN(test_control_stop_unstarted);
	RUN(test_png_crc);
	RUN(test_png_roundtrip);
	RUN(test_convert);
	RUN(test_fit_scale);
	RUN(test_dirty_rows);
	RUN(test_bochs_regs);
	RUN(test_bochs_mode_set_clears);
	RUN(test_text_render);
	RUN(test_keymap);
	RUN(test_i8042_keys);
	RUN(test_i8042_mouse);
	RUN(test_control);
	RUN(test_control_media);
	return 0;
}
