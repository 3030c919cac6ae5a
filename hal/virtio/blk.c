/* virtio-blk (virtio 1.x §5.2) over a raw image or a block device. One I/O
 * thread per disk waits on the queue's ioeventfd; requests are served with
 * preadv/pwritev/fdatasync/fallocate outside the device lock. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/virtio.h"

#define F_SEG_MAX   (1ULL << 2)
#define F_RO        (1ULL << 5)
#define F_BLK_SIZE  (1ULL << 6)
#define F_FLUSH     (1ULL << 9)
#define F_DISCARD   (1ULL << 13)
#define F_WZEROES   (1ULL << 14)
#define QSIZE       128 /* SeaBIOS's legacy driver takes no more */
#define MAX_ZERO    (1U << 21) /* sectors per discard / write-zeroes */
#define MAX_DISKS   8

static struct virtio_blk *disks[MAX_DISKS];
static int ndisks;

static void put(uint8_t *p, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

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

/* preadv/pwritev all of [off, off+len) or fail. */
static bool rw_all(struct virtio_blk *b, const struct iovec *iov, unsigned n, uint64_t len, uint64_t off, bool wr)
{
	struct iovec v[VQ_MAX_SEGS];
	for (uint64_t done = 0; done < len;) {
		int k = iov_sub(iov, n, done, len - done, v);
		ssize_t r = wr ? pwritev(b->fd, v, k, (off_t)(off + done)) : preadv(b->fd, v, k, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		done += (uint64_t)r;
	}
	return true;
}

static bool in_range(struct virtio_blk *b, uint64_t sector, uint64_t n)
{
	return sector <= b->sectors && n <= b->sectors - sector;
}

static bool write_zeroes(struct virtio_blk *b, uint64_t off, uint64_t len, bool unmap)
{
	if (unmap && fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return true;
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return true;
	static const uint8_t zero[65536];
	for (uint64_t done = 0, n; done < len; done += n) {
		n = len - done < sizeof(zero) ? len - done : sizeof(zero);
		struct iovec z = { (void *)zero, n };
		if (!rw_all(b, &z, 1, n, off + done, true))
			return false;
	}
	return true;
}

/* DISCARD / WRITE_ZEROES: one 16-byte segment {sector, num_sectors, flags}. */
static uint8_t zero_req(struct virtio_blk *b, const struct vq_chain *c, uint32_t type)
{
	uint8_t s[16];
	struct iovec v[VQ_MAX_SEGS];
	uint64_t plen = c->rlen - 16;
	if (b->ro)
		return VIRTIO_BLK_S_IOERR;
	if (!plen || plen % 16)
		return VIRTIO_BLK_S_IOERR;
	if (plen > 16)
		return VIRTIO_BLK_S_UNSUPP; /* max_*_seg is 1 */
	int k = iov_sub(c->iov, c->nr, 16, 16, v);
	for (int i = 0, o = 0; i < k; o += (int)v[i].iov_len, i++)
		memcpy(s + o, v[i].iov_base, v[i].iov_len);
	uint64_t sector;
	uint32_t num, flags;
	memcpy(&sector, s, 8);
	memcpy(&num, s + 8, 4);
	memcpy(&flags, s + 12, 4);
	if (flags & ~1u || (type == VIRTIO_BLK_T_DISCARD && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > MAX_ZERO || !in_range(b, sector, num))
		return VIRTIO_BLK_S_IOERR;
	uint64_t off = sector * 512, len = (uint64_t)num * 512;
	if (type == VIRTIO_BLK_T_WRITE_ZEROES)
		return write_zeroes(b, off, len, flags & 1) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0 &&
	    errno != EOPNOTSUPP)
		return VIRTIO_BLK_S_IOERR;
	return VIRTIO_BLK_S_OK; /* discard is a hint: unsupported is fine */
}

/* Serve one request; returns the used length (bytes written to the guest). */
static uint32_t request(struct virtio_blk *b, const struct vq_chain *c)
{
	/* The status byte is the last byte of the last writable buffer. */
	if (!c->nw || !c->iov[c->nr + c->nw - 1].iov_base || !c->iov[c->nr + c->nw - 1].iov_len)
		return 0;
	const struct iovec *last = &c->iov[c->nr + c->nw - 1];
	uint8_t *status = (uint8_t *)last->iov_base + last->iov_len - 1;
	uint8_t hdr[16];
	struct iovec v[VQ_MAX_SEGS];
	if (c->bad || c->rlen < 16) {
		*status = VIRTIO_BLK_S_IOERR;
		return 1;
	}
	int k = iov_sub(c->iov, c->nr, 0, 16, v);
	for (int i = 0, o = 0; i < k; o += (int)v[i].iov_len, i++)
		memcpy(hdr + o, v[i].iov_base, v[i].iov_len);
	uint32_t type;
	uint64_t sector, din = c->wlen - 1, dout = c->rlen - 16;
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	uint8_t st = VIRTIO_BLK_S_OK;
	uint32_t used = 1;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (din % 512 || !in_range(b, sector, din / 512) ||
		    !rw_all(b, c->iov + c->nr, c->nw, din, sector * 512, false))
			st = VIRTIO_BLK_S_IOERR;
		else
			used += (uint32_t)din;
		break;
	case VIRTIO_BLK_T_OUT:
		k = iov_sub(c->iov, c->nr, 16, dout, v);
		if (b->ro || dout % 512 || !in_range(b, sector, dout / 512) ||
		    !rw_all(b, v, (unsigned)k, dout, sector * 512, true))
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->ro && fdatasync(b->fd) < 0)
			st = VIRTIO_BLK_S_IOERR;
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

void virtio_blk_process(struct virtio_blk *b)
{
	struct virtio_dev *v = &b->vdev;
	pthread_mutex_lock(&v->lock);
	unsigned gen = v->gen;
	struct virtq *q = virtio_queue(v, 0);
	uint16_t old = q ? q->used_idx : 0;
	while (q && gen == v->gen && !v->broken) {
		int r = virtq_pop(q, v->mem, &b->chain);
		if (r < 0) {
			virtio_set_broken(v, "malformed virtqueue");
			break;
		}
		if (r == 0) {
			if (virtq_arm(q, v->mem))
				continue;
			break;
		}
		v->inflight++;
		pthread_mutex_unlock(&v->lock);
		uint32_t len = request(b, &b->chain);
		pthread_mutex_lock(&v->lock);
		if (--v->inflight == 0)
			pthread_cond_broadcast(&v->idle);
		if (gen != v->gen)
			break; /* reset meanwhile: the request is forgotten */
		virtq_push(q, v->mem, b->chain.head, len);
		if ((uint16_t)(q->used_idx - old) >= 16) { /* a long batch: complete some now */
			if (virtq_need_irq(q, v->mem, old))
				virtio_queue_irq(v, 0);
			old = q->used_idx;
		}
	}
	if (q && gen == v->gen && q->used_idx != old && virtq_need_irq(q, v->mem, old))
		virtio_queue_irq(v, 0);
	pthread_mutex_unlock(&v->lock);
}

/* A notify that reached the BAR handler: wake the I/O thread the same way
 * an ioeventfd would. */
static void kick(struct virtio_dev *v, int q)
{
	uint64_t one = 1;
	if (v->kick_fd[q] >= 0 && write(v->kick_fd[q], &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice */
	}
}

static void *io_thread(void *arg)
{
	struct virtio_blk *b = arg;
	struct pollfd p[2] = { { b->vdev.kick_fd[0], POLLIN, 0 }, { b->stop_fd, POLLIN, 0 } };
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		uint64_t n;
		if (p[0].revents && read(p[0].fd, &n, sizeof(n)) == sizeof(n))
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

struct virtio_blk *virtio_blk_new(const char *spec, int index, char *why, size_t whylen)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	b->fd = b->stop_fd = -1;
	b->vdev.kick_fd[0] = -1;
	snprintf(b->serial, sizeof(b->serial), "hal-disk%d", index);
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);
	if (!plen || plen >= sizeof(b->path)) {
		snprintf(why, whylen, "--disk %s: bad path", spec);
		virtio_blk_free(b);
		return NULL;
	}
	memcpy(b->path, spec, plen);
	for (const char *o = comma; o; o = strchr(o + 1, ',')) {
		const char *end = strchr(o + 1, ',');
		size_t n = end ? (size_t)(end - o - 1) : strlen(o + 1);
		if (n == 2 && !strncmp(o + 1, "ro", 2)) {
			b->ro = true;
		} else if (n > 7 && n - 7 <= 20 && !strncmp(o + 1, "serial=", 7)) {
			memset(b->serial, 0, sizeof(b->serial));
			memcpy(b->serial, o + 8, n - 7);
		} else {
			snprintf(why, whylen, "--disk %s: unknown option '%.*s' (PATH[,ro][,serial=S], S up to 20 bytes)",
				 spec, (int)n, o + 1);
			virtio_blk_free(b);
			return NULL;
		}
	}
	b->fd = open(b->path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		fail(why, whylen, b, "--disk %s: %s", b->path);
		return NULL;
	}
	struct stat st;
	off_t size = lseek(b->fd, 0, SEEK_END);
	if (fstat(b->fd, &st) < 0 || size < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		snprintf(why, whylen, "--disk %s: not a regular file or block device", b->path);
		virtio_blk_free(b);
		return NULL;
	}
	if (size % 512)
		warnx("--disk %s: size is not a multiple of 512; the last %d bytes are not visible", b->path,
		      (int)(size % 512));
	b->sectors = (uint64_t)size / 512;

	struct virtio_dev *v = &b->vdev;
	virtio_pci_init(v, "virtio-blk", 0x1001, 2, 0x010000, 1, QSIZE);
	v->mem = the_vm ? &the_vm->mem : NULL;
	v->notify = kick;
	v->host_features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT | VIRTIO_RING_F_EVENT_IDX | F_SEG_MAX |
			   F_BLK_SIZE | F_FLUSH | (b->ro ? F_RO : F_DISCARD | F_WZEROES);
	uint8_t *c = v->config;
	put(c + 0, b->sectors, 8);
	put(c + 12, QSIZE - 2, 4); /* seg_max: the header and status take two */
	put(c + 20, 512, 4);
	put(c + 36, MAX_ZERO, 4);  /* max_discard_sectors */
	put(c + 40, 1, 4);         /* max_discard_seg */
	put(c + 44, 8, 4);         /* discard_sector_alignment: 4 KiB */
	put(c + 48, MAX_ZERO, 4);  /* max_write_zeroes_sectors */
	put(c + 52, 1, 4);         /* max_write_zeroes_seg */
	c[56] = 1;                 /* write_zeroes_may_unmap */
	v->config_len = 60;
	return b;
}

void virtio_blk_free(struct virtio_blk *b)
{
	if (!b)
		return;
	pci_unregister(&b->vdev.pci);
	if (b->started) {
		uint64_t one = 1;
		if (write(b->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(b->thread, NULL);
	}
	if (b->fd >= 0)
		close(b->fd);
	if (b->stop_fd >= 0)
		close(b->stop_fd);
	if (b->vdev.kick_fd[0] >= 0)
		close(b->vdev.kick_fd[0]);
	free(b);
}

int virtio_blk_create(const char *spec, int slot, char *why, size_t whylen)
{
	if (!the_vm) {
		snprintf(why, whylen, "--disk %s: no VM yet", spec);
		return -1;
	}
	if (ndisks == MAX_DISKS) {
		snprintf(why, whylen, "--disk %s: at most %d disks", spec, MAX_DISKS);
		return -1;
	}
	struct virtio_blk *b = virtio_blk_new(spec, ndisks, why, whylen);
	if (!b)
		return -1;
	b->vdev.kick_fd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (b->vdev.kick_fd[0] < 0 || b->stop_fd < 0)
		return fail(why, whylen, b, "--disk %s: eventfd: %s", b->path);
	errno = pthread_create(&b->thread, NULL, io_thread, b);
	if (errno)
		return fail(why, whylen, b, "--disk %s: I/O thread: %s", b->path);
	b->started = true;
	if (pci_register(&b->vdev.pci, slot, 0) < 0) {
		snprintf(why, whylen, "--disk %s: PCI slot %d is taken", b->path, slot);
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
