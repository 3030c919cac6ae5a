/* Test payload checker: reads boot_params and reports what the loader
 * handed over on COM1 (polled), then writes boot marker 0x01 and powers the
 * machine off. Built twice: -m32 (paging off) and -m64 (loader's identity
 * map of the first 4 GiB). Output format: see tests/guest/run.sh. */
#include "gio.h"

/* Filled by the entry code before checker_main runs. */
u32 entry_cs, entry_ds, entry_es, entry_ss, entry_flags;

void checker_main(const u8 *bp, u32 entry);

static u32 rd32(const u8 *bp, u32 off)
{
	return (u32)bp[off] | (u32)bp[off + 1] << 8 | (u32)bp[off + 2] << 16 | (u32)bp[off + 3] << 24;
}

static u64 rd64(const u8 *bp, u32 off)
{
	return (u64)rd32(bp, off) | (u64)rd32(bp, off + 4) << 32;
}

static u32 crc_table[256];

static u32 crc32(const u8 *p, u64 n)
{
	u32 c = 0xffffffff;
	for (u32 i = 0; i < 256; i++) {
		u32 t = i;
		for (int k = 0; k < 8; k++)
			t = (t >> 1) ^ (0xedb88320 & -(t & 1));
		crc_table[i] = t;
	}
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

#define LIMIT_4G 0x100000000ULL

#include "pattern.h"

/* "draw" as a word of the command line: paint pattern.h's rectangle into the
 * boot_params.screen_info framebuffer, say so, and stay up (no power-off)
 * so the test can take a screendump. */
static int cmdline_has(const char *s, const char *word)
{
	for (int i = 0; s && i < 4096 && s[i]; i++) {
		if (i && s[i - 1] != ' ')
			continue;
		int k = 0;
		while (word[k] && s[i + k] == word[k])
			k++;
		if (!word[k] && (s[i + k] == ' ' || !s[i + k]))
			return 1;
	}
	return 0;
}

static void draw(const u8 *bp)
{
	u32 w = bp[0x12] | bp[0x13] << 8, h = bp[0x14] | bp[0x15] << 8, pitch = bp[0x24] | bp[0x25] << 8;
	u64 base = rd32(bp, 0x18);
	puts("payload: screen_info type=0x");
	puthex(bp[0x0f], 2);
	puts(" base=0x");
	puthex(base, 0);
	puts(" ");
	putdec(w);
	putch('x');
	putdec(h);
	puts(" depth=");
	putdec(bp[0x16]);
	putch('\n');
	if (bp[0x0f] != 0x23 || bp[0x16] != 32 || !base)
		return;
	if (w < PATTERN_X + PATTERN_W || h < PATTERN_Y + PATTERN_HT)
		return;
	for (u32 y = PATTERN_Y; y < PATTERN_Y + PATTERN_HT; y++) {
		volatile u32 *row = (volatile u32 *)(uptr)(base + (u64)y * pitch);
		for (u32 x = PATTERN_X; x < PATTERN_X + PATTERN_W; x++)
			row[x] = pattern_pixel(x, y);
	}
	puts("payload: drawn\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

void checker_main(const u8 *bp, u32 entry)
{
	/* What the boot protocol promises at the 32/64-bit entry. */
	if (entry != 16 && (entry_cs != 0x10 || entry_ds != 0x18 || entry_es != 0x18 ||
			    entry_ss != 0x18 || (entry_flags & 0x200))) {
		puts("payload: warning cs=0x");
		puthex(entry_cs, 0);
		puts(" ds=0x");
		puthex(entry_ds, 0);
		puts(" es=0x");
		puthex(entry_es, 0);
		puts(" ss=0x");
		puthex(entry_ss, 0);
		puts(" eflags=0x");
		puthex(entry_flags, 0);
		putch('\n');
	}

	puts("payload: entry=");
	putdec(entry);
	putch('\n');

	/* hdr.cmd_line_ptr | ext_cmd_line_ptr << 32 */
	u64 cmd = rd32(bp, 0x228) | (u64)rd32(bp, 0x0c8) << 32;
	puts("payload: cmdline=");
	if (cmd && cmd < LIMIT_4G) {
		const char *s = (const char *)(uptr)cmd;
		for (int i = 0; i < 4096 && s[i]; i++)
			putch(s[i]);
	} else if (cmd) {
		puts("<above 4G>");
	}
	putch('\n');

	u64 ird = rd32(bp, 0x218) | (u64)rd32(bp, 0x0c0) << 32;
	u64 irs = rd32(bp, 0x21c) | (u64)rd32(bp, 0x0c4) << 32;
	puts("payload: initrd addr=0x");
	puthex(ird, 0);
	puts(" size=");
	putdec(irs);
	puts(" crc32=");
	if (irs && ird + irs <= LIMIT_4G && ird + irs > ird) {
		puts("0x");
		puthex(crc32((const u8 *)(uptr)ird, irs), 8);
	} else if (irs) {
		puts("<unreachable>");
	} else {
		puts("0x00000000");
	}
	putch('\n');

	u32 n = bp[0x1e8];
	puts("payload: e820 entries=");
	putdec(n);
	putch('\n');
	if (n > 128)
		n = 128;
	for (u32 i = 0; i < n; i++) {
		u32 off = 0x2d0 + 20 * i;
		puts("payload: e820 0x");
		puthex(rd64(bp, off), 16);
		puts(" 0x");
		puthex(rd64(bp, off + 8), 16);
		putch(' ');
		putdec(rd32(bp, off + 16));
		putch('\n');
	}
	puts("payload: done\n");
	if (cmd && cmd < LIMIT_4G && cmdline_has((const char *)(uptr)cmd, "draw"))
		draw(bp);

	outb(0x440, 0x01);
	outw(0x604, 0x2000);
	for (;;)
		__asm__ volatile("cli; hlt");
}
