/* l2uefi: PID 1 of the UEFI guest disks that hal boots through OVMF in the
 * nested test bed (tests/e2e/ovmf.sh, disks from tests/e2e/mkuefidisk.sh):
 * a unified kernel image, or GRUB booting Debian's kernel. It says whether
 * Linux came up through UEFI, reports the ACPI tables the firmware handed
 * over, mounts efivarfs (modules from /modules.list), reports the UEFI
 * variable HalTest-<GUID> left by an earlier boot and BootOrder, and writes
 * HalTest with this boot's number N (1 + the earlier one). Then, by the
 * kernel command line:
 *   (neither)           power off
 *   l2uefi=removable    (GRUB at \EFI\BOOT\BOOTX64.EFI) add a boot entry
 *                       for \EFI\hal\grubx64.efi with efibootmgr, power off
 *   l2uefi=entry        (booted through that entry) show efibootmgr -v; reboot
 *                       when N is even, else power off
 *   l2uefi=shim         (Debian's signed shim and GRUB) power off
 * It also reports the SecureBoot variable.
 * Marker 0x12 before the power-off. Every line starts with "L2UEFI: ". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define EFIVARS "/sys/firmware/efi/efivars"
#define VAR EFIVARS "/HalTest-48414c42-5445-5354-8000-000000000001"
#define BOOTORDER EFIVARS "/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define SECUREBOOT EFIVARS "/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>

#include "l2mods.h"
static void say(const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 1)
		n = sizeof line - 1;
	if (write(1, line, (size_t)n) < 0) {
		/* the console is all we have */
	}
}

/* An efivarfs file: 4 bytes of attributes, then the value. */
static ssize_t read_var(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, max);
	close(fd);
	return n < 4 ? -1 : n - 4;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

/* What acpidump would show of each table Linux got from the firmware:
 * signature, revision, length, OEM id, checksum; the DSDT's CRC-32 (ovmf.sh
 * compares it with hal's dsdt.aml). */
static void report_acpi(void)
{
	static const char *const sig[] = { "FACP", "APIC", "DSDT", "FACS" };
	static uint8_t t[64 * 1024];
	for (size_t i = 0; i < sizeof sig / sizeof sig[0]; i++) {
		char path[64];
		snprintf(path, sizeof path, "/sys/firmware/acpi/tables/%s", sig[i]);
		int fd = open(path, O_RDONLY);
		ssize_t n = 0, r = 0; /* sysfs hands out a page per read */
		while (fd >= 0 && (size_t)n < sizeof t && (r = read(fd, t + n, sizeof t - (size_t)n)) > 0)
			n += r;
		if (fd < 0 || r < 0)
			n = -1;
		if (fd >= 0)
			close(fd);
		if (n < 36) {
			say("L2UEFI: ACPI %s missing\n", sig[i]);
			continue;
		}
		uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
		if (!strcmp(sig[i], "FACS")) {
			say("L2UEFI: ACPI FACS len %u version %u\n", len, t[32]);
			continue;
		}
		uint8_t sum = 0;
		for (ssize_t k = 0; k < n; k++)
			sum = (uint8_t)(sum + t[k]);
		say("L2UEFI: ACPI %s rev %u len %u oem '%.6s' checksum %s read %zd\n", sig[i], t[8], len,
		    (char *)t + 10, sum ? "BAD" : "ok", n);
		if (!strcmp(sig[i], "DSDT"))
			say("L2UEFI: ACPI DSDT crc32 %08x\n", crc32(t, (size_t)n));
		if (!strcmp(sig[i], "FACP") && len >= 148) {
			uint32_t dsdt = t[40] | t[41] << 8 | t[42] << 16 | (uint32_t)t[43] << 24;
			uint32_t xdsdt = t[140] | t[141] << 8 | t[142] << 16 | (uint32_t)t[143] << 24;
			say("L2UEFI: ACPI FACP DSDT 0x%x X_DSDT 0x%x reset 0x%x value 0x%x\n", dsdt, xdsdt,
			    t[120] | t[121] << 8, t[128]);
		}
	}
}

/* Runs /bin/efibootmgr ARGS, its output prefixed; returns its exit status. */
static int efibootmgr(char *const argv[])
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv("/bin/efibootmgr", argv);
		_exit(127);
	}
	close(p[1]);
	char buf[4096], line[512];
	size_t ln = 0;
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n' && ln < sizeof line - 1) {
				line[ln++] = buf[i];
				continue;
			}
			if (buf[i] == '\n') {
				line[ln] = 0;
				say("L2UEFI: efibootmgr: %s\n", line);
				ln = 0;
			}
		}
	close(p[0]);
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(void)
{
	char cmdline[256] = "";
	uint8_t buf[256];
	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	int fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : 0;
	cmdline[n > 0 ? n : 0] = 0;
	cmdline[strcspn(cmdline, "\n")] = 0;
	struct stat st;
	int uefi = stat("/sys/firmware/efi", &st) == 0;
	say("L2UEFI: hello from Linux booted by %s, cmdline=%s\n", uefi ? "UEFI" : "no UEFI (BIOS?)", cmdline);

	report_acpi();
	load_modules("L2UEFI");
	const char *mode = strstr(cmdline, "l2uefi=removable") ? "removable" :
			   strstr(cmdline, "l2uefi=entry") ? "entry" : NULL;
	long boot = 1;
	if (!uefi || mount("efivarfs", EFIVARS, "efivarfs", 0, NULL) < 0) {
		say("L2UEFI: efivarfs not mounted: %s\n", uefi ? strerror(errno) : "no /sys/firmware/efi");
	} else {
		n = read_var(VAR, buf, sizeof buf - 1);
		if (n >= 0) {
			buf[4 + n] = 0;
			say("L2UEFI: found HalTest=%s\n", (char *)buf + 4);
			if (!strncmp((char *)buf + 4, "boot-", 5))
				boot = strtol((char *)buf + 9, NULL, 10) + 1;
		} else {
			say("L2UEFI: no HalTest variable yet\n");
		}
		n = read_var(SECUREBOOT, buf, sizeof buf);
		say("L2UEFI: SecureBoot=%s\n", n == 1 ? (buf[4] ? "1" : "0") : "(none)");
		n = read_var(BOOTORDER, buf, sizeof buf);
		char hex[128] = "";
		for (ssize_t i = 0; i + 1 < n && strlen(hex) < sizeof hex - 8; i += 2)
			snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%s%04x", i ? "," : "",
				 buf[4 + i] | buf[5 + i] << 8);
		say("L2UEFI: BootOrder=%s\n", n > 0 ? hex : "(none)");

		/* non-volatile, boot service, runtime access */
		uint8_t v[32] = { 7, 0, 0, 0 };
		int len = snprintf((char *)v + 4, sizeof v - 4, "boot-%ld", boot);
		/* efivarfs makes a variable it did not create this boot
		 * immutable unless it is a well-known one: clear that first */
		fd = open(VAR, O_RDONLY);
		int fl;
		if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0 && (fl & FS_IMMUTABLE_FL)) {
			fl &= ~FS_IMMUTABLE_FL;
			if (ioctl(fd, FS_IOC_SETFLAGS, &fl) < 0)
				say("L2UEFI: clearing HalTest's immutable flag failed: %s\n", strerror(errno));
		}
		if (fd >= 0)
			close(fd);
		fd = open(VAR, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, v, (size_t)(4 + len)) != 4 + len)
			say("L2UEFI: writing HalTest failed: %s\n", strerror(errno));
		else
			say("L2UEFI: wrote HalTest=%s\n", (char *)v + 4);
		if (fd >= 0)
			close(fd);
	}

	if (mode) /* the virtio disk efibootmgr looks at */
		for (int i = 0; i < 100 && stat("/dev/vda1", &st) < 0; i++)
			usleep(50000);
	if (mode && !strcmp(mode, "removable")) {
		char *add[] = { "efibootmgr", "-c", "-d", "/dev/vda", "-p", "1", "-L", "hal entry", "-l",
				"\\EFI\\hal\\grubx64.efi", NULL };
		say("L2UEFI: efibootmgr -c exit %d\n", efibootmgr(add));
	} else if (mode) {
		char *show[] = { "efibootmgr", "-v", NULL };
		say("L2UEFI: efibootmgr -v exit %d\n", efibootmgr(show));
		if (boot % 2 == 0) {
			say("L2UEFI: rebooting (boot %ld)\n", boot);
			tcdrain(1);
			sync();
			reboot(RB_AUTOBOOT);
			say("L2UEFI: reboot(RB_AUTOBOOT) returned\n");
		}
	}

	tcdrain(1);
	if (ioperm(0x440, 1, 1) == 0)
		outb(0x12, 0x440);
	sync();
	reboot(RB_POWER_OFF);
	say("L2UEFI: reboot(RB_POWER_OFF) returned\n");
	for (;;)
		pause();
}
