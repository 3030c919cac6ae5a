/* init: PID 1 of the HAL boot medium. Mounts the API filesystems, loads
 * kernel modules, finds the guest disk, runs hal as a child and supervises
 * it; never exits. See docs/init.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/kd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cpuid.h>
#include "init.h"

#define BUSYBOX "/bin/busybox"
#include "../hal/core/exitcode.h" /* the codes init reads from hal, from hal's own header */

static struct kcmd_config cfg;
static char *cmdline;
static struct mod_db mdb;
static bool have_mdb;
static char *envp[] = { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", "TERM=linux", "PS1=rescue# ", NULL };

static pid_t hal_pid, shell_pid;
#define HAL_CONTROL "/run/hal.sock" /* hal's --control, for the watchdog */
#define WATCHDOG_DEFAULT 30         /* hal.watchdog seconds; 0 turns it off */
static struct hal_watchdog wd = { .fd = -1 };
static bool hal_hung;               /* the watchdog killed hal */
static long long shell_started;
enum { WANT_HAL, WANT_RESCUE } want = WANT_HAL;
static long long next_start, disk_deadline;
enum { ACT_NONE, ACT_POWEROFF, ACT_REBOOT, ACT_HALT } shutdown_act;
static long long kill_deadline;
static int power_fds[8], npower;
/* The boot medium's ESP on /boot, for hal's UEFI variable stores. */
#define BOOT_MNT "/boot"
enum { BOOT_TODO, BOOT_WAITING, BOOT_MOUNTED, BOOT_NONE } boot_state;
static long long boot_deadline;
static const char *efivars_dir; /* passed to hal as --efivars-dir, or NULL */
/* The HAL's own network (init/net.c): decided once, before the first hal. */
enum { NET_TODO, NET_WAITING, NET_DONE } net_state;
static long long net_deadline;
static bool net_said_waiting;
static struct inet_want net_want;
static char net_arg[48];                         /* hal's --net, "" for none */
static char net_upped[INET_MAX][INET_NAMELEN];   /* NICs init brought up to see their carrier */
static int nnet_upped;
static pid_t dhcp_pid;                           /* busybox udhcpc for hal.ip=dhcp */
static long long dhcp_started;
static char dhcp_if[INET_NAMELEN];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, s, strlen(s)) < 0)
			ilog_debug("writing %s: %s", path, strerror(errno));
		close(fd);
	}
}

/* ---- early setup ------------------------------------------------------------ */

static void do_mount(const char *src, const char *dst, const char *type, unsigned long fl, const char *opt)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, fl, opt) < 0 && errno != EBUSY)
		ilog_warn("mounting %s on %s: %s", type, dst, strerror(errno));
}

static void console_setup(void)
{
	/* The kernel opened /dev/console for fds 0-2 unless the node was missing. */
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int c = open("/dev/console", O_RDWR | O_NOCTTY);
		if (c < 0)
			c = open("/dev/null", O_RDWR);
		if (c >= 0 && c != fd) {
			dup2(c, fd);
			close(c);
		}
	}
}

static void early_setup(void)
{
	umask(022);
	do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	console_setup();
	init_log_kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=620,ptmxmode=666");
	do_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	write_file("/proc/sys/kernel/printk_devkmsg", "on\n");
	if (reboot(RB_DISABLE_CAD) < 0)
		ilog_warn("cannot make Ctrl-Alt-Del soft: %s", strerror(errno));
}

static void read_config(void)
{
	cmdline = init_read_file("/proc/cmdline", NULL);
	if (!cmdline)
		cmdline = strdup("");
	struct kcmd_config first = { 0 };
	kcmd_parse_cmdline(&first, cmdline ? cmdline : "");
	const char *conf = kcmd_get(&first, KCMD_CONF, "/hal.conf");
	char *text = init_read_file(conf, NULL);
	if (text) {
		ilog_info("reading %s", conf);
		kcmd_parse_conf(&cfg, text);
		free(text);
	} else if (first.val[KCMD_CONF]) {
		ilog_warn("hal.conf=%s: %s", conf, strerror(errno));
	}
	kcmd_config_free(&first);
	kcmd_parse_cmdline(&cfg, cmdline ? cmdline : ""); /* the command line wins */
	for (int k = 0; k < KCMD_NKEYS; k++)
		if (cfg.val[k])
			ilog_info("hal.%s=%s", kcmd_key_name(k), cfg.val[k]);
}

/* ---- modules ----------------------------------------------------------------- */

static const char *const preload[] = {
	/* things the kernel would request_module() or that coldplug cannot see */
	"tun", "vhost_net", "evdev", "button", "fat", "vfat", "nls_cp437", "nls_iso8859_1", "nls_utf8",
	"nls_ascii", /* Debian's FAT_DEFAULT_IOCHARSET: vfat mounts (the ESP on /boot) need it */
	"ext4", "isofs", "exfat",
	/* storage: coldplug finds the controllers, these make the disks appear */
	"sd_mod", "sr_mod", "usb_storage", "uas", "nvme", "ahci", "virtio_blk", "virtio_scsi",
	/* display and input (DRM is coldplugged by PCI id) */
	"drm_kms_helper", "usbhid", "hid_generic", "atkbd", "psmouse",
};

static void modules_setup(void)
{
	struct utsname u;
	char dir[300];
	uname(&u);
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	if (mod_db_open(&mdb, dir) < 0) {
		ilog_warn("no usable %s/modules.dep: assuming every driver is built into the kernel", dir);
		mod_db_free(&mdb);
		return;
	}
	have_mdb = true;
	mdb.cmdline = cmdline;
	mdb.load = mod_finit;
	init_read_line("/sys/module/compression", mdb.compression, sizeof(mdb.compression));
	char *loaded = init_read_file("/proc/modules", NULL);
	if (loaded) {
		mod_db_parse_loaded(&mdb, loaded);
		free(loaded);
	}
	/* When the kernel wants a module (fs-vfat, a crypto algorithm, /dev/net/tun)
	 * it runs the modprobe helper: that is this binary again (see main()). */
	char self[256];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 2);
	if (l > 0) {
		self[l] = '\n';
		self[l + 1] = 0;
		write_file("/proc/sys/kernel/modprobe", self);
	}

	/* KVM first, by CPU vendor, so a missing VT-x/AMD-V is reported early. */
	unsigned a, b, c, d;
	char vendor[13] = "";
	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(vendor, &b, 4);
		memcpy(vendor + 4, &d, 4);
		memcpy(vendor + 8, &c, 4);
	}
	char *cpuinfo = init_read_file("/proc/cpuinfo", NULL), msg[512];
	int ok = mod_virt_check(vendor, cpuinfo, msg, sizeof(msg));
	free(cpuinfo);
	const char *kvm = mod_kvm_module(vendor);
	if (ok)
		ilog_info("%s", msg);
	else
		ilog_err("%s", msg);
	if (kvm && mod_probe(&mdb, kvm) < 0)
		ilog_err("could not load %s: guests cannot run", kvm);

	int n = mod_coldplug(&mdb, "/sys");
	for (size_t i = 0; i < sizeof(preload) / sizeof(preload[0]); i++)
		if (mod_find(&mdb, preload[i]))
			mod_probe(&mdb, preload[i]);
	n += mod_coldplug(&mdb, "/sys");
	ilog_info("%d modules loaded", mdb.nloaded);
	(void)n;
	if (access("/dev/kvm", F_OK) < 0)
		ilog_err("/dev/kvm is missing: %s", ok ? "the KVM module did not load (see above and dmesg)" : msg);
}

/* Acting as the kernel's modprobe helper: `modprobe -q -- NAME`. */
static int modprobe_main(int argc, char **argv)
{
	struct utsname u;
	char dir[300];
	const char *name = argv[argc - 1];
	uname(&u);
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	init_log_level = INIT_LOG_WARN;
	if (mod_db_open(&mdb, dir) < 0)
		return 1;
	char *cl = init_read_file("/proc/cmdline", NULL), *loaded = init_read_file("/proc/modules", NULL);
	mdb.cmdline = cl;
	mdb.load = mod_finit;
	init_read_line("/sys/module/compression", mdb.compression, sizeof(mdb.compression));
	if (loaded)
		mod_db_parse_loaded(&mdb, loaded);
	int r = mod_probe(&mdb, name);
	free(cl);
	free(loaded);
	mod_db_free(&mdb);
	return r < 0;
}

/* ---- power button: evdev devices with KEY_POWER that are not keyboards -------- */

#define TEST_BIT(bits, n) ((bits)[(n) / 8] & (1u << ((n) % 8)))

static void power_scan(void)
{
	for (int i = 0; i < npower; i++)
		close(power_fds[i]);
	npower = 0;
	DIR *d = opendir("/dev/input");
	struct dirent *e;
	while (d && (e = readdir(d)) && npower < 8) {
		if (strncmp(e->d_name, "event", 5))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		unsigned char keys[KEY_MAX / 8 + 1] = { 0 };
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) >= 0 && TEST_BIT(keys, KEY_POWER) &&
		    !TEST_BIT(keys, KEY_A))
			power_fds[npower++] = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
}

/* ---- children ------------------------------------------------------------------ */

static void child_reset(void)
{
	sigset_t none;
	sigemptyset(&none);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
}

/* The real tty behind /dev/console (which cannot be a controlling tty). */
static void console_tty(char *out, size_t n)
{
	char line[256];
	snprintf(out, n, "/dev/console");
	if (init_read_line("/sys/class/tty/console/active", line, sizeof(line)) < 0 || !line[0])
		return;
	char *last = strrchr(line, ' ');
	last = last ? last + 1 : line;
	if (!strcmp(last, "tty0")) {
		char vt[64];
		if (init_read_line("/sys/class/tty/tty0/active", vt, sizeof(vt)) == 0 && vt[0] && strlen(vt) < 32)
			snprintf(out, n, "/dev/%s", vt);
		else
			snprintf(out, n, "/dev/tty1");
		return;
	}
	snprintf(out, n, "/dev/%s", last);
}

/* hal.watchdog's seconds, 0 when off; a --control in hal.args takes the
 * socket from init, so the watchdog is off then. */
static long watchdog_secs(void)
{
	const char *extra = kcmd_get(&cfg, KCMD_ARGS, "");
	return strstr(extra, "--control") ? 0 : kcmd_get_long(&cfg, KCMD_WATCHDOG, WATCHDOG_DEFAULT);
}

static pid_t spawn_hal(const char *disk_path)
{
	char **argv;
	const char *why;
	bool watch = watchdog_secs() > 0;
	if (kcmd_hal_argv(&cfg, disk_path, efivars_dir, net_arg[0] ? net_arg : NULL, watch ? HAL_CONTROL : NULL, &argv,
			  &why) < 0) {
		ilog_err("cannot build hal's command line: %s", why);
		return -1;
	}
	char line[1024] = "";
	for (char **a = argv; *a; a++) {
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%s", l ? " " : "", *a);
	}
	ilog_notice("starting %s", line);
	unlink(HAL_CONTROL); /* a SIGKILLed hal's socket */
	pid_t pid = fork();
	if (pid == 0) {
		child_reset();
		/* stdio is /dev/console (for hal.serial=console the guest's COM1) */
		execve(argv[0], argv, envp);
		dprintf(2, "init: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		ilog_err("fork: %s", strerror(errno));
	kcmd_free(argv);
	return pid;
}

static void vt_text_mode(void)
{
	int fd = open("/dev/tty0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		ioctl(fd, KDSETMODE, KD_TEXT); /* hal may have left the VT in graphics mode */
		close(fd);
	}
}

static pid_t spawn_rescue(void)
{
	if (access(BUSYBOX, X_OK) < 0) {
		ilog_err("no rescue shell: %s is missing", BUSYBOX);
		return -1;
	}
	vt_text_mode();
	char tty[300];
	console_tty(tty, sizeof(tty));
	dprintf(2, "\n"
		"==================== HAL rescue shell ====================\n"
		" 'exit' (or Ctrl-D) starts hal again; 'poweroff' or 'reboot'\n"
		" stops the machine. Logs: dmesg. Config: cat /proc/cmdline\n"
		"==========================================================\n\n");
	pid_t pid = fork();
	if (pid == 0) {
		child_reset();
		int fd = open(tty, O_RDWR);
		if (fd >= 0) {
			ioctl(fd, TIOCSCTTY, 1);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		if (access("/bin/sh", X_OK) < 0) { /* give the shell its applets */
			pid_t p = fork();
			if (p == 0) {
				char *iargv[] = { BUSYBOX, "--install", "-s", "/bin", NULL };
				execve(BUSYBOX, iargv, envp);
				_exit(127);
			}
			if (p > 0)
				waitpid(p, NULL, 0);
		}
		char *argv[] = { "busybox", "sh", NULL };
		execve(BUSYBOX, argv, envp);
		dprintf(2, "init: cannot run %s: %s\n", BUSYBOX, strerror(errno));
		_exit(127);
	}
	return pid;
}

static void banner(const char *what)
{
	ilog_err("%s", what);
	vt_text_mode();
	dprintf(2, "\n*** %s ***\n", what);
}

static void go_rescue(const char *why)
{
	banner(why);
	want = WANT_RESCUE;
	next_start = now_ms();
}

/* mkdir -p, for the stores' directory on the ESP. */
static int mkdir_p(const char *path)
{
	char buf[300];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -1;
			if (!(*p = c))
				return 0;
		}
	}
}

/* Before the first hal: mount the boot medium's ESP (FAT labelled HALBOOT)
 * read-write on /boot and make the store directory, so that an installed
 * UEFI OS keeps its boot entries across power cycles (hal --efivars-dir).
 * The stick is a USB disk that may show up a little after the guest disk:
 * look for it alongside the guest disk, for BOOT_WAIT_MS at most (a kernel
 * started some other way, e.g. QEMU's -kernel, must not wait for long).
 * Returns 1 while waiting, 0 when done (mounted, or given up once with a
 * message: variables in memory). */
#define BOOT_WAIT_MS 3000
static int boot_medium_step(long long now)
{
	if (boot_state == BOOT_MOUNTED || boot_state == BOOT_NONE)
		return 0;
	const char *dir = kcmd_efivars_dir(&cfg);
	if (!dir) {
		boot_state = BOOT_NONE; /* hal.efivars_dir=none */
		return 0;
	}
	bool on_boot = !strncmp(dir, BOOT_MNT "/", sizeof(BOOT_MNT));
	if (on_boot) {
		if (boot_state == BOOT_TODO) {
			boot_state = BOOT_WAITING;
			long wait = kcmd_get_long(&cfg, KCMD_DISK_WAIT, 10) * 1000;
			boot_deadline = now + (wait < BOOT_WAIT_MS ? wait : BOOT_WAIT_MS);
		} else if (have_mdb && !kcmd_get(&cfg, KCMD_DISK, NULL)) {
			mod_coldplug(&mdb, "/sys"); /* else the guest disk's search does it */
		}
		struct disk_scan sc;
		const struct disk_dev *d;
		char devpath[64] = "";
		if (disk_scan(&sc, "/sys", "/dev") == 0 && (d = disk_find_boot_fs(&sc)))
			snprintf(devpath, sizeof(devpath), "/dev/%s", d->name);
		disk_scan_free(&sc);
		if (!devpath[0] && now < boot_deadline)
			return 1;
		boot_state = BOOT_NONE;
		if (!devpath[0]) {
			ilog_warn("no FAT file system labelled " DISK_BOOT_LABEL ": UEFI variables stay in memory");
			return 0;
		}
		/* vfat with Debian's defaults: codepage 437, iocharset ascii
		 * (nls_cp437, nls_ascii: preloaded, in rdroot/modules.list) */
		mkdir(BOOT_MNT, 0755);
		if (mount(devpath, BOOT_MNT, "vfat", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
			ilog_warn("cannot mount %s (" DISK_BOOT_LABEL ") read-write on " BOOT_MNT ": %s: UEFI variables stay in memory",
				  devpath, strerror(errno));
			return 0;
		}
		boot_state = BOOT_MOUNTED;
		ilog_notice("boot medium %s mounted on " BOOT_MNT, devpath);
	} else {
		boot_state = BOOT_NONE; /* elsewhere: the user's own mount */
	}
	if (mkdir_p(dir) < 0) {
		ilog_warn("cannot create %s: %s: UEFI variables stay in memory", dir, strerror(errno));
		return 0;
	}
	efivars_dir = dir;
	return 0;
}

/* At shutdown, hal gone: write back and unmount the ESP, so the stick's
 * FAT is clean whenever the machine loses power next. */
static void boot_medium_release(void)
{
	if (boot_state != BOOT_MOUNTED)
		return;
	sync();
	if (umount(BOOT_MNT) == 0) {
		boot_state = BOOT_NONE;
		return;
	}
	ilog_warn("unmounting " BOOT_MNT ": %s: remounting it read-only", strerror(errno));
	if (mount(NULL, BOOT_MNT, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		ilog_warn("remounting " BOOT_MNT " read-only: %s", strerror(errno));
}

/* hal.ip=dhcp: busybox udhcpc in the foreground as init's child, with the
 * hook init writes (address, default route, resolv.conf; it logs to the
 * kernel log). Its own chatter goes to /dev/null: on the console it would
 * land in the guest's COM1 (hal.serial=console). */
static void spawn_dhcp(void)
{
	if (access(BUSYBOX, X_OK) < 0) {
		ilog_warn("hal.ip=dhcp: %s is missing: the HAL takes no address", BUSYBOX);
		return;
	}
	if (inet_write_dhcp_script(INET_DHCP_SCRIPT) < 0) {
		ilog_warn("hal.ip=dhcp: writing " INET_DHCP_SCRIPT ": %s: the HAL takes no address", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		child_reset();
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		char *argv[] = { "busybox", "udhcpc", "-f", "-i", dhcp_if, "-s", INET_DHCP_SCRIPT, "-x", "hostname:hal", NULL };
		execve(BUSYBOX, argv, envp);
		_exit(127);
	}
	if (pid < 0) {
		ilog_warn("hal.ip=dhcp: fork: %s", strerror(errno));
		return;
	}
	dhcp_pid = pid;
	dhcp_started = now_ms();
	ilog_notice("network: the HAL asks for an address on %s (DHCP: busybox udhcpc; the lease is in dmesg)", dhcp_if);
}

/* Before the first hal: the HAL's own network (docs/init.md, "The
 * network"). Coldplug has loaded the NIC drivers (modules_setup); bring the
 * wired NICs up, wait up to hal.net_wait seconds for a carrier (a link
 * takes a moment after IFF_UP on real hardware, a USB NIC may still be
 * appearing), then make br0 (or nothing, or macvtap) and start udhcpc when
 * asked. Polled like the disk search, so the two waits overlap. Returns 1
 * while waiting, 0 when done. Never a reason for the rescue shell: at
 * worst hal runs without --net. */
static int net_step(long long now)
{
	if (net_state == NET_DONE)
		return 0;
	if (net_state == NET_TODO) {
		char msg[600];
		if (inet_parse_want(&cfg, &net_want, msg, sizeof(msg)) < 0)
			ilog_warn("%s", msg);
		net_state = NET_WAITING;
		net_deadline = now + net_want.wait_s * 1000;
		const char *m = net_want.mode == INET_MODE_NONE ? NULL : net_want.mode == INET_MODE_MACVTAP ? "macvtap" : "bridge";
		if (have_mdb && m && mod_find(&mdb, m))
			mod_probe(&mdb, m); /* else the kernel asks for it through the modprobe helper */
	} else if (have_mdb && !kcmd_get(&cfg, KCMD_DISK, NULL) && boot_state != BOOT_WAITING) {
		mod_coldplug(&mdb, "/sys"); /* late USB NICs (else the disk or boot medium search does it) */
	}
	struct inet_scan sc;
	if (inet_scan(&sc, "/sys") < 0)
		ilog_debug("network: cannot read /sys/class/net");
	for (int i = 0; i < sc.n; i++) {
		bool done = false;
		if (!inet_probe(&net_want, &sc.nic[i]))
			continue;
		for (int j = 0; j < nnet_upped; j++)
			done |= !strcmp(net_upped[j], sc.nic[i].name);
		if (done || nnet_upped >= INET_MAX)
			continue;
		snprintf(net_upped[nnet_upped++], INET_NAMELEN, "%s", sc.nic[i].name);
		if (inet_link(sc.nic[i].name, true) < 0)
			ilog_warn("network: cannot bring %s up: %s%s", sc.nic[i].name, strerror(errno),
				  errno == ENOENT ? " (missing firmware? see dmesg)" : "");
	}
	struct inet_plan plan;
	if (inet_choose(&net_want, &sc, "/sys", now >= net_deadline, &plan)) {
		if (!net_said_waiting)
			ilog_info("network: waiting up to %ld s for a carrier", net_want.wait_s);
		net_said_waiting = true;
		return 1;
	}
	net_state = NET_DONE;
	init_log(plan.level, "%s", plan.msg);
	for (int j = 0; j < nnet_upped; j++) { /* probed, not used: down again */
		bool used = false;
		for (int k = 0; k < plan.nup; k++)
			used |= !strcmp(plan.up[k], net_upped[j]);
		if (!used)
			inet_link(net_upped[j], false);
	}
	if (inet_apply(&plan, "/sys") < 0) {
		ilog_warn("network: the guest runs without network");
		plan.hal_net[0] = 0;
		if (!strcmp(plan.dhcp_if, INET_BRIDGE))
			plan.dhcp_if[0] = 0;
	}
	snprintf(net_arg, sizeof(net_arg), "%s", plan.hal_net);
	if (plan.dhcp_if[0]) {
		snprintf(dhcp_if, sizeof(dhcp_if), "%s", plan.dhcp_if);
		spawn_dhcp();
	}
	return 0;
}

/* What each signal asks of PID 1 (busybox's reboot, poweroff and halt send
 * SIGTERM, SIGUSR2 and SIGUSR1; the kernel sends SIGINT on Ctrl-Alt-Del).
 * One table for the signalfd path and its polled fallback. */
static const struct {
	int sig, act;
	const char *why;
} signal_acts[] = {
	{ SIGINT, ACT_REBOOT, "Ctrl-Alt-Del" },
	{ SIGTERM, ACT_REBOOT, "reboot requested" },
	{ SIGUSR1, ACT_HALT, "halt requested" },
	{ SIGUSR2, ACT_POWEROFF, "power-off requested" },
	{ SIGPWR, ACT_POWEROFF, "power failure signalled" },
};

static void begin_shutdown(int act, const char *why);
static void on_signal(int sig)
{
	for (size_t i = 0; i < sizeof(signal_acts) / sizeof(signal_acts[0]); i++)
		if (signal_acts[i].sig == sig) {
			begin_shutdown(signal_acts[i].act, signal_acts[i].why);
			return;
		}
	if (sig != SIGCHLD)
		ilog_debug("ignoring signal %d", sig);
}

/* hal.disk=nbd://: hal connects to the server as it starts, so with
 * hal.ip=dhcp the HAL's own address comes first (the network settled, then
 * an IPv4 address on the DHCP interface), for hal.disk_wait seconds at
 * most; then hal starts anyway. nbd+unix:// and hal.ip=none wait for
 * nothing. Returns 1 while waiting. */
static int nbd_step(const char *spec_s, const struct disk_spec *spec, int waiting, long long now)
{
	if (!spec->tcp)
		return 0;
	if (waiting)
		return 1; /* the network is not decided yet */
	if (!net_want.dhcp || !dhcp_if[0])
		return 0;
	long secs = kcmd_get_long(&cfg, KCMD_DISK_WAIT, 10);
	if (!disk_deadline) {
		disk_deadline = now + secs * 1000;
		if (!inet_has_ipv4(dhcp_if))
			ilog_notice("guest disk %s: waiting up to %ld s for the HAL's address on %s", spec_s, secs, dhcp_if);
	}
	if (inet_has_ipv4(dhcp_if))
		return 0;
	if (now < disk_deadline)
		return 1;
	ilog_warn("guest disk %s: %s has no address after %ld s (DHCP): starting hal anyway", spec_s, dhcp_if, secs);
	return 0;
}

/* One attempt to start what is wanted; sets next_start when it must wait. */
static void start_step(void)
{
	long long now = now_ms();
	if (want == WANT_RESCUE) {
		shell_pid = spawn_rescue();
		if (shell_pid > 0) {
			shell_started = now;
			return;
		}
		shell_pid = 0;
		ilog_err("retrying hal in 10 seconds (Ctrl-Alt-Del reboots)");
		want = WANT_HAL;
		next_start = now + 10000;
		disk_deadline = 0;
		return;
	}
	/* the boot medium and the network: meanwhile, look for the guest disk */
	int waiting = boot_medium_step(now);
	waiting |= net_step(now);
	const char *spec_s = kcmd_get(&cfg, KCMD_DISK, NULL);
	char devpath[512] = "";
	if (spec_s) {
		struct disk_spec spec;
		if (disk_parse_spec(spec_s, &spec) < 0) {
			go_rescue("hal.disk: expected a /dev path, LABEL=, PARTLABEL=, UUID=, PARTUUID=, SERIAL=, "
				  "nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH");
			return;
		}
		if (spec.kind == DISK_NBD) { /* nothing to look for: hal connects */
			if (nbd_step(spec_s, &spec, waiting, now)) {
				next_start = now + 250;
				return;
			}
			snprintf(devpath, sizeof(devpath), "%s", spec_s);
			goto found;
		}
		if (!disk_deadline) {
			disk_deadline = now + kcmd_get_long(&cfg, KCMD_DISK_WAIT, 10) * 1000;
			ilog_notice("looking for the guest disk %s", spec_s);
		}
		if (have_mdb)
			mod_coldplug(&mdb, "/sys"); /* USB disks appear late: load their drivers */
		struct disk_scan sc;
		char msg[512];
		int r = -ENOENT;
		if (disk_scan(&sc, "/sys", "/dev") == 0) {
			r = disk_find(&sc, &spec, "/dev", devpath, sizeof(devpath), msg, sizeof(msg));
		} else {
			snprintf(msg, sizeof(msg), "cannot read /sys/block");
		}
		if (r == -ENOENT && now < disk_deadline) {
			next_start = now + 250;
			disk_scan_free(&sc);
			return;
		}
		if (r < 0) {
			char why[900];
			if (r == -ENOENT) {
				size_t l = (size_t)snprintf(why, sizeof(why), "guest disk %s not found after %ld s; block devices:",
							    spec_s, kcmd_get_long(&cfg, KCMD_DISK_WAIT, 10));
				for (int i = 0; i < sc.n && l < sizeof(why); i++)
					l += (size_t)snprintf(why + l, sizeof(why) - l, " %s%s%s%s%s", sc.devs[i].name,
							      sc.devs[i].fs.label[0] ? " LABEL=" : "", sc.devs[i].fs.label,
							      sc.devs[i].part.partlabel[0] ? " PARTLABEL=" : "",
							      sc.devs[i].part.partlabel);
			} else {
				snprintf(why, sizeof(why), "guest disk %s: %s", spec_s, msg);
			}
			disk_scan_free(&sc);
			disk_deadline = 0;
			go_rescue(why);
			return;
		}
		disk_scan_free(&sc);
		if (!waiting)
			ilog_notice("guest disk: %s", devpath);
	}
found:
	if (waiting) {
		next_start = now + 250;
		return;
	}
	disk_deadline = 0;
	power_scan();
	hal_pid = spawn_hal(spec_s ? devpath : NULL);
	if (hal_pid <= 0) {
		hal_pid = 0;
		go_rescue("could not start hal");
	} else {
		wd_start(&wd, HAL_CONTROL, watchdog_secs(), now_ms());
	}
}

static void hal_exited(int st)
{
	char why[200];
	wd_stop(&wd);
	if (shutdown_act)
		return;
	if (hal_hung) {
		hal_hung = false;
		snprintf(why, sizeof(why), "hal hung: its control socket did not answer for %ld s (hal.watchdog), killed",
			 watchdog_secs());
	} else if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		switch (code) {
		case HAL_EXIT_POWEROFF:
			ilog_notice("the guest powered off: powering off the machine");
			shutdown_act = ACT_POWEROFF;
			return;
		case HAL_EXIT_RESET:
			ilog_notice("the guest reset: starting it again");
			want = WANT_HAL;
			next_start = now_ms();
			return;
		case HAL_EXIT_USAGE: snprintf(why, sizeof(why), "hal rejected its command line (exit 2): check hal.* settings"); break;
		case HAL_EXIT_CRASH: snprintf(why, sizeof(why), "the guest crashed (hal exit 3: triple fault or KVM error)"); break;
		case HAL_EXIT_SIGNAL: snprintf(why, sizeof(why), "hal was stopped (exit 5)"); break;
		case 127: snprintf(why, sizeof(why), "hal could not be started (%s missing?)", kcmd_get(&cfg, KCMD_HAL, "/bin/hal")); break;
		default: snprintf(why, sizeof(why), "hal failed (exit %d): see the messages above", code); break;
		}
	} else {
		snprintf(why, sizeof(why), "hal crashed: killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	}
	go_rescue(why);
}

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == hal_pid) {
			hal_pid = 0;
			hal_exited(st);
		} else if (pid == dhcp_pid) {
			dhcp_pid = 0;
			if (shutdown_act)
				continue;
			if (now_ms() - dhcp_started >= 10000) {
				ilog_warn("network: udhcpc ended (status %d): starting it again", st);
				spawn_dhcp();
			} else {
				ilog_warn("network: udhcpc ended at once (status %d): the HAL has no address (try "
					  "'busybox udhcpc -f -i %s -s " INET_DHCP_SCRIPT "' in the rescue shell)", st, dhcp_if);
			}
		} else if (pid == shell_pid) {
			shell_pid = 0;
			if (shutdown_act)
				continue;
			long long now = now_ms();
			ilog_notice("rescue shell ended: starting hal again");
			want = WANT_HAL;
			/* a shell that dies at once (no tty?) must not spin */
			next_start = now - shell_started < 2000 ? now + 5000 : now;
		}
	}
}

/* ---- shutdown ------------------------------------------------------------------ */

static void begin_shutdown(int act, const char *why)
{
	if (shutdown_act) {
		if (act != ACT_NONE && kill_deadline > now_ms() + 1000) {
			ilog_notice("%s again: not waiting any longer", why);
			kill_deadline = now_ms();
		}
		return;
	}
	shutdown_act = act;
	ilog_notice("%s: %s", why, act == ACT_REBOOT ? "rebooting" : act == ACT_HALT ? "halting" : "powering off");
	if (hal_pid)
		kill(hal_pid, SIGTERM);
	if (shell_pid)
		kill(-shell_pid, SIGHUP);
	kill_deadline = now_ms() + 10000;
}

static void final_shutdown(void)
{
	int cmd = (int)(shutdown_act == ACT_REBOOT ? RB_AUTOBOOT : shutdown_act == ACT_HALT ? RB_HALT_SYSTEM : RB_POWER_OFF);
	kill(-1, SIGTERM);
	sync();
	sleep(1);
	kill(-1, SIGKILL);
	/* hal must be gone before /boot is unmounted: it holds the UEFI store
	 * open. SIGKILL ends it; wait for that a little while, not forever. */
	for (int i = 0; i < 50; i++) {
		pid_t p;
		while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
			if (p == hal_pid)
				hal_pid = 0;
		if (!hal_pid)
			break;
		usleep(100000);
	}
	boot_medium_release();
	sync();
	ilog_notice("%s", shutdown_act == ACT_REBOOT ? "restarting system" : shutdown_act == ACT_HALT ? "system halted" : "power down");
	/* reboot(2) do_exit()s its caller when power-off fails: never let that be PID 1. */
	pid_t pid = fork();
	if (pid == 0) {
		reboot(cmd);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	else
		reboot(cmd);
	ilog_err("the machine did not %s: it is now safe to turn it off", shutdown_act == ACT_REBOOT ? "reboot" : "power off");
	for (;;) { /* frozen, but still reaping */
		sleep(60);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* ---- main -------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (getpid() != 1) {
		if (argc >= 2 && !strcmp(argv[argc - 2], "--"))
			return modprobe_main(argc, argv);
		fprintf(stderr, "init: this is the HAL boot medium's PID 1; it only runs as process 1\n"
				"       (as the kernel's modprobe helper: init -q -- MODULE)\n");
		return 1;
	}
	early_setup();
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		ilog_err("signalfd: %s (signals are polled)", strerror(errno));
	ilog_notice("HAL boot medium starting");
	read_config();
	modules_setup();
	if (kcmd_get_bool(&cfg, KCMD_RESCUE)) {
		ilog_notice("hal.rescue: starting the rescue shell first; 'exit' starts hal");
		want = WANT_RESCUE;
	}
	next_start = now_ms();
	for (;;) {
		long long now = now_ms();
		if (shutdown_act && ((!hal_pid && !shell_pid) || now >= kill_deadline)) {
			if (hal_pid)
				kill(hal_pid, SIGKILL);
			final_shutdown();
		}
		if (!shutdown_act && !hal_pid && !shell_pid && now >= next_start)
			start_step();
		int timeout = -1;
		now = now_ms();
		if (shutdown_act)
			timeout = (int)(kill_deadline > now ? kill_deadline - now : 0);
		else if (!hal_pid && !shell_pid)
			timeout = (int)(next_start > now ? next_start - now : 0);
		bool watching = hal_pid && !shutdown_act && !hal_hung;
		int wt = watching ? wd_timeout(&wd, now) : -1;
		if (wt >= 0 && (timeout < 0 || wt < timeout))
			timeout = wt;
		if (sfd < 0 && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		struct pollfd pfd[10];
		int n = 0;
		if (sfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (int i = 0; i < npower; i++)
			pfd[n++] = (struct pollfd){ .fd = power_fds[i], .events = POLLIN };
		int npfd = n;
		if (watching && wd.fd >= 0)
			pfd[npfd++] = (struct pollfd){ .fd = wd.fd, .events = POLLIN };
		if (poll(pfd, (nfds_t)npfd, timeout) < 0 && errno != EINTR)
			sleep(1);
		struct signalfd_siginfo si;
		while (sfd >= 0 && read(sfd, &si, sizeof(si)) == sizeof(si))
			on_signal((int)si.ssi_signo);
		if (sfd < 0) { /* no signalfd: the same table, polled */
			struct timespec zero = { 0, 0 };
			int s = sigtimedwait(&all, NULL, &zero);
			if (s > 0)
				on_signal(s);
		}
		for (int i = sfd >= 0 ? 1 : 0; i < n; i++) {
			struct input_event ev[16];
			ssize_t r;
			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((r = read(pfd[i].fd, ev, sizeof(ev))) > 0)
				for (size_t j = 0; j < (size_t)r / sizeof(ev[0]); j++)
					if (ev[j].type == EV_KEY && ev[j].code == KEY_POWER && ev[j].value == 1)
						begin_shutdown(ACT_POWEROFF, "power button");
		}
		if (watching && !shutdown_act && wd_step(&wd, now_ms())) {
			ilog_err("hal did not answer on %s for %ld s: killing it", HAL_CONTROL, watchdog_secs());
			hal_hung = true;
			wd_stop(&wd);
			kill(hal_pid, SIGKILL);
		}
		reap();
	}
}
