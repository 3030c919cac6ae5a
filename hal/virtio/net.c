/* virtio-net (virtio 1.x §5.1): queue 0 receive, 1 transmit, 2 control, over
 * a host backend (net/net.h). One I/O thread per NIC waits on the queues'
 * ioeventfds and the backend. Everything in the rings is guest controlled:
 * a chain that is outside RAM, too long or of the wrong direction is
 * dropped and counted, and an empty receive ring only stops reading from
 * the backend (the host kernel queues, then drops), it never blocks hal. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "virtio/virtio.h"

/* Feature bits (§5.1.3). */
#define F_CSUM       (1ULL << 0)
#define F_GUEST_CSUM (1ULL << 1)
#define F_MAC        (1ULL << 5)
#define F_GUEST_TSO4 (1ULL << 7)
#define F_GUEST_TSO6 (1ULL << 8)
#define F_GUEST_ECN  (1ULL << 9)
#define F_HOST_TSO4  (1ULL << 11)
#define F_HOST_TSO6  (1ULL << 12)
#define F_HOST_ECN   (1ULL << 13)
#define F_MRG_RXBUF  (1ULL << 15)
#define F_STATUS     (1ULL << 16)
#define F_CTRL_VQ    (1ULL << 17)
#define F_CTRL_RX    (1ULL << 18)
#define S_LINK_UP    1

/* struct virtio_net_hdr_v1 (§5.1.6) */
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define HDR_GSO_NONE     0
#define HDR_NUM_BUFFERS  10  /* offset of num_buffers */
#define HDR_LEGACY_LEN   10  /* without VERSION_1 or MRG_RXBUF */

enum { RXQ = 0, TXQ = 1, CTRLQ = 2 };
#define QSIZE     256
#define MAX_MERGE 64   /* receive buffers one frame may take */
#define BATCH     64   /* frames per queue per wake-up, so no queue starves the others */

/* Control queue (§5.1.6.5) */
#define CTRL_OK  0
#define CTRL_ERR 1
#define CTRL_RX  0     /* promisc, allmulti...: every frame reaches us anyway */
#define CTRL_MAC 1

#define MAX_NICS NET_MAX_NICS
static struct virtio_net *nics[MAX_NICS];
static int nnics;

static size_t hdr_len(const struct virtio_dev *v)
{
	return v->guest_features & (VIRTIO_F_VERSION_1 | F_MRG_RXBUF) ? NET_HDR_LEN : HDR_LEGACY_LEN;
}

/* Copy between a flat buffer and [skip, skip+len) of a chain's iovecs;
 * returns the bytes copied. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf, size_t len, bool to_iov)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - skip < len - done ? iov[i].iov_len - skip : len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip, buf + done, k);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + skip, k);
		done += k;
		skip = 0;
	}
	return done;
}

/* ---- transmit ------------------------------------------------------------------- */

/* One frame from the guest to the backend: 1 sent or dropped, 0 the backend
 * cannot take it now (the chain is given back). Called without the lock. */
static int tx_one(struct virtio_net *n, const struct vq_chain *c, size_t hlen)
{
	if (c->bad || c->nw || c->rlen < hlen || c->rlen - hlen > VIRTIO_NET_FRAME_MAX) {
		n->tx_dropped++;
		return 1;
	}
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	iov_copy(c->iov, c->nr, 0, hdr, hlen, false);
	struct iovec out[VQ_MAX_SEGS + 1];
	int k = 0;
	if (n->be.vnet_hdr) {
		hdr[HDR_NUM_BUFFERS] = hdr[HDR_NUM_BUFFERS + 1] = 0;
		out[k++] = (struct iovec){ hdr, NET_HDR_LEN };
	}
	size_t skip = hlen;
	for (unsigned i = 0; i < c->nr; i++) {
		if (skip >= c->iov[i].iov_len) {
			skip -= c->iov[i].iov_len;
			continue;
		}
		out[k++] = (struct iovec){ (uint8_t *)c->iov[i].iov_base + skip, c->iov[i].iov_len - skip };
		skip = 0;
	}
	if (net_send(&n->be, out, k) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			n->tx_blocked = true;
			return 0;
		}
		n->tx_dropped++;
		return 1;
	}
	n->tx_frames++;
	return 1;
}

/* Returns whether a full batch left chains in the ring. */
static bool process_tx(struct virtio_net *n)
{
	struct virtio_dev *v = &n->vdev;
	unsigned gen = v->gen;
	struct virtq *q = virtio_queue(v, TXQ);
	uint16_t old = q ? q->used_idx : 0;
	size_t hlen = hdr_len(v);
	n->tx_blocked = false;
	int i = 0;
	for (; q && i < BATCH && gen == v->gen && !v->broken; i++) {
		if (virtio_pop(v, q, &n->chain, "transmit queue") <= 0)
			break;
		v->inflight++;
		pthread_mutex_unlock(&v->lock);
		int sent = tx_one(n, &n->chain, hlen);
		pthread_mutex_lock(&v->lock);
		if (--v->inflight == 0)
			pthread_cond_broadcast(&v->idle);
		if (gen != v->gen)
			break;
		if (!sent) {
			virtq_unpop(q, 1);
			break;
		}
		virtq_push(q, v->mem, n->chain.head, 0);
	}
	if (q && gen == v->gen && q->used_idx != old && virtq_need_irq(q, v->mem, old))
		virtio_queue_irq(v, TXQ);
	return i == BATCH && !n->tx_blocked;
}

/* ---- receive ------------------------------------------------------------------ */

/* The frame in n->frame as the guest may see it: offload fields it did not
 * negotiate cleared, or the frame refused. */
static bool rx_header_ok(struct virtio_net *n, uint64_t feats)
{
	uint8_t *h = n->frame;
	if (!(feats & F_GUEST_CSUM))
		h[0] = 0;
	else
		h[0] &= HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID;
	uint8_t gso = h[1] & 0x7f;
	bool ok = gso == HDR_GSO_NONE || (gso == 1 && (feats & F_GUEST_TSO4)) || (gso == 4 && (feats & F_GUEST_TSO6));
	if ((h[1] & 0x80) && !(feats & F_GUEST_ECN))
		ok = false;
	return ok && (gso == HDR_GSO_NONE || (feats & F_GUEST_CSUM));
}

/* Read the next frame from the backend into n->frame. */
static bool rx_fetch(struct virtio_net *n, uint64_t feats)
{
	while (!n->frame_len) {
		struct iovec iov[2];
		int k = 0;
		if (!n->be.vnet_hdr) {
			memset(n->frame, 0, NET_HDR_LEN);
			iov[k++] = (struct iovec){ n->frame + NET_HDR_LEN, VIRTIO_NET_FRAME_MAX };
		} else {
			iov[k++] = (struct iovec){ n->frame, NET_HDR_LEN + VIRTIO_NET_FRAME_MAX };
		}
		ssize_t r = net_recv(&n->be, iov, k);
		if (r <= 0)
			return false;
		size_t len = (size_t)r + (n->be.vnet_hdr ? 0 : NET_HDR_LEN);
		if (len <= NET_HDR_LEN || !rx_header_ok(n, feats)) {
			n->rx_dropped++;
			continue;
		}
		n->frame_len = len;
	}
	return true;
}

/* Put n->frame into the guest's receive buffers: 1 done (or dropped), 0 the
 * ring has too few buffers now (nothing consumed). Called with the lock. */
static int rx_deliver(struct virtio_net *n, struct virtq *q, size_t hlen, bool mrg)
{
	struct virtio_dev *v = &n->vdev;
	/* The guest sees hlen bytes of header: a legacy driver's 10 bytes are
	 * the first 10 of ours. */
	const uint8_t *hdr = n->frame;
	const uint8_t *data = n->frame + NET_HDR_LEN;
	size_t dlen = n->frame_len - NET_HDR_LEN, total = hlen + dlen, done = 0;
	uint16_t heads[MAX_MERGE];
	uint32_t lens[MAX_MERGE];
	int nbuf = 0;
	while (done < total) {
		struct vq_chain *c = nbuf ? &n->chain : &n->first;
		int r = nbuf < MAX_MERGE ? virtio_pop(v, q, c, "receive queue") : 0;
		if (r < 0)
			return 1;
		if (r == 0) {
			virtq_unpop(q, (uint16_t)nbuf);
			if (nbuf == MAX_MERGE) { /* buffers too small for this frame: drop it */
				n->rx_dropped++;
				n->frame_len = 0;
				return 1;
			}
			return 0;
		}
		if (c->bad || c->nr || !c->wlen || (nbuf == 0 && c->wlen < hlen)) {
			/* not a receive buffer: hand it back empty, drop the frame */
			for (int i = 0; i < nbuf; i++)
				virtq_push(q, v->mem, heads[i], 0);
			virtq_push(q, v->mem, c->head, 0);
			n->rx_dropped++;
			n->frame_len = 0;
			return 1;
		}
		size_t room = c->wlen < total - done ? c->wlen : total - done, put = 0;
		if (nbuf == 0) {
			put = iov_copy(c->iov + c->nr, c->nw, 0, (uint8_t *)hdr, hlen, true);
			put += iov_copy(c->iov + c->nr, c->nw, hlen, (uint8_t *)data, room - hlen, true);
		} else {
			put = iov_copy(c->iov + c->nr, c->nw, 0, (uint8_t *)data + (done - hlen), room, true);
		}
		heads[nbuf] = c->head;
		lens[nbuf++] = (uint32_t)put;
		done += put;
		if (!mrg && done < total) { /* one buffer must hold it all */
			virtq_push(q, v->mem, c->head, 0);
			n->rx_dropped++;
			n->frame_len = 0;
			return 1;
		}
	}
	if (hlen == NET_HDR_LEN) {
		uint8_t nb[2];
		put_le16(nb, (uint16_t)nbuf);
		iov_copy(n->first.iov + n->first.nr, n->first.nw, HDR_NUM_BUFFERS, nb, 2, true);
	}
	for (int i = 0; i < nbuf; i++)
		virtq_push(q, v->mem, heads[i], lens[i]);
	n->rx_frames++;
	n->frame_len = 0;
	return 1;
}

/* Returns whether the backend should be polled for more frames (the ring
 * has room). */
static bool process_rx(struct virtio_net *n)
{
	struct virtio_dev *v = &n->vdev;
	struct virtq *q = virtio_queue(v, RXQ);
	if (!q) {
		/* No driver: what arrives is dropped, as a cable to a NIC
		 * that is not up. */
		for (int i = 0; i < BATCH && (n->frame_len || rx_fetch(n, 0)); i++) {
			n->frame_len = 0;
			n->rx_dropped++;
		}
		return true;
	}
	uint64_t feats = v->guest_features;
	unsigned gen = v->gen;
	size_t hlen = hdr_len(v);
	bool mrg = feats & F_MRG_RXBUF;
	uint16_t old = q->used_idx;
	bool room = true;
	for (int i = 0; i < BATCH && !v->broken; i++) {
		if (!n->frame_len) {
			pthread_mutex_unlock(&v->lock); /* net_recv may copy 64 KiB */
			bool got = rx_fetch(n, feats);
			pthread_mutex_lock(&v->lock);
			if (!got || gen != v->gen || !virtio_queue(v, RXQ))
				break;
		}
		if (!rx_deliver(n, q, hlen, mrg)) {
			room = false;
			break;
		}
	}
	if (gen == v->gen && q->used_idx != old && virtq_need_irq(q, v->mem, old))
		virtio_queue_irq(v, RXQ);
	return room;
}

/* ---- control ------------------------------------------------------------------ */

static bool process_ctrl(struct virtio_net *n)
{
	struct virtio_dev *v = &n->vdev;
	struct virtq *q = virtio_queue(v, CTRLQ);
	uint16_t old = q ? q->used_idx : 0;
	int i = 0;
	for (; q && i < BATCH && !v->broken; i++) {
		if (virtio_pop(v, q, &n->chain, "control queue") <= 0)
			break;
		struct vq_chain *c = &n->chain;
		uint8_t cmd[2] = { 0xff, 0xff }, ack = CTRL_ERR;
		if (c->bad || c->rlen < 2 || c->wlen < 1) {
			virtq_push(q, v->mem, c->head, 0);
			continue;
		}
		iov_copy(c->iov, c->nr, 0, cmd, 2, false);
		/* Receive modes and MAC filters: hal passes every frame, so both
		 * are already true; a changed MAC is what the guest sends with. */
		if (cmd[0] == CTRL_RX || cmd[0] == CTRL_MAC)
			ack = CTRL_OK;
		iov_copy(c->iov + c->nr, c->nw, c->wlen - 1, &ack, 1, true);
		virtq_push(q, v->mem, c->head, (uint32_t)c->wlen);
	}
	if (q && q->used_idx != old && virtq_need_irq(q, v->mem, old))
		virtio_queue_irq(v, CTRLQ);
	return i == BATCH;
}

/* The backend's offloads follow what the guest accepts (tap: TUNSETOFFLOAD):
 * without GUEST_CSUM/TSO the host kernel checksums and segments for it.
 * The spec lets a driver take TSO only with CSUM, and ECN only with TSO;
 * a guest that takes them alone gets the set that makes sense (the tap
 * refuses the others), so a guest cannot make hal warn at will. */
static void sync_offloads(struct virtio_net *n)
{
	uint64_t want = n->vdev.guest_features & (F_GUEST_CSUM | F_GUEST_TSO4 | F_GUEST_TSO6 | F_GUEST_ECN);
	if (!(want & F_GUEST_CSUM))
		want = 0;
	if (!(want & (F_GUEST_TSO4 | F_GUEST_TSO6)))
		want &= ~F_GUEST_ECN;
	if (!n->be.vnet_hdr || want == n->offload_feats)
		return;
	n->offload_feats = want;
	if (net_set_offload(&n->be, want & F_GUEST_CSUM, want & F_GUEST_TSO4, want & F_GUEST_TSO6, want & F_GUEST_ECN,
			    false) < 0 && !n->offload_warned) {
		n->offload_warned = true;
		warnx("virtio-net: cannot set the backend's offloads: %s (said once)", strerror(errno));
	}
}

void virtio_net_process(struct virtio_net *n)
{
	struct virtio_dev *v = &n->vdev;
	pthread_mutex_lock(&v->lock);
	if (v->status & VIRTIO_S_DRIVER_OK)
		sync_offloads(n);
	for (bool more = true; more;) { /* both, every round */
		more = process_ctrl(n);
		more = process_tx(n) || more;
	}
	process_rx(n);
	pthread_mutex_unlock(&v->lock);
}

/* ---- vhost-net ----------------------------------------------------------------- */

static void wake(struct virtio_net *n)
{
	uint64_t one = 1;
	if (n->wake_fd >= 0 && write(n->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice */
	}
}

/* The kernel's path needs a backend with a vnet header, the 12-byte header
 * (VERSION_1 or MRG_RXBUF) and both rings in guest RAM. */
static bool vhost_rings(struct virtio_net *n)
{
	struct virtio_dev *v = &n->vdev;
	for (int i = 0; i < 2; i++) {
		struct virtq *q = virtio_queue(v, i);
		struct vhost_ring *r = &n->rings[i];
		if (!q)
			return false;
		r->size = q->size;
		r->last_avail = q->last_avail;
		r->desc = gpa_ptr(v->mem, q->desc, 16ULL * q->size);
		r->avail = gpa_ptr(v->mem, q->avail, 6 + 2ULL * q->size);
		r->used = gpa_ptr(v->mem, q->used, 6 + 8ULL * q->size);
		r->kick = v->kick_fd[i];
		if (!r->desc || !r->avail || !r->used || r->kick < 0 || r->call < 0)
			return false;
	}
	return true;
}

/* msix_changed hook (and after vhost starts or stops): while vhost-net
 * serves the rings and a queue's interrupt is an unmasked MSI-X message,
 * the kernel's "used" eventfd raises it through KVM (irqfd), no hal thread
 * woken; else the I/O thread polls the eventfd and relays it (a masked
 * vector then becomes pending, as virtio_queue_irq does it). A route that
 * KVM refuses leaves the relay: slower, never lost. Under the lock. */
static void irqfd_sync(struct virtio_dev *v)
{
	struct virtio_net *n = (struct virtio_net *)v;
	bool changed = false;
	for (int q = 0; q < 2 && n->irqfd; q++) {
		uint64_t addr = 0;
		uint32_t data = 0;
		bool want = n->vhost_on && virtio_msi_now(v, q, &addr, &data);
		if (want && n->irqfd_on[q] && addr == n->irq_addr[q] && data == n->irq_data[q])
			continue;
		if (!want && !n->irqfd_on[q])
			continue;
		if (want && n->irqfd(n->rings[q].call, &n->irq_gsi[q], addr, data, true) == 0) {
			if (!n->irqfd_on[q])
				dbg("virtio-net: queue %d interrupts through KVM (irqfd, GSI %d)", q, n->irq_gsi[q]);
			n->irq_addr[q] = addr, n->irq_data[q] = data;
		} else {
			if (want)
				dbg("virtio-net: KVM took no irqfd for queue %d (%s): hal relays it", q, strerror(errno));
			n->irqfd(n->rings[q].call, &n->irq_gsi[q], 0, 0, false);
			want = false;
		}
		changed |= want != n->irqfd_on[q];
		n->irqfd_on[q] = want;
	}
	if (changed)
		wake(n);
}

/* status_changed hook: start the kernel's path when the driver is ready,
 * stop it on reset, giving the rings back where the kernel left them. */
static void vhost_sync(struct virtio_dev *v)
{
	struct virtio_net *n = (struct virtio_net *)v;
	bool want = n->vh.fd >= 0 && !n->vhost_failed && (v->status & VIRTIO_S_DRIVER_OK) && !v->broken &&
		    hdr_len(v) == NET_HDR_LEN;
	if (want == n->vhost_on)
		return;
	if (!want) {
		vhost_net_stop(&n->vh, n->rings);
		for (int i = 0; i < 2; i++) {
			struct virtq *q = &v->vq[i];
			q->last_avail = n->rings[i].last_avail;
			const uint16_t *used = gpa_ptr(v->mem, q->used + 2, 2);
			q->used_idx = used ? *used : q->last_avail;
		}
		n->vhost_on = false;
		irqfd_sync(v);
		wake(n);
		return;
	}
	if (!vhost_rings(n))
		return;
	sync_offloads(n);
	if (vhost_net_start(&n->vh, v->mem, v->guest_features, n->rings, n->be.fd) < 0) {
		warnx("virtio-net: vhost-net refused the rings (%s): using hal's own path", strerror(errno));
		n->vhost_failed = true;
		return;
	}
	n->vhost_on = true;
	dbg("virtio-net: rings handed to vhost-net");
	irqfd_sync(v);
	wake(n);
}

/* ---- the I/O thread ----------------------------------------------------------- */

static void *io_thread(void *arg)
{
	struct virtio_net *n = arg;
	struct virtio_dev *v = &n->vdev;
	bool want_rx = true, again = false;
	if (hal_confine(HAL_THREAD_IO) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&v->lock);
		bool kernel = n->vhost_on, direct[2] = { n->irqfd_on[RXQ], n->irqfd_on[TXQ] };
		pthread_mutex_unlock(&v->lock);
		/* With vhost-net the kernel reads the receive and transmit kicks and
		 * the backend; hal waits for its "used" signals instead, unless
		 * KVM takes them to the guest itself (irqfd). */
		struct pollfd p[6] = {
			{ kernel ? (direct[RXQ] ? -1 : n->rings[RXQ].call) : v->kick_fd[RXQ], POLLIN, 0 },
			{ kernel ? (direct[TXQ] ? -1 : n->rings[TXQ].call) : v->kick_fd[TXQ], POLLIN, 0 },
			{ v->kick_fd[CTRLQ], POLLIN, 0 },
			{ n->stop_fd, POLLIN, 0 },
			{ kernel ? -1 : n->be.fd, (short)((want_rx ? POLLIN : 0) | (n->tx_blocked ? POLLOUT : 0)), 0 },
			{ n->wake_fd, POLLIN, 0 },
		};
		if (poll(p, 6, again ? 0 : -1) < 0 && errno != EINTR)
			break;
		if (p[3].revents)
			break;
		uint64_t cnt;
		for (int i = 0; i < 6; i++)
			if (i != 3 && i != 4 && p[i].revents && read(p[i].fd, &cnt, sizeof(cnt)) < 0) {
				/* EAGAIN: another wake-up took it */
			}
		if (kernel) {
			pthread_mutex_lock(&v->lock);
			for (int q = 0; q < 2; q++)
				if (p[q].revents && n->vhost_on)
					virtio_queue_irq(v, q);
			again = process_ctrl(n);
			pthread_mutex_unlock(&v->lock);
			continue;
		}
		if (p[4].revents & (POLLERR | POLLNVAL)) {
			warnx("virtio-net: the host side of %s is gone", n->be.ifname[0] ? n->be.ifname : "the NIC");
			break;
		}
		pthread_mutex_lock(&v->lock);
		if (v->status & VIRTIO_S_DRIVER_OK)
			sync_offloads(n);
		/* A full batch may have left chains: look again without waiting. */
		again = process_ctrl(n);
		again |= process_tx(n);
		want_rx = process_rx(n);
		pthread_mutex_unlock(&v->lock);
	}
	return NULL;
}

/* ---- creation ------------------------------------------------------------------ */

struct virtio_net *virtio_net_new(const struct net_backend *be, const uint8_t mac[6])
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->be = *be;
	n->stop_fd = n->wake_fd = n->rings[0].call = n->rings[1].call = -1;
	n->irq_gsi[0] = n->irq_gsi[1] = -1;
	n->vh.fd = -1;
	memcpy(n->mac, mac, 6);
	struct virtio_dev *v = &n->vdev;
	virtio_pci_init(v, "virtio-net", 0x1000, 1, 0x020000, 3, QSIZE);
	v->mem = the_vm ? &the_vm->mem : NULL;
	v->notify = virtio_kick;
	v->msix_changed = irqfd_sync; /* nothing to do without vhost-net's rings */
	v->host_features = VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT | VIRTIO_RING_F_EVENT_IDX | F_MAC | F_STATUS |
			   F_MRG_RXBUF | F_CTRL_VQ | F_CTRL_RX;
	if (be->vnet_hdr) /* the host kernel finishes checksums and segments */
		v->host_features |= F_CSUM | F_HOST_TSO4 | F_HOST_TSO6 | F_HOST_ECN | F_GUEST_CSUM | F_GUEST_TSO4 |
				    F_GUEST_TSO6 | F_GUEST_ECN;
	memcpy(v->config, mac, 6);
	put_le16(v->config + 6, S_LINK_UP);
	put_le16(v->config + 8, 1); /* max_virtqueue_pairs */
	v->config_len = 12;
	return n;
}

void virtio_net_free(struct virtio_net *n)
{
	if (!n)
		return;
	pci_unregister(&n->vdev.pci);
	if (n->started)
		virtio_stop_thread(n->stop_fd, n->thread);
	pthread_mutex_lock(&n->vdev.lock);
	n->vhost_failed = true; /* vhost_sync stops the kernel's path */
	vhost_sync(&n->vdev);
	pthread_mutex_unlock(&n->vdev.lock);
	vhost_net_close(&n->vh);
	int fds[] = { n->stop_fd, n->wake_fd, n->rings[0].call, n->rings[1].call };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (int q = 0; q < 3; q++)
		if (n->vdev.kick_fd[q] >= 0)
			close(n->vdev.kick_fd[q]);
	if (n->vh.fd >= 0)
		dbg("virtio-net %02x:%02x:%02x:%02x:%02x:%02x: frames carried by vhost-net; hal's own path: %llu in "
		    "(%llu dropped), %llu out (%llu dropped)", n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4],
		    n->mac[5], (unsigned long long)n->rx_frames, (unsigned long long)n->rx_dropped,
		    (unsigned long long)n->tx_frames, (unsigned long long)n->tx_dropped);
	else if (n->rx_frames || n->tx_frames || n->rx_dropped || n->tx_dropped)
		dbg("virtio-net %02x:%02x:%02x:%02x:%02x:%02x: %llu frames in (%llu dropped), %llu out (%llu dropped)",
		    n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], (unsigned long long)n->rx_frames,
		    (unsigned long long)n->rx_dropped, (unsigned long long)n->tx_frames, (unsigned long long)n->tx_dropped);
	net_close(&n->be);
	free(n->rom);
	free(n);
}

int virtio_net_create(const struct net_spec *spec, int index, int slot, const char *rom, char *why, size_t whylen)
{
	if (nnics == MAX_NICS) {
		snprintf(why, whylen, "--net: at most %d NICs", MAX_NICS);
		return -1;
	}
	struct net_backend be;
	if (net_open(spec, index, &be, why, whylen) < 0)
		return -1;
	struct virtio_net *n = virtio_net_new(&be, spec->mac);
	if (!n) {
		net_close(&be);
		snprintf(why, whylen, "--net: out of memory");
		return -1;
	}
	n->stop_fd = eventfd(0, EFD_CLOEXEC);
	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (int q = 0; q < 3; q++)
		n->vdev.kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->stop_fd < 0 || n->wake_fd < 0 || n->vdev.kick_fd[0] < 0 || n->vdev.kick_fd[1] < 0 ||
	    n->vdev.kick_fd[2] < 0) {
		snprintf(why, whylen, "--net: eventfd: %s", strerror(errno));
		virtio_net_free(n);
		return -1;
	}
	/* The kernel's data path when the host has it and the backend is a tap. */
	char vwhy[160] = "the backend is not a tap";
	if (be.vnet_hdr && vhost_net_open(&n->vh, vwhy, sizeof(vwhy)) == 0) {
		n->rings[0].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		n->rings[1].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		n->vdev.status_changed = vhost_sync;
		n->irqfd = vm_irqfd_msi;
	}
	/* the ROM says 1af4:1041; pci_load_rom gives it our transitional 1000 */
	if (rom && !(n->rom = pci_load_rom(&n->vdev.pci, rom)))
		warnx("--net: no network boot ROM (install Debian's ipxe-qemu for PXE)");
	errno = pthread_create(&n->thread, NULL, io_thread, n);
	if (errno) {
		snprintf(why, whylen, "--net: I/O thread: %s", strerror(errno));
		virtio_net_free(n);
		return -1;
	}
	n->started = true;
	if (pci_register(&n->vdev.pci, slot, 0) < 0) {
		snprintf(why, whylen, "--net: PCI slot %d is taken", slot);
		virtio_net_free(n);
		return -1;
	}
	nics[nnics++] = n;
	const uint8_t *m = spec->mac;
	if (n->vh.fd >= 0)
		dbg("virtio-net %02x:%02x:%02x:%02x:%02x:%02x on %s: vhost-net", m[0], m[1], m[2], m[3], m[4], m[5],
		    be.ifname[0] ? be.ifname : "passt");
	else
		dbg("virtio-net %02x:%02x:%02x:%02x:%02x:%02x on %s: user-space path (%s)", m[0], m[1], m[2], m[3],
		    m[4], m[5], be.ifname[0] ? be.ifname : "passt", vwhy);
	return 0;
}

void virtio_net_destroy_all(void)
{
	while (nnics)
		virtio_net_free(nics[--nnics]);
}
