/* init: partition tables and filesystem labels on disk images built in memory,
 * and guest disk discovery on a fake /sys + /dev. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "init.h"

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }
static void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)v); w32(p + 4, (uint32_t)(v >> 32)); }

/* GPT with partitions named as given, 1 MiB each from LBA 2048. */
static uint8_t *make_gpt(size_t *len, const char *const *names, int n)
{
	*len = 8 << 20;
	uint8_t *d = calloc(1, *len);
	d[446 + 4] = 0xEE; /* protective MBR */
	w32(d + 446 + 8, 1);
	w32(d + 446 + 12, 0xFFFFFFFF);
	w16(d + 510, 0xAA55);
	uint8_t *h = d + 512;
	memcpy(h, "EFI PART", 8);
	w64(h + 72, 2);
	w32(h + 80, 128);
	w32(h + 84, 128);
	for (int i = 0; i < n; i++) {
		uint8_t *e = d + 1024 + 128 * i;
		static const uint8_t linux_fs[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
						      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };
		memcpy(e, linux_fs, 16);
		for (int j = 0; j < 16; j++)
			e[16 + j] = (uint8_t)(0x10 * i + j);
		w64(e + 32, 2048 + 2048 * (uint64_t)i);
		w64(e + 40, 2048 + 2048 * (uint64_t)i + 2047);
		for (int j = 0; names[i][j]; j++)
			w16(e + 56 + 2 * j, (uint8_t)names[i][j]);
	}
	return d;
}

static void test_gpt_partlabel_partuuid(void)
{
	const char *names[] = { "HALBOOT", "GUEST" };
	size_t len;
	uint8_t *img = make_gpt(&len, names, 2);
	struct disk_mem m = { img, len };
	struct disk_src s;
	disk_src_mem(&s, &m, 512);
	struct disk_part p[8];
	int pt;
	CHECK_EQ(disk_probe_parts(&s, p, 8, &pt), 2);
	CHECK_EQ(pt, DISK_PT_GPT);
	CHECK_EQ(p[1].num, 2);
	CHECK(!strcmp(p[1].partlabel, "GUEST"));
	/* mixed-endian GUID, as blkid/lsblk print PARTUUID */
	CHECK(!strcmp(p[1].partuuid, "13121110-1514-1716-1819-1a1b1c1d1e1f"));
	CHECK(!strcmp(p[0].type, "0fc63daf-8483-4772-8e79-3d69d8477de4"));
	CHECK_EQ(p[1].start, 4096);
	CHECK_EQ(p[1].size, 2048);
	free(img);
}

static void test_mbr_partuuid(void)
{
	size_t len = 1 << 20;
	uint8_t *d = calloc(1, len);
	w32(d + 0x1B8, 0x1234abcd);
	d[446 + 16 + 0] = 0x80;
	d[446 + 16 + 4] = 0x83;
	w32(d + 446 + 16 + 8, 2048);
	w32(d + 446 + 16 + 12, 100);
	w16(d + 510, 0xAA55);
	struct disk_mem m = { d, len };
	struct disk_src s;
	disk_src_mem(&s, &m, 512);
	struct disk_part p[8];
	int pt;
	CHECK_EQ(disk_probe_parts(&s, p, 8, &pt), 1);
	CHECK_EQ(pt, DISK_PT_MBR);
	CHECK_EQ(p[0].num, 2);
	CHECK(!strcmp(p[0].partuuid, "1234abcd-02"));
	free(d);
}

static uint8_t *make_fat32(size_t *len, const char *label)
{
	*len = 64 << 10;
	uint8_t *d = calloc(1, *len);
	d[0] = 0xEB; d[1] = 0x58; d[2] = 0x90;
	memcpy(d + 3, "mkfs.fat", 8);
	w16(d + 11, 512);
	d[0x42] = 0x29;
	w32(d + 0x43, 0xA1B2C3D4);
	memcpy(d + 0x47, label, 11);
	memcpy(d + 0x52, "FAT32   ", 8);
	w16(d + 510, 0xAA55);
	return d;
}

static void test_fat_label_uuid(void)
{
	size_t len;
	uint8_t *d = make_fat32(&len, "HALBOOT    ");
	struct disk_mem m = { d, len };
	struct disk_src s;
	disk_src_mem(&s, &m, 512);
	struct disk_fs fs;
	CHECK_EQ(disk_probe_fs(&s, &fs), 0);
	CHECK(!strcmp(fs.type, "vfat"));
	CHECK(!strcmp(fs.label, "HALBOOT"));
	CHECK(!strcmp(fs.uuid, "A1B2-C3D4"));
	/* a FAT boot sector is not an MBR partition table */
	struct disk_part p[4];
	int pt;
	CHECK_EQ(disk_probe_parts(&s, p, 4, &pt), 0);
	CHECK_EQ(pt, DISK_PT_NONE);
	free(d);
	/* FAT16, no label */
	d = calloc(1, 4096);
	memcpy(d + 0x36, "FAT16   ", 8);
	d[0x26] = 0x29;
	w32(d + 0x27, 0x00010002);
	memcpy(d + 0x2B, "NO NAME    ", 11);
	w16(d + 510, 0xAA55);
	m = (struct disk_mem){ d, 4096 };
	CHECK_EQ(disk_probe_fs(&s, &fs), 0);
	CHECK(!strcmp(fs.label, ""));
	CHECK(!strcmp(fs.uuid, "0001-0002"));
	free(d);
}

static void test_ext4_label_uuid(void)
{
	size_t len = 8192;
	uint8_t *d = calloc(1, len), *sb = d + 1024;
	w16(sb + 56, 0xEF53);
	w32(sb + 92, 4);           /* has_journal */
	w32(sb + 96, 0x40 | 0x2);  /* extents, filetype */
	for (int i = 0; i < 16; i++)
		sb[104 + i] = (uint8_t)(0xf0 + i);
	memcpy(sb + 120, "guest-root", 10);
	struct disk_mem m = { d, len };
	struct disk_src s;
	disk_src_mem(&s, &m, 512);
	struct disk_fs fs;
	CHECK_EQ(disk_probe_fs(&s, &fs), 0);
	CHECK(!strcmp(fs.type, "ext4"));
	CHECK(!strcmp(fs.label, "guest-root"));
	CHECK(!strcmp(fs.uuid, "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff"));
	w32(sb + 96, 0x2);
	CHECK_EQ(disk_probe_fs(&s, &fs), 0);
	CHECK(!strcmp(fs.type, "ext3"));
	memset(d, 0, len); /* nothing there */
	CHECK_EQ(disk_probe_fs(&s, &fs), -1);
	free(d);
}

static void test_iso9660(void)
{
	size_t len = 0x8000 + 4096;
	uint8_t *d = calloc(1, len), *pvd = d + 0x8000;
	pvd[0] = 1;
	memcpy(pvd + 1, "CD001", 5);
	memset(pvd + 40, ' ', 32);
	memcpy(pvd + 40, "HAL_INSTALL", 11);
	memcpy(pvd + 813, "2024061512304500", 16);
	struct disk_mem m = { d, len };
	struct disk_src s;
	disk_src_mem(&s, &m, 512);
	struct disk_fs fs;
	CHECK_EQ(disk_probe_fs(&s, &fs), 0);
	CHECK(!strcmp(fs.type, "iso9660"));
	CHECK(!strcmp(fs.label, "HAL_INSTALL"));
	CHECK(!strcmp(fs.uuid, "2024-06-15-12-30-45-00"));
	free(d);
}

static void test_spec_parse(void)
{
	struct disk_spec sp;
	CHECK_EQ(disk_parse_spec("PARTLABEL=GUEST", &sp), 0);
	CHECK_EQ(sp.kind, DISK_PARTLABEL);
	CHECK(!strcmp(sp.value, "GUEST") && !sp.ro);
	CHECK_EQ(disk_parse_spec("uuid=A1B2-C3D4,ro", &sp), 0);
	CHECK_EQ(sp.kind, DISK_UUID);
	CHECK(!strcmp(sp.value, "A1B2-C3D4") && sp.ro);
	CHECK_EQ(disk_parse_spec("/dev/nvme0n1p3", &sp), 0);
	CHECK_EQ(sp.kind, DISK_PATH);
	CHECK_EQ(disk_parse_spec("SERIAL=QM00001", &sp), 0);
	CHECK_EQ(sp.kind, DISK_SERIAL);
	CHECK_EQ(disk_parse_spec("sda", &sp), -1);
	CHECK_EQ(disk_parse_spec("LABEL=", &sp), -1);
}

/* NBD exports: no search, the URL kept apart from hal's options. */
static void test_spec_parse_nbd(void)
{
	struct disk_spec sp;
	CHECK_EQ(disk_parse_spec("nbd://nbd.lan/guest", &sp), 0);
	CHECK_EQ(sp.kind, DISK_NBD);
	CHECK(!strcmp(sp.value, "nbd://nbd.lan/guest") && sp.tcp && !sp.ro);
	CHECK_EQ(disk_parse_spec("nbd://10.0.0.5:10809/guest,snapshot,ro,timeout=5", &sp), 0);
	CHECK(!strcmp(sp.value, "nbd://10.0.0.5:10809/guest") && sp.tcp && sp.ro);
	CHECK_EQ(disk_parse_spec("nbd+unix:///guest?socket=/run/nbd.sock,ro", &sp), 0);
	CHECK_EQ(sp.kind, DISK_NBD);
	CHECK(!strcmp(sp.value, "nbd+unix:///guest?socket=/run/nbd.sock") && !sp.tcp && sp.ro);
	CHECK(disk_spec_is_nbd("nbd://h/e") && disk_spec_is_nbd("nbd+unix:///e?socket=/s"));
	CHECK(!disk_spec_is_nbd("/dev/nbd0") && !disk_spec_is_nbd("LABEL=nbd://"));
	CHECK_EQ(disk_parse_spec("nbd:///guest", &sp), -1);               /* no host */
	CHECK_EQ(disk_parse_spec("nbd+unix:///guest", &sp), -1);          /* no socket */
	CHECK_EQ(disk_parse_spec("nbd+unix:///guest?socket=", &sp), -1);
	CHECK_EQ(disk_parse_spec("nbd+unix://host/guest?socket=/s", &sp), -1);
	CHECK_EQ(disk_parse_spec("nbd://h/guest,part", &sp), -1);         /* an export has no partitions here */
	CHECK_EQ(disk_parse_spec("nbd://h/guest,,ro", &sp), -1);
}

/* ---- discovery on a fake sysfs + /dev with image files ---- */

static void put(const char *root, const char *rel, const void *data, size_t n)
{
	char p[600], d[600];
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = strchr(p + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
		snprintf(d, sizeof(d), "%.*s", (int)(s - p), p);
		mkdir(d, 0755);
	}
	FILE *f = fopen(p, "w");
	fwrite(data, 1, n, f);
	fclose(f);
}
#define PUTS(root, rel, s) put(root, rel, s, strlen(s))

/* sda: the boot stick (GPT: HALBOOT FAT + GUEST partition); vda: virtio disk
 * with serial and an ext4 labelled "data"; vdb: ext4 labelled "data" too. */
static void make_tree(const char *root)
{
	const char *names[] = { "HALBOOT", "GUEST" };
	size_t len, flen;
	uint8_t *sda = make_gpt(&len, names, 2), *fat = make_fat32(&flen, "HALBOOT    ");
	memcpy(sda + 2048 * 512, fat, flen);
	char sys[600], dev[600];
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	put(dev, "sda", sda, len);
	put(dev, "sda1", sda + 2048 * 512, 1 << 20);
	put(dev, "sda2", sda + 4096 * 512, 1 << 20);
	PUTS(sys, "block/sda/size", "16384\n");
	PUTS(sys, "block/sda/dev", "8:0\n");
	PUTS(sys, "block/sda/sda1/partition", "1\n");
	PUTS(sys, "block/sda/sda1/dev", "8:1\n");
	PUTS(sys, "block/sda/sda2/partition", "2\n");
	PUTS(sys, "block/sda/sda2/dev", "8:2\n");
	uint8_t ext[4096] = { 0 };
	w16(ext + 1024 + 56, 0xEF53);
	memcpy(ext + 1024 + 120, "data", 4);
	put(dev, "vda", ext, sizeof(ext));
	PUTS(sys, "block/vda/size", "8\n");
	PUTS(sys, "block/vda/dev", "254:0\n");
	PUTS(sys, "block/vda/serial", "GUEST-SERIAL-1\n");
	put(dev, "vdb", ext, sizeof(ext));
	PUTS(sys, "block/vdb/size", "8\n");
	PUTS(sys, "block/vdb/dev", "254:16\n");
	PUTS(sys, "block/loop0/size", "0\n");
	/* sdb: a guest disk whose only partition is named GUESTPART */
	const char *gnames[] = { "GUESTPART" };
	size_t glen;
	uint8_t *sdb = make_gpt(&glen, gnames, 1);
	put(dev, "sdb", sdb, glen);
	put(dev, "sdb1", sdb + 2048 * 512, 1 << 20);
	PUTS(sys, "block/sdb/size", "16384\n");
	PUTS(sys, "block/sdb/dev", "8:16\n");
	PUTS(sys, "block/sdb/sdb1/partition", "1\n");
	PUTS(sys, "block/sdb/sdb1/dev", "8:17\n");
	free(sdb);
	free(sda);
	free(fat);
}

static void test_discovery_and_boot_disk_rule(void)
{
	char root[] = "/tmp/init-disk-XXXXXX", sys[600], dev[600], path[300], msg[512];
	CHECK(mkdtemp(root));
	make_tree(root);
	snprintf(sys, sizeof(sys), "%s/sys", root);
	snprintf(dev, sizeof(dev), "%s/dev", root);
	struct disk_scan sc;
	CHECK_EQ(disk_scan(&sc, sys, dev), 0);
	CHECK_EQ(sc.n, 7); /* sda sda1 sda2 sdb sdb1 vda vdb; empty loop0 skipped */
	CHECK(disk_is_boot(&sc, "sda"));
	CHECK(!disk_is_boot(&sc, "vda"));
	struct disk_spec sp;
	/* a partition on the boot stick is refused, with a reason */
	disk_parse_spec("PARTLABEL=GUEST", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), -EPERM);
	CHECK(strstr(msg, "sda2") && strstr(msg, "booted from"));
	/* the serial picks the virtio disk */
	disk_parse_spec("SERIAL=GUEST-SERIAL-1", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), 0);
	CHECK(!strcmp(path, "/dev/vda"));
	/* a partition's name gives the guest the whole disk it is on, so
	 * firmware finds the boot sector; ",part" asks for the partition */
	disk_parse_spec("PARTLABEL=GUESTPART", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), 0);
	CHECK(!strcmp(path, "/dev/sdb"));
	CHECK_EQ(disk_parse_spec("PARTLABEL=GUESTPART,part,ro", &sp), 0);
	CHECK(sp.part && sp.ro && !strcmp(sp.value, "GUESTPART"));
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), 0);
	CHECK(!strcmp(path, "/dev/sdb1"));
	/* two disks with the same label: refuse to guess */
	disk_parse_spec("LABEL=data", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), -EEXIST);
	CHECK(strstr(msg, "vda") && strstr(msg, "vdb"));
	/* not there (yet): the caller keeps waiting */
	disk_parse_spec("LABEL=nothing", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), -ENOENT);
	/* the HALBOOT FAT itself by UUID */
	disk_parse_spec("UUID=a1b2-c3d4", &sp);
	CHECK_EQ(disk_find(&sc, &sp, "/dev", path, sizeof(path), msg, sizeof(msg)), -EPERM);
	/* what init mounts on /boot for the UEFI variable stores: the FAT
	 * labelled HALBOOT (sda1), not the disk nor the partition named so */
	const struct disk_dev *b = disk_find_boot_fs(&sc);
	CHECK(b && !strcmp(b->name, "sda1"));
	disk_scan_free(&sc);
	struct disk_dev none[2] = { { .name = "sdc", .whole = true }, { .name = "sdc1" } };
	strcpy(none[1].fs.type, "ext4");
	strcpy(none[1].fs.label, "HALBOOT"); /* the label, but not FAT */
	struct disk_scan sc2 = { none, 2 };
	CHECK(disk_find_boot_fs(&sc2) == NULL);
	strcpy(none[0].fs.type, "vfat"); /* a superfloppy stick */
	strcpy(none[0].fs.label, "halboot");
	CHECK(disk_find_boot_fs(&sc2) == &none[0]);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_EQ(system(cmd), 0);
}

int main(void)
{
	init_log_level = 0;
	RUN(test_gpt_partlabel_partuuid);
	RUN(test_mbr_partuuid);
	RUN(test_fat_label_uuid);
	RUN(test_ext4_label_uuid);
	RUN(test_iso9660);
	RUN(test_spec_parse);
	RUN(test_spec_parse_nbd);
	RUN(test_discovery_and_boot_disk_rule);
	return 0;
}
