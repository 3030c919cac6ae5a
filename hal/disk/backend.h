/* What the disk back ends (raw.c, snapshot.c, nbd.c) share; the front
 * ends use disk.h only. */
#ifndef DISK_BACKEND_H
#define DISK_BACKEND_H
#include "disk/disk.h"

/* All of iov[0..n) from or to fd at off (preadv/pwritev, continued when
 * the host does part): 0, or -1 with errno (EIO: the file ended early). */
int disk_fd_xfer(int fd, const struct iovec *iov, unsigned n, uint64_t off, bool wr);

/* v[*first..n) moved past its next k bytes (k at most what is left), and
 * past buffers left empty: *first is then n when all of it is done. */
void disk_iov_advance(struct iovec *v, unsigned n, unsigned *first, size_t k);

/* The image underneath a snapshot: the file or the NBD export, as if the
 * disk had no snapshot. */
int disk_base_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);

/* snapshot.c: the layer over d's image, d->size set. 0 or -1 with errno. */
int snap_open(struct disk *d);
void snap_close(struct disk *d);
int snap_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
int snap_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
int snap_write_zeroes(struct disk *d, uint64_t off, uint64_t len);

/* nbd.c (disk_is_nbd is in disk.h). nbd_open: the URI d->path connected
 * and negotiated (d->size, and d->ro when the export is read-only and d
 * has no snapshot). nbd_attach: the same on a connected socket fd, which d
 * owns afterwards (tests, fuzzing). 0, or -1 with why. */
int nbd_open(struct disk *d, char *why, size_t whylen);
int nbd_attach(struct disk *d, int fd, const char *export, char *why, size_t whylen);
void nbd_close(struct disk *d);
int nbd_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
int nbd_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
int nbd_flush(struct disk *d);
int nbd_trim(struct disk *d, uint64_t off, uint64_t len);
int nbd_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap);
/* disk_queue and friends on an NBD disk, after raw.c's checks */
bool nbd_can_queue(const struct disk *d, bool wr, const struct iovec *iov, unsigned n);
int nbd_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag);
int nbd_reap(struct disk *d, unsigned *tag);
bool nbd_reap_ready(struct disk *d);
unsigned nbd_queued(const struct disk *d);

/* uring.c: a file's queue on an io_uring restricted to READV/WRITEV on
 * d->fd. uring_start: 0, or -1 with errno (no io_uring, or none with
 * restrictions: the caller takes pool.c). disk_uring_off: never (tests). */
extern bool disk_uring_off;
int uring_start(struct disk *d);
void uring_stop(struct disk *d);
int uring_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag);
int uring_reap(struct disk *d, unsigned *tag);
bool uring_ready(struct disk *d);
unsigned uring_queued(const struct disk *d);
int uring_ring_fd(const struct disk *d); /* tests: the ring, or -1 */

/* pool.c: a file's queue, its workers on d->fd (aligned requests only
 * with O_DIRECT: raw.c decides). pool_start: 0, or -1 with why. */
int pool_start(struct disk *d, char *why, size_t whylen);
void pool_stop(struct disk *d);
int pool_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag);
int pool_reap(struct disk *d, unsigned *tag);
bool pool_ready(struct disk *d);
unsigned pool_queued(const struct disk *d);
#endif
