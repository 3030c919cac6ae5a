/* ,snapshot and --snapshot (hal/disk/snapshot.c): the guest's writes land in
 * a temporary layer; the image file stays byte-identical (its checksum is
 * taken before and after), reads see what was written merged with the
 * image, discard and write-zeroes read as zeros, the image is opened
 * read-only. A model of the disk in memory is the expected content. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disk/disk.h"

#define SIZE (1u << 20)
#define ODD (SIZE + 1536) /* a last 4 KiB block the image fills in part */

static char dir[64], img[128], odd[128];
static uint8_t model[ODD], got[ODD];

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 13 + (i >> 10)); }

static void make_image(const char *path, uint64_t size)
{
	for (uint64_t i = 0; i < size; i++)
		model[i] = pattern(i);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, model, size) != (ssize_t)size) {
		printf("cannot make %s\n", path);
		exit(1);
	}
	close(fd);
}

/* FNV-1a over the whole file as it is on the host. */
static uint64_t checksum(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	while (fd >= 0 && (r = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < r; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	if (fd >= 0)
		close(fd);
	return h;
}

static int put(struct disk *d, uint64_t off, uint8_t *p, size_t n)
{
	struct iovec v = { p, n };
	memcpy(model + off, p, n);
	return disk_writev(d, &v, 1, off);
}

static int get_all(struct disk *d, uint64_t size)
{
	/* in three uneven pieces, so runs cross buffer ends */
	struct iovec v[3] = { { got, 4097 }, { got + 4097, 70000 }, { got + 74097, size - 74097 } };
	memset(got, 0xee, size);
	return disk_readv(d, v, 3, 0);
}

static void image_stays_identical(void)
{
	make_image(img, SIZE);
	uint64_t before = checksum(img);
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "%s,snapshot", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK(d.snap && !d.ro && d.size == SIZE);
	static uint8_t buf[3 * 4096];
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(put(&d, 0, buf, 512), 0);
	CHECK_EQ(put(&d, 4096 * 10 + 512, buf, sizeof(buf)), 0);
	CHECK_EQ(put(&d, SIZE - 4096, buf, 4096), 0);
	CHECK_EQ(disk_write_zeroes(&d, 8192, 8192, true), 0);
	memset(model + 8192, 0, 8192);
	CHECK_EQ(disk_discard(&d, 65536 + 512, 1024), 0);
	memset(model + 65536 + 512, 0, 1024);
	CHECK_EQ(disk_flush(&d), 0);
	CHECK_EQ(get_all(&d, SIZE), 0);
	CHECK(!memcmp(got, model, SIZE));
	disk_close(&d);
	CHECK(checksum(img) == before);
	/* the next open sees the image as it was */
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK_EQ(get_all(&d, SIZE), 0);
	make_image(img, SIZE); /* model := the image */
	CHECK(!memcmp(got, model, SIZE));
	disk_close(&d);
}

/* Random sector-sized and byte-sized writes, then the disk reads as the model. */
static void random_writes_read_back(void)
{
	make_image(odd, ODD);
	uint64_t before = checksum(odd);
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "%s,snapshot", odd);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK_EQ(d.size, ODD);
	uint32_t x = 12345;
	static uint8_t buf[20000];
	for (int i = 0; i < 400; i++) {
		x = x * 1103515245 + 12345;
		uint64_t n = 1 + (x >> 8) % sizeof(buf), off = (x >> 3) % (ODD - n);
		if (i % 2) { /* what virtio-blk sends: whole sectors */
			off -= off % 512;
			n = n < 512 ? 512 : n - n % 512;
		}
		memset(buf, (int)(i + 1), n);
		CHECK_EQ(put(&d, off, buf, n), 0);
		if (i % 50 == 0) {
			uint64_t z = (x >> 5) % (ODD - 9000);
			CHECK_EQ(disk_write_zeroes(&d, z, 9000, false), 0);
			memset(model + z, 0, 9000);
		}
	}
	uint8_t last[512];
	memset(last, 0x77, sizeof(last));
	CHECK_EQ(put(&d, ODD - 512, last, 512), 0); /* the short last block */
	CHECK_EQ(get_all(&d, ODD), 0);
	CHECK(!memcmp(got, model, ODD));
	disk_close(&d);
	CHECK(checksum(odd) == before);
}

static void partial_block_merges_with_image(void)
{
	make_image(img, SIZE);
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "%s,snapshot", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	uint8_t w[512], r[3 * 4096];
	memset(w, 0xa5, sizeof(w));
	struct iovec v = { w, sizeof(w) };
	CHECK_EQ(disk_writev(&d, &v, 1, 4096 + 512), 0);
	v.iov_len = 3; /* not even a sector */
	CHECK_EQ(disk_writev(&d, &v, 1, 2 * 4096 + 4093), 0); /* across a block end */
	struct iovec rv = { r, sizeof(r) };
	CHECK_EQ(disk_readv(&d, &rv, 1, 4096), 0);
	for (unsigned i = 0; i < sizeof(r); i++) {
		uint64_t o = 4096 + i;
		bool written = (o >= 4096 + 512 && o < 4096 + 1024) || (o >= 2 * 4096 + 4093 && o < 2 * 4096 + 4096);
		CHECK_EQ(r[i], written ? 0xa5 : pattern(o));
	}
	disk_close(&d);
}

static void image_is_opened_read_only(void)
{
	make_image(img, SIZE);
	uint64_t before = checksum(img);
	CHECK_EQ(chmod(img, 0444), 0);
	struct disk d;
	char why[256], spec[256];
	disk_snapshot_all = true; /* --snapshot: no ,snapshot needed */
	int r = disk_open(&d, img, why, sizeof(why));
	disk_snapshot_all = false;
	CHECK_EQ(r, 0);
	CHECK(d.snap && !d.ro);
	CHECK_EQ(fcntl(d.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	uint8_t w[4096];
	memset(w, 1, sizeof(w));
	struct iovec v = { w, sizeof(w) };
	CHECK_EQ(disk_writev(&d, &v, 1, 0), 0);
	disk_close(&d);
	CHECK(checksum(img) == before);
	CHECK_EQ(chmod(img, 0644), 0);
	/* ,snapshot,ro: read-only for the guest, no layer */
	snprintf(spec, sizeof(spec), "%s,snapshot,ro", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK(d.ro && !d.snap);
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, 0) < 0 && errno == EROFS);
	disk_close(&d);
	/* past the end is refused, as without a snapshot */
	snprintf(spec, sizeof(spec), "%s,snapshot", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, SIZE - 512) < 0 && errno == EINVAL);
	disk_close(&d);
}

static void layer_that_cannot_be_made_is_said(void)
{
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "%s,snapshot", img);
	setenv("TMPDIR", "/nonexistent-hal-dir", 1);
	int r = disk_open(&d, spec, why, sizeof(why));
	unsetenv("TMPDIR");
	CHECK(r < 0);
	CHECK(strstr(why, "snapshot layer in /nonexistent-hal-dir"));
	CHECK_EQ(d.fd, -1);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hal-snap-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(odd, sizeof(odd), "%s/odd.img", dir);
	RUN(image_stays_identical);
	RUN(random_writes_read_back);
	RUN(partial_block_merges_with_image);
	RUN(image_is_opened_read_only);
	RUN(layer_that_cannot_be_made_is_said);
	unlink(img);
	unlink(odd);
	rmdir(dir);
	return 0;
}
