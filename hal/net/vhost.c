/* vhost-net set-up (Linux drivers/vhost/net.c, include/uapi/linux/vhost.h):
 * owner, features, the guest memory table, then per ring its size, base,
 * addresses, kick and call eventfds, and last the backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>

#include "net/vhost.h"

int vhost_net_open(struct vhost_net *vh, char *why, size_t whylen)
{
	vh->running = false;
	vh->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (vh->fd < 0) {
		snprintf(why, whylen, "/dev/vhost-net: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vh->fd, VHOST_SET_OWNER, NULL) < 0 || ioctl(vh->fd, VHOST_GET_FEATURES, &vh->features) < 0) {
		snprintf(why, whylen, "/dev/vhost-net: %s", strerror(errno));
		vhost_net_close(vh);
		return -1;
	}
	return 0;
}

static int set_mem(struct vhost_net *vh, const struct guest_mem *m)
{
	struct vhost_memory *t = calloc(1, sizeof(*t) + MAX_REGIONS * sizeof(t->regions[0]));
	if (!t)
		return -1;
	for (int i = 0; i < m->nregions; i++)
		t->regions[t->nregions++] = (struct vhost_memory_region){
			.guest_phys_addr = m->regions[i].gpa,
			.memory_size = m->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m->regions[i].hva,
		};
	int r = ioctl(vh->fd, VHOST_SET_MEM_TABLE, t);
	free(t);
	return r;
}

static int set_ring(struct vhost_net *vh, unsigned i, const struct vhost_ring *r)
{
	struct vhost_vring_state num = { i, r->size }, base = { i, r->last_avail };
	struct vhost_vring_addr a = {
		.index = i,
		.desc_user_addr = (uint64_t)(uintptr_t)r->desc,
		.avail_user_addr = (uint64_t)(uintptr_t)r->avail,
		.used_user_addr = (uint64_t)(uintptr_t)r->used,
	};
	struct vhost_vring_file kick = { i, r->kick }, call = { i, r->call };
	if (ioctl(vh->fd, VHOST_SET_VRING_NUM, &num) < 0 || ioctl(vh->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_ADDR, &a) < 0 || ioctl(vh->fd, VHOST_SET_VRING_KICK, &kick) < 0 ||
	    ioctl(vh->fd, VHOST_SET_VRING_CALL, &call) < 0)
		return -1;
	return 0;
}

int vhost_net_start(struct vhost_net *vh, const struct guest_mem *m, uint64_t features, struct vhost_ring r[2],
		    int tap)
{
	uint64_t f = features & vh->features;
	if (vh->fd < 0 || vh->running) {
		errno = EINVAL;
		return -1;
	}
	if (ioctl(vh->fd, VHOST_SET_FEATURES, &f) < 0 || set_mem(vh, m) < 0)
		return -1;
	for (unsigned i = 0; i < 2; i++)
		if (set_ring(vh, i, &r[i]) < 0)
			return -1;
	for (unsigned i = 0; i < 2; i++) {
		struct vhost_vring_file b = { i, tap };
		if (ioctl(vh->fd, VHOST_NET_SET_BACKEND, &b) < 0) {
			int e = errno;
			vh->running = true;
			vhost_net_stop(vh, r);
			errno = e;
			return -1;
		}
	}
	vh->running = true;
	return 0;
}

void vhost_net_stop(struct vhost_net *vh, struct vhost_ring r[2])
{
	if (!vh->running)
		return;
	for (unsigned i = 0; i < 2; i++) {
		struct vhost_vring_file b = { i, -1 };
		struct vhost_vring_state s = { i, 0 };
		ioctl(vh->fd, VHOST_NET_SET_BACKEND, &b);
		if (ioctl(vh->fd, VHOST_GET_VRING_BASE, &s) == 0)
			r[i].last_avail = (uint16_t)s.num;
	}
	vh->running = false;
}

void vhost_net_close(struct vhost_net *vh)
{
	if (vh->fd >= 0)
		close(vh->fd);
	vh->fd = -1;
	vh->running = false;
}
