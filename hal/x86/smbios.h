/* SMBIOS 3.0 (DMTF DSP0134) for firmware boots: the entry point and the
 * structure table as QEMU hands them over, fw_cfg files
 * etc/smbios/smbios-anchor and etc/smbios/smbios-tables; SeaBIOS and OVMF
 * place the table and fill in its address. */
#ifndef SMBIOS_H
#define SMBIOS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMBIOS_ANCHOR_LEN 24          /* the 64-bit "_SM3_" entry point */
#define SMBIOS_FILE_MAX   (64 * 1024) /* --smbios file=: at most this many bytes */
#define SMBIOS_STR_MAX    64
#define SMBIOS_DMI_DIR    "/sys/class/dmi/id"

/* What the guest is told about the machine (types 1 and 2). */
struct smbios_ids {
	char sys_vendor[SMBIOS_STR_MAX], product[SMBIOS_STR_MAX], version[SMBIOS_STR_MAX], serial[SMBIOS_STR_MAX];
	char board_vendor[SMBIOS_STR_MAX], board_name[SMBIOS_STR_MAX], board_version[SMBIOS_STR_MAX],
		board_serial[SMBIOS_STR_MAX];
	uint8_t uuid[16];                 /* in SMBIOS byte order (first three fields little endian) */
	uint64_t processor_id;            /* type 4: the guest's CPUID 1 EAX (low half) and EDX */
};

struct smbios {
	uint8_t anchor[SMBIOS_ANCHOR_LEN];
	uint8_t *tables;                  /* malloc'd */
	size_t len;
};

/* The fixed "hal" strings and a zero UUID (--smbios default). */
void smbios_ids_default(struct smbios_ids *id);
/* The defaults, then every readable, non-empty file of dir (sys_vendor,
 * product_name, product_serial, product_uuid, board_vendor...) over them
 * (--smbios host, dir SMBIOS_DMI_DIR). Never fails. */
void smbios_ids_host(struct smbios_ids *id, const char *dir);
/* "12345678-9abc-..." into SMBIOS byte order; 0 or -1. */
int smbios_parse_uuid(const char *s, uint8_t out[16]);
/* SMBIOS byte order into the UUID's own (RFC 4122, as written), the order
 * of fw_cfg's UUID item. */
void smbios_uuid_wire(const uint8_t smbios[16], uint8_t wire[16]);
/* The UUID of the first type 1 structure of a validated table, in SMBIOS
 * byte order: 0, or -1 (none, or too short to have one). */
int smbios_table_uuid(const uint8_t *p, size_t n, uint8_t out[16]);
/* Types 0, 1, 2, 3, 4 (one per CPU), 16, 17, 19 (RAM below and above
 * 4 GiB), 32, 127 and the entry point. 0, or -1 (out of memory). */
int smbios_build(const struct smbios_ids *id, int cpus, uint64_t ram_size, uint64_t low_end, uint64_t high_size,
		 struct smbios *out);
/* A structure table from elsewhere (--smbios file=): well-formed
 * structures, each with its string set, ending with type 127 at the end of
 * the data, at most SMBIOS_FILE_MAX bytes. 0, or -1 with why. */
int smbios_validate(const uint8_t *p, size_t n, char *why, size_t whylen);
/* Takes a validated table (copied) and makes its entry point. 0 or -1. */
int smbios_wrap(const uint8_t *p, size_t n, struct smbios *out);
void smbios_free(struct smbios *s);
#endif
