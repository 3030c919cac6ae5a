/* The UEFI variable store: a file (or memory) mapped as CFI flash right
 * below the firmware image (docs/usage.md, "Firmware choice and UEFI
 * variable store"). */
#ifndef EFIVARS_H
#define EFIVARS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Debian's OVMF (package ovmf): the code and the empty store it comes with. */
#define OVMF_CODE_PATH "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define OVMF_VARS_PATH "/usr/share/OVMF/OVMF_VARS_4M.fd"
/* The same store with Microsoft's KEK and db enrolled and Secure Boot on. */
#define OVMF_VARS_MS_PATH "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"

struct efivars_cfg {
	const char *firmware; /* "ovmf" (Debian's, OVMF_VARS_PATH is the template) or an image path */
	const char *efivars;  /* --efivars: a file, "none", or NULL (the default) */
	const char *efivars_dir; /* --efivars-dir: DIR/<disk id>.efivars with "ovmf", or NULL */
	const char *disk;     /* the first --disk (PATH[,options]), or NULL */
	bool secure_boot;     /* --secure-boot: OVMF_VARS_MS_PATH is the template */
};

/* Where the store lives: the --efivars file; with Debian's OVMF,
 * DIR/<disk id>.efivars for --efivars-dir (disklabel_id of the first disk),
 * else DISK.efivars beside a first disk that is a regular file; or *path
 * NULL: in memory only. 0, or -1 after a message (a DIR that is missing or
 * not a directory, a disk that cannot be opened). */
int efivars_store_path(const struct efivars_cfg *c, const char **path);
/* Places the store just below the firmware at fw_base. The first call loads
 * it (the file outlives guest resets, as flash does); later calls map it
 * again for the next boot. 0, or -1 after a message. */
int efivars_attach(const struct efivars_cfg *c, uint64_t fw_base);
/* The undo of efivars_attach, at the end of each boot. */
void efivars_detach(void);
/* At hal's exit: flush what the firmware wrote. */
void efivars_exit(void);

/* Whether img is an EDK2 variable store: a firmware volume header ("_FVH",
 * length = size, header checksum) followed by a variable store header.
 * 0, or -1 with why saying what is wrong. */
int efivars_check(const uint8_t *img, size_t size, char *why, size_t n);
/* Whether a store efivars_check accepts holds a live platform key (PK):
 * with one, OVMF enforces Secure Boot. */
bool efivars_has_pk(const uint8_t *img, size_t size);
/* Opens the store file at path read-write, or creates it as a copy of tmpl.
 * With tmpl (Debian's OVMF) the store must be as large as tmpl, and one
 * that fails efivars_check is renamed to PATH.corrupt (PATH.corrupt.N when
 * that exists) and replaced by a copy of tmpl. Without tmpl (--firmware
 * PATH) the file must exist. Returns the fd with *img (malloc'd) and *size
 * the contents, or -1 after a message; on -1 the file is as it was. */
int efivars_open(const char *path, const char *tmpl, uint8_t **img, size_t *size);
#endif
