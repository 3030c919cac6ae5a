/* virtio: split virtqueues (virtq.c), the transitional virtio-pci transport
 * (pci.c) and the block device (blk.c). See docs/virtio.md. */
#ifndef VIRTIO_H
#define VIRTIO_H
#include <sys/uio.h>

#include "core/hal.h"
#include "disk/disk.h"
#include "hw/pci.h"

/* ---- split virtqueue (virtq.c): no PCI, no KVM ----------------------------- */

#define VQ_DESC_F_NEXT     1
#define VQ_DESC_F_WRITE    2
#define VQ_DESC_F_INDIRECT 4
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_MAX_SEGS 256 /* buffers in one chain, indirect tables included */

struct virtq {
	uint16_t size;                /* entries; a power of two */
	bool ready;
	bool event_idx, indirect;     /* negotiated ring features */
	uint64_t desc, avail, used;   /* guest physical addresses */
	uint16_t last_avail, used_idx; /* the device's own copies, never read back */
	uint16_t vector;              /* MSI-X vector (transport) */
};

/* One request: readable buffers iov[0..nr), then writable iov[nr..nr+nw).
 * A buffer whose address is not guest RAM has iov_base NULL and sets bad. */
struct vq_chain {
	uint16_t head;
	bool bad;   /* buffer outside RAM, readable after writable, total past 4 GiB */
	unsigned nr, nw;
	uint64_t rlen, wlen;
	struct iovec iov[VQ_MAX_SEGS];
};

/* 1: a chain was taken; 0: ring empty; -1: the ring is malformed (the device
 * must be marked broken). */
int virtq_pop(struct virtq *q, const struct guest_mem *m, struct vq_chain *c);
void virtq_push(struct virtq *q, const struct guest_mem *m, uint16_t head, uint32_t len);
/* Give back the last n chains popped and not pushed: the next pops see them
 * again (a receive that did not fit). */
void virtq_unpop(struct virtq *q, uint16_t n);
/* After pushes since used index `old`: does the driver want an interrupt? */
bool virtq_need_irq(struct virtq *q, const struct guest_mem *m, uint16_t old);
/* EVENT_IDX only: publish avail_event = last_avail; true if more arrived. */
bool virtq_arm(struct virtq *q, const struct guest_mem *m);

/* ---- virtio-pci transport (pci.c) ------------------------------------------ */

#define VIRTIO_F_VERSION_1     (1ULL << 32)
#define VIRTIO_RING_F_INDIRECT (1ULL << 28)
#define VIRTIO_RING_F_EVENT_IDX (1ULL << 29)
#define VIRTIO_S_ACK 1
#define VIRTIO_S_DRIVER 2
#define VIRTIO_S_DRIVER_OK 4
#define VIRTIO_S_FEATURES_OK 8
#define VIRTIO_S_NEEDS_RESET 0x40
#define VIRTIO_NO_VECTOR 0xffff
#define VIRTIO_MAX_QUEUES 4      /* virtio-net: receive, transmit, control; virtio-blk: BLK_MAX_QUEUES */
#define VIRTIO_MSIX_VECS 5       /* config + a vector per queue */
#define VIRTIO_LEGACY_SIZE 0x80  /* BAR0: 24-byte header + device config */
#define VIRTIO_CONFIG_MAX 64

struct virtio_dev {
	struct pci_dev pci;
	pthread_mutex_t lock;         /* everything below; taken before the PCI lock */
	pthread_cond_t idle;          /* inflight dropped to 0 */
	const struct guest_mem *mem;
	uint64_t host_features, guest_features;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint8_t status, isr;
	bool broken;
	unsigned gen;                 /* bumped by every reset */
	int inflight;                 /* requests being served outside the lock */
	uint16_t config_vector, queue_sel, qmax;
	int nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t config[VIRTIO_CONFIG_MAX];
	unsigned config_len;
	uint8_t msix_cap, pcicfg_cap;
	uint32_t msix[VIRTIO_MSIX_VECS][4]; /* addr lo, addr hi, data, control */
	uint32_t pba;
	int kick_fd[VIRTIO_MAX_QUEUES];     /* ioeventfd per queue, -1: none */
	uint64_t ioev_addr[2];              /* BAR0, BAR4 base when ioeventfds were assigned */
	unsigned ioev_on[2];                /* bit q: queue q's ioeventfd is assigned */
	/* A notify write that reached hal (no ioeventfd): called without the lock. */
	void (*notify)(struct virtio_dev *v, int q);
	/* Optional: the driver changed the status or reset the device (status 0,
	 * queues not yet cleared). Called with the lock held. */
	void (*status_changed)(struct virtio_dev *v);
	/* Optional: the MSI-X table, its enable/mask bits or a queue's vector
	 * changed (what virtio_msi_now says may differ). With the lock held. */
	void (*msix_changed)(struct virtio_dev *v);
	/* Replaceable for unit tests. */
	int (*signal_msi)(uint64_t addr, uint32_t data);
	int (*ioeventfd)(uint64_t addr, uint32_t len, bool pio, int fd, bool assign);
};

void virtio_pci_init(struct virtio_dev *v, const char *name, uint16_t legacy_id, uint16_t type, uint32_t class_code,
		     int nqueues, uint16_t qmax);
/* These are called with v->lock held. */
void virtio_queue_irq(struct virtio_dev *v, int q);
/* Queue q's interrupt would go out now as the MSI (*addr, *data): MSI-X on,
 * the function and the queue's vector unmasked. */
bool virtio_msi_now(struct virtio_dev *v, int q, uint64_t *addr, uint32_t *data);
void virtio_set_broken(struct virtio_dev *v, const char *why);
/* The queue if the driver is live and the queue usable, else NULL. */
struct virtq *virtio_queue(struct virtio_dev *v, int q);
/* The next chain of q into c: 1; 0 when the ring is empty (with EVENT_IDX
 * the driver is asked for a notification first, and a chain that came in
 * meanwhile is taken); -1 when the ring is malformed, and the device is
 * then broken ("malformed <what>"). With v->lock held. */
int virtio_pop(struct virtio_dev *v, struct virtq *q, struct vq_chain *c, const char *what);

/* A notify that reached a BAR handler: wakes the I/O thread the way the
 * queue's ioeventfd would (the devices' notify hook). */
void virtio_kick(struct virtio_dev *v, int q);
/* Tells an I/O thread to end through its stop eventfd and joins it. */
void virtio_stop_thread(int stop_fd, pthread_t thread);

/* One I/O thread's pass over queue qi, for devices that answer each chain
 * by itself, one at a time (rng; blk keeps its own loop, which has reads and
 * writes in flight together): chains are popped into *c until the ring is empty
 * (event index armed), each is handed to serve() without v->lock held
 * (counted in v->inflight, so a reset waits for it), and its used length
 * pushed; serve() returning VIRTIO_SERVE_LATER puts the chain back and ends
 * the pass. The queue's interrupt follows every `batch` completions and the
 * end of the pass. A malformed ring marks the device broken; a reset during
 * serve() forgets that chain. */
#define VIRTIO_SERVE_LATER UINT32_MAX
void virtio_serve_queue(struct virtio_dev *v, int qi, struct vq_chain *c, unsigned batch,
			uint32_t (*serve)(void *ctx, const struct vq_chain *c), void *ctx);

/* BAR handlers, exposed for unit tests. */
void virtio_legacy_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
void virtio_modern_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
void virtio_msix_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

/* ---- virtio-blk (blk.c) ---------------------------------------------------- */

enum { VIRTIO_BLK_T_IN = 0, VIRTIO_BLK_T_OUT = 1, VIRTIO_BLK_T_FLUSH = 4, VIRTIO_BLK_T_GET_ID = 8,
       VIRTIO_BLK_T_DISCARD = 11, VIRTIO_BLK_T_WRITE_ZEROES = 13 };
enum { VIRTIO_BLK_S_OK = 0, VIRTIO_BLK_S_IOERR = 1, VIRTIO_BLK_S_UNSUPP = 2 };

#define BLK_MAX_QUEUES VIRTIO_MAX_QUEUES

struct virtio_blk {
	struct virtio_dev vdev;
	struct disk *disk;            /* the image or device: path, ro, size; own, or borrowed */
	struct disk own;              /* virtio_blk_new's, opened from its spec; not open otherwise */
	char serial[DISK_SERIAL_MAX + 1]; /* GET_ID: serial=S or "hal-disk<index>" */
	int stop_fd;
	pthread_t thread;
	bool started;
	struct vq_chain chain[DISK_QUEUE]; /* the requests being served: one, or those in flight on the disk */
	bool queued[DISK_QUEUE];      /* chain[i] is in flight on the disk */
	bool wr[DISK_QUEUE];          /* ...and a write */
	int qi[DISK_QUEUE];           /* chain[i]'s virtqueue */
	uint8_t *status[DISK_QUEUE];  /* its status byte */
	uint32_t used[DISK_QUEUE];    /* its used length when it succeeds */
	uint64_t sector[DISK_QUEUE];  /* its first sector, for the message when it fails */
	unsigned long host_errors;    /* reads, writes, flushes the host failed */
};

/* A virtio-blk at PCI 00:<slot>.0 over an open disk, with its I/O thread
 * serving `queues` request queues (VIRTIO_BLK_F_MQ when more than one, at
 * most BLK_MAX_QUEUES: the board gives one per vCPU, so each guest CPU
 * submits without taking another's lock).
 * The disk is borrowed: the caller opened it and closes it after
 * virtio_blk_destroy_all (the board keeps its disks across guest resets).
 * Call after vm_create; 0 or -1 with the reason in why. */
int virtio_blk_create(struct disk *d, int slot, int queues, char *why, size_t whylen);
void virtio_blk_destroy_all(void);
/* Without KVM (tests): no PCI registration, no thread; set vdev.mem, then
 * drive the BAR handlers and virtio_blk_process. virtio_blk_new opens the
 * spec and owns that disk (virtio_blk_free closes it); virtio_blk_new_disk
 * borrows an open one, as virtio_blk_create does. */
struct virtio_blk *virtio_blk_new(const char *spec, int index, int queues, char *why, size_t whylen);
struct virtio_blk *virtio_blk_new_disk(struct disk *d, int index, int queues, char *why, size_t whylen);
void virtio_blk_free(struct virtio_blk *b);
void virtio_blk_process(struct virtio_blk *b);

/* ---- virtio-rng (rng.c) -------------------------------------------------------- */

#define RNG_UNLIMITED UINT64_MAX  /* --rng unlimited */
#define RNG_RATE_MAX  (1ULL << 30) /* bytes/s: larger rates are refused by --rng */

struct virtio_rng {
	struct virtio_dev vdev;
	uint64_t rate;                /* bytes/s; 0: no limit */
	uint64_t tokens, last;        /* the bucket: bytes left, refilled up to this time (ns) */
	uint64_t (*now)(void);        /* CLOCK_MONOTONIC in ns; replaceable for tests */
	uint64_t bytes;               /* given to the guest */
	int stop_fd;
	pthread_t thread;
	bool started;
	struct vq_chain chain;
};

/* At PCI 00:<slot>.0 with its I/O thread; rate bytes/s or RNG_UNLIMITED.
 * 0, or -1 with why. */
int virtio_rng_create(uint64_t rate, int slot, char *why, size_t whylen);
void virtio_rng_destroy(void);
/* Without KVM (tests): no PCI, no thread; set vdev.mem, drive the BAR
 * handlers, then virtio_rng_process: returns -1, or the ms to wait for
 * tokens when chains were held back. */
struct virtio_rng *virtio_rng_new(uint64_t rate);
void virtio_rng_free(struct virtio_rng *r);
int virtio_rng_process(struct virtio_rng *r);

/* ---- virtio-net (net.c) ------------------------------------------------------- */

#include "net/net.h"
#include "net/vhost.h"

#define VIRTIO_NET_FRAME_MAX (65535 + 14 + 4) /* a 64 KiB GSO packet, its Ethernet and VLAN headers */

struct virtio_net {
	struct virtio_dev vdev;
	struct net_backend be;
	uint8_t mac[6];
	int stop_fd;
	pthread_t thread;
	bool started;
	uint8_t *rom;                 /* iPXE, or NULL */
	uint64_t offload_feats;       /* guest features the backend's offloads follow */
	bool offload_warned;          /* the backend refused offloads once: said, not again */
	/* A received frame not yet in the guest's buffers: 12-byte header, data. */
	uint8_t frame[NET_HDR_LEN + VIRTIO_NET_FRAME_MAX];
	size_t frame_len;             /* 0: none */
	bool tx_blocked;              /* the backend said EAGAIN: wait for POLLOUT */
	/* vhost-net: the kernel serves queues 0 and 1 while vhost_on. */
	struct vhost_net vh;
	struct vhost_ring rings[2];
	bool vhost_on, vhost_failed;
	int wake_fd;                  /* the I/O thread looks at vhost_on and irqfd_on again */
	/* With vhost-net, the kernel's "used" signals (rings[q].call) go
	 * straight to the guest as its MSI while virtio_msi_now says so;
	 * else (masked, INTx) the I/O thread relays them. */
	bool irqfd_on[2];
	int irq_gsi[2];
	int (*irqfd)(int fd, int *gsi, uint64_t addr, uint32_t data, bool assign); /* vm_irqfd_msi; tests */
	uint64_t irq_addr[2];
	uint32_t irq_data[2];
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped;
	struct vq_chain chain, first; /* being served; the first chain of a merged receive */
};

/* The NIC of `--net SPEC` (net.h) at PCI 00:<slot>.0 with its I/O thread;
 * `rom`: iPXE for firmware boots, or NULL. 0, or -1 with why. */
int virtio_net_create(const struct net_spec *spec, int index, int slot, const char *rom, char *why, size_t whylen);
void virtio_net_destroy_all(void);
/* Without KVM (tests): the device over an open backend, no PCI, no thread;
 * then drive the BAR handlers and virtio_net_process. */
struct virtio_net *virtio_net_new(const struct net_backend *be, const uint8_t mac[6]);
void virtio_net_free(struct virtio_net *n);
/* Serve what can be served now: transmit, receive, control. */
void virtio_net_process(struct virtio_net *n);
#endif
