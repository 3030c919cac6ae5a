/* Host tool: mkbzimage SETUP.bin PM.bin OUT -- joins the real-mode setup
 * area and the flat protected-mode part into a bzImage, patching syssize
 * (0x1F4) and init_size (0x260) into the setup header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) { perror(path); exit(1); }
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	rewind(f);
	unsigned char *buf = malloc(*len ? *len : 1);
	if (!buf || fread(buf, 1, *len, f) != (size_t)*len) { perror(path); exit(1); }
	fclose(f);
	return buf;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

int main(int argc, char **argv)
{
	long slen, plen;
	if (argc != 4) { fprintf(stderr, "usage: mkbzimage SETUP PM OUT\n"); return 2; }
	unsigned char *setup = slurp(argv[1], &slen);
	unsigned char *pm = slurp(argv[2], &plen);
	if (slen < 0x270 || slen != (setup[0x1f1] + 1) * 512L) {
		fprintf(stderr, "mkbzimage: %s: size %ld does not match setup_sects %d\n", argv[1], slen, setup[0x1f1]);
		return 1;
	}
	put32(setup + 0x1f4, (uint32_t)((plen + 15) / 16));
	put32(setup + 0x260, (uint32_t)((plen + 4095) & ~4095L));
	FILE *f = fopen(argv[3], "wb");
	if (!f || fwrite(setup, 1, slen, f) != (size_t)slen || fwrite(pm, 1, plen, f) != (size_t)plen || fclose(f)) {
		perror(argv[3]);
		return 1;
	}
	return 0;
}
