/* --disk PATH,cache=none (hal/disk/raw.c): the image opened O_DIRECT. What
 * a user sees: the guest's bytes are the ones a buffered reader of the file
 * sees, wherever the guest's buffers are and however they are split; the
 * file never changes size; the host's page cache does not fill up with the
 * guest's data; a device whose blocks are bigger than the guest's 512-byte
 * sectors (forced here: dio_align = 4096) keeps the bytes around a small
 * write; ,snapshot over it reads the image; bad specs are refused with what
 * to do. As root, a loop device with 4096-byte logical blocks is a real
 * 4K-native disk (said SKIP without root or loop devices). The file is in /tmp (a real file system, ext4 on the build
 * machine); the test says SKIP only when that file system refuses O_DIRECT
 * at open. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "disk/disk.h"

#define SIZE (3u << 20)
#define ODD (SIZE + 1024 + 100) /* a last 4 KiB block in part, and 100 bytes no sector holds */

static char dir[64], img[128];
static uint8_t model[ODD], got[ODD];

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 11 + (i >> 9)); }

static void make_image(uint64_t size)
{
	for (uint64_t i = 0; i < size; i++)
		model[i] = pattern(i);
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, model, size) != (ssize_t)size || fsync(fd) < 0) {
		printf("cannot make %s\n", img);
		exit(1);
	}
	close(fd);
}

/* The whole file as a buffered reader sees it: its size, or -1. */
static long host_file(uint8_t *buf, size_t n)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size > n || pread(fd, buf, n, 0) != st.st_size) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return (long)st.st_size;
}

static int open_spec(struct disk *d, const char *opts)
{
	char spec[256], why[512];
	snprintf(spec, sizeof(spec), "%s%s", img, opts);
	int r = disk_open(d, spec, why, sizeof(why));
	if (r < 0)
		printf("  %s\n", why);
	return r;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

/* len bytes at off through buffers at odd addresses, split at random
 * lengths (the guest's RAM is wherever it is); writes update the model,
 * reads are compared with it. 0, or -1: the disk failed or the bytes were
 * not the model's. */
static int odd_io(struct disk *d, uint64_t off, size_t len, bool wr)
{
	static uint8_t arena[(2u << 20) + 4096];
	struct iovec v[8];
	unsigned n = 0;
	uint8_t *p = arena + 1 + rnd(511); /* never 512-aligned */
	size_t left = len;
	while (left && n < 8) {
		size_t k = n == 7 ? left : 1 + rnd(left);
		v[n++] = (struct iovec){ p, k };
		p += k + rnd(3);
		left -= k;
	}
	if (wr) {
		for (unsigned i = 0, at = 0; i < n; at += (unsigned)v[i].iov_len, i++)
			for (size_t j = 0; j < v[i].iov_len; j++)
				((uint8_t *)v[i].iov_base)[j] = model[off + at + j] = (uint8_t)rnd(256);
		return disk_writev(d, v, n, off);
	}
	if (disk_readv(d, v, n, off) < 0)
		return -1;
	for (unsigned i = 0, at = 0; i < n; at += (unsigned)v[i].iov_len, i++)
		if (memcmp(v[i].iov_base, model + off + at, v[i].iov_len))
			return -1;
	return 0;
}

static void opens_with_o_direct(void)
{
	struct disk d;
	make_image(SIZE);
	CHECK_EQ(open_spec(&d, ",cache=none"), 0);
	CHECK(d.direct);
	CHECK(fcntl(d.fd, F_GETFL) & O_DIRECT);
	CHECK(d.dio_align >= 1 && !(d.dio_align & (d.dio_align - 1)) && d.dio_align <= DISK_DIO_MAX);
	CHECK_EQ(d.size, SIZE);
	disk_close(&d);
	CHECK_EQ(open_spec(&d, ",cache=writeback"), 0); /* today's behaviour, said out loud */
	CHECK(!d.direct && !(fcntl(d.fd, F_GETFL) & O_DIRECT));
	disk_close(&d);
	CHECK_EQ(open_spec(&d, ",cache=none,ro"), 0);
	CHECK(d.direct && d.ro && (fcntl(d.fd, F_GETFL) & O_DIRECT));
	disk_close(&d);
	CHECK_EQ(d.fd, -1);
	CHECK_EQ(d.tail_fd, -1);
}

static void bad_cache_specs_are_refused(void)
{
	struct disk d;
	char why[512], spec[256];
	snprintf(spec, sizeof(spec), "%s,cache=unsafe", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown cache mode 'unsafe'") && strstr(why, "cache=none or cache=writeback"));
	snprintf(spec, sizeof(spec), "%s,cache=", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown cache mode ''"));
	CHECK(disk_open(&d, "nbd://127.0.0.1:1/x,cache=none", why, sizeof(why)) < 0);
	CHECK(strstr(why, "--disk nbd://127.0.0.1:1/x: cache=none is for files and block devices") &&
	      strstr(why, "drop cache=none"));
	CHECK(disk_open(&d, "nbd+unix:///x?socket=/nonexistent,snapshot,cache=none", why, sizeof(why)) < 0);
	CHECK(strstr(why, "cache=none is for files and block devices"));
	CHECK_EQ(d.fd, -1);
}

/* Random reads and writes, 512-byte offsets and lengths (the guest's
 * sectors) and byte-sized ones, through odd buffers: every read is the
 * model, the file afterwards is the model, its size unchanged. */
static void unaligned_guest_buffers_see_the_files_bytes(unsigned align)
{
	struct disk d;
	make_image(ODD);
	CHECK_EQ(open_spec(&d, ",cache=none"), 0);
	if (align)
		d.dio_align = align;
	CHECK_EQ(d.size, SIZE + 1024);
	for (int i = 0; i < 600; i++) {
		bool sectors = i % 3 != 0, wr = rnd(2);
		uint64_t len = sectors ? 512 * (1 + rnd(i % 10 ? 24 : 3000)) : 1 + rnd(9000);
		if (len > d.size)
			len = d.size;
		uint64_t off = rnd(d.size - len + 1);
		if (sectors)
			off -= off % 512;
		if (i % 50 == 7) /* the last bytes, past the last whole 4 KiB block */
			off = d.size - len;
		CHECK_EQ(odd_io(&d, off, (size_t)len, wr), 0);
	}
	/* aligned requests (the fast path) read the same model */
	static _Alignas(4096) uint8_t blk[65536];
	struct iovec v = { blk, sizeof(blk) };
	CHECK_EQ(disk_readv(&d, &v, 1, 65536), 0);
	CHECK(!memcmp(blk, model + 65536, sizeof(blk)));
	memset(blk, 0x5a, sizeof(blk));
	memset(model + 131072, 0x5a, sizeof(blk));
	CHECK_EQ(disk_writev(&d, &v, 1, 131072), 0);
	CHECK_EQ(disk_flush(&d), 0);
	disk_close(&d);
	CHECK_EQ(host_file(got, sizeof(got)), ODD);
	CHECK(!memcmp(got, model, ODD)); /* the 100 bytes no sector holds too */
}

static void unaligned_at_the_files_alignment(void) { unaligned_guest_buffers_see_the_files_bytes(0); }
static void unaligned_at_4096(void) { unaligned_guest_buffers_see_the_files_bytes(4096); }

/* A 4K-native device under 512-byte sectors: a one-sector write in the
 * middle of a block reads the block, changes 512 bytes, writes it back;
 * the 3584 bytes around it stay. A write into the last, partial block
 * (through the buffered descriptor) does not grow the file. One request
 * larger than the bounce buffer, unaligned, goes in chunks. */
static void read_modify_write_keeps_neighbours(void)
{
	struct disk d;
	make_image(ODD);
	CHECK_EQ(open_spec(&d, ",cache=none"), 0);
	d.dio_align = 4096;
	uint8_t s[512];
	memset(s, 0xc3, sizeof(s));
	struct iovec v = { s, sizeof(s) };
	CHECK_EQ(disk_writev(&d, &v, 1, 5 * 4096 + 1024), 0);
	memset(model + 5 * 4096 + 1024, 0xc3, 512);
	CHECK_EQ(disk_writev(&d, &v, 1, SIZE + 512), 0); /* the 1024 bytes past the last whole block */
	memset(model + SIZE + 512, 0xc3, 512);
	v.iov_len = 100;
	CHECK_EQ(disk_writev(&d, &v, 1, 7 * 4096 - 50), 0); /* across a block boundary */
	memset(model + 7 * 4096 - 50, 0xc3, 100);
	CHECK_EQ(disk_writev(&d, &v, 1, SIZE + 300), 0); /* inside the partial block, not to its end */
	memset(model + SIZE + 300, 0xc3, 100);
	uint8_t t[37];
	struct iovec tv = { t, sizeof(t) };
	CHECK_EQ(disk_readv(&d, &tv, 1, SIZE + 290), 0);
	CHECK(!memcmp(t, model + SIZE + 290, sizeof(t)));
	static uint8_t big[DISK_BOUNCE + 700000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 3 + 1);
	struct iovec b[2] = { { big + 1, 123457 }, { big + 123459, sizeof(big) - 123459 } };
	uint64_t boff = 9 * 4096 + 1536, blen = b[0].iov_len + b[1].iov_len;
	CHECK_EQ(disk_writev(&d, b, 2, boff), 0);
	memcpy(model + boff, big + 1, b[0].iov_len);
	memcpy(model + boff + b[0].iov_len, big + 123459, b[1].iov_len);
	CHECK_EQ(disk_flush(&d), 0);
	CHECK_EQ(host_file(got, sizeof(got)), ODD);
	CHECK(!memcmp(got + 5 * 4096, model + 5 * 4096, 4096)); /* the block around the sector */
	CHECK(!memcmp(got + 7 * 4096 - 4096, model + 7 * 4096 - 4096, 8192));
	CHECK(!memcmp(got + boff - 4096, model + boff - 4096, blen + 8192));
	CHECK(!memcmp(got + SIZE, model + SIZE, 1124));
	CHECK(!memcmp(got, model, ODD));
	/* and read back through the disk, in other pieces */
	memset(big, 0, sizeof(big));
	struct iovec r[2] = { { big + 1, 999999 }, { big + 1000001, blen - 999999 } };
	CHECK_EQ(disk_readv(&d, r, 2, boff), 0);
	CHECK(!memcmp(big + 1, model + boff, 999999) && !memcmp(big + 1000001, model + boff + 999999, blen - 999999));
	/* past the end: refused, nothing written */
	v.iov_len = 512;
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, SIZE + 1024) < 0 && errno == EINVAL);
	disk_close(&d);
	struct stat st;
	CHECK(stat(img, &st) == 0 && st.st_size == ODD);
}

/* Write-zeroes and discard on an O_DIRECT disk: zeros where asked, the
 * bytes around them kept, the file's size kept. */
static void zeroes_and_discard(void)
{
	struct disk d;
	make_image(ODD);
	CHECK_EQ(open_spec(&d, ",cache=none"), 0);
	d.dio_align = 4096;
	CHECK_EQ(disk_write_zeroes(&d, 3 * 512, 512, false), 0);
	memset(model + 3 * 512, 0, 512);
	CHECK_EQ(disk_write_zeroes(&d, SIZE, 1024, false), 0);
	memset(model + SIZE, 0, 1024);
	int r = disk_discard(&d, 16 * 4096, 2 * 4096);
	CHECK(r == 0 || errno == EOPNOTSUPP);
	if (r == 0)
		memset(model + 16 * 4096, 0, 2 * 4096);
	struct iovec v = { got + 1, SIZE + 1024 };
	CHECK_EQ(disk_readv(&d, &v, 1, 0), 0);
	CHECK(!memcmp(got + 1, model, SIZE + 1024));
	disk_close(&d);
	CHECK_EQ(host_file(got, sizeof(got)), ODD);
	CHECK(!memcmp(got, model, ODD));
}

/* How many of the file's pages are in the host's page cache. */
static long cached_pages(void)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	long page = sysconf(_SC_PAGESIZE), n = 0;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	static unsigned char vec[ODD / 4096 + 2];
	size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	if (pages > sizeof(vec) || mincore(m, (size_t)st.st_size, vec) < 0)
		n = -1;
	for (size_t i = 0; n >= 0 && i < pages; i++)
		n += vec[i] & 1;
	munmap(m, (size_t)st.st_size);
	return n;
}

static void drop_cache(void)
{
	int fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/* The point of cache=none: a guest reading and writing its whole disk
 * leaves the file's pages out of the host's cache; the same with
 * cache=writeback fills it (so the count can tell). */
static void page_cache_is_bypassed(void)
{
	struct disk d;
	make_image(SIZE);
	drop_cache();
	long before = cached_pages();
	if (before != 0) {
		printf("  the page cache kept %ld pages after POSIX_FADV_DONTNEED; not comparable\n", before);
		CHECK(before >= 0);
	}
	CHECK_EQ(open_spec(&d, ",cache=none"), 0);
	static uint8_t buf[SIZE];
	struct iovec v = { buf + 1, SIZE - 4096 }; /* through the bounce buffer */
	CHECK_EQ(disk_readv(&d, &v, 1, 4096), 0);
	CHECK(!memcmp(buf + 1, model + 4096, SIZE - 4096));
	CHECK_EQ(disk_writev(&d, &v, 1, 4096), 0);
	disk_close(&d);
	if (before == 0)
		CHECK_EQ(cached_pages(), 0);
	CHECK_EQ(open_spec(&d, ""), 0);
	CHECK_EQ(disk_readv(&d, &v, 1, 4096), 0);
	disk_close(&d);
	if (before == 0)
		CHECK(cached_pages() >= (long)(SIZE - 4096) / 4096);
}

/* ,snapshot over a cache=none image: the layer's unwritten blocks are read
 * from the image through O_DIRECT (copy-up included); the image keeps its
 * bytes. */
static void snapshot_reads_the_direct_image(void)
{
	struct disk d;
	make_image(ODD);
	static uint8_t image[ODD];
	memcpy(image, model, ODD);
	CHECK_EQ(open_spec(&d, ",cache=none,snapshot"), 0);
	CHECK(d.direct && d.snap && (fcntl(d.fd, F_GETFL) & O_DIRECT));
	d.dio_align = 4096;
	for (int i = 0; i < 200; i++) {
		uint64_t len = 1 + rnd(20000), off = rnd(d.size - len + 1);
		if (i % 2) { /* whole sectors */
			off -= off % 512;
			len = 512 * (1 + rnd(30));
			if (len > d.size - off)
				len = d.size - off;
		}
		CHECK_EQ(odd_io(&d, off, (size_t)len, rnd(3) == 0), 0);
	}
	struct iovec v = { got + 3, (size_t)d.size };
	CHECK_EQ(disk_readv(&d, &v, 1, 0), 0);
	CHECK(!memcmp(got + 3, model, (size_t)d.size));
	disk_close(&d);
	CHECK_EQ(host_file(got, sizeof(got)), ODD);
	CHECK(!memcmp(got, image, ODD));
}

static char loopdev[64];
static int loop_fd = -1;

/* A loop device over img with 4096-byte logical blocks, detached by the
 * kernel when its last user closes it (this process exiting too): its
 * path in loopdev, or false with why said. */
static bool loop_4k(void)
{
	if (geteuid() != 0) {
		printf("SKIP real_4k_device: not root (a loop device needs it)\n");
		return false;
	}
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int bfd = open(img, O_RDWR | O_CLOEXEC);
	for (int tries = 0; ctl >= 0 && bfd >= 0 && tries < 5; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			break;
		snprintf(loopdev, sizeof(loopdev), "/dev/loop%d", n);
		loop_fd = open(loopdev, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0)
			break;
		struct loop_config cfg = { .fd = (unsigned)bfd, .block_size = 4096 };
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(loop_fd, LOOP_CONFIGURE, &cfg) == 0) {
			close(bfd);
			close(ctl);
			return true;
		}
		int e = errno;
		close(loop_fd);
		loop_fd = -1;
		if (e != EBUSY) /* EBUSY: another process took it first */
			break;
	}
	printf("SKIP real_4k_device: no loop device with 4096-byte blocks (%s%s%s)\n", loopdev[0] ? loopdev : "",
	       loopdev[0] ? ": " : "", strerror(errno));
	if (bfd >= 0)
		close(bfd);
	if (ctl >= 0)
		close(ctl);
	return false;
}

/* A block device whose logical blocks are 4096 bytes: hal takes the size
 * from BLKSSZGET, and 512-byte sectors through odd buffers read and write
 * as the model, the blocks around each write kept. */
static void real_4k_device(void)
{
	static _Alignas(4096) uint8_t blk[4096];
	int lbs = 0;
	CHECK(ioctl(loop_fd, BLKSSZGET, &lbs) == 0 && lbs == 4096);
	int probe = open(loopdev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	CHECK(probe >= 0);
	errno = 0;
	CHECK(pread(probe, blk, 512, 512) < 0 && errno == EINVAL); /* the device wants whole blocks */
	close(probe);
	struct disk d;
	char spec[96], why[512];
	snprintf(spec, sizeof(spec), "%s,cache=none", loopdev);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK(d.direct && d.dio_align == 4096);
	CHECK_EQ(d.size, SIZE);
	for (int i = 0; i < 300; i++) {
		uint64_t len = i % 4 ? 512 * (1 + rnd(40)) : 1 + rnd(5000), off = rnd(d.size - len + 1);
		if (i % 4)
			off -= off % 512;
		CHECK_EQ(odd_io(&d, off, (size_t)len, rnd(2)), 0);
	}
	CHECK_EQ(disk_flush(&d), 0);
	disk_close(&d);
	close(loop_fd); /* the last user: the kernel detaches it */
	loop_fd = -1;
	CHECK_EQ(host_file(got, sizeof(got)), SIZE);
	CHECK(!memcmp(got, model, SIZE));
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/hal-direct-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	make_image(SIZE);
	int fd = open(img, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		printf("SKIP test_direct: the file system of %s refuses O_DIRECT at open\n", dir);
		unlink(img);
		rmdir(dir);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	RUN(opens_with_o_direct);
	RUN(bad_cache_specs_are_refused);
	RUN(unaligned_at_the_files_alignment);
	RUN(unaligned_at_4096);
	RUN(read_modify_write_keeps_neighbours);
	RUN(zeroes_and_discard);
	RUN(page_cache_is_bypassed);
	RUN(snapshot_reads_the_direct_image);
	make_image(SIZE);
	if (loop_4k())
		RUN(real_4k_device);
	unlink(img);
	rmdir(dir);
	return 0;
}
