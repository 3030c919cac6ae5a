/* Requests in flight together on a file or block device through io_uring
 * (disk.h, disk_queue), with raw system calls: the kernel does the reads
 * and writes (O_DIRECT ones truly asynchronously; buffered ones of
 * URING_ASYNC_MIN or more on its io-wq workers, IOSQE_ASYNC, so big
 * page-cache copies run on several CPUs rather than all in the I/O
 * thread's io_uring_enter; smaller buffered ones the kernel first tries
 * inline without blocking, and hands to a worker only when that would
 * block) and the I/O thread only submits and reaps. pool.c's worker threads take over where the
 * kernel has no io_uring or refuses it (ENOSYS, a sysctl or a container's
 * seccomp: EPERM).
 *
 * A ring bypasses seccomp: what it is asked to do is not a system call
 * the filter sees. So the ring is made disabled, the disk's file is its
 * only (fixed) file, and before it is enabled it is restricted to READV
 * and WRITEV on that fixed file (IORING_REGISTER_RESTRICTIONS, Linux 5.10;
 * no register operation allowed afterwards): a subverted I/O thread can
 * read and write the disk through it and nothing else. A kernel without
 * restrictions gets the worker threads.
 *
 * Short transfers are continued (the rest submitted again), as
 * disk_fd_xfer does; a transfer that makes no progress fails with EIO. */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/hal.h"
#include "disk/backend.h"

bool disk_uring_off;

struct ujob {
	bool used, done, wr;
	int err;
	unsigned tag, n, first; /* iov[first..n) is what is left to do */
	unsigned long seq;
	uint64_t off;
	struct iovec iov[DISK_SEGS];
};

struct disk_uring {
	int fd;
	bool async;   /* a buffered file: IOSQE_ASYNC for big requests */
	unsigned nq;
	unsigned long seq;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len, sqe_len;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	struct ujob job[DISK_QUEUE];
};

static void unmap(struct disk_uring *u)
{
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqe_len);
	if (u->cq_map && u->cq_map != MAP_FAILED && u->cq_map != u->sq_map)
		munmap(u->cq_map, u->cq_len);
	if (u->sq_map && u->sq_map != MAP_FAILED)
		munmap(u->sq_map, u->sq_len);
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

void uring_stop(struct disk *d)
{
	if (d->uring)
		unmap(d->uring);
	d->uring = NULL;
}

static int reg(int fd, unsigned op, void *arg, unsigned n)
{
	return (int)syscall(SYS_io_uring_register, fd, op, arg, n);
}

/* 0, or -1 with errno (the caller falls back to the worker threads). */
int uring_start(struct disk *d)
{
	if (disk_uring_off) {
		errno = ENOSYS;
		return -1;
	}
	struct disk_uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -1;
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	u->fd = (int)syscall(SYS_io_uring_setup, DISK_QUEUE, &p);
	if (u->fd < 0)
		goto fail;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP && u->cq_len > u->sq_len)
		u->sq_len = u->cq_len;
	u->sq_map = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
	if (u->sq_map == MAP_FAILED)
		goto fail;
	u->cq_map = p.features & IORING_FEAT_SINGLE_MMAP
			    ? u->sq_map
			    : mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
				   IORING_OFF_CQ_RING);
	u->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sqes = mmap(NULL, u->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (u->cq_map == MAP_FAILED || u->sqes == MAP_FAILED)
		goto fail;
	uint8_t *sq = u->sq_map, *cq = u->cq_map;
	u->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	u->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	u->sq_array = (unsigned *)(sq + p.sq_off.array);
	u->cq_head = (unsigned *)(cq + p.cq_off.head);
	u->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	u->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	struct io_uring_restriction r[4] = {
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
		{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = IOSQE_FIXED_FILE | IOSQE_ASYNC },
		{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	};
	if (reg(u->fd, IORING_REGISTER_FILES, &d->fd, 1) < 0 || reg(u->fd, IORING_REGISTER_RESTRICTIONS, r, 4) < 0 ||
	    reg(u->fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		goto fail;
	u->async = !d->direct;
	d->uring = u;
	return 0;
fail:;
	int e = errno;
	unmap(u);
	errno = e;
	return -1;
}

int uring_ring_fd(const struct disk *d)
{
	return d->uring ? d->uring->fd : -1;
}

unsigned uring_queued(const struct disk *d)
{
	return d->uring ? d->uring->nq : 0;
}

/* A 4 KiB read from the page cache done inline takes 2.3 us on the
 * development machine, 5 us through an io-wq worker (the hand-over and the
 * wake-up); at 1 MiB the copy dominates and workers copy in parallel. */
#define URING_ASYNC_MIN (64 * 1024)

/* j's rest on the ring: 0, or -1 with errno. */
static int submit(struct disk_uring *u, struct ujob *j)
{
	unsigned tail = *u->sq_tail, i = tail & *u->sq_mask;
	struct io_uring_sqe *s = &u->sqes[i];
	size_t bytes = 0;
	for (unsigned k = j->first; k < j->n; k++)
		bytes += j->iov[k].iov_len;
	memset(s, 0, sizeof(*s));
	s->opcode = j->wr ? IORING_OP_WRITEV : IORING_OP_READV;
	s->flags = IOSQE_FIXED_FILE | (u->async && bytes >= URING_ASYNC_MIN ? IOSQE_ASYNC : 0);
	s->fd = 0; /* the fixed file: the disk's */
	s->addr = (uint64_t)(uintptr_t)(j->iov + j->first);
	s->len = j->n - j->first;
	s->off = j->off;
	s->user_data = (uint64_t)(j - u->job);
	u->sq_array[i] = i;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	for (;;) {
		long r = syscall(SYS_io_uring_enter, u->fd, 1, 0, 0, NULL, 0);
		if (r == 1)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r >= 0)
			errno = EAGAIN;
		return -1; /* not taken: the entry is overwritten by the next submission */
	}
}

int uring_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag)
{
	struct disk_uring *u = d->uring;
	if (!u || u->nq == DISK_QUEUE || !n || n > DISK_SEGS) {
		errno = EINVAL;
		return -1;
	}
	struct ujob *j = u->job;
	while (j->used)
		j++; /* nq < DISK_QUEUE: there is a free one */
	*j = (struct ujob){ .used = true, .wr = wr, .tag = tag, .n = n, .off = off, .seq = ++u->seq };
	memcpy(j->iov, iov, n * sizeof(*iov));
	if (submit(u, j) < 0) {
		int e = errno;
		*u->sq_tail -= 1; /* the kernel did not take it */
		j->used = false;
		errno = e;
		return -1;
	}
	u->nq++;
	return 0;
}

/* The completion res of job j: done, or the rest submitted again. */
static void complete(struct disk_uring *u, struct ujob *j, int res)
{
	if (res == -EINTR || res == -EAGAIN) {
		res = 0;
	} else if (res < 0) {
		j->done = true, j->err = -res;
		return;
	} else if (res == 0) {
		j->done = true, j->err = EIO; /* the file ended early */
		return;
	}
	j->off += (uint64_t)res;
	disk_iov_advance(j->iov, j->n, &j->first, (size_t)res);
	if (j->first == j->n) {
		j->done = true, j->err = 0;
		return;
	}
	if (submit(u, j) < 0) {
		*u->sq_tail -= 1;
		j->done = true, j->err = errno;
	}
}

/* Every completion the kernel has posted, taken. */
static void drain(struct disk_uring *u)
{
	unsigned head = *u->cq_head;
	while (head != __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE)) {
		struct io_uring_cqe c = u->cqes[head & *u->cq_mask];
		__atomic_store_n(u->cq_head, ++head, __ATOMIC_RELEASE);
		if (c.user_data < DISK_QUEUE && u->job[c.user_data].used && !u->job[c.user_data].done)
			complete(u, &u->job[c.user_data], c.res); /* may submit: its CQE comes later */
	}
}

static struct ujob *oldest_done(struct disk_uring *u)
{
	struct ujob *o = NULL;
	for (unsigned i = 0; i < DISK_QUEUE; i++)
		if (u->job[i].used && u->job[i].done && (!o || u->job[i].seq < o->seq))
			o = &u->job[i];
	return o;
}

bool uring_ready(struct disk *d)
{
	struct disk_uring *u = d->uring;
	if (!u || !u->nq)
		return false;
	drain(u);
	return oldest_done(u) != NULL;
}

int uring_reap(struct disk *d, unsigned *tag)
{
	struct disk_uring *u = d->uring;
	if (!u || !u->nq) {
		errno = EINVAL;
		return -1;
	}
	struct ujob *j;
	for (;;) {
		drain(u);
		if ((j = oldest_done(u)))
			break;
		if (syscall(SYS_io_uring_enter, u->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR) {
			/* cannot be with a ring that works: fail them all rather than wait for ever */
			int e = errno;
			for (unsigned i = 0; i < DISK_QUEUE; i++)
				if (u->job[i].used && !u->job[i].done)
					u->job[i].done = true, u->job[i].err = e;
		}
	}
	j->used = false;
	u->nq--;
	*tag = j->tag;
	errno = j->err;
	return j->err ? -1 : 0;
}
