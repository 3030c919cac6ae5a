/* A guest disk on an NBD server (disk.h, the NBD protocol's fixed newstyle
 * negotiation and simple replies): `nbd://HOST[:PORT]/EXPORT` (TCP, port
 * 10809 by default) or `nbd+unix:///EXPORT?socket=PATH`. The handshake asks
 * for the export with NBD_OPT_GO and takes its size and transmission flags
 * from NBD_INFO_EXPORT; then requests, each reply checked (magic, cookie,
 * error). Flushes, trims and zeroes go one at a time; reads and writes
 * from virtio-blk's queue may be in flight together (disk_queue, up to
 * NBD_QUEUE), each reply matched by its cookie to one of them. Reads and
 * writes are not in flight at the same time: a write's data could wait
 * for the server to take it while the server waits for hal to take a
 * read's data, each side's buffers full. The guest gets an I/O error or
 * the data it asked for, never part of another reply.
 *
 * Reconnecting (,reconnect=SECONDS, default 60; 0: off). A reply that
 * breaks the protocol, a connection that closes or a server silent for
 * d->timeout s loses the connection. The request is held, not answered,
 * while a new connection is made, and then sent again whole: a read reads
 * all its bytes again (what the lost reply left in the buffer is
 * overwritten before the guest sees it), a write writes the same bytes at
 * the same offset again (idempotent), a flush is sent again after the
 * writes before it, which were all answered (the front end reaps them
 * before it flushes); the reads or writes in flight together are all sent
 * again, each whole. If no
 * connection comes within d->reconnect s of the request's first failure,
 * or the export came back with another size or flags, the disk gives up:
 * that request and all later ones fail with EIO. Lost, reconnected and
 * given up are each said once on stderr.
 *
 * Who connects: the disk's I/O thread runs under seccomp with poll, send
 * and recv only, and must keep it that way (a device model the guest
 * subverted must not open sockets; it cannot even close one). So each NBD
 * disk with reconnect on has a small connector thread of its own, made at
 * nbd_open by the unconfined main thread and never confined: it sleeps on
 * a condition variable until the I/O thread hands it the lost socket
 * (which it closes), then dials with backoff (at once, then 100 ms doubling
 * to 5 s), negotiates, checks the export is the same and hands the new
 * socket over. A thread of its own rather than the main loop: the dial and
 * handshake block (DNS, a slow server) and must not stall the main loop's
 * serial console and signals, and the unit tests have no main loop. The
 * handover is a mutex and a condition variable (futex, which the I/O list
 * has). disk_cancel (the device is torn down: a guest reset, hal's exit)
 * ends a hold at once rather than after d->reconnect s; wake_fd, an
 * eventfd, breaks off the connector's handshake then and at nbd_close. A
 * request waiting for a server's reply still waits up to d->timeout s.
 *
 * A write the server answered but had not flushed when the connection went
 * may be lost with the server (qemu-nbd's qcow2 caches, a crashed host):
 * the next flush is sent, and fails with EIO, so the guest learns that
 * its data may not be on stable storage. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/hal.h"
#include "disk/backend.h"

#define NBD_MAGIC 0x4e42444d41474943ull       /* "NBDMAGIC" */
#define NBD_IHAVEOPT 0x49484156454f5054ull    /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_FLAG_FIXED_NEWSTYLE 1
#define NBD_FLAG_NO_ZEROES 2
#define NBD_OPT_GO 7
#define NBD_REP_ACK 1
#define NBD_REP_INFO 3
#define NBD_REP_ERR 0x80000000u
#define NBD_INFO_EXPORT 0
#define NBD_FLAG_HAS_FLAGS 1
#define NBD_FLAG_READ_ONLY 2
#define NBD_FLAG_SEND_FLUSH 4
#define NBD_FLAG_SEND_TRIM 32
#define NBD_FLAG_SEND_WRITE_ZEROES 64
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_FLAG_NO_HOLE 2

/* the flags hal acts on: a new connection must have the same */
#define USED_FLAGS (NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_TRIM | \
		    NBD_FLAG_SEND_WRITE_ZEROES)

#define CHUNK (1u << 20) /* bytes in one READ or WRITE: servers take 32 MiB at most */
#define SEGS 256         /* buffers in one READ or WRITE */
#define NBD_QUEUE DISK_QUEUE
#define BACKOFF_MIN 0.1  /* s between dials, doubling */
#define BACKOFF_MAX 5.0

/* A read or write in flight: sent (cookie), or to be sent again on a new
 * connection; done when its reply is in or it failed (err). */
struct queued {
	bool used, done, wr;
	int err;
	unsigned tag, k;
	uint64_t cookie, off;
	uint32_t len;
	struct iovec seg[SEGS];
};

struct disk_nbd {
	int fd;          /* the I/O thread's connection; -1 while the connector makes one */
	bool dead;       /* the connection is out of step or gone for good: everything fails */
	uint16_t flags;  /* the export's transmission flags */
	uint64_t size;   /* the export's size as the server said it */
	uint64_t cookie; /* the last request's */
	bool unflushed;  /* writes answered since the last flush */
	bool lost_writes; /* ...when a connection went: the next flush fails */
	bool outage;     /* lost and not yet back: said once */
	double lost_at;  /* when */
	char export[256];
	struct iovec seg[SEGS];
	struct queued q[NBD_QUEUE]; /* requests in flight (nbd_queue) */
	unsigned nq;     /* how many of q are used */
	bool qwr;        /* they are writes (else reads) */
	/* the connector (d->reconnect > 0); the fields below are under lock */
	bool connector;  /* its thread runs */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* any change of the fields below */
	int wake_fd;     /* eventfd: readable while cancelled or quitting */
	int old_fd;      /* a lost connection, for the connector to close */
	int new_fd;      /* a negotiated connection, for the I/O thread to take */
	bool want;       /* the I/O thread waits for new_fd */
	bool cancelled;  /* disk_cancel: held requests fail now */
	bool quit;       /* nbd_close */
	bool changed;    /* the export came back different: no more dials */
	char why[200];   /* the connector's last failure */
};

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

bool disk_is_nbd(const char *path)
{
	return !strncmp(path, "nbd://", 6) || !strncmp(path, "nbd+unix://", 11);
}

/* The connection is of no more use: said once, EIO from now on. */
static int broken(struct disk *d, const char *what)
{
	if (!d->nbd->dead)
		warnx("--disk %s: %s; the disk fails all requests from now on", d->path, what);
	d->nbd->dead = true;
	errno = EIO;
	return -1;
}

/* All of iov[0..n) (n <= SEGS) to or from fd, in as few sendmsg/recvmsg
 * as the socket takes, each wait at most d->timeout s and broken off when
 * wake (an fd, or -1) is readable; wait: for an answer (a poll first),
 * else try first and wait if need be. 0, or -1 with what went wrong in
 * what[64]. */
static int xiov(struct disk *d, int fd, int wake, const struct iovec *iov, unsigned n, bool out, bool wait, char *what)
{
	struct iovec v[SEGS];
	unsigned i = 0;
	memcpy(v, iov, n * sizeof(*iov));
	for (disk_iov_advance(v, n, &i, 0);;) {
		if (i == n)
			return 0;
		if (wait) {
			struct pollfd pfd[2] = { { .fd = fd, .events = out ? POLLOUT : POLLIN },
						 { .fd = wake, .events = POLLIN } };
			int r = poll(pfd, wake >= 0 ? 2 : 1, d->timeout ? (int)(d->timeout * 1000) : -1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				snprintf(what, 64, "the server did not answer in %u s", d->timeout);
				return -1;
			}
			if (r < 0) {
				snprintf(what, 64, "connection: %s", strerror(errno));
				return -1;
			}
			if (pfd[1].revents) {
				snprintf(what, 64, "hal is closing the disk");
				return -1;
			}
		}
		struct msghdr m = { .msg_iov = v + i, .msg_iovlen = n - i };
		ssize_t k = out ? sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) : recvmsg(fd, &m, MSG_DONTWAIT);
		wait = k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (wait || (k < 0 && errno == EINTR))
			continue; /* a poll per piece costs a fifth of a 1 MiB read's speed */
		if (k < 0) {
			snprintf(what, 64, "connection: %s", strerror(errno));
			return -1;
		}
		if (k == 0) {
			snprintf(what, 64, "the server closed the connection");
			return -1;
		}
		disk_iov_advance(v, n, &i, (size_t)k); /* past what went */
	}
}

static int xio(struct disk *d, int fd, int wake, void *buf, size_t n, bool out, bool wait, char *what)
{
	struct iovec v = { buf, n };
	return xiov(d, fd, wake, &v, 1, out, wait, what);
}

/* The handshake's: the connector's stops at nbd_close (wake_fd). */
static int io(struct disk *d, int fd, void *buf, size_t n, bool out)
{
	char what[64];
	return xio(d, fd, d->nbd->wake_fd, buf, n, out, false, what);
}

/* NBD_OPT_GO for export on fd; the replies up to NBD_REP_ACK. The export's
 * size and flags into *size, *flags. */
static int negotiate(struct disk *d, int fd, const char *export, uint64_t *size, uint16_t *flags, char *why,
		     size_t whylen)
{
	uint8_t b[4096 + 32];
	if (io(d, fd, b, 18, false) < 0) {
		snprintf(why, whylen, "--disk %s: no NBD greeting", d->path);
		return -1;
	}
	if (get_be(b, 8) != NBD_MAGIC || get_be(b + 8, 8) != NBD_IHAVEOPT) {
		snprintf(why, whylen, "--disk %s: not an NBD newstyle server", d->path);
		return -1;
	}
	uint16_t gflags = (uint16_t)get_be(b + 16, 2);
	if (!(gflags & NBD_FLAG_FIXED_NEWSTYLE)) {
		snprintf(why, whylen, "--disk %s: the NBD server does not speak fixed newstyle", d->path);
		return -1;
	}
	size_t len = strlen(export);
	if (len > 4096) {
		snprintf(why, whylen, "--disk %s: export name too long", d->path);
		return -1;
	}
	put_be(b, NBD_FLAG_FIXED_NEWSTYLE | (gflags & NBD_FLAG_NO_ZEROES), 4);
	put_be(b + 4, NBD_IHAVEOPT, 8);
	put_be(b + 12, NBD_OPT_GO, 4);
	put_be(b + 16, 4 + len + 4, 4);
	put_be(b + 20, len, 4);
	memcpy(b + 24, export, len);
	put_be(b + 24 + len, 1, 2); /* one information request: */
	put_be(b + 26 + len, NBD_INFO_EXPORT, 2);
	if (io(d, fd, b, 28 + len, true) < 0) {
		snprintf(why, whylen, "--disk %s: the NBD server went away in the handshake", d->path);
		return -1;
	}
	bool have_export = false;
	for (int replies = 0; replies < 64; replies++) {
		if (io(d, fd, b, 20, false) < 0) {
			snprintf(why, whylen, "--disk %s: the NBD server went away in the handshake", d->path);
			return -1;
		}
		uint32_t type = (uint32_t)get_be(b + 12, 4), n = (uint32_t)get_be(b + 16, 4);
		if (get_be(b, 8) != NBD_REP_MAGIC || get_be(b + 8, 4) != NBD_OPT_GO || n > 4096) {
			snprintf(why, whylen, "--disk %s: bad NBD option reply", d->path);
			return -1;
		}
		if (io(d, fd, b, n, false) < 0) {
			snprintf(why, whylen, "--disk %s: the NBD server went away in the handshake", d->path);
			return -1;
		}
		if (type & NBD_REP_ERR) {
			for (uint32_t i = 0; i < n; i++)
				if (b[i] < 32 || b[i] > 126)
					b[i] = '?';
			snprintf(why, whylen, "--disk %s: the NBD server refused export '%s' (error %#x)%s%.*s", d->path,
				 export, type, n ? ": " : "", (int)n, (char *)b);
			return -1;
		}
		if (type == NBD_REP_ACK) {
			if (have_export)
				return 0;
			snprintf(why, whylen, "--disk %s: the NBD server did not say the export's size", d->path);
			return -1;
		}
		if (type != NBD_REP_INFO || n < 2) {
			snprintf(why, whylen, "--disk %s: bad NBD option reply", d->path);
			return -1;
		}
		if (get_be(b, 2) != NBD_INFO_EXPORT)
			continue; /* information we did not ask for */
		if (n != 12) {
			snprintf(why, whylen, "--disk %s: bad NBD export information", d->path);
			return -1;
		}
		*size = get_be(b + 2, 8);
		*flags = (uint16_t)get_be(b + 10, 2);
		if (!(*flags & NBD_FLAG_HAS_FLAGS))
			*flags = 0;
		have_export = true;
	}
	snprintf(why, whylen, "--disk %s: the NBD server sends option replies without end", d->path);
	return -1;
}

int nbd_attach(struct disk *d, int fd, const char *export, char *why, size_t whylen)
{
	d->nbd = calloc(1, sizeof(*d->nbd));
	if (!d->nbd) {
		close(fd);
		snprintf(why, whylen, "--disk %s: out of memory", d->path);
		return -1;
	}
	struct disk_nbd *c = d->nbd;
	c->fd = fd;
	c->wake_fd = c->old_fd = c->new_fd = -1;
	snprintf(c->export, sizeof(c->export), "%s", export);
	if (negotiate(d, fd, export, &c->size, &c->flags, why, whylen) < 0) {
		c->dead = true;
		nbd_close(d);
		return -1;
	}
	if (c->size % DISK_SECTOR)
		warnx("--disk %s: size is not a multiple of 512; the last %d bytes are not visible", d->path,
		      (int)(c->size % DISK_SECTOR));
	d->size = c->size - c->size % DISK_SECTOR;
	if (c->flags & NBD_FLAG_READ_ONLY && !d->snapshot)
		d->ro = true;
	return 0;
}

/* ---- reconnecting -------------------------------------------------------------- */

static int connect_uri(struct disk *d, char *export, size_t n, char *why, size_t whylen);

/* A new connection to the same export: the socket, or -1 with why. */
static int dial(struct disk *d, char *why, size_t whylen)
{
	struct disk_nbd *c = d->nbd;
	char export[256];
	uint64_t size;
	uint16_t flags;
	int fd = connect_uri(d, export, sizeof(export), why, whylen);
	if (fd >= 0 && negotiate(d, fd, export, &size, &flags, why, whylen) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) { /* without the "--disk PATH: " the messages start with */
		size_t p = strlen(d->path) + 9;
		if (!strncmp(why, "--disk ", 7) && strlen(why) >= p)
			memmove(why, why + p, strlen(why + p) + 1);
		return -1;
	}
	if (size != c->size || (flags & USED_FLAGS) != (c->flags & USED_FLAGS)) {
		snprintf(why, whylen, "the export came back with size %llu and flags %#x, not %llu and %#x",
			 (unsigned long long)size, flags & USED_FLAGS, (unsigned long long)c->size, c->flags & USED_FLAGS);
		pthread_mutex_lock(&c->lock);
		c->changed = true;
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return -1;
	}
	return fd;
}

/* The connector thread (see the top of the file): never confined. */
static void *connector(void *arg)
{
	struct disk *d = arg;
	struct disk_nbd *c = d->nbd;
	double backoff = 0;
	pthread_mutex_lock(&c->lock);
	while (!c->quit) {
		if (c->old_fd >= 0) {
			close(c->old_fd);
			c->old_fd = -1;
		}
		if (!c->want || c->new_fd >= 0 || c->changed) {
			backoff = 0;
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		if (backoff) { /* a dial failed: wait, unless quitting or the I/O thread gave up */
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			double s = t.tv_nsec / 1e9 + backoff;
			t.tv_sec += (time_t)s;
			t.tv_nsec = (long)((s - (double)(time_t)s) * 1e9);
			while (!c->quit && c->want && pthread_cond_timedwait(&c->cond, &c->lock, &t) != ETIMEDOUT)
				;
			if (c->quit || !c->want)
				continue;
		}
		pthread_mutex_unlock(&c->lock);
		char why[200];
		int fd = dial(d, why, sizeof(why));
		pthread_mutex_lock(&c->lock);
		if (fd < 0) {
			snprintf(c->why, sizeof(c->why), "%s", why);
			backoff = !backoff ? BACKOFF_MIN : backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
		} else if (c->want && !c->quit) {
			c->new_fd = fd;
		} else {
			close(fd); /* nobody waits for it any more */
		}
		pthread_cond_broadcast(&c->cond);
	}
	if (c->old_fd >= 0)
		close(c->old_fd);
	c->old_fd = -1;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int start_connector(struct disk *d, char *why, size_t whylen)
{
	struct disk_nbd *c = d->nbd;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->lock, NULL);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sigset_t all, old; /* signals are the main loop's (its signalfd): the connector takes none */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (c->wake_fd >= 0)
		errno = pthread_create(&c->thread, NULL, connector, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c->wake_fd >= 0 && !errno) {
		c->connector = true;
		return 0;
	}
	snprintf(why, whylen, "--disk %s: the reconnecting thread: %s", d->path, strerror(errno));
	return -1;
}

/* The connection failed (what; NULL: the connector has it already). Without
 * a connector the disk is dead; else the connector makes a new one, and 0
 * says the request may be sent again on it. -1 (EIO): no connection by
 * *deadline (set at the request's first failure), the export changed, or
 * disk_cancel. */
static int resume(struct disk *d, const char *what, double *deadline)
{
	struct disk_nbd *c = d->nbd;
	if (c->dead) {
		errno = EIO;
		return -1;
	}
	if (!c->connector)
		return broken(d, what);
	double t = now();
	if (!*deadline)
		*deadline = t + d->reconnect;
	if (what && !c->outage) {
		warnx("--disk %s: connection lost (%s); reconnecting", d->path, what);
		c->outage = true;
		c->lost_at = t;
	}
	if (what && c->unflushed)
		c->lost_writes = true;
	if (what)
		c->unflushed = false;
	pthread_mutex_lock(&c->lock);
	if (what) {
		c->old_fd = c->fd;
		c->fd = -1;
	}
	c->want = true;
	pthread_cond_broadcast(&c->cond);
	while (c->new_fd < 0 && !c->changed && !c->cancelled && t < *deadline) {
		struct timespec ts = { .tv_sec = (time_t)*deadline,
				       .tv_nsec = (long)((*deadline - (double)(time_t)*deadline) * 1e9) };
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
		t = now();
	}
	int fd = c->new_fd;
	bool cancelled = c->cancelled, changed = c->changed;
	char why[200];
	snprintf(why, sizeof(why), "%s", c->why);
	c->new_fd = -1;
	c->want = false;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0) {
		c->fd = fd;
		c->outage = false;
		warnx("--disk %s: reconnected after %.1f s", d->path, t - c->lost_at);
		return 0;
	}
	errno = EIO;
	if (cancelled) /* the device goes; the next one's first request waits again */
		return -1;
	c->dead = true;
	if (changed)
		warnx("--disk %s: %s; gave up after %.1f s; requests fail", d->path, why, t - c->lost_at);
	else
		warnx("--disk %s: gave up after %u s; requests fail (last try: %s)", d->path, d->reconnect,
		      why[0] ? why : "none yet");
	return -1;
}

void disk_cancel(struct disk *d, bool on)
{
	struct disk_nbd *c = d->nbd;
	if (!c || !c->connector)
		return;
	pthread_mutex_lock(&c->lock);
	c->cancelled = on;
	uint64_t v = 1;
	if (on ? write(c->wake_fd, &v, sizeof(v)) : read(c->wake_fd, &v, sizeof(v))) {
		/* the eventfd is readable while on; a read of it when it is not fails, which is fine */
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* ---- requests ------------------------------------------------------------------- */

/* One exchange on the connection: 0; 1, the connection is lost (what says
 * why); -1 with errno, the server failed the request. */
static int exchange(struct disk *d, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
		    const struct iovec *seg, unsigned k, char *what)
{
	struct disk_nbd *c = d->nbd;
	uint8_t h[28];
	put_be(h, NBD_REQUEST_MAGIC, 4);
	put_be(h + 4, flags, 2);
	put_be(h + 6, type, 2);
	put_be(h + 8, ++c->cookie, 8);
	put_be(h + 16, off, 8);
	put_be(h + 24, len, 4);
	if (xio(d, c->fd, -1, h, 28, true, false, what) < 0)
		return 1;
	if (type == NBD_CMD_WRITE && xiov(d, c->fd, -1, seg, k, true, false, what) < 0)
		return 1;
	if (xio(d, c->fd, -1, h, 16, false, true, what) < 0) /* the server's turn */
		return 1;
	if (get_be(h, 4) != NBD_SIMPLE_REPLY_MAGIC) {
		snprintf(what, 64, "bad NBD reply magic");
		return 1;
	}
	if (get_be(h + 8, 8) != c->cookie) {
		snprintf(what, 64, "NBD reply to a request that was not asked");
		return 1;
	}
	uint32_t error = (uint32_t)get_be(h + 4, 4);
	if (error) {
		warnx("--disk %s: the NBD server failed a request at %llu+%u: error %u", d->path,
		      (unsigned long long)off, len, error);
		errno = error == 28 ? ENOSPC : error == 1 ? EPERM : error == 95 ? EOPNOTSUPP : EIO;
		return -1;
	}
	if (type == NBD_CMD_READ && xiov(d, c->fd, -1, seg, k, false, false, what) < 0)
		return 1;
	return 0;
}

/* One request, sent again whole on a new connection when one is lost;
 * data out from or in to seg[0..k). 0, or -1 with errno. */
static int request(struct disk *d, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
		   const struct iovec *seg, unsigned k)
{
	struct disk_nbd *c = d->nbd;
	double deadline = 0;
	char what[64];
	if (c->nq) { /* disk.h: not with reads in flight */
		errno = EBUSY;
		return -1;
	}
	for (;;) {
		if (c->dead) {
			errno = EIO;
			return -1;
		}
		if (c->fd < 0 && resume(d, NULL, &deadline) < 0)
			return -1;
		int r = exchange(d, type, flags, off, len, seg, k, what);
		if (r <= 0) {
			if (!r && type == NBD_CMD_WRITE)
				c->unflushed = true;
			return r;
		}
		if (resume(d, what, &deadline) < 0)
			return -1;
	}
}

/* ---- requests in flight (disk_queue) ------------------------------------------- */

/* q's READ or WRITE (with its data) on the connection: 0, or 1 with what
 * lost it. */
static int send_queued(struct disk *d, const struct queued *q, char *what)
{
	uint8_t h[28];
	put_be(h, NBD_REQUEST_MAGIC, 4);
	put_be(h + 4, 0, 2);
	put_be(h + 6, q->wr ? NBD_CMD_WRITE : NBD_CMD_READ, 2);
	put_be(h + 8, q->cookie, 8);
	put_be(h + 16, q->off, 8);
	put_be(h + 24, q->len, 4);
	if (xio(d, d->nbd->fd, -1, h, 28, true, false, what) < 0)
		return 1;
	return q->wr && xiov(d, d->nbd->fd, -1, q->seg, q->k, true, false, what) < 0 ? 1 : 0;
}

/* The connection is lost (what; NULL: it is with the connector already): a
 * new one, and every request in flight sent again on it, whole. 0; or -1 and
 * all of them fail with EIO (resume gave up or was cancelled). */
static int requeue(struct disk *d, const char *what, double *deadline)
{
	struct disk_nbd *c = d->nbd;
	char again[64];
	for (;;) {
		if (resume(d, what, deadline) < 0) {
			for (unsigned i = 0; i < NBD_QUEUE; i++)
				if (c->q[i].used && !c->q[i].done)
					c->q[i].done = true, c->q[i].err = EIO;
			return -1;
		}
		unsigned i = 0;
		while (i < NBD_QUEUE && (!c->q[i].used || c->q[i].done || !send_queued(d, &c->q[i], again)))
			i++;
		if (i == NBD_QUEUE)
			return 0;
		what = again;
	}
}

/* The total length of iov[0..n) if it fits one READ or WRITE (CHUNK, SEGS), else 0. */
static uint32_t one_req(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;
	for (unsigned i = 0; i < n && len <= CHUNK; i++)
		len += iov[i].iov_len;
	return n && n <= SEGS && len <= CHUNK ? (uint32_t)len : 0;
}

bool nbd_can_queue(const struct disk *d, bool wr, const struct iovec *iov, unsigned n)
{
	const struct disk_nbd *c = d->nbd;
	return c && !d->snap && c->nq < NBD_QUEUE && (!c->nq || c->qwr == wr) && one_req(iov, n);
}

unsigned nbd_queued(const struct disk *d)
{
	return d->nbd ? d->nbd->nq : 0;
}

int nbd_queue(struct disk *d, bool wr, const struct iovec *iov, unsigned n, uint64_t off, unsigned tag)
{
	struct disk_nbd *c = d->nbd;
	uint32_t len = one_req(iov, n);
	if (!nbd_can_queue(d, wr, iov, n) || off > d->size || len > d->size - off || (wr && d->ro)) {
		errno = EINVAL;
		return -1;
	}
	if (c->dead) {
		errno = EIO;
		return -1;
	}
	unsigned i = 0;
	while (c->q[i].used)
		i++; /* nq < NBD_QUEUE: there is a free one */
	struct queued *q = &c->q[i];
	*q = (struct queued){ .used = true, .wr = wr, .tag = tag, .k = n, .cookie = ++c->cookie, .off = off, .len = len };
	memcpy(q->seg, iov, n * sizeof(*iov));
	c->nq++;
	c->qwr = wr;
	char what[64];
	double deadline = 0;
	if (c->fd >= 0 && send_queued(d, q, what))
		requeue(d, what, &deadline); /* held here; a failure is disk_reap's to report */
	return 0;
}

bool nbd_reap_ready(struct disk *d)
{
	struct disk_nbd *c = d->nbd;
	if (!c || !c->nq)
		return false;
	for (unsigned i = 0; i < NBD_QUEUE; i++)
		if (c->q[i].used && c->q[i].done)
			return true;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	return c->fd >= 0 && poll(&p, 1, 0) > 0; /* a reply (or the end of the connection) is there */
}

int nbd_reap(struct disk *d, unsigned *tag)
{
	struct disk_nbd *c = d->nbd;
	double deadline = 0;
	char what[64];
	uint8_t h[16];
	if (!c || !c->nq) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		for (unsigned i = 0; i < NBD_QUEUE; i++) {
			struct queued *q = &c->q[i];
			if (q->used && q->done) {
				q->used = false;
				c->nq--;
				*tag = q->tag;
				errno = q->err;
				return q->err ? -1 : 0;
			}
		}
		if (c->dead || c->fd < 0) { /* no connection: wait for one, or (dead) fail them all */
			requeue(d, NULL, &deadline);
			continue;
		}
		if (xio(d, c->fd, -1, h, 16, false, true, what) < 0) {
			requeue(d, what, &deadline);
			continue;
		}
		struct queued *q = NULL;
		for (unsigned i = 0; i < NBD_QUEUE && !q; i++)
			if (c->q[i].used && !c->q[i].done && c->q[i].cookie == get_be(h + 8, 8))
				q = &c->q[i];
		if (get_be(h, 4) != NBD_SIMPLE_REPLY_MAGIC || !q) {
			requeue(d, !q ? "NBD reply to a request that was not asked" : "bad NBD reply magic", &deadline);
			continue;
		}
		uint32_t error = (uint32_t)get_be(h + 4, 4);
		if (error) {
			warnx("--disk %s: the NBD server failed a request at %llu+%u: error %u", d->path,
			      (unsigned long long)q->off, q->len, error);
			q->done = true;
			q->err = error == 28 ? ENOSPC : error == 1 ? EPERM : error == 95 ? EOPNOTSUPP : EIO;
			continue;
		}
		if (!q->wr && xiov(d, c->fd, -1, q->seg, q->k, false, false, what) < 0) { /* cut: the read goes again, whole */
			requeue(d, what, &deadline);
			continue;
		}
		if (q->wr)
			c->unflushed = true;
		q->done = true;
		q->err = 0;
	}
}

/* iov[0..n) in requests of at most CHUNK bytes and SEGS buffers. */
static int xfer(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off, uint16_t type)
{
	struct disk_nbd *c = d->nbd;
	size_t skip = 0; /* bytes of iov[0] done */
	while (n) {
		unsigned k = 0;
		uint32_t len = 0;
		while (n && k < SEGS && len < CHUNK) {
			size_t l = iov->iov_len - skip;
			if (l > CHUNK - len)
				l = CHUNK - len;
			if (l)
				c->seg[k++] = (struct iovec){ (uint8_t *)iov->iov_base + skip, l };
			len += (uint32_t)l;
			skip += l;
			if (skip == iov->iov_len) {
				iov++;
				n--;
				skip = 0;
			}
		}
		if (len && request(d, type, 0, off, len, c->seg, k) < 0)
			return -1;
		off += len;
	}
	return 0;
}

int nbd_readv(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	return xfer(d, iov, n, off, NBD_CMD_READ);
}

int nbd_writev(struct disk *d, const struct iovec *iov, unsigned n, uint64_t off)
{
	return xfer(d, iov, n, off, NBD_CMD_WRITE);
}

int nbd_flush(struct disk *d)
{
	if (!(d->nbd->flags & NBD_FLAG_SEND_FLUSH))
		return 0; /* the server says writes need none */
	struct disk_nbd *c = d->nbd;
	bool lost = c->lost_writes;
	if (request(d, NBD_CMD_FLUSH, 0, 0, 0, NULL, 0) < 0)
		return -1;
	c->unflushed = false;
	if (lost || c->lost_writes) {
		c->lost_writes = false;
		warnx("--disk %s: writes the server had answered but not flushed when the connection was lost may not "
		      "have reached stable storage: this flush fails", d->path);
		errno = EIO;
		return -1;
	}
	return 0;
}

/* TRIM or WRITE_ZEROES over [off, off+len) in pieces a 32-bit length holds. */
static int ranges(struct disk *d, uint16_t type, uint16_t flags, uint64_t off, uint64_t len)
{
	for (uint64_t done = 0, k; done < len; done += k) {
		k = len - done < (1u << 30) ? len - done : (1u << 30);
		if (request(d, type, flags, off + done, (uint32_t)k, NULL, 0) < 0)
			return -1;
	}
	return 0;
}

int nbd_trim(struct disk *d, uint64_t off, uint64_t len)
{
	if (!(d->nbd->flags & NBD_FLAG_SEND_TRIM)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return ranges(d, NBD_CMD_TRIM, 0, off, len);
}

int nbd_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap)
{
	if (d->nbd->flags & NBD_FLAG_SEND_WRITE_ZEROES)
		return ranges(d, NBD_CMD_WRITE_ZEROES, unmap ? 0 : NBD_CMD_FLAG_NO_HOLE, off, len);
	static const uint8_t zero[65536];
	for (uint64_t done = 0, k; done < len; done += k) {
		k = len - done < sizeof(zero) ? len - done : sizeof(zero);
		struct iovec z = { (void *)zero, (size_t)k };
		if (xfer(d, &z, 1, off + done, NBD_CMD_WRITE) < 0)
			return -1;
	}
	return 0;
}

void nbd_close(struct disk *d)
{
	struct disk_nbd *c = d->nbd;
	if (!c)
		return;
	if (c->connector) { /* stopped first: then the fds are ours alone */
		pthread_mutex_lock(&c->lock);
		c->quit = true;
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) < 0) {
			/* an eventfd at its limit is readable already */
		}
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
		if (c->new_fd >= 0)
			close(c->new_fd);
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->lock);
	}
	if (!c->dead && c->fd >= 0) { /* NBD_CMD_DISC: no reply */
		uint8_t h[28] = { 0 };
		put_be(h, NBD_REQUEST_MAGIC, 4);
		put_be(h + 6, NBD_CMD_DISC, 2);
		put_be(h + 8, ++c->cookie, 8);
		send(c->fd, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT); /* or not: hal is leaving */
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c);
	d->nbd = NULL;
}

/* A TCP connect (fd non-blocking, as it stays: every transfer polls) that
 * takes at most d->timeout s (30 when 0), not the kernel's two minutes of
 * SYNs to a host that does not answer, and stops at nbd_close (wake_fd). */
static int connect_wait(struct disk *d, int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	struct pollfd p[2] = { { .fd = fd, .events = POLLOUT }, { .fd = d->nbd ? d->nbd->wake_fd : -1, .events = POLLIN } };
	int r, e = 0;
	while ((r = poll(p, p[1].fd >= 0 ? 2 : 1, (int)(d->timeout ? d->timeout : 30) * 1000)) < 0 && errno == EINTR)
		;
	socklen_t el = sizeof(e);
	if (r == 0 || (r > 0 && !p[0].revents))
		e = ETIMEDOUT;
	else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		e = errno;
	errno = e;
	return e ? -1 : 0;
}

/* d->path: nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH. */
static int connect_uri(struct disk *d, char *export, size_t n, char *why, size_t whylen)
{
	const char *u = d->path;
	char host[256], port[16] = "10809";
	if (!strncmp(u, "nbd+unix://", 11)) {
		const char *e = u + 11, *q = strchr(e, '?');
		if (*e != '/' || !q || strncmp(q, "?socket=", 8) || !q[8] || (size_t)(q - e - 1) >= n) {
			snprintf(why, whylen, "--disk %s: expected nbd+unix:///EXPORT?socket=PATH", u);
			return -1;
		}
		snprintf(export, n, "%.*s", (int)(q - e - 1), e + 1);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(q + 8) >= sizeof(sa.sun_path)) {
			snprintf(why, whylen, "--disk %s: socket path too long", u);
			return -1;
		}
		strcpy(sa.sun_path, q + 8);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			snprintf(why, whylen, "--disk %s: %s: %s", u, q + 8, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return fd;
	}
	const char *h = u + 6, *slash = strchr(h, '/'), *hend, *colon;
	if (!slash)
		slash = h + strlen(h);
	if (*h == '[') { /* [IPv6] */
		hend = memchr(h, ']', (size_t)(slash - h));
		colon = hend && hend + 1 < slash && hend[1] == ':' ? hend + 1 : NULL;
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(slash - h));
		hend = colon ? colon : slash;
	}
	size_t pl = colon ? (size_t)(slash - colon - 1) : 0;
	if (!hend || hend == h || (size_t)(hend - h) >= sizeof(host) || pl >= sizeof(port) || (colon && !pl) ||
	    strchr(slash, '?') || strlen(slash) >= n + 1) {
		snprintf(why, whylen, "--disk %s: expected nbd://HOST[:PORT]/EXPORT", u);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(hend - h), h);
	if (colon)
		snprintf(port, sizeof(port), "%.*s", (int)pl, colon + 1);
	snprintf(export, n, "%s", *slash ? slash + 1 : "");
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e) {
		snprintf(why, whylen, "--disk %s: %s: %s", u, host, gai_strerror(e));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
		if (fd >= 0 && connect_wait(d, fd, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			close(fd);
			fd = -1;
			errno = e;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(why, whylen, "--disk %s: %s port %s: %s", u, host, port, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int nbd_open(struct disk *d, char *why, size_t whylen)
{
	char export[256];
	int fd = connect_uri(d, export, sizeof(export), why, whylen);
	if (fd < 0 || nbd_attach(d, fd, export, why, whylen) < 0)
		return -1;
	if (d->reconnect && start_connector(d, why, whylen) < 0) {
		nbd_close(d);
		return -1;
	}
	return 0;
}
