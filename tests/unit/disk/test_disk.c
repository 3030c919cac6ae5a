/* The disk backend (hal/disk/raw.c) on image files made here: what a user
 * sees of a --disk spec (the messages), read-only disks, data at byte
 * offsets through scattered buffers, the disk's end, discard and
 * write-zeroes. hal's warnings go to stderr; the checks are on results. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disk/disk.h"

#define SIZE (1u << 20)

static char dir[64], img[128];

/* A SIZE-byte image whose byte i is pattern(i). */
static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 7 + (i >> 9)); }

static void make_image(const char *path, uint64_t size)
{
	static uint8_t buf[SIZE + 512];
	for (uint64_t i = 0; i < size && i < sizeof(buf); i++)
		buf[i] = pattern(i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
		printf("cannot make %s\n", path);
		exit(1);
	}
	close(fd);
}

/* The file's bytes [off, off+n) as they are on the host. */
static void host_read(const char *path, uint64_t off, uint8_t *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, buf, n, (off_t)off) != (ssize_t)n)
		memset(buf, 0xee, n);
	if (fd >= 0)
		close(fd);
}

static bool is_pattern(const uint8_t *p, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void missing_file_is_named(void)
{
	struct disk d;
	char why[256], spec[128];
	snprintf(spec, sizeof(spec), "%s/nonexistent.img,ro", dir);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK_EQ(d.fd, -1);
	char want[128];
	snprintf(want, sizeof(want), "--disk %s/nonexistent.img: No such file or directory", dir);
	CHECK(!strcmp(why, want));
	disk_close(&d); /* harmless on a disk that did not open */
}

static void bad_specs_say_what_is_wrong(void)
{
	struct disk d;
	char why[512], spec[512];
	CHECK(disk_open(&d, "", why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad path"));
	CHECK(disk_open(&d, ",ro", why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad path"));
	snprintf(spec, sizeof(spec), "%s,rw", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown option 'rw'") && strstr(why, "PATH[,ro][,serial=S]"));
	snprintf(spec, sizeof(spec), "%s,serial=123456789012345678901", img); /* 21 bytes */
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown option 'serial=123456789012345678901'"));
	snprintf(spec, sizeof(spec), "%s,serial=", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(disk_open(&d, "/dev/null", why, sizeof(why)) < 0);
	CHECK(!strcmp(why, "--disk /dev/null: not a regular file or block device"));
	snprintf(spec, sizeof(spec), "%s,ro", dir);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, dir) && strstr(why, "not a regular file or block device"));
	CHECK(disk_open(&d, dir, why, sizeof(why)) < 0); /* read-write: the open itself fails */
	CHECK(strstr(why, dir) && strstr(why, "Is a directory"));
	memset(spec, 'a', 300); /* longer than a disk path may be */
	spec[300] = 0;
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad path"));
	CHECK_EQ(d.fd, -1);
}

static void options_are_read(void)
{
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "%s,serial=12345678901234567890,ro", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK(d.ro && !strcmp(d.path, img) && !strcmp(d.serial, "12345678901234567890"));
	CHECK_EQ(d.size, SIZE);
	CHECK_EQ(d.sector_size, 512);
	disk_close(&d);
	CHECK_EQ(d.fd, -1);
	disk_close(&d);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	CHECK(!d.ro && !d.serial[0]);
	disk_close(&d);
}

static void spec_path_is_the_part_before_the_options(void)
{
	char buf[16];
	CHECK_EQ(disk_spec_path("/a/b.img,ro,serial=x", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "/a/b.img"));
	CHECK_EQ(disk_spec_path("/a/b.img", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "/a/b.img"));
	CHECK_EQ(disk_spec_path(",ro", buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, ""));
	CHECK_EQ(disk_spec_path("/123456789/1234,ro", buf, sizeof(buf)), 0); /* 15 bytes: fits */
	CHECK(!strcmp(buf, "/123456789/1234"));
	CHECK_EQ(disk_spec_path("/123456789/12345,ro", buf, sizeof(buf)), -1); /* never cut short */
	CHECK(!strcmp(buf, ""));
}

static void read_only_disk_refuses_writes(void)
{
	char ro[160], spec[200], why[256];
	snprintf(ro, sizeof(ro), "%s/ro.img", dir);
	make_image(ro, SIZE);
	CHECK_EQ(chmod(ro, 0444), 0);
	struct disk d;
	if (geteuid() != 0) { /* root may open it read-write anyway */
		CHECK(disk_open(&d, ro, why, sizeof(why)) < 0);
		CHECK(strstr(why, ro) && strstr(why, "Permission denied"));
	}
	snprintf(spec, sizeof(spec), "%s,ro", ro);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	uint8_t buf[1024];
	memset(buf, 0x55, sizeof(buf));
	struct iovec v = { buf, sizeof(buf) };
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, 4096) < 0 && errno == EROFS);
	errno = 0;
	CHECK(disk_write_zeroes(&d, 4096, 4096, false) < 0 && errno == EROFS);
	errno = 0;
	CHECK(disk_write_zeroes(&d, 4096, 4096, true) < 0 && errno == EROFS);
	errno = 0;
	CHECK(disk_discard(&d, 4096, 4096) < 0 && errno == EROFS);
	CHECK_EQ(disk_flush(&d), 0);
	CHECK_EQ(disk_readv(&d, &v, 1, 4096), 0);
	CHECK(is_pattern(buf, 4096, sizeof(buf)));
	disk_close(&d);
	host_read(ro, 0, buf, sizeof(buf));
	CHECK(is_pattern(buf, 0, sizeof(buf)));
	host_read(ro, 4096, buf, sizeof(buf));
	CHECK(is_pattern(buf, 4096, sizeof(buf)));
	unlink(ro);
}

static void data_round_trips_at_offsets(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	/* three buffers, one of them empty, at an offset that is no sector */
	uint8_t a[700], b[1], c[3000], out[3701];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i ^ 0x3c);
	b[0] = 0xa5;
	for (size_t i = 0; i < sizeof(c); i++)
		c[i] = (uint8_t)(i * 13);
	struct iovec w[4] = { { a, sizeof(a) }, { NULL, 0 }, { b, 1 }, { c, sizeof(c) } };
	const uint64_t off = 3 * 4096 + 77;
	CHECK_EQ(disk_writev(&d, w, 4, off), 0);
	CHECK_EQ(disk_flush(&d), 0);
	host_read(img, off, out, sizeof(out));
	CHECK(!memcmp(out, a, sizeof(a)) && out[700] == 0xa5 && !memcmp(out + 701, c, sizeof(c)));
	/* read back split differently */
	memset(out, 0, sizeof(out));
	struct iovec r[2] = { { out, 1000 }, { out + 1000, sizeof(out) - 1000 } };
	CHECK_EQ(disk_readv(&d, r, 2, off), 0);
	CHECK(!memcmp(out, a, sizeof(a)) && out[700] == 0xa5 && !memcmp(out + 701, c, sizeof(c)));
	/* the bytes around it are untouched */
	uint8_t edge[2];
	struct iovec e = { edge, 1 };
	CHECK_EQ(disk_readv(&d, &e, 1, off - 1), 0);
	CHECK_EQ(edge[0], pattern(off - 1));
	CHECK_EQ(disk_readv(&d, &e, 1, off + sizeof(out)), 0);
	CHECK_EQ(edge[0], pattern(off + sizeof(out)));
	/* more buffers than one preadv/pwritev takes */
	enum { N = IOV_MAX + 300 };
	static struct iovec many[N];
	static uint8_t bytes[N * 3], back[N * 3];
	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 31 + 1);
	for (int i = 0; i < N; i++)
		many[i] = (struct iovec){ bytes + 3 * i, 3 };
	CHECK_EQ(disk_writev(&d, many, N, 65536 + 1), 0);
	for (int i = 0; i < N; i++)
		many[i] = (struct iovec){ back + 3 * i, 3 };
	CHECK_EQ(disk_readv(&d, many, N, 65536 + 1), 0);
	CHECK(!memcmp(bytes, back, sizeof(bytes)));
	CHECK_EQ(disk_readv(&d, NULL, 0, SIZE), 0); /* nothing, at the very end */
	disk_close(&d);
}

static void requests_past_the_end_fail(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	uint8_t buf[1024];
	struct iovec v = { buf, sizeof(buf) };
	CHECK_EQ(disk_readv(&d, &v, 1, SIZE - sizeof(buf)), 0); /* the last bytes */
	errno = 0;
	CHECK(disk_readv(&d, &v, 1, SIZE - 512) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, SIZE - 512) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, SIZE) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(disk_readv(&d, &v, 1, UINT64_MAX - 100) < 0 && errno == EINVAL); /* off + len wraps */
	errno = 0;
	CHECK(disk_readv(&d, NULL, 0, SIZE + 1) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(disk_write_zeroes(&d, SIZE - 4096, 8192, false) < 0 && errno == EINVAL);
	errno = 0;
	CHECK(disk_discard(&d, UINT64_MAX - 4095, 8192) < 0 && errno == EINVAL);
	disk_close(&d);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size == SIZE); /* the image did not grow */
}

static void partial_last_sector_is_not_visible(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE + 100);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0); /* with a warning */
	CHECK_EQ(d.size, SIZE);
	uint8_t buf[512];
	struct iovec v = { buf, sizeof(buf) };
	CHECK_EQ(disk_readv(&d, &v, 1, SIZE - 512), 0);
	CHECK(disk_readv(&d, &v, 1, SIZE) < 0);
	v.iov_len = 100;
	CHECK(disk_readv(&d, &v, 1, SIZE) < 0);
	disk_close(&d);
}

static void discard_zeroes_or_is_unsupported(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	static uint8_t buf[3 * 4096];
	int r = disk_discard(&d, 8 * 4096, 4096);
	CHECK(r == 0 || errno == EOPNOTSUPP);
	host_read(img, 7 * 4096, buf, sizeof(buf));
	CHECK(is_pattern(buf, 7 * 4096, 4096) && is_pattern(buf + 2 * 4096, 9 * 4096, 4096));
	if (r == 0)
		CHECK(is_zero(buf + 4096, 4096));
	else
		CHECK(is_pattern(buf + 4096, 8 * 4096, 4096));
	disk_close(&d);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size == SIZE);
}

static void write_zeroes_zeroes(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	static uint8_t buf[SIZE];
	CHECK_EQ(disk_write_zeroes(&d, 3 * 512, 512, false), 0);      /* one sector, no page */
	CHECK_EQ(disk_write_zeroes(&d, 64 * 1024, 3 * 4096, true), 0); /* may unmap */
	CHECK_EQ(disk_write_zeroes(&d, 200 * 1024, 100 * 1024 + 512, false), 0);
	struct iovec v = { buf, SIZE };
	CHECK_EQ(disk_readv(&d, &v, 1, 0), 0);
	CHECK(is_pattern(buf, 0, 3 * 512) && is_zero(buf + 3 * 512, 512) && is_pattern(buf + 4 * 512, 4 * 512, 4096));
	CHECK(is_pattern(buf + 60 * 1024, 60 * 1024, 4096) && is_zero(buf + 64 * 1024, 3 * 4096) &&
	      is_pattern(buf + 76 * 1024, 76 * 1024, 4096));
	CHECK(is_zero(buf + 200 * 1024, 100 * 1024 + 512) && is_pattern(buf + 300 * 1024 + 512, 300 * 1024 + 512, 512));
	CHECK(is_pattern(buf + SIZE - 4096, SIZE - 4096, 4096));
	disk_close(&d);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size == SIZE);
}

/* An image truncated by someone else while hal has it open: reads past its
 * new end fail (EIO) rather than return stale or short data. */
static void image_cut_short_underneath_fails(void)
{
	struct disk d;
	char why[256];
	make_image(img, SIZE);
	CHECK_EQ(disk_open(&d, img, why, sizeof(why)), 0);
	CHECK_EQ(truncate(img, SIZE / 2), 0);
	uint8_t buf[1024];
	struct iovec v[2] = { { buf, 100 }, { buf + 100, sizeof(buf) - 100 } };
	CHECK_EQ(disk_readv(&d, v, 2, SIZE / 2 - sizeof(buf)), 0);
	CHECK(is_pattern(buf, SIZE / 2 - sizeof(buf), sizeof(buf)));
	errno = 0;
	CHECK(disk_readv(&d, v, 2, SIZE / 2 - 512) < 0 && errno == EIO); /* straddles the new end */
	errno = 0;
	CHECK(disk_readv(&d, v, 2, SIZE / 2 + 512) < 0 && errno == EIO);
	disk_close(&d);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hal-disk-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	make_image(img, SIZE);
	RUN(missing_file_is_named);
	RUN(bad_specs_say_what_is_wrong);
	RUN(options_are_read);
	RUN(spec_path_is_the_part_before_the_options);
	RUN(read_only_disk_refuses_writes);
	RUN(data_round_trips_at_offsets);
	RUN(requests_past_the_end_fail);
	RUN(partial_last_sector_is_not_visible);
	RUN(discard_zeroes_or_is_unsupported);
	RUN(write_zeroes_zeroes);
	RUN(image_cut_short_underneath_fails);
	unlink(img);
	rmdir(dir);
	return 0;
}
