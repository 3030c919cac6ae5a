/* ACPI tables, CPUID topology and the I/O bus, on the host. */
#include <stdlib.h>
#include <linux/kvm.h>

#include "x86/acpi.h"
#include "check.h"
#include "core/hal.h"
#include "hw/hpet.h"

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Resolve a linked 32-bit pointer into the tables blob placed at `base`. */
static const uint8_t *deref(const struct acpi_tables *t, uint64_t base, uint32_t addr)
{
	return t->blob[ACPI_TABLES] + (addr - base);
}

static void tables_link_and_checksum(void)
{
	struct acpi_cfg c = { .ncpus = 3, .pm_base = 0x600, .sci_irq = 9 };
	struct acpi_tables t;
	CHECK(acpi_build(&c, &t) == 0);
	const uint64_t base[ACPI_NFILES] = { 0xe0000, 0xe0040 };
	acpi_link(&t, base);
	const uint8_t *rsdp = t.blob[ACPI_RSDP];
	CHECK(!memcmp(rsdp, "RSD PTR ", 8));
	CHECK_EQ(acpi_checksum(rsdp, 20), 0);
	const uint8_t *rsdt = deref(&t, base[1], rd32(rsdp + 16));
	CHECK(!memcmp(rsdt, "RSDT", 4));
	CHECK_EQ(acpi_checksum(rsdt, rd32(rsdt + 4)), 0);
	CHECK_EQ(rd32(rsdt + 4), 44); /* two entries */
	const uint8_t *fadt = deref(&t, base[1], rd32(rsdt + 36));
	const uint8_t *madt = deref(&t, base[1], rd32(rsdt + 40));
	CHECK(!memcmp(fadt, "FACP", 4) && !memcmp(madt, "APIC", 4));
	CHECK_EQ(acpi_checksum(fadt, rd32(fadt + 4)), 0);
	CHECK_EQ(acpi_checksum(madt, rd32(madt + 4)), 0);
	CHECK_EQ(rd32(fadt + 64), 0x604);  /* PM1a_CNT where pm.c decodes it */
	CHECK_EQ(rd32(fadt + 76), 0x608);  /* PM timer */
	CHECK_EQ(fadt[46], 9);             /* SCI */
	/* revision 3: ACPI 2.0 layout with the X_ fields OVMF and Windows read */
	CHECK_EQ(fadt[8], 3);
	CHECK_EQ(rd32(fadt + 4), 244);
	CHECK_EQ(rd32(fadt + 140), rd32(fadt + 40)); /* X_DSDT = DSDT */
	CHECK_EQ(rd32(fadt + 144), 0);
	CHECK_EQ(fadt[109] & 2, 2);        /* 8042 present: else Linux skips i8042 */
	CHECK_EQ(rd32(fadt + 112) >> 10 & 1, 1); /* RESET_REG_SUP */
	CHECK(fadt[116] == 1 && fadt[117] == 8 && rd32(fadt + 120) == 0xcf9 && fadt[128] == 6);
	/* X_PM1a_EVT, X_PM1a_CNT, X_PM_TMR, X_GPE0: I/O space, the same ports */
	const uint32_t xoff[] = { 148, 172, 208, 220 }, xport[] = { 0x600, 0x604, 0x608, 0xafe0 };
	const uint8_t xbits[] = { 32, 16, 32, 32 };
	for (int i = 0; i < 4; i++)
		CHECK(fadt[xoff[i]] == 1 && fadt[xoff[i] + 1] == xbits[i] && rd32(fadt + xoff[i] + 4) == xport[i]);
	uint32_t facs_addr = rd32(fadt + 36);
	CHECK_EQ(facs_addr % 64, 0);       /* FACS must be 64-byte aligned */
	CHECK(!memcmp(deref(&t, base[1], facs_addr), "FACS", 4));
	const uint8_t *dsdt = deref(&t, base[1], rd32(fadt + 40));
	CHECK(!memcmp(dsdt, "DSDT", 4));
	CHECK_EQ(acpi_checksum(dsdt, rd32(dsdt + 4)), 0);
	CHECK(memmem(dsdt, rd32(dsdt + 4), "_S5_", 4) != NULL);
	/* one enabled local APIC per vCPU, APIC ID = index */
	int lapics = 0;
	for (const uint8_t *p = madt + 44; p < madt + rd32(madt + 4); p += p[1]) {
		CHECK(p[1] >= 2);
		if (p[0] == 0) {
			CHECK_EQ(p[3], lapics);
			CHECK_EQ(rd32(p + 4) & 1, 1);
			lapics++;
		}
	}
	CHECK_EQ(lapics, 3);
	acpi_free(&t);
	CHECK(acpi_build(&(struct acpi_cfg){ .ncpus = 0 }, &t) < 0);
}

/* The byte of Name (_STA, ...) in the DSDT's HPET device. */
static int hpet_sta(const uint8_t *dsdt)
{
	const uint8_t *dev = memmem(dsdt, rd32(dsdt + 4), "HPET", 4);
	if (!dev)
		return -1;
	const uint8_t *sta = memmem(dev, rd32(dsdt + 4) - (size_t)(dev - dsdt), "_STA\x0a", 5);
	return sta ? sta[5] : -1;
}

/* With an HPET: the RSDT's third table, as Linux's hpet_table_parse reads
 * it; without: no table and the DSDT's PNP0103 device absent. */
static void hpet_table(void)
{
	struct acpi_cfg c = { .ncpus = 1, .pm_base = 0x600, .sci_irq = 9, .hpet = true };
	struct acpi_tables t;
	CHECK(acpi_build(&c, &t) == 0);
	const uint64_t base[ACPI_NFILES] = { 0xe0000, 0xe0040 };
	acpi_link(&t, base);
	const uint8_t *rsdt = deref(&t, base[1], rd32(t.blob[ACPI_RSDP] + 16));
	CHECK_EQ(rd32(rsdt + 4), 48);
	CHECK_EQ(acpi_checksum(rsdt, 48), 0);
	const uint8_t *h = deref(&t, base[1], rd32(rsdt + 44));
	CHECK(!memcmp(h, "HPET", 4));
	CHECK_EQ(rd32(h + 4), 56);
	CHECK_EQ(acpi_checksum(h, 56), 0);
	CHECK_EQ(rd32(h + 36), (uint32_t)hpet_caps());
	CHECK_EQ(rd32(h + 36) >> 16, 0x8086);       /* vendor */
	CHECK_EQ((rd32(h + 36) >> 8) & 0x1f, 2);    /* 3 comparators */
	CHECK(rd32(h + 36) & (1 << 15));            /* legacy replacement capable */
	CHECK_EQ(h[40], 0);                         /* system memory */
	CHECK_EQ(rd32(h + 44), 0xfed00000);
	CHECK_EQ(rd32(h + 48), 0);
	CHECK_EQ(h[53] | h[54] << 8, 10000);        /* 100 us at 100 MHz */
	const uint8_t *fadt = deref(&t, base[1], rd32(rsdt + 36));
	const uint8_t *dsdt = deref(&t, base[1], rd32(fadt + 40));
	CHECK_EQ(hpet_sta(dsdt), 0x0f);
	CHECK(memmem(dsdt, rd32(dsdt + 4), "\x41\xd0\x01\x03", 4)); /* EisaId PNP0103 */
	CHECK_EQ(acpi_checksum(dsdt, rd32(dsdt + 4)), 0);
	acpi_free(&t);

	c.hpet = false;
	CHECK(acpi_build(&c, &t) == 0);
	acpi_link(&t, base);
	rsdt = deref(&t, base[1], rd32(t.blob[ACPI_RSDP] + 16));
	CHECK_EQ(rd32(rsdt + 4), 44);
	CHECK(!memmem(t.blob[ACPI_TABLES], t.len[ACPI_TABLES], "HPET\x38\0\0\0", 8));
	fadt = deref(&t, base[1], rd32(rsdt + 36));
	dsdt = deref(&t, base[1], rd32(fadt + 40));
	CHECK_EQ(hpet_sta(dsdt), 0);
	CHECK_EQ(acpi_checksum(dsdt, rd32(dsdt + 4)), 0);
	acpi_free(&t);
}

/* Run etc/table-loader the way OVMF's AcpiPlatformDxe does: blobs placed at
 * base[], ADD_POINTER adds the pointee's base, ADD_CHECKSUM *stores* the
 * checksum of the range as it is (QEMU's linker contract: the field is 0 in
 * the blob; SeaBIOS subtracts instead, so it forgives a non-zero field). */
enum { CMD_ALLOCATE = 1, CMD_ADD_POINTER = 2, CMD_ADD_CHECKSUM = 3 };
static int file_of(const uint8_t *name)
{
	for (int f = 0; f < ACPI_NFILES; f++)
		if (!strcmp((const char *)name, acpi_file_names[f]))
			return f;
	return -1;
}

static void ovmf_load(struct acpi_tables *t, const uint8_t *s, size_t len, const uint64_t base[ACPI_NFILES])
{
	for (const uint8_t *e = s; e < s + len; e += 128) {
		if (rd32(e) == CMD_ADD_POINTER) {
			int dst = file_of(e + 4), src = file_of(e + 60);
			uint32_t off = rd32(e + 116), size = e[120];
			CHECK(dst >= 0 && src >= 0 && (size == 4 || size == 8));
			CHECK(off + size <= t->len[dst]);
			uint64_t v = 0;
			memcpy(&v, t->blob[dst] + off, size);
			CHECK(v < t->len[src]);
			v += base[src];
			memcpy(t->blob[dst] + off, &v, size);
		} else if (rd32(e) == CMD_ADD_CHECKSUM) {
			int f = file_of(e + 4);
			uint32_t res = rd32(e + 60), start = rd32(e + 64), n = rd32(e + 68);
			CHECK(f >= 0 && res < t->len[f] && start + n <= t->len[f]);
			t->blob[f][res] = acpi_checksum(t->blob[f] + start, n);
		} else {
			CHECK_EQ(rd32(e), CMD_ALLOCATE);
		}
	}
}

/* Does the script have an ADD_POINTER for the field at `off` in the tables blob? */
static int has_pointer(const uint8_t *s, size_t len, uint32_t off, uint8_t size)
{
	for (const uint8_t *e = s; e < s + len; e += 128)
		if (rd32(e) == CMD_ADD_POINTER && file_of(e + 4) == ACPI_TABLES && rd32(e + 116) == off && e[120] == size)
			return 1;
	return 0;
}

static void table_loader_as_ovmf_runs_it(void)
{
	struct acpi_cfg c = { .ncpus = 2, .pm_base = 0xb000, .sci_irq = 9, .hpet = true };
	struct acpi_tables t;
	CHECK(acpi_build(&c, &t) == 0);
	size_t len;
	uint8_t *s = acpi_loader_script(&t, &len);
	CHECK(s && len % 128 == 0);
	/* QEMU's contract: every checksum field is 0 until the loader fills it */
	for (int i = 0; i < t.ncsum; i++)
		CHECK_EQ(t.blob[t.csum[i].file][t.csum[i].result], 0);
	const uint64_t base[ACPI_NFILES] = { 0x7ffde000, 0x7ffc0000 };
	ovmf_load(&t, s, len, base);

	/* OVMF installs each ADD_POINTER pointee that is a FACS or a table with a
	 * valid checksum; anything else is dropped silently. */
	int fadt_seen = 0;
	for (const uint8_t *e = s; e < s + len; e += 128) {
		if (rd32(e) != CMD_ADD_POINTER)
			continue;
		int dst = file_of(e + 4), src = file_of(e + 60);
		uint64_t v = 0;
		memcpy(&v, t.blob[dst] + rd32(e + 116), e[120]);
		const uint8_t *p = t.blob[src] + (v - base[src]);
		uint32_t n = rd32(p + 4);
		CHECK(n >= 36 && v - base[src] + n <= t.len[src]);
		if (!memcmp(p, "FACS", 4))
			continue;
		CHECK_EQ(acpi_checksum(p, n), 0);
		if (memcmp(p, "FACP", 4))
			continue;
		fadt_seen++;
		uint32_t fadt = (uint32_t)(v - base[src]);
		CHECK(has_pointer(s, len, fadt + 36, 4)); /* FIRMWARE_CTRL */
		CHECK(has_pointer(s, len, fadt + 40, 4)); /* DSDT */
		if (n >= 148) {                           /* X_FIRMWARE_CTRL, X_DSDT */
			CHECK(has_pointer(s, len, fadt + 132, 8) || rd32(p + 36));
			CHECK(has_pointer(s, len, fadt + 140, 8));
		}
		const uint8_t *dsdt = t.blob[ACPI_TABLES] + (rd32(p + 40) - base[ACPI_TABLES]);
		CHECK(!memcmp(dsdt, "DSDT", 4));
		CHECK_EQ(acpi_checksum(dsdt, rd32(dsdt + 4)), 0);
		CHECK(!memcmp(t.blob[ACPI_TABLES] + (rd32(p + 36) - base[ACPI_TABLES]), "FACS", 4));
	}
	CHECK_EQ(fadt_seen, 1);
	free(s);
	acpi_free(&t);
}

static struct kvm_cpuid2 *fake_cpuid(void)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(struct kvm_cpuid_entry2));
	uint32_t fn[] = { 1, 0xb, 0xb, 0xb, 4, 0x80000008, 0x8000001e };
	uint32_t idx[] = { 0, 0, 1, 2, 3, 0, 0 };
	for (int i = 0; i < 7; i++) {
		c->entries[i].function = fn[i];
		c->entries[i].index = idx[i];
	}
	c->entries[4].eax = 0x121 | (3 << 5); /* L3 unified cache */
	c->entries[5].eax = 0x3030;
	c->nent = 7;
	return c;
}

static void cpuid_describes_each_vcpu(void)
{
	struct kvm_cpuid2 *c = fake_cpuid();
	cpuid_fixup(c, 2, 4, 46);
	CHECK_EQ(c->entries[0].ebx >> 24, 2);            /* initial APIC ID */
	CHECK_EQ((c->entries[0].ebx >> 16) & 0xff, 4);   /* logical CPUs */
	CHECK(c->entries[0].ecx & (1u << 31));           /* hypervisor bit */
	CHECK_EQ(c->entries[1].edx, 2);                  /* x2APIC ID */
	CHECK_EQ(c->entries[2].ebx, 4);                  /* cores at level 1 */
	CHECK_EQ(c->entries[2].eax, 2);                  /* shift for 4 cores */
	CHECK_EQ((c->entries[3].ecx >> 8) & 0xff, 0);    /* no level 2 */
	CHECK_EQ(c->entries[4].eax >> 26, 3);            /* cores per package - 1 */
	CHECK_EQ(c->entries[5].eax & 0xff, 46);          /* host physical address bits */
	CHECK_EQ(c->entries[5].ecx & 0xff, 3);
	CHECK_EQ(c->entries[6].eax, 2);
	free(c);
	int bits = host_phys_bits();
	CHECK(bits >= 32 && bits <= 52);
}

static int hits;
static uint64_t last_addr;
static void dev_fn(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	hits++;
	last_addr = addr;
	if (!is_write)
		memset(data, 0x42, len);
}

static void bus_dispatch_and_floating_reads(void)
{
	bus_unregister_all();
	CHECK(bus_register(BUS_PIO, 0x3f8, 8, dev_fn, NULL) == 0);
	CHECK(bus_register(BUS_PIO, 0x3fc, 8, dev_fn, NULL) < 0);   /* overlap refused */
	CHECK(bus_register(BUS_MMIO, 0xfee00000, 0, dev_fn, NULL) < 0);
	uint8_t d[4];
	CHECK(bus_access(BUS_PIO, 0x3fd, d, 1, false));
	CHECK_EQ(d[0], 0x42);
	CHECK_EQ(last_addr, 0x3fd);
	CHECK(!bus_access(BUS_PIO, 0x300, d, 4, false));
	CHECK_EQ(rd32(d), 0xffffffff);                              /* nothing there: all ones */
	CHECK(!bus_access(BUS_MMIO, 0x3f8, d, 4, false));           /* spaces are separate */
	CHECK(!bus_access(BUS_PIO, 0x300, d, 4, true));
	CHECK_EQ(hits, 1);
	bus_unregister_all();
}

int main(void)
{
	RUN(tables_link_and_checksum);
	RUN(hpet_table);
	RUN(table_loader_as_ovmf_runs_it);
	RUN(cpuid_describes_each_vcpu);
	RUN(bus_dispatch_and_floating_reads);
	return 0;
}
