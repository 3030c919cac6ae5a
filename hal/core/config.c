/* Command-line parsing, kept apart from main() so it can be unit tested. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/hal.h"

void config_usage(FILE *f)
{
	fprintf(f,
		"usage: hal [options]\n"
		"Boot a guest on a plain virtual PC under KVM.\n\n"
		"  --kernel PATH        boot this Linux bzImage directly\n"
		"  --initrd PATH        initial ramdisk for --kernel\n"
		"  --append STR         kernel command line for --kernel\n"
		"  --disk PATH[,ro][,serial=S][,snapshot][,cache=none|writeback][,if=virtio|ahci]\n"
		"                       a disk: raw image or block device (repeatable; boot order\n"
		"                       is command-line order); snapshot: writes go to a\n"
		"                       temporary layer, the image is not written; cache=none:\n"
		"                       O_DIRECT, the host's page cache bypassed; if=ahci: a\n"
		"                       SATA disk on the AHCI controller (default virtio)\n"
		"  --cdrom PATH         an ATAPI CD/DVD drive on the AHCI controller with this ISO\n"
		"                       image (read-only; repeatable; AHCI has 6 ports for both)\n"
		"  --disk nbd://HOST[:PORT]/EXPORT[,timeout=SECONDS][,reconnect=SECONDS] or\n"
		"         nbd+unix:///EXPORT?socket=PATH[,...]\n"
		"                       a disk on an NBD server (docs/storage.md)\n"
		"  --snapshot           every --disk as with ,snapshot\n"
		"  --firmware auto|bios|ovmf|PATH\n"
		"                       firmware image mapped below 4 GiB and entered at the\n"
		"                       reset vector (bios = Debian's SeaBIOS, ovmf = Debian's\n"
		"                       OVMF_CODE_4M.fd: UEFI). Default auto: ovmf when the first\n"
		"                       disk has an EFI system partition and no BIOS boot code\n"
		"                       in its MBR, else bios (the choice is said on stderr)\n"
		"  --efivars PATH|none  UEFI variable store (flash below the firmware), created\n"
		"                       from OVMF_VARS_4M.fd when missing; default with ovmf:\n"
		"                       DISK.efivars beside the first disk if it is a file. A\n"
		"                       store of the wrong size is refused; a corrupt one is\n"
		"                       kept as PATH.corrupt and a new one made\n"
		"  --efivars-dir DIR    with Debian's OVMF and no --efivars: the store is\n"
		"                       DIR/<id>.efivars, <id> the first disk's GPT disk GUID\n"
		"                       or mbr-<signature> (in memory if it has neither);\n"
		"                       ignored when the firmware is not OVMF\n"
		"  --secure-boot        a new variable store gets Microsoft's Secure Boot keys\n"
		"                       (OVMF_VARS_4M.ms.fd): OVMF boots only signed loaders\n"
		"                       such as Debian's shim; needs UEFI (ovmf or auto)\n"
		"  --boot-menu SECONDS  the firmware waits SECONDS for a key (Esc: SeaBIOS's boot\n"
		"                       menu, OVMF's setup pages) before it boots (default: no wait)\n"
		"  --net bridge=BR|tap=IF|macvtap=IF|user[,hostfwd=tcp::HPORT-:GPORT]|none\n"
		"                       a NIC (repeatable): a new tap on bridge BR, the tap IF,\n"
		"                       a macvtap on IF, or user mode through passt (no root);\n"
		"                       options ,mac=52:54:00:xx:xx:xx ,model=virtio|e1000. The\n"
		"                       default MAC is derived from the first disk (docs/network.md)\n"
		"  --rng RATE|unlimited|none\n"
		"                       a virtio-rng device fed by the host's getrandom(), at most\n"
		"                       RATE bytes/s (K, M suffixes; default 2M)\n"
		"  --smbios host|default|file=PATH\n"
		"                       SMBIOS tables for the firmware: host copies this machine's\n"
		"                       vendor, product, serial and UUID (/sys/class/dmi/id;\n"
		"                       default), default says \"hal\", file= a binary table\n"
		"  --display auto|kms|fb|none\n"
		"                       where the guest's screen goes; auto tries kms, then fb,\n"
		"                       then none (default: auto when started on a Linux text\n"
		"                       console, none elsewhere, e.g. under X or over ssh)\n"
		"  --control PATH       a Unix socket taking commands (docs/usage.md)\n"
		"  --mem SIZE           guest RAM, e.g. 512M, 4G (plain numbers are MiB; default 512M)\n"
		"  --cpus N             virtual CPUs (default 1)\n"
		"  --serial stdio|file:PATH|none\n"
		"                       where COM1 goes (default stdio; on a terminal, Ctrl-A x quits)\n"
		"  --debugcon stdio|file:PATH|none\n"
		"                       where port 0x402 debug output goes (default none)\n"
		"  --entry32            use the kernel's 32-bit entry even if it has a 64-bit one\n"
		"  --no-reboot          exit (status 4) when the guest resets instead of restarting it\n"
		"  --no-hpet            no HPET (0xFED00000) and no ACPI HPET table\n"
		"  --no-sandbox         no seccomp allow-lists on the vCPU and I/O threads\n"
		"                       (docs/security.md)\n"
		"  -v, --verbose        log what hal does\n"
		"  -h, --help           this text\n"
		"  -V, --version        hal's version\n\n"
		"Exit status: 0 guest powered off, 1 error, 2 usage, 3 guest crashed (triple\n"
		"fault; registers are printed), 4 guest reset (with --no-reboot), 5 stopped by a signal or Ctrl-A x.\n");
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 20; /* no suffix: MiB, as QEMU's -m */
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case 'b': case 'B': if (end[1]) return -1; shift = 0; end++; break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || v > (~0ULL >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_rng_rate(const char *s, uint64_t *out)
{
	char *end;
	if (!strcmp(s, "unlimited") || !strcmp(s, "none")) {
		*out = *s == 'u' ? UINT64_MAX : 0;
		return 0;
	}
	errno = 0;
	if (!*s || *s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (errno || *end || !v || v > (1ULL << 30) >> shift)
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_out(const char *s, enum out_kind *k, const char **path)
{
	if (!strcmp(s, "stdio"))
		*k = OUT_STDIO;
	else if (!strcmp(s, "none"))
		*k = OUT_NONE;
	else if (!strncmp(s, "file:", 5) && s[5]) {
		*k = OUT_FILE;
		*path = s + 5;
	} else
		return -1;
	return 0;
}

/* ,if=ahci among a --disk spec's options (the disk layer skips it). */
static enum disk_if disk_iface(const char *spec)
{
	for (const char *o = strchr(spec, ','); o; o = strchr(o + 1, ','))
		if (!strncmp(o + 1, "if=ahci", 7) && (o[8] == ',' || !o[8]))
			return DISK_IF_AHCI;
	return DISK_IF_VIRTIO;
}

#define USAGE(...) do { snprintf(why, whylen, __VA_ARGS__); return CONFIG_USAGE; } while (0)

/* Options that exclude or need each other. */
static int config_check(struct config *c, char *why, size_t whylen)
{
	if (!c->kernel && (c->initrd || c->append))
		USAGE("--initrd and --append need --kernel");
	if (c->kernel && c->firmware)
		USAGE("--kernel and --firmware exclude each other");
	if (c->kernel && c->boot_menu_ms >= 0)
		USAGE("--boot-menu is for firmware boots, not --kernel");
	int ahci = c->ncdroms;
	for (int i = 0; i < c->ndisks; i++)
		ahci += c->disk_if[i] == DISK_IF_AHCI;
	if (ahci > HAL_AHCI_PORTS)
		USAGE("%d AHCI devices (--disk ,if=ahci and --cdrom): the controller has %d ports", ahci, HAL_AHCI_PORTS);
	if (!c->kernel && !c->firmware)
		c->firmware = "auto"; /* pc/firmware.c: from the first disk's label */
	/* with auto, pc/firmware.c refuses it once the disk says bios */
	if (c->efivars && (!c->firmware || !strcmp(c->firmware, "bios")))
		USAGE("--efivars needs --firmware ovmf (or a UEFI firmware image)");
	/* the keys come with Debian's OVMF: a PATH image has its own store */
	if (c->secure_boot && (!c->firmware || (strcmp(c->firmware, "ovmf") && strcmp(c->firmware, "auto"))))
		USAGE("--secure-boot needs --firmware ovmf (Debian's OVMF and its key store)");
	return CONFIG_OK;
}

int config_parse(int argc, char **argv, struct config *c, char *why, size_t whylen)
{
	enum { O_KERNEL = 256, O_INITRD, O_APPEND, O_FIRMWARE, O_MEM, O_CPUS, O_SERIAL, O_DEBUGCON, O_ENTRY32, O_NOREBOOT, O_DISK, O_DISPLAY, O_CONTROL, O_EFIVARS, O_BOOTMENU, O_SECUREBOOT, O_EFIVARSDIR, O_NET, O_NOSANDBOX, O_RNG, O_SMBIOS, O_SNAPSHOT, O_CDROM, O_NOHPET };
	static const struct option opts[] = {
		{ "kernel", required_argument, 0, O_KERNEL }, { "initrd", required_argument, 0, O_INITRD },
		{ "append", required_argument, 0, O_APPEND }, { "firmware", required_argument, 0, O_FIRMWARE },
		{ "mem", required_argument, 0, O_MEM }, { "cpus", required_argument, 0, O_CPUS },
		{ "serial", required_argument, 0, O_SERIAL }, { "debugcon", required_argument, 0, O_DEBUGCON },
		{ "entry32", no_argument, 0, O_ENTRY32 }, { "no-reboot", no_argument, 0, O_NOREBOOT },
		{ "snapshot", no_argument, 0, O_SNAPSHOT }, { "no-hpet", no_argument, 0, O_NOHPET },
		{ "disk", required_argument, 0, O_DISK }, { "display", required_argument, 0, O_DISPLAY },
		{ "control", required_argument, 0, O_CONTROL }, { "efivars", required_argument, 0, O_EFIVARS },
		{ "efivars-dir", required_argument, 0, O_EFIVARSDIR }, { "net", required_argument, 0, O_NET },
		{ "no-sandbox", no_argument, 0, O_NOSANDBOX }, { "rng", required_argument, 0, O_RNG },
		{ "smbios", required_argument, 0, O_SMBIOS }, { "cdrom", required_argument, 0, O_CDROM },
		{ "boot-menu", required_argument, 0, O_BOOTMENU }, { "secure-boot", no_argument, 0, O_SECUREBOOT }, { "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' }, { "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	memset(c, 0, sizeof(*c));
	c->boot_menu_ms = -1;
	c->mem = 512 * MiB;
	c->cpus = 1;
	c->rng_rate = 2 * MiB;
	c->smbios = "host";
	c->serial = OUT_STDIO;
	c->debugcon = OUT_NONE;
	c->display = NULL; /* pc/main.c: auto on a Linux VT, none elsewhere */

	optind = 1;
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":vhV", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case O_KERNEL: c->kernel = optarg; break;
		case O_INITRD: c->initrd = optarg; break;
		case O_APPEND: c->append = optarg; break;
		case O_FIRMWARE: c->firmware = optarg; break;
		case O_EFIVARS: c->efivars = optarg; break;
		/* no firmware check: init passes it without knowing what the disk boots */
		case O_EFIVARSDIR:
			if (!*optarg)
				USAGE("--efivars-dir needs a directory");
			c->efivars_dir = optarg;
			break;
		case O_SECUREBOOT: c->secure_boot = true; break;
		case O_BOOTMENU: {
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 0 || n > 60)
				USAGE("--boot-menu %s: expected seconds from 0 to 60", optarg);
			c->boot_menu_ms = (int)n * 1000;
			break;
		}
		case O_MEM:
			if (parse_size(optarg, &c->mem) < 0)
				USAGE("--mem %s: expected a size such as 512M or 4G", optarg);
			break;
		case O_CPUS: {
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > HAL_MAX_CPUS)
				USAGE("--cpus %s: expected a number from 1 to %d", optarg, HAL_MAX_CPUS);
			c->cpus = (int)n;
			break;
		}
		case O_SERIAL:
			if (parse_out(optarg, &c->serial, &c->serial_path) < 0)
				USAGE("--serial %s: expected stdio, file:PATH or none", optarg);
			break;
		case O_DEBUGCON:
			if (parse_out(optarg, &c->debugcon, &c->debugcon_path) < 0)
				USAGE("--debugcon %s: expected stdio, file:PATH or none", optarg);
			break;
		case O_ENTRY32: c->entry32 = true; break;
		case O_NOREBOOT: c->no_reboot = true; break;
		case O_NOHPET: c->no_hpet = true; break;
		case O_SNAPSHOT: c->snapshot = true; break;
		case O_DISPLAY:
			if (strcmp(optarg, "auto") && strcmp(optarg, "kms") && strcmp(optarg, "fb") && strcmp(optarg, "none"))
				USAGE("--display %s: expected auto, kms, fb or none", optarg);
			c->display = optarg;
			break;
		case O_CONTROL: c->control = optarg; break;
		case O_DISK:
			if (c->ndisks == HAL_MAX_DISKS)
				USAGE("at most %d --disk options", HAL_MAX_DISKS);
			c->disk_if[c->ndisks] = disk_iface(optarg);
			c->boot[c->nboot++] = (struct boot_dev){ false, c->ndisks };
			c->disks[c->ndisks++] = optarg;
			break;
		case O_CDROM:
			if (c->ncdroms == HAL_MAX_CDROMS)
				USAGE("at most %d --cdrom options", HAL_MAX_CDROMS);
			if (!*optarg)
				USAGE("--cdrom needs the path of an ISO image");
			c->boot[c->nboot++] = (struct boot_dev){ true, c->ncdroms };
			c->cdroms[c->ncdroms++] = optarg;
			break;
		case O_NET:
			if (c->nnets == HAL_MAX_NICS)
				USAGE("at most %d --net options", HAL_MAX_NICS);
			c->nets[c->nnets++] = optarg;
			break;
		case O_RNG:
			if (parse_rng_rate(optarg, &c->rng_rate) < 0)
				USAGE("--rng %s: expected bytes/s such as 2M or 64K (at most 1G), unlimited or none", optarg);
			break;
		case O_SMBIOS:
			if (strcmp(optarg, "host") && strcmp(optarg, "default") && (strncmp(optarg, "file=", 5) || !optarg[5]))
				USAGE("--smbios %s: expected host, default or file=PATH", optarg);
			c->smbios = optarg;
			break;
		case O_NOSANDBOX: c->no_sandbox = true; break;
		case 'v': c->verbose = true; break;
		case 'h': config_usage(stdout); return CONFIG_EXIT;
		case 'V': printf("hal %s\n", HAL_VERSION); return CONFIG_EXIT;
		case ':': USAGE("%s needs an argument", argv[optind - 1]);
		default: USAGE("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		USAGE("unexpected argument '%s'", argv[optind]);
	return config_check(c, why, whylen);
}
