/* hal: bring-up and tear-down of the VM, and the main event loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "acpi.h"
#include "boot.h"
#include "config.h"
#include "debug.h"
#include "hal.h"
#include "i8042.h"
#include "pm.h"
#include "reset.h"
#include "serial.h"

#define SEABIOS_PATH "/usr/share/seabios/bios-256k.bin"
#define PM_BASE 0x600
#define SCI_IRQ 9

extern int vm_stop_efd;
void vcpus_join_destroy(struct vm *vm);

static struct config cfg;
static struct vm vm;
static struct serial com1;
static struct i8042 kbc;
static struct pm pm;
static struct debugport dbgport = { .debugcon_fd = -1 };
static struct reset_ctl resetctl;
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
	term_restore(); /* async-signal-safe */
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
	const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal);
	t = saved_tio;
	cfmakeraw(&t);
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
	return 0;
}

static void term_exit(void)
{
	term_restore();
}

/* ---- file helpers -------------------------------------------------------- */

static uint8_t *read_file(const char *what, const char *path, size_t max, size_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		err("cannot open %s %s: %s", what, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		err("%s %s is not a file", what, path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		err("%s %s is too large (%lld bytes, at most %zu)", what, path, (long long)st.st_size, max);
		goto fail;
	}
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			err("cannot read %s %s: %s", what, path, n ? strerror(errno) : "file shrank");
			free(buf);
			goto fail;
		}
		got += (size_t)n;
	}
	close(fd);
	*size = got;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	return NULL;
}

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
static void guest_reset(void) { vm_request_stop(HAL_EXIT_RESET); }

static void guest_sleep(int slp_typ)
{
	if (slp_typ == 0) /* our _S5 */
		vm_request_stop(HAL_EXIT_POWEROFF);
	else
		warnx("guest asked for sleep state type %d; only S5 (power off) exists", slp_typ);
}

/* ---- bring-up steps, in order; exits run in reverse for the steps that ran */

static int step_kvm(void) { return vm_create(&vm, cfg.mem, cfg.cpus); }
static void undo_kvm(void) { vm_destroy(&vm); }

static int step_vcpus(void) { return vcpus_create(&vm); }
static void undo_vcpus(void) { vcpus_join_destroy(&vm); }

static int step_devices(void)
{
	serial_out_fd = open_out(cfg.serial, cfg.serial_path);
	if (cfg.serial == OUT_FILE && serial_out_fd < 0)
		return -1;
	dbgport.debugcon_fd = open_out(cfg.debugcon, cfg.debugcon_path);
	if (cfg.debugcon == OUT_FILE && dbgport.debugcon_fd < 0)
		return -1;
	serial_init(&com1, serial_out_fd, com1_irq, NULL);
	i8042_init(&kbc, isa_irq, guest_reset);
	pm_init(&pm, sci_irq, guest_sleep);
	resetctl.reset = guest_reset;
	resetctl.port92 = 0x02;

	int r = 0;
	r |= bus_register(BUS_PIO, 0x3f8, 8, serial_io, &com1);
	r |= bus_register(BUS_PIO, 0x60, 1, i8042_io, &kbc);
	r |= bus_register(BUS_PIO, 0x64, 1, i8042_io, &kbc);
	r |= bus_register(BUS_PIO, PM_BASE, 64, pm_io, &pm);
	r |= bus_register(BUS_PIO, 0xb2, 2, pm_apm_io, &pm);
	r |= bus_register(BUS_PIO, 0xafe0, 4, pm_gpe_io, &pm);
	r |= bus_register(BUS_PIO, 0x92, 1, reset_io, &resetctl);
	r |= bus_register(BUS_PIO, 0xcf9, 1, reset_io, &resetctl);
	r |= bus_register(BUS_PIO, DEBUGCON_PORT, 1, debugcon_io, &dbgport);
	r |= bus_register(BUS_PIO, MARKER_PORT, 4, marker_io, &dbgport);
	return r ? -1 : 0;
}

static void undo_devices(void)
{
	bus_unregister_all();
	if (serial_out_fd > STDERR_FILENO)
		close(serial_out_fd);
	if (dbgport.debugcon_fd > STDERR_FILENO)
		close(dbgport.debugcon_fd);
}

static int load_acpi(uint64_t *rsdp)
{
	struct acpi_cfg ac = { .ncpus = cfg.cpus, .pm_base = PM_BASE, .sci_irq = SCI_IRQ };
	struct acpi_tables t;
	if (acpi_build(&ac, &t) < 0)
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
	if (!r)
		return -1;
	/* The kernel's pm timer and SCI want the block decoding from the start. */
	pm.cnt = 0;
	*rsdp = base[ACPI_RSDP];
	return 0;
}

static int boot_kernel(void)
{
	struct boot_args a = { .cmdline = cfg.append ? cfg.append : "", .force_32bit = cfg.entry32 };
	struct boot_regs regs;
	char why[256];
	uint8_t *kernel = NULL, *initrd = NULL;
	int ret = -1;

	kernel = read_file("kernel", cfg.kernel, 512 * MiB, &a.kernel_size);
	if (!kernel)
		goto out;
	a.kernel = kernel;
	if (cfg.initrd) {
		initrd = read_file("initrd", cfg.initrd, vm.mem.low_end, &a.initrd_size);
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

static int boot_firmware(void)
{
	const char *path = strcmp(cfg.firmware, "bios") ? cfg.firmware : SEABIOS_PATH;
	size_t size;
	uint8_t *img = read_file("firmware", path, 16 * MiB, &size);
	if (!img) {
		if (path == (const char *)SEABIOS_PATH)
			err("install Debian's seabios package, or give --kernel or --firmware PATH");
		return -1;
	}
	int ret = -1;
	if (size < 4096 || size % 4096) {
		err("firmware %s: %zu bytes is not a whole number of 4 KiB pages", path, size);
		goto out;
	}
	/* Whole image just below 4 GiB (read-only, where the reset vector is),
	 * and its last 128 KiB (or all of it) as RAM ending at 1 MiB. */
	if (vm_add_rom(0x100000000ULL - size, img, size) < 0)
		goto out;
	size_t low = size < 128 * KiB ? size : 128 * KiB;
	uint8_t *dst = gpa_ptr(&vm.mem, HIMEM_START - low, low);
	if (!dst)
		goto out;
	memcpy(dst, img + size - low, low);
	struct boot_regs regs = { .mode = BOOT_RESET };
	ret = vcpu_set_boot_regs(&vm.vcpus[0], &regs);
out:
	free(img);
	return ret;
}

static int step_boot(void) { return cfg.kernel ? boot_kernel() : boot_firmware(); }
static void undo_boot(void) {}

static int step_term(void) { return term_init(); }
static void undo_term(void) { term_exit(); }

static int step_run(void) { return vcpus_start(&vm); }
static void undo_run(void)
{
	vm_request_stop(HAL_EXIT_SIGNAL); /* no-op if already stopping */
}

static const struct step {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
} steps[] = {
	{ "kvm", step_kvm, undo_kvm },
	{ "vcpus", step_vcpus, undo_vcpus },
	{ "devices", step_devices, undo_devices },
	{ "boot", step_boot, undo_boot },
	{ "terminal", step_term, undo_term },
	{ "run", step_run, undo_run },
};

/* ---- the event loop ------------------------------------------------------- */

static int stdin_open = 1, escape;

static void on_stdin(void)
{
	uint8_t buf[256], out[256];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			stdin_open = 0;
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

static void event_loop(int sfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.fd = vm_stop_efd;
	epoll_ctl(ep, EPOLL_CTL_ADD, vm_stop_efd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	if (cfg.serial == OUT_STDIO) {
		ev.data.fd = STDIN_FILENO;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
			stdin_open = 0; /* /dev/null or a regular file: nothing to wait for */
	}
	while (!__atomic_load_n(&vm.stopping, __ATOMIC_ACQUIRE)) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == sfd) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					warnx("stopped by signal %u", si.ssi_signo);
					vm_request_stop(HAL_EXIT_SIGNAL);
				}
			} else if (fd == STDIN_FILENO) {
				on_stdin();
				if (!stdin_open)
					epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
			}
		}
	}
	close(ep);
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
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);

	size_t done = 0;
	int code = HAL_EXIT_ERROR;
	for (; done < sizeof(steps) / sizeof(steps[0]); done++) {
		dbg("bring-up: %s", steps[done].name);
		if (steps[done].init() < 0)
			break;
	}
	if (done == sizeof(steps) / sizeof(steps[0])) {
		event_loop(sfd);
		code = vm.exit_code;
	}
	while (done-- > 0) {
		dbg("tear-down: %s", steps[done].name);
		steps[done].exit();
	}
	dbg("exit %d", code);
	return code;
}
