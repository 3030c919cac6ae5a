/* init: PID 1 of the HAL boot medium. Shared declarations (see docs/init.md).
 * Everything testable lives outside init/main.c; names are prefixed
 * init_/kcmd_/mod_/disk_/inet_ so they never clash with hal's (hal has net_*). */
#ifndef INIT_H
#define INIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- log.c: console (stderr) and /dev/kmsg ------------------------------ */
enum { INIT_LOG_ERR = 3, INIT_LOG_WARN = 4, INIT_LOG_NOTICE = 5, INIT_LOG_INFO = 6, INIT_LOG_DEBUG = 7 };
extern int init_log_kmsg_fd;   /* -1: console only */
extern int init_log_level;     /* console shows messages up to this level */
void init_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ilog_err(...)    init_log(INIT_LOG_ERR, __VA_ARGS__)
#define ilog_warn(...)   init_log(INIT_LOG_WARN, __VA_ARGS__)
#define ilog_notice(...) init_log(INIT_LOG_NOTICE, __VA_ARGS__)
#define ilog_info(...)   init_log(INIT_LOG_INFO, __VA_ARGS__)
#define ilog_debug(...)  init_log(INIT_LOG_DEBUG, __VA_ARGS__)
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer; NULL on error. */
char *init_read_file(const char *path, size_t *len);
/* Reads the first line of a sysfs-style file, trailing whitespace stripped. */
int init_read_line(const char *path, char *buf, size_t n);

/* ---- kcmd.c: kernel command line, hal.conf, hal's argv ------------------- */
/* Splits a kernel command line into words: blanks separate, double quotes
 * group and are removed (`hal.args="--a b"` -> `hal.args=--a b`). Returns the
 * word count and a malloc'd NULL-terminated vector (free with kcmd_free), or -1. */
int kcmd_split(const char *line, char ***words);
/* Splits hal.args: blanks separate, single or double quotes group, backslash
 * escapes the next character. Same return convention; -1 on an open quote. */
int kcmd_split_args(const char *s, char ***words);
void kcmd_free(char **words);

enum kcmd_key {
	KCMD_DISK, KCMD_MEM, KCMD_CPUS, KCMD_FIRMWARE, KCMD_KERNEL, KCMD_INITRD,
	KCMD_APPEND, KCMD_DISPLAY, KCMD_SERIAL, KCMD_ARGS, KCMD_HAL, KCMD_RESCUE,
	KCMD_DISK_WAIT, KCMD_CONF, KCMD_EFIVARS_DIR, KCMD_NET, KCMD_NET_WAIT, KCMD_IP, KCMD_WATCHDOG, KCMD_NKEYS
};
struct kcmd_config {
	char *val[KCMD_NKEYS];     /* malloc'd strings, NULL when unset */
};
/* Name ("disk", "disk_wait"...) of a key, without the "hal." prefix. */
const char *kcmd_key_name(enum kcmd_key k);
/* Sets key (with or without "hal.", '-' == '_') to value. Returns 0 when set,
 * 1 when key is not a hal key at all, -1 for an unknown hal.* key. */
int kcmd_set(struct kcmd_config *c, const char *key, const char *value);
/* Applies every hal.* word of a kernel command line; returns the number of
 * unknown hal.* keys (each logged). */
int kcmd_parse_cmdline(struct kcmd_config *c, const char *cmdline);
/* Applies a hal.conf text: `key=value` lines, '#' comments, blank lines;
 * values may be double-quoted. Returns the number of bad lines (logged). */
int kcmd_parse_conf(struct kcmd_config *c, const char *text);
void kcmd_config_free(struct kcmd_config *c);
const char *kcmd_get(const struct kcmd_config *c, enum kcmd_key k, const char *dflt);
/* Boolean (1/yes/on/true, or a bare key) and integer getters. */
bool kcmd_get_bool(const struct kcmd_config *c, enum kcmd_key k);
long kcmd_get_long(const struct kcmd_config *c, enum kcmd_key k, long dflt);
/* Builds hal's argv from the config (table-driven; hal.args words last).
 * disk_path replaces hal.disk's spec (pass NULL for no --disk); a ",ro"
 * suffix of hal.disk is kept; an NBD export (disk_spec_is_nbd) is passed
 * as it is, hal's options and all. efivars_dir, when not NULL, becomes
 * --efivars-dir (before hal.args, whose --efivars still wins in hal).
 * net, when not NULL, becomes --net NET (before hal.args: a --net there
 * adds a NIC, hal's --net being repeatable). control, when not NULL,
 * becomes --control CONTROL (init's watchdog asks hal's status there).
 * Returns argc and a NULL-terminated malloc'd vector (kcmd_free), or -1
 * with *why set (bad hal.args quoting). */
int kcmd_hal_argv(const struct kcmd_config *c, const char *disk_path, const char *efivars_dir, const char *net,
		  const char *control, char ***argv, const char **why);
/* Where hal keeps per-disk UEFI variable stores: hal.efivars_dir, default
 * KCMD_EFIVARS_DIR_DEFAULT on the boot medium's ESP; NULL for "none". */
#define KCMD_EFIVARS_DIR_DEFAULT "/boot/hal/efivars"
const char *kcmd_efivars_dir(const struct kcmd_config *c);
/* hal.serial=console means "hal's --serial stdio on /dev/console". */
bool kcmd_serial_console(const struct kcmd_config *c);

/* ---- mod.c: kernel modules without kmod ----------------------------------- */
struct mod_ent {
	char *name;          /* normalised: basename without .ko*, '-' -> '_' */
	char *path;          /* as in modules.dep (relative to the modules dir) */
	char **deps;         /* modules.dep order: users first; load right to left */
	int ndeps;
	int state;           /* MOD_* */
};
enum { MOD_UNKNOWN, MOD_LOADED, MOD_NOHW, MOD_FAILED };
struct mod_alias { char *pattern, *name; };
/* Loader: returns 0 or a negative errno, like finit_module. */
typedef int (*mod_load_fn)(void *ctx, const char *path, const char *params, int flags);

struct mod_db {
	char *dir;                       /* /lib/modules/$(uname -r) */
	struct mod_ent *mods; size_t nmods;
	struct mod_alias *aliases; size_t naliases;
	char **builtin; size_t nbuiltin; /* normalised names */
	char **blacklist; size_t nblacklist;
	char **seen; size_t nseen;       /* modaliases already matched (coldplug) */
	const char *cmdline;             /* for modname.param=value options */
	char compression[16];            /* /sys/module/compression, "" if none */
	mod_load_fn load; void *load_ctx;
	int nloaded;                     /* modules this db loaded */
};
void mod_name_norm(const char *path_or_name, char *out, size_t n);
int mod_db_parse_dep(struct mod_db *db, const char *text);
int mod_db_parse_alias(struct mod_db *db, const char *text);
int mod_db_parse_builtin(struct mod_db *db, const char *text);
/* Marks names from /proc/modules text as loaded. */
void mod_db_parse_loaded(struct mod_db *db, const char *text);
/* Reads modules.dep/.alias/.builtin from dir (dep is required). */
int mod_db_open(struct mod_db *db, const char *dir);
void mod_db_free(struct mod_db *db);
struct mod_ent *mod_find(const struct mod_db *db, const char *name);
/* The load order for a module: its dependencies right to left, then itself,
 * each at most once. Fills out[] with entries; returns the count or -1. */
int mod_load_order(const struct mod_db *db, const char *name, struct mod_ent **out, int max);
/* Collects "param=value ..." for modname from a command line (modname.param=value,
 * '-'/'_' equivalent in both names; values with blanks are double-quoted). */
void mod_options(const char *cmdline, const char *modname, char *out, size_t n);
/* finit_module flags for path given /sys/module/compression; -1 when the file
 * is compressed in a way the kernel cannot decompress. */
int mod_init_flags(const char *path, const char *compression);
/* Loads a module by name or alias with its dependencies. Returns the number
 * of modules newly loaded (>= 0), or -1 when nothing matched or a real error. */
int mod_probe(struct mod_db *db, const char *name_or_alias);
/* Loads drivers for every new modalias under sysroot ("/sys"), repeating until
 * nothing new loads. Returns the number of modules loaded. */
int mod_coldplug(struct mod_db *db, const char *sysroot);
/* The real loader (finit_module through syscall). */
int mod_finit(void *ctx, const char *path, const char *params, int flags);
/* Hardware virtualisation. vendor: from cpuid leaf 0. Returns "kvm_intel",
 * "kvm_amd" or NULL. */
const char *mod_kvm_module(const char *vendor);
/* Writes a user-facing explanation of why KVM is unavailable to msg (from the
 * vendor and /proc/cpuinfo text). Returns 1 when the cpu flag is present. */
int mod_virt_check(const char *vendor, const char *cpuinfo, char *msg, size_t n);

/* ---- disk.c: partition tables, filesystem labels, guest disk discovery ---- */
struct disk_src {
	int (*read)(void *ctx, uint64_t off, void *buf, size_t n); /* 0 or -1 */
	void *ctx;
	uint64_t size;       /* bytes */
	unsigned sector;     /* logical sector size (512 or 4096) */
};
struct disk_fs { char type[12], label[64], uuid[40]; };
struct disk_part {
	int num;             /* 1-based, as the kernel numbers them */
	uint64_t start, size;                /* sectors */
	char partlabel[80], partuuid[40], type[40];
};
enum { DISK_PT_NONE, DISK_PT_MBR, DISK_PT_GPT };
/* Returns 0 when a filesystem was recognised. */
int disk_probe_fs(const struct disk_src *s, struct disk_fs *fs);
/* Returns the number of partitions (<= max), setting *pt; 0 with DISK_PT_NONE
 * when there is no table. */
int disk_probe_parts(const struct disk_src *s, struct disk_part *p, int max, int *pt);
/* Memory-backed source for tests and for probing a buffer. */
struct disk_mem { const uint8_t *buf; size_t len; };
void disk_src_mem(struct disk_src *s, struct disk_mem *m, unsigned sector);

enum disk_spec_kind { DISK_PATH, DISK_LABEL, DISK_PARTLABEL, DISK_UUID, DISK_PARTUUID, DISK_SERIAL, DISK_NBD };
struct disk_spec {
	enum disk_spec_kind kind;
	char value[256];           /* DISK_NBD: the URL without hal's options */
	bool ro, part;
	bool tcp;                  /* DISK_NBD: nbd:// (needs the HAL's network), not nbd+unix:// */
};
/* Parses hal.disk: a path, or LABEL=/PARTLABEL=/UUID=/PARTUUID=/SERIAL=, with
 * optional ",ro" and ",part" (hand the guest the matching partition itself,
 * not the disk that holds it) suffixes; or an NBD export,
 * nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH, with hal's
 * --disk options (",ro" noted, ",part" refused), nothing to search for:
 * hal gets the spec as it is. Returns 0 or -1. */
int disk_parse_spec(const char *s, struct disk_spec *spec);
/* s starts with nbd:// or nbd+unix://. */
bool disk_spec_is_nbd(const char *s);

/* One block device (whole disk or partition) found in sysfs. */
struct disk_dev {
	char name[32], disk[32];   /* "sdb1", "sdb" (disk == name for a whole disk) */
	char dev[16];              /* "8:17" */
	bool whole;
	struct disk_fs fs;
	struct disk_part part;     /* valid when !whole and part.num > 0 */
	char serial[80];           /* whole disks */
};
#define DISK_BOOT_LABEL "HALBOOT"
struct disk_scan {
	struct disk_dev *devs; int n;
};
/* Scans sysroot/block (e.g. "/sys") and probes devroot/NAME ("/dev"). */
int disk_scan(struct disk_scan *sc, const char *sysroot, const char *devroot);
void disk_scan_free(struct disk_scan *sc);
/* True when dev is on a disk holding the HAL boot medium (a filesystem label
 * or GPT partition name HALBOOT on any of its partitions). */
bool disk_is_boot(const struct disk_scan *sc, const char *disk);
bool disk_match(const struct disk_dev *d, const struct disk_spec *spec);
/* The boot medium's own file system: the first FAT file system labelled
 * HALBOOT, a partition before a whole disk (rdroot/mkusb.sh's ESP); NULL
 * when there is none (yet). */
const struct disk_dev *disk_find_boot_fs(const struct disk_scan *sc);
/* Finds the one device matching spec. Returns 0 with devpath set; -ENOENT when
 * nothing matches (yet); -EEXIST when several match; -EPERM when the only
 * matches are on the boot disk. msg says what happened, for the user. */
int disk_find(const struct disk_scan *sc, const struct disk_spec *spec, const char *devroot,
	      char *devpath, size_t n, char *msg, size_t msgn);

/* ---- net.c: the HAL's own network: br0 for the guest, DHCP for the HAL ---- */
#define INET_BRIDGE "br0"
#define INET_MAX 16        /* interfaces looked at */
#define INET_NAMELEN 16    /* IFNAMSIZ */
#define INET_DHCP_SCRIPT "/run/udhcpc.script"
#define INET_WAIT_DEFAULT 3 /* hal.net_wait: seconds for a carrier */
/* What SYSROOT/class/net/IF is. */
enum inet_kind { INET_MISSING, INET_WIRED, INET_LOOPBACK, INET_WIRELESS, INET_BRIDGE_DEV, INET_VIRTUAL, INET_NOT_ETHER };
enum inet_kind inet_classify(const char *sysroot, const char *ifname);
const char *inet_kind_name(enum inet_kind k);   /* "wireless", "a bridge"... */
struct inet_nic {
	char name[INET_NAMELEN];
	char mac[18];              /* "00:11:22:33:44:55" */
	int ifindex;
	bool carrier;              /* carrier is "1" (the kernel refuses to say while the link is down) */
	char master[INET_NAMELEN]; /* the bridge it is a port of, "" */
};
struct inet_scan {
	struct inet_nic nic[INET_MAX]; int n;     /* wired Ethernet NICs, ifindex order */
	struct { char name[INET_NAMELEN]; enum inet_kind kind; } skip[INET_MAX]; int nskip; /* the others but lo */
};
/* Lists the network interfaces under sysroot/class/net ("/sys"): wired
 * Ethernet NICs (a device link, type 1, not wireless, not a bridge) into
 * nic[], the rest but lo into skip[]. Returns 0, or -1 when the directory
 * cannot be read (sc empty). */
int inet_scan(struct inet_scan *sc, const char *sysroot);

enum inet_mode { INET_MODE_BRIDGE, INET_MODE_BRIDGE_ALL, INET_MODE_NONE, INET_MODE_MACVTAP, INET_MODE_IFACE };
struct inet_want {
	enum inet_mode mode;
	char ifname[18];           /* INET_MODE_IFACE, or macvtap=IF: a name or a MAC address; "" for macvtap's pick */
	bool dhcp;                 /* hal.ip=dhcp */
	long wait_s;               /* hal.net_wait, for messages */
	bool invalid;              /* hal.net was not valid: INET_MODE_NONE */
};
/* Reads hal.net (NULL: bridge), hal.ip (NULL: none) and hal.net_wait.
 * Returns 0, or -1 with msg saying what was wrong and *w the fallback (a
 * hal.ip other than dhcp/none: no DHCP; an interface name too long: none). */
int inet_parse_want(const struct kcmd_config *c, struct inet_want *w, char *msg, size_t n);
struct inet_plan {
	bool bridge;                          /* create (or reuse) br0 over ports[] */
	char ports[INET_MAX][INET_NAMELEN]; int nports;
	char hal_net[48];                     /* hal's --net: "bridge=br0", "macvtap=eth0"; "" for none */
	char up[INET_MAX][INET_NAMELEN]; int nup; /* the NICs the plan uses (ports, macvtap's, DHCP's) */
	char dhcp_if[INET_NAMELEN];           /* hal.ip=dhcp: where udhcpc asks; "" nowhere */
	int level;                            /* INIT_LOG_NOTICE; INIT_LOG_WARN when less than asked */
	char msg[600];                        /* "network: br0 over eth0 (carrier)" */
};
/* Which NICs of a scan to bring up to learn their carrier. */
bool inet_probe(const struct inet_want *w, const struct inet_nic *nic);
/* Decides from a scan (sysroot: to say what a named interface is). Returns
 * 1 when waiting could give a better plan (no carrier yet, a named NIC not
 * there yet) and last is false; else 0 with *p filled. Never fails: the
 * worst plan is no --net, with a warning (the guest runs without network). */
int inet_choose(const struct inet_want *w, const struct inet_scan *sc, const char *sysroot, bool last,
		struct inet_plan *p);
/* The doing part (ioctls; not in the unit tests). Brings an interface up or
 * down; IPv6 off first for one going up (the HAL takes no address unless
 * asked: hal.ip=dhcp is IPv4). 0, or -1 with errno. */
int inet_link(const char *ifname, bool up);
/* ifname has an IPv4 address (udhcpc's hook sets it once a lease is
 * taken). */
bool inet_has_ipv4(const char *ifname);
/* Carries out a plan: br0 created or reused, its ports added, br0's MAC set
 * to its first port's (a bridge otherwise takes its lowest port MAC, which
 * changes when hal adds a tap: the HAL's DHCP lease would move), all up.
 * Each step logged; failures are warnings. Returns 0, or -1 when there is
 * no usable br0 (then hal must not get --net bridge=br0). */
int inet_apply(const struct inet_plan *p, const char *sysroot);
/* Writes the udhcpc hook (busybox ip: address, default route; resolv.conf;
 * events to /dev/kmsg). 0 or -1. */
int inet_write_dhcp_script(const char *path);
extern const char inet_dhcp_script[];
/* ---- watchdog.c: is hal's event loop alive? -------------------------------- */
struct hal_watchdog {
	char path[108];            /* hal's --control socket */
	long long limit_ms;        /* 0: off */
	long long period_ms, last_ok, next_ask;
	int fd;                    /* a `status` asked and not yet answered, or -1 */
};
/* Starts watching (secs <= 0: off); now and all times in ms. */
void wd_start(struct hal_watchdog *w, const char *path, long secs, long long now);
void wd_stop(struct hal_watchdog *w);
/* Reads an answer, asks again when due; true when hal has not answered
 * `status` for the whole limit. Call when w->fd is readable or when
 * wd_timeout (ms, -1 for never) has passed. */
bool wd_step(struct hal_watchdog *w, long long now);
int wd_timeout(const struct hal_watchdog *w, long long now);

#endif
