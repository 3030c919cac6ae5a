/* init: the HAL's own network (init/net.c): which NICs are wired, which
 * have a carrier, and what each hal.net value makes of them, on a fake
 * sysfs tree. The ioctls that carry a plan out are not run here. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "init.h"

static void put(const char *root, const char *rel, const char *s)
{
	char p[600], d[600];
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *c = strchr(p + strlen(root) + 1, '/'); c; c = strchr(c + 1, '/')) {
		snprintf(d, sizeof(d), "%.*s", (int)(c - p), p);
		mkdir(d, 0755);
	}
	if (!s) { /* a directory */
		mkdir(p, 0755);
		return;
	}
	FILE *f = fopen(p, "w");
	if (!f) {
		perror(p);
		abort();
	}
	fputs(s, f);
	fclose(f);
}

static void link_to(const char *root, const char *rel, const char *target)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) < 0)
		perror(p);
}

/* One interface as sysfs shows it: class/net/NAME -> ../../devices/.../NAME,
 * the device link for real hardware. carrier NULL: the file is missing (or
 * unreadable: a link that is down). */
static void iface(const char *sys, const char *name, int ifindex, int type, bool device, const char *carrier,
		  const char *mac)
{
	char rel[300], v[32];
	snprintf(rel, sizeof(rel), "devices/%s/net/%s", device ? "pci0000:00/0000:00:1f.6" : "virtual", name);
	put(sys, rel, NULL);
	char f[400];
#define ATTR(file, val) do { snprintf(f, sizeof(f), "%s/%s", rel, file); put(sys, f, val); } while (0)
	snprintf(v, sizeof(v), "%d\n", ifindex);
	ATTR("ifindex", v);
	snprintf(v, sizeof(v), "%d\n", type);
	ATTR("type", v);
	if (carrier)
		ATTR("carrier", carrier);
	if (mac)
		ATTR("address", mac);
	snprintf(v, sizeof(v), "INTERFACE=%s\n", name);
	ATTR("uevent", v);
	if (device) {
		snprintf(f, sizeof(f), "%s/device", rel);
		link_to(sys, f, "../../../0000:00:1f.6");
	}
	put(sys, "class/net", NULL);
	char target[400];
	snprintf(f, sizeof(f), "class/net/%s", name);
	snprintf(target, sizeof(target), "../../%s", rel);
	link_to(sys, f, target);
#undef ATTR
}

static void rmtree(const char *root)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		printf("could not remove %s\n", root);
}

/* lo; eth0 (wired, no carrier yet); eth1 (wired, carrier); wlan0 (wifi
 * with phy80211, carrier); wlp2s0 (wifi: wireless dir, DEVTYPE=wlan);
 * docker0 (a bridge); tap0 and vnet3 (virtual: no device link). */
static void make_tree(const char *sys)
{
	iface(sys, "lo", 1, 772, false, "1\n", "00:00:00:00:00:00\n");
	iface(sys, "eth1", 3, 1, true, "1\n", "00:1b:21:aa:bb:02\n");
	iface(sys, "eth0", 2, 1, true, "0\n", "00:1b:21:aa:bb:01\n");
	iface(sys, "wlan0", 4, 1, true, "1\n", "a4:c3:f0:00:00:01\n");
	put(sys, "devices/pci0000:00/0000:00:1f.6/net/wlan0/phy80211", NULL);
	iface(sys, "wlp2s0", 5, 1, true, "1\n", "a4:c3:f0:00:00:02\n");
	put(sys, "devices/pci0000:00/0000:00:1f.6/net/wlp2s0/wireless", NULL);
	put(sys, "devices/pci0000:00/0000:00:1f.6/net/wlp2s0/uevent", "DEVTYPE=wlan\nINTERFACE=wlp2s0\n");
	iface(sys, "docker0", 6, 1, false, "1\n", "02:42:00:00:00:01\n");
	put(sys, "devices/virtual/net/docker0/bridge", NULL);
	iface(sys, "tap0", 7, 1, false, "1\n", "fe:00:00:00:00:07\n");
	iface(sys, "vnet3", 8, 1, false, "1\n", "fe:00:00:00:00:08\n");
}

static void setup(char *root, char *sys, size_t n)
{
	strcpy(root, "/tmp/init-net-XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(sys, n, "%s/sys", root);
	make_tree(sys);
}

static int plan_for(const char *sys, const char *cmdline, bool last, struct inet_plan *p)
{
	struct kcmd_config c = { 0 };
	struct inet_want w;
	struct inet_scan sc;
	char msg[400];
	kcmd_parse_cmdline(&c, cmdline);
	inet_parse_want(&c, &w, msg, sizeof(msg));
	kcmd_config_free(&c);
	if (inet_scan(&sc, sys) < 0)
		return -2;
	return inet_choose(&w, &sc, sys, last, p);
}

static void test_scan_wired_only(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_scan sc;
	CHECK_EQ(inet_scan(&sc, sys), 0);
	CHECK_EQ(sc.n, 2); /* eth0 eth1, by ifindex; lo, wifi, bridges and taps are not NICs to bridge */
	CHECK(!strcmp(sc.nic[0].name, "eth0") && !sc.nic[0].carrier && !strcmp(sc.nic[0].mac, "00:1b:21:aa:bb:01"));
	CHECK(!strcmp(sc.nic[1].name, "eth1") && sc.nic[1].carrier && sc.nic[1].ifindex == 3);
	CHECK_EQ(sc.nskip, 5); /* lo is not even mentioned */
	CHECK(!strcmp(sc.skip[0].name, "docker0") && sc.skip[0].kind == INET_BRIDGE_DEV);
	CHECK(!strcmp(sc.skip[1].name, "tap0") && sc.skip[1].kind == INET_VIRTUAL);
	CHECK(!strcmp(sc.skip[2].name, "vnet3") && sc.skip[2].kind == INET_VIRTUAL);
	CHECK(!strcmp(sc.skip[3].name, "wlan0") && sc.skip[3].kind == INET_WIRELESS);
	CHECK(!strcmp(sc.skip[4].name, "wlp2s0") && sc.skip[4].kind == INET_WIRELESS);
	CHECK_EQ(inet_classify(sys, "lo"), INET_LOOPBACK);
	CHECK_EQ(inet_classify(sys, "eth9"), INET_MISSING);
	CHECK_EQ(inet_classify(sys, ".."), INET_MISSING);
	CHECK_EQ(inet_scan(&sc, "/nonexistent"), -1);
	CHECK_EQ(sc.n, 0);
	rmtree(root);
}

/* The default (hal.net unset = bridge): br0 over the NIC with carrier, at
 * once (nothing to wait for); the other wired NIC is named in the message. */
static void test_bridge_picks_the_nic_with_carrier(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "", false, &p), 0);
	CHECK(p.bridge);
	CHECK_EQ(p.nports, 1);
	CHECK(!strcmp(p.ports[0], "eth1"));
	CHECK(!strcmp(p.hal_net, "bridge=br0"));
	CHECK(!p.dhcp_if[0]); /* hal.ip unset: the HAL takes no address */
	CHECK_EQ(p.level, INIT_LOG_NOTICE);
	CHECK(strstr(p.msg, "network: br0 over eth1 (carrier)"));
	CHECK(strstr(p.msg, "; also wired, not in br0: eth0 (no carrier)"));
	CHECK(!strstr(p.msg, "wlan0"));
	CHECK_EQ(p.nup, 1);
	CHECK(!strcmp(p.up[0], "eth1"));
	/* hal.ip=dhcp: udhcpc on the bridge, which carries eth1's MAC */
	CHECK_EQ(plan_for(sys, "hal.net=bridge hal.ip=dhcp", false, &p), 0);
	CHECK(!strcmp(p.dhcp_if, "br0"));
	rmtree(root);
}

/* No carrier yet: wait; at the deadline, br0 over the first wired NIC
 * anyway, with a warning (the cable may come later). */
static void test_bridge_waits_then_takes_the_first(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	char f[300];
	snprintf(f, sizeof(f), "%s/devices/pci0000:00/0000:00:1f.6/net/eth1/carrier", sys);
	unlink(f); /* the kernel refuses to read carrier while the link is down */
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net_wait=4", false, &p), 1);
	CHECK_EQ(plan_for(sys, "hal.net_wait=4", true, &p), 0);
	CHECK(p.bridge && p.nports == 1 && !strcmp(p.ports[0], "eth0"));
	CHECK(!strcmp(p.hal_net, "bridge=br0"));
	CHECK_EQ(p.level, INIT_LOG_WARN);
	CHECK(strstr(p.msg, "br0 over eth0 (no carrier after 4 s"));
	rmtree(root);
}

/* bridge-all: every wired NIC, waiting while one lacks a carrier. */
static void test_bridge_all(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=bridge-all", false, &p), 1); /* eth0 has no carrier yet */
	CHECK_EQ(plan_for(sys, "hal.net=bridge-all", true, &p), 0);
	CHECK(p.bridge && p.nports == 2);
	CHECK(!strcmp(p.ports[0], "eth0") && !strcmp(p.ports[1], "eth1"));
	CHECK(!strcmp(p.hal_net, "bridge=br0"));
	CHECK_EQ(p.level, INIT_LOG_NOTICE);
	CHECK(strstr(p.msg, "br0 over eth0 (no carrier), eth1 (carrier)"));
	char f[300];
	snprintf(f, sizeof(f), "%s/devices/pci0000:00/0000:00:1f.6/net/eth0/carrier", sys);
	put("/", f + 1, "1\n");
	CHECK_EQ(plan_for(sys, "hal.net=bridge_all", false, &p), 0); /* all up: no wait */
	CHECK_EQ(p.nports, 2);
	rmtree(root);
}

/* An interface name (or MAC): br0 over exactly that NIC, carrier or not. */
static void test_named_interface(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=eth0", false, &p), 1); /* no carrier yet */
	CHECK_EQ(plan_for(sys, "hal.net=eth0", true, &p), 0);
	CHECK(p.bridge && p.nports == 1 && !strcmp(p.ports[0], "eth0"));
	CHECK(!strcmp(p.hal_net, "bridge=br0"));
	CHECK(strstr(p.msg, "br0 over eth0 (no carrier"));
	CHECK(!strstr(p.msg, "not in br0")); /* asked for: nothing to explain */
	CHECK_EQ(plan_for(sys, "hal.net=00:1B:21:AA:BB:02", false, &p), 0); /* a MAC, any case */
	CHECK(p.nports == 1 && !strcmp(p.ports[0], "eth1"));
	CHECK(strstr(p.msg, "br0 over eth1 = 00:1B:21:AA:BB:02 (carrier)"));
	rmtree(root);
}

/* A name that is not a wired NIC: a clear message and no --net (hal still
 * runs, without network), at the deadline. */
static void test_named_interface_missing_or_not_wired(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=enp3s0", false, &p), 1); /* a USB NIC may still come */
	CHECK_EQ(plan_for(sys, "hal.net=enp3s0", true, &p), 0);
	CHECK(!p.bridge && !p.hal_net[0] && p.nports == 0 && p.nup == 0);
	CHECK_EQ(p.level, INIT_LOG_WARN);
	CHECK(strstr(p.msg, "hal.net=enp3s0: no such network interface"));
	CHECK(strstr(p.msg, "eth0 (00:1b:21:aa:bb:01, no carrier), eth1 (00:1b:21:aa:bb:02, carrier)"));
	CHECK(strstr(p.msg, "the guest runs without network"));
	CHECK_EQ(plan_for(sys, "hal.net=wlan0", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "hal.net=wlan0 is wireless, not a wired network card"));
	CHECK_EQ(plan_for(sys, "hal.net=docker0", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "is a bridge"));
	CHECK_EQ(plan_for(sys, "hal.net=lo", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "is loopback"));
	CHECK_EQ(plan_for(sys, "hal.net=tap0", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "is virtual"));
	CHECK_EQ(plan_for(sys, "hal.net=02:00:00:00:00:99", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "no such wired network card"));
	rmtree(root);
}

/* none: no --net at all, nothing touched, no waiting; with hal.ip=dhcp the
 * HAL still asks for an address on the NIC with carrier. */
static void test_none(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=none", false, &p), 0);
	CHECK(!p.bridge && !p.hal_net[0] && p.nports == 0 && p.nup == 0 && !p.dhcp_if[0]);
	CHECK_EQ(p.level, INIT_LOG_NOTICE);
	CHECK(strstr(p.msg, "hal.net=none"));
	struct inet_want w = { .mode = INET_MODE_NONE };
	struct inet_scan sc;
	inet_scan(&sc, sys);
	for (int i = 0; i < sc.n; i++)
		CHECK(!inet_probe(&w, &sc.nic[i])); /* not even brought up */
	CHECK_EQ(plan_for(sys, "hal.net=none hal.ip=dhcp", false, &p), 0);
	CHECK(!p.bridge && !p.hal_net[0] && !strcmp(p.dhcp_if, "eth1") && p.nup == 1);
	rmtree(root);
}

/* macvtap: --net macvtap=<the NIC with carrier>, no bridge. */
static void test_macvtap(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=macvtap hal.ip=dhcp", false, &p), 0);
	CHECK(!p.bridge && p.nports == 0);
	CHECK(!strcmp(p.hal_net, "macvtap=eth1"));
	CHECK(!strcmp(p.dhcp_if, "eth1"));
	CHECK(strstr(p.msg, "the guest on eth1 through macvtap (carrier)"));
	CHECK_EQ(plan_for(sys, "hal.net=macvtap=eth0", true, &p), 0);
	CHECK(!strcmp(p.hal_net, "macvtap=eth0"));
	CHECK_EQ(plan_for(sys, "hal.net=macvtap=eth5", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "no such network interface"));
	rmtree(root);
}

/* No wired NIC (a laptop on wifi, QEMU with -nodefaults): a warning that
 * names what there is, and no --net: the guest runs, without network. */
static void test_no_wired_nic(void)
{
	char root[64], sys[128];
	strcpy(root, "/tmp/init-net-XXXXXX");
	CHECK(mkdtemp(root));
	snprintf(sys, sizeof(sys), "%s/sys", root);
	iface(sys, "lo", 1, 772, false, "1\n", NULL);
	iface(sys, "wlan0", 2, 1, true, "1\n", NULL);
	put(sys, "devices/pci0000:00/0000:00:1f.6/net/wlan0/phy80211", NULL);
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "", false, &p), 1); /* a USB NIC may still appear */
	CHECK_EQ(plan_for(sys, "", true, &p), 0);
	CHECK(!p.bridge && !p.hal_net[0] && p.nup == 0);
	CHECK_EQ(p.level, INIT_LOG_WARN);
	CHECK(strstr(p.msg, "no wired network card (seen: wlan0 (wireless); a wireless card cannot be bridged)"));
	CHECK(strstr(p.msg, "the guest runs without network"));
	CHECK_EQ(plan_for(sys, "hal.net=bridge-all", true, &p), 0);
	CHECK(!p.hal_net[0] && p.level == INIT_LOG_WARN);
	CHECK_EQ(plan_for(sys, "hal.net=macvtap", true, &p), 0);
	CHECK(!p.hal_net[0]);
	rmtree(root);
	/* and no /sys/class/net at all */
	struct inet_want w = { .mode = INET_MODE_BRIDGE };
	struct inet_scan sc = { .n = 0 };
	CHECK_EQ(inet_choose(&w, &sc, "/nonexistent", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "no wired network card: the guest runs without network"));
}

/* A NIC already in br0 (hal restarted, init restarted by hand) is used
 * again; one in somebody else's bridge is left alone. */
static void test_ports_of_bridges(void)
{
	char root[64], sys[128];
	setup(root, sys, sizeof(sys));
	iface(sys, "br0", 9, 1, false, "1\n", "00:1b:21:aa:bb:02\n");
	put(sys, "devices/virtual/net/br0/bridge", NULL);
	link_to(sys, "devices/pci0000:00/0000:00:1f.6/net/eth1/master", "../../../../virtual/net/br0");
	link_to(sys, "devices/pci0000:00/0000:00:1f.6/net/eth0/master", "../../../../virtual/net/br9");
	struct inet_scan sc;
	CHECK_EQ(inet_scan(&sc, sys), 0);
	CHECK(!strcmp(sc.nic[0].master, "br9") && !strcmp(sc.nic[1].master, "br0"));
	struct inet_plan p;
	CHECK_EQ(plan_for(sys, "hal.net=bridge-all", false, &p), 0); /* eth0 is not ours: not waited for */
	CHECK(p.nports == 1 && !strcmp(p.ports[0], "eth1"));
	CHECK_EQ(plan_for(sys, "hal.net=eth0", true, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "eth0 is a port of the bridge br9 already"));
	rmtree(root);
}

static void test_want_values(void)
{
	struct kcmd_config c = { 0 };
	struct inet_want w;
	char msg[400];
	CHECK_EQ(inet_parse_want(&c, &w, msg, sizeof(msg)), 0); /* defaults */
	CHECK(w.mode == INET_MODE_BRIDGE && !w.dhcp && w.wait_s == INET_WAIT_DEFAULT && !w.ifname[0]);
	kcmd_parse_cmdline(&c, "hal.ip=static hal.net=a-very-long-interface-name");
	CHECK_EQ(inet_parse_want(&c, &w, msg, sizeof(msg)), -1);
	CHECK(!w.dhcp && w.mode == INET_MODE_NONE && w.invalid);
	struct inet_scan empty = { .n = 0 };
	struct inet_plan p;
	CHECK_EQ(inet_choose(&w, &empty, "/nonexistent", false, &p), 0);
	CHECK(!p.hal_net[0] && strstr(p.msg, "hal.net is not valid"));
	CHECK(strstr(msg, "hal.ip=static: expected dhcp or none"));
	CHECK(strstr(msg, "hal.net=a-very-long-interface-name: expected bridge"));
	kcmd_parse_cmdline(&c, "hal.ip=DHCP hal.net=");
	CHECK_EQ(inet_parse_want(&c, &w, msg, sizeof(msg)), 0);
	CHECK(w.dhcp && w.mode == INET_MODE_BRIDGE); /* empty: the default */
	kcmd_parse_cmdline(&c, "hal.net=macvtap=eth2");
	CHECK_EQ(inet_parse_want(&c, &w, msg, sizeof(msg)), 0);
	CHECK(w.mode == INET_MODE_MACVTAP && !strcmp(w.ifname, "eth2"));
	kcmd_parse_cmdline(&c, "hal.net=eth0/x");
	CHECK_EQ(inet_parse_want(&c, &w, msg, sizeof(msg)), -1);
	kcmd_config_free(&c);
}

/* The udhcpc hook: written whole, executable, and valid sh. */
static void test_dhcp_script(void)
{
	char dir[] = "/tmp/init-net-XXXXXX", path[100];
	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/udhcpc.script", dir);
	CHECK_EQ(inet_write_dhcp_script(path), 0);
	size_t len;
	char *t = init_read_file(path, &len);
	CHECK(t && len == strlen(inet_dhcp_script) && !strcmp(t, inet_dhcp_script));
	free(t);
	CHECK(access(path, X_OK) == 0);
	CHECK(strstr(inet_dhcp_script, "ip -4 route replace default via"));
	/* the name server is known before the address that lets init start hal */
	const char *rc = strstr(inet_dhcp_script, ">/etc/resolv.conf"), *add = strstr(inet_dhcp_script, "ip -4 addr add");
	CHECK(rc && add && rc < add);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "sh -n %s", path);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(inet_write_dhcp_script("/nonexistent/x"), -1);
	rmtree(dir);
}

/* rdroot/hal.conf's commented network examples, uncommented one by one,
 * are valid (run from the top of the tree, as make unit does). */
static void test_conf_examples(void)
{
	char *text = init_read_file("rdroot/hal.conf", NULL);
	CHECK(text);
	int n = 0;
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "#net", 4) && strncmp(l, "#ip=", 4))
			continue;
		struct kcmd_config c = { 0 };
		struct inet_want w;
		char msg[400];
		int bad = kcmd_parse_conf(&c, l + 1);
		int r = inet_parse_want(&c, &w, msg, sizeof(msg));
		kcmd_config_free(&c);
		if (bad || r) {
			printf("  %s: %s\n", l + 1, msg);
			free(text);
		}
		CHECK_EQ(bad, 0);
		CHECK_EQ(r, 0);
		n++;
	}
	free(text);
	CHECK(n >= 6);
}

/* inet_has_ipv4 (hal.disk=nbd:// waits on it) agrees with getifaddrs for
 * every interface of this host, and says no for one that is not there. */
static void test_has_ipv4(void)
{
	struct ifaddrs *ifa, *i;
	CHECK_EQ(getifaddrs(&ifa), 0);
	for (i = ifa; i; i = i->ifa_next) {
		if (strlen(i->ifa_name) >= INET_NAMELEN)
			continue;
		bool v4 = false;
		for (struct ifaddrs *j = ifa; j; j = j->ifa_next)
			v4 |= !strcmp(j->ifa_name, i->ifa_name) && j->ifa_addr && j->ifa_addr->sa_family == AF_INET;
		CHECK_EQ(inet_has_ipv4(i->ifa_name), v4);
	}
	freeifaddrs(ifa);
	CHECK(!inet_has_ipv4("hal-no-such0"));
}

int main(void)
{
	init_log_level = 0;
	RUN(test_scan_wired_only);
	RUN(test_bridge_picks_the_nic_with_carrier);
	RUN(test_bridge_waits_then_takes_the_first);
	RUN(test_bridge_all);
	RUN(test_named_interface);
	RUN(test_named_interface_missing_or_not_wired);
	RUN(test_none);
	RUN(test_macvtap);
	RUN(test_no_wired_nic);
	RUN(test_ports_of_bridges);
	RUN(test_want_values);
	RUN(test_dhcp_script);
	RUN(test_conf_examples);
	RUN(test_has_ipv4);
	return 0;
}
