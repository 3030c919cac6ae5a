/* init: kernel command line, hal.conf and the hal argv built from them. */
#include <stdlib.h>
#include "check.h"
#include "init.h"

static void test_split_quotes(void)
{
	char **w;
	int n = kcmd_split("  root=/dev/sda1 hal.args=\"--verbose --append 'a b'\" quiet \"hal.disk=LABEL=my disk\"\n", &w);
	CHECK_EQ(n, 4);
	CHECK(!strcmp(w[0], "root=/dev/sda1"));
	CHECK(!strcmp(w[1], "hal.args=--verbose --append 'a b'"));
	CHECK(!strcmp(w[2], "quiet"));
	CHECK(!strcmp(w[3], "hal.disk=LABEL=my disk"));
	kcmd_free(w);
	CHECK_EQ(kcmd_split("", &w), 0);
	CHECK(w && !w[0]);
	kcmd_free(w);
}

static void test_cmdline_keys(void)
{
	struct kcmd_config c = { 0 };
	init_log_level = 0;
	int bad = kcmd_parse_cmdline(&c, "console=ttyS0 hal.mem=2G hal.cpus=4 hal.disk=PARTLABEL=GUEST "
				      "hal.disk-wait=30 hal.rescue hal.bogus=1 kvm.nx_huge_pages=off");
	CHECK_EQ(bad, 1);
	CHECK(!strcmp(kcmd_get(&c, KCMD_MEM, ""), "2G"));
	CHECK(!strcmp(kcmd_get(&c, KCMD_CPUS, ""), "4"));
	CHECK(!strcmp(kcmd_get(&c, KCMD_DISK, ""), "PARTLABEL=GUEST"));
	CHECK_EQ(kcmd_get_long(&c, KCMD_DISK_WAIT, 10), 30);
	CHECK(kcmd_get_bool(&c, KCMD_RESCUE));
	CHECK(!kcmd_get_bool(&c, KCMD_DISPLAY));
	CHECK(!strcmp(kcmd_get(&c, KCMD_HAL, "/bin/hal"), "/bin/hal"));
	kcmd_config_free(&c);
}

static void test_conf_then_cmdline_wins(void)
{
	struct kcmd_config c = { 0 };
	init_log_level = 0;
	int bad = kcmd_parse_conf(&c, "# guest settings\n"
				      "hal.mem = 1G\n"
				      "cpus=2\n"
				      "\n"
				      "   hal.display=kms   # not a comment: part of the value? no\n"
				      "hal.args=\"--append \\\"console=ttyS0 quiet\\\"\"\n"
				      "garbage line\n");
	CHECK_EQ(bad, 1);
	CHECK(!strcmp(kcmd_get(&c, KCMD_MEM, ""), "1G"));
	CHECK(!strcmp(kcmd_get(&c, KCMD_CPUS, ""), "2"));
	kcmd_parse_cmdline(&c, "hal.mem=3G");
	CHECK(!strcmp(kcmd_get(&c, KCMD_MEM, ""), "3G"));   /* the command line wins */
	CHECK(!strcmp(kcmd_get(&c, KCMD_CPUS, ""), "2"));  /* the rest of hal.conf stays */
	kcmd_config_free(&c);
}

static void test_args_split(void)
{
	char **w;
	int n = kcmd_split_args("--append 'console=ttyS0 quiet' --debugcon \"file:/tmp/a b\" x\\ y", &w);
	CHECK_EQ(n, 5);
	CHECK(!strcmp(w[1], "console=ttyS0 quiet"));
	CHECK(!strcmp(w[3], "file:/tmp/a b"));
	CHECK(!strcmp(w[4], "x y"));
	kcmd_free(w);
	CHECK_EQ(kcmd_split_args("--append 'unterminated", &w), -1);
}

static void test_hal_argv(void)
{
	struct kcmd_config c = { 0 };
	kcmd_parse_cmdline(&c, "hal.mem=4G hal.cpus=2 hal.firmware=bios hal.display=kms hal.serial=console "
			       "hal.disk=LABEL=guest,ro \"hal.args=--verbose --append 'root=/dev/vda1 quiet'\" hal.path=/sbin/hal");
	char **argv;
	const char *why;
	int n = kcmd_hal_argv(&c, "/dev/sdb2", NULL, NULL, NULL, &argv, &why);
	const char *want[] = { "/sbin/hal", "--disk", "/dev/sdb2,ro", "--mem", "4G", "--cpus", "2", "--firmware", "bios",
			       "--display", "kms", "--serial", "stdio", "--verbose", "--append", "root=/dev/vda1 quiet" };
	CHECK_EQ(n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++)
		CHECK(!strcmp(argv[i], want[i]));
	CHECK(argv[n] == NULL);
	CHECK(kcmd_serial_console(&c));
	kcmd_free(argv);
	/* no disk: no --disk; unset keys are left to hal's defaults */
	struct kcmd_config e = { 0 };
	n = kcmd_hal_argv(&e, NULL, NULL, NULL, NULL, &argv, &why);
	CHECK_EQ(n, 1);
	CHECK(!strcmp(argv[0], "/bin/hal"));
	kcmd_free(argv);
	/* a disk and no hal.firmware: no --firmware, hal picks it from the disk */
	kcmd_set(&e, "hal.disk", "LABEL=guest");
	n = kcmd_hal_argv(&e, "/dev/sdb", NULL, NULL, NULL, &argv, &why);
	CHECK_EQ(n, 3);
	CHECK(!strcmp(argv[1], "--disk") && !strcmp(argv[2], "/dev/sdb"));
	kcmd_free(argv);
	kcmd_set(&e, "hal.args", "--append 'oops");
	CHECK_EQ(kcmd_hal_argv(&e, NULL, NULL, NULL, NULL, &argv, &why), -1);
	CHECK(why && strstr(why, "quote"));
	kcmd_config_free(&c);
	kcmd_config_free(&e);
}

/* hal.disk=nbd://... (command line or hal.conf): hal gets the spec as it
 * is, its options kept, ",ro" not doubled. */
static void test_hal_argv_nbd(void)
{
	struct kcmd_config c = { 0 };
	char **argv;
	const char *why;
	kcmd_parse_cmdline(&c, "hal.disk=nbd://10.0.0.5:10809/guest,ro,snapshot,timeout=5");
	const char *spec = kcmd_get(&c, KCMD_DISK, "");
	int n = kcmd_hal_argv(&c, spec, NULL, NULL, NULL, &argv, &why);
	CHECK_EQ(n, 3);
	CHECK(!strcmp(argv[1], "--disk") && !strcmp(argv[2], "nbd://10.0.0.5:10809/guest,ro,snapshot,timeout=5"));
	kcmd_free(argv);
	kcmd_config_free(&c);
	struct kcmd_config f = { 0 };
	kcmd_parse_conf(&f, "hal.disk = nbd+unix:///guest?socket=/run/nbd.sock,ro\n");
	spec = kcmd_get(&f, KCMD_DISK, "");
	CHECK(!strcmp(spec, "nbd+unix:///guest?socket=/run/nbd.sock,ro"));
	n = kcmd_hal_argv(&f, spec, NULL, NULL, NULL, &argv, &why);
	CHECK_EQ(n, 3);
	CHECK(!strcmp(argv[2], "nbd+unix:///guest?socket=/run/nbd.sock,ro"));
	kcmd_free(argv);
	kcmd_config_free(&f);
}

/* hal.efivars_dir: default on the ESP, overridden, or none; passed before
 * hal.args so that an --efivars there still decides in hal. */
static void test_efivars_dir(void)
{
	struct kcmd_config c = { 0 };
	CHECK(!strcmp(kcmd_efivars_dir(&c), "/boot/hal/efivars"));
	kcmd_parse_cmdline(&c, "hal.efivars-dir=/boot/other");
	CHECK(!strcmp(kcmd_efivars_dir(&c), "/boot/other"));
	kcmd_parse_cmdline(&c, "hal.efivars_dir=");
	CHECK(!strcmp(kcmd_efivars_dir(&c), "/boot/hal/efivars")); /* empty: the default */
	kcmd_parse_cmdline(&c, "hal.efivars_dir=none hal.args=--efivars=none");
	CHECK(kcmd_efivars_dir(&c) == NULL);
	char **argv;
	const char *why;
	int n = kcmd_hal_argv(&c, "/dev/nvme0n1", "/boot/hal/efivars", NULL, NULL, &argv, &why);
	const char *want[] = { "/bin/hal", "--disk", "/dev/nvme0n1", "--efivars-dir", "/boot/hal/efivars", "--efivars=none" };
	CHECK_EQ(n, 6);
	for (int i = 0; i < n; i++)
		CHECK(!strcmp(argv[i], want[i]));
	kcmd_free(argv);
	kcmd_config_free(&c);
}

/* hal.net, hal.net_wait, hal.ip are init's own keys (no hal option of
 * their own); the --net init chose goes before hal.args, so that a --net
 * there adds a second NIC. */
static void test_net_keys_and_argv(void)
{
	struct kcmd_config c = { 0 };
	init_log_level = 0;
	CHECK_EQ(kcmd_parse_cmdline(&c, "hal.net=bridge-all hal.net-wait=5 hal.ip=dhcp \"hal.args=--net tap=tap7\""), 0);
	CHECK(!strcmp(kcmd_get(&c, KCMD_NET, ""), "bridge-all"));
	CHECK_EQ(kcmd_get_long(&c, KCMD_NET_WAIT, 3), 5);
	CHECK(!strcmp(kcmd_get(&c, KCMD_IP, ""), "dhcp"));
	CHECK_EQ(kcmd_parse_conf(&c, "net=eth1\nip=none\n"), 0);
	CHECK(!strcmp(kcmd_get(&c, KCMD_NET, ""), "eth1"));
	char **argv;
	const char *why;
	int n = kcmd_hal_argv(&c, NULL, NULL, "bridge=br0", NULL, &argv, &why);
	const char *want[] = { "/bin/hal", "--net", "bridge=br0", "--net", "tap=tap7" };
	CHECK_EQ(n, 5);
	for (int i = 0; i < n; i++)
		CHECK(!strcmp(argv[i], want[i]));
	kcmd_free(argv);
	n = kcmd_hal_argv(&c, NULL, NULL, NULL, NULL, &argv, &why); /* no network chosen: only the user's */
	CHECK_EQ(n, 3);
	CHECK(!strcmp(argv[1], "--net") && !strcmp(argv[2], "tap=tap7"));
	kcmd_free(argv);
	kcmd_config_free(&c);
}

int main(void)
{
	RUN(test_split_quotes);
	RUN(test_cmdline_keys);
	RUN(test_conf_then_cmdline_wins);
	RUN(test_args_split);
	RUN(test_hal_argv);
	RUN(test_hal_argv_nbd);
	RUN(test_efivars_dir);
	RUN(test_net_keys_and_argv);
	return 0;
}
