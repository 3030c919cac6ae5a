/* The AHCI controller driven as a guest drives it: command lists, tables
 * and PRDTs in real guest RAM (mem_init), registers through the ABAR
 * handler, commands run synchronously by ahci_process against temporary
 * image and ISO files. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/endian.h"
#include "hw/ahci.h"

#define RAM   (16 * MiB)
#define CLB(p) (0x10000ULL + 0x1000ULL * (p))
#define FB(p)  (0x20000ULL + 0x100ULL * (p))
#define CT(s)  (0x40000ULL + 0x1000ULL * (s))
#define DATA  0x100000ULL
#define DISK  (4 * MiB)
#define ISO_BLOCKS 64
#define BAD   0xf0000000ULL /* not guest RAM */
#define P_DISK 0
#define P_RO   1
#define P_CD   2

static struct guest_mem m;
static char img[64], roimg[64], iso[64], iso2[64];
static struct disk disk, rodisk;
static struct atapi_medium medium;
static struct ahci *a;
static int msis, intx_level;

static int fake_msi(uint64_t addr, uint32_t data) { (void)addr; (void)data; msis++; return 0; }
static void fake_intx(struct ahci *x, int level) { (void)x; intx_level = level; }
static uint8_t *g(uint64_t gpa) { return gpa_ptr(&m, gpa, 1); }

static uint32_t rd(uint64_t off)
{
	uint8_t d[4];
	ahci_mmio(a, off, d, 4, false);
	return get_le32(d);
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t d[4];
	put_le32(d, v);
	ahci_mmio(a, off, d, 4, true);
}

static uint64_t preg(int p, unsigned r) { return 0x100 + 0x80 * (uint64_t)p + r; }

/* What a driver does at start: lists and FIS areas in RAM, FRE, ST, IE. */
static void port_up(int p)
{
	wr(preg(p, 0x00), (uint32_t)CLB(p));
	wr(preg(p, 0x08), (uint32_t)FB(p));
	wr(preg(p, 0x18), 0x10);      /* FRE */
	wr(preg(p, 0x18), 0x11);      /* ST */
	wr(preg(p, 0x30), 0xffffffff); /* SERR */
	wr(preg(p, 0x10), 0xffffffff); /* IS */
	wr(preg(p, 0x14), 0xffffffff); /* IE */
}

static void reset_all(void)
{
	ahci_free(a);
	a = ahci_new();
	a->mem = &m;
	a->signal_msi = fake_msi;
	a->intx = fake_intx;
	ahci_attach_disk(a, &disk, 0);
	ahci_attach_disk(a, &rodisk, 1);
	ahci_attach_cdrom(a, &medium);
	wr(0x04, 0x80000002); /* GHC.IE */
	for (int p = 0; p < 3; p++)
		port_up(p);
}

/* Builds slot s of port p: an H2D register FIS, an optional CDB, a PRDT of
 * nprd entries of len bytes each from DATA, issues it and runs it. Returns
 * PxTFD. */
struct cmd {
	uint8_t ata, feat, dev;
	uint64_t lba;
	uint16_t count;
	const uint8_t *cdb;
	unsigned nprd;
	uint32_t prd_len;
	bool write;
	int slot;
	bool ncq;
};

static void build(int p, const struct cmd *c)
{
	uint8_t *h = g(CLB(p) + 32ULL * (unsigned)c->slot), *t = g(CT(c->slot));
	memset(h, 0, 32);
	memset(t, 0, 0x80 + 16 * c->nprd);
	put_le32(h, 5 | (c->cdb ? 0x20 : 0) | (c->write ? 0x40 : 0) | c->nprd << 16);
	put_le64(h + 8, CT(c->slot));
	t[0] = 0x27;
	t[1] = 0x80;
	t[2] = c->ata;
	t[3] = c->feat;
	t[4] = (uint8_t)c->lba, t[5] = (uint8_t)(c->lba >> 8), t[6] = (uint8_t)(c->lba >> 16);
	t[7] = c->dev;
	t[8] = (uint8_t)(c->lba >> 24), t[9] = (uint8_t)(c->lba >> 32), t[10] = (uint8_t)(c->lba >> 40);
	t[12] = (uint8_t)c->count, t[13] = (uint8_t)(c->count >> 8);
	if (c->cdb)
		memcpy(t + 0x40, c->cdb, 16);
	for (unsigned i = 0; i < c->nprd; i++) {
		put_le64(t + 0x80 + 16 * i, DATA + (uint64_t)i * c->prd_len);
		put_le32(t + 0x80 + 16 * i + 12, c->prd_len - 1);
	}
}

static uint32_t issue(int p, const struct cmd *c)
{
	build(p, c);
	if (c->ncq)
		wr(preg(p, 0x34), 1u << c->slot);
	wr(preg(p, 0x38), 1u << c->slot);
	ahci_process(a);
	return rd(preg(p, 0x20));
}

static uint32_t ata(int p, uint8_t cmd, uint64_t lba, uint16_t count, uint32_t bytes, bool write)
{
	struct cmd c = { .ata = cmd, .lba = lba, .count = count, .dev = 0x40, .nprd = bytes ? 1 : 0,
			 .prd_len = bytes, .write = write };
	return issue(p, &c);
}

static uint32_t packet(const uint8_t *cdb, uint32_t bytes)
{
	uint8_t full[16] = { 0 };
	memcpy(full, cdb, 12);
	struct cmd c = { .ata = 0xa0, .feat = 1, .cdb = full, .nprd = bytes ? 1 : 0, .prd_len = bytes };
	return issue(P_CD, &c);
}

static uint16_t idw(int w) { return get_le16(g(DATA) + 2 * w); }

static void id_str(int w, int words, char *out)
{
	for (int i = 0; i < words; i++) {
		out[2 * i] = (char)(idw(w + i) >> 8);
		out[2 * i + 1] = (char)idw(w + i);
	}
	out[2 * words] = 0;
}

static void mkfile(char *path, const char *tmpl, uint64_t size);

static void test_hba_regs(void)
{
	reset_all();
	uint32_t cap = rd(0x00);
	CHECK_EQ(cap & 0x1f, 5);               /* 6 ports */
	CHECK_EQ((cap >> 8) & 0x1f, 31);       /* 32 slots */
	CHECK(cap & (1u << 30));               /* NCQ */
	CHECK_EQ(rd(0x0c), 0x3f);              /* PI */
	CHECK_EQ(rd(0x10), 0x10300);           /* 1.3 */
	CHECK_EQ(rd(preg(P_DISK, 0x24)), 0x101);
	CHECK_EQ(rd(preg(P_CD, 0x24)), 0xeb140101);
	CHECK_EQ(rd(preg(P_DISK, 0x28)) & 0xf, 3);
	CHECK_EQ(rd(preg(4, 0x28)), 0);        /* nothing on port 4 */
	CHECK_EQ(get_le16(a->pci.cfg), 0x8086);
	CHECK_EQ(get_le16(a->pci.cfg + 2), 0x2922);
	CHECK_EQ(a->pci.cfg[0x0b], 0x01);
	CHECK_EQ(a->pci.cfg[0x0a], 0x06);
	CHECK_EQ(a->pci.cfg[0x09], 0x01);
	CHECK_EQ(a->pci.bar[5].size, AHCI_ABAR_SIZE);
	/* GHC.HR: the port registers the driver set are gone */
	wr(0x04, 1);
	CHECK_EQ(rd(0x04), 0x80000000);
	CHECK_EQ(rd(preg(P_DISK, 0x00)), 0);
	CHECK_EQ(rd(preg(P_DISK, 0x18)) & 1, 0);
}

static void test_identify(void)
{
	reset_all();
	memset(g(DATA), 0, 512);
	uint32_t tfd = ata(P_DISK, 0xec, 0, 0, 512, false);
	CHECK_EQ(tfd & 0x89, 0);                    /* no BSY, DRQ, ERR */
	char s[48];
	id_str(10, 10, s);
	CHECK(!strcmp(s, "hal-test-serial     "));
	id_str(27, 20, s);
	CHECK(!strncmp(s, "HAL HARDDISK ", 13));
	uint64_t n = idw(100) | (uint64_t)idw(101) << 16 | (uint64_t)idw(102) << 32;
	CHECK_EQ(n, DISK / 512);
	CHECK(idw(83) & (1 << 10));                  /* LBA48 */
	CHECK(idw(83) & (1 << 13));                  /* FLUSH CACHE EXT */
	CHECK(idw(76) & (1 << 8));                   /* NCQ */
	CHECK_EQ(idw(75), 31);                       /* depth 32 */
	CHECK(idw(169) & 1);                         /* TRIM */
	CHECK(idw(82) & (1 << 5));                   /* write cache */
	uint8_t sum = 0;
	for (int i = 0; i < 512; i++)
		sum = (uint8_t)(sum + g(DATA)[i]);
	CHECK_EQ(sum, 0);                            /* integrity word */
	CHECK_EQ(get_le32(g(CLB(P_DISK)) + 4), 512); /* PRDBC */
	CHECK(rd(preg(P_DISK, 0x10)) & 2);           /* PIO setup FIS */
	CHECK_EQ(g(FB(P_DISK))[0x40], 0x34);         /* D2H FIS */
	CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);         /* CI clear */
	CHECK(intx_level);
	/* the guest acknowledges: the line drops */
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(0x08, 0xffffffff);
	CHECK_EQ(intx_level, 0);
	/* the read-only disk has no TRIM; the default serial */
	ata(P_RO, 0xec, 0, 0, 512, false);
	CHECK_EQ(idw(169) & 1, 0);
	id_str(10, 10, s);
	CHECK(!strcmp(s, "hal-sata1           "));
	/* the CD aborts IDENTIFY DEVICE with its signature, answers IDENTIFY PACKET */
	tfd = ata(P_CD, 0xec, 0, 0, 512, false);
	CHECK(tfd & 1);
	CHECK_EQ(g(FB(P_CD))[0x40 + 5], 0x14);
	CHECK_EQ(g(FB(P_CD))[0x40 + 6], 0xeb);
	tfd = ata(P_CD, 0xa1, 0, 0, 512, false);
	CHECK_EQ(tfd & 1, 0);
	CHECK_EQ(idw(0) >> 14, 2);                   /* ATAPI */
}

static void test_read_write(void)
{
	reset_all();
	int fd = open(img, O_RDWR);
	CHECK(fd >= 0);
	for (int i = 0; i < 8 * 512; i++)
		g(DATA)[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(ata(P_DISK, 0x35, 100, 8, 8 * 512, true) & 1, 0); /* WRITE DMA EXT */
	uint8_t buf[8 * 512];
	CHECK(pread(fd, buf, sizeof(buf), 100 * 512) == (ssize_t)sizeof(buf));
	CHECK(!memcmp(buf, g(DATA), sizeof(buf)));
	memset(g(DATA), 0, sizeof(buf));
	CHECK_EQ(ata(P_DISK, 0x25, 100, 8, 8 * 512, false) & 1, 0); /* READ DMA EXT */
	CHECK(!memcmp(buf, g(DATA), sizeof(buf)));
	/* the 28-bit forms, several PRDT entries of 1 KiB */
	memset(g(DATA), 0x5a, 4096);
	struct cmd c = { .ata = 0xca, .lba = 200, .count = 8, .dev = 0x40, .nprd = 4, .prd_len = 1024, .write = true };
	CHECK_EQ(issue(P_DISK, &c) & 1, 0);
	CHECK(pread(fd, buf, 4096, 200 * 512) == 4096);
	CHECK(buf[0] == 0x5a && buf[4095] == 0x5a);
	CHECK_EQ(get_le32(g(CLB(P_DISK)) + 4), 4096);
	/* past the end: IDNF, nothing written */
	CHECK_EQ(ata(P_DISK, 0x35, DISK / 512 - 1, 2, 1024, true) & 0x1001, 0x1001);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));  /* TFES */
	/* FLUSH CACHE EXT, READ VERIFY */
	CHECK_EQ(ata(P_DISK, 0xea, 0, 0, 0, false) & 1, 0);
	CHECK_EQ(ata(P_DISK, 0xe7, 0, 0, 0, false) & 1, 0);
	CHECK_EQ(ata(P_DISK, 0x42, 0, 16, 0, false) & 1, 0);
	CHECK_EQ(ata(P_DISK, 0x42, DISK / 512, 1, 0, false) & 1, 1);
	/* SET FEATURES: write cache off shows in IDENTIFY */
	struct cmd sf = { .ata = 0xef, .feat = 0x82 };
	CHECK_EQ(issue(P_DISK, &sf) & 1, 0);
	ata(P_DISK, 0xec, 0, 0, 512, false);
	CHECK_EQ(idw(85) & (1 << 5), 0);
	/* an unknown command aborts */
	CHECK_EQ(ata(P_DISK, 0xb0, 0, 0, 0, false) >> 8 & 0xff, 0x04);
	close(fd);
}

static void test_ncq(void)
{
	reset_all();
	int fd = open(img, O_RDWR);
	CHECK(fd >= 0);
	uint8_t pat[4][1024];
	/* four tags written, each 2 sectors at LBA 300 + 2*tag */
	for (int t = 0; t < 4; t++) {
		memset(pat[t], 0x10 + t, 1024);
		struct cmd c = { .ata = 0x61, .feat = 2, .lba = 300 + 2 * (uint64_t)t, .count = (uint16_t)(t << 3),
				 .dev = 0x40, .nprd = 1, .prd_len = 1024, .write = true, .slot = t, .ncq = true };
		build(P_DISK, &c);
		/* each tag's own data buffer */
		uint8_t *tab = g(CT(t));
		put_le64(tab + 0x80, DATA + 0x10000ULL * (unsigned)t);
		memcpy(g(DATA + 0x10000ULL * (unsigned)t), pat[t], 1024);
	}
	wr(preg(P_DISK, 0x34), 0xf);
	wr(preg(P_DISK, 0x38), 0xf);
	CHECK_EQ(rd(preg(P_DISK, 0x34)), 0xf);
	ahci_process(a);
	CHECK_EQ(rd(preg(P_DISK, 0x34)), 0);       /* all tags completed */
	CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);
	CHECK(rd(preg(P_DISK, 0x10)) & 8);          /* set device bits FIS */
	CHECK_EQ(g(FB(P_DISK))[0x58], 0xa1);
	for (int t = 0; t < 4; t++) {
		uint8_t buf[1024];
		CHECK(pread(fd, buf, 1024, (300 + 2 * (uint64_t)t) * 512) == 1024);
		CHECK(!memcmp(buf, pat[t], 1024));
	}
	/* and read back by tag 5 */
	memset(g(DATA), 0, 4096);
	struct cmd r = { .ata = 0x60, .feat = 8, .lba = 300, .count = 5 << 3, .dev = 0x40, .nprd = 1, .prd_len = 4096,
			 .slot = 5, .ncq = true };
	CHECK_EQ(issue(P_DISK, &r) & 1, 0);
	CHECK(!memcmp(g(DATA), pat[0], 1024) && !memcmp(g(DATA) + 3072, pat[3], 1024));
	CHECK_EQ(get_le32(g(FB(P_DISK)) + 0x58 + 4), 1u << 5);
	close(fd);
}

static void test_trim(void)
{
	reset_all();
	int fd = open(img, O_RDWR);
	CHECK(fd >= 0);
	uint8_t buf[256 * KiB];
	memset(buf, 0xee, sizeof(buf));
	CHECK(pwrite(fd, buf, sizeof(buf), 1 * MiB) == (ssize_t)sizeof(buf));
	fsync(fd);
	struct stat before, after;
	fstat(fd, &before);
	memset(g(DATA), 0, 512);
	put_le64(g(DATA), (uint64_t)(1 * MiB / 512) | (uint64_t)(256 * KiB / 512) << 48);
	struct cmd c = { .ata = 0x06, .feat = 1, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512, .write = true };
	CHECK_EQ(issue(P_DISK, &c) & 1, 0);
	fstat(fd, &after);
	CHECK(after.st_blocks < before.st_blocks);   /* a hole */
	CHECK(pread(fd, buf, sizeof(buf), 1 * MiB) == (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i += 512)
		CHECK_EQ(buf[i], 0);
	/* a range past the end is refused */
	put_le64(g(DATA), (uint64_t)(DISK / 512) | 1ULL << 48);
	CHECK_EQ(issue(P_DISK, &c) & 1, 1);
	close(fd);
}

static void test_readonly(void)
{
	reset_all();
	int fd = open(roimg, O_RDONLY);
	CHECK(fd >= 0);
	uint8_t before[512], after[512];
	CHECK(pread(fd, before, 512, 0) == 512);
	memset(g(DATA), 0x77, 512);
	uint32_t tfd = ata(P_RO, 0x35, 0, 1, 512, true);
	CHECK_EQ(tfd & 0xff01, 0x0401);             /* ABRT */
	struct cmd w = { .ata = 0x61, .feat = 1, .dev = 0x40, .nprd = 1, .prd_len = 512, .write = true, .ncq = true };
	CHECK_EQ(issue(P_RO, &w) & 1, 1);
	struct cmd t = { .ata = 0x06, .feat = 1, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512, .write = true };
	CHECK_EQ(issue(P_RO, &t) & 1, 1);
	CHECK(pread(fd, after, 512, 0) == 512);
	CHECK(!memcmp(before, after, 512));
	CHECK_EQ(ata(P_RO, 0x25, 0, 1, 512, false) & 1, 0); /* reads work */
	close(fd);
}

/* Every hostile layout: TFES, ERR, and RAM outside the named places untouched. */
static void test_hostile(void)
{
	reset_all();
	int fd = open(img, O_RDWR);
	CHECK(fd >= 0);
	uint8_t sect[512];
	CHECK(pread(fd, sect, 512, 0) == 512);
	/* CTBA outside RAM */
	build(P_DISK, &(struct cmd){ .ata = 0x25, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512 });
	put_le64(g(CLB(P_DISK)) + 8, BAD);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 1);
	ahci_process(a);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	CHECK(rd(preg(P_DISK, 0x20)) & 1);
	CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);
	/* the CTBA right at the end of RAM: the table does not fit */
	build(P_DISK, &(struct cmd){ .ata = 0x25, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512 });
	put_le64(g(CLB(P_DISK)) + 8, RAM - 0x80);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 1);
	ahci_process(a);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	/* a PRDT entry running past the end of RAM, on a write: the disk is unchanged */
	build(P_DISK, &(struct cmd){ .ata = 0x35, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512, .write = true });
	put_le64(g(CT(0)) + 0x80, RAM - 256);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 1);
	ahci_process(a);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	uint8_t now[512];
	CHECK(pread(fd, now, 512, 0) == 512);
	CHECK(!memcmp(now, sect, 512));
	/* PRDTL 65535 with a table near the end of RAM */
	build(P_DISK, &(struct cmd){ .ata = 0x25, .count = 1, .dev = 0x40, .nprd = 1, .prd_len = 512 });
	put_le32(g(CLB(P_DISK)), 5 | 0xffffu << 16);
	put_le64(g(CLB(P_DISK)) + 8, RAM - 0x10000);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 1);
	ahci_process(a);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	/* PRDTL 65535 that fits in RAM but whose entries are zero-length-ish
	 * zeros: each entry is checked, 1-byte buffers at address 0 are RAM */
	build(P_DISK, &(struct cmd){ .ata = 0x25, .count = 1, .dev = 0x40, .nprd = 0 });
	put_le32(g(CLB(P_DISK)), 5 | 0xffffu << 16);
	put_le64(g(CLB(P_DISK)) + 8, 0x200000);       /* 1 MiB of table: above the hole below 1 MiB */
	memcpy(g(0x200000), g(CT(0)), 0x80);
	memset(g(0x200080), 0, 65535 * 16);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 1);
	ahci_process(a);
	CHECK_EQ(rd(preg(P_DISK, 0x20)), 0x50);     /* 512 of them: a valid read */
	/* the received-FIS area outside RAM: the command fails and is not run */
	memset(g(DATA), 0x33, 512);
	wr(preg(P_DISK, 0x18), 0);                    /* stop, move FB, start */
	wr(preg(P_DISK, 0x08), (uint32_t)BAD);
	wr(preg(P_DISK, 0x18), 0x11);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	CHECK(ata(P_DISK, 0x35, 0, 1, 512, true) & 1);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	CHECK(pread(fd, now, 512, 0) == 512);
	CHECK(!memcmp(now, sect, 512));
	/* the command list outside RAM */
	wr(preg(P_DISK, 0x18), 0);
	wr(preg(P_DISK, 0x08), (uint32_t)FB(P_DISK));
	wr(preg(P_DISK, 0x00), (uint32_t)(RAM - 0x400));
	wr(preg(P_DISK, 0x04), 1);                    /* CLBU: above 4 GiB, not RAM */
	wr(preg(P_DISK, 0x18), 0x11);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(preg(P_DISK, 0x38), 0x80000000);
	ahci_process(a);
	CHECK(rd(preg(P_DISK, 0x10)) & (1u << 30));
	CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);
	/* the port still works after it is restarted */
	wr(preg(P_DISK, 0x18), 0);
	wr(preg(P_DISK, 0x04), 0);
	wr(preg(P_DISK, 0x00), (uint32_t)CLB(P_DISK));
	wr(preg(P_DISK, 0x18), 0x11);
	CHECK_EQ(ata(P_DISK, 0x25, 0, 1, 512, false) & 1, 0);
	CHECK(!memcmp(g(DATA), sect, 512));
	close(fd);
}

static uint8_t sense_key(void)
{
	static const uint8_t rs[12] = { 0x03, 0, 0, 0, 18 };
	memset(g(DATA), 0, 18);
	packet(rs, 18);
	return g(DATA)[2];
}

static void test_atapi(void)
{
	reset_all();
	static const uint8_t inq[12] = { 0x12, 0, 0, 0, 36 };
	CHECK_EQ(packet(inq, 36) & 1, 0);
	CHECK_EQ(g(DATA)[0], 0x05);
	CHECK(g(DATA)[1] & 0x80);
	CHECK(!memcmp(g(DATA) + 16, "HAL DVD-ROM", 11));
	static const uint8_t cap[12] = { 0x25 };
	CHECK_EQ(packet(cap, 8) & 1, 0);
	CHECK_EQ(get_be32(g(DATA)), ISO_BLOCKS - 1);
	CHECK_EQ(get_be32(g(DATA) + 4), 2048);
	/* READ(10) of blocks 5-7: each block starts with its number */
	uint8_t rd10[12] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 3 };
	CHECK_EQ(packet(rd10, 3 * 2048) & 1, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(g(DATA)[i * 2048], 5 + i);
		CHECK_EQ(g(DATA)[i * 2048 + 2047], (uint8_t)~(5 + i));
	}
	uint8_t rd12[12] = { 0xa8, 0, 0, 0, 0, ISO_BLOCKS - 1, 0, 0, 0, 1 };
	CHECK_EQ(packet(rd12, 2048) & 1, 0);
	CHECK_EQ(g(DATA)[0], ISO_BLOCKS - 1);
	rd12[5] = ISO_BLOCKS; /* past the end */
	uint32_t tfd = packet(rd12, 2048);
	CHECK(tfd & 1);
	CHECK_EQ(tfd >> 12 & 0xf, 5);                /* ILLEGAL REQUEST in the error register */
	CHECK_EQ(sense_key(), 5);
	CHECK_EQ(g(DATA)[12], 0x21);
	/* READ TOC format 0: track 1 and the lead-out at the capacity */
	static const uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100 };
	CHECK_EQ(packet(toc, 100) & 1, 0);
	CHECK_EQ(get_be16(g(DATA)), 18);
	CHECK_EQ(g(DATA)[6], 1);
	CHECK_EQ(g(DATA)[14], 0xaa);
	CHECK_EQ(get_be32(g(DATA) + 16), ISO_BLOCKS);
	static const uint8_t toc1[12] = { 0x43, 0, 1, 0, 0, 0, 0, 0, 12 };
	CHECK_EQ(packet(toc1, 12) & 1, 0);
	CHECK_EQ(get_be16(g(DATA)), 10);
	/* GET CONFIGURATION: a small ISO is a CD-ROM */
	static const uint8_t gc[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 255 };
	CHECK_EQ(packet(gc, 255) & 1, 0);
	CHECK_EQ(get_be16(g(DATA) + 6), 0x0008);
	static const uint8_t ms[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 64 };
	CHECK_EQ(packet(ms, 64) & 1, 0);
	CHECK_EQ(g(DATA)[8], 0x2a);
	static const uint8_t ms1[12] = { 0x5a, 0, 0x01, 0, 0, 0, 0, 0, 64 };
	CHECK(packet(ms1, 64) & 1);
	static const uint8_t di[12] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34 };
	CHECK_EQ(packet(di, 34) & 1, 0);
	CHECK_EQ(g(DATA)[2], 0x0e);
	static const uint8_t bogus[12] = { 0xf7 };
	CHECK(packet(bogus, 0) & 1);
	CHECK_EQ(sense_key(), 5);
	CHECK_EQ(g(DATA)[12], 0x20);
}

static void test_media_change(void)
{
	reset_all();
	static const uint8_t tur[12] = { 0x00 };
	CHECK_EQ(packet(tur, 0) & 1, 0);
	char why[256];
	/* the host ejects: no medium */
	CHECK_EQ(atapi_medium_change(&medium, NULL, why, sizeof(why)), 0);
	uint32_t tfd = packet(tur, 0);
	CHECK(tfd & 1);
	CHECK_EQ(tfd >> 12 & 0xf, 2);                /* NOT READY */
	CHECK_EQ(sense_key(), 2);
	CHECK_EQ(g(DATA)[12], 0x3a);                 /* MEDIUM NOT PRESENT */
	static const uint8_t cap[12] = { 0x25 };
	CHECK(packet(cap, 8) & 1);
	/* GET EVENT STATUS reports the removal */
	static const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
	CHECK_EQ(packet(gesn, 8) & 1, 0);
	CHECK_EQ(g(DATA)[4], 3);
	CHECK_EQ(g(DATA)[5] & 2, 0);
	/* a missing file is refused and changes nothing */
	CHECK(atapi_medium_change(&medium, "/nonexistent/x.iso", why, sizeof(why)) < 0);
	CHECK(strstr(why, "/nonexistent/x.iso") != NULL);
	/* a new medium: UNIT ATTENTION once, then ready with its size */
	CHECK_EQ(atapi_medium_change(&medium, iso2, why, sizeof(why)), 0);
	tfd = packet(tur, 0);
	CHECK_EQ(tfd >> 12 & 0xf, 6);
	CHECK_EQ(sense_key(), 6);
	CHECK_EQ(g(DATA)[12], 0x28);
	CHECK_EQ(packet(tur, 0) & 1, 0);
	CHECK_EQ(packet(cap, 8) & 1, 0);
	CHECK_EQ(get_be32(g(DATA)), 2 * ISO_BLOCKS - 1);
	CHECK_EQ(packet(gesn, 8) & 1, 0);
	CHECK_EQ(g(DATA)[4], 2);                     /* new medium */
	CHECK(g(DATA)[5] & 2);
	/* PREVENT REMOVAL: the guest's eject is refused; allowed, it opens the tray */
	static const uint8_t prevent[12] = { 0x1e, 0, 0, 0, 1 }, allow[12] = { 0x1e };
	static const uint8_t eject[12] = { 0x1b, 0, 0, 0, 2 }, load[12] = { 0x1b, 0, 0, 0, 3 };
	CHECK_EQ(packet(prevent, 0) & 1, 0);
	CHECK(packet(eject, 0) & 1);
	CHECK_EQ(packet(allow, 0) & 1, 0);
	CHECK_EQ(packet(eject, 0) & 1, 0);
	CHECK(packet(tur, 0) & 1);
	CHECK_EQ(packet(load, 0) & 1, 0);
	CHECK_EQ(packet(tur, 0) >> 12 & 0xf, 6);     /* the disc is back: UNIT ATTENTION */
	CHECK_EQ(packet(tur, 0) & 1, 0);
	/* back to the first ISO for the other tests */
	CHECK_EQ(atapi_medium_change(&medium, iso, why, sizeof(why)), 0);
}

static void test_msi(void)
{
	reset_all();
	uint8_t at = a->msi_cap;
	CHECK_EQ(a->pci.cfg[at], 0x05);
	uint8_t v[4];
	put_le32(v, 0xfee00000);
	pci_cfg_write(&a->pci, at + 4, v, 4);
	put_le32(v, 0x4041);
	pci_cfg_write(&a->pci, at + 12, v, 2);
	v[0] = 1;
	pci_cfg_write(&a->pci, at + 2, v, 1);
	msis = 0;
	intx_level = 0;
	ata(P_DISK, 0xea, 0, 0, 0, false);
	CHECK_EQ(msis, 1);
	CHECK_EQ(intx_level, 0);                     /* MSI on: no INTx */
	/* acknowledged only at the HBA: the port is still pending, another MSI */
	wr(0x08, 1);
	CHECK_EQ(msis, 2);
	wr(preg(P_DISK, 0x10), 0xffffffff);
	wr(0x08, 1);
	CHECK_EQ(msis, 2);
	/* GHC.IE off: nothing */
	wr(0x04, 0x80000000);
	ata(P_DISK, 0xea, 0, 0, 0, false);
	CHECK_EQ(msis, 2);
}

static void test_comreset(void)
{
	reset_all();
	wr(preg(P_DISK, 0x18), 0);
	wr(preg(P_DISK, 0x2c), 1);                   /* DET 1: COMRESET */
	CHECK_EQ(rd(preg(P_DISK, 0x28)) & 0xf, 0);
	wr(preg(P_DISK, 0x2c), 0);
	CHECK_EQ(rd(preg(P_DISK, 0x28)) & 0xf, 3);
	CHECK_EQ(rd(preg(P_DISK, 0x20)) & 0x80, 0);
	CHECK_EQ(rd(preg(P_DISK, 0x24)), 0x101);
	/* soft reset by two device control FISes: the signature comes back */
	wr(preg(P_CD, 0x10), 0xffffffff);
	build(P_CD, &(struct cmd){ 0 });
	g(CT(0))[1] = 0;
	g(CT(0))[15] = 4;
	wr(preg(P_CD, 0x38), 1);
	ahci_process(a);
	g(CT(0))[15] = 0;
	memset(g(FB(P_CD)), 0, 256);
	wr(preg(P_CD, 0x38), 1);
	ahci_process(a);
	CHECK_EQ(g(FB(P_CD))[0x40 + 6], 0xeb);
	CHECK_EQ(g(FB(P_CD))[0x40 + 5], 0x14);
}

/* What the board opens at start: ,if=ahci is the front end's, the disk
 * layer takes it; a missing or empty ISO is an error naming the file. */
static void test_open(void)
{
	char spec[128], why[256];
	struct disk d;
	struct atapi_medium x;
	snprintf(spec, sizeof(spec), "%s,if=ahci,ro", img);
	CHECK_EQ(disk_open(&d, spec, why, sizeof(why)), 0);
	CHECK(d.ro);
	disk_close(&d);
	snprintf(spec, sizeof(spec), "%s,if=scsi", img);
	CHECK(disk_open(&d, spec, why, sizeof(why)) < 0);
	CHECK(strstr(why, "if=scsi") != NULL);
	CHECK(atapi_medium_open(&x, "/nonexistent/cd.iso", why, sizeof(why)) < 0);
	CHECK(strstr(why, "/nonexistent/cd.iso") && strstr(why, "No such file"));
	char empty[64];
	mkfile(empty, "/tmp/hal-ahci-empty-XXXXXX", 0);
	CHECK(atapi_medium_open(&x, empty, why, sizeof(why)) < 0);
	CHECK(strstr(why, empty) != NULL);
	unlink(empty);
	CHECK(atapi_medium_open(&x, "/tmp", why, sizeof(why)) < 0);
	CHECK(strstr(why, "not a regular file") != NULL);
}

/* With its I/O thread (as the board runs it): a PxCI write from "the vCPU"
 * returns at once, the thread completes the command and raises the line;
 * an HBA reset meanwhile waits for it. */
static void test_thread(void)
{
	reset_all();
	char why[256];
	CHECK_EQ(ahci_start(a, 12, why, sizeof(why)), 0);
	build(P_DISK, &(struct cmd){ .ata = 0x25, .count = 8, .dev = 0x40, .nprd = 1, .prd_len = 4096 });
	memset(g(DATA), 0xcc, 4096);
	intx_level = 0;
	wr(preg(P_DISK, 0x38), 1);
	for (int i = 0; i < 2000 && rd(preg(P_DISK, 0x38)); i++)
		usleep(1000);
	CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);
	CHECK_EQ(rd(preg(P_DISK, 0x20)) & 1, 0);
	CHECK(intx_level);
	CHECK(g(DATA)[0] != 0xcc || g(DATA)[4095] != 0xcc);
	/* many commands, then a reset right away: the result is never posted after it */
	for (int k = 0; k < 50; k++) {
		wr(preg(P_DISK, 0x38), 1);
		wr(0x04, 1);
		CHECK_EQ(rd(preg(P_DISK, 0x38)), 0);
		port_up(P_DISK);
	}
	CHECK_EQ(pci_find(12, 0), &a->pci);
	ahci_free(a);
	a = NULL;
	CHECK(pci_find(12, 0) == NULL);
}

static void mkfile(char *path, const char *tmpl, uint64_t size)
{
	snprintf(path, 64, "%s", tmpl);
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		exit(1);
	close(fd);
}

static void mkiso(char *path, unsigned blocks)
{
	snprintf(path, 64, "/tmp/hal-ahci-iso-XXXXXX");
	int fd = mkstemp(path);
	uint8_t b[2048];
	for (unsigned i = 0; i < blocks; i++) {
		memset(b, 0x42, sizeof(b));
		b[0] = (uint8_t)i;
		b[2047] = (uint8_t)~i;
		if (fd < 0 || write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			exit(1);
	}
	close(fd);
}

int main(void)
{
	char why[256], spec[128];
	if (mem_init(&m, RAM) < 0)
		return 1;
	mkfile(img, "/tmp/hal-ahci-XXXXXX", DISK);
	mkfile(roimg, "/tmp/hal-ahci-ro-XXXXXX", DISK);
	mkiso(iso, ISO_BLOCKS);
	mkiso(iso2, 2 * ISO_BLOCKS);
	snprintf(spec, sizeof(spec), "%s,serial=hal-test-serial", img);
	if (disk_open(&disk, spec, why, sizeof(why)) < 0)
		return printf("FAIL disk_open: %s\n", why), 1;
	snprintf(spec, sizeof(spec), "%s,ro", roimg);
	if (disk_open(&rodisk, spec, why, sizeof(why)) < 0 || atapi_medium_open(&medium, iso, why, sizeof(why)) < 0)
		return printf("FAIL open: %s\n", why), 1;
	RUN(test_hba_regs);
	RUN(test_identify);
	RUN(test_read_write);
	RUN(test_ncq);
	RUN(test_trim);
	RUN(test_readonly);
	RUN(test_hostile);
	RUN(test_atapi);
	RUN(test_media_change);
	RUN(test_msi);
	RUN(test_comreset);
	RUN(test_open);
	RUN(test_thread);
	ahci_free(a);
	disk_close(&disk);
	disk_close(&rodisk);
	atapi_medium_close(&medium);
	unlink(img);
	unlink(roimg);
	unlink(iso);
	unlink(iso2);
	mem_exit(&m);
	return 0;
}
