/* vmmbench: runs one VMM command once and measures it the same way whatever
 * the VMM is (tests/bench/bench.sh runs it for hal and for QEMU):
 *
 *   - line_ms: time from just before fork() to the moment the text LINE first
 *     appears in the VMM's output (stdout and stderr, both through one pipe);
 *   - exit_ms: time from just before fork() to the process's exit;
 *   - peak RSS outside guest RAM: the Rss of every mapping in /proc/PID/smaps
 *     but those of at least GUEST_KIB (-g: the guest's RAM, however the VMM
 *     backs it: anonymous memory, a memfd), sampled at most every 10 ms;
 *   - the peaks of RssAnon, RssFile, RssShmem seen, and VmHWM (last sample),
 *     from /proc/PID/status.
 *
 *   - with -s, the smaps of that peak written to SMAPS (where the memory is).
 *
 * Usage: vmmbench [-l LINE] [-t TIMEOUT_S] [-p PERIOD_US] [-g GUEST_KIB] [-s SMAPS] [-o LOG] -- CMD ARGS...
 * Prints one line: "line_ms=.. exit_ms=.. rss_outside_kib=.. anon_kib=..
 * file_kib=.. shmem_kib=.. vmhwm_kib=.. rc=.." (rc: exit status, 128+N for
 * signal N, -1 on timeout; line_ms=-1 when LINE never appeared).
 * Exit status: 0 when LINE appeared and the VMM exited, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sample {
	long anon, file, shmem, hwm;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Reads /proc/PID/status; returns 0 when the fields were there. */
static int sample(int fd, struct sample *s)
{
	char buf[4096];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	const char *p;
	int found = 0;
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if ((p = strstr(buf, "\nRssAnon:")))
		s->anon = atol(p + 9), found++;
	if ((p = strstr(buf, "\nRssFile:")))
		s->file = atol(p + 9), found++;
	if ((p = strstr(buf, "\nRssShmem:")))
		s->shmem = atol(p + 10), found++;
	if ((p = strstr(buf, "\nVmHWM:")))
		s->hwm = atol(p + 7), found++;
	return found == 4 ? 0 : -1;
}

/* The Rss of every mapping smaller than guest_kib, from /proc/PID/smaps
 * (a header line "start-end perms ..." and then its fields); -1 if unreadable.
 * Opened each time: an open smaps keeps the memory it was opened on, which
 * the VMM's exec replaces. */
static char *smaps_buf; /* the last smaps read */
static size_t smaps_cap;

static long outside_kib(const char *path, long guest_kib)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		if (len + 65536 > smaps_cap && !(smaps_buf = realloc(smaps_buf, smaps_cap = (len + 65536) * 2)))
			abort();
		ssize_t n = read(fd, smaps_buf + len, smaps_cap - len - 1);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	smaps_buf[len] = 0;
	long sum = 0;
	bool guest = false;
	for (char *l = smaps_buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long a, b;
		if (sscanf(l, "%lx-%lx ", &a, &b) == 2)
			guest = (long)((b - a) / 1024) >= guest_kib;
		else if (!guest && !strncmp(l, "Rss:", 4))
			sum += atol(l + 4);
	}
	return len ? sum : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: vmmbench [-l LINE] [-t TIMEOUT_S] [-p PERIOD_US] [-g GUEST_KIB] [-s SMAPS] [-o LOG] -- CMD ARGS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *line = "payload: done", *logpath = NULL, *peakpath = NULL;
	double timeout_ms = 60000, line_ms = -1, exit_ms = -1, t0, deadline, smaps_at = 0;
	long period_us = 2000, peak_outside = 0, guest_kib = 16384;
	struct sample peak = {0}, s = {0};
	int opt, pfd[2], statfd = -1, status = 0, rc = -1, done = 0, eof = 0;
	FILE *log = NULL;
	char *out = NULL;
	size_t outlen = 0, outcap = 0;
	char path[64], smaps[64];
	pid_t pid;

	while ((opt = getopt(argc, argv, "+l:t:p:g:s:o:")) != -1) {
		switch (opt) {
		case 'l': line = optarg; break;
		case 't': timeout_ms = atof(optarg) * 1000; break;
		case 'p': period_us = atol(optarg); break;
		case 'g': guest_kib = atol(optarg); break;
		case 's': peakpath = optarg; break;
		case 'o': logpath = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	if (logpath && !(log = fopen(logpath, "w"))) {
		perror(logpath);
		return 1;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("pipe");
		return 1;
	}

	t0 = now_ms();
	deadline = t0 + timeout_ms;
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "vmmbench: exec %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	statfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(smaps, sizeof smaps, "/proc/%d/smaps", (int)pid);

	while (!done) {
		struct pollfd p = {.fd = eof ? -1 : pfd[0], .events = POLLIN};
		int r = poll(&p, 1, (int)(period_us / 1000 > 0 ? period_us / 1000 : 1));
		if (r > 0 && (p.revents & (POLLIN | POLLHUP))) {
			char buf[8192];
			ssize_t n = read(pfd[0], buf, sizeof buf);
			double t = now_ms();
			if (n > 0) {
				if (log)
					fwrite(buf, 1, (size_t)n, log);
				if (line_ms < 0) {
					if (outlen + (size_t)n + 1 > outcap) {
						outcap = (outlen + (size_t)n + 1) * 2;
						out = realloc(out, outcap);
						if (!out)
							abort();
					}
					memcpy(out + outlen, buf, (size_t)n);
					outlen += (size_t)n;
					if (memmem(out, outlen, line, strlen(line)))
						line_ms = t - t0;
					else if (outlen > 65536) {
						/* keep only a tail that can hold a split LINE */
						size_t keep = strlen(line);
						memmove(out, out + outlen - keep, keep);
						outlen = keep;
					}
				}
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				eof = 1;
			}
		}
		/* smaps costs the kernel a walk of every mapping (QEMU has hundreds):
		 * at most every 10 ms, so the measuring does not slow what it measures */
		if (now_ms() - smaps_at >= 10) {
			long o = outside_kib(smaps, guest_kib);
			smaps_at = now_ms();
			if (o > peak_outside) {
				peak_outside = o;
				FILE *f = peakpath ? fopen(peakpath, "w") : NULL;
				if (f) {
					fputs(smaps_buf, f);
					fclose(f);
				}
			}
		}
		if (statfd >= 0 && sample(statfd, &s) == 0) {
			if (s.anon > peak.anon) peak.anon = s.anon;
			if (s.file > peak.file) peak.file = s.file;
			if (s.shmem > peak.shmem) peak.shmem = s.shmem;
			if (s.hwm > peak.hwm) peak.hwm = s.hwm;
		}
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			exit_ms = now_ms() - t0;
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			done = 1;
			/* drain what is left in the pipe */
			for (;;) {
				char buf[8192];
				ssize_t n = read(pfd[0], buf, sizeof buf);
				if (n <= 0)
					break;
				if (log)
					fwrite(buf, 1, (size_t)n, log);
				if (line_ms < 0 && memmem(buf, (size_t)n, line, strlen(line)))
					line_ms = now_ms() - t0; /* late: seen only after exit */
			}
		} else if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = -1;
			done = 1;
		}
	}
	if (log)
		fclose(log);
	printf("line_ms=%.1f exit_ms=%.1f rss_outside_kib=%ld anon_kib=%ld file_kib=%ld shmem_kib=%ld vmhwm_kib=%ld rc=%d\n",
	       line_ms, exit_ms, peak_outside, peak.anon, peak.file, peak.shmem, peak.hwm, rc);
	free(out);
	return line_ms >= 0 && rc >= 0 ? 0 : 1;
}
