/* PCI bus 0: configuration mechanism #1, BARs, INTx through PIIX3 PIRQs. */
#ifndef PCI_H
#define PCI_H
#include <stdbool.h>
#include <stdint.h>

#include "core/hal.h"

enum {
	PCI_BAR_IO = 1, PCI_BAR_MEM = 2, PCI_BAR_PREFETCH = 4, PCI_BAR_64 = 8,
	PCI_CMD_IO = 1, PCI_CMD_MEM = 2, PCI_CMD_INTX_DISABLE = 0x400,
	PCI_STATUS_INTX = 0x08, PCI_STATUS_CAPS = 0x10,
};

struct pci_dev;
struct pci_bar {
	uint32_t size;          /* power of two; 0: no BAR */
	unsigned flags;
	io_fn *fn;              /* called with the offset inside the BAR as addr */
	void *dev;
	uint64_t addr;          /* where it is mapped now */
	bool mapped;
	struct pci_dev *owner;
	int index;
};

struct pci_dev {
	const char *name;
	uint8_t devfn;
	uint8_t cfg[256];
	uint8_t wmask[256];     /* bits the guest may change */
	uint8_t w1cmask[256];   /* bits a guest write of 1 clears */
	struct pci_bar bar[7];  /* 6 BARs + the expansion ROM (index 6) */
	const uint8_t *rom;
	uint32_t rom_size;      /* the image's bytes; the BAR is rounded up */
	int irq_level;
	uint8_t cap_end, cap_last; /* capability list bookkeeping */
	/* Optional hooks: after a config write is stored; when a BAR moves. */
	void (*cfg_written)(struct pci_dev *d, unsigned off, unsigned len);
	void (*bar_moved)(struct pci_dev *d, int bar, bool mapped, uint64_t addr);
	void *priv;
};

#define PCI_ROM_BAR 6

void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subvendor, uint16_t subdevice);
void pci_add_bar(struct pci_dev *d, int i, uint32_t size, unsigned flags, io_fn *fn, void *dev);
void pci_set_rom(struct pci_dev *d, const uint8_t *rom, uint32_t size);
/* A ROM built for a sibling device ID (Debian's efi-virtio.rom says
 * 1af4:1041, the modern virtio-net; ours is the transitional 1af4:1000):
 * every x86 image's PCI data structure gets vendor:device, and the image's
 * checksum is kept by adjusting byte 6 (the checksum byte of iPXE's ROM
 * header), as QEMU does. SeaBIOS runs only images whose IDs match the
 * device. Images of other code types (EFI) are left alone; a malformed
 * chain of images ends the walk. */
void pci_rom_set_ids(uint8_t *rom, uint32_t size, uint16_t vendor, uint16_t device);
/* The option ROM file at path (at most 1 MiB) as d's ROM BAR, its x86
 * images given d's vendor:device (pci_rom_set_ids). Returns the buffer
 * (the caller frees it after d), or NULL when the file cannot be read. */
uint8_t *pci_load_rom(struct pci_dev *d, const char *path);
/* Returns the offset of a new capability in config space (list kept linked). */
uint8_t pci_add_cap(struct pci_dev *d, uint8_t id, uint8_t len);
int pci_register(struct pci_dev *d, int slot, int fn);
/* Off the bus: its BARs are unmapped (no-op if d is not registered). */
void pci_unregister(struct pci_dev *d);
/* Every device off the bus, BARs unmapped (tests, VM teardown). */
void pci_reset_bus(void);
void pci_set_irq(struct pci_dev *d, int level);
/* INTx routing: PIIX3's PIRQ registers (bit 7 = disabled). */
void pci_set_pirq_regs(const uint8_t *regs);
void pci_update_irqs(void);
void pci_set_irq_sink(void (*sink)(int irq, int level));
struct pci_dev *pci_find(int slot, int fn);

/* Config space access from the CPU: 0xCF8 address, 0xCFC-0xCFF data. */
void pci_cfg_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
/* The same for one device: offset and length already known (unit tests, fw). */
void pci_cfg_read(struct pci_dev *d, unsigned off, uint8_t *data, unsigned len);
void pci_cfg_write(struct pci_dev *d, unsigned off, const uint8_t *data, unsigned len);
#endif
