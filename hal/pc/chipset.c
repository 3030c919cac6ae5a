/* The chipset's PCI functions. Beyond identification they matter in three
 * places: PAM/SMRAM registers are plain storage (RAM at 0xC0000-0xFFFFF is
 * always writable here); PIIX3's PIRQ registers route PCI INTx; PIIX4's PM
 * base (cfg 0x40, enabled by cfg 0x80 bit 0) places the ACPI PM block. */
#include <string.h>

#include "core/endian.h"
#include "pc/chipset.h"

static void isa_written(struct pci_dev *d, unsigned off, unsigned len)
{
	if (off < 0x64 && off + len > 0x60)
		pci_update_irqs(); /* PIRQ routing changed */
}

/* Move the PM block's I/O window to where the firmware put it. */
static void pm_written(struct pci_dev *d, unsigned off, unsigned len)
{
	struct chipset *c = d->priv;
	if (!((off < 0x44 && off + len > 0x40) || (off <= 0x80 && off + len > 0x80)))
		return;
	/* PIIX4 function 3: PMBA at 0x40 (bits 15:6), PMIOSE in PMREGMISC 0x80 bit 0 */
	uint16_t base = get_le16(d->cfg + 0x40) & 0xffc0;
	if (!(d->cfg[0x80] & 1))
		base = 0;
	if (base == c->pm_base)
		return;
	if (c->pm_base)
		bus_unregister(BUS_PIO, c->pm_base, c->pm);
	c->pm_base = 0;
	if (base && bus_register(BUS_PIO, base, 64, pm_io, c->pm) == 0)
		c->pm_base = base;
}

void chipset_exit(struct chipset *c)
{
	if (c->pm_base)
		bus_unregister(BUS_PIO, c->pm_base, c->pm);
	c->pm_base = 0;
}

int chipset_init(struct chipset *c, struct pm *pm, uint16_t preset_pm)
{
	memset(c, 0, sizeof(*c));
	c->pm = pm;

	/* 00:00.0 host bridge; QEMU's subsystem ID makes SeaBIOS say "QEMU". */
	pci_dev_init(&c->host, "i440fx", 0x8086, 0x1237, 0x060000, 0x02, 0x1af4, 0x1100);
	memset(c->host.wmask + 0x59, 0xff, 7); /* PAM0-6 */
	c->host.wmask[0x72] = 0xff;            /* SMRAM */

	/* 00:01.0 ISA bridge, multi-function (PM is function 3). */
	pci_dev_init(&c->isa, "piix3", 0x8086, 0x7000, 0x060100, 0x00, 0x1af4, 0x1100);
	c->isa.cfg[0x0e] = 0x80;
	memset(c->isa.cfg + 0x60, 0x80, 4);    /* PIRQA-D routing: disabled at reset */
	memset(c->isa.wmask + 0x60, 0x8f, 4);
	c->isa.cfg_written = isa_written;
	pci_set_pirq_regs(c->isa.cfg + 0x60);

	/* 00:01.3 power management. 0x5B = 0x02 tells SeaBIOS SMM is already
	 * set up: there is no SMM here and its SMI handshake would spin. */
	pci_dev_init(&c->pmdev, "piix4-pm", 0x8086, 0x7113, 0x068000, 0x03, 0x1af4, 0x1100);
	c->pmdev.cfg[0x3d] = 1;                /* INTA (SCI is wired to IRQ 9) */
	c->pmdev.cfg[0x40] = 0x01;             /* PMBA: I/O space indicator */
	c->pmdev.cfg[0x5b] = 0x02;
	c->pmdev.wmask[0x40] = 0xc0;
	c->pmdev.wmask[0x41] = 0xff;
	c->pmdev.wmask[0x80] = 0x01;           /* PMIOSE */
	memset(c->pmdev.wmask + 0x90, 0xff, 4); /* SMBus base: storage */
	c->pmdev.wmask[0xd2] = 0xff;
	c->pmdev.priv = c;
	c->pmdev.cfg_written = pm_written;

	if (pci_register(&c->host, 0, 0) < 0 || pci_register(&c->isa, 1, 0) < 0 ||
	    pci_register(&c->pmdev, 1, 3) < 0)
		return -1;
	if (preset_pm) {
		uint8_t pmba[2], on = 1;
		put_le16(pmba, (uint16_t)(preset_pm | 1));
		uint8_t pirq[4] = { 10, 10, 11, 11 };
		pci_cfg_write(&c->pmdev, 0x40, pmba, 2);
		pci_cfg_write(&c->pmdev, 0x80, &on, 1);
		pci_cfg_write(&c->isa, 0x60, pirq, 4);
		if (c->pm_base != preset_pm)
			return -1;
	}
	return 0;
}
