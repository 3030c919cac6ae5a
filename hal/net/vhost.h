/* vhost-net (docs/network.md): the host kernel moves a virtio-net NIC's
 * receive and transmit rings to and from its tap or macvtap; hal only sets
 * the rings up, hands over the guest's notifications (the queues'
 * ioeventfds) and relays the kernel's "used" signals into interrupts. */
#ifndef VHOST_H
#define VHOST_H
#include <stdbool.h>
#include <stdint.h>

#include "core/hal.h"

struct vhost_ring {
	uint16_t size, last_avail;
	void *desc, *avail, *used; /* host addresses of the guest's ring parts */
	int kick, call;            /* eventfds: the guest's notify, the kernel's signal */
};

struct vhost_net {
	int fd;                    /* /dev/vhost-net, -1: not available */
	uint64_t features;         /* what this kernel's vhost-net offers */
	bool running;
};

/* Opens /dev/vhost-net and takes ownership; -1 (fd -1, why set) when the
 * host has none or refuses: the NIC then uses hal's own path. */
int vhost_net_open(struct vhost_net *vh, char *why, size_t whylen);
/* Rings 0 (receive) and 1 (transmit) on backend fd tap with the guest's
 * negotiated features (ring and header features only); 0 or -1 with errno. */
int vhost_net_start(struct vhost_net *vh, const struct guest_mem *m, uint64_t features, struct vhost_ring r[2],
		    int tap);
/* Detach the backend; r[i].last_avail is where the kernel stopped. */
void vhost_net_stop(struct vhost_net *vh, struct vhost_ring r[2]);
void vhost_net_close(struct vhost_net *vh);
#endif
