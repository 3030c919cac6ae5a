/* --firmware auto's disk label reader (hal/disk/label.c) on disk images built
 * here: protective MBR + GPT + ESP, hybrid disks with BIOS code, MBR-only
 * disks, a FAT superfloppy, garbage, truncated images, bad CRCs. The CRC
 * and the GUID byte order are computed here independently of hal's code. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "disk/label.h"

#define SECTOR 512
#define DISK (1u << 20) /* 1 MiB images: 2048 sectors */

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }
static void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)v); w32(p + 4, (uint32_t)(v >> 32)); }

/* CRC-32 as the UEFI spec defines it for the GPT: bit by bit, reflected. */
static uint32_t crc32_bits(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

/* "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" -> its 16 bytes on disk: the
 * first three fields little endian, the rest as written. */
static void guid(uint8_t out[16], const char *s)
{
	uint8_t b[16];
	int j = 0;
	for (const char *p = s; *p && j < 16; p++) {
		if (*p == '-')
			continue;
		char hex[3] = { p[0], p[1], 0 };
		b[j++] = (uint8_t)strtoul(hex, NULL, 16);
		p++;
	}
	const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	for (int i = 0; i < 16; i++)
		out[i] = b[order[i]];
}

#define ESP_TYPE "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define LINUX_TYPE "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

static void mbr_entry(uint8_t *d, int i, uint8_t type, uint32_t start, uint32_t count)
{
	uint8_t *e = d + 446 + 16 * i;
	e[4] = type;
	w32(e + 8, start);
	w32(e + 12, count);
	w16(d + 510, 0xaa55);
}

/* A GPT (header at LBA 1, nent entries of esize bytes at entries_lba) with
 * one partition of the given type at LBA 64-127; CRCs filled in. */
static void gpt_at(uint8_t *d, const char *type, uint64_t entries_lba, uint32_t nent, uint32_t esize)
{
	uint8_t *h = d + SECTOR, *e = d + entries_lba * SECTOR;
	mbr_entry(d, 0, 0xee, 1, DISK / SECTOR - 1);
	memcpy(h, "EFI PART", 8);
	w32(h + 8, 0x00010000);
	w32(h + 12, 92);
	w64(h + 24, 1);
	w64(h + 32, DISK / SECTOR - 1);
	w64(h + 40, 34);
	w64(h + 48, DISK / SECTOR - 34);
	w64(h + 72, entries_lba);
	w32(h + 80, nent);
	w32(h + 84, esize);
	guid(e, type);
	for (int j = 0; j < 16; j++)
		e[16 + j] = (uint8_t)(0x40 + j);
	w64(e + 32, 64);
	w64(e + 40, 127);
	w32(h + 88, crc32_bits(e, (size_t)nent * esize));
	w32(h + 16, 0);
	w32(h + 16, crc32_bits(h, 92));
}

static uint8_t *gpt_disk(const char *type)
{
	uint8_t *d = calloc(1, DISK);
	gpt_at(d, type, 2, 128, 128);
	return d;
}

static enum disklabel_fw choose(const uint8_t *d, size_t len, struct disklabel *dl, char *why)
{
	disklabel_probe_buf(d, len, dl);
	return disklabel_firmware(dl, why, 160);
}

static void gpt_esp_without_boot_code_is_ovmf(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_OVMF);
	CHECK(dl.protective && dl.gpt && dl.gpt_esp && !dl.boot_code);
	CHECK(!strcmp(why, "GPT with an EFI system partition and no BIOS boot code"));
	CHECK(disklabel_uefi_bootable(&dl));
	free(d);
}

/* What GRUB's boot.img or syslinux's gptmbr.bin leave in front of a GPT:
 * code in the first 440 bytes. One nonzero byte is enough. */
static void hybrid_with_boot_code_is_bios(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	d[0] = 0xeb; /* jmp short */
	d[1] = 0x63;
	d[2] = 0x90;
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(dl.gpt_esp && dl.boot_code);
	CHECK(strstr(why, "BIOS boot code") && !strstr(why, "no BIOS"));
	memset(d, 0, 3);
	d[439] = 1; /* the last byte of the code area */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	d[439] = 0;
	d[440] = 0x12; /* the disk signature is not code */
	d[444] = 0x5a;
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_OVMF);
	free(d);
}

static void gpt_without_esp_is_bios(void)
{
	uint8_t *d = gpt_disk(LINUX_TYPE);
	struct disklabel dl;
	char why[160];
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(dl.gpt && !dl.gpt_esp);
	CHECK(strstr(why, "GPT without an EFI system partition"));
	CHECK(!disklabel_uefi_bootable(&dl));
	free(d);
}

static void gpt_entries_elsewhere_and_larger(void)
{
	uint8_t *d = calloc(1, DISK);
	struct disklabel dl;
	char why[160];
	gpt_at(d, ESP_TYPE, 10, 4, 256);
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_OVMF);
	CHECK(dl.gpt_esp);
	free(d);
	d = calloc(1, DISK);
	gpt_at(d, ESP_TYPE, 2, 128, 100); /* not 128 x 2^n */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!dl.gpt && strstr(dl.gpt_bad, "entries"));
	free(d);
}

static void bad_header_crc_is_bios(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	d[SECTOR + 40] ^= 1; /* FirstUsableLBA changed, CRC not */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(dl.protective && !dl.gpt && !dl.gpt_esp);
	CHECK(!strcmp(dl.gpt_bad, "header CRC mismatch"));
	CHECK(strstr(why, "no valid GPT at LBA 1 (header CRC mismatch)"));
	free(d);
}

static void bad_entries_crc_is_bios(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	d[2 * SECTOR + 56] = 'X'; /* the partition's name, CRC not updated */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!dl.gpt && !strcmp(dl.gpt_bad, "partition entry CRC mismatch"));
	free(d);
}

static void no_efi_part_signature(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	memcpy(d + SECTOR, "EFI TRAP", 8);
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!dl.gpt && strstr(dl.gpt_bad, "EFI PART"));
	free(d);
}

static void truncated_images(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char why[160];
	CHECK_EQ(choose(d, 2 * SECTOR + 1000, &dl, why), DISKLABEL_BIOS); /* ends inside the entries */
	CHECK(dl.protective && !dl.gpt && strstr(dl.gpt_bad, "ends inside the partition entries"));
	CHECK_EQ(choose(d, SECTOR + 100, &dl, why), DISKLABEL_BIOS);      /* ends inside the header */
	CHECK(!strcmp(dl.gpt_bad, "the disk ends before LBA 1"));
	CHECK_EQ(choose(d, 300, &dl, why), DISKLABEL_BIOS);               /* not even one sector */
	CHECK(!dl.sector0 && !strcmp(why, "cannot read its first sector"));
	CHECK_EQ(choose(d, 0, &dl, why), DISKLABEL_BIOS);
	free(d);
}

static void mbr_only_disks(void)
{
	uint8_t *d = calloc(1, DISK);
	struct disklabel dl;
	char why[160];
	mbr_entry(d, 0, 0xef, 2048, 4096); /* what sfdisk writes for "type=ef" */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_OVMF);
	CHECK(dl.mbr_esp && !dl.protective && !dl.boot_code);
	CHECK(!strcmp(why, "MBR with an EFI system partition (type 0xEF) and no BIOS boot code"));
	CHECK(disklabel_uefi_bootable(&dl));
	mbr_entry(d, 1, 0x83, 8192, 4096);
	d[446 + 16] = 0x80; /* an active Linux partition, but no code to start it */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_OVMF);
	d[0] = 0x33; /* xor ax, ax: syslinux's mbr.bin starts so */
	d[1] = 0xc0;
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!strcmp(why, "MBR with BIOS boot code"));
	memset(d, 0, DISK);
	mbr_entry(d, 0, 0x83, 2048, 4096);
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(strstr(why, "no BIOS boot code and no EFI system partition"));
	CHECK(!disklabel_uefi_bootable(&dl));
	free(d);
}

static void fat_superfloppy(void)
{
	uint8_t *d = calloc(1, DISK);
	struct disklabel dl;
	char why[160];
	d[0] = 0xeb, d[1] = 0x3c, d[2] = 0x90;
	memcpy(d + 3, "mkfs.fat", 8);
	w16(d + 11, 512);
	memcpy(d + 54, "FAT16   ", 8);
	d[62] = 0x0e; /* boot code */
	w16(d + 510, 0xaa55);
	d[446 + 4] = 0xee; /* boot code bytes that look like a GPT's 0xEE entry */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(dl.fat && !dl.protective);
	CHECK(strstr(why, "FAT file system"));
	CHECK(disklabel_uefi_bootable(&dl)); /* UEFI reads a whole-disk FAT too */
	free(d);
}

static void garbage(void)
{
	uint8_t *d = malloc(DISK);
	struct disklabel dl;
	char why[160];
	uint32_t x = 12345;
	for (size_t i = 0; i < DISK; i++) {
		x = x * 1103515245 + 12345;
		d[i] = (uint8_t)(x >> 16);
	}
	d[510] = 0; /* random bytes, no boot signature */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!dl.mbr && strstr(why, "no partition table"));
	CHECK(!disklabel_uefi_bootable(&dl));
	d[0] = 0x00; /* not a FAT jump */
	w16(d + 510, 0xaa55);
	d[446 + 4] = 0xee;
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(dl.protective && !dl.gpt);
	memset(d, 0, DISK); /* an empty disk */
	CHECK_EQ(choose(d, DISK, &dl, why), DISKLABEL_BIOS);
	CHECK(!dl.mbr && !dl.boot_code);
	free(d);
}

/* --efivars-dir names a store by the disk: the GPT's disk GUID (what
 * sfdisk's label-id and blkid's PTUUID print) or the MBR's signature. */
static void disk_ids(void)
{
	uint8_t *d = gpt_disk(ESP_TYPE);
	struct disklabel dl;
	char id[48];
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), 0); /* an all-zero GUID is still the header's */
	CHECK(!strcmp(id, "00000000-0000-0000-0000-000000000000"));
	guid(d + SECTOR + 56, "48414C42-4F4F-5400-8000-00000000ABCD"); /* rdroot/mkusb.sh's style */
	w32(d + SECTOR + 16, 0);
	w32(d + SECTOR + 16, crc32_bits(d + SECTOR, 92));
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "48414c42-4f4f-5400-8000-00000000abcd"));
	d[440] = 0x78, d[441] = 0x56, d[442] = 0x34, d[443] = 0x12; /* ignored in front of a GPT */
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "48414c42-4f4f-5400-8000-00000000abcd"));
	d[SECTOR + 60] ^= 1; /* the GUID changed, the CRC not: no GPT, no id */
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), -1);
	CHECK(!strcmp(id, ""));
	memset(d, 0, DISK);
	mbr_entry(d, 0, 0x83, 2048, 4096);
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), -1); /* signature 0: none */
	d[440] = 0x0d, d[441] = 0xf0, d[442] = 0xad, d[443] = 0xde; /* little endian: 0xdeadf00d */
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), 0);
	CHECK(!strcmp(id, "mbr-deadf00d"));
	CHECK_EQ(disklabel_id(&dl, id, 8), 0); /* truncated, still terminated */
	CHECK(!strcmp(id, "mbr-dea"));
	d[510] = 0; /* no boot signature: no MBR */
	disklabel_probe_buf(d, DISK, &dl);
	CHECK_EQ(disklabel_id(&dl, id, sizeof(id)), -1);
	CHECK_EQ(disklabel_id(&dl, id, 0), -1);
	free(d);
}

static void probe_from_a_file(void)
{
	char path[] = "/tmp/hal-disklabel-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	uint8_t *d = gpt_disk(ESP_TYPE);
	CHECK_EQ(write(fd, d, DISK), DISK);
	struct disklabel dl;
	char why[160];
	disklabel_probe_fd(fd, &dl);
	CHECK_EQ(disklabel_firmware(&dl, why, sizeof(why)), DISKLABEL_OVMF);
	CHECK(ftruncate(fd, 2 * SECTOR) == 0); /* the entries are gone */
	disklabel_probe_fd(fd, &dl);
	CHECK_EQ(disklabel_firmware(&dl, why, sizeof(why)), DISKLABEL_BIOS);
	CHECK(strstr(dl.gpt_bad, "ends inside"));
	close(fd);
	free(d);
}

int main(void)
{
	RUN(gpt_esp_without_boot_code_is_ovmf);
	RUN(hybrid_with_boot_code_is_bios);
	RUN(gpt_without_esp_is_bios);
	RUN(gpt_entries_elsewhere_and_larger);
	RUN(bad_header_crc_is_bios);
	RUN(bad_entries_crc_is_bios);
	RUN(no_efi_part_signature);
	RUN(truncated_images);
	RUN(mbr_only_disks);
	RUN(fat_superfloppy);
	RUN(garbage);
	RUN(disk_ids);
	RUN(probe_from_a_file);
	return 0;
}
