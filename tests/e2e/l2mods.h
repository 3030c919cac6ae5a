/* Shared by the small PID 1 programs of the test guests and the demo guest
 * (tests/e2e/l2disk.c, l2uefi.c, rdroot/demo/guest-init.c): load the kernel
 * modules named in /modules.list (one file name a line, dependencies first)
 * from /lib/modules/, saying "TAG: cannot load NAME: why" on stdout for each
 * one that does not load. Static musl; header-only because each program is
 * a single file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void load_modules(const char *tag)
{
	char list[4096] = "", *save = NULL;
	int fd = open("/modules.list", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, list, sizeof list - 1) : -1;
	list[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
	for (char *m = strtok_r(list, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
		char path[300], msg[400];
		snprintf(path, sizeof path, "/lib/modules/%s", m);
		int mfd = open(path, O_RDONLY | O_CLOEXEC);
		if (mfd < 0 || (syscall(SYS_finit_module, mfd, "", 0) < 0 && errno != EEXIST)) {
			int len = snprintf(msg, sizeof msg, "%s: cannot load %s: %s\n", tag, m, strerror(errno));
			if (write(1, msg, (size_t)len) < 0) {
				/* the console is all we have */
			}
		}
		if (mfd >= 0)
			close(mfd);
	}
}
