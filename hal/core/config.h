/* hal's command line. */
#ifndef CONFIG_H
#define CONFIG_H
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define HAL_MAX_DISKS 8
#define HAL_MAX_NICS 4
#define HAL_MAX_CDROMS 4
#define HAL_AHCI_PORTS 6  /* --disk ,if=ahci and --cdrom share them (hw/ahci.h) */

enum disk_if { DISK_IF_VIRTIO, DISK_IF_AHCI };

enum out_kind { OUT_STDIO, OUT_FILE, OUT_NONE };

struct config {
	const char *kernel, *initrd, *append;
	const char *firmware;     /* NULL, "bios", "ovmf", or a path */
	const char *efivars;      /* UEFI variable store file, "none", or NULL (default) */
	const char *efivars_dir;  /* --efivars-dir: stores named by disk id, used with Debian's OVMF only */
	uint64_t mem;
	int cpus;
	enum out_kind serial, debugcon;
	const char *serial_path, *debugcon_path;
	bool entry32;             /* force the 32-bit boot entry */
	bool snapshot;            /* --snapshot: every disk as with ,snapshot */
	bool no_reboot;           /* exit on guest reset instead of restarting */
	bool secure_boot;         /* new UEFI stores from Microsoft's keys (OVMF_VARS_4M.ms.fd) */
	int boot_menu_ms;         /* firmware boot menu wait (fw_cfg), -1: no menu */
	const char *display;      /* auto, kms, fb or none */
	const char *control;      /* control socket path, or NULL */
	const char *disks[HAL_MAX_DISKS]; /* PATH[,ro][,serial=S]; the first is the boot disk */
	int ndisks;
	enum disk_if disk_if[HAL_MAX_DISKS]; /* ,if=virtio (default) or ,if=ahci */
	const char *cdroms[HAL_MAX_CDROMS]; /* --cdrom PATH: ISO images on AHCI ports */
	int ncdroms;
	/* --disk and --cdrom in command-line order: the firmware's boot order */
	struct boot_dev { bool cdrom; int index; } boot[HAL_MAX_DISKS + HAL_MAX_CDROMS];
	int nboot;
	const char *nets[HAL_MAX_NICS];   /* --net MODE[,options] (net/net.h parses them) */
	int nnets;
	const char *smbios;       /* --smbios host (default), default, or file=PATH */
	uint64_t rng_rate;        /* --rng: bytes/s, 0 none, UINT64_MAX unlimited (default 2M) */
	bool verbose;
	bool no_sandbox;          /* --no-sandbox: no seccomp filters */
	bool no_hpet;             /* --no-hpet: no HPET, no ACPI HPET table */
};

enum { CONFIG_OK = 0, CONFIG_EXIT = 1, CONFIG_USAGE = -1 };
/* CONFIG_EXIT: --help or --version was printed. CONFIG_USAGE: `why` says what. */
int config_parse(int argc, char **argv, struct config *c, char *why, size_t whylen);
/* "512M", "2G", "1024" (MiB), "64k"...; returns 0 or -1. */
int parse_size(const char *s, uint64_t *out);
/* --rng's RATE: "2M", "64K", "1000" (bytes/s, K/M/G are 1024-based), from 1
 * to 1G; "unlimited" is UINT64_MAX, "none" 0. Returns 0 or -1. */
int parse_rng_rate(const char *s, uint64_t *out);
void config_usage(FILE *f);
#endif
