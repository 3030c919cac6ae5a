/* A guest disk on an NBD server (disk.h, the NBD protocol's fixed newstyle
 * negotiation and simple replies): `nbd://HOST[:PORT]/EXPORT` (TCP, port
 * 10809 by default) or `nbd+unix:///EXPORT?socket=PATH`. The handshake asks
 * for the export with NBD_OPT_GO and takes its size and transmission flags
 * from NBD_INFO_EXPORT; then one request at a time, each reply checked
 * (magic, cookie, error). A reply that breaks the protocol, a connection
 * that closes or a server that does not answer in d->timeout seconds ends
 * the connection: that request and all later ones fail with EIO, said once
 * on stderr; the guest gets an I/O error, never data it did not ask for.
 * Runs in the disk's I/O thread under seccomp: poll, send, recv only. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

#define CHUNK (1u << 20) /* bytes in one READ or WRITE: servers take 32 MiB at most */
#define SEGS 256         /* buffers in one READ or WRITE */

struct disk_nbd {
	int fd;
	bool dead;       /* the connection is out of step or gone: everything fails */
	uint16_t flags;  /* the export's transmission flags */
	uint64_t cookie; /* the last request's */
	struct iovec seg[SEGS];
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

/* All n bytes to or from the server, each wait at most d->timeout s;
 * wait: for an answer (a poll first), else try first and wait if need be. */
static int xio(struct disk *d, void *buf, size_t n, bool out, bool wait)
{
	struct disk_nbd *c = d->nbd;
	uint8_t *p = buf;
	char what[64];
	while (n) {
		if (wait) {
			struct pollfd pfd = { .fd = c->fd, .events = out ? POLLOUT : POLLIN };
			int r = poll(&pfd, 1, d->timeout ? (int)(d->timeout * 1000) : -1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				snprintf(what, sizeof(what), "the server did not answer in %u s", d->timeout);
				return broken(d, what);
			}
			if (r < 0) {
				snprintf(what, sizeof(what), "connection: %s", strerror(errno));
				return broken(d, what);
			}
		}
		ssize_t k = out ? send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) : recv(c->fd, p, n, MSG_DONTWAIT);
		wait = k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		if (wait || (k < 0 && errno == EINTR))
			continue; /* a poll per piece costs a fifth of a 1 MiB read's speed */
		if (k < 0) {
			snprintf(what, sizeof(what), "connection: %s", strerror(errno));
			return broken(d, what);
		}
		if (k == 0)
			return broken(d, "the server closed the connection");
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int io(struct disk *d, void *buf, size_t n, bool out) { return xio(d, buf, n, out, false); }

/* NBD_OPT_GO for export; the replies up to NBD_REP_ACK. */
static int negotiate(struct disk *d, const char *export, char *why, size_t whylen)
{
	uint8_t b[4096 + 32];
	if (io(d, b, 18, false) < 0) {
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
	if (io(d, b, 28 + len, true) < 0) {
		snprintf(why, whylen, "--disk %s: the NBD server went away in the handshake", d->path);
		return -1;
	}
	bool have_export = false;
	for (int replies = 0; replies < 64; replies++) {
		if (io(d, b, 20, false) < 0) {
			snprintf(why, whylen, "--disk %s: the NBD server went away in the handshake", d->path);
			return -1;
		}
		uint32_t type = (uint32_t)get_be(b + 12, 4), n = (uint32_t)get_be(b + 16, 4);
		if (get_be(b, 8) != NBD_REP_MAGIC || get_be(b + 8, 4) != NBD_OPT_GO || n > 4096) {
			snprintf(why, whylen, "--disk %s: bad NBD option reply", d->path);
			return -1;
		}
		if (io(d, b, n, false) < 0) {
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
		uint64_t size = get_be(b + 2, 8);
		uint16_t flags = (uint16_t)get_be(b + 10, 2);
		d->nbd->flags = flags & NBD_FLAG_HAS_FLAGS ? flags : 0;
		if (size % DISK_SECTOR)
			warnx("--disk %s: size is not a multiple of 512; the last %d bytes are not visible", d->path,
			      (int)(size % DISK_SECTOR));
		d->size = size - size % DISK_SECTOR;
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
	d->nbd->fd = fd;
	if (negotiate(d, export, why, whylen) < 0) {
		d->nbd->dead = true;
		nbd_close(d);
		return -1;
	}
	if (d->nbd->flags & NBD_FLAG_READ_ONLY && !d->snapshot)
		d->ro = true;
	return 0;
}

/* One request; data out from or in to seg[0..k). 0, or -1 with errno. */
static int request(struct disk *d, uint16_t type, uint16_t flags, uint64_t off, uint32_t len,
		   const struct iovec *seg, unsigned k)
{
	struct disk_nbd *c = d->nbd;
	if (c->dead) {
		errno = EIO;
		return -1;
	}
	uint8_t h[28];
	put_be(h, NBD_REQUEST_MAGIC, 4);
	put_be(h + 4, flags, 2);
	put_be(h + 6, type, 2);
	put_be(h + 8, ++c->cookie, 8);
	put_be(h + 16, off, 8);
	put_be(h + 24, len, 4);
	if (io(d, h, 28, true) < 0)
		return -1;
	for (unsigned i = 0; type == NBD_CMD_WRITE && i < k; i++)
		if (io(d, seg[i].iov_base, seg[i].iov_len, true) < 0)
			return -1;
	if (xio(d, h, 16, false, true) < 0) /* the server's turn */
		return -1;
	if (get_be(h, 4) != NBD_SIMPLE_REPLY_MAGIC)
		return broken(d, "bad NBD reply magic");
	if (get_be(h + 8, 8) != c->cookie)
		return broken(d, "NBD reply to a request that was not asked");
	uint32_t error = (uint32_t)get_be(h + 4, 4);
	if (error) {
		warnx("--disk %s: the NBD server failed a request at %llu+%u: error %u", d->path,
		      (unsigned long long)off, len, error);
		errno = error == 28 ? ENOSPC : error == 1 ? EPERM : error == 95 ? EOPNOTSUPP : EIO;
		return -1;
	}
	for (unsigned i = 0; type == NBD_CMD_READ && i < k; i++)
		if (io(d, seg[i].iov_base, seg[i].iov_len, false) < 0)
			return -1;
	return 0;
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
	return request(d, NBD_CMD_FLUSH, 0, 0, 0, NULL, 0);
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
	if (!d->nbd)
		return;
	if (!d->nbd->dead) { /* NBD_CMD_DISC: no reply */
		uint8_t h[28] = { 0 };
		put_be(h, NBD_REQUEST_MAGIC, 4);
		put_be(h + 6, NBD_CMD_DISC, 2);
		put_be(h + 8, ++d->nbd->cookie, 8);
		send(d->nbd->fd, h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT); /* or not: hal is leaving */
	}
	close(d->nbd->fd);
	free(d->nbd);
	d->nbd = NULL;
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
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
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
	return fd < 0 ? -1 : nbd_attach(d, fd, export, why, whylen);
}
