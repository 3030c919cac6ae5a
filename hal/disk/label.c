/* The boot disk's label, read the way firmware reads it (UEFI spec 2.10,
 * 5.2 "LBA 0 Format" and 5.3 "GUID Partition Table Disk Layout"): only what
 * `--firmware auto` needs to tell a UEFI-only disk from one SeaBIOS boots. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "disk/label.h"

#define MBR_CODE_SIZE 440     /* then the disk signature, the table, 0x55AA */
#define MBR_TABLE 446
#define GPT_MAX_ENTRIES_BYTES (1u << 20) /* 128 x 128 is usual; refuse silly sizes */

/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B as stored: the first three fields
 * little endian. */
static const uint8_t esp_guid[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
				      0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };

/* A FAT boot sector at LBA 0 (a "superfloppy"): its BPB sits where an
 * MBR's code is, so its "partition table" is boot code, not partitions.
 * Microsoft's FAT specification: BPB_BytsPerSec at 11, BS_FilSysType at 54
 * (FAT12/16) or 82 (FAT32). */
static bool is_fat(const uint8_t *s)
{
	uint16_t bps = get_le16(s + 11);
	return (s[0] == 0xeb || s[0] == 0xe9) && bps >= 512 && bps <= 4096 && !(bps & (bps - 1)) &&
	       (!memcmp(s + 54, "FAT", 3) || !memcmp(s + 82, "FAT", 3));
}

#define BAD(...) do { snprintf(dl->gpt_bad, sizeof(dl->gpt_bad), __VA_ARGS__); return; } while (0)

/* The primary GPT only: a disk whose primary is damaged but whose backup is
 * good is rare enough to be left to --firmware ovmf. The header (UEFI 5.3.2):
 * HeaderSize 12, HeaderCRC32 16, MyLBA 24, DiskGUID 56, PartitionEntryLBA
 * 72, NumberOfPartitionEntries 80, SizeOfPartitionEntry 84,
 * PartitionEntryArrayCRC32 88; an entry (5.3.3): PartitionTypeGUID 0,
 * StartingLBA 32, EndingLBA 40. */
static void probe_gpt(disklabel_read_fn *rd, void *ctx, uint64_t size, struct disklabel *dl)
{
	uint8_t h[DISKLABEL_SECTOR];
	if (rd(ctx, DISKLABEL_SECTOR, h, sizeof(h)) < 0)
		BAD("the disk ends before LBA 1");
	if (memcmp(h, "EFI PART", 8))
		BAD("no \"EFI PART\" signature");
	uint32_t hsize = get_le32(h + 12), hcrc = get_le32(h + 16);
	if (hsize < 92 || hsize > sizeof(h))
		BAD("header size %u", hsize);
	memset(h + 16, 0, 4); /* the CRC is computed with its own field zero */
	if (crc32_ieee(0, h, hsize) != hcrc)
		BAD("header CRC mismatch");
	if (get_le64(h + 24) != 1)
		BAD("the header says it is at LBA %llu", (unsigned long long)get_le64(h + 24));
	uint64_t lba = get_le64(h + 72);
	uint32_t n = get_le32(h + 80), esize = get_le32(h + 84), ecrc = get_le32(h + 88);
	if (esize < 128 || (esize & (esize - 1)) || (uint64_t)n * esize > GPT_MAX_ENTRIES_BYTES)
		BAD("%u partition entries of %u bytes", n, esize);
	if (lba < 2 || lba > size / DISKLABEL_SECTOR)
		BAD("partition entries at LBA %llu", (unsigned long long)lba);
	size_t len = (size_t)n * esize;
	uint8_t *e = malloc(len ? len : 1);
	if (!e)
		BAD("out of memory");
	if (rd(ctx, lba * DISKLABEL_SECTOR, e, len) < 0) {
		free(e);
		BAD("the disk ends inside the partition entries");
	}
	if (crc32_ieee(0, e, len) != ecrc) {
		free(e);
		BAD("partition entry CRC mismatch");
	}
	dl->gpt = true;
	memcpy(dl->gpt_guid, h + 56, 16); /* DiskGUID */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = e + (size_t)i * esize;
		if (!memcmp(p, esp_guid, 16) && get_le64(p + 32) <= get_le64(p + 40))
			dl->gpt_esp = true;
	}
	free(e);
}

void disklabel_probe(disklabel_read_fn *rd, void *ctx, uint64_t size, struct disklabel *dl)
{
	uint8_t s[DISKLABEL_SECTOR];
	memset(dl, 0, sizeof(*dl));
	if (size < sizeof(s) || rd(ctx, 0, s, sizeof(s)) < 0)
		return;
	dl->sector0 = true;
	dl->mbr = get_le16(s + 510) == 0xaa55;
	for (int i = 0; i < MBR_CODE_SIZE; i++)
		dl->boot_code |= s[i] != 0;
	if (!dl->mbr)
		return;
	if (is_fat(s)) {
		dl->fat = true;
		return;
	}
	dl->mbr_signature = get_le32(s + MBR_CODE_SIZE);
	for (int i = 0; i < 4; i++) {
		uint8_t type = s[MBR_TABLE + 16 * i + 4]; /* OSType (UEFI 5.2.1) */
		dl->protective |= type == 0xee;
		dl->mbr_esp |= type == 0xef;
	}
	if (dl->protective)
		probe_gpt(rd, ctx, size, dl);
}

struct membuf { const uint8_t *p; size_t len; };

static int mem_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	const struct membuf *m = ctx;
	if (off > m->len || n > m->len - off)
		return -1;
	memcpy(buf, m->p + off, n);
	return 0;
}

void disklabel_probe_buf(const uint8_t *buf, size_t len, struct disklabel *dl)
{
	struct membuf m = { buf, len };
	disklabel_probe(mem_read, &m, len, dl);
}

static int fd_read(void *ctx, uint64_t off, void *buf, size_t n)
{
	return hal_pread_all(*(int *)ctx, buf, n, off);
}

void disklabel_probe_fd(int fd, struct disklabel *dl)
{
	off_t size = lseek(fd, 0, SEEK_END); /* block devices too */
	disklabel_probe(fd_read, &fd, size > 0 ? (uint64_t)size : 0, dl);
}

int disklabel_id(const struct disklabel *dl, char *buf, size_t n)
{
	const uint8_t *g = dl->gpt_guid;
	if (dl->gpt) {
		/* the first three fields are stored little endian, the rest as printed */
		snprintf(buf, n, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", get_le32(g), get_le16(g + 4),
			 get_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
		return 0;
	}
	/* A protective MBR without a valid GPT is not an MBR disk; a zero
	 * signature is what Windows and fdisk treat as "none" and what many
	 * images share, so it names nothing. */
	if (dl->mbr && !dl->fat && !dl->protective && dl->mbr_signature) {
		snprintf(buf, n, "mbr-%08x", dl->mbr_signature);
		return 0;
	}
	if (n)
		buf[0] = 0;
	return -1;
}

bool disklabel_uefi_bootable(const struct disklabel *dl)
{
	return (dl->gpt && dl->gpt_esp) || (!dl->protective && dl->mbr_esp) || dl->fat;
}

enum disklabel_fw disklabel_firmware(const struct disklabel *dl, char *why, size_t n)
{
	const char *code = dl->boot_code ? "BIOS boot code" : "no BIOS boot code";
	if (!dl->sector0) {
		snprintf(why, n, "cannot read its first sector");
	} else if (!dl->mbr) {
		snprintf(why, n, "no partition table (no 0x55AA boot signature)");
	} else if (dl->fat) {
		snprintf(why, n, "a FAT file system with BIOS boot code and no partition table");
	} else if (dl->protective && !dl->gpt) {
		snprintf(why, n, "protective MBR, but no valid GPT at LBA 1 (%s)", dl->gpt_bad);
	} else if (dl->protective && dl->gpt_esp) {
		/* Hybrid disks (GRUB's boot.img or syslinux's gptmbr.bin in front of
		 * a GPT with an ESP) boot both ways; whoever put BIOS code there
		 * asked for SeaBIOS. */
		snprintf(why, n, "GPT with an EFI system partition and %s", code);
		return dl->boot_code ? DISKLABEL_BIOS : DISKLABEL_OVMF;
	} else if (dl->protective) {
		snprintf(why, n, "GPT without an EFI system partition, %s", code);
	} else if (dl->mbr_esp && !dl->boot_code) {
		/* without code in the MBR no BIOS gets anywhere: the ESP is the way */
		snprintf(why, n, "MBR with an EFI system partition (type 0xEF) and no BIOS boot code");
		return DISKLABEL_OVMF;
	} else if (dl->boot_code) {
		snprintf(why, n, "MBR with BIOS boot code");
	} else {
		snprintf(why, n, "MBR with no BIOS boot code and no EFI system partition");
	}
	return DISKLABEL_BIOS;
}
