/* ptyrun PROGRAM [ARGS...]: runs PROGRAM in a new session whose controlling
 * terminal is a fresh pseudo-terminal, copies what it writes there to stdout
 * and exits with its status (128+N when signal N ended it). Nothing is sent
 * to its input. The integration tests use it to check that hal restores the
 * terminal (tests/guest/run.sh, "terminal"); it replaces script(1), which
 * the nested test bed's busybox does not have. Static musl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ptyrun PROGRAM [ARGS...]\n");
		return 2;
	}
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		perror("ptyrun: posix_openpt");
		return 1;
	}
	const char *name = ptsname(m);
	if (!name) {
		perror("ptyrun: ptsname");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("ptyrun: fork");
		return 1;
	}
	if (pid == 0) {
		setsid();
		int s = open(name, O_RDWR);
		if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0) {
			perror("ptyrun: slave");
			_exit(127);
		}
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		if (s > 2)
			close(s);
		execvp(argv[1], argv + 1);
		perror("ptyrun: exec");
		_exit(127);
	}
	/* Until the last writer closes the slave side: EIO. */
	char buf[4096];
	for (;;) {
		ssize_t n = read(m, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += w;
		}
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("ptyrun: waitpid");
			return 1;
		}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
