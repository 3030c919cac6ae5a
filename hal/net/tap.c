/* tap=IF, bridge=BR and macvtap=IF: a tap (or macvtap) file descriptor,
 * one frame per read or write, the 12-byte vnet header first.
 *
 * The taps hal creates are not persistent: the kernel removes a tap when
 * its last file descriptor closes, so they go with hal even after SIGKILL.
 * A macvtap link outlives its opener; its name carries hal's pid
 * (halmvPID.N), so a later hal removes the links of dead ones. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>

#include "net/backend.h"

#define FAIL(...) do { snprintf(why, whylen, __VA_ARGS__); goto fail; } while (0)

static bool sys_net(const char *ifname, const char *file)
{
	char p[96];
	snprintf(p, sizeof(p), "/sys/class/net/%s%s%s", ifname, file ? "/" : "", file ? file : "");
	return access(p, F_OK) == 0;
}

static const char *root_hint(int e)
{
	return e == EPERM || e == EACCES ? " (needs root or CAP_NET_ADMIN)" : "";
}

/* /dev/net/tun's own failures, which name the missing piece. */
static void tun_open_error(int e, const char *what, char *why, size_t whylen)
{
	if (e == ENOENT)
		snprintf(why, whylen, "%s: /dev/net/tun is missing: the tun module (modprobe tun) or its node "
		         "(mknod /dev/net/tun c 10 200)", what);
	else if (e == ENODEV || e == ENXIO)
		snprintf(why, whylen, "%s: /dev/net/tun: the tun module is not loaded (modprobe tun)", what);
	else
		snprintf(why, whylen, "%s: /dev/net/tun: %s%s", what, strerror(e), root_hint(e));
}

/* A tap on /dev/net/tun named `name` (a "%d" in it lets the kernel pick
 * a free number); its real name in out. -1 with errno, nothing open. */
static int tun_attach(const char *name, char out[IFNAMSIZ], bool *persistent, bool *open_failed)
{
	*open_failed = false;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*open_failed = true;
		return -1;
	}
	struct ifreq ifr = { 0 };
	/* IFF_ONE_QUEUE is not set: the kernel has ignored it since Linux 3.8 */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	int hdr = NET_HDR_LEN;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		goto fail;
	struct ifreq got = { 0 };
	if (ioctl(fd, TUNGETIFF, &got) < 0)
		goto fail;
	*persistent = got.ifr_flags & IFF_PERSIST;
	memcpy(out, ifr.ifr_name, IFNAMSIZ);
	out[IFNAMSIZ - 1] = 0;
	return fd;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* SIOC* interface ioctls need a socket, any family. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	int r = ioctl(s, req, ifr);
	int e = errno;
	close(s);
	errno = e;
	return r;
}

static int if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (if_ioctl(SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

/* The bridge's MTU on the tap (a port with a smaller one would lower the
 * bridge's), a MAC above any real NIC's (the bridge takes its lowest port
 * MAC as its own), the port added (SIOCBRADDIF: brctl's ioctl, one call
 * where rtnetlink would need IFLA_MASTER in a message), then up. */
static int bridge_port(const char *br, const char *tap, const uint8_t mac[6], const char *what,
                       char *why, size_t whylen)
{
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", br);
	if (if_ioctl(SIOCGIFMTU, &ifr) < 0)
		FAIL("%s: the MTU of %s: %s", what, br, strerror(errno));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap);
	if (if_ioctl(SIOCSIFMTU, &ifr) < 0)
		FAIL("%s: MTU %d on %s: %s", what, ifr.ifr_mtu, tap, strerror(errno));
	if (memcmp(mac, "\0\0\0\0\0\0", 6)) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap);
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
		ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
		if (if_ioctl(SIOCSIFHWADDR, &ifr) < 0)
			FAIL("%s: the MAC of %s: %s", what, tap, strerror(errno));
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", br);
	ifr.ifr_ifindex = (int)if_nametoindex(tap);
	if (!ifr.ifr_ifindex || if_ioctl(SIOCBRADDIF, &ifr) < 0)
		FAIL("%s: adding %s to bridge %s: %s%s", what, tap, br, strerror(errno), root_hint(errno));
	if (if_up(tap) < 0)
		FAIL("%s: bringing %s up: %s", what, tap, strerror(errno));
	return 0;
fail:
	return -1;
}

int tap_open(const struct net_spec *s, struct net_backend *b, const char *what, char *why, size_t whylen)
{
	bool bridge = s->mode == NET_BRIDGE, persistent = false, open_failed;
	bool existed = !bridge && sys_net(s->ifname, NULL);
	if (bridge && !sys_net(s->ifname, NULL))
		FAIL("%s: bridge %s does not exist (ip link add %s type bridge)", what, s->ifname, s->ifname);
	if (bridge && !sys_net(s->ifname, "bridge"))
		FAIL("%s: %s is not a bridge", what, s->ifname);
	if (!bridge && existed && !sys_net(s->ifname, "tun_flags"))
		FAIL("%s: %s exists and is not a tap", what, s->ifname);

	b->fd = tun_attach(bridge ? "haltap%d" : s->ifname, b->ifname, &persistent, &open_failed);
	if (b->fd < 0) {
		int e = errno;
		if (open_failed)
			tun_open_error(e, what, why, whylen);
		else if (e == EBUSY)
			snprintf(why, whylen, "%s: tap %s is in use by another process", what, s->ifname);
		else if (existed && e == EINVAL)
			snprintf(why, whylen, "%s: %s is a tun device, not a tap", what, s->ifname);
		else if (existed && (e == EPERM || e == EACCES))
			snprintf(why, whylen, "%s: tap %s belongs to another user (needs root, CAP_NET_ADMIN, "
			         "or ip tuntap add %s mode tap user $USER)", what, s->ifname, s->ifname);
		else
			snprintf(why, whylen, "%s: creating a tap: %s%s", what, strerror(e), root_hint(e));
		return -1;
	}
	b->vnet_hdr = true;
	b->created = !persistent;
	if (bridge && bridge_port(s->ifname, b->ifname, s->mac, what, why, whylen) < 0)
		goto fail;
	/* a tap hal made has nobody else to bring it up; a user's stays as set */
	if (!bridge && b->created && if_up(b->ifname) < 0)
		FAIL("%s: bringing %s up: %s", what, b->ifname, strerror(errno));
	return 0;
fail:
	tap_close(b);
	return -1;
}

/* ---- rtnetlink, for the macvtap link ---------------------------------------- */

struct nlmsg {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[256]; /* what macvtap_link puts, with room to spare */
};

static struct rtattr *nl_attr(struct nlmsg *m, unsigned short type, const void *data, size_t len)
{
	struct nlmsghdr *h = &m->h;
	struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void nl_nest_end(struct nlmsg *m, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)m + m->h.nlmsg_len - (char *)nest);
}

/* Send one request, wait for its acknowledgement: 0 or -errno. */
static int nl_talk(struct nlmsghdr *h)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = 1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int r = -EPROTO;
	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	union { struct nlmsghdr h; char b[4096]; } rep;
	ssize_t n = recv(fd, &rep, sizeof(rep), 0);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	for (struct nlmsghdr *m = &rep.h; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n))
		if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
			r = ((struct nlmsgerr *)NLMSG_DATA(m))->error;
			break;
		}
out:
	close(fd);
	return r;
}

static int nl_dellink(int ifindex)
{
	struct nlmsg m = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_DELLINK },
	                   .i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex } };
	return nl_talk(&m.h);
}

/* ip link add link PARENT name NAME address MAC up type macvtap mode bridge */
static int macvtap_link(const char *name, int parent, const uint8_t mac[6])
{
	struct nlmsg m = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK,
	                          .nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL },
	                   .i = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP } };
	uint32_t link = (uint32_t)parent, mode = MACVLAN_MODE_BRIDGE;
	nl_attr(&m, IFLA_IFNAME, name, strlen(name) + 1);
	nl_attr(&m, IFLA_LINK, &link, sizeof(link));
	nl_attr(&m, IFLA_ADDRESS, mac, 6);
	struct rtattr *info = nl_attr(&m, IFLA_LINKINFO, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND, "macvtap", 8);
	struct rtattr *data = nl_attr(&m, IFLA_INFO_DATA, NULL, 0);
	nl_attr(&m, IFLA_MACVLAN_MODE, &mode, sizeof(mode));
	nl_nest_end(&m, data);
	nl_nest_end(&m, info);
	return nl_talk(&m.h);
}

/* The links of hal processes that are gone, and the one this process is
 * about to create (a dead hal's that had our pid). */
static void macvtap_sweep(const char *mine)
{
	DIR *d = opendir("/sys/class/net");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid, idx, end = 0;
		if (sscanf(e->d_name, "halmv%d.%d%n", &pid, &idx, &end) != 2 || e->d_name[end])
			continue;
		if (strcmp(e->d_name, mine) && (pid <= 0 || kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		int ifindex = (int)if_nametoindex(e->d_name);
		if (ifindex)
			nl_dellink(ifindex);
	}
	closedir(d);
}

/* /sys/class/net/NAME/macvtap/tapN/dev: "major:minor" of /dev/tapN */
static int macvtap_devnum(const char *name, int ifindex, dev_t *dev)
{
	char p[128];
	snprintf(p, sizeof(p), "/sys/class/net/%s/macvtap/tap%d/dev", name, ifindex);
	FILE *f = fopen(p, "re");
	unsigned maj, min;
	int n = f ? fscanf(f, "%u:%u", &maj, &min) : 0;
	if (f)
		fclose(f);
	if (n != 2)
		return -1;
	*dev = makedev(maj, min);
	return 0;
}

int macvtap_open(const struct net_spec *s, int index, struct net_backend *b, const char *what,
                 char *why, size_t whylen)
{
	int parent = (int)if_nametoindex(s->ifname);
	if (!parent)
		FAIL("%s: interface %s does not exist", what, s->ifname);
	snprintf(b->ifname, sizeof(b->ifname), "halmv%d.%d", (int)getpid(), index);
	macvtap_sweep(b->ifname);
	int r = macvtap_link(b->ifname, parent, s->mac);
	if (r == -EOPNOTSUPP)
		FAIL("%s: the kernel has no macvtap (modprobe macvtap)", what);
	if (r < 0)
		FAIL("%s: creating macvtap %s on %s: %s%s", what, b->ifname, s->ifname, strerror(-r), root_hint(-r));
	b->created = true;
	b->ifindex = (int)if_nametoindex(b->ifname);
	dev_t dev;
	if (!b->ifindex || macvtap_devnum(b->ifname, b->ifindex, &dev) < 0)
		FAIL("%s: macvtap %s has no tap device in /sys/class/net/%s/macvtap", what, b->ifname, b->ifname);

	/* /dev/tapN comes from devtmpfs; a /dev without it gets the node here */
	char node[32];
	snprintf(node, sizeof(node), "/dev/tap%d", b->ifindex);
	struct stat st;
	if (stat(node, &st) < 0) {
		if (mknod(node, S_IFCHR | 0600, dev) < 0)
			FAIL("%s: %s is missing and mknod failed: %s", what, node, strerror(errno));
		b->made_node = true;
	} else if (!S_ISCHR(st.st_mode) || st.st_rdev != dev) {
		FAIL("%s: %s is not macvtap %s's device (%u:%u)", what, node, b->ifname, major(dev), minor(dev));
	}
	b->fd = open(node, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (b->fd < 0)
		FAIL("%s: %s: %s%s", what, node, strerror(errno), root_hint(errno));
	int hdr = NET_HDR_LEN;
	if (ioctl(b->fd, TUNSETVNETHDRSZ, &hdr) < 0)
		FAIL("%s: vnet header size on %s: %s", what, node, strerror(errno));
	b->vnet_hdr = true;
	return 0;
fail:
	tap_close(b);
	return -1;
}

int tap_set_offload(struct net_backend *b, unsigned flags)
{
	if (ioctl(b->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) {
		/* kernels without UFO for taps refuse the bit; the rest still helps */
		if (errno != EINVAL || !(flags & TUN_F_UFO))
			return -1;
		flags &= ~(unsigned)TUN_F_UFO;
		if (ioctl(b->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
			return -1;
	}
	b->offload = flags != 0;
	return 0;
}

ssize_t tap_send(struct net_backend *b, const struct iovec *iov, int n)
{
	ssize_t r;
	do
		r = writev(b->fd, iov, n);
	while (r < 0 && errno == EINTR);
	return r;
}

ssize_t tap_recv(struct net_backend *b, const struct iovec *iov, int n)
{
	/* One byte past iov tells a frame that fits from one that does not:
	 * a tap truncates a long frame to the buffer (older kernels return its
	 * whole length), a macvtap may fail with EFAULT; each consumes it. */
	struct iovec v[NET_MAX_IOV + 1];
	uint8_t spare;
	if (n > NET_MAX_IOV) {
		errno = EINVAL;
		return -1;
	}
	memcpy(v, iov, (size_t)n * sizeof(*iov));
	v[n] = (struct iovec){ &spare, 1 };
	size_t room = iov_bytes(iov, n);
	for (;;) {
		ssize_t r = readv(b->fd, v, n + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if ((r < 0 && errno == EFAULT) || (r > 0 && (size_t)r > room)) {
			b->dropped++;
			continue;
		}
		return r;
	}
}

void tap_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	if (b->mode == NET_MACVTAP && b->created && b->ifindex)
		nl_dellink(b->ifindex);
	if (b->made_node) {
		char node[32];
		snprintf(node, sizeof(node), "/dev/tap%d", b->ifindex);
		unlink(node);
	}
	b->created = b->made_node = false;
	b->ifindex = 0;
}
