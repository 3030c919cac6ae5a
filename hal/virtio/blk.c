/* virtio-blk (virtio 1.x §5.2) over a disk (hal/disk/disk.h). One I/O
 * thread per disk waits on its queues' ioeventfds (one request queue per
 * vCPU, VIRTIO_BLK_F_MQ); requests are served outside the device lock,
 * each queue in turn. Reads and writes go to the disk's queue (disk_queue:
 * a file's io_uring or worker threads, an NBD server), up to DISK_QUEUE
 * in flight, and complete in the order they are done; while they are in
 * flight the thread takes more from the ring, so the disk always has work
 * while the guest keeps giving it. Any other request (a flush, a discard,
 * what the disk cannot queue) first waits for all of them: a flush covers
 * every write completed before it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "virtio/virtio.h"

#define F_SEG_MAX   (1ULL << 2)
#define F_RO        (1ULL << 5)
#define F_BLK_SIZE  (1ULL << 6)
#define F_FLUSH     (1ULL << 9)
#define F_DISCARD   (1ULL << 13)
#define F_MQ        (1ULL << 12)
#define F_WZEROES   (1ULL << 14)
#define QSIZE       128 /* SeaBIOS's legacy driver takes no more */
#define MAX_ZERO    (1U << 21) /* sectors per discard / write-zeroes */
#define MAX_DISKS   8

static struct virtio_blk *disks[MAX_DISKS];
static int ndisks;

/* dst = the bytes [skip, skip+len) of src[0..n); returns the count. */
static int iov_sub(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len, struct iovec *dst)
{
	int k = 0;
	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		size_t l = src[i].iov_len - skip < len ? src[i].iov_len - skip : len;
		dst[k++] = (struct iovec){ (uint8_t *)src[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}

/* The len bytes at skip of the chain's readable buffers, into buf. */
static void copy_out(const struct vq_chain *c, uint64_t skip, uint8_t *buf, uint64_t len)
{
	struct iovec v[VQ_MAX_SEGS];
	int k = iov_sub(c->iov, c->nr, skip, len, v);
	for (int i = 0, o = 0; i < k; o += (int)v[i].iov_len, i++)
		memcpy(buf + o, v[i].iov_base, v[i].iov_len);
}

static uint64_t sectors(const struct virtio_blk *b)
{
	return b->disk->size / DISK_SECTOR;
}

static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t n)
{
	return sector <= sectors(b) && n <= sectors(b) - sector;
}

/* The host failed a request the guest made right (a disk that went away,
 * a failing medium): the guest gets IOERR, stderr hears of the 1st, 2nd,
 * 4th, 8th... so a vanished disk does not flood it. */
#define NO_SECTOR UINT64_MAX /* a flush */
static uint8_t host_error(struct virtio_blk *b, const char *op, uint64_t sector)
{
	int e = errno;
	unsigned long n = ++b->host_errors;
	char at[40] = "";
	if (sector != NO_SECTOR)
		snprintf(at, sizeof(at), " at sector %llu", (unsigned long long)sector);
	if (!(n & (n - 1)))
		warnx("disk %s: %s%s failed: %s (%lu host I/O error%s so far, the guest sees each)", b->disk->path, op, at,
		      strerror(e), n, n == 1 ? "" : "s");
	return VIRTIO_BLK_S_IOERR;
}

/* DISCARD / WRITE_ZEROES: one 16-byte segment {le64 sector, le32
 * num_sectors, le32 flags} (struct virtio_blk_discard_write_zeroes). */
static uint8_t zero_req(struct virtio_blk *b, const struct vq_chain *c, uint32_t type)
{
	uint8_t s[16];
	uint64_t plen = c->rlen - 16;
	if (b->disk->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!plen || plen % 16)
		return VIRTIO_BLK_S_IOERR;
	if (plen > 16)
		return VIRTIO_BLK_S_UNSUPP; /* max_*_seg is 1 */
	copy_out(c, 16, s, 16);
	uint64_t sector = get_le64(s);
	uint32_t num = get_le32(s + 8), flags = get_le32(s + 12);
	if (flags & ~1u || (type == VIRTIO_BLK_T_DISCARD && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > MAX_ZERO || !in_range(b, sector, num))
		return VIRTIO_BLK_S_IOERR;
	uint64_t off = sector * DISK_SECTOR, len = (uint64_t)num * DISK_SECTOR;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES)
		return disk_write_zeroes(b->disk, off, len, flags & 1) == 0 ? VIRTIO_BLK_S_OK
									      : host_error(b, "write-zeroes", sector);
	if (disk_discard(b->disk, off, len) < 0 && errno != EOPNOTSUPP)
		return host_error(b, "discard", sector);
	return VIRTIO_BLK_S_OK; /* discard is a hint: unsupported is fine */
}

#define QUEUED UINT32_MAX /* request(): the read or write is in flight on the disk */
#define BUSY (UINT32_MAX - 1) /* request(): the disk has requests in flight; call again after them */

/* Serve one request; returns the used length (bytes written to the guest),
 * or QUEUED: chain[slot] is in flight on the disk (slot >= 0 may queue). */
static uint32_t request(struct virtio_blk *b, const struct vq_chain *c, int slot)
{
	/* The status byte is the last byte of the last writable buffer. */
	if (!c->nw || !c->iov[c->nr + c->nw - 1].iov_base || !c->iov[c->nr + c->nw - 1].iov_len)
		return 0;
	const struct iovec *last = &c->iov[c->nr + c->nw - 1];
	uint8_t *status = (uint8_t *)last->iov_base + last->iov_len - 1;
	uint8_t hdr[16]; /* struct virtio_blk_outhdr: le32 type, le32 ioprio, le64 sector */
	struct iovec v[VQ_MAX_SEGS];
	int k;
	if (c->bad || c->rlen < 16) {
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	copy_out(c, 0, hdr, 16);
	uint32_t type = get_le32(hdr);
	uint64_t sector = get_le64(hdr + 8), din = c->wlen - 1, dout = c->rlen - 16;
	uint8_t st = VIRTIO_BLK_S_OK;
	uint32_t used = 1;
	bool wr = type == VIRTIO_BLK_T_OUT;
	if (slot >= 0 && disk_queued(b->disk) && type != VIRTIO_BLK_T_IN && !wr && type != VIRTIO_BLK_T_GET_ID)
		return BUSY; /* nothing done yet: it goes after the reads and writes */
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		uint64_t len = wr ? dout : din;
		k = wr ? iov_sub(c->iov, c->nr, 16, dout, v) : iov_sub(c->iov + c->nr, c->nw, 0, din, v);
		if (len % DISK_SECTOR || !in_range(b, sector, len / DISK_SECTOR) || (wr && b->disk->ro)) {
			st = VIRTIO_BLK_S_IOERR;
		} else if (slot >= 0 && disk_can_queue(b->disk, wr, v, (unsigned)k, sector * DISK_SECTOR)) {
			if (disk_queue(b->disk, wr, v, (unsigned)k, sector * DISK_SECTOR, (unsigned)slot) == 0) {
				b->status[slot] = status;
				b->used[slot] = wr ? 1 : 1 + (uint32_t)din;
				b->sector[slot] = sector;
				b->wr[slot] = wr;
				return QUEUED;
			}
			st = host_error(b, wr ? "write" : "read", sector);
		} else if (slot >= 0 && disk_queued(b->disk)) {
			return BUSY; /* one the disk cannot queue now (too big, the other direction on NBD) */
		} else if ((wr ? disk_writev : disk_readv)(b->disk, v, (unsigned)k, sector * DISK_SECTOR) < 0) {
			st = host_error(b, wr ? "write" : "read", sector);
		} else if (!wr) {
			used += (uint32_t)din;
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (disk_flush(b->disk) < 0)
			st = host_error(b, "flush", NO_SECTOR);
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = din < 20 ? din : 20;
		char id[20] = { 0 };
		memcpy(id, b->serial, strlen(b->serial));
		k = iov_sub(c->iov + c->nr, c->nw, 0, n, v);
		for (int i = 0, o = 0; i < k; o += (int)v[i].iov_len, i++)
			memcpy(v[i].iov_base, id + o, v[i].iov_len);
		used += (uint32_t)n;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = zero_req(b, c, type);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
	}
	*status = st;
	return used;
}

/* chain[slot] done (used bytes): on its queue's used ring, an interrupt
 * now and then in a long batch. Under the lock. */
static void complete(struct virtio_blk *b, unsigned gen, int slot, uint32_t len, uint16_t *old)
{
	struct virtio_dev *v = &b->vdev;
	int qi = b->qi[slot];
	struct virtq *q = &v->vq[qi];
	if (--v->inflight == 0)
		pthread_cond_broadcast(&v->idle);
	if (gen != v->gen)
		return; /* reset meanwhile: the request is forgotten */
	virtq_push(q, v->mem, b->chain[slot].head, len);
	if ((uint16_t)(q->used_idx - old[qi]) >= 16) { /* a long batch: complete some now */
		if (virtq_need_irq(q, v->mem, old[qi]))
			virtio_queue_irq(v, qi);
		old[qi] = q->used_idx;
	}
}

/* Every queue with completions since old[]: its interrupt if the driver
 * wants one. Under the lock. */
static void notify(struct virtio_blk *b, unsigned gen, uint16_t *old)
{
	struct virtio_dev *v = &b->vdev;
	for (int i = 0; i < v->nqueues && gen == v->gen; i++) {
		struct virtq *q = virtio_queue(v, i);
		if (q && q->used_idx != old[i] && virtq_need_irq(q, v->mem, old[i]))
			virtio_queue_irq(v, i);
		if (q)
			old[i] = q->used_idx;
	}
}

/* One queued request done (the disk says which): its status, then
 * complete. Called with the lock, which it drops while it waits. */
static void reap(struct virtio_blk *b, unsigned gen, uint16_t *old)
{
	struct virtio_dev *v = &b->vdev;
	unsigned slot = DISK_QUEUE;
	pthread_mutex_unlock(&v->lock);
	int r = disk_reap(b->disk, &slot);
	if (slot >= DISK_QUEUE || !b->queued[slot]) { /* cannot be: the disk returns the tags it was given */
		pthread_mutex_lock(&v->lock);
		if (--v->inflight == 0) /* a request ended, whichever it was: a reset must not wait for it */
			pthread_cond_broadcast(&v->idle);
		virtio_set_broken(v, "disk returned an unknown request");
		return;
	}
	uint32_t len = 1;
	if (r < 0)
		*b->status[slot] = host_error(b, b->wr[slot] ? "write" : "read", b->sector[slot]);
	else
		*b->status[slot] = VIRTIO_BLK_S_OK, len = b->used[slot];
	b->queued[slot] = false;
	pthread_mutex_lock(&v->lock);
	complete(b, gen, slot, len, old);
}

void virtio_blk_process(struct virtio_blk *b)
{
	struct virtio_dev *v = &b->vdev;
	pthread_mutex_lock(&v->lock);
	unsigned gen = v->gen;
	uint16_t old[VIRTIO_MAX_QUEUES] = { 0 };
	for (int i = 0; i < v->nqueues; i++)
		old[i] = v->vq[i].used_idx;
	unsigned nq = 0;   /* requests in flight on the disk */
	int qi = 0;        /* the queue to take from next: each in turn */
	int empty = 0;     /* queues found empty in a row */
	while (gen == v->gen && !v->broken) {
		int slot = 0;
		while (slot < DISK_QUEUE && b->queued[slot])
			slot++;
		if (slot == DISK_QUEUE) { /* all in flight: one must finish first */
			reap(b, gen, old);
			nq--;
			continue;
		}
		struct virtq *q = virtio_queue(v, qi);
		int r = q ? virtio_pop(v, q, &b->chain[slot], "virtqueue") : 0;
		if (r < 0)
			break;
		b->qi[slot] = qi;
		qi = (qi + 1) % v->nqueues;
		if (r == 0) {
			if (++empty < v->nqueues)
				continue;
			empty = 0;
			if (!nq)
				break;
			/* every ring is empty for now: the guest hears of what
			 * is done, and gives more, while the rest is in flight */
			do
				reap(b, gen, old);
			while (--nq && disk_reap_ready(b->disk));
			notify(b, gen, old);
			continue;
		}
		empty = 0;
		v->inflight++;
		pthread_mutex_unlock(&v->lock);
		uint32_t len = request(b, &b->chain[slot], slot);
		if (len == BUSY) { /* the disk's queue must be empty first */
			pthread_mutex_lock(&v->lock);
			for (; nq; nq--)
				reap(b, gen, old);
			pthread_mutex_unlock(&v->lock);
			len = request(b, &b->chain[slot], slot); /* nothing in flight: no BUSY */
		}
		if (len == QUEUED) {
			b->queued[slot] = true;
			nq++;
			pthread_mutex_lock(&v->lock);
			continue;
		}
		pthread_mutex_lock(&v->lock);
		complete(b, gen, slot, len, old);
	}
	for (; nq; nq--) /* in flight, also after a reset (the disk must finish them) */
		reap(b, gen, old);
	notify(b, gen, old);
	pthread_mutex_unlock(&v->lock);
}

/* One thread serves every queue: a kick on any is a pass over all. */
static void *io_thread(void *arg)
{
	struct virtio_blk *b = arg;
	int n = b->vdev.nqueues;
	struct pollfd p[VIRTIO_MAX_QUEUES + 1];
	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ b->vdev.kick_fd[i], POLLIN, 0 };
	p[n] = (struct pollfd){ b->stop_fd, POLLIN, 0 };
	if (hal_confine(HAL_THREAD_IO) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		if (poll(p, (nfds_t)n + 1, -1) < 0 && errno != EINTR)
			break;
		if (p[n].revents)
			break;
		bool kicked = false;
		uint64_t k;
		for (int i = 0; i < n; i++)
			if (p[i].revents && read(p[i].fd, &k, sizeof(k)) == sizeof(k))
				kicked = true;
		if (kicked)
			virtio_blk_process(b);
	}
	return NULL;
}

/* ---- creation ------------------------------------------------------------------ */

static int fail(char *why, size_t whylen, struct virtio_blk *b, const char *fmt, const char *arg)
{
	snprintf(why, whylen, fmt, arg, strerror(errno));
	virtio_blk_free(b);
	return -1;
}

static struct virtio_blk *blk_alloc(char *why, size_t whylen)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	b->own.fd = b->stop_fd = -1;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		b->vdev.kick_fd[i] = -1;
	return b;
}

static struct virtio_blk *blk_init(struct virtio_blk *b, int index, int queues)
{
	if (queues < 1)
		queues = 1;
	if (queues > BLK_MAX_QUEUES)
		queues = BLK_MAX_QUEUES;
	if (b->disk->serial[0])
		memcpy(b->serial, b->disk->serial, sizeof(b->serial));
	else
		snprintf(b->serial, sizeof(b->serial), "hal-disk%d", index);

	struct virtio_dev *v = &b->vdev;
	virtio_pci_init(v, "virtio-blk", 0x1001, 2, 0x010000, queues, QSIZE);
	v->mem = the_vm ? &the_vm->mem : NULL;
	v->notify = virtio_kick;
	v->host_features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT | VIRTIO_RING_F_EVENT_IDX | F_SEG_MAX |
			   F_BLK_SIZE | F_FLUSH | (b->disk->ro ? F_RO : F_DISCARD | F_WZEROES) | (queues > 1 ? F_MQ : 0);
	/* struct virtio_blk_config (virtio 1.x §5.2.4), little endian */
	uint8_t *c = v->config;
	put_le64(c + 0, sectors(b));     /* capacity */
	put_le32(c + 12, QSIZE - 2);     /* seg_max: the header and status take two */
	put_le32(c + 20, DISK_SECTOR);   /* blk_size */
	put_le16(c + 34, (uint16_t)queues); /* num_queues (with F_MQ) */
	put_le32(c + 36, MAX_ZERO);      /* max_discard_sectors */
	put_le32(c + 40, 1);             /* max_discard_seg */
	put_le32(c + 44, 8);             /* discard_sector_alignment: 4 KiB */
	put_le32(c + 48, MAX_ZERO);      /* max_write_zeroes_sectors */
	put_le32(c + 52, 1);             /* max_write_zeroes_seg */
	c[56] = 1;                       /* write_zeroes_may_unmap */
	v->config_len = 60;
	return b;
}

struct virtio_blk *virtio_blk_new(const char *spec, int index, int queues, char *why, size_t whylen)
{
	struct virtio_blk *b = blk_alloc(why, whylen);
	if (!b)
		return NULL;
	b->disk = &b->own;
	if (disk_open(b->disk, spec, why, whylen) < 0) {
		virtio_blk_free(b);
		return NULL;
	}
	return blk_init(b, index, queues);
}

struct virtio_blk *virtio_blk_new_disk(struct disk *d, int index, int queues, char *why, size_t whylen)
{
	struct virtio_blk *b = blk_alloc(why, whylen);
	if (!b)
		return NULL;
	b->disk = d;
	return blk_init(b, index, queues);
}

void virtio_blk_free(struct virtio_blk *b)
{
	if (!b)
		return;
	pci_unregister(&b->vdev.pci);
	if (b->started) { /* a request held for an NBD reconnect fails now: the thread is not to wait */
		disk_cancel(b->disk, true);
		virtio_stop_thread(b->stop_fd, b->thread);
		disk_cancel(b->disk, false);
	}
	disk_close(&b->own); /* not open when the disk is borrowed */
	if (b->stop_fd >= 0)
		close(b->stop_fd);
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (b->vdev.kick_fd[i] >= 0)
			close(b->vdev.kick_fd[i]);
	free(b);
}

int virtio_blk_create(struct disk *d, int slot, int queues, char *why, size_t whylen)
{
	if (!the_vm) {
		snprintf(why, whylen, "--disk %s: no VM yet", d->path);
		return -1;
	}
	if (ndisks == MAX_DISKS) {
		snprintf(why, whylen, "--disk %s: at most %d disks", d->path, MAX_DISKS);
		return -1;
	}
	struct virtio_blk *b = virtio_blk_new_disk(d, ndisks, queues, why, whylen);
	if (!b)
		return -1;
	if (disk_start_queue(d, why, whylen) < 0) {
		virtio_blk_free(b);
		return -1;
	}
	for (int i = 0; i < b->vdev.nqueues; i++)
		if ((b->vdev.kick_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			return fail(why, whylen, b, "--disk %s: eventfd: %s", b->disk->path);
	b->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (b->stop_fd < 0)
		return fail(why, whylen, b, "--disk %s: eventfd: %s", b->disk->path);
	errno = pthread_create(&b->thread, NULL, io_thread, b);
	if (errno)
		return fail(why, whylen, b, "--disk %s: I/O thread: %s", b->disk->path);
	b->started = true;
	if (pci_register(&b->vdev.pci, slot, 0) < 0) {
		snprintf(why, whylen, "--disk %s: PCI slot %d is taken", b->disk->path, slot);
		virtio_blk_free(b);
		return -1;
	}
	disks[ndisks++] = b;
	return 0;
}

void virtio_blk_destroy_all(void)
{
	while (ndisks)
		virtio_blk_free(disks[--ndisks]);
}
