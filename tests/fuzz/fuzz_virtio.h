/* The guest's side of a virtio-pci device for fuzz_virtio_blk.c and
 * fuzz_virtio_net.c: each operation is a register access through one of
 * the transport's handlers, a store into guest RAM, or a quick standard
 * set-up of every queue (rings at fixed addresses) so that the fuzzer
 * reaches the requests without rediscovering the whole handshake. */
#ifndef FUZZ_VIRTIO_H
#define FUZZ_VIRTIO_H
#include "fuzz.h"
#include "virtio/virtio.h"

#define FZ_RAM 0x10000 /* 64 KiB of guest RAM */
#define FZ_RING(q) (0x1000ULL * 3 * (uint64_t)(q)) /* desc, avail, used: a page each */

static int fz_msi(uint64_t addr, uint32_t data) { return 0; }
static int fz_ioeventfd(uint64_t addr, uint32_t len, bool pio, int fd, bool assign) { return 0; }

static void fz_vwr(struct virtio_dev *v, uint64_t off, uint64_t val, unsigned len)
{
	fz_io(virtio_modern_io, v, off, len, val, true);
}

/* Negotiates feats (what the device offers of them), every queue with qsize
 * entries at FZ_RING(q), DRIVER_OK. */
static void fz_virtio_setup(struct virtio_dev *v, uint64_t feats, uint16_t qsize)
{
	fz_vwr(v, 0x14, 0, 1);
	fz_vwr(v, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER, 1);
	feats = (feats & v->host_features) | VIRTIO_F_VERSION_1;
	fz_vwr(v, 0x08, 0, 4);
	fz_vwr(v, 0x0c, (uint32_t)feats, 4);
	fz_vwr(v, 0x08, 1, 4);
	fz_vwr(v, 0x0c, feats >> 32, 4);
	fz_vwr(v, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK, 1);
	for (int q = 0; q < v->nqueues; q++) {
		fz_vwr(v, 0x16, (uint64_t)q, 2);
		fz_vwr(v, 0x18, qsize, 2);
		fz_vwr(v, 0x20, FZ_RING(q), 8);
		fz_vwr(v, 0x28, FZ_RING(q) + 0x1000, 8);
		fz_vwr(v, 0x30, FZ_RING(q) + 0x2000, 8);
		fz_vwr(v, 0x1c, 1, 2);
	}
	fz_vwr(v, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK, 1);
}

/* One operation on v; kinds 0-5 (of kind % 16) here, the caller's own from 6 (returns
 * false for those, with *o decoded). */
static bool fz_virtio_op(struct fz *f, struct virtio_dev *v, struct guest_mem *m, struct fz_op *o)
{
	switch (o->kind % 16) {
	case 0:
		fz_io(virtio_modern_io, v, o->addr & 0x3fff, o->len, o->val, o->write);
		return true;
	case 1:
		fz_io(virtio_legacy_io, v, o->addr & 0x7f, o->len, o->val, o->write);
		return true;
	case 2:
		fz_io(virtio_msix_io, v, o->addr & 0xfff, o->len, o->val, o->write);
		return true;
	case 3: { /* config space, as 0xCFC would hand it over: at most 4 bytes */
		uint8_t d[8];
		unsigned off = o->addr & 0xff, len = o->len > 4 ? 4 : o->len;
		memcpy(d, &o->val, 8);
		if (o->write)
			pci_cfg_write(&v->pci, off, d, len);
		else
			pci_cfg_read(&v->pci, off, d, len);
		return true;
	}
	case 4: /* guest RAM: the value at addr, or the next n input bytes */
	case 5: {
		uint64_t a = o->addr % FZ_RAM;
		if (o->kind % 16 == 4) {
			if (a + o->len <= FZ_RAM)
				memcpy(m->base + a, &o->val, o->len);
		} else {
			size_t n = (size_t)fz_u(f, 1);
			if (n > FZ_RAM - a)
				n = FZ_RAM - a;
			fz_bytes(f, m->base + a, n);
		}
		return true;
	}
	}
	return false;
}
#endif
