/* Is hal alive? init starts hal with --control and asks `status` on that
 * socket every period; hal's event loop answers "ok ..." (hal/host/control.c).
 * No answer for the whole limit, or no socket at all, means hal is hung:
 * its main loop (display, input, control) is stuck. A guest that spins
 * its vCPUs is not a hung hal: the loop answers from its own thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "init.h"

void wd_start(struct hal_watchdog *w, const char *path, long secs, long long now)
{
	*w = (struct hal_watchdog){ .fd = -1 };
	if (secs <= 0)
		return;
	snprintf(w->path, sizeof(w->path), "%s", path);
	w->limit_ms = secs * 1000LL;
	w->period_ms = w->limit_ms / 4 > 1000 ? w->limit_ms / 4 : 1000;
	w->last_ok = now;
	w->next_ask = now + w->period_ms;
}

void wd_stop(struct hal_watchdog *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->limit_ms = 0;
}

static void ask(struct hal_watchdog *w)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", w->path);
	w->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->fd < 0)
		return;
	/* A Unix stream connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(w->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || send(w->fd, "status\n", 7, MSG_NOSIGNAL) != 7) {
		close(w->fd);
		w->fd = -1;
	}
}

bool wd_step(struct hal_watchdog *w, long long now)
{
	if (!w->limit_ms)
		return false;
	if (w->fd >= 0) {
		char buf[128];
		ssize_t r = recv(w->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EINTR)) { /* an answer, EOF or an error */
			if (r >= 2 && !memcmp(buf, "ok", 2))
				w->last_ok = now;
			close(w->fd);
			w->fd = -1;
		}
	}
	if (now - w->last_ok >= w->limit_ms)
		return true;
	if (w->fd < 0 && now >= w->next_ask) {
		w->next_ask = now + w->period_ms;
		ask(w);
	}
	return false;
}

int wd_timeout(const struct hal_watchdog *w, long long now)
{
	if (!w->limit_ms)
		return -1;
	long long t = w->last_ok + w->limit_ms;
	if (w->fd < 0 && w->next_ask < t)
		t = w->next_ask;
	return t > now ? (int)(t - now) : 0;
}
