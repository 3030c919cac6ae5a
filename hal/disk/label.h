/* What the boot disk's first sectors say about how it boots: the MBR, its
 * BIOS boot code, a GPT and an EFI system partition. `--firmware auto`
 * (docs/usage.md, "Firmware choice") decides from this. */
#ifndef DISKLABEL_H
#define DISKLABEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISKLABEL_SECTOR 512 /* what hal's virtio-blk shows the guest */

struct disklabel {
	bool sector0;         /* the first sector could be read */
	bool mbr;             /* boot signature 0x55AA at offset 510 */
	bool boot_code;       /* a nonzero byte in the MBR's 440-byte code area */
	bool fat;             /* sector 0 is a FAT boot sector: no partition table */
	bool protective;      /* an MBR entry of type 0xEE (GPT follows) */
	bool mbr_esp;         /* an MBR entry of type 0xEF */
	bool gpt;             /* a valid GPT at LBA 1: header and entry array CRCs */
	bool gpt_esp;         /* ... with an EFI system partition */
	char gpt_bad[80];     /* why the GPT at LBA 1 was rejected ("" if it was not) */
	uint8_t gpt_guid[16]; /* the GPT header's disk GUID as stored (valid when gpt) */
	uint32_t mbr_signature; /* the 32-bit disk signature at offset 440 (mbr, not fat) */
};

/* Reads n bytes at off; 0, or -1 when they are not all there. */
typedef int disklabel_read_fn(void *ctx, uint64_t off, void *buf, size_t n);

/* Fills dl from a disk of `size` bytes. Never fails: what cannot be read
 * is simply absent. */
void disklabel_probe(disklabel_read_fn *rd, void *ctx, uint64_t size, struct disklabel *dl);
/* The same over the first len bytes of a disk held in memory, or an open
 * file or block device. */
void disklabel_probe_buf(const uint8_t *buf, size_t len, struct disklabel *dl);
void disklabel_probe_fd(int fd, struct disklabel *dl);

/* True when UEFI firmware finds something to boot: an EFI system
 * partition (GPT or MBR type 0xEF) or a FAT file system on the whole disk. */
bool disklabel_uefi_bootable(const struct disklabel *dl);

/* A name for the disk that stays with it when it moves from port to port:
 * the GPT disk GUID in lowercase canonical text
 * ("48414c42-4f4f-5400-8000-000000000001"), or for an MBR disk (no
 * protective entry) "mbr-" and its disk signature in 8 lowercase hex digits.
 * 0, or -1 (and "") when the disk has neither: no valid GPT, a zero
 * signature, a FAT superfloppy, no label at all. */
int disklabel_id(const struct disklabel *dl, char *buf, size_t n);

enum disklabel_fw { DISKLABEL_BIOS, DISKLABEL_OVMF };
/* The firmware `--firmware auto` boots the disk with; why gets the reason
 * as a phrase ("GPT with an EFI system partition and no BIOS boot code"). */
enum disklabel_fw disklabel_firmware(const struct disklabel *dl, char *why, size_t n);
#endif
