/* A minimal PNG encoder for screendumps: 8-bit RGB, filter 0 on every row,
 * zlib stream of stored (uncompressed) deflate blocks. Our own code, no
 * third-party parts: Adler-32 (zlib) here, CRC-32 (PNG chunks) in core/util.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "display/fb.h"

/* Chunk at out: be32 length, type, data (already in place at out+8), be32
 * CRC (PNG spec, 5.3). */
static size_t chunk(uint8_t *out, const char *type, size_t len)
{
	put_be32(out, (uint32_t)len);
	memcpy(out + 4, type, 4);
	put_be32(out + 8 + len, crc32_ieee(0, out + 4, len + 4));
	return len + 12;
}

uint8_t *png_encode(const uint32_t *px, int w, int h, size_t *len)
{
	if (w <= 0 || h <= 0 || w > 16384 || h > 16384)
		return NULL;
	size_t row = 1 + 3 * (size_t)w, raw = row * (size_t)h;
	size_t nblocks = (raw + 65534) / 65535;
	size_t idat = 2 + raw + 5 * nblocks + 4;
	size_t total = 8 + 25 + 12 + idat + 12;
	uint8_t *out = malloc(total), *p = out;
	if (!out)
		return NULL;
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	memcpy(p, sig, 8);
	p += 8;
	put_be32(p + 8, (uint32_t)w); /* IHDR (PNG spec, 11.2.2) */
	put_be32(p + 12, (uint32_t)h);
	p[16] = 8; /* bit depth */
	p[17] = 2; /* colour type: RGB */
	p[18] = p[19] = p[20] = 0; /* deflate, adaptive filters, no interlace */
	p += chunk(p, "IHDR", 13);

	uint8_t *d = p + 8;
	*d++ = 0x78; /* zlib: deflate, 32 KiB window */
	*d++ = 0x01; /* no dictionary, fastest; (0x78 << 8 | 0x01) % 31 == 0 */
	uint32_t a = 1, b = 0; /* Adler-32 */
	size_t left = raw, x = 0;
	int y = 0;
	while (left) {
		size_t n = left > 65535 ? 65535 : left;
		left -= n;
		*d++ = left ? 0 : 1; /* BFINAL, BTYPE 00 (stored) */
		put_le16(d, (uint16_t)n); /* LEN and NLEN (RFC 1951, 3.2.4) */
		put_le16(d + 2, (uint16_t)~n);
		d += 4;
		for (size_t i = 0; i < n; i++) {
			uint8_t v;
			if (x == 0) {
				v = 0; /* filter type None */
			} else {
				uint32_t c = px[(size_t)y * (size_t)w + (x - 1) / 3];
				v = (uint8_t)(c >> (16 - 8 * ((x - 1) % 3)));
			}
			if (++x == row) {
				x = 0;
				y++;
			}
			*d++ = v;
			a += v;
			if (a >= 65521)
				a -= 65521;
			b += a;
			if (b >= 65521)
				b -= 65521;
		}
	}
	put_be32(d, b << 16 | a); /* zlib's ADLER32, big endian (RFC 1950) */
	p += chunk(p, "IDAT", idat);
	p += chunk(p, "IEND", 0);
	*len = (size_t)(p - out);
	return out;
}

static int write_all(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return close(fd);
}

int png_write(const char *path, const uint32_t *px, int w, int h)
{
	size_t len;
	uint8_t *buf = png_encode(px, w, h, &len);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	int r = write_all(path, buf, len);
	int e = errno;
	free(buf);
	errno = e;
	return r;
}
