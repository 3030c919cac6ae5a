/* The UEFI variable store: CFI flash just below the firmware image.
 * Loaded once (it outlives guest resets, as flash does); each boot maps it
 * afresh. Backed by a file (writes go through) or, without one, by memory
 * (variables last until hal exits).
 * A store file is never replaced or truncated without a word: one of the
 * wrong size is refused and left alone, a corrupt one is kept beside as
 * PATH.corrupt before a fresh copy of the template takes its place. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "disk/disk.h"
#include "disk/label.h"
#include "hw/pflash.h"
#include "pc/efivars.h"

/* ---- the store's format (PI spec vol. 3, EFI_FIRMWARE_VOLUME_HEADER; EDK2's
 * VARIABLE_STORE_HEADER), checked the way OVMF checks it before it would
 * reinitialize the flash itself ------------------------------------------ */

#define FV_LENGTH      32 /* UINT64 FvLength */
#define FV_SIGNATURE   40 /* "_FVH" */
#define FV_HDR_LENGTH  48 /* UINT16 HeaderLength */
#define FV_REVISION    55 /* 2 */
#define FV_BLOCK_MAP   56 /* {NumBlocks, Length} pairs ending in {0, 0} */
#define VS_HDR_SIZE    28 /* GUID, UINT32 Size, Format, State, reserved */
#define VS_FORMATTED   0x5a
#define VS_HEALTHY     0xfe

/* gEfiAuthenticatedVariableGuid (AAF32C78-947B-439A-A180-2E144EC37792) and
 * gEfiVariableGuid (DDCF3616-3275-4164-98B6-FE85707FFE7D), as stored. */
static const uint8_t auth_var_guid[16] = { 0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43,
					   0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92 };
static const uint8_t var_guid[16] = { 0x16, 0x36, 0xcf, 0xdd, 0x75, 0x32, 0x64, 0x41,
				      0x98, 0xb6, 0xfe, 0x85, 0x70, 0x7f, 0xfe, 0x7d };

#define BAD(...) do { snprintf(why, n, __VA_ARGS__); return -1; } while (0)

int efivars_check(const uint8_t *img, size_t size, char *why, size_t n)
{
	if (size < FV_BLOCK_MAP + 16 + VS_HDR_SIZE)
		BAD("%zu bytes is too small for a firmware volume", size);
	if (memcmp(img + FV_SIGNATURE, "_FVH", 4))
		BAD("no \"_FVH\" firmware volume signature at offset %d", FV_SIGNATURE);
	if (get_le64(img + FV_LENGTH) != size)
		BAD("the firmware volume header says %llu bytes, the file has %zu",
		    (unsigned long long)get_le64(img + FV_LENGTH), size);
	if (img[FV_REVISION] != 2)
		BAD("firmware volume revision %u, not 2", img[FV_REVISION]);
	size_t hlen = get_le16(img + FV_HDR_LENGTH);
	if (hlen < FV_BLOCK_MAP + 16 || hlen % 2 || hlen + VS_HDR_SIZE > size)
		BAD("firmware volume header length %zu", hlen);
	uint16_t sum = 0; /* of the header's 16-bit words, its Checksum field included */
	for (size_t i = 0; i < hlen; i += 2)
		sum = (uint16_t)(sum + get_le16(img + i));
	if (sum)
		BAD("firmware volume header checksum mismatch");
	const uint8_t *vs = img + hlen;
	if (memcmp(vs, auth_var_guid, 16) && memcmp(vs, var_guid, 16))
		BAD("no variable store signature after the firmware volume header");
	if (get_le32(vs + 16) < VS_HDR_SIZE || get_le32(vs + 16) > size - hlen)
		BAD("variable store size %u does not fit the file", get_le32(vs + 16));
	if (vs[20] != VS_FORMATTED || vs[21] != VS_HEALTHY)
		BAD("variable store header not formatted and healthy (0x%02x 0x%02x)", vs[20], vs[21]);
	return 0;
}

/* EFI_GLOBAL_VARIABLE (8BE4DF61-93CA-11D2-AA0D-00E098032B8C), as stored. */
static const uint8_t global_guid[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };

/* EDK2's variable headers (VariableFormat.h): StartId 0x55AA, State,
 * reserved, Attributes, then (authenticated only) MonotonicCount,
 * TimeStamp, PubKeyIndex; then NameSize, DataSize, VendorGuid; the name and
 * the data follow, the next header 4-byte aligned. A variable is live in
 * state VAR_ADDED (0x3F), or 0x3E while a newer copy is being written. */
bool efivars_has_pk(const uint8_t *img, size_t size)
{
	size_t hlen = get_le16(img + FV_HDR_LENGTH), off = hlen + VS_HDR_SIZE;
	bool auth = !memcmp(img + hlen, auth_var_guid, 16);
	size_t hdr = auth ? 60 : 32, sizes = auth ? 36 : 8; /* where NameSize is */
	size_t end = hlen + get_le32(img + hlen + 16);
	if (end > size)
		end = size;
	while (off + hdr <= end && get_le16(img + off) == 0x55aa) {
		const uint8_t *v = img + off;
		uint64_t name = get_le32(v + sizes), data = get_le32(v + sizes + 4);
		if (name > end - off - hdr || data > end - off - hdr - name)
			break; /* a header that runs past the store: nothing after it counts */
		if ((v[2] == 0x3f || v[2] == 0x3e) && name == 6 && !memcmp(v + sizes + 8, global_guid, 16) &&
		    !memcmp(v + hdr, "P\0K\0\0\0", 6))
			return true;
		off = (off + hdr + name + data + 3) & ~(size_t)3;
	}
	return false;
}

/* ---- the store file --------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* A new store at path holding tmpl's bytes (t, tsize; owned from here on). */
static int create_store(const char *path, const char *tmpl, uint8_t *t, size_t tsize, uint8_t **img, size_t *size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err("cannot create UEFI variable store %s: %s", path, strerror(errno));
		free(t);
		return -1;
	}
	if (write_all(fd, t, tsize) < 0 || fdatasync(fd) < 0) {
		err("cannot write UEFI variable store %s: %s", path, strerror(errno ? errno : ENOSPC));
		close(fd);
		unlink(path);
		free(t);
		return -1;
	}
	hal_log(NULL, "UEFI variables: created %s from %s", path, tmpl);
	*img = t;
	*size = tsize;
	return fd;
}

/* Moves a corrupt store aside to the first free PATH.corrupt[.N]. */
static int keep_corrupt(const char *path, char *old, size_t n)
{
	struct stat st;
	for (int i = 0; i < 1000; i++) {
		int len = i ? snprintf(old, n, "%s.corrupt.%d", path, i) : snprintf(old, n, "%s.corrupt", path);
		if (len < 0 || (size_t)len >= n) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (lstat(old, &st) == 0)
			continue;
		if (errno != ENOENT)
			return -1;
		return rename(path, old);
	}
	errno = EEXIST;
	return -1;
}

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISBLK(m) ? "a block device" : S_ISCHR(m) ? "a character device" :
	       S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int efivars_open(const char *path, const char *tmpl, uint8_t **img, size_t *size)
{
	uint8_t *t = NULL, *s = NULL;
	size_t tsize = 0, ssize;
	struct stat st, tst;
	char why[160];
	int fd = -1;
	*img = NULL;
	if (tmpl) {
		if (!(t = hal_read_file("UEFI variable template", tmpl, 16 * MiB, &tsize)))
			return -1;
		if (efivars_check(t, tsize, why, sizeof(why)) < 0) {
			err("UEFI variable template %s is not a variable store: %s", tmpl, why);
			goto fail;
		}
	}
	if (stat(path, &st) < 0) {
		if (errno == ENOENT && tmpl) /* first use: a copy of the firmware's empty store */
			return create_store(path, tmpl, t, tsize, img, size);
		if (errno == ENOENT)
			err("UEFI variable store %s does not exist (with --firmware PATH hal has no template to "
			    "create it from: give an existing store, or --efivars none)", path);
		else
			err("cannot open UEFI variable store %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err("UEFI variable store %s is %s; give the path of a file (hal creates it when missing)", path,
		    file_kind(st.st_mode));
		goto fail;
	}
	if (tmpl && stat(tmpl, &tst) == 0 && tst.st_dev == st.st_dev && tst.st_ino == st.st_ino) {
		err("UEFI variable store %s is the template itself; give a path of its own (hal copies %s there)", path, tmpl);
		goto fail;
	}
	if (tmpl && (uint64_t)st.st_size != tsize) {
		err("UEFI variable store %s is %lld bytes, but this OVMF needs %zu (the size of %s): is it from another "
		    "firmware build? hal left it as it is; move it away to start with empty variables, or give another "
		    "--efivars", path, (long long)st.st_size, tsize, tmpl);
		goto fail;
	}
	if (!tmpl && (uint64_t)st.st_size > 16 * MiB) {
		err("UEFI variable store %s is too large (%lld bytes, at most 16 MiB)", path, (long long)st.st_size);
		goto fail;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err("cannot open UEFI variable store %s for writing: %s (the firmware keeps its variables there: "
		    "make it writable, or give --efivars none to keep them in memory only)", path, strerror(errno));
		goto fail;
	}
	ssize = (size_t)st.st_size;
	s = malloc(ssize ? ssize : 1);
	if (!s || hal_pread_all(fd, s, ssize, 0) < 0) {
		err("cannot read UEFI variable store %s: %s", path, s ? strerror(errno ? errno : EIO) : "out of memory");
		goto fail;
	}
	if (tmpl && efivars_check(s, ssize, why, sizeof(why)) < 0) {
		char old[4096 + 16];
		if (keep_corrupt(path, old, sizeof(old)) < 0) {
			err("UEFI variable store %s is corrupt (%s) and cannot be renamed to %s: %s; hal left it as it is",
			    path, why, old, strerror(errno));
			goto fail;
		}
		warnx("UEFI variable store %s is corrupt (%s): kept it as %s, making a new one", path, why, old);
		close(fd);
		free(s);
		return create_store(path, tmpl, t, tsize, img, size);
	}
	free(t);
	*img = s;
	*size = ssize;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(t);
	free(s);
	return -1;
}

/* ---- the flash ---------------------------------------------------------------- */

static struct pflash vars;
static bool vars_loaded;
static int vars_slot = -1;

static void vars_set_array(void *ctx, bool array)
{
	(void)ctx;
	if (vm_rom_slot(vars_slot, vars.base, vars.size, vars.mem, array) < 0)
		warnx("UEFI variable store: cannot %s the read-only slot", array ? "map" : "unmap");
}

/* The first disk's path without its options; NULL without a disk or when
 * the path does not fit. */
static const char *disk_path(const char *disk)
{
	static char buf[4096];
	return disk && disk_spec_path(disk, buf, sizeof(buf)) == 0 ? buf : NULL;
}

/* --efivars-dir: DIR/<id>.efivars, the id from the disk's label, so that a
 * boot medium keeps one store per guest disk whatever port or device name
 * the disk has today. NULL when the disk names nothing (in memory, said);
 * -1 after a message when DIR is unusable. */
static int dir_path(const char *dir, const char *disk, const char **out)
{
	static char buf[4096];
	struct stat st;
	*out = NULL;
	if (stat(dir, &st) < 0) {
		err("--efivars-dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		err("--efivars-dir %s: not a directory", dir);
		return -1;
	}
	const char *path = disk_path(disk);
	if (!path) {
		hal_log(NULL, "UEFI variables: no --disk to name a store in %s by: in memory only", dir);
		return 0;
	}
	if (disk_is_nbd(path)) { /* not opened twice (pc/firmware.c) */
		hal_log(NULL, "UEFI variables: %s is an NBD disk, not read to name a store in %s by: in memory only",
			path, dir);
		return 0;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err("--disk %s: %s", path, strerror(errno));
		return -1;
	}
	struct disklabel dl;
	char id[48];
	disklabel_probe_fd(fd, &dl);
	close(fd);
	if (disklabel_id(&dl, id, sizeof(id)) < 0) {
		hal_log(NULL, "UEFI variables: %s has neither a GPT disk GUID nor an MBR disk signature "
			      "to name a store in %s by: in memory only", path, dir);
		return 0;
	}
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s.efivars", dir, id) >= sizeof(buf)) {
		err("--efivars-dir %s: path too long", dir);
		return -1;
	}
	hal_log(NULL, "UEFI variables: %s (the store of %s in --efivars-dir)", buf, path);
	*out = buf;
	return 0;
}

int efivars_store_path(const struct efivars_cfg *c, const char **out)
{
	static char buf[4096];
	*out = NULL;
	if (c->efivars) {
		*out = strcmp(c->efivars, "none") ? c->efivars : NULL;
		return 0;
	}
	if (strcmp(c->firmware, "ovmf"))
		return 0;
	if (c->efivars_dir)
		return dir_path(c->efivars_dir, c->disk, out);
	const char *path = disk_path(c->disk);
	struct stat st;
	if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)snprintf(buf, sizeof(buf), "%s.efivars", path) >= sizeof(buf))
		return 0;
	*out = buf;
	return 0;
}

static int vars_load(const struct efivars_cfg *c)
{
	const char *path;
	if (efivars_store_path(c, &path) < 0)
		return -1;
	const char *tmpl = strcmp(c->firmware, "ovmf") ? NULL : c->secure_boot ? OVMF_VARS_MS_PATH : OVMF_VARS_PATH;
	uint8_t *img = NULL;
	size_t size = 0;
	int fd = -1;
	if (path) {
		if ((fd = efivars_open(path, tmpl, &img, &size)) < 0)
			return -1;
	} else {
		if (!tmpl) {
			err("--efivars none needs --firmware ovmf (no template for %s)", c->firmware);
			return -1;
		}
		if (!(img = hal_read_file("UEFI variable template", tmpl, 16 * MiB, &size)))
			return -1;
		dbg("UEFI variables: in memory only (--efivars none, or the first disk is no file to put a store beside)");
	}
	int ret = -1;
	if (size < PFLASH_BLOCK || size % PFLASH_BLOCK) {
		err("UEFI variable store %s: %zu bytes is not a whole number of 4 KiB blocks", path ? path : tmpl, size);
		goto out;
	}
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		err("cannot map the UEFI variable store: %s", strerror(errno));
		goto out;
	}
	memcpy(mem, img, size);
	/* An existing store keeps its keys: --secure-boot only picks the
	 * template of a new one. Say when the two disagree. */
	bool pk = tmpl && efivars_has_pk(img, size);
	if (c->secure_boot && !pk)
		warnx("UEFI variable store %s has no Secure Boot keys (it was made without --secure-boot): "
		      "Secure Boot stays off; move it away to start from %s", path ? path : tmpl, OVMF_VARS_MS_PATH);
	else if (pk)
		hal_log(NULL, "UEFI variables: the store has a platform key: OVMF enforces Secure Boot");
	pflash_init(&vars, 0, mem, size, fd, vars_set_array, NULL);
	vars_loaded = true;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(img);
	return ret;
}

int efivars_attach(const struct efivars_cfg *c, uint64_t fw_base)
{
	if (!vars_loaded && vars_load(c) < 0)
		return -1;
	if (vars.size > fw_base - 0xFF000000ULL) {
		err("firmware and UEFI variable store do not fit in the top 16 MiB");
		return -1;
	}
	vars.base = fw_base - vars.size;
	vars_slot = vm_rom_slot(-1, vars.base, vars.size, vars.mem, true);
	if (vars_slot < 0 || bus_register(BUS_MMIO, vars.base, vars.size, pflash_io, &vars) < 0)
		return -1;
	pflash_reset(&vars);
	dbg("UEFI variable store at 0x%llx (0x%llx bytes), %s", (unsigned long long)vars.base,
	    (unsigned long long)vars.size, vars.fd >= 0 ? "backed by a file" : "in memory");
	return 0;
}

void efivars_exit(void)
{
	if (!vars_loaded)
		return;
	pflash_sync(&vars);
	dbg("UEFI variable store: %llu bytes programmed, %llu blocks erased", (unsigned long long)vars.programs,
	    (unsigned long long)vars.erases);
}

void efivars_detach(void)
{
	if (vars_slot < 0)
		return;
	bus_unregister(BUS_MMIO, vars.base, &vars);
	if (vm_rom_slot(vars_slot, vars.base, vars.size, vars.mem, false) < 0)
		warnx("UEFI variable store: cannot unmap the read-only slot");
	vars_slot = -1;
}
