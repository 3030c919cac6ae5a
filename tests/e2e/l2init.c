/* l2init: PID 1 of the L2 guest (Linux booted by hal inside the nested test
 * bed, see tests/e2e/run.sh). It reports what the guest kernel sees, writes
 * boot marker 0x10 to hal's marker port (docs/guest-contract.md) and powers
 * the guest off, so hal exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define MARKER_PORT 0x440
#define MARKER_L2   0x10

static int console = 1;

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(console, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

int main(void)
{
	char cmdline[1024] = "";
	char line[1280];
	int fd;
	long cpus;
	ssize_t n;

	fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd >= 0)
		console = fd;
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL) && errno != EBUSY)
		say("L2: mounting /proc failed\n");

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, cmdline, sizeof cmdline - 1);
		cmdline[n > 0 ? n : 0] = 0;
		close(fd);
	}
	cmdline[strcspn(cmdline, "\n")] = 0;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);

	snprintf(line, sizeof line, "L2: hello from Linux under hal, cpus=%ld cmdline=%s\n", cpus, cmdline);
	say(line);

	/* The tty has only queued the line; wait until the UART sent it, so
	 * hal's marker message cannot land in the middle of it. */
	tcdrain(console);
	if (ioperm(MARKER_PORT, 1, 1) == 0)
		outb(MARKER_L2, MARKER_PORT);
	else
		say("L2: ioperm failed, no marker\n");

	sync();
	reboot(RB_POWER_OFF);
	say("L2: reboot(RB_POWER_OFF) returned\n");
	for (;;)
		pause();
}
