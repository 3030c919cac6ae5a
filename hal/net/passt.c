/* user: Debian's passt on one end of a socketpair (passt --fd), hal on the
 * other. The stream carries frames as QEMU's stream netdev does: a 4-byte
 * big-endian length, then the frame, no vnet header. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "net/backend.h"

void net_stream_init(struct net_backend *b, int fd)
{
	memset(b, 0, sizeof(*b));
	b->mode = NET_USER;
	b->fd = fd;
	b->stream = true;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* `name` in $PATH (or the usual directories without one) into out. */
static int find_exec(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(out, outlen, "%.*s%s%s", (int)n, path, n ? "/" : "", name);
		if (access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -1;
}

int passt_open(const struct net_spec *s, struct net_backend *b, char *why, size_t whylen)
{
	char exe[PATH_MAX];
	if (find_exec("passt", exe, sizeof(exe)) < 0) {
		snprintf(why, whylen, "--net user needs Debian's passt package (apt-get install passt)");
		return -1;
	}
	/* passt -f -q --fd 3 [--runas 65534:65534] [-t HOST:GUEST]... : in the
	 * foreground, so it stays our child to stop and reap; as root it would
	 * change to "nobody" and say so, numeric ids need no passwd file */
	char ports[NET_MAX_FWD][16];
	const char *argv[8 + 2 * NET_MAX_FWD + 1];
	int argc = 0;
	argv[argc++] = "passt";
	argv[argc++] = "-f";
	argv[argc++] = "-q";
	argv[argc++] = "--fd";
	argv[argc++] = "3";
	if (geteuid() == 0) {
		argv[argc++] = "--runas";
		argv[argc++] = "65534:65534";
	}
	for (int i = 0; i < s->nfwd; i++) {
		snprintf(ports[i], sizeof(ports[i]), "%u:%u", s->fwd[i].host, s->fwd[i].guest);
		argv[argc++] = "-t";
		argv[argc++] = ports[i];
	}
	argv[argc] = NULL;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(why, whylen, "--net user: socketpair: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "--net user: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* async-signal-safe calls only: hal has threads. Its own process
		 * group keeps the terminal's ^C/^Z from passt (hal decides when it
		 * stops); the signals hal blocks or ignores are passt's again. */
		setpgid(0, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		if (sv[1] == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(sv[1], 3) < 0)
			_exit(127);
		int null = open("/dev/null", O_RDONLY); /* the guest's console input is hal's */
		if (null > 0)
			dup2(null, 0);
		/* none of hal's other descriptors (VM, disks) in passt */
		if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
			for (int fd = 4; fd < 1024; fd++)
				close(fd);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	net_stream_init(b, sv[0]);
	b->helper = pid;
	return 0;
}

void passt_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->helper <= 0)
		return;
	/* passt --fd quits when the socket closes; SIGTERM in case it is busy,
	 * SIGKILL if it has not gone after a second */
	kill(b->helper, SIGTERM);
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(b->helper, NULL, WNOHANG);
		if (r == b->helper || (r < 0 && errno != EINTR))
			goto reaped;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	kill(b->helper, SIGKILL);
	waitpid(b->helper, NULL, 0);
reaped:
	b->helper = 0;
}

ssize_t stream_send(struct net_backend *b, const struct iovec *iov, int n)
{
	size_t len = iov_bytes(iov, n);
	if (len == 0 || len > NET_FRAME_MAX || n > NET_MAX_IOV) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec v[NET_MAX_IOV + 1];
	v[0] = (struct iovec){ hdr, sizeof(hdr) };
	memcpy(v + 1, iov, (size_t)n * sizeof(*iov));
	struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)n + 1 };
	size_t left = len + sizeof(hdr);
	while (left) {
		ssize_t r = sendmsg(b->fd, &m, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && left < len + sizeof(hdr)) {
			/* half a frame is on the stream: the rest must follow before
			 * anything else, so wait for room (passt drains it quickly) */
			if (poll(&(struct pollfd){ .fd = b->fd, .events = POLLOUT }, 1, 1000) > 0)
				continue;
			errno = EPIPE; /* passt stopped reading: the stream is lost */
			shutdown(b->fd, SHUT_RDWR);
			return -1;
		}
		if (r < 0)
			return -1; /* EAGAIN with nothing sent: the caller retries */
		left -= (size_t)r;
		while (r > 0 && (size_t)r >= m.msg_iov->iov_len) {
			r -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (r > 0) {
			m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + r;
			m.msg_iov->iov_len -= (size_t)r;
		}
	}
	return (ssize_t)len;
}

static void to_iov(const struct iovec *iov, int n, const uint8_t *p, size_t len)
{
	for (int i = 0; i < n && len; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
		memcpy(iov[i].iov_base, p, k);
		p += k;
		len -= k;
	}
}

ssize_t stream_recv(struct net_backend *b, const struct iovec *iov, int n)
{
	size_t room = iov_bytes(iov, n);
	if (!b->rxbuf && !(b->rxbuf = malloc(NET_STREAM_BUF)))
		return -1; /* ENOMEM */
	for (;;) {
		uint8_t *p = b->rxbuf + b->rxoff;
		if (b->rxskip && b->rxlen) {
			size_t k = b->rxskip < b->rxlen ? b->rxskip : b->rxlen;
			b->rxskip -= k;
			b->rxoff += k;
			b->rxlen -= k;
			continue;
		}
		if (!b->rxskip && b->rxlen >= 4) {
			size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
			if (len == 0 || len > NET_FRAME_MAX) {
				b->dropped++;
				b->rxskip = len;
				b->rxoff += 4;
				b->rxlen -= 4;
				continue;
			}
			if (b->rxlen >= 4 + len) {
				b->rxoff += 4 + len;
				b->rxlen -= 4 + len;
				if (len > room) {
					b->dropped++;
					continue;
				}
				to_iov(iov, n, p + 4, len);
				return (ssize_t)len;
			}
		}
		/* a partial frame (or nothing): to the start, then read more */
		memmove(b->rxbuf, p, b->rxlen);
		b->rxoff = 0;
		ssize_t r = read(b->fd, b->rxbuf + b->rxlen, NET_STREAM_BUF - b->rxlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r == 0)
			errno = EPIPE; /* passt has gone */
		if (r <= 0)
			return -1;
		b->rxlen += (size_t)r;
	}
}
