/* Host tool: crc32 FILE -- prints the CRC-32/IEEE (zlib's crc32) of FILE as
 * 8 lowercase hex digits, then a space and the size in bytes. */
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	uint32_t table[256], c = 0xffffffff;
	unsigned long long n = 0;
	int ch;
	if (argc != 2) { fprintf(stderr, "usage: crc32 FILE\n"); return 2; }
	FILE *f = fopen(argv[1], "rb");
	if (!f) { perror(argv[1]); return 1; }
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t t = i;
		for (int k = 0; k < 8; k++)
			t = (t >> 1) ^ (0xedb88320u & -(t & 1));
		table[i] = t;
	}
	while ((ch = getc(f)) != EOF) {
		c = table[(c ^ (uint32_t)ch) & 0xff] ^ (c >> 8);
		n++;
	}
	if (ferror(f)) { perror(argv[1]); return 1; }
	printf("%08x %llu\n", ~c, n);
	return 0;
}
