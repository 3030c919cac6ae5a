/* Split virtqueues (virtio 1.x §2.7). Everything in the rings is guest
 * controlled: each index, descriptor and length is read once into a local and
 * checked before use; ring indices use acquire/release. */
#include <string.h>

#include "virtio/virtio.h"

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct rings {
	uint8_t *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint16_t *used;  /* flags, idx, {u32 id, u32 len}[size], avail_event */
};

static bool rings(const struct virtq *q, const struct guest_mem *m, struct rings *r)
{
	uint64_t n = q->size, ev = q->event_idx ? 2 : 0;
	if (!n || (q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return false;
	r->desc = gpa_ptr(m, q->desc, 16 * n);
	r->avail = gpa_ptr(m, q->avail, 4 + 2 * n + ev);
	r->used = gpa_ptr(m, q->used, 4 + 8 * n + ev);
	return r->desc && r->avail && r->used;
}

static void add_buf(struct vq_chain *c, const struct guest_mem *m, const struct vq_desc *d)
{
	bool w = d->flags & VQ_DESC_F_WRITE;
	if (!w && c->nw) { /* readable after writable: the request fails */
		c->bad = true;
		return;
	}
	uint64_t *total = w ? &c->wlen : &c->rlen;
	*total += d->len;
	if (*total > UINT32_MAX)
		c->bad = true;
	void *p = gpa_ptr(m, d->addr, d->len);
	if (!p)
		c->bad = true;
	c->iov[c->nr + c->nw] = (struct iovec){ p, d->len };
	if (w)
		c->nw++;
	else
		c->nr++;
}

int virtq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c)
{
	struct rings r;
	if (!rings(q, m, &r))
		return -1;
	uint16_t idx = __atomic_load_n(&r.avail[1], __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(idx - q->last_avail);
	if (!pending)
		return 0;
	if (pending > q->size)
		return -1;
	uint16_t head = __atomic_load_n(&r.avail[2 + q->last_avail % q->size], __ATOMIC_RELAXED);
	q->last_avail++;
	if (head >= q->size)
		return -1;

	memset(c, 0, offsetof(struct vq_chain, iov));
	c->head = head;
	const uint8_t *table = r.desc;
	uint32_t tsize = q->size, budget = q->size, i = head;
	bool first = true;
	for (;;) {
		struct vq_desc d;
		if (budget-- == 0) /* longer than the table: a loop */
			return -1;
		memcpy(&d, table + 16 * i, sizeof(d));
		if (d.flags & VQ_DESC_F_INDIRECT) {
			/* Only as the single descriptor of a chain, never nested. */
			if (!q->indirect || !first || (d.flags & VQ_DESC_F_NEXT) || !d.len || d.len % 16 ||
			    d.len / 16 > VQ_MAX_SEGS)
				return -1;
			table = gpa_ptr(m, d.addr, d.len);
			if (!table)
				return -1;
			tsize = budget = d.len / 16;
			i = 0;
			first = false;
			continue;
		}
		first = false;
		if (c->nr + c->nw == VQ_MAX_SEGS)
			return -1;
		add_buf(c, m, &d);
		if (!(d.flags & VQ_DESC_F_NEXT))
			return 1;
		i = d.next;
		if (i >= tsize)
			return -1;
	}
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

void virtq_push(struct virtq *q, const struct guest_mem *m, uint16_t head, uint32_t len)
{
	struct rings r;
	if (!rings(q, m, &r))
		return;
	uint32_t *e = (uint32_t *)(r.used + 2) + 2 * (q->used_idx % q->size);
	__atomic_store_n(&e[0], head, __ATOMIC_RELAXED);
	__atomic_store_n(&e[1], len, __ATOMIC_RELAXED);
	q->used_idx++;
	__atomic_store_n(&r.used[1], q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_need_irq(struct virtq *q, const struct guest_mem *m, uint16_t old)
{
	struct rings r;
	if (!rings(q, m, &r))
		return false;
	/* The used index store must be visible before we read the driver's
	 * suppression state, or an interrupt can be lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&r.avail[0], __ATOMIC_RELAXED) & VQ_AVAIL_F_NO_INTERRUPT);
	uint16_t ev = __atomic_load_n(&r.avail[2 + q->size], __ATOMIC_RELAXED);
	return (uint16_t)(q->used_idx - ev - 1) < (uint16_t)(q->used_idx - old);
}

bool virtq_arm(struct virtq *q, const struct guest_mem *m)
{
	struct rings r;
	if (!q->event_idx || !rings(q, m, &r))
		return false;
	/* Only with EVENT_IDX: SeaBIOS keeps its own data where avail_event is. */
	__atomic_store_n((uint16_t *)((uint8_t *)r.used + 4 + 8 * q->size), q->last_avail, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&r.avail[1], __ATOMIC_ACQUIRE) != q->last_avail;
}
