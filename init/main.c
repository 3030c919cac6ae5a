/* init: PID 1 of the HAL boot medium (first minimal version). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	reboot(RB_DISABLE_CAD);
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			char *av[] = { "/bin/hal", NULL };
			execv(av[0], av);
			_exit(127);
		}
		while (wait(NULL) > 0 || errno == EINTR)
			;
		sleep(2);
	}
	return 0;
}
