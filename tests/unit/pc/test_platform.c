/* The PC platform on the host: fw_cfg (PIO and DMA), the ACPI table-loader
 * script, PCI config space and BAR sizing, the RTC/CMOS. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "x86/acpi.h"
#include "check.h"
#include "core/hal.h"
#include "hw/fwcfg.h"
#include "hw/pci.h"
#include "hw/rtc.h"
#include "pc/chipset.h"
#include "pc/pc.h"

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static void sel(struct fwcfg *f, uint16_t key)
{
	uint8_t d[2] = { (uint8_t)key, (uint8_t)(key >> 8) };
	fwcfg_io(f, 0x510, d, 2, 1);
}

static struct guest_mem mem;

static void fwcfg_pio_signature_and_directory(void)
{
	struct fwcfg f;
	fwcfg_init(&f, &mem);
	CHECK(fwcfg_add_file(&f, "etc/e820", "0123456789", 10));
	CHECK(fwcfg_add_file(&f, "bootorder", "", 0));
	uint8_t d[64];
	sel(&f, FW_CFG_SIGNATURE);
	fwcfg_io(&f, 0x511, d, 4, 0);        /* rep insb: 4 bytes in one exit */
	CHECK(!memcmp(d, "QEMU", 4));
	fwcfg_io(&f, 0x511, d, 1, 0);
	CHECK_EQ(d[0], 0);                    /* past the end reads zero */
	sel(&f, FW_CFG_ID);
	fwcfg_io(&f, 0x511, d, 4, 0);
	CHECK_EQ(le32(d) & 2, 2);             /* DMA advertised */
	sel(&f, FW_CFG_FILE_DIR);
	fwcfg_io(&f, 0x511, d, 4, 0);
	CHECK_EQ(be32(d), 2);
	fwcfg_io(&f, 0x511, d, 64, 0);
	CHECK_EQ(be32(d), 10);                /* size of etc/e820 */
	uint16_t key = (uint16_t)(d[4] << 8 | d[5]);
	CHECK(!strcmp((char *)d + 8, "etc/e820"));
	sel(&f, key);
	fwcfg_io(&f, 0x511, d, 10, 0);
	CHECK(!memcmp(d, "0123456789", 10));
	sel(&f, 0x1234);                      /* no such item: zeros */
	fwcfg_io(&f, 0x511, d, 2, 0);
	CHECK_EQ(d[0] | d[1], 0);
	fwcfg_exit(&f);
}

/* Run one DMA descriptor placed at 0x1000 in guest RAM. */
static uint32_t run_dma(struct fwcfg *f, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t *desc = gpa_ptr(&mem, 0x1000, 16);
	put_be32(desc, control);
	put_be32(desc + 4, len);
	put_be32(desc + 8, (uint32_t)(addr >> 32));
	put_be32(desc + 12, (uint32_t)addr);
	uint8_t hi[4] = { 0 }, lo[4];
	put_be32(lo, 0x1000);
	fwcfg_io(f, 0x514, hi, 4, 1);
	fwcfg_io(f, 0x518, lo, 4, 1);
	return be32(desc);
}

static void fwcfg_dma_reads_skips_and_refuses(void)
{
	struct fwcfg f;
	fwcfg_init(&f, &mem);
	struct fwcfg_item *it = fwcfg_add_file(&f, "etc/x", "abcdefgh", 8);
	CHECK(it);
	uint8_t *buf = gpa_ptr(&mem, 0x2000, 16);
	memset(buf, 0x55, 16);
	CHECK_EQ(run_dma(&f, (uint32_t)it->key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 3, 0x2000), 0);
	CHECK(!memcmp(buf, "abc", 3) && buf[3] == 0x55);
	CHECK_EQ(run_dma(&f, FW_CFG_DMA_SKIP, 2, 0), 0);
	CHECK_EQ(run_dma(&f, FW_CFG_DMA_READ, 6, 0x2000), 0);
	CHECK(!memcmp(buf, "fgh\0\0\0", 6));                 /* zero-filled past the end */
	CHECK_EQ(run_dma(&f, FW_CFG_DMA_WRITE, 4, 0x2000), FW_CFG_DMA_ERROR);
	/* a buffer outside guest RAM is an error, not a host write */
	CHECK_EQ(run_dma(&f, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 8, 0xfff00000ULL), FW_CFG_DMA_ERROR);
	CHECK_EQ(run_dma(&f, FW_CFG_DMA_READ, 0x100000, 64 * MiB - 4), FW_CFG_DMA_ERROR);
	/* a descriptor outside RAM is ignored */
	uint8_t hi[4] = { 0xff, 0xff, 0, 0 }, lo[4] = { 0 };
	fwcfg_io(&f, 0x514, hi, 4, 1);
	fwcfg_io(&f, 0x518, lo, 4, 1);
	fwcfg_exit(&f);
}

static void loader_script_matches_blobs(void)
{
	struct acpi_tables t;
	CHECK(acpi_build(&(struct acpi_cfg){ .ncpus = 2, .pm_base = 0xb000, .sci_irq = 9 }, &t) == 0);
	size_t len;
	uint8_t *s = acpi_loader_script(&t, &len);
	CHECK(s && len % 128 == 0);
	CHECK_EQ(le32(s), 1);                                   /* ALLOCATE first */
	CHECK(!strcmp((char *)s + 4, "etc/acpi/rsdp"));
	CHECK_EQ(s[64], 2);                                     /* FSEG */
	CHECK_EQ(le32(s + 128), 1);
	CHECK(!strcmp((char *)s + 128 + 4, "etc/acpi/tables"));
	CHECK_EQ(s[128 + 64], 1);                               /* HIGH */
	int pointers = 0, sums = 0, seen_sum = 0;
	for (size_t e = 256; e < len; e += 128) {
		uint32_t cmd = le32(s + e);
		if (cmd == 2) {
			CHECK(!seen_sum);                               /* pointers before checksums */
			uint32_t off = le32(s + e + 116);
			const char *dst = (char *)s + e + 4;
			size_t dlen = !strcmp(dst, "etc/acpi/rsdp") ? t.len[ACPI_RSDP] : t.len[ACPI_TABLES];
			CHECK(off + s[e + 120] <= dlen);
			pointers++;
		} else {
			CHECK_EQ(cmd, 3);
			seen_sum = 1;
			sums++;
		}
	}
	CHECK_EQ(pointers, t.nptr);
	CHECK_EQ(sums, t.ncsum);
	CHECK(pointers >= 5 && sums >= 5);                      /* RSDP, RSDT x2, FADT x2; 6 tables */
	/* The PM base the firmware programmed is what the FADT says. */
	uint8_t *fadt = memmem(t.blob[ACPI_TABLES], t.len[ACPI_TABLES], "FACP", 4);
	CHECK(fadt && le32(fadt + 56) == 0xb000 && le32(fadt + 64) == 0xb004);
	free(s);
	acpi_free(&t);
}

static uint32_t cfg_read(int slot, int fn, unsigned off)
{
	uint8_t a[4], d[4];
	uint32_t addr = 0x80000000u | (uint32_t)slot << 11 | (uint32_t)fn << 8 | (off & 0xfc);
	memcpy(a, &addr, 4);
	pci_cfg_io(NULL, 0xcf8, a, 4, 1);
	pci_cfg_io(NULL, 0xcfc, d, 4, 0);
	return le32(d);
}

static void cfg_write(int slot, int fn, unsigned off, uint32_t v)
{
	uint8_t a[4], d[4];
	uint32_t addr = 0x80000000u | (uint32_t)slot << 11 | (uint32_t)fn << 8 | (off & 0xfc);
	memcpy(a, &addr, 4);
	memcpy(d, &v, 4);
	pci_cfg_io(NULL, 0xcf8, a, 4, 1);
	pci_cfg_io(NULL, 0xcfc, d, 4, 1);
}

static int bar_hits;
static void bar_fn(void *dev, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	bar_hits++;
	if (!is_write)
		data[0] = (uint8_t)off;
}

static int irq_lines[16];
static void irq_sink(int irq, int level) { irq_lines[irq] = level; }

static void pci_config_bars_and_intx(void)
{
	struct pm pm;
	struct chipset cs;
	pci_reset_bus();
	bus_unregister_all();
	pm_init(&pm, NULL, NULL);
	CHECK(chipset_init(&cs, &pm, 0) == 0);
	pci_set_irq_sink(irq_sink);
	uint8_t a[4] = { 0x00, 0x00, 0x00, 0x80 }, r[4];
	pci_cfg_io(NULL, 0xcf8, a, 4, 1);
	pci_cfg_io(NULL, 0xcf8, r, 4, 0);
	CHECK_EQ(le32(r), 0x80000000);                        /* CF8 reads back */
	CHECK_EQ(cfg_read(0, 0, 0), 0x12378086);
	CHECK_EQ(cfg_read(0, 0, 0x2c), 0x11001af4);            /* "Running on QEMU" */
	CHECK_EQ(cfg_read(1, 0, 0), 0x70008086);
	CHECK_EQ(cfg_read(1, 3, 0), 0x71138086);
	CHECK_EQ((cfg_read(1, 3, 0x58) >> 24) & 0xff, 0x02);   /* 0x5B: no SMM handshake */
	CHECK_EQ(cfg_read(5, 0, 0), 0xffffffff);               /* empty slot */
	cfg_write(0, 0, 0, 0);                                 /* IDs are read-only */
	CHECK_EQ(cfg_read(0, 0, 0), 0x12378086);

	/* PM base follows PIIX4's PMBA once PMIOSE is set */
	cfg_write(1, 3, 0x40, 0xb001);
	CHECK_EQ(cs.pm_base, 0);
	cfg_write(1, 3, 0x80, 1);
	CHECK_EQ(cs.pm_base, 0xb000);
	uint8_t d[2];
	CHECK(bus_access(BUS_PIO, 0xb004, d, 2, false));

	/* a device with an I/O and a memory BAR: sizing and mapping */
	static struct pci_dev dev;
	pci_dev_init(&dev, "test", 0x1af4, 0x1001, 0x010000, 0, 0x1af4, 2);
	pci_add_bar(&dev, 0, 0x40, PCI_BAR_IO, bar_fn, NULL);
	pci_add_bar(&dev, 1, 0x1000, PCI_BAR_MEM, bar_fn, NULL);
	dev.cfg[0x3d] = 1;
	CHECK(pci_register(&dev, 3, 0) == 0);
	CHECK(pci_register(&dev, 3, 0) < 0);                   /* slot taken */
	cfg_write(3, 0, 0x10, 0xffffffff);
	CHECK_EQ(cfg_read(3, 0, 0x10), 0xffffffc1);            /* 64 bytes of I/O */
	cfg_write(3, 0, 0x14, 0xffffffff);
	CHECK_EQ(cfg_read(3, 0, 0x14), 0xfffff000);            /* 4 KiB of memory */
	cfg_write(3, 0, 0x10, 0xc000);
	cfg_write(3, 0, 0x14, 0x80001000);
	CHECK(!bus_access(BUS_PIO, 0xc010, d, 1, false));      /* not decoded until enabled */
	cfg_write(3, 0, 0x04, PCI_CMD_IO | PCI_CMD_MEM);
	CHECK(bus_access(BUS_PIO, 0xc010, d, 1, false));
	CHECK_EQ(d[0], 0x10);                                  /* handler sees the offset */
	CHECK(bus_access(BUS_MMIO, 0x80001ffc, d, 1, false));
	cfg_write(3, 0, 0x10, 0xd000);                         /* moving it */
	CHECK(!bus_access(BUS_PIO, 0xc010, d, 1, false));
	CHECK(bus_access(BUS_PIO, 0xd03f, d, 1, false));

	/* INTx: slot 3 INTA -> PIRQ (3-1+0)&3 = C -> whatever PIIX3 routes it to */
	cfg_write(1, 0, 0x60, 0x0b0b0a0a);                     /* PIRQA-D = 10,10,11,11 */
	pci_set_irq(&dev, 1);
	CHECK_EQ(irq_lines[11], 1);
	CHECK(cfg_read(3, 0, 4) & (PCI_STATUS_INTX << 16));
	cfg_write(3, 0, 0x04, PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_INTX_DISABLE);
	CHECK_EQ(irq_lines[11], 0);                            /* masked by the command register */
	cfg_write(3, 0, 0x04, PCI_CMD_IO | PCI_CMD_MEM);
	CHECK_EQ(irq_lines[11], 1);
	pci_set_irq(&dev, 0);
	CHECK_EQ(irq_lines[11], 0);
	pci_reset_bus();
	bus_unregister_all();
}

static uint8_t cmos(struct rtc *r, uint8_t idx)
{
	uint8_t v = idx;
	rtc_io(r, 0x70, &v, 1, 1);
	rtc_io(r, 0x71, &v, 1, 0);
	return v;
}

static void cmos_out(struct rtc *r, uint8_t idx, uint8_t val)
{
	rtc_io(r, 0x70, &idx, 1, 1);
	rtc_io(r, 0x71, &val, 1, 1);
}

static int rtc_level;
static void rtc_irq_cb(int level) { rtc_level = level; }

static void cmos_time_memory_and_interrupts(void)
{
	struct rtc r;
	struct rtc_cfg c = { 128 * MiB, 2 * GiB, 4, { 2, 3, 0 } };
	CHECK(rtc_init(&r, &c, rtc_irq_cb) == 0);
	uint8_t v;
	rtc_io(&r, 0x70, &v, 1, 0);
	CHECK_EQ(v, 0xff);                                     /* index port reads 0xFF */
	CHECK_EQ(cmos(&r, 0x5f), 3);                           /* CPUs - 1 */
	CHECK_EQ(cmos(&r, 0x34) | cmos(&r, 0x35) << 8, (128 - 16) * 16); /* 64 KiB units over 16 MiB */
	CHECK_EQ(cmos(&r, 0x5b) | cmos(&r, 0x5c) << 8 | cmos(&r, 0x5d) << 16, 2 * GiB >> 16);
	CHECK_EQ(cmos(&r, 0x0f), 0);                           /* shutdown status: normal */
	CHECK_EQ(cmos(&r, 0x0d), 0x80);
	/* time in BCD, matching the host clock */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	uint8_t year = cmos(&r, 0x09), mon = cmos(&r, 0x08);
	CHECK_EQ(year, (tm.tm_year % 100) / 10 * 16 + tm.tm_year % 10);
	CHECK_EQ(mon, (tm.tm_mon + 1) / 10 * 16 + (tm.tm_mon + 1) % 10);
	/* the guest sets the clock a year ahead; it keeps running from there */
	cmos_out(&r, 0x0b, 0x82);                              /* SET */
	cmos_out(&r, 0x09, (uint8_t)(((tm.tm_year + 1) % 100) / 10 * 16 + (tm.tm_year + 1) % 10));
	cmos_out(&r, 0x0b, 0x02);
	CHECK(rtc_guest_time(&r) - now > 364 * 86400);
	/* a guest may set any date: 1850 (a negative tm_year) reads back as set */
	cmos_out(&r, 0x0b, 0x82);
	cmos_out(&r, 0x32, 0x18);
	cmos_out(&r, 0x09, 0x50);
	cmos_out(&r, 0x0b, 0x02);
	CHECK_EQ(cmos(&r, 0x09), 0x50);
	CHECK_EQ(cmos(&r, 0x32), 0x18);
	/* periodic interrupt: PIE raises IRQ 8, reading C acknowledges */
	cmos_out(&r, 0x0a, 0x26);
	cmos_out(&r, 0x0b, 0x42);
	usleep(3000);
	rtc_tick(&r);
	CHECK_EQ(rtc_level, 1);
	CHECK(cmos(&r, 0x0c) & 0xc0);
	CHECK_EQ(rtc_level, 0);
	CHECK_EQ(cmos(&r, 0x0c), 0);
	rtc_exit(&r);
}

/* The expansion ROM BAR is a power of two; the image behind it is not: the
 * guest reads the whole BAR, and past the image it must get 0xFF, never the
 * bytes after the image's buffer (ASan: heap-buffer-overflow before). */
static void rom_bar_past_the_image(void)
{
	static struct pci_dev d;
	uint8_t *img = malloc(100);
	CHECK(img != NULL);
	for (int i = 0; i < 100; i++)
		img[i] = (uint8_t)(i + 1);
	pci_dev_init(&d, "romtest", 0x1234, 0x5678, 0x030000, 0, 0, 0);
	pci_set_rom(&d, img, 100);
	struct pci_bar *b = &d.bar[PCI_ROM_BAR];
	CHECK_EQ(b->size, 2048);
	int bad = 0;
	for (uint64_t off = 0; off < b->size; off += 4) {
		uint8_t v[4];
		b->fn(b->dev, off, v, 4, false);
		for (int i = 0; i < 4; i++)
			bad += v[i] != (off + (uint64_t)i < 100 ? (uint8_t)(off + (uint64_t)i + 1) : 0xff);
	}
	CHECK_EQ(bad, 0);
	free(img);
}

/* One option ROM image of n 512-byte blocks at p: header, PCIR at 0x40
 * with vendor:device and code type, checksummed to 0 through byte 6. */
static void rom_image(uint8_t *p, unsigned blocks, uint16_t ven, uint16_t dev, uint8_t type, bool last)
{
	memset(p, 0, blocks * 512);
	p[0] = 0x55, p[1] = 0xaa, p[2] = (uint8_t)blocks, p[3] = 0xe9;
	p[0x18] = 0x40;
	uint8_t *r = p + 0x40;
	memcpy(r, "PCIR", 4);
	r[4] = (uint8_t)ven, r[5] = (uint8_t)(ven >> 8), r[6] = (uint8_t)dev, r[7] = (uint8_t)(dev >> 8);
	r[0x10] = (uint8_t)blocks, r[0x14] = type, r[0x15] = last ? 0x80 : 0;
	for (unsigned i = 0x100; i < blocks * 512; i++)
		p[i] = (uint8_t)(i * 7);
	uint8_t sum = 0;
	for (unsigned i = 0; i < blocks * 512; i++)
		sum = (uint8_t)(sum + p[i]);
	p[6] = (uint8_t)-sum;
}

static uint8_t rom_sum(const uint8_t *p, unsigned n)
{
	uint8_t sum = 0;
	while (n--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

/* Debian's efi-virtio.rom is an x86 image and an EFI image for 1af4:1041;
 * SeaBIOS runs an image only when its IDs are the device's (1af4:1000):
 * the x86 image takes the device's IDs with its checksum kept, the EFI
 * image is untouched, and a damaged chain stops the walk. */
static void rom_ids_follow_the_device(void)
{
	static uint8_t rom[3 * 512];
	rom_image(rom, 2, 0x1af4, 0x1041, 0, false);
	rom_image(rom + 1024, 1, 0x1af4, 0x1041, 3, true);
	uint8_t efi[512];
	memcpy(efi, rom + 1024, 512);
	pci_rom_set_ids(rom, sizeof(rom), 0x1af4, 0x1000);
	CHECK_EQ(rom[0x44] | rom[0x45] << 8, 0x1af4);
	CHECK_EQ(rom[0x46] | rom[0x47] << 8, 0x1000);
	CHECK_EQ(rom_sum(rom, 1024), 0);
	CHECK(!memcmp(rom + 1024, efi, 512));
	/* the PCIR pointer past the end, an image longer than the file: nothing read outside */
	rom_image(rom, 2, 0x1af4, 0x1041, 0, false);
	rom[0x18] = 0xff, rom[0x19] = 0xff;
	pci_rom_set_ids(rom, sizeof(rom), 0x1af4, 0x1000);
	CHECK_EQ(rom[0x47] << 8 | rom[0x46], 0x1041);
	rom_image(rom, 2, 0x1af4, 0x1041, 0, false);
	rom[2] = 200;
	pci_rom_set_ids(rom, sizeof(rom), 0x1af4, 0x1000);
	CHECK_EQ(rom[0x47] << 8 | rom[0x46], 0x1041);
	pci_rom_set_ids(rom, 10, 0x1af4, 0x1000); /* shorter than a header */
}

/* --smbios file=: a damaged table stops hal at start, a good one is kept
 * for every boot. */
static void smbios_file_checked_at_start(void)
{
	static const uint8_t good[] = { 32, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, 4, 0, 1, 0, 0 };
	char path[] = "/tmp/hal-smbios-XXXXXX", arg[64], why[256];
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, good, sizeof(good) - 2) == sizeof(good) - 2); /* the end's string set cut off */
	snprintf(arg, sizeof(arg), "file=%s", path);
	char *argv[] = { "hal", "--kernel", "k", "--smbios", arg, NULL };
	struct config cfg;
	CHECK_EQ(config_parse(5, argv, &cfg, why, sizeof(why)), CONFIG_OK);
	struct pc pc = { .cfg = &cfg };
	CHECK_EQ(pc_load_smbios(&pc), HAL_EXIT_ERROR);
	free(pc.smbios_file);
	CHECK(pwrite(fd, good, sizeof(good), 0) == sizeof(good));
	close(fd);
	pc = (struct pc){ .cfg = &cfg };
	CHECK_EQ(pc_load_smbios(&pc), 0);
	CHECK_EQ(pc.smbios_file_len, sizeof(good));
	CHECK(!memcmp(pc.smbios_file, good, sizeof(good)));
	free(pc.smbios_file);
	unlink(path);
	char *dflt[] = { "hal", "--kernel", "k", NULL };
	CHECK_EQ(config_parse(3, dflt, &cfg, why, sizeof(why)), CONFIG_OK);
	pc = (struct pc){ .cfg = &cfg };
	CHECK_EQ(pc_load_smbios(&pc), 0);
	CHECK(!pc.smbios_file);
}

static const struct fwcfg_item *item(const struct fwcfg *f, uint16_t key, const char *name)
{
	for (int i = 0; i < f->nitems; i++)
		if (name ? !strcmp(f->items[i].name, name) : f->items[i].key == key)
			return &f->items[i];
	return NULL;
}

/* What firmware shows as the machine's UUID (fw_cfg's UUID item, RFC 4122
 * order) is SMBIOS type 1's, also from a --smbios file; type 4's processor
 * ID is the guest's CPUID leaf 1 (EAX, EDX). */
static void fwcfg_uuid_and_processor_id(void)
{
	static const uint8_t table[] = { 1, 0x1b, 0x10, 0, 0, 0, 0, 0,
					 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, /* SMBIOS order */
					 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
					 6, 0, 0, 0, 0, 127, 4, 0, 1, 0, 0 };
	static const uint8_t wire[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	char path[] = "/tmp/hal-smbios-XXXXXX", arg[64], why[256];
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, table, sizeof(table)) == sizeof(table));
	close(fd);
	snprintf(arg, sizeof(arg), "file=%s", path);
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[2];
	} cpuid = { .c.nent = 2, .e = { { .function = 0, .eax = 0xd }, { .function = 1, .eax = 0x00a20f12, .edx = 0x178bfbff } } };
	for (int round = 0; round < 2; round++) {
		char *argv[] = { "hal", "--disk", "d.img", "--smbios", round ? "default" : arg, NULL };
		struct config cfg;
		CHECK_EQ(config_parse(5, argv, &cfg, why, sizeof(why)), CONFIG_OK);
		struct pc pc = { .cfg = &cfg };
		pc.vm.mem = mem;
		pc.vm.cpuid = &cpuid.c;
		CHECK_EQ(pc_load_smbios(&pc), 0);
		CHECK_EQ(pc_fwcfg_fill(&pc), 0);
		const struct fwcfg_item *u = item(&pc.fwcfg, FW_CFG_UUID, NULL);
		const struct fwcfg_item *t = item(&pc.fwcfg, 0, "etc/smbios/smbios-tables");
		CHECK(u && u->size == 16 && t);
		if (u && t && !round) {
			CHECK(!memcmp(u->data, wire, 16));
			CHECK(t->size == sizeof(table) && !memcmp(t->data, table, sizeof(table)));
		} else if (u && t) {
			static const uint8_t zero[16];
			CHECK(!memcmp(u->data, zero, 16)); /* default: no UUID, as QEMU without -uuid */
			const uint8_t *p = t->data;
			size_t off = 0;
			while (off + 16 <= t->size && p[off] != 4) { /* to the first type 4 */
				off += p[off + 1];
				while (off + 1 < t->size && (p[off] || p[off + 1]))
					off++;
				off += 2;
			}
			CHECK(off + 16 <= t->size && p[off] == 4);
			if (off + 16 <= t->size)
				CHECK_EQ(le32(p + off + 8) | (uint64_t)le32(p + off + 12) << 32, 0x178bfbff00a20f12ULL);
		}
		fwcfg_exit(&pc.fwcfg);
		free(pc.smbios_file);
	}
	unlink(path);
}

/* --cdrom x.iso --disk d.img,if=ahci --disk v.img --disk w.img,if=ahci:
 * the firmware is told to boot them in that order, each where it is. */
static void bootorder_follows_the_command_line(void)
{
	char *argv[] = { "hal", "--cdrom", "x.iso", "--disk", "d.img,if=ahci", "--disk", "v.img", "--disk",
			 "w.img,serial=s,if=ahci", "--disk", "u.img,if=virtio", NULL };
	struct config c;
	char why[256], order[512];
	CHECK_EQ(config_parse(11, argv, &c, why, sizeof(why)), CONFIG_OK);
	CHECK_EQ(c.ndisks, 4);
	CHECK_EQ(c.ncdroms, 1);
	CHECK_EQ(c.disk_if[0], DISK_IF_AHCI);
	CHECK_EQ(c.disk_if[1], DISK_IF_VIRTIO);
	CHECK_EQ(c.disk_if[3], DISK_IF_VIRTIO);
	uint32_t n = pc_bootorder(&c, order, sizeof(order));
	CHECK_EQ(n, strlen(order));
	CHECK(!strcmp(order, "/pci@i0cf8/*@c/drive@0/disk@0\n"
			     "/pci@i0cf8/*@c/drive@1/disk@0\n"
			     "/pci@i0cf8/*@3\n"
			     "/pci@i0cf8/*@c/drive@2/disk@0\n"
			     "/pci@i0cf8/*@4\n"));
	/* a disk alone keeps the old path */
	char *one[] = { "hal", "--disk", "a.img", NULL };
	CHECK_EQ(config_parse(3, one, &c, why, sizeof(why)), CONFIG_OK);
	pc_bootorder(&c, order, sizeof(order));
	CHECK(!strcmp(order, "/pci@i0cf8/*@3\n"));
	/* seven AHCI devices do not fit six ports */
	char *many[] = { "hal", "--cdrom", "1", "--cdrom", "2", "--cdrom", "3", "--cdrom", "4", "--disk", "a,if=ahci",
			 "--disk", "b,if=ahci", "--disk", "c,if=ahci", NULL };
	CHECK_EQ(config_parse(15, many, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "6 ports") != NULL);
}

int main(void)
{
	if (mem_init(&mem, 64 * MiB) < 0)
		return 1;
	RUN(fwcfg_pio_signature_and_directory);
	RUN(fwcfg_dma_reads_skips_and_refuses);
	RUN(loader_script_matches_blobs);
	RUN(pci_config_bars_and_intx);
	RUN(rom_bar_past_the_image);
	RUN(rom_ids_follow_the_device);
	RUN(cmos_time_memory_and_interrupts);
	RUN(smbios_file_checked_at_start);
	RUN(fwcfg_uuid_and_processor_id);
	RUN(bootorder_follows_the_command_line);
	mem_exit(&mem);
	return 0;
}
