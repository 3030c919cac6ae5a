/* hal's NBD client (hal/disk/nbd.c) against a fake server in a thread on a
 * socketpair or a unix/TCP socket: the handshake, data round trips, a
 * read-only export, and hostile servers (bad greeting, refusal, bad reply
 * magic, wrong cookie, short reply, closing mid-request, an export smaller
 * than claimed, a server that hangs): each an error, never a crash or data
 * that was not served. Then, when /usr/bin/qemu-nbd is there (Debian
 * qemu-utils), a real qemu-nbd serving a raw file and a qcow2 image, and one
 * killed and started again during reads. Reconnecting: a fake server on a
 * unix socket that cuts a reply, goes away for a while or for good, or comes
 * back with another export. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "disk/backend.h"
#include "sandbox/seccomp.h"

#define MB (1u << 20)

/* CUT_REPLY: the first read's reply header and half its data, 0xAA bytes
 * that are not the disk's, then a close; DOWN: at the first request the
 * connection and the listening socket close, and the socket comes back at
 * the same path after down_ms (never, when < 0); REVERSE: requests taken
 * `batch` at a time and answered last first. */
enum mode { GOOD, BAD_GREETING, NOT_FIXED, REFUSE, NO_INFO, BAD_MAGIC, WRONG_COOKIE, SHORT, CLOSE_MID, HANG,
	    CUT_REPLY, DOWN, REVERSE };

struct srv {
	int fd, listen_fd;
	enum mode mode;
	uint16_t flags;
	uint64_t claim, real; /* the size said, the size served */
	uint8_t *data;
	int flushes, trims, zeroes;
	char export[64];
	pthread_t t;
	/* srv_listen's: a server on path that takes max_conns connections, the
	 * first in mode first, the others GOOD, saying size claim2 if set */
	char path[108];
	enum mode first;
	int max_conns, conns, down_ms, batch;
	bool tcp;
	int port;
	uint64_t claim2;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t unbe(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static bool full(int fd, void *buf, size_t n, bool out)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t k = out ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (k <= 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void opt_reply(int fd, uint32_t type, const void *data, uint32_t len)
{
	uint8_t h[20];
	be(h, 0x0003e889045565a9ull, 8);
	be(h + 8, 7, 4);
	be(h + 12, type, 4);
	be(h + 16, len, 4);
	full(fd, h, 20, true);
	full(fd, (void *)data, len, true);
}

static bool handshake(struct srv *s);

/* REVERSE: batch READs at a time, answered last first. */
static void serve_reverse(struct srv *s)
{
	uint8_t r[32][28];
	for (;;) {
		int n = 0;
		while (n < s->batch && n < 32) {
			if (!full(s->fd, r[n], 28, false) || unbe(r[n], 4) != 0x25609513)
				return;
			if (unbe(r[n] + 6, 2) != 0) /* DISC, or anything but a read */
				return;
			n++;
		}
		while (n--) {
			uint8_t h[16];
			uint64_t off = unbe(r[n] + 16, 8);
			uint32_t len = (uint32_t)unbe(r[n] + 24, 4);
			be(h, 0x67446698, 4);
			be(h + 4, off + len <= s->real ? 0 : 22, 4);
			memcpy(h + 8, r[n] + 8, 8);
			full(s->fd, h, 16, true);
			if (off + len <= s->real)
				full(s->fd, s->data + off, len, true);
		}
	}
}

/* The greeting and the option haggling, as s->mode says: true when the
 * export was given. */
static bool handshake(struct srv *s)
{
	int fd = s->fd;
	uint8_t b[4200];
	memcpy(b, s->mode == BAD_GREETING ? "NBDMAGIX" : "NBDMAGIC", 8);
	be(b + 8, 0x49484156454f5054ull, 8);
	be(b + 16, s->mode == NOT_FIXED ? 0 : 3, 2);
	if (!full(fd, b, 18, true) || s->mode == BAD_GREETING || s->mode == NOT_FIXED || !full(fd, b, 4, false) ||
	    !full(fd, b, 16, false) || unbe(b + 8, 4) != 7 || unbe(b + 12, 4) > 4100 ||
	    !full(fd, b, unbe(b + 12, 4), false))
		return false;
	snprintf(s->export, sizeof(s->export), "%.*s", (int)unbe(b, 4), (char *)b + 4);
	if (s->mode == REFUSE) {
		opt_reply(fd, 0x80000006, "no such export", 14);
		return false;
	}
	if (s->mode != NO_INFO) {
		uint8_t i[12];
		be(i, 0, 2);
		be(i + 2, s->claim, 8);
		be(i + 10, s->flags, 2);
		opt_reply(fd, 3, "\0\3\0\0\2\0\0\0\0\0\0\0", 12); /* block size info: ignored */
		opt_reply(fd, 3, i, 12);
	}
	opt_reply(fd, 1, NULL, 0);
	return true;
}

static void serve(struct srv *s)
{
	if (!handshake(s))
		return;
	if (s->mode == REVERSE) {
		serve_reverse(s);
		return;
	}
	int fd = s->fd;
	uint8_t b[4200];
	for (;;) {
		uint8_t r[28], h[16];
		if (!full(fd, r, 28, false) || unbe(r, 4) != 0x25609513)
			return;
		uint16_t type = (uint16_t)unbe(r + 6, 2);
		uint64_t off = unbe(r + 16, 8);
		uint32_t len = (uint32_t)unbe(r + 24, 4), err = 0;
		if (type == 2)
			return;
		if (s->mode == CLOSE_MID)
			return;
		if (s->mode == DOWN) {
			close(s->listen_fd);
			if (!s->tcp)
				unlink(s->path);
			s->listen_fd = -1;
			return;
		}
		if (s->mode == HANG) {
			while (recv(fd, b, sizeof(b), 0) > 0)
				;
			return;
		}
		bool in = off <= s->real && len <= s->real - off;
		if (type == 1) {
			for (uint32_t done = 0, k; done < len; done += k) {
				k = len - done < sizeof(b) ? len - done : (uint32_t)sizeof(b);
				if (!full(fd, b, k, false))
					return;
				if (in)
					memcpy(s->data + off + done, b, k);
			}
		}
		if (!in)
			err = 22;
		else if (type == 4 || type == 6)
			memset(s->data + off, 0, len);
		s->flushes += type == 3;
		s->trims += type == 4;
		s->zeroes += type == 6;
		be(h, s->mode == BAD_MAGIC ? 0x668e33ef : 0x67446698, 4);
		be(h + 4, err, 4);
		memcpy(h + 8, r + 8, 8);
		if (s->mode == WRONG_COOKIE)
			h[15] ^= 1;
		full(fd, h, 16, true);
		if (s->mode == CUT_REPLY && type == 0 && !err) {
			memset(b, 0xaa, sizeof(b));
			full(fd, b, len / 2 < sizeof(b) ? len / 2 : sizeof(b), true);
			return;
		}
		if (type == 0 && !err)
			full(fd, s->data + off, s->mode == SHORT ? len / 2 : len, true);
		if (s->mode == SHORT)
			return;
	}
}

static void *srv_thread(void *arg)
{
	struct srv *s = arg;
	if (s->listen_fd >= 0)
		s->fd = accept(s->listen_fd, NULL, NULL);
	if (s->fd >= 0) {
		serve(s);
		close(s->fd);
	}
	return NULL;
}

static struct srv *srv_new(enum mode m, uint16_t flags, uint64_t claim, uint64_t real)
{
	struct srv *s = calloc(1, sizeof(*s));
	s->mode = m;
	s->flags = flags;
	s->claim = claim;
	s->real = real;
	s->data = calloc(1, real);
	for (uint64_t i = 0; i < real; i++)
		s->data[i] = (uint8_t)(i * 11 + (i >> 12));
	s->fd = s->listen_fd = -1;
	return s;
}

static void srv_free(struct srv *s)
{
	pthread_join(s->t, NULL);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	free(s->data);
	free(s);
}

/* A unix socket at s->path, listening; or TCP on 127.0.0.1 (s->tcp: the
 * port the first bind got, kept for the next). */
static int srv_bind(struct srv *s)
{
	if (s->tcp) {
		struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
					  .sin_port = htons((uint16_t)s->port) };
		socklen_t len = sizeof(in);
		int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(fd, 4) < 0 ||
		    getsockname(fd, (struct sockaddr *)&in, &len) < 0) {
			close(fd);
			return -1;
		}
		s->port = ntohs(in.sin_port);
		return fd;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
	unlink(s->path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void *srv_listen_thread(void *arg)
{
	struct srv *s = arg;
	for (; s->conns < s->max_conns; s->conns++) {
		if (s->listen_fd < 0) { /* DOWN closed it */
			if (s->down_ms < 0)
				return NULL;
			usleep((useconds_t)s->down_ms * 1000);
			s->listen_fd = srv_bind(s);
		}
		s->fd = accept(s->listen_fd, NULL, NULL);
		if (s->fd < 0)
			return NULL;
		s->mode = s->conns ? GOOD : s->first;
		if (s->conns && s->claim2)
			s->claim = s->claim2;
		serve(s);
		close(s->fd);
	}
	return NULL;
}

/* s serving at dir/NAME, first connection in mode first. */
static char dir[64];
static int srv_listen(struct srv *s, const char *name, enum mode first, int max_conns)
{
	snprintf(s->path, sizeof(s->path), "%s/%s", dir, name);
	s->first = first;
	s->max_conns = max_conns;
	s->listen_fd = srv_bind(s);
	if (s->listen_fd < 0)
		return -1;
	return pthread_create(&s->t, NULL, srv_listen_thread, s) ? -1 : 0;
}

/* A disk attached to s over a socketpair; 0 or -1 with why. */
static int pair(struct disk *d, struct srv *s, unsigned timeout, char *why, size_t n)
{
	*d = (struct disk){ .fd = -1, .sector_size = DISK_SECTOR, .timeout = timeout };
	snprintf(d->path, sizeof(d->path), "nbd://test/exp");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	s->fd = sv[1];
	pthread_create(&s->t, NULL, srv_thread, s);
	return nbd_attach(d, sv[0], "exp", why, n);
}

#define ALL (1 | 4 | 32 | 64) /* HAS_FLAGS, SEND_FLUSH, SEND_TRIM, SEND_WRITE_ZEROES */

static void handshake_and_round_trip(void)
{
	struct srv *s = srv_new(GOOD, ALL, 4 * MB, 4 * MB);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	CHECK_EQ(d.size, 4 * MB);
	CHECK(!d.ro && !strcmp(s->export, "exp"));
	static uint8_t w[3 * MB + 512], r[3 * MB + 512];
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 31 + 7);
	struct iovec v[3] = { { w, 512 }, { w + 512, 3 * MB - 4096 }, { w + 3 * MB - 3584, 4096 } };
	CHECK_EQ(disk_writev(&d, v, 3, 4096), 0); /* more than one request's worth */
	CHECK(!memcmp(s->data + 4096, w, 3 * MB + 512));
	struct iovec rv[2] = { { r, 1000 }, { r + 1000, 3 * MB + 512 - 1000 } };
	CHECK_EQ(disk_readv(&d, rv, 2, 4096), 0);
	CHECK(!memcmp(r, w, sizeof(w)));
	CHECK_EQ(disk_flush(&d), 0);
	CHECK_EQ(disk_discard(&d, 0, 4096), 0);
	CHECK_EQ(disk_write_zeroes(&d, 8192, 4096, false), 0);
	CHECK(s->flushes == 1 && s->trims == 1 && s->zeroes == 1);
	CHECK(s->data[0] == 0 && s->data[4095] == 0 && s->data[8192] == 0);
	errno = 0;
	struct iovec past = { r, 1024 };
	CHECK(disk_readv(&d, &past, 1, 4 * MB - 512) < 0 && errno == EINVAL); /* never sent */
	disk_close(&d);
	srv_free(s);
}

static void server_without_options(void)
{
	struct srv *s = srv_new(GOOD, 1, MB, MB); /* no FLUSH, TRIM, WRITE_ZEROES */
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	CHECK_EQ(disk_flush(&d), 0);
	errno = 0;
	CHECK(disk_discard(&d, 0, 4096) < 0 && errno == EOPNOTSUPP);
	CHECK_EQ(disk_write_zeroes(&d, 0, 70000, true), 0); /* as writes of zeros */
	CHECK(s->flushes == 0 && s->trims == 0 && s->zeroes == 0);
	for (int i = 0; i < 70000; i++)
		CHECK_EQ(s->data[i], 0);
	disk_close(&d);
	srv_free(s);
}

static void read_only_export(void)
{
	struct srv *s = srv_new(GOOD, 1 | 2, MB + 100, MB + 100);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	CHECK(d.ro);
	CHECK_EQ(d.size, MB); /* whole sectors */
	uint8_t b[512];
	struct iovec v = { b, sizeof(b) };
	errno = 0;
	CHECK(disk_writev(&d, &v, 1, 0) < 0 && errno == EROFS);
	CHECK_EQ(disk_readv(&d, &v, 1, 512), 0);
	CHECK(!memcmp(b, s->data + 512, 512));
	disk_close(&d);
	srv_free(s);
}

static void hostile_handshakes(void)
{
	static const struct { enum mode m; const char *says; } cases[] = {
		{ BAD_GREETING, "not an NBD newstyle server" },
		{ NOT_FIXED, "does not speak fixed newstyle" },
		{ REFUSE, "refused export 'exp' (error 0x80000006): no such export" },
		{ NO_INFO, "did not say the export's size" },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct srv *s = srv_new(cases[i].m, ALL, MB, MB);
		struct disk d;
		char why[256] = "";
		int r = pair(&d, s, 5, why, sizeof(why));
		srv_free(s);
		CHECK(r < 0 && !d.nbd);
		if (!strstr(why, cases[i].says))
			printf("  case %u said: %s\n", i, why);
		CHECK(strstr(why, cases[i].says));
	}
}

/* A read from a server in mode m fails, and the buffer holds nothing the
 * server did not send; later requests fail too when the stream is lost. */
static void hostile_replies(void)
{
	static const enum mode modes[] = { BAD_MAGIC, WRONG_COOKIE, SHORT, CLOSE_MID };
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct srv *s = srv_new(modes[i], ALL, MB, MB);
		struct disk d;
		char why[256];
		CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
		static uint8_t b[65536];
		memset(b, 0xee, sizeof(b));
		struct iovec v = { b, sizeof(b) };
		errno = 0;
		CHECK(disk_readv(&d, &v, 1, 0) < 0 && errno == EIO);
		if (modes[i] != SHORT)
			for (size_t k = 0; k < sizeof(b); k++)
				CHECK_EQ(b[k], 0xee);
		errno = 0;
		CHECK(disk_readv(&d, &v, 1, 0) < 0 && errno == EIO);
		CHECK(disk_writev(&d, &v, 1, 0) < 0 && disk_flush(&d) < 0);
		disk_close(&d);
		srv_free(s);
	}
}

static void export_smaller_than_claimed(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, 64 * 1024);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	errno = 0;
	CHECK(disk_readv(&d, &v, 1, 512 * 1024) < 0 && errno == EIO);
	CHECK(disk_writev(&d, &v, 1, 512 * 1024) < 0);
	CHECK_EQ(disk_readv(&d, &v, 1, 4096), 0); /* the connection is still in step */
	CHECK(!memcmp(b, s->data + 4096, sizeof(b)));
	disk_close(&d);
	srv_free(s);
}

static void hanging_server_times_out(void)
{
	struct srv *s = srv_new(HANG, ALL, MB, MB);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 1, why, sizeof(why)), 0);
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	time_t t0 = time(NULL);
	errno = 0;
	CHECK(disk_readv(&d, &v, 1, 0) < 0 && errno == EIO);
	CHECK(time(NULL) - t0 <= 3);
	disk_close(&d);
	srv_free(s);
}

static int open_at(struct disk *d, struct srv *s, const char *opts);

/* In a forked child whose thread is confined as virtio-blk's I/O thread
 * is: every request goes through (a call the filter lacks is SIGSYS). */
static void requests_pass_the_io_sandbox(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct srv *s = srv_new(GOOD, ALL, MB, MB);
		struct disk d;
		char why[256];
		if (pair(&d, s, 5, why, sizeof(why)) < 0 || sandbox_thread(HAL_THREAD_IO) < 0)
			syscall(SYS_exit_group, 2);
		static uint8_t b[65536];
		struct iovec v = { b, sizeof(b) };
		int bad = disk_writev(&d, &v, 1, 0) < 0 || disk_readv(&d, &v, 1, 4096) < 0 || disk_flush(&d) < 0 ||
			  disk_discard(&d, 0, 4096) < 0 || disk_write_zeroes(&d, 0, 8192, false) < 0 ||
			  memcmp(b, s->data + 4096, sizeof(b));
		syscall(SYS_exit_group, bad);
	}
	int st = -1;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* and with reconnects: the connector made at disk_open, before the
	 * filter, dials; the confined thread holds and sends again */
	pid = fork();
	if (pid == 0) {
		struct srv *s = srv_new(GOOD, ALL, MB, MB);
		s->down_ms = 300;
		struct disk d;
		static uint8_t b[65536];
		struct iovec v = { b, sizeof(b) };
		if (srv_listen(s, "sandbox.sock", DOWN, 2) < 0 || open_at(&d, s, ",reconnect=10") < 0 ||
		    sandbox_thread(HAL_THREAD_IO) < 0)
			syscall(SYS_exit_group, 2);
		int bad = disk_readv(&d, &v, 1, 4096) < 0 || memcmp(b, s->data + 4096, sizeof(b)) ||
			  disk_writev(&d, &v, 1, 0) < 0 || disk_flush(&d) < 0 || s->conns != 1;
		static uint8_t q[4][4096];
		unsigned tag;
		for (unsigned i = 0; i < 4 && !bad; i++) {
			struct iovec qv = { q[i], sizeof(q[i]) };
			bad = disk_queue(&d, false, &qv, 1, 65536 + i * 4096, i) < 0;
		}
		for (unsigned i = 0; i < 4 && !bad; i++)
			bad = disk_reap(&d, &tag) < 0 || memcmp(q[tag], s->data + 65536 + tag * 4096, 4096);
		syscall(SYS_exit_group, bad);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
}

static void specs_are_checked(void)
{
	struct disk d;
	char why[256], spec[256];
	static const char *bad[] = { "nbd://", "nbd:///exp", "nbd://host:/exp", "nbd://host/exp?x=1",
				     "nbd+unix:///exp", "nbd+unix://host/exp?socket=/s", "nbd+unix:///exp?socket=" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(disk_open(&d, bad[i], why, sizeof(why)) < 0);
		CHECK(strstr(why, "expected nbd"));
	}
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s/none", dir);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "/none: No such file or directory"));
	CHECK(disk_open(&d, "nbd://127.0.0.1:1/exp", why, sizeof(why)) < 0);
	CHECK(strstr(why, "127.0.0.1 port 1: Connection refused"));
	CHECK(disk_open(&d, "nbd://127.0.0.1/exp,timeout=x", why, sizeof(why)) < 0);
	CHECK(strstr(why, "unknown option 'timeout=x'"));
}

/* disk_open on a URI: a unix socket and TCP on 127.0.0.1. */
static void uris_connect(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/nbd.sock", dir);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s->listen_fd, 1) == 0);
	pthread_create(&s->t, NULL, srv_thread, s);
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "nbd+unix:///my%%20disk?socket=%s,serial=abc,timeout=7", sa.sun_path);
	int r = disk_open(&d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	CHECK_EQ(r, 0);
	CHECK(d.size == MB && d.timeout == 7 && !strcmp(d.serial, "abc") && !strcmp(s->export, "my%20disk"));
	disk_close(&d);
	srv_free(s);
	unlink(sa.sun_path);

	s = srv_new(GOOD, ALL | 2, 2 * MB, 2 * MB);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(in);
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(bind(s->listen_fd, (struct sockaddr *)&in, sizeof(in)) == 0 && listen(s->listen_fd, 1) == 0);
	CHECK_EQ(getsockname(s->listen_fd, (struct sockaddr *)&in, &len), 0);
	pthread_create(&s->t, NULL, srv_thread, s);
	snprintf(spec, sizeof(spec), "nbd://127.0.0.1:%d/tcp,snapshot", ntohs(in.sin_port));
	r = disk_open(&d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	CHECK_EQ(r, 0);
	/* a read-only export with a snapshot: the guest writes to the layer */
	CHECK(d.size == 2 * MB && !d.ro && d.snap && !strcmp(s->export, "tcp"));
	uint8_t b[1024], want[1024];
	memset(b, 0x42, sizeof(b));
	struct iovec v = { b, sizeof(b) };
	CHECK_EQ(disk_writev(&d, &v, 1, 1536), 0);
	memcpy(want, s->data + 1024, 512);
	memset(want + 512, 0x42, 512);
	v.iov_base = b;
	CHECK_EQ(disk_readv(&d, &v, 1, 1024), 0);
	CHECK(!memcmp(b, want, 1024));
	CHECK((s->data[1536] != 0x42 || s->data[1537] != 0x42));
	disk_close(&d);
	srv_free(s);
}

/* --- reconnecting ---------------------------------------------------------- */

/* stderr into dir/err while a test runs: what hal said. */
static int said_fd = -1;

static void said_begin(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/err", dir);
	fflush(stderr);
	said_fd = dup(2);
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	dup2(f, 2);
	close(f);
}

/* What was said since said_begin (echoed to the real stderr). */
static const char *said_end(void)
{
	static char buf[8192];
	char path[128];
	snprintf(path, sizeof(path), "%s/err", dir);
	fflush(stderr);
	dup2(said_fd, 2);
	close(said_fd);
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	fputs(buf, stderr);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int open_at(struct disk *d, struct srv *s, const char *opts)
{
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s%s", s->path, opts);
	int r = disk_open(d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	return r;
}

/* The server closes in the middle of a read's reply (after data that is not
 * the disk's) and takes a new connection: the read completes with the
 * disk's bytes only, as one hold. */
static void reconnect_after_a_cut_reply(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	CHECK_EQ(srv_listen(s, "cut.sock", CUT_REPLY, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=5"), 0);
	static uint8_t b[3 * 65536];
	memset(b, 0xee, sizeof(b));
	struct iovec v[2] = { { b, 1000 }, { b + 1000, sizeof(b) - 1000 } };
	said_begin();
	int r = disk_readv(&d, v, 2, 8192);
	const char *t = said_end();
	CHECK_EQ(r, 0);
	CHECK(!memcmp(b, s->data + 8192, sizeof(b)));
	CHECK_EQ(count(t, "connection lost (the server closed the connection); reconnecting"), 1);
	CHECK_EQ(count(t, "reconnected after"), 1);
	CHECK_EQ(s->conns, 1); /* the second connection is being served */
	/* writes and flushes go on over the new connection */
	memset(b, 0x5a, 4096);
	struct iovec w = { b, 4096 };
	CHECK_EQ(disk_writev(&d, &w, 1, 0), 0);
	CHECK_EQ(disk_flush(&d), 0);
	CHECK(s->data[0] == 0x5a && s->data[4095] == 0x5a && s->flushes == 1);
	disk_close(&d);
	srv_free(s);
}

/* Over TCP: the server goes for 0.5 s and comes back on the same port; a
 * read held meanwhile completes with the disk's bytes. */
static void reconnect_over_tcp(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	s->tcp = true;
	s->down_ms = 500;
	CHECK_EQ(srv_listen(s, "unused", DOWN, 2), 0);
	struct disk d;
	char why[256], spec[128];
	snprintf(spec, sizeof(spec), "nbd://127.0.0.1:%d/exp,reconnect=10", s->port);
	int r = disk_open(&d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	CHECK_EQ(r, 0);
	static uint8_t b[65536];
	memset(b, 0xee, sizeof(b));
	struct iovec v = { b, sizeof(b) };
	said_begin();
	r = disk_readv(&d, &v, 1, 131072);
	const char *t = said_end();
	CHECK_EQ(r, 0);
	CHECK(!memcmp(b, s->data + 131072, sizeof(b)));
	CHECK_EQ(count(t, "reconnected after"), 1);
	CHECK_EQ(s->conns, 1);
	disk_close(&d);
	srv_free(s);
}

/* The server (its listening socket too) is gone for 1.5 s while a read is
 * held: the read completes after it is back, with the right data. */
static void reconnect_when_the_server_returns(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	s->down_ms = 1500;
	CHECK_EQ(srv_listen(s, "down.sock", DOWN, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=10"), 0);
	static uint8_t b[65536];
	struct iovec v = { b, sizeof(b) };
	double t0 = now_s();
	said_begin();
	int r = disk_readv(&d, &v, 1, 65536);
	const char *t = said_end();
	double dt = now_s() - t0;
	CHECK_EQ(r, 0);
	CHECK(!memcmp(b, s->data + 65536, sizeof(b)));
	printf("  the read was held %.2f s\n", dt);
	CHECK(dt >= 1.4 && dt < 8); /* backoff: the dial after it came back is within 3.2 s */
	CHECK_EQ(count(t, "reconnecting"), 1);
	CHECK_EQ(count(t, "reconnected after"), 1);
	disk_close(&d);
	srv_free(s);
}

/* A write answered on a connection that is lost before a flush may not be
 * on stable storage: the next flush fails, the one after does not. */
static void flush_after_lost_writes_fails(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	CHECK_EQ(srv_listen(s, "lostw.sock", CUT_REPLY, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=5"), 0);
	uint8_t b[4096];
	memset(b, 0x77, sizeof(b));
	struct iovec v = { b, sizeof(b) };
	CHECK_EQ(disk_writev(&d, &v, 1, 0), 0);
	said_begin();
	CHECK_EQ(disk_readv(&d, &v, 1, 0), 0); /* the cut: a new connection */
	CHECK(b[0] == 0x77 && b[4095] == 0x77);
	errno = 0;
	int r = disk_flush(&d), e = errno;
	const char *t = said_end();
	CHECK(r < 0 && e == EIO);
	CHECK(strstr(t, "may not have reached stable storage: this flush fails"));
	CHECK_EQ(s->flushes, 1); /* sent all the same */
	CHECK_EQ(disk_flush(&d), 0);
	disk_close(&d);
	srv_free(s);
}

/* A server that stops answering (timeout=1) is left for a new connection,
 * where the read is answered. */
static void reconnect_after_a_timeout(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	CHECK_EQ(srv_listen(s, "hang.sock", HANG, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",timeout=1,reconnect=10"), 0);
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	double t0 = now_s();
	said_begin();
	int r = disk_readv(&d, &v, 1, 12288);
	const char *t = said_end();
	CHECK_EQ(r, 0);
	CHECK(!memcmp(b, s->data + 12288, sizeof(b)));
	CHECK(now_s() - t0 >= 0.9 && now_s() - t0 < 5);
	CHECK_EQ(count(t, "connection lost (the server did not answer in 1 s); reconnecting"), 1);
	disk_close(&d);
	srv_free(s);
}

/* ,reconnect=1 with the server gone for good: the held request fails
 * after about a second, said once; later requests fail at once, silently. */
static void reconnect_gives_up(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	s->down_ms = -1;
	CHECK_EQ(srv_listen(s, "gone.sock", DOWN, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=1"), 0);
	uint8_t b[4096];
	memset(b, 0xee, sizeof(b));
	struct iovec v = { b, sizeof(b) };
	double t0 = now_s();
	said_begin();
	errno = 0;
	int r = disk_readv(&d, &v, 1, 0), e = errno;
	double dt = now_s() - t0;
	int r2 = disk_readv(&d, &v, 1, 0), r3 = disk_flush(&d);
	double dt2 = now_s() - t0;
	const char *t = said_end();
	CHECK(r < 0 && e == EIO && r2 < 0 && r3 < 0);
	printf("  gave up after %.2f s\n", dt);
	CHECK(dt >= 0.9 && dt < 2.5);
	CHECK(dt2 - dt < 0.2); /* no second hold */
	CHECK_EQ(count(t, "connection lost"), 1);
	CHECK_EQ(count(t, "gave up after 1 s; requests fail (last try: "), 1);
	CHECK(strstr(t, "gone.sock: No such file or directory"));
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK_EQ(b[i], 0xee);
	disk_close(&d);
	srv_free(s);
}

/* The export comes back with another size: no point waiting, the disk
 * gives up at once and says why. */
static void reconnect_to_another_export_gives_up(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, 2 * MB);
	s->claim2 = 2 * MB;
	CHECK_EQ(srv_listen(s, "size.sock", CLOSE_MID, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=30"), 0);
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	double t0 = now_s();
	said_begin();
	errno = 0;
	int r = disk_readv(&d, &v, 1, 0), e = errno;
	const char *t = said_end();
	CHECK(r < 0 && e == EIO);
	CHECK(now_s() - t0 < 5);
	CHECK(strstr(t, "the export came back with size 2097152 and flags 0x65, not 1048576 and 0x65; gave up after"));
	CHECK(disk_readv(&d, &v, 1, 0) < 0);
	disk_close(&d);
	srv_free(s);
}

/* disk_cancel (a virtio-blk device torn down) ends a hold at once; after
 * it is off, the next request waits and reconnects. */
static void cancel_ends_a_hold(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	s->down_ms = 1000;
	CHECK_EQ(srv_listen(s, "cancel.sock", DOWN, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=20"), 0);
	disk_cancel(&d, true);
	uint8_t b[4096];
	struct iovec v = { b, sizeof(b) };
	double t0 = now_s();
	errno = 0;
	CHECK(disk_readv(&d, &v, 1, 0) < 0 && errno == EIO);
	CHECK(now_s() - t0 < 0.5);
	disk_cancel(&d, false);
	CHECK_EQ(disk_readv(&d, &v, 1, 4096), 0);
	CHECK(!memcmp(b, s->data + 4096, sizeof(b)));
	disk_close(&d);
	srv_free(s);
}

/* --- reads in flight together ----------------------------------------------- */

/* Eight reads in flight, answered last first: each reap names its read,
 * each buffer has its own bytes. */
static void queued_reads_out_of_order(void)
{
	struct srv *s = srv_new(REVERSE, ALL, 4 * MB, 4 * MB);
	s->batch = 8;
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	static uint8_t b[8][65536];
	memset(b, 0xee, sizeof(b));
	for (unsigned i = 0; i < 8; i++) {
		struct iovec v[2] = { { b[i], 1000 }, { b[i] + 1000, 65536 - 1000 } };
		CHECK(disk_can_queue(&d, false, v, 2, 512));
		CHECK_EQ(disk_queue(&d, false, v, 2, i * 131072 + 512, 100 + i), 0);
	}
	CHECK_EQ(disk_queued(&d), 8);
	unsigned tags[8];
	for (unsigned n = 0; n < 8; n++)
		CHECK_EQ(disk_reap(&d, &tags[n]), 0);
	for (unsigned n = 0; n < 8; n++)
		CHECK_EQ(tags[n], 107 - n);
	for (unsigned i = 0; i < 8; i++)
		CHECK(!memcmp(b[i], s->data + i * 131072 + 512, 65536));
	CHECK_EQ(disk_queued(&d), 0);
	/* what does not queue: past the end, more than 1 MiB; other calls wait for the reads */
	static uint8_t big[2 * MB];
	struct iovec v = { big, sizeof(big) }, one = { b[0], 4096 };
	CHECK(!disk_can_queue(&d, false, &v, 1, 0));
	errno = 0;
	CHECK(disk_queue(&d, false, &one, 1, 4 * MB - 2048, 1) < 0 && errno == EINVAL);
	CHECK_EQ(disk_queue(&d, false, &one, 1, 0, 1), 0);
	errno = 0;
	CHECK(disk_writev(&d, &one, 1, 0) < 0 && errno == EBUSY);
	CHECK(disk_flush(&d) < 0 && errno == EBUSY);
	disk_close(&d); /* with a read in flight */
	srv_free(s);
}

/* A reply cut with reads in flight: all of them go again on the new
 * connection and each gets its own bytes. */
static void queued_reads_reconnect(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	CHECK_EQ(srv_listen(s, "queue.sock", CUT_REPLY, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=5"), 0);
	static uint8_t b[DISK_QUEUE][32768];
	memset(b, 0xee, sizeof(b));
	said_begin(); /* the cut may come while the reads are still being sent */
	int bad = 0;
	for (unsigned i = 0; i < DISK_QUEUE; i++) {
		struct iovec v = { b[i], sizeof(b[i]) };
		bad += disk_queue(&d, false, &v, 1, (DISK_QUEUE - i) * 32768, i) != 0;
	}
	struct iovec v = { b[0], 512 };
	bad += disk_can_queue(&d, false, &v, 1, 0); /* full */
	unsigned seen = 0, tag;
	for (unsigned n = 0; n < DISK_QUEUE; n++) {
		bad += disk_reap(&d, &tag) != 0 || tag >= DISK_QUEUE;
		seen |= 1u << (tag % 32);
	}
	const char *t = said_end();
	CHECK_EQ(bad, 0);
	CHECK_EQ(seen, (1u << DISK_QUEUE) - 1);
	for (unsigned i = 0; i < DISK_QUEUE; i++)
		CHECK(!memcmp(b[i], s->data + (DISK_QUEUE - i) * 32768, sizeof(b[i])));
	CHECK_EQ(count(t, "reconnected after"), 1);
	disk_close(&d);
	srv_free(s);
}

/* A reply with a cookie not asked for, without reconnecting: every read in
 * flight fails, no buffer is touched. */
static void queued_reads_hostile(void)
{
	struct srv *s = srv_new(WRONG_COOKIE, ALL, MB, MB);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	static uint8_t b[4][8192];
	memset(b, 0xee, sizeof(b));
	for (unsigned i = 0; i < 4; i++) {
		struct iovec v = { b[i], sizeof(b[i]) };
		CHECK_EQ(disk_queue(&d, false, &v, 1, i * 8192, i), 0);
	}
	unsigned tag, seen = 0;
	for (unsigned n = 0; n < 4; n++) {
		errno = 0;
		CHECK(disk_reap(&d, &tag) < 0 && errno == EIO);
		seen |= 1u << tag;
	}
	CHECK_EQ(seen, 15);
	for (size_t i = 0; i < sizeof(b); i++)
		CHECK_EQ(((uint8_t *)b)[i], 0xee);
	struct iovec v = { b[0], 512 };
	errno = 0;
	CHECK(disk_queue(&d, false, &v, 1, 0, 0) < 0 && errno == EIO);
	disk_close(&d);
	srv_free(s);
}

/* Eight writes in flight (the data of each sent before any reply is read):
 * each reap names its write, the server has every byte; a read does not
 * queue while writes are in flight (nor a write while reads are); the
 * flush after them reaches the server. */
static void queued_writes(void)
{
	struct srv *s = srv_new(GOOD, ALL, 4 * MB, 4 * MB);
	struct disk d;
	char why[256];
	CHECK_EQ(pair(&d, s, 5, why, sizeof(why)), 0);
	static uint8_t b[8][65536];
	for (unsigned i = 0; i < 8; i++) {
		memset(b[i], 0x40 + (int)i, sizeof(b[i]));
		struct iovec v[2] = { { b[i], 512 }, { b[i] + 512, 65536 - 512 } };
		CHECK(disk_can_queue(&d, true, v, 2, i * 131072));
		CHECK_EQ(disk_queue(&d, true, v, 2, i * 131072, 200 + i), 0);
	}
	struct iovec r = { b[0], 4096 };
	CHECK(!disk_can_queue(&d, false, &r, 1, 0)); /* not with writes in flight */
	CHECK_EQ(disk_queued(&d), 8);
	unsigned seen = 0, tag;
	for (unsigned n = 0; n < 8; n++) {
		CHECK_EQ(disk_reap(&d, &tag), 0);
		CHECK(tag >= 200 && tag < 208);
		seen |= 1u << (tag - 200);
	}
	CHECK_EQ(seen, 255);
	for (unsigned i = 0; i < 8; i++)
		CHECK(!memcmp(s->data + i * 131072, b[i], 65536));
	CHECK_EQ(disk_flush(&d), 0);
	CHECK_EQ(s->flushes, 1);
	CHECK_EQ(disk_queue(&d, false, &r, 1, 0, 1), 0);
	CHECK(!disk_can_queue(&d, true, &r, 1, 0)); /* nor a write with a read in flight */
	CHECK_EQ(disk_reap(&d, &tag), 0);
	CHECK(tag == 1 && b[0][0] == 0x40);
	disk_close(&d);
	srv_free(s);
}

/* The connection goes at the first write in flight and comes back 0.3 s
 * later: every write is sent again, whole, and lands; the flush after
 * them passes (no write had been answered when the connection went). */
static void queued_writes_reconnect(void)
{
	struct srv *s = srv_new(GOOD, ALL, MB, MB);
	s->down_ms = 300;
	CHECK_EQ(srv_listen(s, "qw.sock", DOWN, 2), 0);
	struct disk d;
	CHECK_EQ(open_at(&d, s, ",reconnect=10"), 0);
	static uint8_t b[DISK_QUEUE][32768];
	said_begin();
	int bad = 0;
	for (unsigned i = 0; i < DISK_QUEUE; i++) {
		memset(b[i], 0x10 + (int)i, sizeof(b[i]));
		struct iovec v = { b[i], sizeof(b[i]) };
		bad += disk_queue(&d, true, &v, 1, i * 32768, i) != 0;
	}
	unsigned seen = 0, tag;
	for (unsigned n = 0; n < DISK_QUEUE; n++) {
		bad += disk_reap(&d, &tag) != 0 || tag >= DISK_QUEUE;
		seen |= 1u << (tag % 32);
	}
	int fl = disk_flush(&d);
	const char *t = said_end();
	CHECK_EQ(bad, 0);
	CHECK_EQ(seen, (1u << DISK_QUEUE) - 1);
	for (unsigned i = 0; i < DISK_QUEUE; i++)
		CHECK(!memcmp(s->data + i * 32768, b[i], sizeof(b[i])));
	CHECK_EQ(count(t, "reconnected after"), 1);
	CHECK_EQ(fl, 0);
	disk_close(&d);
	srv_free(s);
}

/* --- a real qemu-nbd ------------------------------------------------------ */

static int sh(const char *cmd)
{
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* qemu-nbd serving path (format fmt) on dir/q.sock, one connection. */
static pid_t qemu_nbd(const char *fmt, const char *path, const char *extra)
{
	char sock[128], pid[128], pidopt[140];
	snprintf(sock, sizeof(sock), "%s/q.sock", dir);
	snprintf(pid, sizeof(pid), "%s/q.pid", dir);
	snprintf(pidopt, sizeof(pidopt), "--pid-file=%s", pid);
	unlink(sock);
	unlink(pid);
	pid_t p = fork();
	if (p == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execl("/usr/bin/qemu-nbd", "qemu-nbd", "-f", fmt, "-x", "exp", "--socket", sock, pidopt, extra, path,
		      (char *)NULL);
		_exit(127);
	}
	/* the pid file comes once the socket listens (the socket file alone
	 * may be there before: Connection refused) */
	for (int i = 0; i < 500 && access(pid, F_OK); i++)
		usleep(10000);
	return p;
}

static uint8_t pat(uint64_t i, int seed) { return (uint8_t)(i * 29 + (i >> 9) + (uint64_t)seed); }

/* Through hal's client: a pattern written over the disk at odd places. */
static int write_through(const char *suffix, int seed, uint64_t *size)
{
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s/q.sock%s", dir, suffix);
	if (disk_open(&d, spec, why, sizeof(why)) < 0) {
		printf("  %s\n", why);
		return -1;
	}
	*size = d.size;
	static uint8_t b[256 * 1024];
	int r = 0;
	for (uint64_t off = 0; off + sizeof(b) <= d.size && !r; off += 2 * sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = pat(off + i, seed);
		struct iovec v = { b, sizeof(b) };
		r = disk_writev(&d, &v, 1, off);
	}
	if (!r)
		r = disk_flush(&d);
	/* read back through the client too */
	for (uint64_t off = 0; off + sizeof(b) <= d.size && !r; off += 2 * sizeof(b)) {
		struct iovec v = { b, sizeof(b) };
		r = disk_readv(&d, &v, 1, off);
		for (size_t i = 0; i < sizeof(b) && !r; i++)
			if (b[i] != pat(off + i, seed))
				r = -1;
	}
	disk_close(&d);
	return r;
}

/* The raw file holds the pattern where it was written, zeros elsewhere
 * (want_zero: all zeros, nothing written). */
static bool file_has(const char *path, uint64_t size, int seed, bool none)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	bool ok = true;
	for (uint64_t i = 0; i < size && ok; i++) {
		int c = fgetc(f);
		bool written = !none && (i / (256 * 1024)) % 2 == 0;
		ok = c == (written ? pat(i, seed) : 0);
	}
	fclose(f);
	return ok;
}

static void real_qemu_nbd(void)
{
	if (access("/usr/bin/qemu-nbd", X_OK) || access("/usr/bin/qemu-img", X_OK)) {
		printf("SKIP real_qemu_nbd: no /usr/bin/qemu-nbd (apt-get install qemu-utils)\n");
		return;
	}
	char raw[128], qcow[128], out[128], cmd[512];
	snprintf(raw, sizeof(raw), "%s/raw.img", dir);
	snprintf(qcow, sizeof(qcow), "%s/q.qcow2", dir);
	snprintf(out, sizeof(out), "%s/out.raw", dir);
	uint64_t size = 0;
	int st;
	/* a raw file */
	snprintf(cmd, sizeof(cmd), "truncate -s 4M %s", raw);
	CHECK_EQ(sh(cmd), 0);
	pid_t p = qemu_nbd("raw", raw, "--cache=writeback");
	CHECK_EQ(write_through("", 1, &size), 0);
	CHECK_EQ(size, 4 * MB);
	CHECK(waitpid(p, &st, 0) == p); /* qemu-nbd ends with its one client */
	CHECK(file_has(raw, size, 1, false));
	/* a qcow2 image made by qemu-img, read back by qemu-img */
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 8M", qcow);
	CHECK_EQ(sh(cmd), 0);
	p = qemu_nbd("qcow2", qcow, "--cache=writeback");
	CHECK_EQ(write_through("", 2, &size), 0);
	CHECK_EQ(size, 8 * MB);
	CHECK(waitpid(p, &st, 0) == p);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -f qcow2 -O raw %s %s", qcow, out);
	CHECK_EQ(sh(cmd), 0);
	CHECK(file_has(out, size, 2, false));
	/* hal's ,snapshot over it, and qemu-nbd -s: the image stays as it was */
	p = qemu_nbd("qcow2", qcow, "--cache=writeback");
	CHECK_EQ(write_through(",snapshot", 3, &size), 0);
	CHECK(waitpid(p, &st, 0) == p);
	p = qemu_nbd("qcow2", qcow, "-s");
	CHECK_EQ(write_through("", 4, &size), 0);
	CHECK(waitpid(p, &st, 0) == p);
	CHECK_EQ(sh(cmd), 0);
	CHECK(file_has(out, size, 2, false));
	/* a name qemu-nbd does not export: refused, its message said */
	p = qemu_nbd("qcow2", qcow, "-t");
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "nbd+unix:///nope?socket=%s/q.sock", dir);
	int r = disk_open(&d, spec, why, sizeof(why));
	kill(p, SIGTERM);
	CHECK(waitpid(p, &st, 0) == p);
	CHECK(r < 0);
	printf("  qemu-nbd refuses: %s\n", why);
	CHECK(strstr(why, "refused export 'nope' (error 0x80000006)"));
	/* a read-only export (qemu-nbd -r): a read-only disk */
	p = qemu_nbd("qcow2", qcow, "-r");
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s/q.sock", dir);
	r = disk_open(&d, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	CHECK_EQ(r, 0);
	bool ro = d.ro;
	disk_close(&d);
	CHECK(waitpid(p, &st, 0) == p);
	CHECK(ro);
	unlink(raw);
	unlink(qcow);
	unlink(out);
}

/* kill -9 of qemu-nbd during a stream of reads, and a new qemu-nbd on the
 * same socket half a second later: every read returns the file's bytes. */
static pid_t killed_nbd;
static char kill_raw[128];

static void *kill_and_restart(void *arg)
{
	(void)arg;
	usleep(300000);
	kill(killed_nbd, SIGKILL);
	waitpid(killed_nbd, NULL, 0);
	usleep(500000);
	killed_nbd = qemu_nbd("raw", kill_raw, "-t");
	return NULL;
}

static void real_qemu_nbd_killed(void)
{
	if (access("/usr/bin/qemu-nbd", X_OK)) {
		printf("SKIP real_qemu_nbd_killed: no /usr/bin/qemu-nbd (apt-get install qemu-utils)\n");
		return;
	}
	snprintf(kill_raw, sizeof(kill_raw), "%s/kill.img", dir);
	enum { SIZE = 8 * MB, N = 64 * 1024 };
	uint8_t *img = malloc(SIZE);
	for (uint32_t i = 0; i < SIZE; i++)
		img[i] = pat(i, 5);
	FILE *f = fopen(kill_raw, "wb");
	CHECK(f && fwrite(img, 1, SIZE, f) == SIZE && fclose(f) == 0);
	killed_nbd = qemu_nbd("raw", kill_raw, "-t");
	struct disk d;
	char why[256], spec[256];
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s/q.sock,reconnect=20,timeout=5", dir);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	pthread_t t;
	pthread_create(&t, NULL, kill_and_restart, NULL);
	static uint8_t b[N];
	int bad = 0, reads = 0, slow = 0;
	uint32_t x = 12345;
	said_begin();
	double t0 = now_s();
	while (now_s() - t0 < 2.0 || reads < 50) {
		x = x * 1103515245 + 12345;
		uint64_t off = (uint64_t)(x >> 8) % (SIZE / 512 - N / 512) * 512;
		struct iovec v = { b, N };
		memset(b, 0, N);
		double r0 = now_s();
		if (disk_readv(&d, &v, 1, off) < 0 || memcmp(b, img + off, N))
			bad++;
		slow += now_s() - r0 > 0.3;
		reads++;
	}
	const char *said = said_end();
	pthread_join(t, NULL);
	disk_close(&d);
	kill(killed_nbd, SIGTERM);
	waitpid(killed_nbd, NULL, 0);
	free(img);
	unlink(kill_raw);
	printf("  %d reads of 64 KiB, %d held over the restart, %d wrong or failed\n", reads, slow, bad);
	CHECK_EQ(bad, 0);
	CHECK(slow >= 1); /* the read that met the kill */
	CHECK_EQ(count(said, "reconnected after"), 1);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/hal-nbd-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	RUN(handshake_and_round_trip);
	RUN(server_without_options);
	RUN(read_only_export);
	RUN(hostile_handshakes);
	RUN(hostile_replies);
	RUN(export_smaller_than_claimed);
	RUN(hanging_server_times_out);
	RUN(requests_pass_the_io_sandbox);
	RUN(reconnect_after_a_cut_reply);
	RUN(reconnect_when_the_server_returns);
	RUN(reconnect_after_a_timeout);
	RUN(reconnect_over_tcp);
	RUN(flush_after_lost_writes_fails);
	RUN(reconnect_gives_up);
	RUN(reconnect_to_another_export_gives_up);
	RUN(cancel_ends_a_hold);
	RUN(queued_reads_out_of_order);
	RUN(queued_reads_reconnect);
	RUN(queued_reads_hostile);
	RUN(queued_writes);
	RUN(queued_writes_reconnect);
	RUN(specs_are_checked);
	RUN(uris_connect);
	RUN(real_qemu_nbd);
	RUN(real_qemu_nbd_killed);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
