/* A raw disk image or a block device on the host (disk.h): preadv/pwritev
 * loops, fdatasync, and discard/write-zeroes through fallocate(2), whose
 * hole punching and zeroing Linux also does for block devices.
 *
 * cache=none: the file or device is opened O_DIRECT, so the guest's data
 * does not sit twice in host RAM (the guest's own cache and ours) and a
 * guest's write reaches the device before it completes (its flush still
 * asks for the device's cache: fdatasync). O_DIRECT wants offsets and
 * lengths in multiples of dio_align and buffers at multiples of dio_mem,
 * found once at open. A request that is aligned, the guest's buffers too,
 * goes straight to the file; any other (the guest's buffers are wherever
 * its RAM is, of any length) goes through the bounce buffer (allocated once
 * at open and reused: no allocation per request), at most DISK_BOUNCE
 * bytes at a time, a write reading first the aligned blocks it covers in
 * part (read-modify-write, for a 4K-native device under 512-byte guest
 * sectors). A file whose size is no multiple of dio_align has a last
 * part O_DIRECT cannot write without growing the file: those bytes go
 * through tail_fd, the same file opened a second time without O_DIRECT
 * (the kernel keeps the two views coherent; a flush syncs the file, both).
 * Nothing past the file's end is ever written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* The options after PATH: ,ro, ,serial=S, ,snapshot, ,cache=none|writeback,
 * ,timeout=SECONDS and ,reconnect=SECONDS; ,if=virtio|ahci is the front
 * end's choice (core/config.c reads it). */
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
		} else if (n == 10 && !strncmp(o + 1, "cache=none", 10)) {
			d->direct = true;
		} else if (n == 15 && !strncmp(o + 1, "cache=writeback", 15)) {
			d->direct = false;
		} else if (n == 11 && !strncmp(o + 1, "aio=threads", 11)) {
			d->aio_threads = true;
		} else if (n == 12 && !strncmp(o + 1, "aio=io_uring", 12)) {
			d->aio_threads = false;
		} else if (n >= 4 && !strncmp(o + 1, "aio=", 4)) {
			snprintf(why, whylen, "--disk %s: unknown aio mode '%.*s' (aio=io_uring or aio=threads)", spec,
				 (int)n - 4, o + 5);
			return -1;
		} else if (n >= 6 && !strncmp(o + 1, "cache=", 6)) {
			snprintf(why, whylen, "--disk %s: unknown cache mode '%.*s' (cache=none or cache=writeback)", spec,
				 (int)n - 6, o + 7);
			return -1;
		} else {
			snprintf(why, whylen, "--disk %s: unknown option '%.*s' (PATH[,ro][,serial=S][,snapshot][,cache=none|writeback][,aio=io_uring|threads][,timeout=SECONDS][,reconnect=SECONDS][,if=virtio|ahci], S up to 20 bytes)",
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

/* The alignment O_DIRECT wants of d's file: a block device's logical
 * block size; what statx says of a file (Linux 6.1+), else 512, or 4096
 * when a 512-byte read is refused. 0, or -1 with why (d still open). */
static int dio_alignment(struct disk *d, const struct stat *st, char *why, size_t whylen)
{
	d->dio_align = d->dio_mem = 512;
	if (S_ISBLK(st->st_mode)) {
		int lbs = 0;
		if (ioctl(d->fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
			d->dio_align = d->dio_mem = (unsigned)lbs;
	} else {
		struct statx sx = { 0 };
		if (syscall(SYS_statx, d->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
		    (sx.stx_mask & STATX_DIOALIGN)) {
			if (!sx.stx_dio_offset_align) { /* the file system says: no O_DIRECT on this file */
				snprintf(why, whylen, "--disk %s: the file system does not do O_DIRECT on this file; drop cache=none",
					 d->path);
				return -1;
			}
			d->dio_align = sx.stx_dio_offset_align;
			d->dio_mem = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
		} else {
			/* an older kernel: try a 512-byte read, then a 4096-byte one */
			static _Alignas(4096) uint8_t probe[4096];
			if (pread(d->fd, probe, 512, 0) < 0 && errno == EINVAL) {
				d->dio_align = d->dio_mem = 4096;
				if (pread(d->fd, probe, 4096, 0) < 0) {
					snprintf(why, whylen, "--disk %s: O_DIRECT reads fail (%s); drop cache=none", d->path,
						 strerror(errno));
					return -1;
				}
			}
		}
	}
	unsigned a = d->dio_align > d->dio_mem ? d->dio_align : d->dio_mem;
	if (a > DISK_DIO_MAX || (d->dio_align & (d->dio_align - 1)) || (d->dio_mem & (d->dio_mem - 1))) {
		snprintf(why, whylen, "--disk %s: O_DIRECT wants %u-byte offsets and %u-byte buffers; hal does powers of two up to %u; drop cache=none",
			 d->path, d->dio_align, d->dio_mem, DISK_DIO_MAX);
		return -1;
	}
	return 0;
}

/* cache=none: the alignment, the bounce buffer and the buffered tail_fd
 * (the same file: checked by device and inode). 0, or -1 with why. */
static int open_direct(struct disk *d, int flags, const struct stat *st, char *why, size_t whylen)
{
	if (dio_alignment(d, st, why, whylen) < 0)
		return -1;
	void *p = NULL;
	errno = posix_memalign(&p, DISK_DIO_MAX, DISK_BOUNCE);
	if (errno) {
		snprintf(why, whylen, "--disk %s: cache=none's bounce buffer: %s", d->path, strerror(errno));
		return -1;
	}
	d->bounce = p;
	struct stat t;
	d->tail_fd = open(d->path, flags);
	if (d->tail_fd < 0 || fstat(d->tail_fd, &t) < 0 || t.st_dev != st->st_dev || t.st_ino != st->st_ino ||
	    t.st_rdev != st->st_rdev) {
		snprintf(why, whylen, "--disk %s: cache=none's second, buffered descriptor: %s", d->path,
			 d->tail_fd < 0 ? strerror(errno) : "another file by that name now");
		return -1;
	}
	return 0;
}

int disk_open(struct disk *d, const char *spec, char *why, size_t whylen)
{
	*d = (struct disk){ .fd = -1, .tail_fd = -1, .sector_size = DISK_SECTOR, .snapshot = disk_snapshot_all,
			     .timeout = 30, .reconnect = 60 };
	if (disk_spec_path(spec, d->path, sizeof(d->path)) < 0 || !d->path[0]) {
		snprintf(why, whylen, "--disk %s: bad path", spec);
		return -1;
	}
	if (parse_options(d, spec, why, whylen) < 0)
		return -1;
	if (disk_is_nbd(d->path) && d->direct) {
		snprintf(why, whylen, "--disk %s: cache=none is for files and block devices; hal keeps no cache of an NBD export (give the server its own, e.g. qemu-nbd --cache=none) and drop cache=none",
			 d->path);
		return -1;
	}
	if (disk_is_nbd(d->path))
		return nbd_open(d, why, whylen) < 0 ? -1 : open_snapshot(d, why, whylen);
	int flags = (d->ro || d->snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	d->fd = open(d->path, flags | (d->direct ? O_DIRECT : 0));
	if (d->fd < 0 && d->direct && errno == EINVAL) {
		snprintf(why, whylen, "--disk %s: the file system refuses O_DIRECT (cache=none); drop cache=none", d->path);
		return -1;
	}
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
	d->host_size = (uint64_t)size;
	d->size = (uint64_t)size - (uint64_t)size % DISK_SECTOR;
	if (d->direct && open_direct(d, flags, &st, why, whylen) < 0) {
		disk_close(d);
		return -1;
	}
	return open_snapshot(d, why, whylen);
}

void disk_close(struct disk *d)
{
	uring_stop(d);
	pool_stop(d);
	snap_close(d);
	nbd_close(d);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->direct) {
		if (d->tail_fd >= 0)
			close(d->tail_fd);
		d->tail_fd = -1;
		free(d->bounce);
		d->bounce = NULL;
	}
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

void disk_iov_advance(struct iovec *v, unsigned n, unsigned *first, size_t k)
{
	unsigned i = *first;
	for (; i < n && (k || !v[i].iov_len); i++) {
		size_t l = k < v[i].iov_len ? k : v[i].iov_len;
		v[i].iov_base = (uint8_t *)v[i].iov_base + l;
		v[i].iov_len -= l;
		k -= l;
		if (v[i].iov_len)
			break;
	}
	*first = i;
}

/* Where a request's bytes are in its iovec: the next buffer and how far into it. */
struct cursor {
	const struct iovec *iov;
	unsigned n;
	size_t skip;
};

/* len bytes between the iovec at c and buf (into buf when in), c moved on. */
static void cursor_copy(struct cursor *c, uint8_t *buf, size_t len, bool in)
{
	while (len && c->n) {
		size_t k = c->iov->iov_len - c->skip;
		if (k > len)
			k = len;
		uint8_t *p = (uint8_t *)c->iov->iov_base + c->skip;
		if (k)
			memcpy(in ? buf : p, in ? p : buf, k);
		buf += k;
		len -= k;
		c->skip += k;
		if (c->skip == c->iov->iov_len) {
			c->iov++;
			c->n--;
			c->skip = 0;
		}
	}
}

/* [off, off+len) of d's file aligned for O_DIRECT: straight to the file. */
static bool dio_ok(const struct disk *d, const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, uint64_t dend)
{
	if (off % d->dio_align || off + len > dend)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (iov[i].iov_len % d->dio_align || (uintptr_t)iov[i].iov_base % d->dio_mem)
			return false;
	return true;
}

/* bounce[0, len) from or to the O_DIRECT fd at off, both aligned. */
static int bounce_io(struct disk *d, size_t at, uint64_t len, uint64_t off, bool wr)
{
	struct iovec v = { d->bounce + at, (size_t)len };
	return disk_fd_xfer(d->fd, &v, 1, off, wr);
}

/* A cache=none request through the bounce buffer: the aligned blocks below
 * dend (the file's last whole dio_align block) a chunk at a time, a write
 * reading the blocks at its edges first; then the bytes past dend through
 * tail_fd. */
static int bounce_xfer(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off, uint64_t len, uint64_t dend,
		       bool wr)
{
	const uint64_t a = d->dio_align, chunk = DISK_BOUNCE / a * a;
	struct cursor c = { iov, n, 0 };
	uint64_t pos = off, end = off + len;
	while (pos < end && pos < dend) {
		uint64_t start = pos / a * a, lim = end;
		if (lim > dend)
			lim = dend;
		if (lim > start + chunk)
			lim = start + chunk;
		uint64_t stop = (lim + a - 1) / a * a; /* <= dend: dend is aligned */
		if (!wr) {
			if (bounce_io(d, 0, stop - start, start, false) < 0)
				return -1;
			cursor_copy(&c, d->bounce + (pos - start), (size_t)(lim - pos), false);
		} else {
			bool head = pos > start, tail = lim < stop;
			if (head && bounce_io(d, 0, a, start, false) < 0)
				return -1;
			if (tail && !(head && stop - a == start) && bounce_io(d, (size_t)(stop - a - start), a, stop - a, false) < 0)
				return -1;
			cursor_copy(&c, d->bounce + (pos - start), (size_t)(lim - pos), true);
			if (bounce_io(d, 0, stop - start, start, true) < 0)
				return -1;
		}
		pos = lim;
	}
	while (pos < end) { /* past the last whole block: buffered, never past the file's end */
		uint64_t k = end - pos < DISK_BOUNCE ? end - pos : DISK_BOUNCE;
		struct iovec v = { d->bounce, (size_t)k };
		if (wr)
			cursor_copy(&c, d->bounce, (size_t)k, true);
		if (disk_fd_xfer(d->tail_fd, &v, 1, pos, wr) < 0)
			return -1;
		if (!wr)
			cursor_copy(&c, d->bounce, (size_t)k, false);
		pos += k;
	}
	return 0;
}

/* iov[0..n) from or to d's file at off, within d->size. */
static int file_xfer(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off, bool wr)
{
	if (!d->direct)
		return disk_fd_xfer(d->fd, iov, n, off, wr);
	uint64_t len, dend = d->host_size / d->dio_align * d->dio_align;
	if (!iov_len(iov, n, &len))
		return -1;
	if (dio_ok(d, iov, n, off, len, dend))
		return disk_fd_xfer(d->fd, iov, n, off, wr);
	return bounce_xfer(d, iov, n, off, len, dend, wr);
}

int disk_base_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	if (d->nbd)
		return nbd_readv(d, iov, n, off);
	return file_xfer(d, iov, n, off, false);
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
	return d->nbd ? nbd_writev(d, iov, n, off) : file_xfer(d, iov, n, off, true);
}

/* ---- requests in flight together (disk.h) ---------------------------------------- */

int disk_start_queue(struct disk *d, char *why, size_t whylen)
{
	if (d->uring || d->pool || d->nbd || d->snap || d->fd < 0)
		return 0; /* queues already, on NBD's own, or never */
	if (d->aio_threads) {
		dbg("--disk %s: aio=threads: requests in flight on %d worker threads", d->path, DISK_THREADS);
	} else if (uring_start(d) == 0) {
		dbg("--disk %s: requests in flight on an io_uring", d->path);
		return 0;
	} else {
		dbg("--disk %s: no io_uring with restrictions (%s): requests in flight on %d worker threads", d->path,
		    strerror(errno), DISK_THREADS);
	}
	return pool_start(d, why, whylen);
}

bool disk_can_queue(const struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off)
{
	uint64_t len;
	if (d->snap || !n || n > DISK_SEGS || !iov_len(iov, n, &len) || len > (1u << 20))
		return false;
	if (d->nbd)
		return nbd_can_queue(d, wr, iov, n);
	if (!(d->uring || d->pool) || disk_queued(d) == DISK_QUEUE)
		return false;
	/* cache=none: the workers share no bounce buffer, so only what goes straight to the file */
	return !d->direct || dio_ok(d, iov, n, off, len, d->host_size / d->dio_align * d->dio_align);
}

int disk_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag)
{
	uint64_t len;
	if (!iov_len(iov, n, &len) || (wr && !writable(d)) || !inside(d, off, len))
		return -1;
	if (!disk_can_queue(d, wr, iov, n, off)) {
		errno = EINVAL;
		return -1;
	}
	return d->nbd	  ? nbd_queue(d, wr, iov, n, off, tag)
	       : d->uring ? uring_queue(d, wr, iov, n, off, tag)
			  : pool_queue(d, wr, iov, n, off, tag);
}

int disk_reap(struct disk *d, unsigned *tag)
{
	return d->nbd ? nbd_reap(d, tag) : d->uring ? uring_reap(d, tag) : pool_reap(d, tag);
}

bool disk_reap_ready(struct disk *d)
{
	return d->nbd ? nbd_reap_ready(d) : d->uring ? uring_ready(d) : pool_ready(d);
}

unsigned disk_queued(const struct disk *d)
{
	return d->nbd ? nbd_queued(d) : d->uring ? uring_queued(d) : pool_queued(d);
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
	if (!len) /* nothing to free (fallocate would say EINVAL) */
		return 0;
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
		if (file_xfer(d, &z, 1, off + done, true) < 0)
			return -1;
	}
	return 0;
}
