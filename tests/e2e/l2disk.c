/* l2disk: PID 1 of the guest disk that hal boots through SeaBIOS and
 * SYSLINUX in the nested test bed (tests/e2e/mkguestdisk.sh). It loads the
 * virtio and AHCI modules listed in /modules.list, reads what the host put
 * on the data disk (the second virtio disk, vdb, or an AHCI disk, sda),
 * writes an answer after it, flushes, mounts an AHCI CD-ROM's ISO (sr0)
 * if there is one and reads /hello.txt from it, reads hal's
 * virtio-rng (/dev/hwrng) and the SMBIOS strings the firmware passed on
 * (/sys/class/dmi/id), writes marker 0x11 and powers off through ACPI. Every line it prints starts with "L2DISK: ". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "l2mods.h"

static void say(const char *fmt, const char *arg)
{
	char line[600];
	int n = snprintf(line, sizeof line, fmt, arg);
	if (write(1, line, (size_t)n) < 0) {
		/* nothing to do: the console is all we have */
	}
}

int main(void)
{
	char buf[512], cmdline[256] = "";
	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mkdir("/sys", 0555); /* the AHCI check below and the SMBIOS strings */
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
	say("L2DISK: booted by SYSLINUX, cmdline=%s\n", cmdline);
	load_modules("L2DISK");

	/* the data disk: the second virtio disk (vdb) or an AHCI disk (sda);
	 * SCSI scanning behind AHCI is asynchronous, so wait for either */
	const char *data = "/dev/vdb";
	for (int i = 0; i < 300; i++) {
		if (access("/dev/vdb", F_OK) == 0)
			break;
		if (access("/dev/sda", F_OK) == 0) {
			data = "/dev/sda";
			break;
		}
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	}
	say("L2DISK: data disk %s\n", data);
	fd = open(data, O_RDWR);
	if (fd < 0) {
		say("L2DISK: no data disk: %s\n", strerror(errno));
	} else if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
		say("L2DISK: reading vdb failed: %s\n", strerror(errno));
	} else {
		buf[64] = 0;
		say("L2DISK: read '%s'\n", buf);
		memset(buf, 0, sizeof buf);
		snprintf(buf, sizeof buf, "GUEST-WROTE-THIS");
		if (pwrite(fd, buf, sizeof buf, 512) != (ssize_t)sizeof buf || fsync(fd) < 0)
			say("L2DISK: writing vdb failed: %s\n", strerror(errno));
		else
			say("L2DISK: wrote%s\n", "");
		close(fd);
	}
	/* an AHCI controller bound: a CD-ROM behind it (sr0), unless the data
	 * disk was the AHCI device */
	if (access("/sys/bus/pci/drivers/ahci/0000:00:0c.0", F_OK) == 0 && strcmp(data, "/dev/sda")) {
		for (int i = 0; i < 300 && access("/dev/sr0", F_OK) != 0; i++)
			nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
		mkdir("/cdrom", 0755);
		char txt[128] = "";
		if (mount("/dev/sr0", "/cdrom", "iso9660", MS_RDONLY, NULL) < 0) {
			say("L2DISK: cdrom mount failed: %s\n", strerror(errno));
		} else if ((fd = open("/cdrom/hello.txt", O_RDONLY)) < 0 || (n = read(fd, txt, sizeof txt - 1)) < 0) {
			say("L2DISK: cdrom hello.txt: %s\n", strerror(errno));
		} else {
			txt[n] = 0;
			txt[strcspn(txt, "\n")] = 0;
			say("L2DISK: cdrom read '%s'\n", txt);
		}
		if (fd >= 0)
			close(fd);
		umount("/cdrom");
	}
	/* virtio-rng: 32 bytes from hal's getrandom() */
	for (int i = 0; i < 50 && access("/dev/hwrng", F_OK) != 0; i++)
		nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
	unsigned char rnd[32];
	fd = open("/dev/hwrng", O_RDONLY);
	n = fd >= 0 ? read(fd, rnd, sizeof rnd) : -1;
	if (n != (ssize_t)sizeof rnd) {
		say("L2DISK: hwrng: %s\n", fd < 0 ? strerror(errno) : "short read");
	} else {
		char hex[2 * sizeof rnd + 1];
		for (size_t i = 0; i < sizeof rnd; i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		say("L2DISK: hwrng 32 bytes %s\n", hex);
	}
	if (fd >= 0)
		close(fd);
	/* SMBIOS type 1 as the guest kernel read it */
	static const char *const dmi[] = { "sys_vendor", "product_name", "product_serial" };
	for (size_t i = 0; i < sizeof dmi / sizeof dmi[0]; i++) {
		char p[64], v[128] = "";
		snprintf(p, sizeof p, "/sys/class/dmi/id/%s", dmi[i]);
		fd = open(p, O_RDONLY);
		n = fd >= 0 ? read(fd, v, sizeof v - 1) : -1;
		v[n > 0 ? n : 0] = 0;
		v[strcspn(v, "\n")] = 0;
		if (fd >= 0)
			close(fd);
		snprintf(buf, sizeof buf, "L2DISK: dmi %s=%s\n", dmi[i], fd < 0 ? "(none)" : v);
		say("%s", buf);
	}
	tcdrain(1); /* see l2init.c */
	if (ioperm(0x440, 1, 1) == 0)
		outb(0x11, 0x440);
	say("L2DISK: powering off%s\n", "");
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
