/* Transitional virtio-pci (virtio 1.x §4.1): the legacy interface in I/O
 * BAR0 (SeaBIOS, old drivers), the modern one through vendor capabilities
 * into MMIO BAR4 (Linux, OVMF), MSI-X in BAR1, INTx otherwise. Queue
 * notifications are ioeventfds assigned wherever firmware puts the BARs. */
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/endian.h"
#include "virtio/virtio.h"

/* Register offsets, capability types and layouts come from <linux/virtio_pci.h>:
 * VIRTIO_PCI_* (legacy header, §4.1.4.8), VIRTIO_MSI_* (its MSI-X vectors),
 * VIRTIO_PCI_CAP_* (the vendor capabilities, §4.1.4), VIRTIO_PCI_COMMON_*
 * (struct virtio_pci_common_cfg, §4.1.4.3). Where the structures sit in
 * BAR4 is ours. */
enum { MOD_COMMON = 0x0000, MOD_ISR = 0x1000, MOD_DEVICE = 0x2000, MOD_NOTIFY = 0x3000, MOD_SIZE = 0x4000 };
#define NOTIFY_MULT 4
#define PCICFG_DATA offsetof(struct virtio_pci_cfg_cap, pci_cfg_data) /* 16 */
_Static_assert(sizeof(struct virtio_pci_common_cfg) == 0x38, "virtio 1.0's common configuration");
/* MSI-X (PCI Local Bus 3.0, 6.8.2; <linux/pci_regs.h>): each table entry
 * is {address low, address high, data, vector control}. */
#define MSIX_PBA 0x800
#define MSIX_CTL_HI (PCI_MSIX_FLAGS + 1u)          /* message control, high byte: */
#define MSIX_ENABLE (PCI_MSIX_FLAGS_ENABLE >> 8)   /* 0x80 */
#define MSIX_MASKALL (PCI_MSIX_FLAGS_MASKALL >> 8) /* 0x40 */

static struct virtq *selected(struct virtio_dev *v)
{
	return v->queue_sel < v->nqueues ? &v->vq[v->queue_sel] : NULL;
}

/* ---- interrupts -------------------------------------------------------------- */

static uint8_t msix_ctl(struct virtio_dev *v)
{
	uint8_t b;
	pci_cfg_read(&v->pci, v->msix_cap + MSIX_CTL_HI, &b, 1);
	return b;
}

static void msix_fire(struct virtio_dev *v, unsigned vec)
{
	if (vec >= VIRTIO_MSIX_VECS)
		return;
	if ((msix_ctl(v) & MSIX_MASKALL) || (v->msix[vec][3] & 1)) {
		v->pba |= 1u << vec; /* delivered when unmasked */
		return;
	}
	v->pba &= ~(1u << vec);
	v->signal_msi(v->msix[vec][0] | (uint64_t)v->msix[vec][1] << 32, v->msix[vec][2]);
}

bool virtio_msi_now(struct virtio_dev *v, int q, uint64_t *addr, uint32_t *data)
{
	uint16_t vec = v->vq[q].vector;
	if (!(msix_ctl(v) & MSIX_ENABLE) || (msix_ctl(v) & MSIX_MASKALL) || vec >= VIRTIO_MSIX_VECS ||
	    (v->msix[vec][3] & 1))
		return false;
	*addr = v->msix[vec][0] | (uint64_t)v->msix[vec][1] << 32;
	*data = v->msix[vec][2];
	return true;
}

/* Under the lock, after anything virtio_msi_now reads may have changed. */
static void msix_changed(struct virtio_dev *v)
{
	if (v->msix_changed)
		v->msix_changed(v);
}

static void msix_flush(struct virtio_dev *v)
{
	if (!(msix_ctl(v) & MSIX_ENABLE))
		return;
	for (unsigned vec = 0; vec < VIRTIO_MSIX_VECS; vec++)
		if (v->pba & (1u << vec))
			msix_fire(v, vec);
}

static void raise_irq(struct virtio_dev *v, uint16_t vec, uint8_t isr)
{
	if (msix_ctl(v) & MSIX_ENABLE) {
		if (vec != VIRTIO_NO_VECTOR)
			msix_fire(v, vec);
		return;
	}
	v->isr |= isr;
	pci_set_irq(&v->pci, 1);
}

void virtio_queue_irq(struct virtio_dev *v, int q)
{
	raise_irq(v, v->vq[q].vector, 1);
}

void virtio_set_broken(struct virtio_dev *v, const char *why)
{
	if (v->broken)
		return;
	warnx("%s: %s: device needs reset", v->pci.name, why);
	v->broken = true;
	v->status |= VIRTIO_S_NEEDS_RESET;
	raise_irq(v, v->config_vector, 2);
}

int virtio_pop(struct virtio_dev *v, struct virtq *q, struct vq_chain *c, const char *what)
{
	for (;;) {
		int r = virtq_pop(q, v->mem, c);
		if (r < 0) {
			char why[64];
			snprintf(why, sizeof(why), "malformed %s", what);
			virtio_set_broken(v, why);
			return -1;
		}
		if (r > 0 || !virtq_arm(q, v->mem))
			return r;
	}
}

struct virtq *virtio_queue(struct virtio_dev *v, int q)
{
	struct virtq *vq = &v->vq[q];
	if (q >= v->nqueues || v->broken || !(v->status & VIRTIO_S_DRIVER_OK) || !vq->ready)
		return NULL;
	vq->event_idx = v->guest_features & VIRTIO_RING_F_EVENT_IDX;
	vq->indirect = v->guest_features & VIRTIO_RING_F_INDIRECT;
	return vq;
}

/* ---- status, reset ------------------------------------------------------------ */

static void reset(struct virtio_dev *v)
{
	while (v->inflight) /* let the I/O thread finish touching guest memory */
		pthread_cond_wait(&v->idle, &v->lock);
	v->status = v->isr = 0;
	if (v->status_changed)
		v->status_changed(v);
	v->guest_features = 0;
	v->dev_feat_sel = v->drv_feat_sel = 0;
	v->broken = false;
	v->gen++;
	v->config_vector = VIRTIO_NO_VECTOR;
	v->queue_sel = 0;
	for (int i = 0; i < v->nqueues; i++)
		v->vq[i] = (struct virtq){ .size = v->qmax, .vector = VIRTIO_NO_VECTOR };
	pci_set_irq(&v->pci, 0);
}

static void set_status(struct virtio_dev *v, uint8_t val)
{
	if (!val) {
		reset(v);
		return;
	}
	/* FEATURES_OK sticks only for a subset of ours that includes VERSION_1. */
	if ((val & VIRTIO_S_FEATURES_OK) && !(v->status & VIRTIO_S_FEATURES_OK) &&
	    ((v->guest_features & ~v->host_features) || !(v->guest_features & VIRTIO_F_VERSION_1)))
		val &= (uint8_t)~VIRTIO_S_FEATURES_OK;
	v->status = (uint8_t)(val | (v->broken ? VIRTIO_S_NEEDS_RESET : 0));
	if (v->status_changed)
		v->status_changed(v);
}

static uint8_t read_isr(struct virtio_dev *v)
{
	uint8_t isr = v->isr;
	v->isr = 0;
	pci_set_irq(&v->pci, 0);
	return isr;
}

static uint16_t vector(uint64_t val)
{
	return val < VIRTIO_MSIX_VECS ? (uint16_t)val : VIRTIO_NO_VECTOR;
}

static void notify(struct virtio_dev *v, uint64_t q)
{
	if (q < (uint64_t)v->nqueues && v->notify)
		v->notify(v, (int)q);
}

/* ---- legacy interface: BAR0 ---------------------------------------------------- */

void virtio_legacy_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *v = dev;
	if (len > 8 || off >= VIRTIO_LEGACY_SIZE || len > VIRTIO_LEGACY_SIZE - off) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	int kick = -1;
	pthread_mutex_lock(&v->lock);
	struct virtq *q = selected(v);
	bool msix = msix_ctl(v) & MSIX_ENABLE;
	unsigned cfg = VIRTIO_PCI_CONFIG_OFF(msix);
	if (!is_write) {
		uint8_t img[VIRTIO_LEGACY_SIZE] = { 0 };
		put_le32(img + VIRTIO_PCI_HOST_FEATURES, (uint32_t)v->host_features); /* VERSION_1 is bit 32: never here */
		put_le32(img + VIRTIO_PCI_GUEST_FEATURES, (uint32_t)v->guest_features);
		put_le32(img + VIRTIO_PCI_QUEUE_PFN, q ? (uint32_t)(q->desc >> VIRTIO_PCI_QUEUE_ADDR_SHIFT) : 0);
		put_le16(img + VIRTIO_PCI_QUEUE_NUM, q ? v->qmax : 0);
		put_le16(img + VIRTIO_PCI_QUEUE_SEL, v->queue_sel);
		img[VIRTIO_PCI_STATUS] = v->status;
		if (off <= VIRTIO_PCI_ISR && off + len > VIRTIO_PCI_ISR)
			img[VIRTIO_PCI_ISR] = read_isr(v);
		if (msix) {
			put_le16(img + VIRTIO_MSI_CONFIG_VECTOR, v->config_vector);
			put_le16(img + VIRTIO_MSI_QUEUE_VECTOR, q ? q->vector : VIRTIO_NO_VECTOR);
		}
		memcpy(img + cfg, v->config, v->config_len < VIRTIO_LEGACY_SIZE - cfg ? v->config_len : VIRTIO_LEGACY_SIZE - cfg);
		memcpy(data, img + off, len);
		pthread_mutex_unlock(&v->lock);
		return;
	}
	uint64_t val = get_le(data, len);
	switch (off) {
	case VIRTIO_PCI_GUEST_FEATURES:
		v->guest_features = (uint32_t)(val & v->host_features);
		break;
	case VIRTIO_PCI_QUEUE_PFN: /* the legacy virtqueue layout, 4096-byte alignment */
		if (!q || (q->ready && val))
			break;
		*q = (struct virtq){ .size = v->qmax, .vector = q->vector };
		if (val && val < (1ULL << 40)) {
			q->desc = val << VIRTIO_PCI_QUEUE_ADDR_SHIFT;
			q->avail = q->desc + 16ULL * q->size;
			q->used = (q->avail + 6 + 2ULL * q->size + VIRTIO_PCI_VRING_ALIGN - 1) &
				  ~(uint64_t)(VIRTIO_PCI_VRING_ALIGN - 1);
			q->ready = true;
		}
		break;
	case VIRTIO_PCI_QUEUE_SEL:
		v->queue_sel = (uint16_t)val;
		break;
	case VIRTIO_PCI_QUEUE_NOTIFY:
		kick = (int)(uint16_t)val;
		break;
	case VIRTIO_PCI_STATUS:
		set_status(v, (uint8_t)val);
		break;
	case VIRTIO_MSI_CONFIG_VECTOR:
		if (msix)
			v->config_vector = vector(val);
		break;
	case VIRTIO_MSI_QUEUE_VECTOR:
		if (msix && q)
			q->vector = vector(val);
		msix_changed(v);
		break;
	}
	pthread_mutex_unlock(&v->lock);
	if (kick >= 0)
		notify(v, (uint64_t)kick);
}

/* ---- modern interface: BAR4 ---------------------------------------------------- */

static void common_read(struct virtio_dev *v, uint8_t *img)
{
	struct virtq *q = selected(v);
	put_le32(img + VIRTIO_PCI_COMMON_DFSELECT, v->dev_feat_sel);
	put_le32(img + VIRTIO_PCI_COMMON_DF,
		 v->dev_feat_sel < 2 ? (uint32_t)(v->host_features >> (32 * v->dev_feat_sel)) : 0);
	put_le32(img + VIRTIO_PCI_COMMON_GFSELECT, v->drv_feat_sel);
	put_le32(img + VIRTIO_PCI_COMMON_GF,
		 v->drv_feat_sel < 2 ? (uint32_t)(v->guest_features >> (32 * v->drv_feat_sel)) : 0);
	put_le16(img + VIRTIO_PCI_COMMON_MSIX, v->config_vector);
	put_le16(img + VIRTIO_PCI_COMMON_NUMQ, (uint16_t)v->nqueues);
	img[VIRTIO_PCI_COMMON_STATUS] = v->status;
	img[VIRTIO_PCI_COMMON_CFGGENERATION] = 0; /* the config never changes */
	put_le16(img + VIRTIO_PCI_COMMON_Q_SELECT, v->queue_sel);
	if (!q)
		return;
	put_le16(img + VIRTIO_PCI_COMMON_Q_SIZE, q->size);
	put_le16(img + VIRTIO_PCI_COMMON_Q_MSIX, q->vector);
	put_le16(img + VIRTIO_PCI_COMMON_Q_ENABLE, q->ready);
	put_le16(img + VIRTIO_PCI_COMMON_Q_NOFF, v->queue_sel);
	put_le64(img + VIRTIO_PCI_COMMON_Q_DESCLO, q->desc);
	put_le64(img + VIRTIO_PCI_COMMON_Q_AVAILLO, q->avail);
	put_le64(img + VIRTIO_PCI_COMMON_Q_USEDLO, q->used);
}

static void common_write(struct virtio_dev *v, uint64_t off, uint64_t val, uint32_t len)
{
	struct virtq *q = selected(v);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		v->dev_feat_sel = (uint32_t)val;
		return;
	case VIRTIO_PCI_COMMON_GFSELECT:
		v->drv_feat_sel = (uint32_t)val;
		return;
	case VIRTIO_PCI_COMMON_GF:
		if (v->drv_feat_sel < 2 && !(v->status & VIRTIO_S_FEATURES_OK)) {
			unsigned sh = 32 * v->drv_feat_sel;
			v->guest_features = (v->guest_features & ~(0xffffffffULL << sh)) | (val & 0xffffffffULL) << sh;
		}
		return;
	case VIRTIO_PCI_COMMON_MSIX:
		v->config_vector = vector(val);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		set_status(v, (uint8_t)val);
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		v->queue_sel = (uint16_t)val;
		return;
	}
	if (!q)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		q->vector = vector(val);
		msix_changed(v);
	} else if (q->ready) {
		return; /* the rest is frozen once the queue is enabled */
	} else if (off == VIRTIO_PCI_COMMON_Q_SIZE) {
		if (val && val <= v->qmax && !(val & (val - 1)))
			q->size = (uint16_t)val;
	} else if (off == VIRTIO_PCI_COMMON_Q_ENABLE) {
		q->ready = val == 1;
	} else if (off >= VIRTIO_PCI_COMMON_Q_DESCLO && off < VIRTIO_PCI_COMMON_Q_USEDHI + 4 &&
		   (len == 8 || len == 4)) {
		/* each address is lo, hi from an 8-byte boundary: one 8-byte or two 4-byte writes */
		uint64_t *f = off < VIRTIO_PCI_COMMON_Q_AVAILLO ? &q->desc :
			      off < VIRTIO_PCI_COMMON_Q_USEDLO ? &q->avail : &q->used;
		if (len == 8 && !(off & 7))
			*f = val;
		else if (len == 4 && !(off & 7))
			*f = (*f & ~0xffffffffULL) | val;
		else if (len == 4)
			*f = (*f & 0xffffffffULL) | val << 32;
	}
}

void virtio_modern_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *v = dev;
	uint8_t img[0x40] = { 0 };
	if (!is_write)
		memset(data, 0, len);
	if (len > 8 || off >= MOD_SIZE)
		return;
	pthread_mutex_lock(&v->lock);
	uint64_t rel = off & 0xfff;
	int kick = -1;
	switch (off & ~0xfffULL) {
	case MOD_COMMON:
		if (rel + len > sizeof(img))
			break;
		if (is_write) {
			common_write(v, rel, get_le(data, len), len);
		} else {
			common_read(v, img);
			memcpy(data, img + rel, len);
		}
		break;
	case MOD_ISR:
		if (!is_write && rel == 0)
			data[0] = read_isr(v);
		break;
	case MOD_DEVICE:
		for (uint32_t i = 0; !is_write && i < len && rel + i < v->config_len; i++)
			data[i] = v->config[rel + i];
		break;
	case MOD_NOTIFY:
		if (is_write && rel % NOTIFY_MULT == 0)
			kick = (int)(rel / NOTIFY_MULT);
		break;
	}
	pthread_mutex_unlock(&v->lock);
	if (kick >= 0)
		notify(v, (uint64_t)kick);
}

/* ---- MSI-X: BAR1 --------------------------------------------------------------- */

void virtio_msix_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct virtio_dev *v = dev;
	if (!is_write)
		memset(data, 0, len);
	if ((len != 4 && len != 8) || (off & 3))
		return;
	pthread_mutex_lock(&v->lock);
	for (uint32_t i = 0; i < len; i += 4) {
		uint64_t o = off + i;
		if (o < 16 * VIRTIO_MSIX_VECS) {
			uint32_t *w = &v->msix[o / 16][(o % 16) / 4];
			if (!is_write) {
				put_le32(data + i, *w);
			} else {
				*w = get_le32(data + i);
				if ((o % 16) == 12)
					msix_flush(v); /* maybe unmasked a pending vector */
				msix_changed(v);
			}
		} else if (o == MSIX_PBA && !is_write) {
			put_le32(data + i, v->pba);
		}
	}
	pthread_mutex_unlock(&v->lock);
}

/* ---- config space hooks -------------------------------------------------------- */

static __thread bool storing; /* our own write of the PCI_CFG window */

static bool overlaps(unsigned off, unsigned len, unsigned at, unsigned n)
{
	return off < at + n && at < off + len;
}

/* VIRTIO_PCI_CAP_PCI_CFG: an access window into the BARs through config
 * space. pci.c has no read hook, so the data is fetched when the driver
 * writes the length field (its last step before reading, SeaBIOS and the
 * spec's order: bar, offset, length, data), and written through when the
 * driver stores data. */
static void pcicfg_access(struct virtio_dev *v, bool is_write)
{
	uint8_t f[sizeof(struct virtio_pci_cfg_cap)];
	pci_cfg_read(&v->pci, v->pcicfg_cap, f, sizeof(f));
	unsigned bar = f[VIRTIO_PCI_CAP_BAR];
	uint32_t off = get_le32(f + VIRTIO_PCI_CAP_OFFSET), len = get_le32(f + VIRTIO_PCI_CAP_LENGTH);
	if (bar > 5 || !v->pci.bar[bar].size || (len != 1 && len != 2 && len != 4) || off % len ||
	    off > v->pci.bar[bar].size - len)
		return;
	struct pci_bar *b = &v->pci.bar[bar];
	if (is_write) {
		b->fn(b->dev, off, f + PCICFG_DATA, len, true);
		return;
	}
	uint8_t buf[4] = { 0 };
	b->fn(b->dev, off, buf, len, false);
	storing = true;
	pci_cfg_write(&v->pci, v->pcicfg_cap + PCICFG_DATA, buf, 4);
	storing = false;
}

static void cfg_written(struct pci_dev *d, unsigned off, unsigned len)
{
	struct virtio_dev *v = d->priv;
	if (storing)
		return;
	if (overlaps(off, len, v->msix_cap + PCI_MSIX_FLAGS, 2)) {
		pthread_mutex_lock(&v->lock);
		msix_flush(v);
		msix_changed(v);
		pthread_mutex_unlock(&v->lock);
	}
	if (overlaps(off, len, v->pcicfg_cap + PCICFG_DATA, 4))
		pcicfg_access(v, true);
	else if (overlaps(off, len, v->pcicfg_cap + VIRTIO_PCI_CAP_LENGTH, 4))
		pcicfg_access(v, false);
}

/* Called with the PCI lock held: touches only the ioeventfd bookkeeping. */
static void bar_moved(struct pci_dev *d, int bar, bool mapped, uint64_t addr)
{
	struct virtio_dev *v = d->priv;
	int k = bar == 0 ? 0 : bar == 4 ? 1 : -1;
	if (k < 0)
		return;
	/* Legacy has one notify register for all queues: queue 0 only there. */
	int nq = k == 0 ? 1 : v->nqueues;
	for (int q = 0; q < nq; q++) {
		uint64_t at = k == 0 ? VIRTIO_PCI_QUEUE_NOTIFY : MOD_NOTIFY + NOTIFY_MULT * (uint64_t)q;
		if (v->ioev_on[k] & (1u << q))
			v->ioeventfd(v->ioev_addr[k] + at, 2, k == 0, v->kick_fd[q], false);
		v->ioev_on[k] &= ~(1u << q);
		if (mapped && v->kick_fd[q] >= 0 && v->ioeventfd(addr + at, 2, k == 0, v->kick_fd[q], true) == 0)
			v->ioev_on[k] |= 1u << q;
	}
	v->ioev_addr[k] = addr;
}

/* ---- set-up -------------------------------------------------------------------- */

static void vendor_cap(struct virtio_dev *v, uint8_t type, uint8_t bar, uint32_t off, uint32_t len, uint8_t caplen)
{
	uint8_t at = pci_add_cap(&v->pci, PCI_CAP_ID_VNDR, caplen), *c = v->pci.cfg + at;
	c[VIRTIO_PCI_CAP_LEN] = caplen;
	c[VIRTIO_PCI_CAP_CFG_TYPE] = type;
	c[VIRTIO_PCI_CAP_BAR] = bar;
	put_le32(c + VIRTIO_PCI_CAP_OFFSET, off);
	put_le32(c + VIRTIO_PCI_CAP_LENGTH, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		put_le32(c + VIRTIO_PCI_NOTIFY_CAP_MULT, NOTIFY_MULT);
	if (type == VIRTIO_PCI_CAP_PCI_CFG) { /* the driver writes bar, offset, length and data */
		v->pcicfg_cap = at;
		v->pci.wmask[at + VIRTIO_PCI_CAP_BAR] = 0xff;
		memset(v->pci.wmask + at + VIRTIO_PCI_CAP_OFFSET, 0xff,
		       sizeof(struct virtio_pci_cfg_cap) - VIRTIO_PCI_CAP_OFFSET);
	}
}

void virtio_pci_init(struct virtio_dev *v, const char *name, uint16_t legacy_id, uint16_t type, uint32_t class_code,
		     int nqueues, uint16_t qmax)
{
	pci_dev_init(&v->pci, name, 0x1af4, legacy_id, class_code, 0, 0x1af4, type);
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->idle, NULL);
	v->pci.priv = v;
	v->pci.cfg[0x3d] = 1; /* INTA# */
	v->pci.cfg_written = cfg_written;
	v->pci.bar_moved = bar_moved;
	v->nqueues = nqueues;
	v->qmax = qmax;
	v->signal_msi = vm_signal_msi;
	v->ioeventfd = vm_ioeventfd;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		v->kick_fd[i] = -1;
	for (int i = 0; i < VIRTIO_MSIX_VECS; i++)
		v->msix[i][3] = 1; /* masked */
	pci_add_bar(&v->pci, 0, VIRTIO_LEGACY_SIZE, PCI_BAR_IO, virtio_legacy_io, v);
	pci_add_bar(&v->pci, 1, 0x1000, PCI_BAR_MEM, virtio_msix_io, v);
	pci_add_bar(&v->pci, 4, MOD_SIZE, PCI_BAR_MEM | PCI_BAR_64 | PCI_BAR_PREFETCH, virtio_modern_io, v);

	uint8_t at = pci_add_cap(&v->pci, PCI_CAP_ID_MSIX, 12);
	v->msix_cap = at;
	put_le16(v->pci.cfg + at + PCI_MSIX_FLAGS, VIRTIO_MSIX_VECS - 1); /* table size - 1 */
	v->pci.wmask[at + MSIX_CTL_HI] = MSIX_ENABLE | MSIX_MASKALL;
	put_le32(v->pci.cfg + at + PCI_MSIX_TABLE, 0 | 1);      /* table at BAR1 + 0 */
	put_le32(v->pci.cfg + at + PCI_MSIX_PBA, MSIX_PBA | 1); /* PBA at BAR1 + 0x800 */
	const uint8_t vcap = sizeof(struct virtio_pci_cap), ncap = sizeof(struct virtio_pci_notify_cap);
	vendor_cap(v, VIRTIO_PCI_CAP_COMMON_CFG, 4, MOD_COMMON, sizeof(struct virtio_pci_common_cfg), vcap);
	vendor_cap(v, VIRTIO_PCI_CAP_ISR_CFG, 4, MOD_ISR, 1, vcap);
	vendor_cap(v, VIRTIO_PCI_CAP_DEVICE_CFG, 4, MOD_DEVICE, VIRTIO_CONFIG_MAX, vcap);
	vendor_cap(v, VIRTIO_PCI_CAP_NOTIFY_CFG, 4, MOD_NOTIFY, NOTIFY_MULT * (uint32_t)nqueues, ncap);
	vendor_cap(v, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, sizeof(struct virtio_pci_cfg_cap));
	pthread_mutex_lock(&v->lock);
	reset(v);
	pthread_mutex_unlock(&v->lock);
}

/* ---- the devices' I/O threads ------------------------------------------------------ */

void virtio_kick(struct virtio_dev *v, int q)
{
	uint64_t one = 1;
	if (v->kick_fd[q] >= 0 && write(v->kick_fd[q], &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice */
	}
}

void virtio_stop_thread(int stop_fd, pthread_t thread)
{
	uint64_t one = 1;
	if (write(stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(thread, NULL);
}

void virtio_serve_queue(struct virtio_dev *v, int qi, struct vq_chain *c, unsigned batch,
			uint32_t (*serve)(void *ctx, const struct vq_chain *c), void *ctx)
{
	pthread_mutex_lock(&v->lock);
	unsigned gen = v->gen;
	struct virtq *q = virtio_queue(v, qi);
	uint16_t old = q ? q->used_idx : 0;
	while (q && gen == v->gen && !v->broken) {
		if (virtio_pop(v, q, c, "virtqueue") <= 0)
			break;
		v->inflight++;
		pthread_mutex_unlock(&v->lock);
		uint32_t len = serve(ctx, c);
		pthread_mutex_lock(&v->lock);
		if (--v->inflight == 0)
			pthread_cond_broadcast(&v->idle);
		if (gen != v->gen)
			break; /* reset meanwhile: the chain is forgotten */
		if (len == VIRTIO_SERVE_LATER) {
			virtq_unpop(q, 1);
			break;
		}
		virtq_push(q, v->mem, c->head, len);
		if ((uint16_t)(q->used_idx - old) >= batch) { /* a long pass: complete some now */
			if (virtq_need_irq(q, v->mem, old))
				virtio_queue_irq(v, qi);
			old = q->used_idx;
		}
	}
	if (q && gen == v->gen && q->used_idx != old && virtq_need_irq(q, v->mem, old))
		virtio_queue_irq(v, qi);
	pthread_mutex_unlock(&v->lock);
}
