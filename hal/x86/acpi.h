/* ACPI tables built at VM start, in the shape of QEMU's table-loader:
 * two blobs ("rsdp" and "tables"), pointer fields that hold offsets into a
 * blob until linked, and checksums computed after linking. Direct boot links
 * them into guest RAM itself; firmware gets them through fw_cfg. */
#ifndef ACPI_H
#define ACPI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acpi_file { ACPI_RSDP, ACPI_TABLES, ACPI_NFILES };

struct acpi_cfg {
	int ncpus;
	uint16_t pm_base;   /* PM1a_EVT; CNT at +4, TMR at +8 */
	uint16_t sci_irq;
	bool hpet;          /* the HPET table, and the DSDT's HPET device present */
};

#define ACPI_MAX_FIXUPS 16
struct acpi_tables {
	uint8_t *blob[ACPI_NFILES];
	size_t len[ACPI_NFILES];
	struct { uint8_t dst, src, size; uint32_t off; } ptr[ACPI_MAX_FIXUPS];
	struct { uint8_t file; uint32_t result, start, len; } csum[ACPI_MAX_FIXUPS];
	int nptr, ncsum;
};

int acpi_build(const struct acpi_cfg *cfg, struct acpi_tables *t);
/* Resolve pointers for blobs placed at base[file] and fill in checksums. */
void acpi_link(struct acpi_tables *t, const uint64_t base[ACPI_NFILES]);
void acpi_free(struct acpi_tables *t);
/* The fw_cfg file names of the blobs, and the table-loader script. */
extern const char *const acpi_file_names[ACPI_NFILES];
uint8_t *acpi_loader_script(const struct acpi_tables *t, size_t *len);
uint8_t acpi_checksum(const uint8_t *p, size_t len);
#endif
