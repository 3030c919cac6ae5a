/* i440FX host bridge, PIIX3 ISA bridge and PIIX4 power management: the
 * chipset of QEMU's "pc" machine, which SeaBIOS and OVMF both know. */
#ifndef CHIPSET_H
#define CHIPSET_H
#include "hw/pci.h"
#include "hw/pm.h"

struct chipset {
	struct pci_dev host, isa, pmdev;
	struct pm *pm;
	uint16_t pm_base;       /* where the PM block is decoded now, 0 = nowhere */
};

/* Registers the three functions on bus 0; `preset_pm` programs the PM base
 * and PIRQ routing the way firmware would (direct Linux boot). */
int chipset_init(struct chipset *c, struct pm *pm, uint16_t preset_pm);
/* Takes the PM block off the I/O bus (the functions go with pci_reset_bus). */
void chipset_exit(struct chipset *c);
#endif
