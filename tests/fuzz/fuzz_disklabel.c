/* init's partition-table and filesystem-label readers (init/disk.c): the
 * input is a disk image (a memory-backed source of exactly the input's
 * size; the first byte picks 512 or 4096-byte sectors): MBR with extended
 * partitions, GPT with its entries, FAT/ext4/... superblocks; then the
 * hal.disk spec parser on the input as text; and hal's own reader of
 * the boot disk (hal/disk/label.c: MBR, GPT, the firmware choice and the
 * disk's id) on the same image. */
#include "fuzz.h"
#include "init.h"
#include "disk/label.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	init_log_level = -1;
	struct disk_src src;
	struct disk_mem dm;
	dm.buf = data + 1;
	dm.len = size - 1;
	disk_src_mem(&src, &dm, data[0] & 1 ? 4096 : 512);
	struct disk_fs fs;
	disk_probe_fs(&src, &fs);
	struct disk_part parts[16];
	int pt;
	disk_probe_parts(&src, parts, 16, &pt);
	struct disklabel dl;
	char why[160];
	disklabel_probe_buf(data + 1, size - 1, &dl);
	disklabel_uefi_bootable(&dl);
	disklabel_id(&dl, why, sizeof(why));
	disklabel_firmware(&dl, why, sizeof(why));
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	struct disk_spec spec;
	disk_parse_spec(s, &spec);
	free(s);
	return 0;
}
