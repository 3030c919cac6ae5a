/* init: the HAL's own network (docs/init.md, "The network"). The guest
 * appears on the LAN as a machine of its own: init puts the wired NIC that
 * has a carrier into a bridge br0 and starts hal with --net bridge=br0 (hal
 * adds a tap to it). hal.net picks another way, hal.ip=dhcp gives the HAL
 * itself an address (busybox udhcpc with the hook written here).
 *
 * The choice is pure (a sysfs tree in, a plan out: unit-tested on a fake
 * tree); carrying it out is a handful of ioctls, no `ip` binary. Names are
 * inet_*: hal has net_* and the unit tests link both. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>
#include "init.h"

#define ARPHRD_ETHER_ 1      /* <net/if_arp.h>'s ARPHRD_ETHER, sysfs "type" */
#define ARPHRD_LOOPBACK_ 772

/* ---- reading sysfs --------------------------------------------------------- */

static void ifpath(char *p, size_t n, const char *sysroot, const char *ifname, const char *rel)
{
	snprintf(p, n, "%s/class/net/%s%s%s", sysroot, ifname, *rel ? "/" : "", rel);
}

static bool has(const char *sysroot, const char *ifname, const char *rel)
{
	char p[600];
	ifpath(p, sizeof(p), sysroot, ifname, rel);
	return access(p, F_OK) == 0;
}

static int attr(const char *sysroot, const char *ifname, const char *rel, char *buf, size_t n)
{
	char p[600];
	ifpath(p, sizeof(p), sysroot, ifname, rel);
	buf[0] = 0;
	return init_read_line(p, buf, n);
}

/* DEVTYPE= from the interface's uevent ("wlan", "bridge", "wwan"...). */
static void devtype(const char *sysroot, const char *ifname, char *out, size_t n)
{
	char p[600];
	ifpath(p, sizeof(p), sysroot, ifname, "uevent");
	out[0] = 0;
	char *t = init_read_file(p, NULL);
	if (!t)
		return;
	for (char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "DEVTYPE=", 8)) {
			size_t len = strcspn(l + 8, "\n");
			snprintf(out, n, "%.*s", (int)len, l + 8);
			break;
		}
	free(t);
}

static void scopy(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memcpy(dst, src, l);
	dst[l] = 0;
}

enum inet_kind inet_classify(const char *sysroot, const char *ifname)
{
	char v[64];
	if (!*ifname || strchr(ifname, '/') || !strcmp(ifname, ".") || !strcmp(ifname, "..") ||
	    !has(sysroot, ifname, ""))
		return INET_MISSING;
	long type = -1;
	if (attr(sysroot, ifname, "type", v, sizeof(v)) == 0 && v[0])
		type = strtol(v, NULL, 10);
	if (!strcmp(ifname, "lo") || type == ARPHRD_LOOPBACK_)
		return INET_LOOPBACK;
	devtype(sysroot, ifname, v, sizeof(v));
	if (has(sysroot, ifname, "wireless") || has(sysroot, ifname, "phy80211") || !strcmp(v, "wlan") ||
	    !strcmp(v, "wwan") || !strcmp(v, "bluetooth"))
		return INET_WIRELESS;
	if (has(sysroot, ifname, "bridge") || !strcmp(v, "bridge"))
		return INET_BRIDGE_DEV;
	if (type != ARPHRD_ETHER_)
		return INET_NOT_ETHER;
	if (!has(sysroot, ifname, "device")) /* tap, veth, vnet, macvtap, bond, vlan... */
		return INET_VIRTUAL;
	return INET_WIRED;
}

const char *inet_kind_name(enum inet_kind k)
{
	switch (k) {
	case INET_MISSING: return "not there";
	case INET_WIRED: return "wired";
	case INET_LOOPBACK: return "loopback";
	case INET_WIRELESS: return "wireless";
	case INET_BRIDGE_DEV: return "a bridge";
	case INET_VIRTUAL: return "virtual";
	case INET_NOT_ETHER: return "not Ethernet";
	}
	return "?";
}

static int nic_cmp(const void *a, const void *b)
{
	const struct inet_nic *x = a, *y = b;
	if (x->ifindex != y->ifindex)
		return x->ifindex < y->ifindex ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int skip_cmp(const void *a, const void *b) { return strcmp(a, b); } /* name is the first member */

int inet_scan(struct inet_scan *sc, const char *sysroot)
{
	char p[600], v[64];
	memset(sc, 0, sizeof(*sc));
	snprintf(p, sizeof(p), "%s/class/net", sysroot);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *name = e->d_name;
		if (name[0] == '.' || strlen(name) >= INET_NAMELEN)
			continue;
		enum inet_kind k = inet_classify(sysroot, name);
		if (k == INET_WIRED && sc->n < INET_MAX) {
			struct inet_nic *n = &sc->nic[sc->n++];
			scopy(n->name, sizeof(n->name), name);
			if (attr(sysroot, name, "address", v, sizeof(v)) == 0)
				scopy(n->mac, sizeof(n->mac), v);
			if (attr(sysroot, name, "ifindex", v, sizeof(v)) == 0)
				n->ifindex = atoi(v);
			n->carrier = attr(sysroot, name, "carrier", v, sizeof(v)) == 0 && !strcmp(v, "1");
			char link[300];
			ifpath(p, sizeof(p), sysroot, name, "master");
			ssize_t l = readlink(p, link, sizeof(link) - 1);
			if (l > 0) {
				link[l] = 0;
				char *b = strrchr(link, '/');
				scopy(n->master, sizeof(n->master), b ? b + 1 : link);
			}
		} else if (k != INET_WIRED && k != INET_LOOPBACK && k != INET_MISSING && sc->nskip < INET_MAX) {
			scopy(sc->skip[sc->nskip].name, sizeof(sc->skip[0].name), name);
			sc->skip[sc->nskip++].kind = k;
		}
	}
	closedir(d);
	qsort(sc->nic, (size_t)sc->n, sizeof(sc->nic[0]), nic_cmp);
	qsort(sc->skip, (size_t)sc->nskip, sizeof(sc->skip[0]), skip_cmp);
	return 0;
}

/* ---- choosing ----------------------------------------------------------------- */

static bool is_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool valid_ifname(const char *s)
{
	if (!*s || strlen(s) >= INET_NAMELEN || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == '=' || *s == ',' || isspace((unsigned char)*s))
			return false;
	return true;
}

static void addf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(char *buf, size_t n, const char *fmt, ...)
{
	size_t l = strlen(buf);
	if (l + 1 >= n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + l, n - l, fmt, ap);
	va_end(ap);
}

int inet_parse_want(const struct kcmd_config *c, struct inet_want *w, char *msg, size_t n)
{
	const char *net = kcmd_get(c, KCMD_NET, "bridge"), *ip = kcmd_get(c, KCMD_IP, "none");
	int r = 0;
	memset(w, 0, sizeof(*w));
	msg[0] = 0;
	w->wait_s = kcmd_get_long(c, KCMD_NET_WAIT, INET_WAIT_DEFAULT);
	if (!strcasecmp(ip, "dhcp")) {
		w->dhcp = true;
	} else if (strcasecmp(ip, "none")) {
		addf(msg, n, "hal.ip=%s: expected dhcp or none (the default): the HAL takes no address", ip);
		r = -1;
	}
	const char *ifn = NULL;
	if (!strcasecmp(net, "bridge")) {
		w->mode = INET_MODE_BRIDGE;
	} else if (!strcasecmp(net, "bridge-all") || !strcasecmp(net, "bridge_all")) {
		w->mode = INET_MODE_BRIDGE_ALL;
	} else if (!strcasecmp(net, "none")) {
		w->mode = INET_MODE_NONE;
	} else if (!strcasecmp(net, "macvtap")) {
		w->mode = INET_MODE_MACVTAP;
	} else if (!strncasecmp(net, "macvtap=", 8)) {
		w->mode = INET_MODE_MACVTAP;
		ifn = net + 8;
	} else {
		w->mode = INET_MODE_IFACE;
		ifn = net;
	}
	if (ifn && !is_mac(ifn) && !valid_ifname(ifn)) {
		addf(msg, n, "%shal.net=%s: expected bridge, bridge-all, macvtap, macvtap=IF, none, an interface name "
		     "(at most %d characters) or a MAC address: the guest runs without network",
		     msg[0] ? "; " : "", net, INET_NAMELEN - 1);
		w->mode = INET_MODE_NONE;
		w->invalid = true;
		r = -1;
	} else if (ifn) {
		scopy(w->ifname, sizeof(w->ifname), ifn);
	}
	return r;
}

static bool usable(const struct inet_nic *n) { return !n->master[0] || !strcmp(n->master, INET_BRIDGE); }

static bool matches(const char *want, const struct inet_nic *n)
{
	return is_mac(want) ? !strcasecmp(want, n->mac) : !strcmp(want, n->name);
}

bool inet_probe(const struct inet_want *w, const struct inet_nic *n)
{
	if (w->mode == INET_MODE_NONE && !w->dhcp)
		return false;
	if (w->ifname[0])
		return matches(w->ifname, n) && usable(n);
	return usable(n);
}

static void list_nics(char *b, size_t n, const struct inet_scan *sc)
{
	for (int i = 0; i < sc->n; i++)
		addf(b, n, "%s%s (%s%s%s%s)", i ? ", " : "", sc->nic[i].name, sc->nic[i].mac[0] ? sc->nic[i].mac : "",
		     sc->nic[i].mac[0] ? ", " : "", sc->nic[i].carrier ? "carrier" : "no carrier",
		     !usable(&sc->nic[i]) ? ", in another bridge" : "");
	if (!sc->n)
		addf(b, n, "none");
}

static void list_skipped(char *b, size_t n, const struct inet_scan *sc)
{
	for (int i = 0; i < sc->nskip; i++)
		addf(b, n, "%s%s (%s)", i ? ", " : "", sc->skip[i].name, inet_kind_name(sc->skip[i].kind));
}

static void plan_up(struct inet_plan *p, const char *name)
{
	for (int i = 0; i < p->nup; i++)
		if (!strcmp(p->up[i], name))
			return;
	if (p->nup < INET_MAX)
		scopy(p->up[p->nup++], sizeof(p->up[0]), name);
}

static void plan_port(struct inet_plan *p, const char *name)
{
	if (p->nports < INET_MAX)
		scopy(p->ports[p->nports++], sizeof(p->ports[0]), name);
	plan_up(p, name);
}

/* No --net, as a warning: why, what else was seen when seen, and tail. */
static void no_network(struct inet_plan *p, const struct inet_scan *sc, const char *why, bool seen, const char *tail)
{
	memset(p, 0, sizeof(*p));
	p->level = INIT_LOG_WARN;
	snprintf(p->msg, sizeof(p->msg), "network: %s", why);
	if (seen && sc->nskip) {
		bool wifi = false;
		addf(p->msg, sizeof(p->msg), " (seen: ");
		list_skipped(p->msg, sizeof(p->msg), sc);
		for (int i = 0; i < sc->nskip; i++)
			wifi |= sc->skip[i].kind == INET_WIRELESS;
		addf(p->msg, sizeof(p->msg), "%s)", wifi ? "; a wireless card cannot be bridged" : "");
	}
	addf(p->msg, sizeof(p->msg), ": %s", tail);
}

int inet_choose(const struct inet_want *w, const struct inet_scan *sc, const char *sysroot, bool last,
		struct inet_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->level = INIT_LOG_NOTICE;
	const struct inet_nic *pick = NULL, *first = NULL;
	int nusable = 0, ncarrier = 0;
	for (int i = 0; i < sc->n; i++) {
		const struct inet_nic *n = &sc->nic[i];
		if (!inet_probe(w, n))
			continue;
		nusable++;
		if (!first)
			first = n;
		if (n->carrier && !ncarrier++)
			pick = n;
	}
	if (w->mode == INET_MODE_NONE && !w->dhcp) {
		snprintf(p->msg, sizeof(p->msg), "network: %s: the guest has no network",
			 w->invalid ? "hal.net is not valid (above)" : "hal.net=none");
		return 0;
	}
	bool done = w->mode == INET_MODE_BRIDGE_ALL ? nusable && ncarrier == nusable : pick != NULL;
	if (!done && !last)
		return 1;
	if (w->ifname[0] && !first) { /* a named NIC that is not (or not a usable) wired one */
		char why[400] = "";
		const struct inet_nic *busy = NULL;
		for (int i = 0; i < sc->n; i++)
			if (matches(w->ifname, &sc->nic[i]))
				busy = &sc->nic[i];
		enum inet_kind k = is_mac(w->ifname) ? INET_MISSING : inet_classify(sysroot, w->ifname);
		if (busy) {
			snprintf(why, sizeof(why), "hal.net=%s: %s is a port of the bridge %s already", w->ifname, busy->name,
				 busy->master);
		} else if (k == INET_MISSING) {
			snprintf(why, sizeof(why), "hal.net=%s: no such %s; wired: ", w->ifname,
				 is_mac(w->ifname) ? "wired network card" : "network interface");
			list_nics(why, sizeof(why), sc);
			addf(why, sizeof(why), " (names are the kernel's: eth0, eth1...; hal.net takes bridge, bridge-all, "
			     "macvtap, none, an interface name or a MAC address)");
		} else {
			snprintf(why, sizeof(why), "hal.net=%s is %s, not a wired network card", w->ifname, inet_kind_name(k));
		}
		no_network(p, sc, why, false, "the guest runs without network");
		return 0;
	}
	if (!first) {
		if (w->mode == INET_MODE_NONE)
			no_network(p, sc, "hal.ip=dhcp, but there is no wired network card", true,
				   "the HAL takes no address (and the guest has no network: hal.net=none)");
		else
			no_network(p, sc, "no wired network card", true, "the guest runs without network");
		return 0;
	}
	if (!pick)
		pick = first;
	char nocarrier[200] = "";
	if (!ncarrier) {
		p->level = INIT_LOG_WARN;
		snprintf(nocarrier, sizeof(nocarrier), " (no carrier after %ld s: the guest's network works once a cable "
			 "is plugged in)", w->wait_s);
	}
	const char *given = w->ifname[0] ? w->ifname : NULL;
	switch (w->mode) {
	case INET_MODE_NONE:
		plan_up(p, pick->name);
		scopy(p->dhcp_if, sizeof(p->dhcp_if), pick->name);
		snprintf(p->msg, sizeof(p->msg), "network: hal.net=none: the guest has no network; the HAL asks for an "
			 "address on %s%s", pick->name, ncarrier ? " (carrier)" : nocarrier);
		return 0;
	case INET_MODE_MACVTAP:
		plan_up(p, pick->name);
		snprintf(p->hal_net, sizeof(p->hal_net), "macvtap=%s", pick->name);
		if (w->dhcp)
			scopy(p->dhcp_if, sizeof(p->dhcp_if), pick->name);
		snprintf(p->msg, sizeof(p->msg), "network: the guest on %s%s%s through macvtap%s", pick->name,
			 given && strcmp(given, pick->name) ? " = " : "", given && strcmp(given, pick->name) ? given : "",
			 ncarrier ? " (carrier)" : nocarrier);
		return 0;
	case INET_MODE_BRIDGE_ALL:
		p->bridge = true;
		snprintf(p->msg, sizeof(p->msg), "network: " INET_BRIDGE " over ");
		for (int i = 0, k = 0; i < sc->n; i++) {
			if (!inet_probe(w, &sc->nic[i]))
				continue;
			plan_port(p, sc->nic[i].name);
			addf(p->msg, sizeof(p->msg), "%s%s (%s)", k++ ? ", " : "", sc->nic[i].name,
			     sc->nic[i].carrier ? "carrier" : "no carrier");
		}
		if (!ncarrier)
			addf(p->msg, sizeof(p->msg), "%s", nocarrier);
		break;
	case INET_MODE_BRIDGE:
	case INET_MODE_IFACE:
		p->bridge = true;
		plan_port(p, pick->name);
		snprintf(p->msg, sizeof(p->msg), "network: " INET_BRIDGE " over %s%s%s%s", pick->name,
			 given && strcmp(given, pick->name) ? " = " : "", given && strcmp(given, pick->name) ? given : "",
			 ncarrier ? " (carrier)" : nocarrier);
		if (w->mode == INET_MODE_BRIDGE && nusable > 1) {
			addf(p->msg, sizeof(p->msg), "; also wired, not in " INET_BRIDGE ": ");
			for (int i = 0, k = 0; i < sc->n; i++)
				if (inet_probe(w, &sc->nic[i]) && &sc->nic[i] != pick)
					addf(p->msg, sizeof(p->msg), "%s%s (%s)", k++ ? ", " : "", sc->nic[i].name,
					     sc->nic[i].carrier ? "carrier" : "no carrier");
		}
		break;
	}
	snprintf(p->hal_net, sizeof(p->hal_net), "bridge=" INET_BRIDGE);
	if (w->dhcp)
		scopy(p->dhcp_if, sizeof(p->dhcp_if), INET_BRIDGE);
	return 0;
}

/* ---- doing it ------------------------------------------------------------------ */

static void no_ipv6(const char *ifname)
{
	char p[128];
	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) < 0)
		ilog_debug("writing %s: %s", p, strerror(errno));
	close(fd);
}

static void set_ifname(struct ifreq *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	size_t l = strlen(name);
	memcpy(r->ifr_name, name, l < IFNAMSIZ - 1 ? l : IFNAMSIZ - 1);
}

int inet_link(const char *ifname, bool up)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (up)
		no_ipv6(ifname);
	struct ifreq r;
	set_ifname(&r, ifname);
	int rc = ioctl(s, SIOCGIFFLAGS, &r);
	if (rc == 0) {
		short fl = (short)(up ? r.ifr_flags | IFF_UP : r.ifr_flags & ~IFF_UP);
		if (fl != r.ifr_flags) {
			r.ifr_flags = fl;
			rc = ioctl(s, SIOCSIFFLAGS, &r);
		}
	}
	int e = errno;
	close(s);
	errno = e;
	return rc < 0 ? -1 : 0;
}

bool inet_has_ipv4(const char *ifname)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return false;
	struct ifreq r;
	set_ifname(&r, ifname);
	bool has = ioctl(s, SIOCGIFADDR, &r) == 0; /* EADDRNOTAVAIL: none yet */
	close(s);
	return has;
}

int inet_apply(const struct inet_plan *p, const char *sysroot)
{
	for (int i = 0; i < p->nup; i++)
		if (inet_link(p->up[i], true) < 0)
			ilog_warn("network: cannot bring %s up: %s%s", p->up[i], strerror(errno),
				  errno == ENOENT ? " (missing firmware? see dmesg)" : "");
	if (!p->bridge)
		return 0;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		ilog_warn("network: socket: %s", strerror(errno));
		return -1;
	}
	char br[IFNAMSIZ] = INET_BRIDGE; /* the kernel copies IFNAMSIZ bytes */
	if (ioctl(s, SIOCBRADDBR, br) == 0) {
		ilog_info("network: created " INET_BRIDGE);
	} else if (errno == EEXIST && inet_classify(sysroot, INET_BRIDGE) == INET_BRIDGE_DEV) {
		ilog_notice("network: " INET_BRIDGE " exists (an earlier start): using it");
	} else {
		ilog_warn("network: cannot create the bridge " INET_BRIDGE ": %s%s", errno == EEXIST ? "an interface "
			  "of that name exists and is no bridge" : strerror(errno),
			  errno == ENOPKG || errno == EINVAL || errno == ENOPROTOOPT ? " (no bridge module?)" : "");
		close(s);
		return -1;
	}
	int nports = 0;
	const char *macfrom = NULL;
	for (int i = 0; i < p->nports; i++) {
		const char *port = p->ports[i];
		char link[300], path[600];
		ifpath(path, sizeof(path), sysroot, port, "master");
		ssize_t l = readlink(path, link, sizeof(link) - 1);
		link[l > 0 ? l : 0] = 0;
		const char *b = strrchr(link, '/');
		if (l > 0 && !strcmp(b ? b + 1 : link, INET_BRIDGE)) {
			ilog_info("network: %s is in " INET_BRIDGE " already", port);
		} else {
			struct ifreq r;
			set_ifname(&r, INET_BRIDGE);
			r.ifr_ifindex = (int)if_nametoindex(port);
			if (!r.ifr_ifindex || ioctl(s, SIOCBRADDIF, &r) < 0) {
				ilog_warn("network: cannot add %s to " INET_BRIDGE ": %s", port, strerror(errno));
				continue;
			}
			ilog_info("network: %s added to " INET_BRIDGE, port);
		}
		nports++;
		if (!macfrom)
			macfrom = port;
	}
	if (!nports) {
		ilog_warn("network: " INET_BRIDGE " has no port");
		close(s);
		return -1;
	}
	/* br0's MAC: its first port's, set explicitly so that it stays when
	 * hal's tap (a random MAC, maybe lower) joins. */
	struct ifreq r;
	set_ifname(&r, macfrom);
	if (ioctl(s, SIOCGIFHWADDR, &r) == 0) {
		struct sockaddr hw = r.ifr_hwaddr;
		set_ifname(&r, INET_BRIDGE);
		r.ifr_hwaddr = hw;
		if (ioctl(s, SIOCSIFHWADDR, &r) < 0)
			ilog_warn("network: cannot give " INET_BRIDGE " the MAC of %s: %s", macfrom, strerror(errno));
	} else {
		ilog_warn("network: cannot read the MAC of %s: %s", macfrom, strerror(errno));
	}
	close(s);
	if (inet_link(INET_BRIDGE, true) < 0) {
		ilog_warn("network: cannot bring " INET_BRIDGE " up: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* udhcpc (busybox) runs this on every DHCP event, with $interface, $ip,
 * $mask (prefix length), $broadcast, $router, $dns, $domain, $serverid in
 * the environment. udhcpc's own messages go to /dev/null (they would land
 * in the guest's console: hal.serial=console); this logs the few that
 * matter to the kernel log. */
const char inet_dhcp_script[] =
	"#!/bin/sh\n"
	"# udhcpc's hook for hal.ip=dhcp, written by init (init/net.c, docs/init.md)\n"
	"bb() { /bin/busybox \"$@\"; }\n"
	"log() { echo \"<${2:-5}>init: network: $1\" >/dev/kmsg; }\n"
	"case \"$1\" in\n"
	"deconfig)\n"
	"\tbb ip -4 addr flush dev \"$interface\"\n"
	"\tbb ip link set dev \"$interface\" up\n"
	"\t;;\n"
	"bound|renew)\n"
	"\t# resolv.conf first: init starts hal (nbd://NAME/...) once the address is there\n"
	"\t{\n"
	"\t\t[ -n \"$domain\" ] && echo \"search $domain\"\n"
	"\t\tfor d in $dns; do echo \"nameserver $d\"; done\n"
	"\t} >/etc/resolv.conf\n"
	"\tnew=\"$ip/${mask:-24}\"\n"
	"\tcase \"$(bb ip -4 -o addr show dev \"$interface\")\" in\n"
	"\t*\" $new \"*) ;;\n"
	"\t*)\n"
	"\t\tbb ip -4 addr flush dev \"$interface\"\n"
	"\t\tbb ip -4 addr add \"$new\" ${broadcast:+broadcast \"$broadcast\"} dev \"$interface\"\n"
	"\t\tlog \"$interface has $new (DHCP${serverid:+ from $serverid}${router:+, router $router})\"\n"
	"\t\t;;\n"
	"\tesac\n"
	"\tfor r in $router; do\n"
	"\t\tbb ip -4 route replace default via \"$r\" dev \"$interface\" && break\n"
	"\tdone\n"
	"\tbb rm -f /run/udhcpc.failed\n"
	"\t;;\n"
	"leasefail|nak)\n"
	"\tif [ ! -e /run/udhcpc.failed ]; then\n"
	"\t\t: >/run/udhcpc.failed\n"
	"\t\tlog \"no DHCP lease on $interface yet (udhcpc keeps asking)\" 4\n"
	"\tfi\n"
	"\t;;\n"
	"esac\n"
	"exit 0\n";

int inet_write_dhcp_script(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0)
		return -1;
	size_t n = strlen(inet_dhcp_script);
	ssize_t w = write(fd, inet_dhcp_script, n);
	int e = errno;
	if (close(fd) < 0 || w != (ssize_t)n) {
		errno = w < 0 ? e : EIO;
		return -1;
	}
	return 0;
}
