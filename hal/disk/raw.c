/* A raw disk image or a block device on the host (disk.h): preadv/pwritev
 * loops, fdatasync, and discard/write-zeroes through fallocate(2), whose
 * hole punching and zeroing Linux also does for block devices. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hal.h"
#include "disk/backend.h"

bool disk_snapshot_all;

int disk_spec_path(const char *spec, char *buf, size_t n)
{
	size_t len = strcspn(spec, ",");
	if (len >= n) {
		if (n)
			buf[0] = 0;
		return -1;
	}
	memcpy(buf, spec, len);
	buf[len] = 0;
	return 0;
}

/* The options after PATH: ,ro, ,serial=S, ,snapshot, ,timeout=SECONDS and
 * ,reconnect=SECONDS; ,if=virtio|ahci is the front end's choice
 * (core/config.c reads it). */
static int parse_options(struct disk *d, const char *spec, char *why, size_t whylen)
{
	for (const char *o = strchr(spec, ','); o; o = strchr(o + 1, ',')) {
		const char *end = strchr(o + 1, ',');
		size_t n = end ? (size_t)(end - o - 1) : strlen(o + 1);
		if (n == 2 && !strncmp(o + 1, "ro", 2)) {
			d->ro = true;
		} else if (n > 7 && n - 7 <= DISK_SERIAL_MAX && !strncmp(o + 1, "serial=", 7)) {
			memset(d->serial, 0, sizeof(d->serial));
			memcpy(d->serial, o + 8, n - 7);
		} else if (n == 8 && !strncmp(o + 1, "snapshot", 8)) {
			d->snapshot = true;
		} else if ((n == 9 && !strncmp(o + 1, "if=virtio", 9)) || (n == 7 && !strncmp(o + 1, "if=ahci", 7))) {
			/* the front end: not the disk's business */
		} else if (n > 8 && n < 14 && !strncmp(o + 1, "timeout=", 8) && strspn(o + 9, "0123456789") == n - 8) {
			d->timeout = (unsigned)atoi(o + 9);
		} else if (n > 10 && n < 16 && !strncmp(o + 1, "reconnect=", 10) &&
			   strspn(o + 11, "0123456789") == n - 10) {
			d->reconnect = (unsigned)atoi(o + 11);
		} else {
			snprintf(why, whylen, "--disk %s: unknown option '%.*s' (PATH[,ro][,serial=S][,snapshot][,timeout=SECONDS][,reconnect=SECONDS][,if=virtio|ahci], S up to 20 bytes)",
				 spec, (int)n, o + 1);
			return -1;
		}
	}
	return 0;
}

/* ,snapshot on a disk the guest may write: the layer over the image. */
static int open_snapshot(struct disk *d, char *why, size_t whylen)
{
	if (!d->snapshot || d->ro || snap_open(d) == 0)
		return 0;
	const char *dir = getenv("TMPDIR");
	snprintf(why, whylen, "--disk %s: snapshot layer in %s: %s", d->path, dir && *dir ? dir : "/tmp",
		 strerror(errno));
	disk_close(d);
	return -1;
}

int disk_open(struct disk *d, const char *spec, char *why, size_t whylen)
{
	*d = (struct disk){ .fd = -1, .sector_size = DISK_SECTOR, .snapshot = disk_snapshot_all, .timeout = 30,
			     .reconnect = 60 };
	if (disk_spec_path(spec, d->path, sizeof(d->path)) < 0 || !d->path[0]) {
		snprintf(why, whylen, "--disk %s: bad path", spec);
		return -1;
	}
	if (parse_options(d, spec, why, whylen) < 0)
		return -1;
	if (disk_is_nbd(d->path))
		return nbd_open(d, why, whylen) < 0 ? -1 : open_snapshot(d, why, whylen);
	d->fd = open(d->path, (d->ro || d->snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->fd < 0) {
		snprintf(why, whylen, "--disk %s: %s", d->path, strerror(errno));
		return -1;
	}
	struct stat st;
	off_t size = lseek(d->fd, 0, SEEK_END);
	if (fstat(d->fd, &st) < 0 || size < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		snprintf(why, whylen, "--disk %s: not a regular file or block device", d->path);
		disk_close(d);
		return -1;
	}
	if (size % DISK_SECTOR)
		warnx("--disk %s: size is not a multiple of 512; the last %d bytes are not visible", d->path,
		      (int)(size % DISK_SECTOR));
	d->size = (uint64_t)size - (uint64_t)size % DISK_SECTOR;
	return open_snapshot(d, why, whylen);
}

void disk_close(struct disk *d)
{
	snap_close(d);
	nbd_close(d);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

/* [off, off+len) lies inside the disk; else errno EINVAL. */
static bool inside(const struct disk *d, uint64_t off, uint64_t len)
{
	if (off <= d->size && len <= d->size - off)
		return true;
	errno = EINVAL;
	return false;
}

static bool writable(const struct disk *d)
{
	if (!d->ro)
		return true;
	errno = EROFS;
	return false;
}

/* iov's total length in *len; false (errno EINVAL) when it overflows. */
static bool iov_len(const struct iovec *iov, unsigned n, uint64_t *len)
{
	*len = 0;
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > UINT64_MAX - *len) {
			errno = EINVAL;
			return false;
		}
		*len += iov[i].iov_len;
	}
	return true;
}

int disk_fd_xfer(int fd, const struct iovec *iov, unsigned n, uint64_t off, bool wr)
{
	size_t skip = 0; /* bytes of iov[0] already done */
	for (;;) {
		while (n && skip >= iov->iov_len) {
			skip -= iov->iov_len;
			iov++;
			n--;
		}
		if (!n)
			return 0;
		ssize_t r;
		if (skip) { /* the rest of a buffer the host did in part */
			uint8_t *p = (uint8_t *)iov->iov_base + skip;
			size_t l = iov->iov_len - skip;
			r = wr ? pwrite(fd, p, l, (off_t)off) : pread(fd, p, l, (off_t)off);
		} else {
			int k = n < IOV_MAX ? (int)n : IOV_MAX;
			r = wr ? pwritev(fd, iov, k, (off_t)off) : preadv(fd, iov, k, (off_t)off);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		off += (uint64_t)r;
		skip += (size_t)r;
	}
}

int disk_base_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	if (d->nbd)
		return nbd_readv(d, iov, n, off);
	return disk_fd_xfer(d->fd, iov, n, off, false);
}

int disk_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	uint64_t len;
	if (!iov_len(iov, n, &len) || !inside(d, off, len))
		return -1;
	return d->snap ? snap_readv(d, iov, n, off) : disk_base_readv(d, iov, n, off);
}

int disk_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	uint64_t len;
	if (!iov_len(iov, n, &len) || !writable(d) || !inside(d, off, len))
		return -1;
	if (d->snap)
		return snap_writev(d, iov, n, off);
	return d->nbd ? nbd_writev(d, iov, n, off) : disk_fd_xfer(d->fd, iov, n, off, true);
}

int disk_flush(struct disk *d)
{
	if (d->ro || d->snap)
		return 0;
	return d->nbd ? nbd_flush(d) : fdatasync(d->fd);
}

int disk_discard(struct disk *d, uint64_t off, uint64_t len)
{
	if (!writable(d) || !inside(d, off, len))
		return -1;
	if (d->snap)
		return snap_write_zeroes(d, off, len);
	if (d->nbd)
		return nbd_trim(d, off, len);
	return fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
}

int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap)
{
	if (!writable(d) || !inside(d, off, len))
		return -1;
	if (d->snap)
		return snap_write_zeroes(d, off, len);
	if (d->nbd)
		return nbd_write_zeroes(d, off, len, unmap);
	if (unmap && fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	static const uint8_t zero[65536];
	for (uint64_t done = 0, n; done < len; done += n) {
		n = len - done < sizeof(zero) ? len - done : sizeof(zero);
		struct iovec z = { (void *)zero, n };
		if (disk_fd_xfer(d->fd, &z, 1, off + done, true) < 0)
			return -1;
	}
	return 0;
}
