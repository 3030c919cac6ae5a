/* Host network backends (docs/network.md): where the guest NIC's frames go.
 * `--net MODE[,options]`, repeatable:
 *   bridge=BR    a new tap (haltapN) attached to bridge BR, gone at exit
 *   tap=IF       tap IF: an existing persistent one is used and left as it
 *                was; one that does not exist is created and gone at exit
 *   macvtap=IF   a new macvtap on IF (bridge mode), removed at exit
 *   user[,hostfwd=tcp::HOSTPORT-:GUESTPORT]...  Debian's passt, no root
 *   none         no NIC
 * with ,mac=52:54:00:xx:xx:xx and ,model=virtio (the default) or e1000.
 * A backend moves whole Ethernet frames; with vnet_hdr each frame starts
 * with a 12-byte struct virtio_net_hdr_v1 (checksum and segmentation
 * offloads passed through to the host kernel). user (passt) has no vnet
 * header and takes no offloads. */
#ifndef NET_H
#define NET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_MAX_NICS 4
#define NET_HDR_LEN 12 /* struct virtio_net_hdr_v1 (virtio 1.x 5.1.6) */
#define NET_FRAME_MAX 65536 /* largest frame net_send/net_recv move (without vnet header) */
#define NET_MAX_IOV 1024    /* iovec entries per net_send/net_recv call */

enum net_mode { NET_NONE, NET_BRIDGE, NET_TAP, NET_MACVTAP, NET_USER };

#define NET_MAX_FWD 8
struct net_spec {
	enum net_mode mode;
	char ifname[16];          /* bridge, tap or macvtap parent (IFNAMSIZ) */
	uint8_t mac[6];
	bool mac_set;             /* ,mac= given; else derived (net_default_mac) */
	char model[8];            /* "virtio" or "e1000" */
	int nfwd;                 /* user: ,hostfwd= */
	struct { uint16_t host, guest; } fwd[NET_MAX_FWD];
};

/* Parse one --net argument; 0, or -1 with why a whole message naming the
 * bad part ("--net tap=: ..."). The spec is zeroed first; model defaults
 * to "virtio". */
int net_parse(const char *arg, struct net_spec *s, char *why, size_t whylen);
/* A stable MAC for NIC `index` of a guest: 52:54:00 + 3 bytes hashed from
 * `seed` (the first disk's path or label id; NULL as ""), so a DHCP server
 * hands the same lease after a reboot. */
void net_default_mac(const char *seed, int index, uint8_t mac[6]);

#define NET_STREAM_BUF (NET_FRAME_MAX + 4)

struct net_backend {
	enum net_mode mode;
	int fd;                   /* poll it for POLLIN (frames) / POLLOUT */
	bool vnet_hdr;            /* frames carry NET_HDR_LEN bytes of header */
	bool offload;             /* the host takes csum/TSO frames (TUNSETOFFLOAD done) */
	char ifname[16];          /* the tap/macvtap hal created or opened */
	bool created;             /* hal created ifname: it is gone after net_close */
	pid_t helper;             /* passt, or 0 */
	uint64_t dropped;         /* frames received that did not fit (net_recv) */
	/* macvtap: the link's index (/dev/tapN), and whether hal made the node */
	int ifindex;
	bool made_node;
	/* stream framing (passt): 4-byte big-endian length before each frame;
	 * rxbuf[rxoff, rxoff + rxlen) is received and not yet returned; rxbuf
	 * (NET_STREAM_BUF bytes) is allocated by the first receive and freed by
	 * net_close, so a tap's backend (and every copy of it) stays small */
	bool stream;
	uint8_t *rxbuf;
	size_t rxoff, rxlen;
	size_t rxskip;            /* bytes left of a frame too long for rxbuf */
};

/* Opens the backend (creating the tap/macvtap and attaching it, starting
 * passt); 0, or -1 with why saying what is missing (a bridge that does not
 * exist, no permission for /dev/net/tun, passt not installed: the package
 * to install) and nothing left behind. s->mac must be the guest's MAC
 * (given, or from net_default_mac): a macvtap link takes it as its address
 * and a bridge's tap is given fe:xx:xx:xx:xx:xx from it (above any host
 * NIC's, so the bridge keeps its own MAC). index: the NIC's number, for
 * names. NET_NONE opens nothing (fd -1). */
int net_open(const struct net_spec *s, int index, struct net_backend *b, char *why, size_t whylen);
/* Offer the guest's offloads (virtio-net feature bits negotiated): tap
 * TUNSETOFFLOAD. 0 or -1 (user: -1 unless all are false). */
int net_set_offload(struct net_backend *b, bool csum, bool tso4, bool tso6, bool ecn, bool ufo);
/* One frame out (iov: vnet header first when vnet_hdr); its length, or -1
 * with errno EAGAIN when the host cannot take it now (nothing was sent:
 * poll fd for POLLOUT and send it again), another errno when the frame is
 * refused or the backend is dead (EPIPE: passt exited). */
ssize_t net_send(struct net_backend *b, const struct iovec *iov, int n);
/* One frame in, into iov; its length, 0 when none waits (EAGAIN), -1 on a
 * dead backend. A frame longer than iov is dropped (and counted in
 * `dropped`) and the next one returned. net_send and net_recv may run on
 * two threads; each on one at a time. */
ssize_t net_recv(struct net_backend *b, const struct iovec *iov, int n);
/* Removes what net_open created, stops passt. Safe on a closed backend. */
void net_close(struct net_backend *b);

/* The stream framing over a connected socket (passt's; the unit tests use
 * a socketpair): b set up as a NET_USER backend on fd, made nonblocking. */
void net_stream_init(struct net_backend *b, int fd);
#endif
