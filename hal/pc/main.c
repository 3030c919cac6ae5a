/* hal: bring-up and tear-down of the VM, and the main event loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kd.h>

#include "core/config.h"
#include "core/hal.h"
#include "core/loop.h"
#include "disk/label.h"
#include "display/fb.h"
#include "host/console.h"
#include "host/evdev.h"
#include "hw/debug.h"
#include "hw/fwcfg.h"
#include "hw/i8042.h"
#include "hw/pci.h"
#include "hw/pflash.h"
#include "hw/pm.h"
#include "hw/reset.h"
#include "hw/rtc.h"
#include "hw/serial.h"
#include "pc/chipset.h"
#include "pc/efivars.h"
#include "virtio/virtio.h"
#include "x86/acpi.h"
#include "x86/boot.h"

#define SEABIOS_PATH "/usr/share/seabios/bios-256k.bin"
#define PM_BASE 0x600
#define SCI_IRQ 9
#define DISK_SLOT0 3
#define DISPLAY_SLOT 2
#define VGABIOS_PATH "/usr/share/seabios/vgabios-bochs-display.bin"
/* Direct boot: where hal itself places the display's BARs (PCI window). */
#define DIRECT_LFB  0xFD000000ULL
#define DIRECT_MMIO 0xFEBF0000ULL


static struct config cfg;
static struct vm vm;
static struct serial com1;
static struct i8042 kbc;
static struct pm pm;
static struct debugport dbgport = { .debugcon_fd = -1 };
static struct reset_ctl resetctl;
static struct chipset chipset;
static struct rtc rtc;
static struct fwcfg fwcfg;
static struct bochs bochs;
static struct vgatext vga;
static int serial_out_fd = -1;

/* ---- terminal: raw while the guest owns it, restored on every exit path ---- */

static struct termios saved_tio;
static int tio_saved;

static void term_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void fatal_signal(int sig)
{
	display_emergency_restore(); /* both async-signal-safe */
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int term_init(void)
{
	if (cfg.serial != OUT_STDIO || !isatty(STDIN_FILENO))
		return 0;
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return 0;
	tio_saved = 1;
	atexit(term_restore);
	t = saved_tio;
	cfmakeraw(&t);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
	return 0;
}


/* ---- file helpers -------------------------------------------------------- */

static int open_out(enum out_kind k, const char *path)
{
	if (k == OUT_NONE)
		return -1;
	if (k == OUT_STDIO)
		return STDOUT_FILENO;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err("cannot open %s: %s", path, strerror(errno));
	return fd;
}

/* ---- machine callbacks ---------------------------------------------------- */

static void isa_irq(int irq, int level) { vm_irq_line(irq, level); }
static void com1_irq(void *ctx, int level) { (void)ctx; vm_irq_line(4, level); }
static void sci_irq(int level) { vm_irq_line(SCI_IRQ, level); }
static void rtc_irq(int level) { vm_irq_line(8, level); }
static void guest_reset(void) { vm_request_stop(HAL_EXIT_RESET); }

static void guest_sleep(int slp_typ)
{
	if (slp_typ == 0) /* our _S5 */
		vm_request_stop(HAL_EXIT_POWEROFF);
	else
		warnx("guest asked for sleep state type %d; only S5 (power off) exists", slp_typ);
}

/* ---- ACPI ------------------------------------------------------------------- */

/* The PM base the firmware programmed into PIIX4 (0x600 until it does). */
static uint16_t acpi_pm_base(void)
{
	return chipset.pm_base ? chipset.pm_base : PM_BASE;
}

static int acpi_tables(struct acpi_tables *t)
{
	struct acpi_cfg ac = { .ncpus = cfg.cpus, .pm_base = acpi_pm_base(), .sci_irq = SCI_IRQ };
	return acpi_build(&ac, t);
}

/* Direct boot: link the tables at 0xE0000 ourselves. */
static int load_acpi(uint64_t *rsdp)
{
	struct acpi_tables t;
	if (acpi_tables(&t) < 0)
		return -1;
	uint64_t base[ACPI_NFILES] = { [ACPI_RSDP] = BOOT_ACPI_ADDR, [ACPI_TABLES] = BOOT_ACPI_ADDR + 64 };
	acpi_link(&t, base);
	uint8_t *r = gpa_ptr(&vm.mem, base[ACPI_RSDP], t.len[ACPI_RSDP]);
	uint8_t *tb = gpa_ptr(&vm.mem, base[ACPI_TABLES], t.len[ACPI_TABLES]);
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
static void acpi_on_select(struct fwcfg_item *it, void *ctx)
{
	struct acpi_tables t;
	int file = (int)(intptr_t)ctx;
	if (acpi_tables(&t) == 0)
		fwcfg_item_set(it, t.blob[file], (uint32_t)t.len[file]);
	acpi_free(&t);
}

static int fwcfg_setup(void)
{
	struct e820_entry e[8];
	int n = mem_e820_fw(&vm.mem, e, 8);
	uint64_t ram = vm.mem.ram_size;
	uint8_t uuid[16] = { 0 };
	int r = 0;

	fwcfg_init(&fwcfg, &vm.mem);
	r |= fwcfg_add(&fwcfg, FW_CFG_RAM_SIZE, &ram, 8);
	r |= fwcfg_add(&fwcfg, FW_CFG_UUID, uuid, 16);
	r |= fwcfg_add_u16(&fwcfg, FW_CFG_NB_CPUS, (uint16_t)cfg.cpus);
	r |= fwcfg_add_u16(&fwcfg, FW_CFG_MAX_CPUS, (uint16_t)cfg.cpus);
	r |= fwcfg_add_u16(&fwcfg, FW_CFG_NOGRAPHIC, 0);
	/* QEMU's -boot menu=on,splash-time=MS: SeaBIOS shows "Press ESC for
	 * boot menu", OVMF a "Start boot option" bar; both wait that long. */
	r |= fwcfg_add_u16(&fwcfg, FW_CFG_BOOT_MENU, cfg.boot_menu_ms >= 0);
	r |= fwcfg_add_u32(&fwcfg, FW_CFG_IRQ0_OVERRIDE, 0); /* KVM routes IRQ0 to pin 0 */
	r |= !fwcfg_add_file(&fwcfg, "etc/e820", e, (uint32_t)(n * (int)sizeof(e[0])));
	if (cfg.ndisks) { /* the first disk boots first; others after it */
		char order[32];
		int len = snprintf(order, sizeof(order), "/pci@i0cf8/*@%x\n", DISK_SLOT0);
		r |= !fwcfg_add_file(&fwcfg, "bootorder", order, (uint32_t)len + 1);
	}
	if (cfg.boot_menu_ms >= 0) {
		uint16_t wait = (uint16_t)cfg.boot_menu_ms;
		r |= !fwcfg_add_file(&fwcfg, "etc/boot-menu-wait", &wait, 2);
	}
	uint32_t fail_wait = 60000;
	r |= !fwcfg_add_file(&fwcfg, "etc/boot-fail-wait", &fail_wait, 4);

	struct acpi_tables t;
	size_t len;
	if (r || acpi_tables(&t) < 0)
		return -1;
	uint8_t *script = acpi_loader_script(&t, &len);
	for (int f = 0; f < ACPI_NFILES; f++) {
		struct fwcfg_item *it = fwcfg_add_file(&fwcfg, acpi_file_names[f], t.blob[f], (uint32_t)t.len[f]);
		if (!it)
			r = -1;
		else {
			it->on_select = acpi_on_select;
			it->ctx = (void *)(intptr_t)f;
		}
	}
	if (!script || !fwcfg_add_file(&fwcfg, "etc/table-loader", script, (uint32_t)len))
		r = -1;
	free(script);
	acpi_free(&t);
	return r ? -1 : 0;
}

/* ---- bring-up steps, in order; exits run in reverse for the steps that ran */

static int step_kvm(void) { return vm_create(&vm, cfg.mem, cfg.cpus); }
static void undo_kvm(void) { vm_destroy(&vm); }

static int step_vcpus(void) { return vcpus_create(&vm); }
static void undo_vcpus(void) { vcpus_join_destroy(&vm); }

static int step_devices(void)
{
	serial_init(&com1, serial_out_fd, com1_irq, NULL);
	i8042_init(&kbc, isa_irq, guest_reset);
	pm_init(&pm, sci_irq, guest_sleep);
	input_attach(&kbc, &pm);
	resetctl = (struct reset_ctl){ .port92 = 0x02, .reset = guest_reset };
	struct rtc_cfg rc = { vm.mem.low_end, vm.mem.high_size, cfg.cpus, { 2, 3, 0 } };
	if (rtc_init(&rtc, &rc, rtc_irq) < 0 || loop_add(rtc.timer_fd, rtc_tick, &rtc) < 0)
		return -1;
	pci_set_irq_sink(isa_irq);
	/* Direct boot has no firmware to program the PM base and PIRQs. */
	if (chipset_init(&chipset, &pm, cfg.kernel ? PM_BASE : 0) < 0 || fwcfg_setup() < 0)
		return -1;

	int r = 0;
	r |= bus_register(BUS_PIO, 0xcf8, 1, pci_cfg_io, NULL); /* dword at 0xCF8; 0xCF9 is reset */
	r |= bus_register(BUS_PIO, 0xcfc, 4, pci_cfg_io, NULL);
	r |= bus_register(BUS_PIO, 0x3f8, 8, serial_io, &com1);
	r |= bus_register(BUS_PIO, 0x60, 1, i8042_io, &kbc);
	r |= bus_register(BUS_PIO, 0x64, 1, i8042_io, &kbc);
	r |= bus_register(BUS_PIO, 0x70, 2, rtc_io, &rtc);
	r |= bus_register(BUS_PIO, 0xb2, 2, pm_apm_io, &pm);
	r |= bus_register(BUS_PIO, 0xafe0, 4, pm_gpe_io, &pm);
	r |= bus_register(BUS_PIO, 0x92, 1, reset_io, &resetctl);
	r |= bus_register(BUS_PIO, 0xcf9, 1, reset_io, &resetctl);
	r |= bus_register(BUS_PIO, 0x510, 2, fwcfg_io, &fwcfg);
	r |= bus_register(BUS_PIO, 0x514, 8, fwcfg_io, &fwcfg);
	r |= bus_register(BUS_PIO, DEBUGCON_PORT, 1, debugcon_io, &dbgport);
	r |= bus_register(BUS_PIO, MARKER_PORT, 4, marker_io, &dbgport);
	if (r)
		return -1;
	/* Disks from slot 3 on (slot 2 is kept for the display). */
	for (int i = 0; i < cfg.ndisks; i++) {
		char why[256];
		if (virtio_blk_create(cfg.disks[i], DISK_SLOT0 + i, why, sizeof(why)) < 0) {
			err("%s", why);
			return -1;
		}
	}
	return 0;
}

static void undo_devices(void)
{
	input_attach(NULL, NULL);
	virtio_blk_destroy_all();
	loop_del(rtc.timer_fd);
	rtc_exit(&rtc);
	fwcfg_exit(&fwcfg);
	pci_reset_bus();
	bus_unregister_all();
}

/* The display (docs/display.md): bochs-display in PCI slot 2 with the VGA
 * window and ports; the framebuffer core shows whichever is active. */
static int step_display(void)
{
	/* The VGA BIOS is for SeaBIOS; OVMF drives the display itself
	 * (QemuVideoDxe: its GOP) and runs no legacy option ROM. */
	bool vgabios = !cfg.kernel && strcmp(cfg.firmware, "ovmf");
	if (vgatext_init(&vga) < 0 || bochs_init(&bochs, &vga, vgabios ? VGABIOS_PATH : NULL) < 0 ||
	    pci_register(&bochs.pci, DISPLAY_SLOT, 0) < 0)
		return -1;
	int r = bus_register(BUS_PIO, 0x3c0, 0x20, vgatext_io, &vga);
	r |= bus_register(BUS_PIO, 0x1ce, 3, bochs_dispi_io, &bochs);
	if (r || (cfg.kernel && bochs_direct_mode(&bochs, DIRECT_LFB, DIRECT_MMIO, 1024, 768) < 0))
		return -1;
	fb_set_source(&(struct fb_source){ bochs_scanout, &bochs });
	return 0;
}

static void undo_display(void)
{
	fb_set_source(NULL);
	bochs_exit(&bochs);
	vgatext_exit(&vga);
}

static int boot_kernel(void)
{
	struct boot_args a = { .cmdline = cfg.append ? cfg.append : "", .force_32bit = cfg.entry32,
			       .fb = { DIRECT_LFB, BOCHS_VRAM, 1024, 768, 1024 * 4 } };
	struct boot_regs regs;
	char why[256];
	uint8_t *kernel = NULL, *initrd = NULL;
	int ret = -1;

	kernel = hal_read_file("kernel", cfg.kernel, 512 * MiB, &a.kernel_size);
	if (!kernel)
		goto out;
	a.kernel = kernel;
	if (cfg.initrd) {
		initrd = hal_read_file("initrd", cfg.initrd, vm.mem.low_end, &a.initrd_size);
		if (!initrd)
			goto out;
		a.initrd = initrd;
	}
	if (load_acpi(&a.rsdp_addr) < 0) {
		err("cannot build the ACPI tables");
		goto out;
	}
	if (bzimage_load(&vm.mem, &a, &regs, why, sizeof(why)) < 0) {
		err("%s: %s", cfg.kernel, why);
		goto out;
	}
	ret = vcpu_set_boot_regs(&vm.vcpus[0], &regs);
out:
	free(kernel);
	free(initrd);
	return ret;
}

/* --firmware auto (the default without --kernel) was decided from this disk. */
static const char *fw_auto_disk;

static int boot_firmware(void)
{
	const char *path = !strcmp(cfg.firmware, "bios") ? SEABIOS_PATH :
			   !strcmp(cfg.firmware, "ovmf") ? OVMF_CODE_PATH : cfg.firmware;
	bool uefi = !strcmp(cfg.firmware, "ovmf") || cfg.efivars;
	size_t size;
	uint8_t *img = hal_read_file("firmware", path, 16 * MiB, &size);
	if (!img) {
		if (path == (const char *)SEABIOS_PATH)
			err("install Debian's seabios package, or give --kernel or --firmware PATH");
		else if (path == (const char *)OVMF_CODE_PATH && fw_auto_disk)
			err("install Debian's ovmf package: %s needs UEFI firmware (or force --firmware bios)", fw_auto_disk);
		else if (path == (const char *)OVMF_CODE_PATH)
			err("install Debian's ovmf package for --firmware ovmf");
		return -1;
	}
	int ret = -1;
	if (size < 4096 || size % 4096) {
		err("firmware %s: %zu bytes is not a whole number of 4 KiB pages", path, size);
		goto out;
	}
	/* Whole image just below 4 GiB (read-only, where the reset vector is),
	 * and its last 128 KiB (or all of it) as RAM ending at 1 MiB. UEFI: the
	 * variable store (flash) right below it (OVMF_CODE_4M: 0xFFC00000). */
	if (vm_add_rom(0x100000000ULL - size, img, size) < 0)
		goto out;
	struct efivars_cfg ec = { cfg.firmware, cfg.efivars, cfg.efivars_dir, cfg.ndisks ? cfg.disks[0] : NULL, cfg.secure_boot };
	if (uefi && efivars_attach(&ec, 0x100000000ULL - size) < 0)
		goto out;
	size_t low = size < 128 * KiB ? size : 128 * KiB;
	uint8_t *dst = gpa_ptr(&vm.mem, HIMEM_START - low, low);
	if (!dst)
		goto out;
	memcpy(dst, img + size - low, low);
	vm.reset_on_triple_fault = true;
	struct boot_regs regs = { .mode = BOOT_RESET };
	ret = vcpu_set_boot_regs(&vm.vcpus[0], &regs);
out:
	free(img);
	return ret;
}

/* --firmware auto: decided once, when hal starts, from the first disk's
 * label (hal/disk/label.c); a guest reboot keeps the firmware. With
 * --firmware ovmf, a disk OVMF cannot boot gets a warning. Returns 0 or an
 * exit status. */
static int choose_firmware(void)
{
	bool is_auto = cfg.firmware && !strcmp(cfg.firmware, "auto");
	bool ovmf = cfg.firmware && !strcmp(cfg.firmware, "ovmf");
	if (!is_auto && (!ovmf || !cfg.ndisks))
		return 0; /* --kernel, bios, PATH, or ovmf without a disk */
	if (!cfg.ndisks) {
		cfg.firmware = "bios"; /* no disk: SeaBIOS, as always */
		if (!cfg.efivars && !cfg.secure_boot)
			return 0;
		err("%s needs UEFI firmware, and without a --disk hal boots SeaBIOS: add --firmware ovmf",
		    cfg.efivars ? "--efivars" : "--secure-boot");
		return HAL_EXIT_USAGE;
	}
	static char path[4096];
	char why[160];
	size_t n = strcspn(cfg.disks[0], ","); /* PATH[,ro][,serial=S] */
	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, cfg.disks[0], n);
	path[n] = 0;
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
	cfg.firmware = fw == DISKLABEL_OVMF ? "ovmf" : "bios";
	fw_auto_disk = path;
	hal_log(NULL, "%s: %s: booting with --firmware %s", path, why, cfg.firmware);
	if (fw == DISKLABEL_BIOS && cfg.secure_boot) {
		err("--secure-boot needs UEFI firmware, but %s boots through BIOS (%s): add --firmware ovmf to boot it with OVMF",
		    path, why);
		return HAL_EXIT_USAGE;
	}
	if (fw == DISKLABEL_BIOS && cfg.efivars) {
		err("--efivars needs UEFI firmware, but %s boots through BIOS (%s): add --firmware ovmf to boot it with OVMF",
		    path, why);
		return HAL_EXIT_USAGE;
	}
	return 0;
}

static int step_boot(void) { return cfg.kernel ? boot_kernel() : boot_firmware(); }
static void undo_boot(void) {}

static int step_run(void) { return vcpus_start(&vm); }
/* The undo of run stops the vCPUs and waits for them: the tear-down after
 * it frees disks, fw_cfg data and video memory that a running vCPU's exit
 * handler could still be using. */
static void undo_run(void)
{
	vm_request_stop(HAL_EXIT_SIGNAL); /* no-op if already stopping */
	vcpus_join(&vm);
}

static const struct step {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
} steps[] = {
	{ "kvm", step_kvm, undo_kvm },
	{ "vcpus", step_vcpus, undo_vcpus },
	{ "devices", step_devices, undo_devices },
	{ "display", step_display, undo_display },
	{ "boot", step_boot, undo_boot },
	{ "run", step_run, undo_run },
};

/* ---- host input and signals ----------------------------------------------- */

static int escape;

static void on_stdin(void *ctx)
{
	uint8_t buf[256], out[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			loop_del(STDIN_FILENO); /* end of input: the guest just gets no more */
		return;
	}
	size_t m = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (tio_saved && escape) { /* Ctrl-A x quits; Ctrl-A Ctrl-A sends one */
			escape = 0;
			if (buf[i] == 'x') {
				fprintf(stderr, "\r\nhal: quit\r\n");
				vm_request_stop(HAL_EXIT_SIGNAL);
				return;
			}
			if (buf[i] != 1)
				continue;
		} else if (tio_saved && buf[i] == 1) {
			escape = 1;
			continue;
		}
		out[m++] = buf[i];
	}
	/* The UART FIFO is large; what does not fit is dropped with an overrun,
	 * as on hardware. */
	serial_rx(&com1, out, m);
}

static int signal_fd = -1, stop_requested;

static void hotkey_stop(void)
{
	hal_log(NULL, "stopped by the host's hotkey");
	stop_requested = 1;
	vm_request_stop(HAL_EXIT_SIGNAL);
}

static void on_signal(void *ctx)
{
	struct signalfd_siginfo si;
	if (read(signal_fd, &si, sizeof(si)) == sizeof(si)) {
		warnx("stopped by signal %u", si.ssi_signo);
		stop_requested = 1;
		vm_request_stop(HAL_EXIT_SIGNAL);
	}
}

static void on_vm_stop(void *ctx)
{
	uint64_t v;
	if (read(vm_stop_efd, &v, sizeof(v)) < 0) {
		/* nothing: the flag in struct vm is what counts */
	}
}

/* One boot of the machine: bring-up, run until the guest stops, tear-down. */
static int run_vm(void)
{
	size_t done = 0;
	int code = HAL_EXIT_ERROR;
	for (; done < sizeof(steps) / sizeof(steps[0]); done++) {
		dbg("bring-up: %s", steps[done].name);
		if (steps[done].init() < 0)
			break;
		if (done == 0)
			loop_add(vm_stop_efd, on_vm_stop, NULL);
	}
	if (done == sizeof(steps) / sizeof(steps[0])) {
		while (!__atomic_load_n(&vm.stopping, __ATOMIC_ACQUIRE))
			if (loop_run_once(-1) < 0)
				vm_request_stop(HAL_EXIT_ERROR);
		code = vm.exit_code;
	}
	if (done > 0)
		loop_del(vm_stop_efd);
	while (done-- > 0) {
		dbg("tear-down: %s", steps[done].name);
		steps[done].exit();
	}
	return code;
}

int main(int argc, char **argv)
{
	char why[256];
	hal_start_ns = now_ns();
	switch (config_parse(argc, argv, &cfg, why, sizeof(why))) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_USAGE:
		fprintf(stderr, "hal: %s\nTry 'hal --help'.\n", why);
		return HAL_EXIT_USAGE;
	}
	hal_verbose = cfg.verbose;

	/* All signals are taken by the event loop through a signalfd; vCPU
	 * threads inherit this mask and only unblock their kick signal. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	int fwcode = choose_firmware(); /* after the mask: a SIGTERM from here on ends hal with 5 */
	if (fwcode)
		return fwcode;

	serial_out_fd = open_out(cfg.serial, cfg.serial_path);
	dbgport.debugcon_fd = open_out(cfg.debugcon, cfg.debugcon_path);
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if ((cfg.serial == OUT_FILE && serial_out_fd < 0) || (cfg.debugcon == OUT_FILE && dbgport.debugcon_fd < 0) ||
	    signal_fd < 0 || loop_init() < 0 || loop_add(signal_fd, on_signal, NULL) < 0)
		return HAL_EXIT_ERROR;
	if (cfg.serial == OUT_STDIO)
		loop_add(STDIN_FILENO, on_stdin, NULL); /* fails for /dev/null or a file: no input then */
	/* A crash must not leave the host's screen or terminal unusable. */
	const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	/* Taking over the screen and grabbing keyboards is right on a machine's
	 * text console (the HAL's own case), wrong under X or over ssh. */
	int kdmode;
	if (!cfg.display)
		cfg.display = ioctl(STDIN_FILENO, KDGETMODE, &kdmode) == 0 && kdmode == KD_TEXT ? "auto" : "none";
	if ((cfg.control && control_start(cfg.control) < 0) || fb_start(NULL, cfg.display, cfg.control != NULL) < 0)
		return HAL_EXIT_ERROR;
	if (fb_has_backend()) /* the guest is on the screen: give it keyboard and mouse */
		evdev_start(&(struct evdev_sink){ input_key, input_mouse, machine_power_button, hotkey_stop });
	term_init();

	int code;
	for (;;) {
		code = run_vm();
		if (code != HAL_EXIT_RESET || cfg.no_reboot || stop_requested)
			break;
		hal_log(NULL, "guest reset: restarting");
	}
	efivars_exit();
	evdev_stop();
	control_stop();
	fb_stop();
	term_restore();
	dbg("exit %d", code);
	return code;
}
