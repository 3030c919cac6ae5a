/* epoll over whatever the devices and main.c registered. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/hal.h"
#include "core/loop.h"

struct watch {
	int fd;
	void (*fn)(void *ctx);
	void *ctx;
};

#define MAX_WATCH 32
static struct watch watches[MAX_WATCH];
static int ep = -1;

int loop_init(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < MAX_WATCH; i++)
		watches[i].fd = -1;
	return ep < 0 ? -1 : 0;
}

void loop_exit(void)
{
	if (ep >= 0)
		close(ep);
	ep = -1;
}

int loop_add(int fd, void (*fn)(void *ctx), void *ctx)
{
	for (int i = 0; i < MAX_WATCH; i++) {
		if (watches[i].fd >= 0)
			continue;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &watches[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -1;
		watches[i] = (struct watch){ fd, fn, ctx };
		return 0;
	}
	return -1;
}

void loop_del(int fd)
{
	for (int i = 0; i < MAX_WATCH; i++)
		if (watches[i].fd == fd) {
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			watches[i].fd = -1;
		}
}

int loop_run_once(int timeout_ms)
{
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;
		if (w->fd >= 0)
			w->fn(w->ctx);
	}
	return 0;
}
