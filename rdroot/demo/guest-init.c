/* PID 1 of the bundled default guest (make demo, docs/usage.md): a Debian
 * kernel booted from a BIOS disk by SYSLINUX, with this program as its whole
 * user space. It loads the modules in /modules.list (bochs-drm: the guest's
 * console on hal's screen), greets on the serial console and on the screen,
 * waits a few seconds so the screen can be seen (and screendumped), and
 * powers off. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "l2mods.h"

static void say(const char *dev, const char *msg)
{
	int fd = open(dev, O_WRONLY | O_NOCTTY);
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0) {
		/* nowhere else to say it */
	}
	close(fd);
}

int main(void)
{
	struct utsname u;
	char msg[512];
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	load_modules("  demo guest");
	sleep(1); /* fbcon takes over tty0 */
	uname(&u);
	snprintf(msg, sizeof msg,
		 "\r\n"
		 "  Hello from the guest: Linux %s booted from its BIOS disk under hal.\r\n"
		 "  The same plain virtual PC on any hardware. Powering off in 5 s.\r\n"
		 "\r\n",
		 u.release);
	say("/dev/ttyS0", msg);
	say("/dev/tty0", msg);
	sleep(5);
	say("/dev/ttyS0", "  demo guest: power off\r\n");
	sync();
	reboot(RB_POWER_OFF);
	return 1;
}
