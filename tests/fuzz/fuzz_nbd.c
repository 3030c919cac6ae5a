/* hal's NBD client (hal/disk/nbd.c): the input is everything the server
 * sends, from its greeting on, into a socketpair whose server end then
 * stops sending; the client negotiates and, if the export was accepted,
 * reads, writes, flushes, trims and zeroes as a guest would, then puts
 * three reads in flight together (disk_queue) and reaps them, whose
 * replies may come in any order, and then two writes. Whatever comes, the
 * client must end each request with success or an error, reap only
 * requests it was given, and must not touch memory outside its buffers. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "disk/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	for (size_t done = 0; done < size;) { /* what fits */
		ssize_t k = send(sv[1], data + done, size - done, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	shutdown(sv[1], SHUT_WR);
	struct disk d = { .fd = -1, .sector_size = DISK_SECTOR, .timeout = 1 };
	memcpy(d.path, "nbd://fuzz/", 12);
	char why[256];
	if (nbd_attach(&d, sv[0], "fuzz", why, sizeof(why)) == 0) {
		static uint8_t buf[8192];
		struct iovec v[2] = { { buf, 1000 }, { buf + 1000, 3096 } };
		disk_readv(&d, v, 2, 0);
		struct iovec w = { buf, 512 };
		disk_writev(&d, &w, 1, 512);
		disk_flush(&d);
		disk_discard(&d, 0, 4096);
		disk_write_zeroes(&d, 4096, 4096, false);
		disk_readv(&d, v, 2, 4096);
		for (int wr = 0; wr < 2; wr++) {
			unsigned queued = 0, tag, seen = 0, n = wr ? 2 : 3;
			for (unsigned i = 0; i < n; i++) {
				struct iovec q = { buf + 4096 + 1024 * i, 1024 };
				queued += disk_queue(&d, wr, &q, 1, 1024 * i, i) == 0;
			}
			for (; queued; queued--) {
				disk_reap(&d, &tag);
				if (tag >= n || seen & (1u << tag))
					abort(); /* a request it was not given, or one twice */
				seen |= 1u << tag;
			}
		}
		disk_close(&d);
	}
	close(sv[1]);
	return 0;
}
