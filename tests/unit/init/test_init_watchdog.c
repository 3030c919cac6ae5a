/* init's hal watchdog (init/watchdog.c): asks `status` on hal's control
 * socket, and calls hal hung when no "ok" came for the whole limit. The
 * test plays hal's side of the socket itself; the clock is the test's. */
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "check.h"
#include "init.h"

static char sock_path[108];

static int listen_at(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(sock_path, sizeof(sock_path), "/tmp/halwd-%d.sock", (int)getpid());
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	unlink(sock_path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0)
		abort();
	return l;
}

/* hal's side: take the asked connection, check the request, answer it */
static int answer(int l, const char *reply)
{
	int c = accept(l, NULL, NULL);
	if (c < 0)
		return -1;
	char buf[32] = "";
	struct pollfd p = { c, POLLIN, 0 };
	poll(&p, 1, 1000);
	ssize_t r = read(c, buf, sizeof(buf) - 1);
	int ok = r == 7 && !memcmp(buf, "status\n", 7);
	if (write(c, reply, strlen(reply)) < 0)
		ok = 0;
	close(c);
	return ok ? 0 : -1;
}

static void wait_answer(struct hal_watchdog *w)
{
	struct pollfd p = { w->fd, POLLIN, 0 };
	poll(&p, 1, 1000);
}

static void test_off(void)
{
	struct hal_watchdog w;
	wd_start(&w, "/nonexistent/hal.sock", 0, 0);
	CHECK_EQ(wd_timeout(&w, 0), -1);
	CHECK(!wd_step(&w, 1000000));
	CHECK_EQ(w.fd, -1);
}

static void test_no_socket_is_hung(void)
{
	struct hal_watchdog w;
	wd_start(&w, "/nonexistent/hal.sock", 4, 0);
	CHECK(wd_timeout(&w, 0) > 0 && wd_timeout(&w, 0) <= 1000);
	for (long long t = 0; t < 4000; t += 500)
		CHECK(!wd_step(&w, t));
	CHECK(wd_step(&w, 4000));
}

static void test_answering_hal_is_alive(void)
{
	int l = listen_at();
	struct hal_watchdog w;
	wd_start(&w, sock_path, 2, 0);
	int asked = 0;
	for (long long t = 0; t <= 20000; t += 500) {
		CHECK(!wd_step(&w, t));
		if (w.fd >= 0) {
			asked++;
			CHECK_EQ(answer(l, "ok running none\n"), 0);
			wait_answer(&w);
			CHECK(!wd_step(&w, t + 1));
			CHECK_EQ(w.fd, -1); /* the answer was read */
			CHECK_EQ(w.last_ok, t + 1);
		}
	}
	CHECK(asked >= 15); /* every second over 20 s */
	wd_stop(&w);
	close(l);
	unlink(sock_path);
}

static void test_silent_or_wrong_answer_is_hung(void)
{
	int l = listen_at();
	struct hal_watchdog w;
	/* connected (the backlog takes it) but never answered */
	wd_start(&w, sock_path, 3, 0);
	long long t = 0;
	while (!wd_step(&w, t) && t < 10000)
		t += 250;
	CHECK_EQ(t, 3000);
	wd_stop(&w);
	CHECK_EQ(w.fd, -1);
	close(l);
	/* an answer that is not "ok" does not count */
	l = listen_at();
	wd_start(&w, sock_path, 3, 0);
	for (t = 0; t < 3000; t += 250) {
		CHECK(!wd_step(&w, t));
		if (w.fd >= 0) {
			CHECK_EQ(answer(l, "error busy\n"), 0);
			wait_answer(&w);
		}
	}
	CHECK(wd_step(&w, 3000));
	wd_stop(&w);
	close(l);
	unlink(sock_path);
}

int main(void)
{
	RUN(test_off);
	RUN(test_no_socket_is_hung);
	RUN(test_answering_hal_is_alive);
	RUN(test_silent_or_wrong_answer_is_hung);
	return 0;
}
