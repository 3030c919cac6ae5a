/* Logging, clocks, reading whole files, CRC-32. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/hal.h"

int hal_verbose;
int (*hal_confine_thread)(enum hal_thread kind);
uint64_t hal_start_ns;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void hal_log(const char *level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* "\r\n" keeps lines readable while the terminal is in raw mode. */
	fprintf(stderr, "hal: %s%s%s\r\n", level ? level : "", level ? ": " : "", buf);
}

int hal_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

uint8_t *hal_read_file(const char *what, const char *path, size_t max, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err("cannot open %s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err("%s %s is not a file", what, path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		err("%s %s is too large (%lld bytes, at most %zu)", what, path, (long long)st.st_size, max);
		goto fail;
	}
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	if (!buf) {
		err("cannot read %s %s: out of memory", what, path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			err("cannot read %s %s: %s", what, path, n ? strerror(errno) : "file shrank");
			free(buf);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*size = got;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* CRC-32 of IEEE 802.3 (reflected, polynomial 0xEDB88320): PNG chunks, GPT
 * headers and entries. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
			crc_table[i] = c;
		}
}

uint32_t crc32_ieee(uint32_t crc, const uint8_t *p, size_t n)
{
	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}
