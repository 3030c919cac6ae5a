/* hal: the process around the machine (pc/board.c): command line, signals,
 * the terminal, the host's screen and input, and the reboot loop. */
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
#include "display/fb.h"
#include "host/control.h"
#include "host/console.h"
#include "host/evdev.h"
#include "pc/efivars.h"
#include "pc/pc.h"
#include "sandbox/seccomp.h"

static struct config cfg;
static struct pc pc = { .cfg = &cfg, .serial_fd = -1, .dbgport = { .debugcon_fd = -1 } };

/* ---- terminal: raw while the guest owns it, restored on every exit path ---- */

static struct termios saved_tio;
static int tio_saved;

static void term_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

/* The seccomp denial handler's last words: async-signal-safe. */
static void sandbox_restore(void)
{
	fb_emergency_restore();
	term_restore();
}

static void fatal_signal(int sig)
{
	fb_emergency_restore(); /* both async-signal-safe */
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
	/* What does not fit in the UART's receive FIFO is dropped (the guest
	 * sees an overrun in LSR), as when a terminal types faster than a
	 * PC reads its serial port. */
	size_t taken = serial_rx(&pc.com1, out, m);
	if (taken < m)
		dbg("serial: receive FIFO full, %zu input bytes dropped", m - taken);
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

/* The control socket's eject and change (host/control.c) on the media
 * pc_open_disks opened: they outlive guest resets, like the disks. */
static int change_cdrom(int drive, const char *path, char *why, size_t whylen)
{
	return atapi_medium_change(&pc.cdroms[drive], path, why, whylen);
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
	if (sandbox_enabled && !cfg.no_sandbox) {
		hal_confine_thread = sandbox_thread;
		sandbox_fatal_hook = sandbox_restore;
	}
	dbg("seccomp: %s", hal_confine_thread ? "vCPU and I/O threads confined" :
			   cfg.no_sandbox ? "off (--no-sandbox)" : "off (a sanitizer build)");

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
	int fwcode = pc_choose_firmware(&pc); /* after the mask: a SIGTERM from here on ends hal with 5 */
	if (!fwcode)
		fwcode = pc_nets(&pc);
	if (!fwcode)
		fwcode = pc_load_smbios(&pc);
	if (!fwcode)
		fwcode = pc_open_disks(&pc); /* once: they outlive guest resets */
	if (fwcode) {
		free(pc.smbios_file);
		return fwcode;
	}
	control_set_media(change_cdrom, pc.ncdroms);

	/* From here on every way out releases what was taken (below "out"):
	 * the disks (a snapshot layer, an NBD connection), the control
	 * socket's file, the screen and the terminal. */
	int code = HAL_EXIT_ERROR;
	pc.serial_fd = open_out(cfg.serial, cfg.serial_path);
	pc.dbgport.debugcon_fd = open_out(cfg.debugcon, cfg.debugcon_path);
	signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if ((cfg.serial == OUT_FILE && pc.serial_fd < 0) || (cfg.debugcon == OUT_FILE && pc.dbgport.debugcon_fd < 0) ||
	    signal_fd < 0 || loop_init() < 0 || loop_add(signal_fd, on_signal, NULL) < 0)
		goto out;
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
	if ((cfg.control && control_start(cfg.control) < 0) || fb_start(NULL, cfg.display) < 0)
		goto out;
	if (fb_has_backend()) /* the guest is on the screen: give it keyboard and mouse */
		evdev_start(&(struct evdev_sink){ input_key, input_mouse, machine_power_button, hotkey_stop });
	term_init();

	for (;;) {
		code = pc_run(&pc);
		if (code != HAL_EXIT_RESET || cfg.no_reboot || stop_requested)
			break;
		hal_log(NULL, "guest reset: restarting");
	}
out:
	pc_close_disks(&pc);
	free(pc.smbios_file);
	efivars_exit();
	evdev_stop();
	control_stop();
	fb_stop();
	term_restore();
	dbg("exit %d", code);
	return code;
}
