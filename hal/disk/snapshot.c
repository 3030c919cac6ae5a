/* ,snapshot and --snapshot (disk.h): the guest's writes go to a layer, an
 * unlinked file in $TMPDIR (default /tmp) as large as the disk, and a
 * bitmap says which SNAP_BLOCK-byte blocks the layer holds; the others are
 * read from the image, which is open read-only and never written. A write
 * that covers a block in part first copies that block up from the image.
 * The layer is gone when hal exits. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/backend.h"

#define SNAP_BLOCK 4096u

struct disk_snap {
	int fd;         /* the layer */
	uint8_t *map;   /* bit b: block b is in the layer */
};

static bool held(const struct disk_snap *s, uint64_t b) { return s->map[b / 8] >> (b % 8) & 1; }
static void hold(struct disk_snap *s, uint64_t b) { s->map[b / 8] |= (uint8_t)(1u << (b % 8)); }

static int tmpfile_in(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char path[512];
	if (snprintf(path, sizeof(path), "%s/hal-snapshot-XXXXXX", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int snap_open(struct disk *d)
{
	const char *dir = getenv("TMPDIR");
	struct disk_snap *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->map = calloc(d->size / SNAP_BLOCK / 8 + 1, 1);
	s->fd = s->map ? tmpfile_in(dir && *dir ? dir : "/tmp") : -1;
	if (s->fd < 0 || ftruncate(s->fd, (off_t)d->size) < 0) {
		int e = errno;
		if (s->fd >= 0)
			close(s->fd);
		free(s->map);
		free(s);
		errno = e;
		return -1;
	}
	d->snap = s;
	return 0;
}

void snap_close(struct disk *d)
{
	if (!d->snap)
		return;
	close(d->snap->fd);
	free(d->snap->map);
	free(d->snap);
	d->snap = NULL;
}

/* [off, off+len) into p, run by run of blocks held or not. */
static int read_buf(struct disk *d, uint8_t *p, uint64_t len, uint64_t off)
{
	struct disk_snap *s = d->snap;
	while (len) {
		uint64_t b = off / SNAP_BLOCK, end = (b + 1) * SNAP_BLOCK;
		bool in = held(s, b);
		while (end < off + len && held(s, end / SNAP_BLOCK) == in)
			end += SNAP_BLOCK;
		uint64_t n = (end < off + len ? end : off + len) - off;
		struct iovec v = { p, (size_t)n };
		if ((in ? disk_fd_xfer(s->fd, &v, 1, off, false) : disk_base_readv(d, &v, 1, off)) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int snap_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	for (unsigned i = 0; i < n; off += iov[i].iov_len, i++)
		if (read_buf(d, iov[i].iov_base, iov[i].iov_len, off) < 0)
			return -1;
	return 0;
}

/* Block b into the layer from the image, unless it is there already. */
static int copy_up(struct disk *d, uint64_t b)
{
	struct disk_snap *s = d->snap;
	if (held(s, b))
		return 0;
	uint8_t buf[SNAP_BLOCK];
	uint64_t off = b * SNAP_BLOCK, n = d->size - off < SNAP_BLOCK ? d->size - off : SNAP_BLOCK;
	struct iovec v = { buf, (size_t)n };
	if (disk_base_readv(d, &v, 1, off) < 0 || disk_fd_xfer(s->fd, &v, 1, off, true) < 0)
		return -1;
	hold(s, b);
	return 0;
}

/* The blocks [off, off+len) touches in part copied up; then all of them
 * are the layer's once the caller has written. */
static int copy_edges(struct disk *d, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	uint64_t end = off + len;
	if (off % SNAP_BLOCK && copy_up(d, off / SNAP_BLOCK) < 0)
		return -1;
	if (end % SNAP_BLOCK && end != d->size && copy_up(d, end / SNAP_BLOCK) < 0)
		return -1;
	return 0;
}

static void hold_range(struct disk_snap *s, uint64_t off, uint64_t len)
{
	for (uint64_t b = off / SNAP_BLOCK; len && b <= (off + len - 1) / SNAP_BLOCK; b++)
		hold(s, b);
}

int snap_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	struct disk_snap *s = d->snap;
	for (unsigned i = 0; i < n; off += iov[i].iov_len, i++) {
		struct iovec v = iov[i];
		if (copy_edges(d, off, v.iov_len) < 0 || disk_fd_xfer(s->fd, &v, 1, off, true) < 0)
			return -1;
		hold_range(s, off, v.iov_len);
	}
	return 0;
}

int snap_write_zeroes(struct disk *d, uint64_t off, uint64_t len)
{
	struct disk_snap *s = d->snap;
	if (copy_edges(d, off, len) < 0)
		return -1;
	if (len && fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0) {
		static const uint8_t zero[65536];
		for (uint64_t done = 0, k; done < len; done += k) {
			k = len - done < sizeof(zero) ? len - done : sizeof(zero);
			struct iovec z = { (void *)zero, (size_t)k };
			if (disk_fd_xfer(s->fd, &z, 1, off + done, true) < 0)
				return -1;
		}
	}
	hold_range(s, off, len);
	return 0;
}
