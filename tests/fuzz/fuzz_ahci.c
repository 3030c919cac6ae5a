/* The AHCI controller: ABAR registers, PCI config space (MSI), command
 * lists, command tables, PRDTs and received-FIS areas in a 64 KiB guest
 * RAM, every ATA and ATAPI command, against a 64 KiB SATA disk and a
 * 16-sector ISO in memory (memfds opened by path, as --disk and --cdrom
 * open files). Operations (fuzz.h): 0 an ABAR access, 1 config space, 2 a
 * RAM store of the value, 3 the next n input bytes into RAM, 4 run the
 * issued commands (the I/O thread's ahci_process), 5 eject (value bit 0)
 * or insert the ISO, 6 a driver's port set-up (CLB 0x1000 + 0x400 * port,
 * FB 0x3000 + 0x100 * port, FRE, ST, IE) for the ports in the value's bits.
 * The first byte: bit 0 picks the controller whose disk is read-only. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "hw/ahci.h"

#define FZ_RAM 0x10000

static char disk_path[64], iso_path[64];

static int fz_msi(uint64_t addr, uint32_t data) { (void)addr; (void)data; return 0; }
static void fz_intx(struct ahci *a, int level) { (void)a; (void)level; }

static void mkmem(char *path, const char *name, size_t size, uint8_t fill)
{
	int fd = memfd_create(name, 0);
	uint8_t b[2048];
	memset(b, fill, sizeof(b));
	if (fd < 0)
		abort();
	for (size_t o = 0; o < size; o += sizeof(b))
		if (pwrite(fd, b, sizeof(b), (off_t)o) != (ssize_t)sizeof(b))
			abort();
	snprintf(path, 64, "/proc/self/fd/%d", fd);
}

static void wr32(struct ahci *a, uint64_t off, uint32_t v)
{
	fz_io(ahci_mmio, a, off, 4, v, true);
}

/* Two controllers made once (one over the read-write disk, one over the
 * read-only one): a controller holds a 1 MiB PRDT iovec table, and
 * allocating it per input made ASan's quarantine the bottleneck. Each
 * input starts from an HBA reset, the power-on config space and the ISO. */
static struct ahci *ctl[2];
static uint8_t cfg0[256];
static struct disk disks[2];
static struct atapi_medium media[2];
static struct guest_mem ram;

static void init(void)
{
	char why[256], spec[96];
	mkmem(disk_path, "fuzz-disk", 64 * 1024, 0);
	mkmem(iso_path, "fuzz-iso", 16 * 2048, 0x5a);
	fz_ram(&ram, FZ_RAM);
	for (int i = 0; i < 2; i++) {
		snprintf(spec, sizeof(spec), "%s%s", disk_path, i ? ",ro" : ",serial=fuzz");
		if (disk_open(&disks[i], spec, why, sizeof(why)) < 0 ||
		    atapi_medium_open(&media[i], iso_path, why, sizeof(why)) < 0 || !(ctl[i] = ahci_new()))
			abort();
		ctl[i]->mem = &ram;
		ctl[i]->signal_msi = fz_msi;
		ctl[i]->intx = fz_intx;
		ahci_attach_disk(ctl[i], &disks[i], 0);
		ahci_attach_cdrom(ctl[i], &media[i]);
	}
	memcpy(cfg0, ctl[0]->pci.cfg, sizeof(cfg0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	if (!ctl[0])
		init();
	struct fz f = { data, size };
	int which = fz_u(&f, 1) & 1;
	struct ahci *a = ctl[which];
	struct atapi_medium *m = &media[which];
	memset(ram.base, 0, FZ_RAM);
	memcpy(a->pci.cfg, cfg0, sizeof(cfg0));
	atapi_medium_change(m, iso_path, why, sizeof(why));
	fz_io(ahci_mmio, a, 0x04, 4, 1, true); /* GHC.HR */
	a->port[1].cd.seen_gen = m->gen;       /* the ISO was there at power-on */
	a->port[1].cd.had_medium = true;
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&f, &o, 2); n++) {
		switch (o.kind % 8) {
		case 0:
			fz_io(ahci_mmio, a, o.addr & 0xfff, o.len, o.val, o.write);
			break;
		case 1: {
			uint8_t b[8];
			unsigned off = o.addr & 0xff, len = o.len > 4 ? 4 : o.len;
			memcpy(b, &o.val, 8);
			if (o.write)
				pci_cfg_write(&a->pci, off, b, len);
			else
				pci_cfg_read(&a->pci, off, b, len);
			break;
		}
		case 2: {
			uint64_t at = o.addr % FZ_RAM;
			if (at + o.len <= FZ_RAM)
				memcpy(ram.base + at, &o.val, o.len);
			break;
		}
		case 3: {
			uint64_t at = o.addr % FZ_RAM;
			size_t k = (size_t)fz_u(&f, 1);
			if (k > FZ_RAM - at)
				k = FZ_RAM - at;
			fz_bytes(&f, ram.base + at, k);
			break;
		}
		case 4:
			ahci_process(a);
			break;
		case 5:
			atapi_medium_change(m, o.val & 1 ? NULL : iso_path, why, sizeof(why));
			break;
		case 6:
			wr32(a, 0x04, 0x80000002);
			for (int p = 0; p < AHCI_PORTS; p++) {
				if (!(o.val >> p & 1))
					continue;
				uint64_t r = 0x100 + 0x80 * (uint64_t)p;
				wr32(a, r + 0x00, 0x1000 + 0x400 * (uint32_t)p);
				wr32(a, r + 0x08, 0x3000 + 0x100 * (uint32_t)p);
				wr32(a, r + 0x18, 0x11);
				wr32(a, r + 0x14, 0xffffffff);
			}
			break;
		default:
			break;
		}
	}
	ahci_process(a);
	return 0;
}
