/* init: modules.dep/modules.alias parsing, load order, options, coldplug. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "init.h"

static const char dep[] =
	"kernel/arch/x86/kvm/kvm-intel.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
	"kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
	"kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\n"
	"kernel/virt/lib/irqbypass.ko:\n"
	"kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko\n"
	"kernel/drivers/usb/host/xhci-hcd.ko: kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko\n"
	"kernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko\n"
	"kernel/drivers/usb/common/usb-common.ko:\n"
	"kernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko kernel/drivers/scsi/scsi_mod.ko\n"
	"kernel/drivers/scsi/scsi_mod.ko:\n"
	"kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko\n"
	"kernel/drivers/gpu/drm/bochs/bochs.ko.xz: kernel/drivers/gpu/drm/drm.ko.xz\n"
	"kernel/drivers/gpu/drm/drm.ko.xz:\n"
	"kernel/drivers/broken.ko:\n"
	"kernel/drivers/uses-broken.ko: kernel/drivers/broken.ko\n";
static const char alias[] =
	"# Aliases extracted from modules themselves.\n"
	"alias cpu:type:x86,ven*fam*mod*:feature:*0085* kvm_intel\n"
	"alias cpu:type:x86,ven*fam*mod*:feature:*00C2* kvm_amd\n"
	"alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci\n"
	"alias usb:v*p*d*dc*dsc*dp*ic08isc06ip50in* usb_storage\n"
	"alias scsi:t-0x00* sd_mod\n"
	"alias scsi:t-0x0e* sd_mod\n"
	"alias fs-vfat vfat\n";

static char order[2048];
static int fail_errno_for_broken = ENOENT;
static const char *sysroot;

static int fake_load(void *ctx, const char *path, const char *params, int flags)
{
	const char *b = strrchr(path, '/') + 1;
	size_t l = strlen(order);
	snprintf(order + l, sizeof(order) - l, "%s%.*s%s%s", l ? " " : "", (int)strcspn(b, "."), b,
		 params[0] ? ":" : "", params);
	if (!strncmp(b, "kvm-intel", 9))
		return -EOPNOTSUPP; /* no VMX: "no such hardware" */
	if (!strncmp(b, "broken", 6))
		return -fail_errno_for_broken;
	if (sysroot && !strncmp(b, "xhci-pci", 8)) {
		/* the USB controller driver makes a USB disk appear, whose driver makes a SCSI disk appear */
		char p[512];
		snprintf(p, sizeof(p), "%s/bus/usb/devices/1-1:1.0", sysroot);
		mkdir(p, 0755);
		strcat(p, "/modalias");
		FILE *f = fopen(p, "w");
		fputs("usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00\n", f);
		fclose(f);
	}
	if (sysroot && !strncmp(b, "usb-storage", 11)) {
		char p[512];
		snprintf(p, sizeof(p), "%s/bus/scsi/devices/0:0:0:0", sysroot);
		mkdir(p, 0755);
		strcat(p, "/modalias");
		FILE *f = fopen(p, "w");
		fputs("scsi:t-0x00\n", f);
		fclose(f);
	}
	return 0;
}

static void db_init(struct mod_db *db, const char *cmdline)
{
	memset(db, 0, sizeof(*db));
	mod_db_parse_dep(db, dep);
	mod_db_parse_alias(db, alias);
	mod_db_parse_builtin(db, "kernel/fs/fat/vfat.ko\n");
	db->dir = strdup("/lib/modules/test");
	db->cmdline = cmdline;
	db->load = fake_load;
	order[0] = 0;
	init_log_level = 0;
}

static void test_names(void)
{
	char n[64];
	mod_name_norm("kernel/arch/x86/kvm/kvm-intel.ko.xz", n, sizeof(n));
	CHECK(!strcmp(n, "kvm_intel"));
	mod_name_norm("virtio-gpu", n, sizeof(n));
	CHECK(!strcmp(n, "virtio_gpu"));
}

static void test_dep_order_right_to_left(void)
{
	struct mod_db db;
	db_init(&db, "");
	struct mod_ent *o[16];
	int n = mod_load_order(&db, "xhci-pci", o, 16);
	CHECK_EQ(n, 4);
	CHECK(!strcmp(o[0]->name, "usb_common"));
	CHECK(!strcmp(o[1]->name, "usbcore"));
	CHECK(!strcmp(o[2]->name, "xhci_hcd"));
	CHECK(!strcmp(o[3]->name, "xhci_pci"));
	CHECK_EQ(mod_load_order(&db, "nonexistent", o, 16), -1);
	mod_db_free(&db);
}

static void test_probe_loads_each_once(void)
{
	struct mod_db db;
	db_init(&db, "");
	CHECK(mod_probe(&db, "kvm_amd") == 3);
	CHECK(!strcmp(order, "irqbypass kvm kvm-amd"));
	/* kvm and irqbypass are shared: loading usb-storage then sd_mod loads scsi_mod once */
	order[0] = 0;
	CHECK_EQ(mod_probe(&db, "usb-storage"), 4);
	CHECK_EQ(mod_probe(&db, "sd_mod"), 1);
	CHECK(!strcmp(order, "scsi_mod usb-common usbcore usb-storage sd_mod"));
	/* already loaded (or EEXIST) is success with nothing new */
	CHECK_EQ(mod_probe(&db, "kvm"), 0);
	CHECK_EQ(db.nloaded, 8);
	mod_db_free(&db);
}

static void test_errors(void)
{
	struct mod_db db;
	db_init(&db, "");
	/* kvm_intel on a CPU without VMX: "no such hardware", not an error */
	CHECK_EQ(mod_probe(&db, "kvm_intel"), 2);
	CHECK_EQ(mod_find(&db, "kvm_intel")->state, MOD_NOHW);
	/* a real failure of a dependency stops its user */
	CHECK_EQ(mod_probe(&db, "uses_broken"), -1);
	CHECK_EQ(mod_find(&db, "uses_broken")->state, MOD_FAILED);
	CHECK(strstr(order, "uses-broken") == NULL);
	/* a built-in module and an alias to it: nothing to load, not an error */
	CHECK_EQ(mod_probe(&db, "fs-vfat"), 0);
	CHECK_EQ(mod_probe(&db, "no-such-thing"), -1);
	/* /proc/modules says it is there */
	mod_db_parse_loaded(&db, "sd_mod 65536 0 - Live 0x0000000000000000\n");
	CHECK_EQ(mod_probe(&db, "sd_mod"), 1); /* only scsi_mod was missing */
	mod_db_free(&db);
}

static void test_options_from_cmdline(void)
{
	char o[256];
	mod_options("quiet kvm-intel.nested=1 kvm_intel.ept=0 kvm.ignore_msrs=1 \"kvm_intel.x=a b\" kvm_intelx.y=2 "
		    "hal.mem=1G kvm_intel.flag", "kvm-intel", o, sizeof(o));
	CHECK(!strcmp(o, "nested=1 ept=0 x=\"a b\" flag"));
	struct mod_db db;
	db_init(&db, "usbcore.autosuspend=-1 modprobe.blacklist=sd-mod,other");
	mod_probe(&db, "usbcore");
	CHECK(!strcmp(order, "usb-common usbcore:autosuspend=-1"));
	CHECK_EQ(mod_probe(&db, "sd_mod"), 0); /* blacklisted */
	CHECK(!strstr(order, "sd_mod"));
	mod_db_free(&db);
}

static void test_compression_flag(void)
{
	CHECK_EQ(mod_init_flags("a/kvm.ko", "xz"), 0);
	CHECK_EQ(mod_init_flags("a/kvm.ko.xz", "xz"), 4);
	CHECK_EQ(mod_init_flags("a/kvm.ko.zst", "zstd"), 4);
	CHECK_EQ(mod_init_flags("a/kvm.ko.xz", ""), -1);   /* 6.1: no in-kernel decompression */
	CHECK_EQ(mod_init_flags("a/kvm.ko.gz", "xz"), -1);
	struct mod_db db;
	db_init(&db, "");
	CHECK_EQ(mod_probe(&db, "bochs"), -1);           /* refused before finit_module */
	strcpy(db.compression, "xz");
	mod_find(&db, "bochs")->state = MOD_UNKNOWN;
	mod_find(&db, "drm")->state = MOD_UNKNOWN;
	CHECK_EQ(mod_probe(&db, "bochs"), 2);
	mod_db_free(&db);
}

static void put(const char *root, const char *rel, const char *text)
{
	char p[512], d[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		snprintf(d, sizeof(d), "%.*s", (int)(s - p), p);
		mkdir(d, 0755);
	}
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
}

static void test_coldplug_until_nothing_new(void)
{
	char root[] = "/tmp/init-coldplug-XXXXXX";
	CHECK(mkdtemp(root));
	put(root, "devices/system/cpu/modalias", "cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0001,00C2,0085\n");
	put(root, "bus/pci/devices/0000:00:04.0/modalias", "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30\n");
	put(root, "bus/pci/devices/0000:00:05.0/modalias", "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00\n");
	mkdir(strcat(strcpy((char[600]){ 0 }, root), "/bus/usb"), 0755);
	mkdir(strcat(strcpy((char[600]){ 0 }, root), "/bus/usb/devices"), 0755);
	mkdir(strcat(strcpy((char[600]){ 0 }, root), "/bus/scsi"), 0755);
	mkdir(strcat(strcpy((char[600]){ 0 }, root), "/bus/scsi/devices"), 0755);
	struct mod_db db;
	db_init(&db, "");
	sysroot = root;
	int n = mod_coldplug(&db, root);
	sysroot = NULL;
	/* kvm_amd (kvm_intel: no VMX), xhci chain, then the USB disk's usb_storage, then sd_mod */
	CHECK(strstr(order, "kvm-amd") != NULL);
	CHECK(strstr(order, "xhci-pci") != NULL);
	CHECK(strstr(order, "usb-storage") != NULL);
	CHECK(strstr(order, "sd_mod") != NULL);
	CHECK(strstr(order, "usb-storage") < strstr(order, "sd_mod"));
	CHECK_EQ(n, db.nloaded);
	order[0] = 0;
	CHECK_EQ(mod_coldplug(&db, root), 0);  /* nothing new: nothing loaded, no rescans */
	CHECK_EQ(order[0], 0);
	mod_db_free(&db);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_EQ(system(cmd), 0);
}

static void test_virt_check(void)
{
	char msg[512];
	CHECK(!strcmp(mod_kvm_module("GenuineIntel"), "kvm_intel"));
	CHECK(!strcmp(mod_kvm_module("AuthenticAMD"), "kvm_amd"));
	CHECK(mod_kvm_module("Foo") == NULL);
	CHECK_EQ(mod_virt_check("GenuineIntel", "processor\t: 0\nflags\t\t: fpu vme vmx sse\n", msg, sizeof(msg)), 1);
	CHECK_EQ(mod_virt_check("GenuineIntel", "processor\t: 0\nflags\t\t: fpu vmxnot sse\n", msg, sizeof(msg)), 0);
	CHECK(strstr(msg, "VT-x") != NULL);
	CHECK_EQ(mod_virt_check("AuthenticAMD", "flags\t: fpu sse\n", msg, sizeof(msg)), 0);
	CHECK(strstr(msg, "AMD-V") != NULL && strstr(msg, "firmware") != NULL);
}

int main(void)
{
	RUN(test_names);
	RUN(test_dep_order_right_to_left);
	RUN(test_probe_loads_each_once);
	RUN(test_errors);
	RUN(test_options_from_cmdline);
	RUN(test_compression_flag);
	RUN(test_coldplug_until_nothing_new);
	RUN(test_virt_check);
	return 0;
}
