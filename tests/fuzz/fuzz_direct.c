/* --disk PATH,cache=none (disk/raw.c's O_DIRECT path, and snapshot.c over
 * it): reads, writes, write-zeroes and discards at any offset and length
 * through any number of guest buffers at any alignment, each buffer a
 * malloc of exactly its length (an access past it is an ASan error),
 * checked against a model of the disk: a read that returns other bytes, a
 * request past the end that does not fail, or a file that changed size or
 * (under ,snapshot) bytes aborts. The image is a file in $TMPDIR (default
 * /tmp, else /var/tmp: O_DIRECT needs a file system that takes it, an old
 * tmpfs or a memfd will not do; with none the target says so and does
 * nothing) of 16 KiB
 * + 1536 bytes of sectors and 100 bytes no sector holds, so a forced
 * 4096-byte alignment leaves a partial last block (the buffered tail
 * descriptor). The first byte: bit 0 forces dio_align 4096 (a 4K-native
 * device, read-modify-write), bit 1 the ,snapshot disk. Then operations: a
 * control byte (bits 0-1 read, write, write-zeroes, discard; bit 2 whole
 * sectors; bits 3-5 buffers - 1), 3 bytes of offset, 2 of length, per
 * buffer 2 bytes of length share and 1 of misalignment; a write's data is
 * the next input bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "disk/backend.h"

#define FZ_SIZE (16384 + 1536 + 100)

static struct disk disks[2]; /* cache=none; cache=none,snapshot */
static int plain = -1;       /* the image, buffered: resets and checks */
static uint8_t model[FZ_SIZE], image[FZ_SIZE];
static bool image_dirty = true;
static unsigned native[2];

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 29 + (i >> 8) + 1); }

static bool off_line; /* no directory here takes O_DIRECT: nothing to fuzz */

/* The image in dir, both disks open on it: true, or false and nothing left. */
static bool init_in(const char *dir)
{
	char path[256], why[512], spec[300];
	snprintf(path, sizeof(path), "%s/hal-fuzz-direct-XXXXXX", dir);
	plain = mkostemp(path, O_CLOEXEC);
	if (plain < 0 || pwrite(plain, image, FZ_SIZE, 0) != FZ_SIZE)
		abort();
	for (int i = 0; i < 2; i++) {
		snprintf(spec, sizeof(spec), "%s,cache=none%s", path, i ? ",snapshot" : "");
		if (disk_open(&disks[i], spec, why, sizeof(why)) < 0) {
			fprintf(stderr, "fuzz_direct: %s\n", why);
			if (i)
				disk_close(&disks[0]);
			close(plain);
			plain = -1;
			unlink(path);
			return false;
		}
		native[i] = disks[i].dio_align;
	}
	unlink(path); /* both disks and plain hold it open */
	return true;
}

/* $TMPDIR, else /tmp; /var/tmp when that is a tmpfs that refuses O_DIRECT. */
static void init(void)
{
	const char *t = getenv("TMPDIR");
	for (uint64_t i = 0; i < FZ_SIZE; i++)
		image[i] = pattern(i);
	if (!init_in(t && *t ? t : "/tmp") && !init_in("/var/tmp")) {
		fprintf(stderr, "fuzz_direct: no file system for an O_DIRECT image; nothing fuzzed\n");
		off_line = true;
	}
}

static bool size_kept(void)
{
	struct stat st;
	return fstat(plain, &st) == 0 && st.st_size == FZ_SIZE;
}

/* One request: its buffers malloc'd, a write's bytes from the input. */
static void request(struct disk *d, struct fz *f)
{
	uint8_t c = (uint8_t)fz_u(f, 1);
	unsigned op = c & 3, n = 1 + (c >> 3 & 7);
	uint64_t off = fz_u(f, 3) % (FZ_SIZE + 1024), len = fz_u(f, 2);
	if (c & 4) {
		off -= off % DISK_SECTOR;
		len -= len % DISK_SECTOR;
	}
	struct iovec v[8];
	uint8_t *blk[8];
	uint64_t left = len;
	for (unsigned i = 0; i < n; i++) {
		uint64_t share = fz_u(f, 2), k = i == n - 1 ? left : (left * share) >> 16;
		unsigned mis = (unsigned)fz_u(f, 1);
		blk[i] = malloc(k + mis + 1);
		v[i] = (struct iovec){ blk[i] + mis, (size_t)k };
		left -= k;
	}
	bool inside = off <= d->size && len <= d->size - off;
	int r = 0;
	if (op == 0) {
		r = disk_readv(d, v, n, off);
		for (unsigned i = 0, at = 0; r == 0 && i < n; at += (unsigned)v[i].iov_len, i++)
			if (memcmp(v[i].iov_base, model + off + at, v[i].iov_len))
				abort(); /* the guest got bytes the disk does not hold */
	} else if (op == 1) {
		for (unsigned i = 0; i < n; i++) {
			size_t got = fz_bytes(f, v[i].iov_base, v[i].iov_len);
			memset((uint8_t *)v[i].iov_base + got, 0xa5, v[i].iov_len - got);
		}
		r = disk_writev(d, v, n, off);
		for (unsigned i = 0, at = 0; r == 0 && i < n; at += (unsigned)v[i].iov_len, i++)
			memcpy(model + off + at, v[i].iov_base, v[i].iov_len);
	} else {
		r = op == 2 ? disk_write_zeroes(d, off, len, c & 0x40) : disk_discard(d, off, len);
		if (r == 0)
			memset(model + off, 0, (size_t)len);
		else if (op == 3 && errno == EOPNOTSUPP && inside)
			r = 0; /* a hint the host may not take: nothing changed */
	}
	if (op && !d->snap && r == 0)
		image_dirty = true;
	for (unsigned i = 0; i < n; i++)
		free(blk[i]);
	if ((r == 0) != inside || (r < 0 && !inside && errno != EINVAL))
		abort(); /* past the end must fail, EINVAL; inside must work */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (plain < 0 && !off_line)
		init();
	if (off_line)
		return 0;
	struct fz f = { data, size };
	uint8_t first = (uint8_t)fz_u(&f, 1);
	int which = first >> 1 & 1;
	struct disk *d = &disks[which];
	d->dio_align = first & 1 ? 4096 : native[which];
	if (image_dirty) { /* the image as it was (buffered; O_DIRECT reads see it) */
		if (pwrite(plain, image, FZ_SIZE, 0) != FZ_SIZE)
			abort();
		image_dirty = false;
	}
	if (d->snap) { /* a fresh layer */
		snap_close(d);
		if (snap_open(d) < 0)
			abort();
	}
	memcpy(model, image, FZ_SIZE);
	for (int i = 0; i < 16 && fz_more(&f); i++)
		request(d, &f);
	/* the whole disk read back at an odd address is the model; the file
	 * kept its size, and under ,snapshot its bytes */
	uint8_t *all = malloc(d->size + 1);
	struct iovec v = { all + 1, (size_t)d->size };
	if (disk_readv(d, &v, 1, 0) < 0 || memcmp(all + 1, model, d->size) || !size_kept())
		abort();
	free(all);
	if (d->snap) {
		static uint8_t now[FZ_SIZE];
		if (pread(plain, now, FZ_SIZE, 0) != FZ_SIZE || memcmp(now, image, FZ_SIZE))
			abort();
	} else if (image_dirty) {
		static uint8_t now[FZ_SIZE];
		if (pread(plain, now, FZ_SIZE, 0) != FZ_SIZE || memcmp(now, model, d->size) ||
		    memcmp(now + d->size, image + d->size, FZ_SIZE - d->size))
			abort(); /* a buffered reader sees what the guest wrote, and the last 100 bytes */
	}
	return 0;
}
