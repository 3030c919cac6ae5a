/* The host's text console while hal owns the screen. See
 * docs/display-host.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kd.h>
#include <linux/vt.h>

#include "core/hal.h"
#include "host/console.h"

/* The tty we switched, and the mode it had; -1 when we switched none.
 * Plain ints: console_emergency_restore() reads them from a signal handler. */
static volatile int tty_fd = -1;
static volatile int tty_mode = KD_TEXT;

/* The active VT: /dev/tty0 is "the current console"; switching a VT's mode
 * needs its own node when we are not on it (VT_GETSTATE names it). */
static int open_active_vt(void)
{
	int fd = open("/dev/tty0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct vt_stat vs;
	if (ioctl(fd, VT_GETSTATE, &vs) == 0 && vs.v_active > 0) {
		char path[32];
		snprintf(path, sizeof(path), "/dev/tty%u", vs.v_active);
		int vfd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (vfd >= 0) {
			close(fd);
			return vfd;
		}
	}
	return fd;
}

static bool atexit_done;

void console_graphics(void)
{
	if (tty_fd >= 0)
		return;
	int fd = open_active_vt();
	if (fd < 0) {
		dbg("console: no virtual terminal (%s): fbcon is left alone", strerror(errno));
		return;
	}
	int mode;
	if (ioctl(fd, KDGETMODE, &mode) < 0 || ioctl(fd, KDSETMODE, KD_GRAPHICS) < 0) {
		dbg("console: KDSETMODE: %s", strerror(errno));
		close(fd);
		return;
	}
	tty_mode = mode;
	tty_fd = fd;
	if (!atexit_done) {
		atexit_done = true;
		atexit(console_restore);
	}
}

void console_restore(void)
{
	int fd = tty_fd;
	if (fd < 0)
		return;
	tty_fd = -1;
	ioctl(fd, KDSETMODE, tty_mode);
	close(fd);
}

void console_emergency_restore(void)
{
	int fd = tty_fd;
	if (fd >= 0) {
		tty_fd = -1;
		ioctl(fd, KDSETMODE, tty_mode);
	}
}
