/* What boots the PC and what it is given: the firmware choice (--firmware
 * auto reads the first disk's label), fw_cfg's contents with the ACPI
 * tables, the firmware image at the top of 4 GiB, or a Linux kernel loaded
 * directly with its own ACPI tables. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "disk/disk.h"
#include "disk/label.h"
#include "pc/efivars.h"
#include "pc/pc.h"
#include "x86/acpi.h"
#include "x86/smbios.h"
#include "x86/boot.h"

#define SEABIOS_PATH "/usr/share/seabios/bios-256k.bin"

/* ---- the firmware choice ---------------------------------------------------------- */

static int needs_uefi(const struct config *c, const char *disk, const char *why)
{
	const char *opt = c->secure_boot ? "--secure-boot" : "--efivars";
	if (disk)
		err("%s needs UEFI firmware, but %s boots through BIOS (%s): add --firmware ovmf to boot it with OVMF",
		    opt, disk, why);
	else
		err("%s needs UEFI firmware, and without a --disk hal boots SeaBIOS: add --firmware ovmf", opt);
	return HAL_EXIT_USAGE;
}

/* SeaBIOS's OpenFirmware paths (its boot.c): a virtio disk is its PCI
 * device, an AHCI port is drive@PORT below the controller. */
uint32_t pc_bootorder(const struct config *c, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = 0;
	for (int b = 0; b < c->nboot && len < n; b++) {
		int port = pc_ahci_port(c, b), w;
		if (port >= 0)
			w = snprintf(buf + len, n - len, "/pci@i0cf8/*@%x/drive@%x/disk@0\n", PC_AHCI_SLOT, port);
		else
			w = snprintf(buf + len, n - len, "/pci@i0cf8/*@%x\n", pc_virtio_slot(c, c->boot[b].index));
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
	return (uint32_t)len;
}

int pc_choose_firmware(struct pc *pc)
{
	struct config *c = pc->cfg;
	bool is_auto = c->firmware && !strcmp(c->firmware, "auto");
	bool ovmf = c->firmware && !strcmp(c->firmware, "ovmf");
	if (!is_auto && (!ovmf || !c->ndisks))
		return 0; /* --kernel, bios, PATH, or ovmf without a disk */
	if (is_auto && c->nboot && c->boot[0].cdrom) { /* El Torito boots from SeaBIOS */
		c->firmware = "bios";
		hal_log(NULL, "%s: a CD boots first: booting with --firmware bios (--firmware ovmf for UEFI)", c->cdroms[0]);
		return c->efivars || c->secure_boot ? needs_uefi(c, c->cdroms[0], "a CD boots first") : 0;
	}
	if (!c->ndisks) {
		c->firmware = "bios"; /* no disk: SeaBIOS, as always */
		return c->efivars || c->secure_boot ? needs_uefi(c, NULL, NULL) : 0;
	}
	static char path[4096];
	char why[160];
	if (disk_spec_path(c->disks[0], path, sizeof(path)) < 0) { /* PATH[,ro][,serial=S] */
		err("--disk %s: path too long", c->disks[0]);
		return HAL_EXIT_ERROR;
	}
	if (disk_is_nbd(path)) { /* not opened twice: a qemu-nbd serves one client, then ends */
		if (!is_auto)
			return 0; /* --firmware ovmf: as asked, nothing checked */
		c->firmware = "bios";
		hal_log(NULL, "%s: an NBD disk is not probed: booting with --firmware bios (--firmware ovmf for a UEFI disk)", path);
		return c->efivars || c->secure_boot ? needs_uefi(c, path, "an NBD disk is not probed") : 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err("--disk %s: %s", path, strerror(errno));
		return HAL_EXIT_ERROR;
	}
	struct disklabel dl;
	disklabel_probe_fd(fd, &dl);
	close(fd);
	enum disklabel_fw fw = disklabel_firmware(&dl, why, sizeof(why));
	if (!is_auto) {
		if (!disklabel_uefi_bootable(&dl))
			warnx("%s has no EFI system partition (%s): OVMF will find nothing to boot on it", path, why);
		return 0;
	}
	c->firmware = fw == DISKLABEL_OVMF ? "ovmf" : "bios";
	pc->fw_auto_disk = path;
	hal_log(NULL, "%s: %s: booting with --firmware %s", path, why, c->firmware);
	if (fw == DISKLABEL_BIOS && (c->secure_boot || c->efivars))
		return needs_uefi(c, path, why);
	return 0;
}

bool pc_uefi(const struct pc *pc)
{
	return !pc->cfg->kernel && (!strcmp(pc->cfg->firmware, "ovmf") || pc->cfg->efivars);
}

/* ---- ACPI ---------------------------------------------------------------------------- */

/* The PM base the firmware programmed into PIIX4 (PC_PM_BASE until it does). */
static int acpi_tables(struct pc *pc, struct acpi_tables *t)
{
	uint16_t pm_base = pc->chipset.pm_base ? pc->chipset.pm_base : PC_PM_BASE;
	struct acpi_cfg ac = { .ncpus = pc->cfg->cpus, .pm_base = pm_base, .sci_irq = PC_SCI_IRQ, .hpet = !pc->cfg->no_hpet };
	return acpi_build(&ac, t);
}

/* Direct boot: link the tables at BOOT_ACPI_ADDR ourselves. */
static int load_acpi(struct pc *pc, uint64_t *rsdp)
{
	struct acpi_tables t;
	if (acpi_tables(pc, &t) < 0)
		return -1;
	uint64_t base[ACPI_NFILES] = { [ACPI_RSDP] = BOOT_ACPI_ADDR, [ACPI_TABLES] = BOOT_ACPI_ADDR + 64 };
	acpi_link(&t, base);
	uint8_t *r = gpa_ptr(&pc->vm.mem, base[ACPI_RSDP], t.len[ACPI_RSDP]);
	uint8_t *tb = gpa_ptr(&pc->vm.mem, base[ACPI_TABLES], t.len[ACPI_TABLES]);
	if (r && tb && base[ACPI_TABLES] + t.len[ACPI_TABLES] <= HIMEM_START) {
		memcpy(r, t.blob[ACPI_RSDP], t.len[ACPI_RSDP]);
		memcpy(tb, t.blob[ACPI_TABLES], t.len[ACPI_TABLES]);
	} else {
		r = NULL;
	}
	acpi_free(&t);
	*rsdp = base[ACPI_RSDP];
	return r ? 0 : -1;
}

/* Firmware boot: rebuilt when the firmware first reads them, so the FADT
 * names the PM base it has programmed by then (SeaBIOS 0x600, OVMF 0xB000). */
struct acpi_select {
	struct pc *pc;
	int file;
};

static void acpi_on_select(struct fwcfg_item *it, void *ctx)
{
	const struct acpi_select *f = ctx;
	struct acpi_tables t;
	if (acpi_tables(f->pc, &t) == 0)
		fwcfg_item_set(it, t.blob[f->file], (uint32_t)t.len[f->file]);
	acpi_free(&t);
}

static int fwcfg_acpi(struct pc *pc)
{
	static struct acpi_select files[ACPI_NFILES];
	struct acpi_tables t;
	size_t len;
	if (acpi_tables(pc, &t) < 0)
		return -1;
	int r = 0;
	uint8_t *script = acpi_loader_script(&t, &len);
	for (int f = 0; f < ACPI_NFILES; f++) {
		struct fwcfg_item *it = fwcfg_add_file(&pc->fwcfg, acpi_file_names[f], t.blob[f], (uint32_t)t.len[f]);
		if (!it) {
			r = -1;
			continue;
		}
		files[f] = (struct acpi_select){ pc, f };
		it->on_select = acpi_on_select;
		it->ctx = &files[f];
	}
	if (!script || !fwcfg_add_file(&pc->fwcfg, "etc/table-loader", script, (uint32_t)len))
		r = -1;
	free(script);
	acpi_free(&t);
	return r;
}

/* ---- fw_cfg ---------------------------------------------------------------------------- */

int pc_load_smbios(struct pc *pc)
{
	const char *arg = pc->cfg->smbios;
	char why[160];
	if (strncmp(arg, "file=", 5))
		return 0;
	pc->smbios_file = hal_read_file("SMBIOS table", arg + 5, SMBIOS_FILE_MAX, &pc->smbios_file_len);
	if (!pc->smbios_file)
		return HAL_EXIT_ERROR;
	if (smbios_validate(pc->smbios_file, pc->smbios_file_len, why, sizeof(why)) < 0) {
		err("--smbios %s: not an SMBIOS structure table: %s", arg, why);
		return HAL_EXIT_ERROR;
	}
	return 0;
}

/* CPUID leaf 1 as KVM offers it to the guest: family, model, stepping in
 * EAX and the feature flags in EDX, SMBIOS type 4's processor ID. */
static uint64_t processor_id(const struct vm *vm)
{
	for (unsigned i = 0; vm->cpuid && i < vm->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vm->cpuid->entries[i];
		if (e->function == 1)
			return (uint64_t)e->edx << 32 | e->eax;
	}
	return 0;
}

/* SMBIOS (docs/usage.md, --smbios): only firmware reads these files; a
 * directly booted kernel finds no tables. The UUID of type 1 is fw_cfg's
 * UUID item too, so the firmware's own view of the machine agrees. */
static int fwcfg_smbios(struct pc *pc)
{
	const struct config *c = pc->cfg;
	const struct guest_mem *m = &pc->vm.mem;
	struct smbios s;
	struct smbios_ids id;
	uint8_t uuid[16];
	int r;
	if (!strcmp(c->smbios, "host"))
		smbios_ids_host(&id, SMBIOS_DMI_DIR);
	else
		smbios_ids_default(&id);
	id.processor_id = processor_id(&pc->vm);
	if (pc->smbios_file) {
		r = smbios_wrap(pc->smbios_file, pc->smbios_file_len, &s);
		if (smbios_table_uuid(pc->smbios_file, pc->smbios_file_len, id.uuid) < 0)
			memset(id.uuid, 0, sizeof(id.uuid));
	} else {
		r = smbios_build(&id, c->cpus, m->ram_size, m->low_end, m->high_size, &s);
	}
	if (r < 0)
		return -1;
	smbios_uuid_wire(id.uuid, uuid);
	/* fw_cfg copies the data */
	if (fwcfg_add(&pc->fwcfg, FW_CFG_UUID, uuid, 16) ||
	    !fwcfg_add_file(&pc->fwcfg, "etc/smbios/smbios-tables", s.tables, (uint32_t)s.len) ||
	    !fwcfg_add_file(&pc->fwcfg, "etc/smbios/smbios-anchor", s.anchor, SMBIOS_ANCHOR_LEN))
		r = -1;
	smbios_free(&s);
	return r;
}

int pc_fwcfg_fill(struct pc *pc)
{
	const struct config *c = pc->cfg;
	struct fwcfg *f = &pc->fwcfg;
	struct e820_entry e[8];
	int n = mem_e820_fw(&pc->vm.mem, e, 8);
	uint64_t ram = pc->vm.mem.ram_size;
	int r = 0;

	fwcfg_init(f, &pc->vm.mem);
	r |= fwcfg_add(f, FW_CFG_RAM_SIZE, &ram, 8);
	r |= fwcfg_add_u16(f, FW_CFG_NB_CPUS, (uint16_t)c->cpus);
	r |= fwcfg_add_u16(f, FW_CFG_MAX_CPUS, (uint16_t)c->cpus);
	r |= fwcfg_add_u16(f, FW_CFG_NOGRAPHIC, 0);
	/* QEMU's -boot menu=on,splash-time=MS: SeaBIOS shows "Press ESC for
	 * boot menu", OVMF a "Start boot option" bar; both wait that long. */
	r |= fwcfg_add_u16(f, FW_CFG_BOOT_MENU, c->boot_menu_ms >= 0);
	r |= fwcfg_add_u32(f, FW_CFG_IRQ0_OVERRIDE, 0); /* KVM routes IRQ0 to pin 0 */
	r |= !fwcfg_add_file(f, "etc/e820", e, (uint32_t)(n * (int)sizeof(e[0])));
	if (c->nboot) {
		char order[(HAL_MAX_DISKS + HAL_MAX_CDROMS) * 40];
		uint32_t len = pc_bootorder(c, order, sizeof(order));
		r |= !fwcfg_add_file(f, "bootorder", order, len + 1);
	}
	if (c->boot_menu_ms >= 0) {
		uint16_t wait = (uint16_t)c->boot_menu_ms;
		r |= !fwcfg_add_file(f, "etc/boot-menu-wait", &wait, 2);
	}
	uint32_t fail_wait = 60000;
	r |= !fwcfg_add_file(f, "etc/boot-fail-wait", &fail_wait, 4);
	return r || fwcfg_acpi(pc) < 0 || fwcfg_smbios(pc) < 0 ? -1 : 0;
}

/* ---- firmware image and boot ------------------------------------------------------------- */

static const char *firmware_path(const struct config *c)
{
	return !strcmp(c->firmware, "bios") ? SEABIOS_PATH : !strcmp(c->firmware, "ovmf") ? OVMF_CODE_PATH : c->firmware;
}

int pc_load_firmware(struct pc *pc)
{
	const char *path = firmware_path(pc->cfg);
	size_t size;
	uint8_t *img = hal_read_file("firmware", path, 16 * MiB, &size);
	if (!img) {
		if (!strcmp(path, SEABIOS_PATH))
			err("install Debian's seabios package, or give --kernel or --firmware PATH");
		else if (!strcmp(path, OVMF_CODE_PATH) && pc->fw_auto_disk)
			err("install Debian's ovmf package: %s needs UEFI firmware (or force --firmware bios)", pc->fw_auto_disk);
		else if (!strcmp(path, OVMF_CODE_PATH))
			err("install Debian's ovmf package for --firmware ovmf");
		return -1;
	}
	int ret = -1;
	if (size < 4096 || size % 4096) {
		err("firmware %s: %zu bytes is not a whole number of 4 KiB pages", path, size);
		goto out;
	}
	/* The whole image just below 4 GiB (read-only, where the reset vector
	 * is), and its last 128 KiB (or all of it) as RAM ending at 1 MiB. */
	pc->fw_base = 0x100000000ULL - size;
	if (vm_add_rom(pc->fw_base, img, size) < 0)
		goto out;
	size_t low = size < 128 * KiB ? size : 128 * KiB;
	uint8_t *dst = gpa_ptr(&pc->vm.mem, HIMEM_START - low, low);
	if (!dst)
		goto out;
	memcpy(dst, img + size - low, low);
	ret = 0;
out:
	free(img);
	return ret;
}

static int boot_kernel(struct pc *pc)
{
	const struct config *c = pc->cfg;
	struct boot_args a = { .cmdline = c->append ? c->append : "", .force_32bit = c->entry32,
			       .fb = { PC_DIRECT_LFB, BOCHS_VRAM, 1024, 768, 1024 * 4 } };
	struct boot_regs regs;
	char why[256];
	uint8_t *kernel = NULL, *initrd = NULL;
	int ret = -1;

	kernel = hal_read_file("kernel", c->kernel, 512 * MiB, &a.kernel_size);
	if (!kernel)
		goto out;
	a.kernel = kernel;
	if (c->initrd) {
		initrd = hal_read_file("initrd", c->initrd, pc->vm.mem.low_end, &a.initrd_size);
		if (!initrd)
			goto out;
		a.initrd = initrd;
	}
	if (load_acpi(pc, &a.rsdp_addr) < 0) {
		err("cannot build the ACPI tables");
		goto out;
	}
	if (bzimage_load(&pc->vm.mem, &a, &regs, why, sizeof(why)) < 0) {
		err("%s: %s", c->kernel, why);
		goto out;
	}
	ret = vcpu_set_boot_regs(&pc->vm.vcpus[0], &regs);
out:
	free(kernel);
	free(initrd);
	return ret;
}

int pc_boot(struct pc *pc)
{
	if (pc->cfg->kernel)
		return boot_kernel(pc);
	pc->vm.reset_on_triple_fault = true;
	return vcpu_set_boot_regs(&pc->vm.vcpus[0], &(struct boot_regs){ .mode = BOOT_RESET });
}
