/* ACPI: RSDP -> RSDT -> {FADT -> {FACS, DSDT}, MADT}. The DSDT is compiled
 * from hal/x86/dsdt.asl by iasl; everything that depends on the VM's shape is
 * generated here. */
#include <stdlib.h>
#include <string.h>

#include "x86/acpi.h"
#include "dsdt.hex"
#include "core/endian.h"
#include "core/hal.h"
#include "hw/hpet.h"

#define TABLES_CAP (64 * 1024)


uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	while (len--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)-s;
}

/* Reserve `len` bytes of the tables blob at `align`; returns the offset. */
static uint32_t alloc(struct acpi_tables *t, size_t len, size_t align)
{
	size_t off = (t->len[ACPI_TABLES] + align - 1) & ~(align - 1);
	t->len[ACPI_TABLES] = off + len;
	return (uint32_t)off;
}

/* The System Description Table Header (ACPI 6.5, 5.2.6): Signature, Length
 * 4, Revision 8, Checksum 9, OEMID 10, OEM Table ID 16, OEM Revision 24,
 * Creator ID 28, Creator Revision 32; 36 bytes. */
static void header(struct acpi_tables *t, uint32_t off, const char *sig, uint32_t len, uint8_t rev)
{
	uint8_t *h = t->blob[ACPI_TABLES] + off;
	memcpy(h, sig, 4);
	put_le32(h + 4, len);
	h[8] = rev;
	memcpy(h + 10, "HAL   ", 6);
	memcpy(h + 16, "HAL ", 4); /* OEM table id: "HAL " + signature */
	memcpy(h + 20, sig, 4);
	put_le32(h + 24, 1);
	memcpy(h + 28, "HAL ", 4);
	put_le32(h + 32, 1);
	t->csum[t->ncsum].file = ACPI_TABLES;
	t->csum[t->ncsum].result = off + 9;
	t->csum[t->ncsum].start = off;
	t->csum[t->ncsum].len = len;
	t->ncsum++;
}

/* A pointer field at dst+off that will hold the address of `target` (an
 * offset in file `src` until linked). */
static void pointer(struct acpi_tables *t, int dst, uint32_t off, int size, int src, uint32_t target)
{
	put_le(t->blob[dst] + off, target, (unsigned)size);
	t->ptr[t->nptr].dst = (uint8_t)dst;
	t->ptr[t->nptr].src = (uint8_t)src;
	t->ptr[t->nptr].size = (uint8_t)size;
	t->ptr[t->nptr].off = off;
	t->nptr++;
}

/* MADT (ACPI 6.5, 5.2.12): the header, Local Interrupt Controller Address
 * 36, Flags 40, then {Type, Length, ...} structures: 0 Processor Local APIC
 * (5.2.12.2), 1 I/O APIC (5.2.12.3), 2 Interrupt Source Override
 * (5.2.12.5), 4 Local APIC NMI (5.2.12.7). */
static uint32_t build_madt(struct acpi_tables *t, const struct acpi_cfg *c)
{
	uint32_t len = 44 + 8 * (uint32_t)c->ncpus + 12 + 10 + 6;
	uint32_t off = alloc(t, len, 8);
	uint8_t *m = t->blob[ACPI_TABLES] + off, *p = m + 44;
	header(t, off, "APIC", len, 1);
	put_le32(m + 36, 0xfee00000);  /* local APIC address */
	put_le32(m + 40, 1);           /* PCAT_COMPAT: there are 8259s too */
	for (int i = 0; i < c->ncpus; i++, p += 8) {
		p[0] = 0; p[1] = 8; p[2] = (uint8_t)i; p[3] = (uint8_t)i;
		put_le32(p + 4, 1); /* enabled */
	}
	p[0] = 1; p[1] = 12; p[2] = 0; p[3] = 0; /* IOAPIC id 0 */
	put_le32(p + 4, 0xfec00000);
	put_le32(p + 8, 0); /* GSI base */
	p += 12;
	/* KVM's default routing is ISA IRQ n -> IOAPIC pin n, so IRQ0 needs no
	 * override; the SCI is level-triggered, active high. */
	p[0] = 2; p[1] = 10; p[2] = 0; p[3] = (uint8_t)c->sci_irq;
	put_le32(p + 4, c->sci_irq);
	put_le16(p + 8, 0x000d);
	p += 10;
	p[0] = 4; p[1] = 6; p[2] = 0xff; put_le16(p + 3, 0); p[5] = 1; /* NMI on LINT1 */
	return off;
}

/* A Generic Address Structure (ACPI 6.5, 5.2.3.2) for an I/O port range. */
static void gas_io(uint8_t *g, uint8_t bits, uint16_t port)
{
	g[0] = 1; /* system I/O space */
	g[1] = bits;
	put_le32(g + 4, port);
}

/* FADT revision 3 (ACPI 2.0 layout, 244 bytes, as QEMU's q35): the X_
 * fields and the reset register are what OVMF's AcpiTableDxe, Linux and
 * Windows read from an ACPI 2.0 FADT. (QEMU's i440FX machine keeps
 * revision 1 for Windows 2000, which hal does not serve.) Offsets are
 * ACPI 6.5 table 5.9. */
static uint32_t build_fadt(struct acpi_tables *t, const struct acpi_cfg *c, uint32_t facs, uint32_t dsdt)
{
	const uint32_t len = 244;
	uint32_t off = alloc(t, len, 8);
	uint8_t *f = t->blob[ACPI_TABLES] + off;
	uint16_t pm = c->pm_base;
	header(t, off, "FACP", len, 3);
	pointer(t, ACPI_TABLES, off + 36, 4, ACPI_TABLES, facs); /* FIRMWARE_CTRL; X_ stays 0 */
	pointer(t, ACPI_TABLES, off + 40, 4, ACPI_TABLES, dsdt);
	pointer(t, ACPI_TABLES, off + 140, 8, ACPI_TABLES, dsdt); /* X_DSDT */
	put_le16(f + 46, c->sci_irq);
	put_le32(f + 48, 0xb2);        /* SMI_CMD */
	f[52] = 0xf1;               /* ACPI_ENABLE */
	f[53] = 0xf0;               /* ACPI_DISABLE */
	put_le32(f + 56, pm);          /* PM1a_EVT_BLK */
	put_le32(f + 64, pm + 4u);     /* PM1a_CNT_BLK */
	put_le32(f + 76, pm + 8u);     /* PM_TMR_BLK */
	put_le32(f + 80, 0xafe0);      /* GPE0_BLK */
	f[88] = 4; f[89] = 2; f[91] = 4; f[92] = 4; /* their lengths */
	put_le16(f + 96, 0xfff);       /* no C2 */
	put_le16(f + 98, 0xfff);       /* no C3 */
	f[108] = 0x32;              /* CMOS century register */
	/* IAPC_BOOT_ARCH: LEGACY_DEVICES, 8042. Without the 8042 bit Linux
	 * takes a revision >= 2 FADT to mean there is no keyboard controller. */
	put_le16(f + 109, 0x0003);
	/* WBINVD, PROC_C1, SLP_BUTTON (no sleep button), RTC_S4, RESET_REG_SUP,
	 * USE_PLATFORM_CLOCK; PWR_BUTTON clear: the power button is the
	 * fixed-feature one. */
	put_le32(f + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 10) | (1u << 15));
	gas_io(f + 116, 8, 0xcf9);  /* RESET_REG: PIIX reset control */
	f[128] = 0x06;              /* RESET_VALUE: system reset + CPU reset */
	gas_io(f + 148, 32, pm);    /* X_PM1a_EVT_BLK */
	gas_io(f + 172, 16, pm + 4u); /* X_PM1a_CNT_BLK */
	gas_io(f + 208, 32, pm + 8u); /* X_PM_TMR_BLK */
	gas_io(f + 220, 32, 0xafe0);  /* X_GPE0_BLK */
	return off;
}

/* HPET description table (IA-PC HPET 1.0a, 3.2.4): the header, Event
 * Timer Block ID 36 (the capabilities' low 32 bits), Base Address 40 (a
 * GAS in system memory), HPET Number 52, Main Counter Minimum Clock Tick
 * in periodic mode 53 (what the host timer's clamp allows without lost
 * interrupts), Page Protection 55; 56 bytes. */
static uint32_t build_hpet(struct acpi_tables *t)
{
	const uint32_t len = 56;
	uint32_t off = alloc(t, len, 8);
	uint8_t *p = t->blob[ACPI_TABLES] + off;
	header(t, off, "HPET", len, 1);
	put_le32(p + 36, (uint32_t)hpet_caps());
	p[40] = 0;  /* system memory */
	p[41] = 64; /* register width */
	put_le64(p + 44, HPET_BASE);
	p[52] = 0;
	put_le16(p + 53, HPET_MIN_TICK);
	p[55] = 0;  /* no page protection guarantee */
	return off;
}

/* The DSDT's HPET device answers _STA from a byte this patches: 0x0F
 * (present, enabled, shown, working) with an HPET, 0 without. iasl
 * encodes Name (_STA, 0x0F) as "_STA" BytePrefix(0x0A) 0x0F. */
static void dsdt_hpet_sta(uint8_t *dsdt, size_t len, bool present)
{
	const uint8_t *dev = memmem(dsdt, len, "HPET", 4);
	if (!dev)
		return;
	size_t from = (size_t)(dev - dsdt);
	uint8_t *sta = memmem(dsdt + from, len - from, "_STA\x0a", 5);
	if (sta && sta + 5 < dsdt + len)
		sta[5] = present ? 0x0f : 0x00;
}

int acpi_build(const struct acpi_cfg *c, struct acpi_tables *t)
{
	memset(t, 0, sizeof(*t));
	if (c->ncpus < 1 || c->ncpus > 255)
		return -1;
	t->blob[ACPI_RSDP] = calloc(1, 20);
	t->blob[ACPI_TABLES] = calloc(1, TABLES_CAP);
	if (!t->blob[ACPI_RSDP] || !t->blob[ACPI_TABLES]) {
		acpi_free(t);
		return -1;
	}

	uint32_t facs = alloc(t, 64, 64); /* FACS (ACPI 6.5, 5.2.10): Length 4, Version 32 */
	memcpy(t->blob[ACPI_TABLES] + facs, "FACS", 4);
	put_le32(t->blob[ACPI_TABLES] + facs + 4, 64);
	t->blob[ACPI_TABLES][facs + 32] = 1; /* version: ACPI 2.0 FACS */

	uint32_t dsdt = alloc(t, sizeof(dsdt_aml_code), 8);
	memcpy(t->blob[ACPI_TABLES] + dsdt, dsdt_aml_code, sizeof(dsdt_aml_code));
	/* iasl filled in a checksum; the loader computes its own, and OVMF
	 * stores the sum of the range as it is (SeaBIOS subtracts it), so the
	 * field must be 0 in the blob, as QEMU's linker asserts. A stale one
	 * makes OVMF take the DSDT for opaque data and not install it. */
	t->blob[ACPI_TABLES][dsdt + 9] = 0;
	dsdt_hpet_sta(t->blob[ACPI_TABLES] + dsdt, sizeof(dsdt_aml_code), c->hpet);
	t->csum[t->ncsum].file = ACPI_TABLES;
	t->csum[t->ncsum].result = dsdt + 9;
	t->csum[t->ncsum].start = dsdt;
	t->csum[t->ncsum].len = sizeof(dsdt_aml_code);
	t->ncsum++;

	uint32_t fadt = build_fadt(t, c, facs, dsdt);
	uint32_t madt = build_madt(t, c);
	uint32_t hpet = c->hpet ? build_hpet(t) : 0;

	uint32_t rsdt_len = 36 + (c->hpet ? 3 : 2) * 4;
	uint32_t rsdt = alloc(t, rsdt_len, 8);
	header(t, rsdt, "RSDT", rsdt_len, 1);
	pointer(t, ACPI_TABLES, rsdt + 36, 4, ACPI_TABLES, fadt);
	pointer(t, ACPI_TABLES, rsdt + 40, 4, ACPI_TABLES, madt);
	if (c->hpet)
		pointer(t, ACPI_TABLES, rsdt + 44, 4, ACPI_TABLES, hpet);

	/* RSDP (ACPI 6.5, 5.2.5.3): Checksum 8, OEMID 9, Revision 15, RsdtAddress 16 */
	uint8_t *r = t->blob[ACPI_RSDP];
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "HAL   ", 6);
	r[15] = 0; /* revision 0: ACPI 1.0 RSDP, RSDT only */
	pointer(t, ACPI_RSDP, 16, 4, ACPI_TABLES, rsdt);
	t->len[ACPI_RSDP] = 20;
	t->csum[t->ncsum].file = ACPI_RSDP;
	t->csum[t->ncsum].result = 8;
	t->csum[t->ncsum].start = 0;
	t->csum[t->ncsum].len = 20;
	t->ncsum++;
	return 0;
}

void acpi_link(struct acpi_tables *t, const uint64_t base[ACPI_NFILES])
{
	for (int i = 0; i < t->nptr; i++) {
		uint8_t *p = t->blob[t->ptr[i].dst] + t->ptr[i].off;
		put_le(p, get_le(p, t->ptr[i].size) + base[t->ptr[i].src], t->ptr[i].size);
	}
	for (int i = 0; i < t->ncsum; i++) {
		uint8_t *b = t->blob[t->csum[i].file];
		b[t->csum[i].result] = 0;
		b[t->csum[i].result] = acpi_checksum(b + t->csum[i].start, t->csum[i].len);
	}
}

void acpi_free(struct acpi_tables *t)
{
	for (int i = 0; i < ACPI_NFILES; i++) {
		free(t->blob[i]);
		t->blob[i] = NULL;
	}
}

/* QEMU's table-loader script (etc/table-loader): 128-byte commands that make
 * the firmware allocate the two blobs, patch the pointers and compute the
 * checksums (QEMU's hw/acpi/bios-linker-loader.c, BiosLinkerLoaderEntry:
 * le32 command, then a 56-byte file name and the command's fields).
 * Returns a malloc'd script of *len bytes. */
const char *const acpi_file_names[ACPI_NFILES] = { "etc/acpi/rsdp", "etc/acpi/tables" };

uint8_t *acpi_loader_script(const struct acpi_tables *t, size_t *len)
{
	enum { ALLOCATE = 1, ADD_POINTER = 2, ADD_CHECKSUM = 3, ZONE_HIGH = 1, ZONE_FSEG = 2 };
	size_t n = ACPI_NFILES + (size_t)t->nptr + (size_t)t->ncsum;
	uint8_t *s = calloc(n, 128), *e = s;
	if (!s)
		return NULL;
	for (int f = 0; f < ACPI_NFILES; f++, e += 128) {
		put_le32(e, ALLOCATE);
		strcpy((char *)e + 4, acpi_file_names[f]);
		put_le32(e + 60, f == ACPI_RSDP ? 16 : 64);
		e[64] = f == ACPI_RSDP ? ZONE_FSEG : ZONE_HIGH;
	}
	for (int i = 0; i < t->nptr; i++, e += 128) {
		put_le32(e, ADD_POINTER);
		strcpy((char *)e + 4, acpi_file_names[t->ptr[i].dst]);
		strcpy((char *)e + 60, acpi_file_names[t->ptr[i].src]);
		put_le32(e + 116, t->ptr[i].off);
		e[120] = t->ptr[i].size;
	}
	for (int i = 0; i < t->ncsum; i++, e += 128) {
		put_le32(e, ADD_CHECKSUM);
		strcpy((char *)e + 4, acpi_file_names[t->csum[i].file]);
		put_le32(e + 60, t->csum[i].result);
		put_le32(e + 64, t->csum[i].start);
		put_le32(e + 68, t->csum[i].len);
	}
	*len = n * 128;
	return s;
}
