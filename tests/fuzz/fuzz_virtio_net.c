/* virtio-net over the virtio-pci transport: receive, transmit and control
 * queues (mergeable receive buffers, offload headers, control commands)
 * over a backend that is one end of a socketpair, as
 * tests/unit/virtio/test_virtio_net.c does; the harness is the host
 * network at the other end. The first byte picks the backend: a tap
 * without or with the vnet header (SOCK_SEQPACKET), or passt's stream
 * framing (SOCK_STREAM, so the peer's bytes are length-prefixed frames or
 * garbage). Operations (fuzz_virtio.h) and: 6 serve the queues
 * (virtio_net_process), 7 the standard set-up, 8 the peer sends the next
 * n input bytes, 9 the peer reads everything the guest sent. */
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_virtio.h"

static void drain(int fd)
{
	static uint8_t buf[NET_HDR_LEN + NET_FRAME_MAX + 64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned mode = (unsigned)fz_u(&f, 1) % 3;
	int sv[2];
	if (socketpair(AF_UNIX, (mode == 2 ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	struct net_backend be = { .mode = mode == 2 ? NET_USER : NET_TAP, .fd = sv[0], .vnet_hdr = mode != 0,
				  .stream = mode == 2 };
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct virtio_net *n = virtio_net_new(&be, mac);
	if (!n)
		abort();
	struct guest_mem m;
	fz_ram(&m, FZ_RAM);
	n->vdev.mem = &m;
	n->vdev.signal_msi = fz_msi;
	n->vdev.ioeventfd = fz_ioeventfd;
	struct fz_op o;
	static uint8_t frame[4096];
	for (int k = 0; k < 256 && fz_op(&f, &o, 2); k++) {
		if (fz_virtio_op(&f, &n->vdev, &m, &o))
			continue;
		switch (o.kind % 16) {
		case 6:
			virtio_net_process(n);
			break;
		case 7:
			fz_virtio_setup(&n->vdev, o.val, (uint16_t)(1u << (o.addr % 9)));
			break;
		case 8: {
			size_t len = fz_bytes(&f, frame, o.addr % sizeof(frame));
			if (send(sv[1], frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* full: the guest has not taken the earlier ones */
			}
			break;
		}
		default:
			drain(sv[1]);
		}
	}
	virtio_net_process(n);
	virtio_net_free(n); /* closes sv[0] */
	close(sv[1]);
	fz_ram_free(&m);
	return 0;
}
