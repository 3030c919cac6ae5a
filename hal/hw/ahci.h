/* AHCI (Serial ATA AHCI 1.3): an ICH9 AHCI controller, PCI 8086:2922, with
 * SATA disks over struct disk (ahci.c) and ATAPI CD-ROM drives backed by an
 * ISO file (atapi.c). The registers are in BAR5 (ABAR); one I/O thread per
 * controller runs the commands the guest issues through PxCI. See
 * docs/storage.md, "AHCI". */
#ifndef AHCI_H
#define AHCI_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/hal.h"
#include "disk/disk.h"
#include "hw/pci.h"

#define AHCI_PORTS 6
#define AHCI_SLOTS 32
#define AHCI_ABAR_SIZE 0x1000
#define AHCI_MAX_PRD 65535          /* PRDTL is 16 bits */
#define ATAPI_SECTOR 2048

/* ---- the CD's medium (atapi.c): one per --cdrom, outlives guest resets ---- */

struct atapi_medium {
	pthread_mutex_t lock;      /* everything below: the control socket and the I/O thread */
	int fd;                    /* the ISO, read-only; -1: no medium (ejected) */
	char path[256];
	uint64_t blocks;           /* 2048-byte sectors */
	unsigned gen;              /* bumped by every new medium: UNIT ATTENTION */
	bool tray_open;            /* the guest or the host opened it */
};

/* Opens PATH read-only as the medium: 0, or -1 with why naming it. */
int atapi_medium_open(struct atapi_medium *m, const char *path, char *why, size_t whylen);
void atapi_medium_close(struct atapi_medium *m);
/* The control socket: eject (path NULL: the tray opens, no medium) or a new
 * medium (the guest gets UNIT ATTENTION once). 0, or -1 with why (the old
 * medium is then kept). Thread safe. */
int atapi_medium_change(struct atapi_medium *m, const char *path, char *why, size_t whylen);

/* The drive's guest-visible state, per port (reset with the port). */
struct atapi {
	struct atapi_medium *m;
	unsigned seen_gen;         /* the medium generation the guest was told of */
	uint8_t key, asc, ascq;    /* sense of the last CHECK CONDITION */
	bool locked;               /* PREVENT MEDIUM REMOVAL */
	uint8_t event;             /* GET EVENT STATUS: media event to report, 0 none */
	bool had_medium;           /* for the removal event */
};

/* The data buffer of one command: the PRDT as host iovecs. */
struct ahci_sg {
	struct iovec *iov;
	unsigned n;
	uint64_t len;              /* bytes the PRDT describes */
};

/* One SCSI command from the PACKET's CDB. Returns the bytes written to the
 * guest (>= 0), or -1: CHECK CONDITION with the sense in a. */
int64_t atapi_command(struct atapi *a, const uint8_t cdb[16], const struct ahci_sg *sg);
void atapi_reset(struct atapi *a);
/* Copy len bytes of buf into the sg list; returns the count copied. */
uint64_t ahci_sg_copy_to(const struct ahci_sg *sg, const void *buf, uint64_t len);
uint64_t ahci_sg_copy_from(const struct ahci_sg *sg, void *buf, uint64_t len);

/* ---- the controller (ahci.c) ------------------------------------------------- */

struct ahci_port {
	uint32_t clb, clbu, fb, fbu, is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci;
	enum { AHCI_NONE, AHCI_DISK, AHCI_CDROM } kind;
	struct disk *disk;         /* AHCI_DISK: borrowed */
	char serial[DISK_SERIAL_MAX + 1];
	bool wcache;               /* SET FEATURES 0x02 / 0x82 */
	struct atapi cd;           /* AHCI_CDROM */
	unsigned gen;              /* bumped by every reset of the port */
};

struct ahci {
	struct pci_dev pci;
	pthread_mutex_t lock;      /* everything below; taken before the PCI lock */
	pthread_cond_t idle;       /* inflight dropped to 0 */
	const struct guest_mem *mem;
	uint32_t ghc;
	struct ahci_port port[AHCI_PORTS];
	int inflight;              /* commands run outside the lock */
	int irq_level;
	uint8_t msi_cap;
	int kick_fd, stop_fd;
	pthread_t thread;
	bool started;
	unsigned long host_errors;
	struct iovec iov[AHCI_MAX_PRD];
	/* Replaceable for unit tests. */
	int (*signal_msi)(uint64_t addr, uint32_t data);
	void (*intx)(struct ahci *a, int level);
};

/* A controller with nothing attached (no PCI registration, no thread): the
 * unit tests set mem, attach, drive ahci_mmio and call ahci_process. */
struct ahci *ahci_new(void);
void ahci_free(struct ahci *a);
/* The next free port: a SATA disk (borrowed) or a CD drive on a medium
 * (borrowed). The port number, or -1 when all are taken. */
int ahci_attach_disk(struct ahci *a, struct disk *d, int index);
int ahci_attach_cdrom(struct ahci *a, struct atapi_medium *m);
/* ABAR (BAR5) accesses. */
void ahci_mmio(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
/* Runs every command issued (the I/O thread's work). */
void ahci_process(struct ahci *a);
/* The board's: on PCI 00:<slot>.0 with its I/O thread, after ahci_new and
 * the attaches. 0, or -1 with why (a is freed then). */
int ahci_start(struct ahci *a, int slot, char *why, size_t whylen);
#endif
