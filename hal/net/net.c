/* net.h's entry points: one backend per guest NIC, dispatched by mode. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_tun.h>

#include "net/backend.h"

size_t iov_bytes(const struct iovec *iov, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

int net_open(const struct net_spec *s, int index, struct net_backend *b, char *why, size_t whylen)
{
	static const char *const names[] = { [NET_BRIDGE] = "bridge", [NET_TAP] = "tap", [NET_MACVTAP] = "macvtap" };
	memset(b, 0, sizeof(*b));
	b->mode = s->mode;
	b->fd = -1;
	char what[40];
	switch (s->mode) {
	case NET_NONE:
		return 0;
	case NET_USER:
		return passt_open(s, b, why, whylen);
	case NET_BRIDGE:
	case NET_TAP:
	case NET_MACVTAP:
		snprintf(what, sizeof(what), "--net %s=%s", names[s->mode], s->ifname);
		if (s->mode == NET_MACVTAP)
			return macvtap_open(s, index, b, what, why, whylen);
		return tap_open(s, b, what, why, whylen);
	}
	snprintf(why, whylen, "--net: no such mode %d", (int)s->mode);
	return -1;
}

int net_set_offload(struct net_backend *b, bool csum, bool tso4, bool tso6, bool ecn, bool ufo)
{
	unsigned f = (csum ? TUN_F_CSUM : 0) | (tso4 ? TUN_F_TSO4 : 0) | (tso6 ? TUN_F_TSO6 : 0) |
	             (ecn ? TUN_F_TSO_ECN : 0) | (ufo ? TUN_F_UFO : 0);
	if (b->fd >= 0 && b->vnet_hdr)
		return tap_set_offload(b, f);
	b->offload = false;
	if (f) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 0;
}

ssize_t net_send(struct net_backend *b, const struct iovec *iov, int n)
{
	if (b->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return b->stream ? stream_send(b, iov, n) : tap_send(b, iov, n);
}

ssize_t net_recv(struct net_backend *b, const struct iovec *iov, int n)
{
	if (b->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return b->stream ? stream_recv(b, iov, n) : tap_recv(b, iov, n);
}

void net_close(struct net_backend *b)
{
	if (b->stream)
		passt_close(b);
	else if (b->mode != NET_NONE)
		tap_close(b);
	free(b->rxbuf);
	b->rxbuf = NULL;
	b->rxoff = b->rxlen = b->rxskip = 0;
	b->fd = -1;
}
