/* PCI bus 0 through configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF
 * data): BAR sizing (all ones, read back), BARs moved and switched on and
 * off by the command register, 64-bit BARs, the expansion ROM BAR over an
 * image whose size is no power of two, capabilities, then accesses
 * through the bus to wherever the BARs are now. Two devices: a virtio-blk
 * (I/O, MMIO and 64-bit prefetchable BARs, MSI-X, the PCI_CFG window) in
 * slot 3 and a plain device with a ROM in slot 5. Kinds: 0 0xCF8, 1
 * 0xCFC-0xCFF, 2-3 an access inside a BAR as mapped now (address: device,
 * BAR, offset), 4 an access anywhere on the MMIO or port bus, 5 serve the
 * virtio queue, 6 INTx routing registers from the value. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "virtio/virtio.h"

static int msi(uint64_t addr, uint32_t data) { return 0; }
static int ioev(uint64_t addr, uint32_t len, bool pio, int fd, bool assign) { return 0; }
static uint8_t regs[16];
static void io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (uint32_t i = 0; i < len; i++)
		if (is_write)
			regs[(addr + i) % sizeof(regs)] = data[i];
		else
			data[i] = regs[(addr + i) % sizeof(regs)];
}
static void sink(int irq, int level) { (void)irq; (void)level; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char disk[64];
	static uint8_t *rom;
	if (!disk[0]) {
		int fd = memfd_create("fuzz-disk", 0);
		if (fd < 0 || ftruncate(fd, 8192) < 0)
			abort();
		snprintf(disk, sizeof(disk), "/proc/self/fd/%d", fd);
		rom = malloc(3000);
		memset(rom, 0x55, 3000);
	}
	char why[256];
	bus_unregister_all();
	pci_reset_bus();
	pci_set_irq_sink(sink);
	struct virtio_blk *b = virtio_blk_new(disk, 0, 1, why, sizeof(why));
	struct guest_mem m;
	fz_ram(&m, 0x10000);
	b->vdev.mem = &m;
	b->vdev.signal_msi = msi;
	b->vdev.ioeventfd = ioev;
	static struct pci_dev d;
	pci_dev_init(&d, "fuzz", 0x8086, 0x1234, 0x020000, 1, 0, 0);
	d.cfg[0x3d] = 2;
	pci_add_bar(&d, 0, 0x20, PCI_BAR_IO, io, NULL);
	pci_add_bar(&d, 2, 0x100000, PCI_BAR_MEM | PCI_BAR_64, io, NULL);
	pci_set_rom(&d, rom, 3000);
	pci_add_cap(&d, 0x05, 14);
	if (pci_register(&b->vdev.pci, 3, 0) < 0 || pci_register(&d, 5, 0) < 0)
		abort();
	struct pci_dev *devs[2] = { &b->vdev.pci, &d };
	uint8_t pirq[4] = { 10, 10, 11, 11 };
	pci_set_pirq_regs(pirq);
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&f, &o, 4); n++) {
		switch (o.kind % 8) {
		case 0: fz_io(pci_cfg_io, NULL, 0xcf8 + (o.addr & 3), o.len, o.val, o.write); break;
		case 1: fz_io(pci_cfg_io, NULL, 0xcfc + (o.addr & 3), o.len, o.val, o.write); break;
		case 2:
		case 3: {
			struct pci_bar *bar = &devs[o.addr & 1]->bar[(o.addr >> 1) % 7];
			if (!bar->size)
				break;
			uint64_t a = bar->addr + (o.addr >> 4) % bar->size;
			uint8_t *buf = malloc(o.len);
			memcpy(buf, &o.val, o.len);
			bus_access(bar->flags & PCI_BAR_IO ? BUS_PIO : BUS_MMIO, a, buf, o.len, o.write);
			free(buf);
			break;
		}
		case 4: {
			uint8_t *buf = malloc(o.len);
			memcpy(buf, &o.val, o.len);
			bus_access(o.addr >> 31 ? BUS_PIO : BUS_MMIO, o.addr & 0x7fffffff, buf, o.len, o.write);
			free(buf);
			break;
		}
		case 5: virtio_blk_process(b); break;
		default:
			memcpy(pirq, &o.val, 4);
			pci_update_irqs();
		}
	}
	virtio_blk_free(b);
	pci_reset_bus();
	bus_unregister_all();
	fz_ram_free(&m);
	return 0;
}
