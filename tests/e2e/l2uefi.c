/* l2uefi: PID 1 of the UEFI guest disk that hal boots through OVMF in the
 * nested test bed (tests/e2e/ovmf.sh): OVMF -> \EFI\BOOT\BOOTX64.EFI (a
 * unified kernel image: systemd's EFI stub, Debian's kernel, this program in
 * its initramfs). It says whether Linux came up through UEFI, mounts
 * efivarfs (module from /modules.list), reports the UEFI variable
 * HalTest-<GUID> left by an earlier boot and BootOrder, writes HalTest with
 * this boot's number (1 + the earlier one), writes marker 0x12 and powers
 * off through ACPI. Every line it prints starts with "L2UEFI: ". */
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
#include <termios.h>
#include <unistd.h>

#define EFIVARS "/sys/firmware/efi/efivars"
#define VAR EFIVARS "/HalTest-48414c42-5445-5354-8000-000000000001"
#define BOOTORDER EFIVARS "/BootOrder-8be4df61-93ca-11d2-aa0d-00e098032b8c"

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

	load_modules("L2UEFI");
	if (!uefi || mount("efivarfs", EFIVARS, "efivarfs", 0, NULL) < 0) {
		say("L2UEFI: efivarfs not mounted: %s\n", uefi ? strerror(errno) : "no /sys/firmware/efi");
	} else {
		long boot = 1;
		n = read_var(VAR, buf, sizeof buf - 1);
		if (n >= 0) {
			buf[4 + n] = 0;
			say("L2UEFI: found HalTest=%s\n", (char *)buf + 4);
			if (!strncmp((char *)buf + 4, "boot-", 5))
				boot = strtol((char *)buf + 9, NULL, 10) + 1;
		} else {
			say("L2UEFI: no HalTest variable yet\n");
		}
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

	tcdrain(1);
	if (ioperm(0x440, 1, 1) == 0)
		outb(0x12, 0x440);
	sync();
	reboot(RB_POWER_OFF);
	say("L2UEFI: reboot(RB_POWER_OFF) returned\n");
	for (;;)
		pause();
}
