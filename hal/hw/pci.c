/* PCI bus 0. Config space is a byte array per device with masks that say
 * what a guest may write; BARs are (re)mapped on the I/O or MMIO bus when the
 * guest writes them or the command register. INTx lines go through PIIX3's
 * PIRQ routing the way the i440FX board wires them: slot s, pin p (INTA=1)
 * drives PIRQ (s - 1 + p - 1) & 3. */
#include <string.h>

#include "core/endian.h"
#include "hw/pci.h"

#define PCI_MAX 32

static struct pci_dev *devs[PCI_MAX];
static int ndevs;
static uint32_t cf8;
static const uint8_t *pirq_regs;
static void (*irq_sink)(int irq, int level);
static int irq_state[16];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* config space, IRQ state */

/* The type 0 configuration header (PCI Local Bus 3.0, 6.1): vendor 0x00,
 * device 0x02, command 0x04, status 0x06, revision 0x08, class code
 * 0x09-0x0b, BARs 0x10-0x24, subsystem vendor 0x2c and ID 0x2e, ROM BAR
 * 0x30, capabilities pointer 0x34, interrupt line 0x3c and pin 0x3d;
 * little endian. */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor, uint16_t device, uint32_t class_code,
		  uint8_t revision, uint16_t subvendor, uint16_t subdevice)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	put_le16(d->cfg + 0x00, vendor);
	put_le16(d->cfg + 0x02, device);
	d->cfg[0x08] = revision;
	put_le(d->cfg + 0x09, class_code, 3); /* programming interface, subclass, class */
	put_le16(d->cfg + 0x2c, subvendor);
	put_le16(d->cfg + 0x2e, subdevice);
	put_le16(d->wmask + 0x04, PCI_CMD_IO | PCI_CMD_MEM | 0x4 /* bus master */ | 0x100 /* SERR */ |
					  PCI_CMD_INTX_DISABLE);
	d->wmask[0x0c] = 0xff; /* cache line size */
	d->wmask[0x0d] = 0xff; /* latency timer */
	d->wmask[0x3c] = 0xff; /* interrupt line: scratch for the OS */
	for (int i = 0; i < 7; i++) {
		d->bar[i].owner = d;
		d->bar[i].index = i;
	}
}

static unsigned bar_reg(int i)
{
	return i == PCI_ROM_BAR ? 0x30 : 0x10 + 4 * (unsigned)i;
}

void pci_add_bar(struct pci_dev *d, int i, uint32_t size, unsigned flags, io_fn *fn, void *dev)
{
	struct pci_bar *b = &d->bar[i];
	b->size = size;
	b->flags = flags;
	b->fn = fn;
	b->dev = dev;
	unsigned r = bar_reg(i);
	uint32_t low = flags & PCI_BAR_IO ? 1 : ((flags & PCI_BAR_64) ? 4 : 0) | ((flags & PCI_BAR_PREFETCH) ? 8 : 0);
	uint32_t mask = ~(size - 1) & (flags & PCI_BAR_IO ? 0xfffffffc : 0xfffffff0);
	d->cfg[r] = (uint8_t)low;
	for (int k = 0; k < 4; k++)
		d->wmask[r + k] = (uint8_t)(mask >> (8 * k));
	if (flags & PCI_BAR_64)
		memset(d->wmask + r + 4, 0xff, 4);
}

static uint8_t rom_byte(const struct pci_bar *b, uint64_t off)
{
	/* Past the image, up to the power-of-two BAR size, reads as erased
	 * flash: the guest chooses off, and the buffer is only rom_size long. */
	return off < b->owner->rom_size && b->owner->rom ? b->owner->rom[off] : 0xff;
}

static void rom_io(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bar *b = dev;
	for (uint32_t i = 0; !is_write && i < len; i++)
		data[i] = rom_byte(b, off + i);
}

void pci_set_rom(struct pci_dev *d, const uint8_t *rom, uint32_t size)
{
	uint32_t sz = 2048;
	while (sz < size)
		sz <<= 1;
	d->rom = rom;
	d->rom_size = size;
	pci_add_bar(d, PCI_ROM_BAR, sz, PCI_BAR_MEM, rom_io, NULL);
	d->bar[PCI_ROM_BAR].dev = &d->bar[PCI_ROM_BAR];
	d->cfg[0x30] = 0;
	d->wmask[0x30] = 0x01; /* enable bit */
	d->bar[PCI_ROM_BAR].size = sz;
}

void pci_rom_set_ids(uint8_t *rom, uint32_t size, uint16_t vendor, uint16_t device)
{
	for (uint32_t off = 0; size - off >= 0x1a && rom[off] == 0x55 && rom[off + 1] == 0xaa;) {
		uint32_t pcir = off + (rom[off + 0x18] | (uint32_t)rom[off + 0x19] << 8);
		if (pcir > size - 0x18 || memcmp(rom + pcir, "PCIR", 4))
			return;
		uint8_t *p = rom + pcir;
		uint32_t ilen = (p[0x10] | (uint32_t)p[0x11] << 8) * 512u, hlen = rom[off + 2] * 512u;
		if (p[0x14] == 0 && hlen && hlen <= size - off && pcir + 8 <= off + hlen) { /* x86 code */
			int delta = 0;
			const uint8_t ids[4] = { (uint8_t)vendor, (uint8_t)(vendor >> 8), (uint8_t)device, (uint8_t)(device >> 8) };
			for (int i = 0; i < 4; i++) {
				delta += ids[i] - p[4 + i];
				p[4 + i] = ids[i];
			}
			rom[off + 6] = (uint8_t)(rom[off + 6] - delta);
		}
		if ((p[0x15] & 0x80) || !ilen || ilen > size - off)
			return; /* the last image */
		off += ilen;
	}
}

uint8_t *pci_load_rom(struct pci_dev *d, const char *path)
{
	size_t size;
	uint8_t *rom = hal_read_file("iPXE ROM", path, 1 * MiB, &size);
	if (!rom)
		return NULL;
	pci_rom_set_ids(rom, (uint32_t)size, get_le16(d->cfg), get_le16(d->cfg + 2));
	pci_set_rom(d, rom, (uint32_t)size);
	return rom;
}

uint8_t pci_add_cap(struct pci_dev *d, uint8_t id, uint8_t len)
{
	uint8_t at = d->cap_end ? (uint8_t)((d->cap_end + 3) & ~3u) : 0x40;
	d->cfg[at] = id;
	d->cfg[at + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = at;
	else
		d->cfg[0x34] = at;
	d->cap_last = at;
	d->cap_end = (uint8_t)(at + len);
	d->cfg[0x06] |= PCI_STATUS_CAPS;
	return at;
}

struct pci_dev *pci_find(int slot, int fn)
{
	for (int i = 0; i < ndevs; i++)
		if (devs[i]->devfn == (slot << 3 | fn))
			return devs[i];
	return NULL;
}

int pci_register(struct pci_dev *d, int slot, int fn)
{
	if (ndevs == PCI_MAX || slot < 0 || slot > 31 || fn < 0 || fn > 7 || pci_find(slot, fn))
		return -1;
	d->devfn = (uint8_t)(slot << 3 | fn);
	devs[ndevs++] = d;
	return 0;
}

/* Takes d's mapped BARs off the bus. Called with `lock` held. */
static void unmap_bars(struct pci_dev *d)
{
	for (int i = 0; i < 7; i++) {
		struct pci_bar *b = &d->bar[i];
		if (b->mapped)
			bus_unregister(b->flags & PCI_BAR_IO ? BUS_PIO : BUS_MMIO, b->addr, b);
		b->mapped = false;
	}
}

void pci_unregister(struct pci_dev *d)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ndevs; i++)
		if (devs[i] == d) {
			unmap_bars(d);
			devs[i] = devs[--ndevs];
			break;
		}
	pthread_mutex_unlock(&lock);
}

void pci_reset_bus(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ndevs; i++)
		unmap_bars(devs[i]);
	ndevs = 0;
	cf8 = 0;
	pirq_regs = NULL;
	memset(irq_state, 0, sizeof(irq_state));
	pthread_mutex_unlock(&lock);
}

/* ---- BAR mapping ------------------------------------------------------------ */

static void bar_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_bar *b = dev;
	b->fn(b->dev, addr - b->addr, data, len, is_write);
}

static uint64_t bar_addr(const struct pci_dev *d, int i)
{
	const struct pci_bar *b = &d->bar[i];
	unsigned r = bar_reg(i);
	uint64_t a = get_le32(d->cfg + r);
	if (b->flags & PCI_BAR_IO)
		return a & ~3ULL;
	if (i == PCI_ROM_BAR)
		return a & ~0x7ffULL;
	a &= ~0xfULL;
	if (b->flags & PCI_BAR_64)
		a |= (uint64_t)get_le32(d->cfg + r + 4) << 32;
	return a;
}

/* Decide whether BAR i should be visible, and where; move it if needed.
 * Called with `lock` held. */
static void bar_update(struct pci_dev *d, int i)
{
	struct pci_bar *b = &d->bar[i];
	if (!b->size)
		return;
	uint16_t cmd = get_le16(d->cfg + 4);
	uint64_t a = bar_addr(d, i);
	bool io = b->flags & PCI_BAR_IO;
	bool on = io ? (cmd & PCI_CMD_IO) : (cmd & PCI_CMD_MEM);
	if (i == PCI_ROM_BAR && !(d->cfg[0x30] & 1))
		on = false;
	/* Not decoded at 0, at the all-ones value of BAR sizing, or past the
	 * end of the address space. */
	uint64_t limit = io ? 0x10000 : (b->flags & PCI_BAR_64) ? (1ULL << host_phys_bits()) : (1ULL << 32);
	if (!a || a + b->size > limit || a + b->size < a)
		on = false;
	if (on == b->mapped && (!on || a == b->addr))
		return;
	enum bus_kind k = io ? BUS_PIO : BUS_MMIO;
	if (b->mapped)
		bus_unregister(k, b->addr, b);
	b->mapped = false;
	if (on && bus_register(k, a, b->size, bar_io, b) == 0) {
		b->addr = a;
		b->mapped = true;
	}
	if (d->bar_moved)
		d->bar_moved(d, i, b->mapped, b->addr);
}

/* ---- config space ------------------------------------------------------------ */

void pci_cfg_read(struct pci_dev *d, unsigned off, uint8_t *data, unsigned len)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < len; i++)
		data[i] = off + i < 256 ? d->cfg[off + i] : 0xff;
	pthread_mutex_unlock(&lock);
}

void pci_cfg_write(struct pci_dev *d, unsigned off, const uint8_t *data, unsigned len)
{
	pthread_mutex_lock(&lock);
	bool bars = false;
	for (unsigned i = 0; i < len && off + i < 256; i++) {
		unsigned o = off + i;
		uint8_t wm = d->wmask[o], c = d->w1cmask[o];
		d->cfg[o] = (uint8_t)((d->cfg[o] & ~wm) | (data[i] & wm));
		d->cfg[o] &= (uint8_t)~(data[i] & c);
		if ((o >= 0x10 && o < 0x28) || (o >= 0x30 && o < 0x34) || o == 4)
			bars = true;
	}
	if (bars)
		for (int i = 0; i < 7; i++)
			bar_update(d, i);
	pthread_mutex_unlock(&lock);
	if (off <= 5 && off + len > 5)
		pci_update_irqs(); /* INTx disable may have changed */
	if (d->cfg_written)
		d->cfg_written(d, off, len);
}

void pci_cfg_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	if (addr >= 0xcf8 && addr < 0xcfc) {
		/* Only whole-dword access selects; byte access to 0xCF9 is the reset
		 * register (reset.c), other widths fall through to nothing. */
		if (addr != 0xcf8 || len != 4) {
			if (!is_write)
				memset(data, 0xff, len);
			return;
		}
		if (is_write)
			cf8 = get_le32(data) & 0x80fffffc;
		else
			put_le32(data, cf8);
		return;
	}
	unsigned off = (cf8 & 0xfc) + (unsigned)(addr & 3);
	struct pci_dev *d = NULL;
	if ((cf8 & 0x80000000) && ((cf8 >> 16) & 0xff) == 0) /* bus 0 only */
		d = pci_find((cf8 >> 11) & 31, (cf8 >> 8) & 7);
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (len > 4 - (addr & 3))
		len = 4 - (unsigned)(addr & 3);
	if (is_write)
		pci_cfg_write(d, off, data, len);
	else
		pci_cfg_read(d, off, data, len);
}

/* ---- INTx ---------------------------------------------------------------------- */

void pci_set_pirq_regs(const uint8_t *regs) { pirq_regs = regs; }
void pci_set_irq_sink(void (*sink)(int irq, int level)) { irq_sink = sink; }

static int route(const struct pci_dev *d)
{
	uint8_t pin = d->cfg[0x3d];
	if (!pin || pin > 4 || !pirq_regs)
		return -1;
	int slot = d->devfn >> 3;
	uint8_t r = pirq_regs[(slot - 1 + pin - 1) & 3];
	return (r & 0x80) || r > 15 ? -1 : r;
}

void pci_update_irqs(void)
{
	int level[16] = { 0 };
	pthread_mutex_lock(&lock);
	for (int i = 0; i < ndevs; i++) {
		int irq = route(devs[i]);
		if (irq >= 0 && devs[i]->irq_level && !(get_le16(devs[i]->cfg + 4) & PCI_CMD_INTX_DISABLE))
			level[irq] = 1;
	}
	/* Only lines some PCI device is routed to are ours to drive. */
	for (int irq = 0; irq < 16; irq++) {
		bool routed = false;
		for (int i = 0; i < ndevs && !routed; i++)
			routed = route(devs[i]) == irq;
		if ((routed || irq_state[irq]) && level[irq] != irq_state[irq]) {
			irq_state[irq] = level[irq];
			if (irq_sink)
				irq_sink(irq, level[irq]);
		}
	}
	pthread_mutex_unlock(&lock);
}

void pci_set_irq(struct pci_dev *d, int level)
{
	pthread_mutex_lock(&lock);
	d->irq_level = level;
	if (level)
		d->cfg[0x06] |= PCI_STATUS_INTX;
	else
		d->cfg[0x06] &= (uint8_t)~PCI_STATUS_INTX;
	pthread_mutex_unlock(&lock);
	pci_update_irqs();
}
