/* virtio-rng (virtio 1.x §5.4): one request queue; each chain of writable
 * buffers is filled from getrandom(2). A token bucket (rate bytes/s, a
 * quarter second of burst) holds back what is above the budget, so a guest
 * cannot spin a host core; the I/O thread sleeps until tokens are back. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "virtio/virtio.h"

#define QSIZE     128
#define MAX_CHAIN 65536 /* bytes per chain: the device may write fewer than offered */
#define NS        1000000000ULL
#define MIN_FILL  64    /* bytes: Linux's virtio_rng asks for 64 at a time */

static struct virtio_rng *the_rng;

static uint64_t burst(const struct virtio_rng *r)
{
	return r->rate / 4 > MIN_FILL ? r->rate / 4 : MIN_FILL;
}

/* Tokens earned since r->last; the remainder of a byte is kept for later. */
static void refill(struct virtio_rng *r, uint64_t now)
{
	uint64_t dt = now - r->last;
	if (dt >= NS) {
		r->tokens = burst(r);
		r->last = now;
		return;
	}
	uint64_t add = dt * r->rate / NS; /* rate <= RNG_RATE_MAX: no overflow */
	if (!add)
		return;
	r->tokens = r->tokens + add < burst(r) ? r->tokens + add : burst(r);
	r->last = r->tokens == burst(r) ? now : r->last + add * NS / r->rate;
}

/* Fills the chain's writable buffers with at most max bytes; returns the count. */
static uint32_t fill(const struct vq_chain *c, uint64_t max)
{
	uint64_t done = 0;
	for (unsigned i = c->nr; i < c->nr + c->nw && done < max; i++) {
		uint8_t *p = c->iov[i].iov_base;
		size_t n = c->iov[i].iov_len < max - done ? c->iov[i].iov_len : (size_t)(max - done);
		while (n) {
			ssize_t k = getrandom(p, n, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return (uint32_t)done;
			p += k;
			n -= (size_t)k;
			done += (uint64_t)k;
		}
	}
	return (uint32_t)done;
}

struct pass {
	struct virtio_rng *r;
	int wait_ms; /* -1, or when the bucket has enough for the chain put back */
};

/* Only the I/O thread (or a test's) touches the bucket: no lock needed. */
static uint32_t serve(void *ctx, const struct vq_chain *c)
{
	struct pass *p = ctx;
	struct virtio_rng *r = p->r;
	/* Writable buffers only, all in RAM; anything else is returned empty. */
	uint64_t want = c->bad || c->nr || !c->nw ? 0 : c->wlen < MAX_CHAIN ? c->wlen : MAX_CHAIN;
	if (want && r->rate) {
		uint64_t now = r->now();
		refill(r, now);
		/* Too little in the bucket: back into the ring until there are
		 * MIN_FILL bytes (or what the chain wants), so a low rate gives
		 * whole requests, not a byte per interrupt. */
		uint64_t need = want < MIN_FILL ? want : MIN_FILL;
		if (r->tokens < need) {
			uint64_t ns = (need - r->tokens) * NS / r->rate, dt = now - r->last;
			p->wait_ms = (int)((ns > dt ? ns - dt : 0) / 1000000 + 1);
			return VIRTIO_SERVE_LATER;
		}
		if (want > r->tokens)
			want = r->tokens;
		r->tokens -= want;
	}
	uint32_t len = want ? fill(c, want) : 0;
	r->bytes += len;
	return len;
}

int virtio_rng_process(struct virtio_rng *r)
{
	struct pass p = { r, -1 };
	virtio_serve_queue(&r->vdev, 0, &r->chain, 16, serve, &p);
	return p.wait_ms;
}

static void *io_thread(void *arg)
{
	struct virtio_rng *r = arg;
	struct pollfd p[2] = { { r->vdev.kick_fd[0], POLLIN, 0 }, { r->stop_fd, POLLIN, 0 } };
	int wait_ms = -1;
	if (hal_confine(HAL_THREAD_IO) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		int n = poll(p, 2, wait_ms);
		if (n < 0 && errno != EINTR)
			break;
		if (n < 0)
			continue;
		if (p[1].revents)
			break;
		uint64_t k;
		if (p[0].revents && read(p[0].fd, &k, sizeof(k)) != sizeof(k))
			continue;
		wait_ms = virtio_rng_process(r); /* a kick, or the tokens we waited for */
	}
	return NULL;
}

/* ---- creation ------------------------------------------------------------------ */

struct virtio_rng *virtio_rng_new(uint64_t rate)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->stop_fd = -1;
	r->rate = rate == RNG_UNLIMITED ? 0 : rate;
	r->now = now_ns;
	r->last = r->now();
	r->tokens = r->rate ? burst(r) : 0;
	struct virtio_dev *v = &r->vdev;
	virtio_pci_init(v, "virtio-rng", 0x1005, 4, 0xff0000, 1, QSIZE);
	v->mem = the_vm ? &the_vm->mem : NULL;
	v->notify = virtio_kick;
	v->host_features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT | VIRTIO_RING_F_EVENT_IDX;
	v->config_len = 0; /* no device configuration */
	return r;
}

void virtio_rng_free(struct virtio_rng *r)
{
	if (!r)
		return;
	pci_unregister(&r->vdev.pci);
	if (r->started)
		virtio_stop_thread(r->stop_fd, r->thread);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->vdev.kick_fd[0] >= 0)
		close(r->vdev.kick_fd[0]);
	free(r);
}

int virtio_rng_create(uint64_t rate, int slot, char *why, size_t whylen)
{
	if (!the_vm || the_rng) {
		snprintf(why, whylen, "virtio-rng: %s", the_rng ? "already there" : "no VM yet");
		return -1;
	}
	struct virtio_rng *r = virtio_rng_new(rate);
	if (!r) {
		snprintf(why, whylen, "virtio-rng: out of memory");
		return -1;
	}
	r->vdev.kick_fd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (r->vdev.kick_fd[0] < 0 || r->stop_fd < 0 || (errno = pthread_create(&r->thread, NULL, io_thread, r))) {
		snprintf(why, whylen, "virtio-rng: %s", strerror(errno));
		virtio_rng_free(r);
		return -1;
	}
	r->started = true;
	if (pci_register(&r->vdev.pci, slot, 0) < 0) {
		snprintf(why, whylen, "virtio-rng: PCI slot %d is taken", slot);
		virtio_rng_free(r);
		return -1;
	}
	the_rng = r;
	return 0;
}

void virtio_rng_destroy(void)
{
	virtio_rng_free(the_rng);
	the_rng = NULL;
}
