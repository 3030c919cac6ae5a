/* l2disk: PID 1 of the guest disk that hal boots through SeaBIOS and
 * SYSLINUX in the nested test bed (tests/e2e/mkguestdisk.sh). It loads the
 * virtio and AHCI modules listed in /modules.list, reads what the host put
 * on the data disk (the second virtio disk, vdb, or an AHCI disk, sda),
 * writes an answer after it, flushes, mounts an AHCI CD-ROM's ISO (sr0)
 * if there is one and reads /hello.txt from it, reads hal's
 * virtio-rng (/dev/hwrng) and the SMBIOS strings the firmware passed on
 * (/sys/class/dmi/id), checks hal's HPET (check_hpet), writes marker 0x11 and powers off through ACPI. Every line it prints starts with "L2DISK: ".
 * With no data disk at all it counts its boots on its own disk instead:
 * the file /bootcount.txt on its FAT partition (vda1) holds N, N+1 is
 * written back, flushed and the file system unmounted, "L2DISK: boot count
 * N+1" printed: a root disk that keeps the guest's writes across boots
 * counts up.
 * A data disk that starts "HOST-READ-LOOP N" is read whole N times
 * instead (O_DIRECT, past the page cache), each sector checked against
 * the pattern below and each pass's FNV-1a sum printed: the bed kills the
 * NBD server meanwhile. On the build host, `l2disk --pattern FILE MIB N`
 * writes such a disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtc.h>

#include "l2mods.h"

static void say(const char *fmt, const char *arg)
{
	char line[600];
	int n = snprintf(line, sizeof line, fmt, arg);
	if (write(1, line, (size_t)n) < 0) {
		/* nothing to do: the console is all we have */
	}
}

static int file_line(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t k = fd >= 0 ? read(fd, buf, n - 1) : -1;
	buf[k > 0 ? k : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (fd >= 0)
		close(fd);
	return k > 0 ? 0 : -1;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* RTC seconds of the day through /dev/rtc0, -1 on error. */
static int rtc_sec(int fd)
{
	struct rtc_time t;
	return ioctl(fd, RTC_RD_TIME, &t) < 0 ? -1 : t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec;
}

/* The HPET (hal/hw/hpet.c): Linux found it through the ACPI HPET table
 * (its clocksource listed, the driver's "hpet0: at MMIO" line); with hpet
 * as the current clocksource, CLOCK_MONOTONIC across two RTC seconds
 * (edge to edge, polled every 5 ms) must be about 2000 ms: a halted or
 * wrongly scaled counter cannot give that. */
static void check_hpet(void)
{
	char avail[256], cur[64] = "", *log = malloc(1 << 17);
	file_line("/sys/devices/system/clocksource/clocksource0/available_clocksource", avail, sizeof avail);
	say("L2DISK: clocksources %s\n", avail);
	int n = log ? klogctl(3, log, (1 << 17) - 1) : -1;
	if (n > 0) {
		log[n] = 0;
		char *m = strstr(log, "hpet0: at MMIO ");
		if (m) {
			m[strcspn(m, "\n")] = 0;
			say("L2DISK: dmesg %s\n", m);
		}
	}
	/* its timer 0 as a clock event device (legacy replacement: IRQ 0),
	 * and how many IRQ 0 interrupts the guest took */
	int fd = log ? open("/proc/timer_list", O_RDONLY) : -1;
	n = 0;
	for (ssize_t k; fd >= 0 && n < (1 << 17) - 1 && (k = read(fd, log + n, (size_t)((1 << 17) - 1 - n))) > 0;)
		n += (int)k;
	if (fd >= 0)
		close(fd);
	if (log && n > 0) {
		log[n] = 0;
		say("L2DISK: clockevent hpet %s\n", strstr(log, "Clock Event Device: hpet") ? "registered" : "absent");
	}
	char irq0[128] = "";
	fd = open("/proc/interrupts", O_RDONLY);
	n = fd >= 0 && log ? (int)read(fd, log, 4096) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		log[n] = 0;
		char *l = strstr(log, "\n  0:");
		if (l) {
			l[strcspn(l + 1, "\n") + 1] = 0;
			snprintf(irq0, sizeof irq0, "%s", l + 1);
		}
	}
	say("L2DISK: irq0 %s\n", irq0);
	free(log);
	fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_WRONLY);
	if (fd < 0 || write(fd, "hpet", 4) != 4)
		say("L2DISK: hpet: cannot make it the clocksource: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	file_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", cur, sizeof cur);
	say("L2DISK: current clocksource %s\n", cur);
	int rtc = open("/dev/rtc0", O_RDONLY);
	int s0 = rtc >= 0 ? rtc_sec(rtc) : -1, s = s0;
	long long t0 = 0, t1 = 0;
	for (int i = 0; i < 1200 && s0 >= 0; i++) { /* at most about 6 s */
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
		s = rtc_sec(rtc);
		if (s < 0)
			break;
		if (!t0 && s != s0) {
			t0 = mono_ms(); /* an RTC second begins */
			s0 = s;
		} else if (t0 && (s - s0 + 86400) % 86400 >= 2) {
			t1 = mono_ms();
			break;
		}
	}
	if (rtc >= 0)
		close(rtc);
	char line[160];
	if (!t1)
		snprintf(line, sizeof line, "L2DISK: hpet: no two RTC seconds measured (/dev/rtc0: %s)\n", strerror(errno));
	else
		snprintf(line, sizeof line, "L2DISK: hpet clock %lld ms over 2 RTC s (clocksource %s)\n", t1 - t0, cur);
	say("%s", line);
}

/* One more boot in /bootcount.txt on the boot disk's FAT partition (vda1,
 * mounted read-write for it and unmounted again). */
static void count_boot(void)
{
	char b[32] = "";
	mkdir("/boot", 0755);
	if (mount("/dev/vda1", "/boot", "vfat", 0, NULL) < 0) {
		say("L2DISK: boot count: mounting vda1: %s\n", strerror(errno));
		return;
	}
	int fd = open("/boot/bootcount.txt", O_RDWR | O_CREAT, 0644);
	ssize_t n = fd >= 0 ? pread(fd, b, sizeof b - 1, 0) : -1;
	int k = n > 0 ? atoi(b) : 0;
	int len = snprintf(b, sizeof b, "%d\n", k + 1);
	if (fd < 0 || n < 0 || pwrite(fd, b, (size_t)len, 0) != len || fsync(fd) < 0)
		say("L2DISK: boot count: /bootcount.txt on vda1: %s\n", strerror(errno));
	else
		say("L2DISK: boot count %s", b);
	if (fd >= 0)
		close(fd);
	if (umount("/boot") < 0)
		say("L2DISK: boot count: unmounting vda1: %s\n", strerror(errno));
}

/* Sector k >= 1 of a read-loop disk: k (le64), then bytes of k and i. */
static void pattern(uint8_t *p, uint64_t k)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(k >> (8 * i));
	for (int i = 8; i < 512; i++)
		p[i] = (uint8_t)(k * 7 + (uint64_t)i * 13 + (k >> 8));
}

static int write_pattern(const char *path, int mib, int passes)
{
	FILE *f = fopen(path, "wb");
	uint8_t s[512] = { 0 };
	snprintf((char *)s, sizeof s, "HOST-READ-LOOP %d\n", passes);
	if (!f || fwrite(s, 1, 512, f) != 512)
		return 1;
	for (uint64_t k = 1; k < (uint64_t)mib * 2048; k++) {
		pattern(s, k);
		if (fwrite(s, 1, 512, f) != 512)
			return 1;
	}
	return fclose(f) ? 1 : 0;
}

/* The read loop over fd's disk: N passes, each checked and summed. */
static void read_loop(const char *path, const char *marker)
{
	int passes = atoi(marker + 15);
	int fd = open(path, O_RDONLY | O_DIRECT);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	enum { CH = 256 * 1024 };
	uint8_t *b = NULL, want[512], s0[512] = { 0 };
	char line[160];
	if (fd < 0 || size <= 0 || posix_memalign((void **)&b, 4096, CH)) {
		say("L2DISK: loop: %s\n", strerror(errno));
		return;
	}
	memcpy(s0, marker, strlen(marker));
	for (int pass = 1; pass <= passes; pass++) {
		uint64_t sum = 0xcbf29ce484222325ull, bad = 0;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (off_t off = 0; off < size; off += CH) {
			size_t n = size - off < CH ? (size_t)(size - off) : CH;
			if (pread(fd, b, n, off) != (ssize_t)n) {
				snprintf(line, sizeof line, "L2DISK: loop pass %d read at %lld failed: %s\n", pass,
					 (long long)off, strerror(errno));
				say("%s", line);
				bad++;
				continue;
			}
			for (size_t i = 0; i < n; i++)
				sum = (sum ^ b[i]) * 0x100000001b3ull;
			for (size_t o = 0; o < n; o += 512) {
				uint64_t k = (uint64_t)(off + (off_t)o) / 512;
				if (k)
					pattern(want, k);
				bad += memcmp(b + o, k ? want : s0, 512) != 0;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		snprintf(line, sizeof line, "L2DISK: loop pass %d sum=%016llx bad=%llu ms=%ld\n", pass,
			 (unsigned long long)sum, (unsigned long long)bad,
			 (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
		say("%s", line);
	}
	free(b);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--pattern"))
		return write_pattern(argv[2], atoi(argv[3]), atoi(argv[4]));
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

	/* the boot disk's request queues as Linux's blk-mq made them: one per
	 * CPU when hal offers VIRTIO_BLK_F_MQ */
	DIR *mq = opendir("/sys/block/vda/mq");
	int queues = 0;
	for (struct dirent *e; mq && (e = readdir(mq));)
		queues += e->d_name[0] != '.';
	if (mq)
		closedir(mq);
	char nq[16];
	snprintf(nq, sizeof(nq), "%d", queues);
	say("L2DISK: vda queues %s\n", nq);

	/* the data disk: the second virtio disk (vdb) or an AHCI disk (sda);
	 * SCSI scanning behind AHCI is asynchronous, so wait for either (the
	 * virtio disks are there once their module is loaded: no AHCI
	 * controller, nothing to wait for) */
	const char *data = "/dev/vdb";
	int ahci = access("/sys/bus/pci/devices/0000:00:0c.0", F_OK) == 0;
	for (int i = 0; i < 300; i++) {
		if (access("/dev/vdb", F_OK) == 0 || !ahci)
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
		count_boot();
	} else if (pread(fd, buf, sizeof buf, 0) != (ssize_t)sizeof buf) {
		say("L2DISK: reading vdb failed: %s\n", strerror(errno));
	} else if (!strncmp(buf, "HOST-READ-LOOP ", 15)) {
		buf[64] = 0;
		buf[strcspn(buf, "\n") + 1] = 0;
		close(fd);
		read_loop("/dev/vdb", buf);
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
	check_hpet();
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
