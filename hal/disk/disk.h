/* The host side of a guest disk (raw.c): a raw image file or a block device
 * named by a `--disk PATH[,ro][,serial=S][,snapshot][,cache=none][,aio=threads]` spec
 * (cache=none: O_DIRECT, the host's page cache bypassed), or an NBD export
 * (`nbd://HOST[:PORT]/EXPORT`, `nbd+unix:///EXPORT?socket=PATH`, nbd.c),
 * read and written at byte offsets; with ,snapshot the guest's writes go
 * to a throw-away copy-on-write layer (snapshot.c). The disk front ends
 * (virtio-blk in hal/virtio/blk.c) speak their protocol and come here for
 * the data. Not locked: one thread at a time uses a disk (virtio-blk's I/O
 * thread); the workers of a file's queue (pool.c) and an NBD disk's
 * connector thread are the disk's own. An open disk stays where it is
 * (those threads hold its address). */
#ifndef DISK_H
#define DISK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_SECTOR 512     /* the sector size the guest sees (disk/label.h agrees) */
#define DISK_SERIAL_MAX 20  /* serial=S: the 20 bytes of ATA IDENTIFY and virtio GET_ID */
#define DISK_QUEUE 16       /* requests in flight at once on a disk that queues */
#define DISK_SEGS 256       /* buffers in one request that queues */
#define DISK_THREADS 4      /* a file's workers for its queue (pool.c) */
#define DISK_BOUNCE (1u << 20) /* cache=none: an unaligned request goes through this much at a time */
#define DISK_DIO_MAX 65536u /* cache=none: the largest alignment taken (the bounce buffer's) */

struct disk_snap; /* snapshot.c */
struct disk_nbd;  /* nbd.c */
struct disk_pool; /* pool.c */
struct disk_uring; /* uring.c */

/* --snapshot: every disk opened afterwards is opened as with ,snapshot. */
extern bool disk_snapshot_all;

struct disk {
	int fd;                 /* -1: not open (an NBD disk's socket is in nbd) */
	char path[256];         /* PATH of the spec */
	char serial[DISK_SERIAL_MAX + 1]; /* serial=S, or "" (the front end has a default) */
	bool ro;                /* ,ro: opened read-only; writes fail with EROFS */
	unsigned sector_size;   /* DISK_SECTOR */
	uint64_t size;          /* bytes, whole sectors: a partial last one is not visible */
	bool snapshot;          /* ,snapshot: the image is opened read-only, writes go to snap */
	unsigned timeout;       /* ,timeout=SECONDS (NBD): a request unanswered this long loses the connection */
	unsigned reconnect;     /* ,reconnect=SECONDS (NBD): how long a request is held for a new one; 0: fails */
	bool direct;            /* ,cache=none: fd is open with O_DIRECT (raw.c, "cache=none") */
	bool aio_threads;       /* ,aio=threads: the queue on worker threads, not an io_uring */
	unsigned dio_align;     /* cache=none: offsets and lengths of fd's I/O in multiples of this;
				   set at open, a test may raise it (a power of two up to DISK_DIO_MAX) */
	unsigned dio_mem;       /* cache=none: buffer addresses in multiples of this */
	int tail_fd;            /* cache=none: the same file without O_DIRECT, for its last
				   bytes past the last whole dio_align block; else -1 */
	uint64_t host_size;     /* the file's own size in bytes (size is it in whole sectors) */
	uint8_t *bounce;        /* cache=none: DISK_BOUNCE bytes aligned to DISK_DIO_MAX */
	struct disk_snap *snap; /* the copy-on-write layer, or NULL */
	struct disk_nbd *nbd;   /* the NBD connection, or NULL: the image is fd */
	struct disk_uring *uring; /* the file's queue (disk_start_queue) on io_uring, or NULL */
	struct disk_pool *pool; /* ...on worker threads (no io_uring), or NULL */
};

/* PATH of a spec "PATH[,options]" into buf[n]: 0, or -1 (buf "") when it
 * does not fit. The one place that knows where a spec's path ends. */
int disk_spec_path(const char *spec, char *buf, size_t n);

/* PATH names an NBD export (nbd:// or nbd+unix://), not a host file. */
bool disk_is_nbd(const char *path);

/* Opens a spec: the file or block device read-write (read-only with ,ro or
 * ,snapshot), or connects to the NBD server.
 * 0, or -1 with why naming the spec or the path and what is wrong
 * ("--disk /x.img: No such file or directory"); d is then not open. A size
 * that is no whole number of sectors is said on stderr. */
int disk_open(struct disk *d, const char *spec, char *why, size_t whylen);
/* Closes it, if open; idempotent. */
void disk_close(struct disk *d);
/* on: requests the disk holds while it reconnects to its NBD server fail
 * now (EIO), and so do later ones that would wait, until off; for a front
 * end stopping its I/O thread, which is not to wait for the server. Files:
 * nothing to do. */
void disk_cancel(struct disk *d, bool on);

/* All of iov[0..n) from or to the disk at byte offset off, or nothing
 * useful: 0, or -1 with errno (EINVAL past the end, EROFS a write to a
 * read-only disk, EIO the file ended early, else the host's error). A
 * transfer the host does only in part is continued. */
int disk_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
int disk_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off);
/* What was written reaches stable storage (fdatasync, NBD_CMD_FLUSH);
 * nothing to do for a read-only disk or a snapshot. 0 or -1 with errno. */
int disk_flush(struct disk *d);
/* Requests in flight together: reads and writes of at most 1 MiB in at
 * most DISK_SEGS buffers, up to DISK_QUEUE at once, done in any order. An
 * NBD export without a snapshot layer queues them on the connection (the
 * server answers in any order; reads and writes not in flight together,
 * so a big write cannot stall behind a big read's reply); a file or block
 * device queues them after disk_start_queue, on an io_uring (uring.c) or,
 * where the kernel has none, on DISK_THREADS workers (pool.c); with
 * cache=none only those the file takes without the bounce buffer. A
 * snapshot layer never queues. disk_start_queue (on the unconfined main
 * thread, before the front end's I/O thread runs; again is a no-op): 0, or
 * -1 with why. disk_can_queue: whether a request like this would queue now
 * (false also while requests of the other direction are in flight on NBD).
 * disk_queue starts one, named by tag: 0, or -1 with errno and it is not
 * in flight (EINVAL: past the end, or disk_can_queue says no; EROFS; EIO:
 * the disk gave up). disk_reap waits for one to be done and returns its
 * result as disk_readv/disk_writev would, its tag in *tag; disk_reap_ready
 * says one is done (or an NBD reply is arriving) and disk_reap will not
 * wait long. On NBD a connection lost meanwhile sends all of them again
 * on the next one. No other call on the disk while requests are in flight
 * (EBUSY). Flushes wait for the writes before them: a front end reaps
 * everything before it flushes. */
int disk_start_queue(struct disk *d, char *why, size_t whylen);
bool disk_can_queue(const struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off);
int disk_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag);
int disk_reap(struct disk *d, unsigned *tag);
bool disk_reap_ready(struct disk *d);
unsigned disk_queued(const struct disk *d);
/* Discard: the host may free [off, off+len) (a hole punched in the file, or
 * the device's own discard); reads then return zeros. 0, or -1 with errno:
 * EOPNOTSUPP when the host file system or device cannot, which a caller
 * may take as done (discard is a hint), EINVAL past the end, EROFS. */
int disk_discard(struct disk *d, uint64_t off, uint64_t len);
/* [off, off+len) reads as zeros afterwards: with unmap by freeing it where
 * the host can, else by zeroing it in place (FALLOC_FL_ZERO_RANGE), else by
 * writing zeros. 0 or -1 with errno (EINVAL past the end, EROFS). */
int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap);
#endif
