/* The board's bring-up: one step per resource hal owns for one boot, in
 * order, each with the undo that releases what its init took; tear-down
 * runs the undos of the steps that ran, in reverse (docs/architecture.md,
 * "Bring-up"). A step whose init fails leaves nothing behind. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/loop.h"
#include "disk/disk.h"
#include "hw/e1000.h"
#include "pc/efivars.h"
#include "pc/pc.h"
#include "virtio/virtio.h"

#define VGABIOS_PATH "/usr/share/seabios/vgabios-bochs-display.bin"

/* ---- machine callbacks ------------------------------------------------------- */

static void isa_irq(int irq, int level) { vm_irq_line(irq, level); }
static void com1_irq(void *ctx, int level) { (void)ctx; vm_irq_line(PC_COM1_IRQ, level); }
static void sci_irq(int level) { vm_irq_line(PC_SCI_IRQ, level); }

/* HPET legacy replacement (docs/guest-support.md): IRQ 0 is the HPET's
 * instead of KVM's PIT, and IRQ 8 the HPET's instead of the RTC's. The RTC
 * keeps running (its register C still says what happened); only its line
 * is held off, and given back at the level it has then. */
static pthread_mutex_t irq8_lock = PTHREAD_MUTEX_INITIALIZER;
static bool irq8_hpet;
static int rtc_level;

static void rtc_irq(int level)
{
	pthread_mutex_lock(&irq8_lock);
	rtc_level = level;
	if (!irq8_hpet)
		vm_irq_line(PC_RTC_IRQ, level);
	pthread_mutex_unlock(&irq8_lock);
}

static void hpet_irq(void *ctx, int gsi, int level) { (void)ctx; vm_irq_line(gsi, level); }

static void hpet_legacy(void *ctx, bool on)
{
	(void)ctx;
	vm_pit_hpet_legacy(on);
	pthread_mutex_lock(&irq8_lock);
	irq8_hpet = on;
	if (rtc_level)
		vm_irq_line(PC_RTC_IRQ, !on);
	pthread_mutex_unlock(&irq8_lock);
}
static void guest_reset(void) { vm_request_stop(HAL_EXIT_RESET); }

static void guest_sleep(int slp_typ)
{
	if (slp_typ == 0) /* our _S5 */
		vm_request_stop(HAL_EXIT_POWEROFF);
	else
		warnx("guest asked for sleep state type %d; only S5 (power off) exists", slp_typ);
}

static void on_vm_stop(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t v;
	if (read(vm->stop_fd, &v, sizeof(v)) < 0) {
		/* nothing: vm->stopping is what counts */
	}
}

/* ---- I/O ranges: a step registers its table and its undo removes it ---------- */

struct range {
	enum bus_kind kind;
	uint64_t base, len;
	io_fn *fn;
	void *dev;
};

static void ranges_del(const struct range *r, int n)
{
	while (n-- > 0)
		bus_unregister(r[n].kind, r[n].base, r[n].dev);
}

static int ranges_add(const struct range *r, int n)
{
	for (int i = 0; i < n; i++)
		if (bus_register(r[i].kind, r[i].base, r[i].len, r[i].fn, r[i].dev) < 0) {
			ranges_del(r, i);
			return -1;
		}
	return 0;
}

#define NRANGES(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the steps ----------------------------------------------------------------- */

static int step_kvm(struct pc *pc) { return vm_create(&pc->vm, pc->cfg->cpus); }
static void undo_kvm(struct pc *pc) { vm_destroy(&pc->vm); }

static int step_ram(struct pc *pc) { return vm_ram_init(&pc->vm, pc->cfg->mem); }
static void undo_ram(struct pc *pc) { vm_ram_exit(&pc->vm); }

/* The vCPUs, and the eventfd that wakes the main loop when they stop. */
static int step_vcpus(struct pc *pc)
{
	if (vcpus_create(&pc->vm) < 0)
		return -1;
	if (loop_add(pc->vm.stop_fd, on_vm_stop, &pc->vm) == 0)
		return 0;
	vcpus_join_destroy(&pc->vm);
	return -1;
}

static void undo_vcpus(struct pc *pc)
{
	loop_del(pc->vm.stop_fd);
	vcpus_join_destroy(&pc->vm);
}

/* COM1, the keyboard controller, RTC, APM/GPE, reset and debug ports. */
#define LEGACY_RANGES(pc) { \
	{ BUS_PIO, 0x3f8, 8, serial_io, &(pc)->com1 }, \
	{ BUS_PIO, 0x60, 1, i8042_io, &(pc)->kbc }, \
	{ BUS_PIO, 0x64, 1, i8042_io, &(pc)->kbc }, \
	{ BUS_PIO, 0x70, 2, rtc_io, &(pc)->rtc }, \
	{ BUS_PIO, 0xb2, 2, pm_apm_io, &(pc)->pm }, \
	{ BUS_PIO, 0xafe0, 4, pm_gpe_io, &(pc)->pm }, \
	{ BUS_PIO, 0x92, 1, reset_io, &(pc)->resetctl }, \
	{ BUS_PIO, 0xcf9, 1, reset_io, &(pc)->resetctl }, \
	{ BUS_PIO, DEBUGCON_PORT, 1, debugcon_io, &(pc)->dbgport }, \
	{ BUS_PIO, MARKER_PORT, 4, marker_io, &(pc)->dbgport }, \
}

static int step_ports(struct pc *pc)
{
	const struct range r[] = LEGACY_RANGES(pc);
	serial_init(&pc->com1, pc->serial_fd, com1_irq, NULL);
	i8042_init(&pc->kbc, isa_irq, guest_reset);
	pm_init(&pc->pm, sci_irq, guest_sleep);
	pc->resetctl = (struct reset_ctl){ .port92 = 0x02, .reset = guest_reset };
	struct rtc_cfg rc = { pc->vm.mem.low_end, pc->vm.mem.high_size, pc->cfg->cpus, { 2, 3, 0 } };
	irq8_hpet = false; /* a new VM: the RTC has IRQ 8, its line is low */
	rtc_level = 0;
	if (rtc_init(&pc->rtc, &rc, rtc_irq) < 0)
		return -1;
	if (loop_add(pc->rtc.timer_fd, rtc_tick, &pc->rtc) < 0) {
		rtc_exit(&pc->rtc);
		return -1;
	}
	if (ranges_add(r, NRANGES(r)) < 0) {
		loop_del(pc->rtc.timer_fd);
		rtc_exit(&pc->rtc);
		return -1;
	}
	input_attach(&pc->kbc, &pc->pm); /* host keyboard, mouse and power button */
	return 0;
}

static void undo_ports(struct pc *pc)
{
	const struct range r[] = LEGACY_RANGES(pc);
	input_attach(NULL, NULL);
	ranges_del(r, NRANGES(r));
	loop_del(pc->rtc.timer_fd);
	rtc_exit(&pc->rtc);
}

/* The HPET's 1 KiB at 0xFED00000 and its timer on the loop, unless --no-hpet. */
static int step_hpet(struct pc *pc)
{
	if (pc->cfg->no_hpet)
		return 0;
	if (hpet_init(&pc->hpet, NULL, hpet_irq, hpet_legacy, pc) < 0) {
		err("HPET: timerfd_create: %s", strerror(errno));
		return -1;
	}
	if (loop_add(pc->hpet.timer_fd, hpet_tick, &pc->hpet) < 0) {
		hpet_exit(&pc->hpet);
		return -1;
	}
	if (bus_register(BUS_MMIO, HPET_BASE, HPET_SIZE, hpet_io, &pc->hpet) < 0) {
		loop_del(pc->hpet.timer_fd);
		hpet_exit(&pc->hpet);
		return -1;
	}
	return 0;
}

static void undo_hpet(struct pc *pc)
{
	if (pc->cfg->no_hpet)
		return;
	bus_unregister(BUS_MMIO, HPET_BASE, &pc->hpet);
	loop_del(pc->hpet.timer_fd);
	hpet_exit(&pc->hpet);
}

/* PCI configuration mechanism #1 and the chipset's functions on bus 0. The
 * dword at 0xCF8 only: 0xCF9 is the reset control. */
#define PCI_RANGES { { BUS_PIO, 0xcf8, 1, pci_cfg_io, NULL }, { BUS_PIO, 0xcfc, 4, pci_cfg_io, NULL } }

static int step_pci(struct pc *pc)
{
	const struct range r[] = PCI_RANGES;
	pci_set_irq_sink(isa_irq);
	/* Direct boot has no firmware to program the PM base and PIRQs. */
	if (chipset_init(&pc->chipset, &pc->pm, pc->cfg->kernel ? PC_PM_BASE : 0) < 0 || ranges_add(r, NRANGES(r)) < 0) {
		pci_reset_bus();
		return -1;
	}
	return 0;
}

static void undo_pci(struct pc *pc)
{
	const struct range r[] = PCI_RANGES;
	ranges_del(r, NRANGES(r));
	pci_reset_bus(); /* the chipset's functions, and the PM block it decodes */
	chipset_exit(&pc->chipset);
}

#define FWCFG_RANGES(pc) { { BUS_PIO, 0x510, 2, fwcfg_io, &(pc)->fwcfg }, { BUS_PIO, 0x514, 8, fwcfg_io, &(pc)->fwcfg } }

static int step_fwcfg(struct pc *pc)
{
	const struct range r[] = FWCFG_RANGES(pc);
	if (pc_fwcfg_fill(pc) < 0 || ranges_add(r, NRANGES(r)) < 0) {
		fwcfg_exit(&pc->fwcfg);
		return -1;
	}
	return 0;
}

static void undo_fwcfg(struct pc *pc)
{
	const struct range r[] = FWCFG_RANGES(pc);
	ranges_del(r, NRANGES(r));
	fwcfg_exit(&pc->fwcfg);
}

int pc_open_disks(struct pc *pc)
{
	char why[256];
	disk_snapshot_all = pc->cfg->snapshot;
	for (pc->ndisks = 0; pc->ndisks < pc->cfg->ndisks; pc->ndisks++) {
		if (disk_open(&pc->disks[pc->ndisks], pc->cfg->disks[pc->ndisks], why, sizeof(why)) < 0) {
			err("%s", why);
			pc_close_disks(pc);
			return HAL_EXIT_ERROR;
		}
	}
	for (pc->ncdroms = 0; pc->ncdroms < pc->cfg->ncdroms; pc->ncdroms++) {
		if (atapi_medium_open(&pc->cdroms[pc->ncdroms], pc->cfg->cdroms[pc->ncdroms], why, sizeof(why)) < 0) {
			err("%s", why);
			pc_close_disks(pc);
			return HAL_EXIT_ERROR;
		}
	}
	return 0;
}

void pc_close_disks(struct pc *pc)
{
	while (pc->ndisks)
		disk_close(&pc->disks[--pc->ndisks]);
	while (pc->ncdroms)
		atapi_medium_close(&pc->cdroms[--pc->ncdroms]);
}

static bool is_ahci(const struct config *c, const struct boot_dev *d)
{
	return d->cdrom || c->disk_if[d->index] == DISK_IF_AHCI;
}

int pc_ahci_port(const struct config *c, int b)
{
	if (!is_ahci(c, &c->boot[b]))
		return -1;
	int port = 0;
	for (int i = 0; i < b; i++)
		port += is_ahci(c, &c->boot[i]);
	return port;
}

int pc_virtio_slot(const struct config *c, int disk)
{
	int slot = PC_DISK_SLOT0;
	for (int i = 0; i < disk; i++)
		slot += c->disk_if[i] == DISK_IF_VIRTIO;
	return slot;
}

/* virtio-blk from slot 3 on, in --disk order, over the disks
 * pc_open_disks opened: the devices are new on every boot, the disks
 * (snapshot layer, NBD connection) are not. */
static int step_disks(struct pc *pc)
{
	for (int i = 0; i < pc->ndisks; i++) {
		char why[256];
		if (pc->cfg->disk_if[i] != DISK_IF_VIRTIO)
			continue;
		if (virtio_blk_create(&pc->disks[i], pc_virtio_slot(pc->cfg, i), pc->cfg->cpus, why, sizeof(why)) < 0) {
			err("%s", why);
			virtio_blk_destroy_all();
			return -1;
		}
	}
	return 0;
}

static void undo_disks(struct pc *pc) { virtio_blk_destroy_all(); }

/* The AHCI controller in slot 12 when a disk or CD is on it: its devices
 * in command-line order on ports 0-5 (pc_ahci_port), over the disks and
 * media that outlive the boot. */
static int step_ahci(struct pc *pc)
{
	const struct config *c = pc->cfg;
	char why[256];
	bool any = false;
	pc->ahci = NULL;
	for (int b = 0; b < c->nboot; b++)
		any |= is_ahci(c, &c->boot[b]);
	if (!any)
		return 0;
	struct ahci *a = ahci_new();
	if (!a) {
		err("AHCI: out of memory");
		return -1;
	}
	for (int b = 0; b < c->nboot; b++) {
		const struct boot_dev *d = &c->boot[b];
		if (!is_ahci(c, d))
			continue;
		if (d->cdrom)
			ahci_attach_cdrom(a, &pc->cdroms[d->index]);
		else
			ahci_attach_disk(a, &pc->disks[d->index], d->index);
	}
	if (ahci_start(a, PC_AHCI_SLOT, why, sizeof(why)) < 0) {
		err("%s", why);
		return -1;
	}
	pc->ahci = a;
	return 0;
}

static void undo_ahci(struct pc *pc)
{
	ahci_free(pc->ahci);
	pc->ahci = NULL;
}

/* virtio-rng in slot 11, unless --rng none. */
static int step_rng(struct pc *pc)
{
	char why[256];
	if (!pc->cfg->rng_rate)
		return 0;
	if (virtio_rng_create(pc->cfg->rng_rate, PC_RNG_SLOT, why, sizeof(why)) < 0) {
		err("%s", why);
		return -1;
	}
	return 0;
}

static void undo_rng(struct pc *pc) { virtio_rng_destroy(); }

int pc_nets(struct pc *pc)
{
	const struct config *c = pc->cfg;
	/* "stable for a given disk": the MAC follows the first disk (or the
	 * kernel), so a DHCP server hands out the same lease after a reboot. */
	const char *seed = c->ndisks ? c->disks[0] : c->kernel ? c->kernel : "hal";
	char seedbuf[4096];
	snprintf(seedbuf, sizeof(seedbuf), "%.*s", (int)strcspn(seed, ","), seed);
	for (int i = 0; i < c->nnets; i++) {
		char why[256];
		struct net_spec *s = &pc->nets[pc->nnets];
		if (net_parse(c->nets[i], s, why, sizeof(why)) < 0) {
			err("%s", why);
			return HAL_EXIT_USAGE;
		}
		if (s->mode == NET_NONE)
			continue;
		if (!s->mac_set)
			net_default_mac(seedbuf, pc->nnets, s->mac);
		pc->nnets++;
	}
	return 0;
}

/* The NICs from slot 16 on (virtio-net, or an e1000 with model=e1000, in
 * the same slot), each on its host backend; iPXE in the ROM BAR for
 * firmware boots. */
static int step_nics(struct pc *pc)
{
	for (int i = 0; i < pc->nnets; i++) {
		char why[256];
		bool e1000 = !strcmp(pc->nets[i].model, "e1000");
		const char *rom = pc->cfg->kernel ? NULL : e1000 ? PC_E1000_ROM : PC_IPXE_ROM;
		if ((e1000 ? e1000_create : virtio_net_create)(&pc->nets[i], i, PC_NIC_SLOT0 + i, rom, why,
								sizeof(why)) < 0) {
			err("%s", why);
			virtio_net_destroy_all();
			e1000_destroy_all();
			return -1;
		}
	}
	return 0;
}

static void undo_nics(struct pc *pc)
{
	virtio_net_destroy_all();
	e1000_destroy_all();
}

/* The display (docs/display.md): bochs-display in PCI slot 2 with the VGA
 * window and ports; the framebuffer core shows whichever is active. */
#define DISPLAY_RANGES(pc) { { BUS_PIO, 0x3c0, 0x20, vgatext_io, &(pc)->vga }, \
			     { BUS_PIO, 0x1ce, 3, bochs_dispi_io, &(pc)->bochs } }

static void undo_display(struct pc *pc)
{
	const struct range r[] = DISPLAY_RANGES(pc);
	fb_set_source(NULL);
	ranges_del(r, NRANGES(r));
	pci_unregister(&pc->bochs.pci);
	bochs_exit(&pc->bochs);
	vgatext_exit(&pc->vga);
}

static int step_display(struct pc *pc)
{
	const struct range r[] = DISPLAY_RANGES(pc);
	/* The VGA BIOS is for SeaBIOS; OVMF drives the display itself
	 * (QemuVideoDxe: its GOP) and runs no legacy option ROM. */
	bool vgabios = !pc->cfg->kernel && strcmp(pc->cfg->firmware, "ovmf");
	memset(&pc->bochs, 0, sizeof(pc->bochs));
	pc->bochs.slot = -1;
	if (vgatext_init(&pc->vga) < 0 || bochs_init(&pc->bochs, &pc->vga, vgabios ? VGABIOS_PATH : NULL) < 0 ||
	    pci_register(&pc->bochs.pci, PC_DISPLAY_SLOT, 0) < 0) {
		bochs_exit(&pc->bochs);
		vgatext_exit(&pc->vga);
		return -1;
	}
	if (ranges_add(r, NRANGES(r)) < 0) {
		pci_unregister(&pc->bochs.pci);
		bochs_exit(&pc->bochs);
		vgatext_exit(&pc->vga);
		return -1;
	}
	if (pc->cfg->kernel &&
	    bochs_direct_mode(&pc->bochs, PC_DIRECT_LFB, PC_DIRECT_MMIO, 1024, 768) < 0) {
		undo_display(pc);
		return -1;
	}
	fb_set_source(&(struct fb_source){ bochs_scanout, &pc->bochs });
	return 0;
}

/* The ROM copy belongs to the VM: undo_kvm frees it. */
static int step_firmware(struct pc *pc) { return pc->cfg->kernel ? 0 : pc_load_firmware(pc); }

static int step_efivars(struct pc *pc)
{
	if (!pc_uefi(pc))
		return 0;
	struct config *c = pc->cfg;
	struct efivars_cfg ec = { c->firmware, c->efivars, c->efivars_dir, c->ndisks ? c->disks[0] : NULL, c->secure_boot };
	return efivars_attach(&ec, pc->fw_base);
}

static void undo_efivars(struct pc *pc) { efivars_detach(); }

/* Into guest RAM and vCPU 0's registers only: nothing to undo. */
static int step_boot(struct pc *pc) { return pc_boot(pc); }

static int step_run(struct pc *pc) { return vcpus_start(&pc->vm); }

/* The undo of run stops the vCPUs and waits for them: the tear-down after
 * it frees disks, fw_cfg data and video memory that a running vCPU's exit
 * handler could still be using. */
static void undo_run(struct pc *pc)
{
	vm_request_stop(HAL_EXIT_SIGNAL); /* no-op if already stopping */
	vcpus_join(&pc->vm);
}

static const struct step {
	const char *name;
	int (*init)(struct pc *pc);
	void (*exit)(struct pc *pc); /* NULL: init keeps nothing of its own */
} steps[] = {
	{ "kvm", step_kvm, undo_kvm },
	{ "ram", step_ram, undo_ram },
	{ "vcpus", step_vcpus, undo_vcpus },
	{ "ports", step_ports, undo_ports },
	{ "hpet", step_hpet, undo_hpet },
	{ "pci", step_pci, undo_pci },
	{ "fwcfg", step_fwcfg, undo_fwcfg },
	{ "disks", step_disks, undo_disks },
	{ "ahci", step_ahci, undo_ahci },
	{ "rng", step_rng, undo_rng },
	{ "nics", step_nics, undo_nics },
	{ "display", step_display, undo_display },
	{ "firmware", step_firmware, NULL },
	{ "efivars", step_efivars, undo_efivars },
	{ "boot", step_boot, NULL },
	{ "run", step_run, undo_run },
};

int pc_run(struct pc *pc)
{
	const size_t nsteps = sizeof(steps) / sizeof(steps[0]);
	size_t done = 0;
	int code = HAL_EXIT_ERROR;
	for (; done < nsteps; done++) {
		dbg("bring-up: %s", steps[done].name);
		if (steps[done].init(pc) < 0)
			break;
	}
	if (done == nsteps) {
		while (!__atomic_load_n(&pc->vm.stopping, __ATOMIC_ACQUIRE))
			if (loop_run_once(-1) < 0)
				vm_request_stop(HAL_EXIT_ERROR);
		code = pc->vm.exit_code;
	}
	while (done-- > 0) {
		dbg("tear-down: %s", steps[done].name);
		if (steps[done].exit)
			steps[done].exit(pc);
	}
	int left = bus_count();
	if (left)
		warnx("tear-down left %d I/O ranges registered", left);
	return code;
}
