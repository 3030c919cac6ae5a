/* Intel 82540EM gigabit NIC ("e1000", PCI 8086:100E) for guests without
 * virtio drivers (docs/network.md, "e1000"): BAR0 the 128 KiB register
 * window, BAR1 the IOADDR/IODATA I/O window, INTx (the 82540EM has no
 * MSI), iPXE in the ROM BAR. Frames go to the same host backends as
 * virtio-net (net/net.h) through hal's own I/O thread: vhost-net is
 * virtio only. Every ring, length and buffer address is guest controlled:
 * what lies outside RAM or past the ring is dropped and counted. */
#ifndef E1000_H
#define E1000_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/hal.h"
#include "hw/pci.h"
#include "net/net.h"

#define E1000_MMIO_SIZE 0x20000       /* BAR0 */
#define E1000_IO_SIZE   0x40          /* BAR1: IOADDR at 0, IODATA at 4 */
#define E1000_REGS      (0x5c00 / 4)  /* registers kept: up to MANC and SWSM */
#define E1000_EEPROM_WORDS 64
#define E1000_TX_MAX    (65536 + 256) /* a TSO payload and its headers */
#define E1000_RX_MAX    NET_FRAME_MAX

/* Register offsets (82540EM manual, 13.4) the code and the tests name. */
enum {
	E1000_CTRL = 0x0000, E1000_STATUS = 0x0008, E1000_EECD = 0x0010, E1000_EERD = 0x0014,
	E1000_MDIC = 0x0020, E1000_ICR = 0x00c0, E1000_ITR = 0x00c4, E1000_ICS = 0x00c8,
	E1000_IMS = 0x00d0, E1000_IMC = 0x00d8, E1000_RCTL = 0x0100, E1000_TCTL = 0x0400,
	E1000_TIPG = 0x0410, E1000_LEDCTL = 0x0e00, E1000_PBA = 0x1000,
	E1000_RDBAL = 0x2800, E1000_RDBAH = 0x2804, E1000_RDLEN = 0x2808, E1000_RDH = 0x2810,
	E1000_RDT = 0x2818, E1000_RDTR = 0x2820,
	E1000_TDBAL = 0x3800, E1000_TDBAH = 0x3804, E1000_TDLEN = 0x3808, E1000_TDH = 0x3810,
	E1000_TDT = 0x3818,
	E1000_MPC = 0x4010, E1000_GPRC = 0x4074, E1000_GPTC = 0x4080, E1000_GORCL = 0x4088,
	E1000_GOTCL = 0x4090, E1000_RNBC = 0x40a0, E1000_TPR = 0x40d0, E1000_TPT = 0x40d4,
	E1000_MTA = 0x5200, E1000_RAL0 = 0x5400, E1000_RAH0 = 0x5404, E1000_VFTA = 0x5600,
	E1000_MANC = 0x5820, E1000_SWSM = 0x5b50,
};
/* Interrupt causes (ICR, ICS, IMS, IMC). */
enum {
	E1000_ICR_TXDW = 0x01, E1000_ICR_TXQE = 0x02, E1000_ICR_LSC = 0x04, E1000_ICR_RXDMT0 = 0x10,
	E1000_ICR_RXO = 0x40, E1000_ICR_RXT0 = 0x80, E1000_ICR_MDAC = 0x200,
};

struct e1000 {
	struct pci_dev pci;
	pthread_mutex_t lock;          /* everything below but the thread's fds */
	const struct guest_mem *mem;
	struct net_backend be;
	uint8_t mac[6];
	uint16_t eeprom[E1000_EEPROM_WORDS];
	uint32_t regs[E1000_REGS];
	uint32_t ioaddr;               /* BAR1's IOADDR */
	uint16_t phy[32];
	/* Microwire bit-banging through EECD: bits shifted in, bits to shift out */
	struct { bool cs, sk; unsigned nin; uint32_t in; unsigned nout; uint16_t addr; bool dout; } ee;
	unsigned gen;                  /* bumped by every reset: a frame in flight belongs to the old one */
	/* The TCP/IP context (the last context descriptor). */
	struct { uint8_t ipcss, ipcso, tucss, tucso; uint16_t ipcse, tucse; uint32_t paylen;
		 uint8_t tucmd, hdrlen; uint16_t mss; } ctx;
	/* The frame being gathered from transmit descriptors up to EOP. */
	uint8_t *tx;                   /* E1000_TX_MAX bytes (e1000_new) */
	size_t tx_len;
	bool tx_bad;                   /* a descriptor of it was outside RAM or it grew too long */
	bool tx_tse, tx_ixsm, tx_txsm, tx_legacy_ic;
	bool tx_vlan;                  /* VLE on the EOP descriptor: the tag goes in on the wire */
	uint16_t tx_vtag;
	uint8_t tx_cso, tx_css;        /* legacy descriptor's checksum offsets */
	/* A frame (or a TSO packet's next segment, built in out[]) the backend
	 * could not take yet (EAGAIN): sent again on POLLOUT before any other
	 * descriptor is read. */
	bool tx_pending;
	size_t tso_off;                /* TSO: payload offset of the next segment */
	unsigned tso_seg;              /* its number */
	uint8_t *out;                  /* E1000_TX_MAX bytes (e1000_new) */
	size_t out_len;                /* TSO: the built segment; 0 none */
	bool tx_blocked;
	/* A received frame not yet in the guest's ring; 4 bytes for the CRC. */
	uint8_t rx[NET_HDR_LEN + E1000_RX_MAX + 4];
	size_t rx_len;                 /* 0: none */
	int rx_vtag;                   /* its stripped VLAN tag, or -1 */
	bool rx_stalled;               /* RXO raised for the frame waiting now */
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped, rx_filtered;
	/* The I/O thread (e1000_create) */
	int stop_fd, wake_fd;
	pthread_t thread;
	bool started;
	uint8_t *rom;
};

/* The NIC of `--net SPEC,model=e1000` at PCI 00:<slot>.0 with its I/O
 * thread; `rom`: iPXE for firmware boots, or NULL. 0, or -1 with why. */
int e1000_create(const struct net_spec *spec, int index, int slot, const char *rom, char *why, size_t whylen);
void e1000_destroy_all(void);
/* Without KVM (tests, fuzzing): the device over an open backend, no PCI
 * registration, no thread; set mem, drive e1000_mmio_io / e1000_pio_io and
 * call e1000_process. e1000_free closes the backend. */
struct e1000 *e1000_new(const struct net_backend *be, const uint8_t mac[6]);
void e1000_free(struct e1000 *d);
/* Serve what can be served now: transmit what the guest queued, receive
 * into the ring. Returns the poll events the I/O thread waits for on the
 * backend: POLLIN only while the receive ring has room, POLLOUT while a
 * frame waits for the backend. *more (if not NULL): a full batch was
 * served and more may be ready without waiting. */
int e1000_process(struct e1000 *d, bool *more);
/* Starts / stops the I/O thread of a device made by e1000_new (e1000_create
 * does it itself). 0 or -1 with errno. */
int e1000_start(struct e1000 *d);
void e1000_stop(struct e1000 *d);
/* BAR handlers. */
void e1000_mmio_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
void e1000_pio_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
#endif
