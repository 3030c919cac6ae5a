/* The AHCI controller (Serial ATA AHCI 1.3) and its SATA disks (ATA8-ACS
 * commands). Registers change under the device lock on the vCPU; a write
 * of PxCI wakes the I/O thread, which reads the command list, the command
 * table and the PRDT from guest RAM (every address through gpa_ptr), runs
 * the command outside the lock and posts the result FIS. A command whose
 * structures are not guest RAM fails with a task-file error (PxIS.TFES,
 * PxTFD.ERR): a guest cannot make hal touch other memory. The ATAPI
 * commands are in atapi.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "hw/ahci.h"

/* HBA registers (AHCI 1.3 §3.1) */
enum { CAP = 0x00, GHC = 0x04, IS = 0x08, PI = 0x0c, VS = 0x10, CAP2 = 0x24, BOHC = 0x28, PORT0 = 0x100, PORT_LEN = 0x80 };
#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SCLO (1u << 24)
#define CAP_ISS_GEN1 (1u << 20)
#define CAP_SAM (1u << 18)   /* AHCI only: GHC.AE reads 1 */
#define GHC_HR 1u
#define GHC_IE 2u
#define GHC_AE (1u << 31)
/* port registers (§3.3) */
enum { P_CLB = 0x00, P_CLBU = 0x04, P_FB = 0x08, P_FBU = 0x0c, P_IS = 0x10, P_IE = 0x14, P_CMD = 0x18, P_TFD = 0x20,
       P_SIG = 0x24, P_SSTS = 0x28, P_SCTL = 0x2c, P_SERR = 0x30, P_SACT = 0x34, P_CI = 0x38 };
#define IS_DHRS 1u        /* a D2H register FIS arrived */
#define IS_PSS 2u         /* a PIO setup FIS */
#define IS_SDBS 8u        /* a set device bits FIS */
#define IS_PCS (1u << 6)  /* port connect change */
#define IS_TFES (1u << 30)
#define IS_MASK 0xfdc000ffu
#define CMD_ST 1u
#define CMD_SUD 2u
#define CMD_POD 4u
#define CMD_CLO 8u
#define CMD_FRE 0x10u
#define CMD_FR (1u << 14)
#define CMD_CR (1u << 15)
#define CMD_RW 0xfc0000fcu /* what the guest may set besides ST, CLO, FRE */
#define SIG_DISK 0x00000101u
#define SIG_ATAPI 0xeb140101u
#define SSTS_UP 0x113u    /* DET 3 (phy up), SPD 1, IPM 1 (active) */
#define SERR_DIAG_X (1u << 26)
/* ATA status and error */
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DSC 0x10
#define ST_DRDY 0x40
#define ST_BSY 0x80
#define ER_ABRT 0x04
#define ER_IDNF 0x10
#define ER_UNC 0x40
/* FIS types and where they land in the received-FIS area (§4.2.1) */
#define FIS_H2D 0x27
#define FIS_D2H 0x34
#define FIS_PIO 0x5f
#define FIS_SDB 0xa1
#define RX_PSFIS 0x20
#define RX_RFIS 0x40
#define RX_SDBFIS 0x58
#define RX_LEN 256
/* the command header (§4.2.2) and table (§4.2.3) */
#define HDR_LEN 32
#define HDR_ATAPI (1u << 5)
#define CT_ACMD 0x40
#define CT_PRDT 0x80
#define PRD_LEN 16
#define PRD_DBC_MASK 0x3fffff
#define MAX_SECTORS_EXT 65536
#define NCQ_DEPTH 32
#define DSM_MAX_BLOCKS 8  /* 512-byte blocks of TRIM ranges in one command (IDENTIFY word 105) */

static bool port_present(const struct ahci_port *p) { return p->kind != AHCI_NONE; }

/* ---- interrupts ------------------------------------------------------------------ */

static uint32_t hba_is(const struct ahci *a)
{
	uint32_t is = 0;
	for (int i = 0; i < AHCI_PORTS; i++)
		if (a->port[i].is & a->port[i].ie)
			is |= 1u << i;
	return is;
}

static bool msi_on(struct ahci *a)
{
	uint8_t c;
	pci_cfg_read(&a->pci, a->msi_cap + 2u, &c, 1);
	return c & 1;
}

/* IS is the ports' pending bits, so it cannot be cleared while one is still
 * pending. INTx follows the level; MSI fires on each new event, and again
 * when the guest acknowledged but something is still pending, so a single
 * vector never loses an event that arrived during the guest's handler.
 * Called with the lock held. */
static void update_irq(struct ahci *a, bool event)
{
	bool level = (a->ghc & GHC_IE) && hba_is(a);
	if (msi_on(a)) {
		if (level && event) {
			uint8_t c[14];
			pci_cfg_read(&a->pci, a->msi_cap, c, sizeof(c));
			a->signal_msi(get_le32(c + 4) | (uint64_t)get_le32(c + 8) << 32, get_le16(c + 12));
		}
		level = false;
	}
	if (level != (a->irq_level != 0)) {
		a->irq_level = level;
		a->intx(a, level);
	}
}

static void pci_intx(struct ahci *a, int level) { pci_set_irq(&a->pci, level); }

/* ---- port state -------------------------------------------------------------------- */

static uint32_t port_sig(const struct ahci_port *p)
{
	return p->kind == AHCI_CDROM ? SIG_ATAPI : p->kind == AHCI_DISK ? SIG_DISK : 0xffffffffu;
}

/* The state after power-on, COMRESET or HBA reset: registers the software
 * programs are cleared, the device's signature is there. */
static void port_reset(struct ahci_port *p, bool hba)
{
	if (hba) {
		p->clb = p->clbu = p->fb = p->fbu = p->ie = 0;
		p->cmd = CMD_SUD | CMD_POD;
		p->sctl = 0;
	}
	p->is = 0;
	p->ci = p->sact = 0;
	p->serr = port_present(p) ? SERR_DIAG_X : 0;
	p->sig = port_sig(p);
	p->ssts = port_present(p) ? SSTS_UP : 0;
	p->tfd = port_present(p) ? (p->kind == AHCI_CDROM ? 0 : ST_DRDY | ST_DSC) : 0x7f;
	p->wcache = true;
	if (p->kind == AHCI_CDROM)
		atapi_reset(&p->cd);
	p->gen++;
}

/* Resets wait for the command the I/O thread is running: its result is
 * then dropped (gen changed), never posted into the new state. */
static void wait_idle(struct ahci *a)
{
	while (a->inflight)
		pthread_cond_wait(&a->idle, &a->lock);
}

static void hba_reset(struct ahci *a)
{
	wait_idle(a);
	a->ghc = GHC_AE;
	for (int i = 0; i < AHCI_PORTS; i++)
		port_reset(&a->port[i], true);
	update_irq(a, false);
}

static void kick(struct ahci *a)
{
	uint64_t one = 1;
	if (a->kick_fd >= 0 && write(a->kick_fd, &one, sizeof(one)) < 0) {
		/* a full counter is a pending wake-up already */
	}
}

static void port_write(struct ahci *a, struct ahci_port *p, unsigned reg, uint32_t v)
{
	switch (reg) {
	case P_CLB: p->clb = v & ~0x3ffu; break;
	case P_CLBU: p->clbu = v; break;
	case P_FB: p->fb = v & ~0xffu; break;
	case P_FBU: p->fbu = v; break;
	case P_IS:
		p->is &= ~v;
		update_irq(a, true);
		break;
	case P_IE:
		p->ie = v & IS_MASK;
		update_irq(a, true);
		break;
	case P_CMD: {
		uint32_t old = p->cmd;
		p->cmd = (p->cmd & ~(CMD_RW | CMD_ST | CMD_FRE)) | (v & (CMD_RW | CMD_ST | CMD_FRE));
		if (v & CMD_CLO) /* command list override: BSY and DRQ go */
			p->tfd &= ~(uint32_t)(ST_BSY | ST_DRQ);
		if ((old & CMD_ST) && !(v & CMD_ST)) { /* stopped: the list is forgotten */
			wait_idle(a);
			p->ci = p->sact = 0;
		}
		p->cmd = (p->cmd & ~(CMD_CR | CMD_FR)) | (p->cmd & CMD_ST ? CMD_CR : 0) | (p->cmd & CMD_FRE ? CMD_FR : 0);
		break;
	}
	case P_SCTL:
		/* DET 1 is COMRESET: the link goes down until DET is 0 again */
		if ((v & 0xf) == 1 && (p->sctl & 0xf) != 1) {
			wait_idle(a);
			port_reset(p, false);
			p->ssts = 0;
			p->tfd = port_present(p) ? ST_BSY : 0x7f;
		} else if ((v & 0xf) != 1 && (p->sctl & 0xf) == 1) {
			port_reset(p, false);
			if (port_present(p)) {
				p->is |= IS_PCS;
				update_irq(a, true);
			}
		}
		p->sctl = v & 0xfff;
		break;
	case P_SERR: p->serr &= ~v; break;
	case P_SACT:
		if (p->cmd & CMD_ST)
			p->sact |= v;
		break;
	case P_CI:
		if ((p->cmd & CMD_ST) && port_present(p) && (v & ~p->ci)) {
			p->ci |= v;
			kick(a);
		}
		break;
	}
}

static uint32_t port_read(const struct ahci_port *p, unsigned reg)
{
	switch (reg) {
	case P_CLB: return p->clb;
	case P_CLBU: return p->clbu;
	case P_FB: return p->fb;
	case P_FBU: return p->fbu;
	case P_IS: return p->is;
	case P_IE: return p->ie;
	case P_CMD: return p->cmd;
	case P_TFD: return p->tfd;
	case P_SIG: return p->sig;
	case P_SSTS: return p->ssts;
	case P_SCTL: return p->sctl;
	case P_SERR: return p->serr;
	case P_SACT: return p->sact;
	case P_CI: return p->ci;
	}
	return 0;
}

static uint32_t hba_cap(void)
{
	return CAP_S64A | CAP_SNCQ | CAP_SCLO | CAP_ISS_GEN1 | CAP_SAM | (AHCI_SLOTS - 1u) << 8 | (AHCI_PORTS - 1u);
}

/* Registers are 32 bits wide; a narrower or misaligned access is taken as
 * the part of its dword (the read-modify-write a guest would have done). */
void ahci_mmio(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct ahci *a = dev;
	if (len == 0 || len > 8 || addr >= AHCI_ABAR_SIZE) {
		if (!is_write)
			memset(data, 0xff, len > 8 ? 8 : len);
		return;
	}
	if (len == 8 && !(addr & 7)) { /* two dwords */
		ahci_mmio(dev, addr, data, 4, is_write);
		ahci_mmio(dev, addr + 4, data + 4, 4, is_write);
		return;
	}
	unsigned reg = (unsigned)addr & ~3u, shift = ((unsigned)addr & 3) * 8;
	if (!is_write)
		memset(data, 0, len); /* bytes past the dword read as 0 */
	if (len + (addr & 3) > 4)
		len = 4 - (unsigned)(addr & 3);
	pthread_mutex_lock(&a->lock);
	uint32_t cur = 0;
	struct ahci_port *p = NULL;
	if (reg >= PORT0 && reg < PORT0 + AHCI_PORTS * PORT_LEN)
		p = &a->port[(reg - PORT0) / PORT_LEN];
	if (p)
		cur = port_read(p, (reg - PORT0) % PORT_LEN);
	else if (reg == CAP)
		cur = hba_cap();
	else if (reg == GHC)
		cur = a->ghc;
	else if (reg == IS)
		cur = hba_is(a);
	else if (reg == PI)
		cur = (1u << AHCI_PORTS) - 1;
	else if (reg == VS)
		cur = 0x00010300; /* 1.3 */
	if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = (uint8_t)(cur >> (shift + 8 * i));
		pthread_mutex_unlock(&a->lock);
		return;
	}
	uint32_t v = 0, mask = 0;
	for (unsigned i = 0; i < len; i++) {
		v |= (uint32_t)data[i] << (shift + 8 * i);
		mask |= 0xffu << (shift + 8 * i);
	}
	/* RW1C registers: bytes not written are not cleared */
	bool w1c = p ? ((reg - PORT0) % PORT_LEN == P_IS || (reg - PORT0) % PORT_LEN == P_SERR ||
			(reg - PORT0) % PORT_LEN == P_CI || (reg - PORT0) % PORT_LEN == P_SACT)
		     : reg == IS;
	uint32_t val = w1c ? v : (cur & ~mask) | v;
	if (p)
		port_write(a, p, (reg - PORT0) % PORT_LEN, val);
	else if (reg == GHC) {
		if (val & GHC_HR)
			hba_reset(a);
		else {
			a->ghc = GHC_AE | (val & GHC_IE);
			update_irq(a, true);
		}
	} else if (reg == IS)
		update_irq(a, true); /* still pending: another MSI (see update_irq) */
	pthread_mutex_unlock(&a->lock);
}

/* ---- guest memory --------------------------------------------------------------------- */

static uint64_t addr64(uint32_t lo, uint32_t hi) { return lo | (uint64_t)hi << 32; }

uint64_t ahci_sg_copy_to(const struct ahci_sg *sg, const void *buf, uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < sg->n && done < len; i++) {
		uint64_t l = sg->iov[i].iov_len < len - done ? sg->iov[i].iov_len : len - done;
		memcpy(sg->iov[i].iov_base, (const uint8_t *)buf + done, l);
		done += l;
	}
	return done;
}

uint64_t ahci_sg_copy_from(const struct ahci_sg *sg, void *buf, uint64_t len)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < sg->n && done < len; i++) {
		uint64_t l = sg->iov[i].iov_len < len - done ? sg->iov[i].iov_len : len - done;
		memcpy((uint8_t *)buf + done, sg->iov[i].iov_base, l);
		done += l;
	}
	return done;
}

/* The first len bytes of sg as their own list (for the disk layer, which
 * wants the exact transfer). n is left at the entries needed. */
static bool sg_trim(struct ahci_sg *sg, uint64_t len, size_t *last_len)
{
	uint64_t left = len;
	for (unsigned i = 0; i < sg->n; i++) {
		if (sg->iov[i].iov_len >= left) {
			*last_len = sg->iov[i].iov_len;
			sg->iov[i].iov_len = left;
			sg->n = i + 1;
			return true;
		}
		left -= sg->iov[i].iov_len;
	}
	return false;
}

/* ---- one command ------------------------------------------------------------------------ */

struct result {
	uint8_t status, error;
	uint32_t bytes;        /* PRDBC */
	bool pio;              /* data-in by PIO: a PIO setup FIS too */
	bool ncq;              /* completion by a set device bits FIS */
	bool sig;              /* a reset's D2H FIS with the signature */
};

static void ok(struct result *r) { r->status = ST_DRDY | ST_DSC; r->error = 0; }
static void abrt(struct result *r, uint8_t error) { r->status = ST_DRDY | ST_ERR; r->error = error; }

static uint8_t host_error(struct ahci *a, struct ahci_port *p, const char *op, uint64_t lba)
{
	int e = errno;
	unsigned long n = __atomic_add_fetch(&a->host_errors, 1, __ATOMIC_RELAXED);
	if (!(n & (n - 1)))
		warnx("AHCI disk %s: %s at sector %llu failed: %s (%lu host I/O error%s so far, the guest sees each)",
		      p->disk->path, op, (unsigned long long)lba, strerror(e), n, n == 1 ? "" : "s");
	return ER_UNC;
}

static void id_string(uint16_t *w, const char *s, unsigned words)
{
	char b[64];
	memset(b, ' ', sizeof(b));
	memcpy(b, s, strnlen(s, words * 2));
	for (unsigned i = 0; i < words; i++) /* ATA strings: the first character in the high byte */
		w[i] = (uint16_t)((uint8_t)b[2 * i] << 8 | (uint8_t)b[2 * i + 1]);
}

/* IDENTIFY DEVICE / IDENTIFY PACKET DEVICE (ATA8-ACS §7.16/7.17, table 22). */
static void identify(const struct ahci_port *p, uint8_t out[512])
{
	uint16_t w[256] = { 0 };
	bool cd = p->kind == AHCI_CDROM;
	uint64_t n = cd ? 0 : p->disk->size / DISK_SECTOR;
	id_string(w + 10, p->serial, 10);
	id_string(w + 23, "1.0", 4);
	id_string(w + 27, cd ? "HAL DVD-ROM" : "HAL HARDDISK", 20);
	w[49] = 0x0b00;          /* LBA, DMA, IORDY */
	w[50] = 0x4000;
	w[53] = 0x0006;          /* words 64-70 and 88 valid */
	w[63] = 0x0007;          /* multiword DMA 0-2 */
	w[64] = 0x0003;          /* PIO 3-4 */
	w[65] = w[66] = w[67] = w[68] = 120;
	w[80] = 0x01f0;          /* ATA/ATAPI-4 to ATA8-ACS */
	w[83] = w[84] = w[87] = 0x4000;
	w[88] = 0x203f;          /* UDMA 0-5, mode 5 selected */
	w[76] = 0x000e;          /* SATA gen 1-3 */
	if (cd) {
		w[0] = 0x85c0;   /* ATAPI, CD-ROM, removable, 12-byte packets */
		w[82] = 0x0010;  /* PACKET feature set */
		w[85] = 0x0010;
	} else {
		uint64_t chs = n < 16383ULL * 16 * 63 ? n : 16383ULL * 16 * 63;
		w[0] = 0x0040;
		w[1] = w[54] = (uint16_t)(chs / (16 * 63));
		w[3] = w[55] = 16;
		w[6] = w[56] = 63;
		w[53] = 0x0007;
		w[57] = (uint16_t)chs;
		w[58] = (uint16_t)(chs >> 16);
		w[47] = 0x8010;  /* READ/WRITE MULTIPLE: 16 sectors */
		w[59] = 0x0110;
		uint32_t lba28 = n < 0x0fffffff ? (uint32_t)n : 0x0fffffff;
		w[60] = (uint16_t)lba28;
		w[61] = (uint16_t)(lba28 >> 16);
		w[75] = NCQ_DEPTH - 1;
		w[76] = 0x010e;  /* NCQ, gen 1-3 */
		w[82] = 0x0060;  /* write cache, look-ahead */
		w[83] = 0x7400;  /* LBA48, FLUSH CACHE, FLUSH CACHE EXT */
		w[85] = (uint16_t)(0x0040 | (p->wcache ? 0x0020 : 0));
		w[86] = 0x3400;
		for (int i = 0; i < 4; i++)
			w[100 + i] = (uint16_t)(n >> (16 * i));
		w[105] = DSM_MAX_BLOCKS;
		w[169] = p->disk->ro ? 0 : 0x0001; /* DSM TRIM */
		w[217] = 0x0001; /* non-rotating: the guest may trim */
	}
	/* integrity word: signature A5h, and a checksum making the sum 0 */
	w[255] = 0x00a5;
	uint8_t sum = 0;
	for (int i = 0; i < 256; i++) {
		put_le16(out + 2 * i, w[i]);
		if (i < 255)
			sum = (uint8_t)(sum + out[2 * i] + out[2 * i + 1]);
	}
	sum = (uint8_t)(sum + 0xa5);
	out[511] = (uint8_t)-sum;
}

static uint64_t fis_lba48(const uint8_t *f)
{
	return f[4] | (uint64_t)f[5] << 8 | (uint64_t)f[6] << 16 | (uint64_t)f[8] << 24 | (uint64_t)f[9] << 32 |
	       (uint64_t)f[10] << 40;
}

static bool in_disk(const struct ahci_port *p, uint64_t lba, uint64_t n)
{
	uint64_t total = p->disk->size / DISK_SECTOR;
	return lba <= total && n <= total - lba;
}

static void rw(struct ahci *a, struct ahci_port *p, struct ahci_sg *sg, uint64_t lba, uint64_t n, bool write,
	       struct result *r)
{
	size_t last;
	uint64_t len = n * DISK_SECTOR;
	if (!in_disk(p, lba, n)) {
		abrt(r, ER_IDNF);
		return;
	}
	if (write && p->disk->ro) {
		abrt(r, ER_ABRT);
		return;
	}
	if (!n) {
		ok(r);
		return;
	}
	if (sg->len < len || !sg_trim(sg, len, &last)) {
		abrt(r, ER_ABRT); /* the PRDT is shorter than the transfer */
		return;
	}
	int e = write ? disk_writev(p->disk, sg->iov, sg->n, lba * DISK_SECTOR)
		      : disk_readv(p->disk, sg->iov, sg->n, lba * DISK_SECTOR);
	if (e < 0) {
		abrt(r, host_error(a, p, write ? "write" : "read", lba));
		return;
	}
	r->bytes = (uint32_t)len;
	ok(r);
}

/* DATA SET MANAGEMENT with TRIM: 8-byte entries {LBA 48 bits, count 16}. */
static void trim(struct ahci *a, struct ahci_port *p, struct ahci_sg *sg, uint32_t blocks, struct result *r)
{
	uint8_t buf[DSM_MAX_BLOCKS * 512];
	if (p->disk->ro || !blocks || blocks > DSM_MAX_BLOCKS || sg->len < blocks * 512u) {
		abrt(r, ER_ABRT);
		return;
	}
	ahci_sg_copy_from(sg, buf, blocks * 512u);
	for (unsigned i = 0; i < blocks * 512u / 8; i++) {
		uint64_t e = get_le64(buf + 8 * i), lba = e & 0xffffffffffffULL, n = e >> 48;
		if (!n)
			continue;
		if (!in_disk(p, lba, n)) {
			abrt(r, ER_IDNF);
			return;
		}
		if (disk_discard(p->disk, lba * DISK_SECTOR, n * DISK_SECTOR) < 0 && errno != EOPNOTSUPP) {
			abrt(r, host_error(a, p, "discard", lba));
			return;
		}
	}
	r->bytes = blocks * 512u;
	ok(r);
}

static void ata_command(struct ahci *a, struct ahci_port *p, const uint8_t *f, struct ahci_sg *sg, struct result *r)
{
	uint8_t cmd = f[2], feat = f[3];
	uint32_t count = f[12] | (uint32_t)f[13] << 8;
	uint64_t lba48 = fis_lba48(f), lba28 = (f[4] | f[5] << 8 | f[6] << 16) | (uint64_t)(f[7] & 0x0f) << 24;
	uint8_t id[512];
	switch (cmd) {
	case 0xec: /* IDENTIFY DEVICE */
		if (p->kind == AHCI_CDROM) { /* an ATAPI device aborts it, with its signature in the FIS */
			abrt(r, ER_ABRT);
			r->sig = true;
			return;
		}
		/* fallthrough */
	case 0xa1: /* IDENTIFY PACKET DEVICE */
		if ((cmd == 0xa1) != (p->kind == AHCI_CDROM)) {
			abrt(r, ER_ABRT);
			return;
		}
		identify(p, id);
		r->bytes = (uint32_t)ahci_sg_copy_to(sg, id, 512);
		r->pio = true;
		ok(r);
		return;
	case 0xa0: /* PACKET */
		return; /* the caller's */
	case 0x08: /* DEVICE RESET (ATAPI) */
		if (p->kind != AHCI_CDROM)
			break;
		atapi_reset(&p->cd);
		ok(r);
		r->sig = true;
		return;
	case 0xef: /* SET FEATURES */
		switch (feat) {
		case 0x02: p->wcache = true; break;
		case 0x82: p->wcache = false; break;
		case 0x03: case 0x05: case 0x10: case 0x55: case 0x66: case 0x85: case 0x90: case 0xaa: case 0xcc: break;
		default: abrt(r, ER_ABRT); return;
		}
		ok(r);
		return;
	case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe5: case 0xe6: /* power management: always active */
	case 0x91: case 0xc6: case 0xf5: /* INITIALIZE DEVICE PARAMETERS, SET MULTIPLE MODE, SECURITY FREEZE LOCK */
		if (p->kind == AHCI_CDROM && cmd != 0xe5 && cmd != 0xe0 && cmd != 0xe1)
			break;
		ok(r);
		return;
	}
	if (p->kind != AHCI_DISK) {
		abrt(r, ER_ABRT);
		return;
	}
	switch (cmd) {
	case 0x20: case 0xc8: case 0xc4: /* READ SECTORS, READ DMA, READ MULTIPLE */
		rw(a, p, sg, lba28, count & 0xff ? count & 0xff : 256, false, r);
		r->pio = cmd != 0xc8;
		return;
	case 0x30: case 0xca: case 0xc5: /* WRITE SECTORS, WRITE DMA, WRITE MULTIPLE */
		rw(a, p, sg, lba28, count & 0xff ? count & 0xff : 256, true, r);
		return;
	case 0x24: case 0x25: case 0x29: /* READ SECTORS / DMA / MULTIPLE EXT */
		rw(a, p, sg, lba48, count ? count : MAX_SECTORS_EXT, false, r);
		r->pio = cmd != 0x25;
		return;
	case 0x34: case 0x35: case 0x39: case 0x3d: /* WRITE SECTORS / DMA / MULTIPLE / DMA FUA EXT */
		rw(a, p, sg, lba48, count ? count : MAX_SECTORS_EXT, true, r);
		if (cmd == 0x3d && r->status == (ST_DRDY | ST_DSC) && disk_flush(p->disk) < 0)
			abrt(r, host_error(a, p, "flush", lba48));
		return;
	case 0x60: case 0x61: { /* READ / WRITE FPDMA QUEUED: the count is in the features */
		uint32_t n = feat | (uint32_t)f[11] << 8;
		rw(a, p, sg, lba48, n ? n : MAX_SECTORS_EXT, cmd == 0x61, r);
		if (cmd == 0x61 && (f[7] & 0x80) && r->status == (ST_DRDY | ST_DSC) && disk_flush(p->disk) < 0)
			abrt(r, host_error(a, p, "flush", lba48)); /* FUA */
		r->ncq = true;
		return;
	}
	case 0x40: case 0x42: { /* READ VERIFY SECTORS (EXT): the range only */
		uint64_t lba = cmd == 0x42 ? lba48 : lba28;
		uint64_t n = cmd == 0x42 ? (count ? count : MAX_SECTORS_EXT) : (count & 0xff ? count & 0xff : 256);
		if (in_disk(p, lba, n))
			ok(r);
		else
			abrt(r, ER_IDNF);
		return;
	}
	case 0xe7: case 0xea: /* FLUSH CACHE (EXT) */
		if (disk_flush(p->disk) < 0)
			abrt(r, host_error(a, p, "flush", 0));
		else
			ok(r);
		return;
	case 0x06: /* DATA SET MANAGEMENT */
		if (!(feat & 1)) {
			abrt(r, ER_ABRT);
			return;
		}
		trim(a, p, sg, count, r);
		return;
	}
	abrt(r, ER_ABRT);
}

/* The slot's command header, table and PRDT, checked against guest RAM:
 * false when any of them is not RAM or the PRDT is absurd. */
static bool load(struct ahci *a, uint64_t clb, int slot, uint8_t *fis, uint8_t *acmd, uint8_t *hdr_out,
		 struct ahci_sg *sg, uint8_t **hdr_ptr)
{
	uint8_t *hdr = gpa_ptr(a->mem, clb + (uint64_t)slot * HDR_LEN, HDR_LEN);
	if (!hdr)
		return false;
	memcpy(hdr_out, hdr, HDR_LEN); /* read once: the guest may change it meanwhile */
	*hdr_ptr = hdr;
	uint32_t dw0 = get_le32(hdr_out), prdtl = dw0 >> 16, cfl = dw0 & 0x1f;
	uint64_t ctba = get_le64(hdr_out + 8) & ~0x7fULL;
	uint8_t *ct = gpa_ptr(a->mem, ctba, CT_PRDT + (uint64_t)prdtl * PRD_LEN);
	if (!ct || cfl < 5 || cfl > 16)
		return false;
	memcpy(fis, ct, 64);
	memcpy(acmd, ct + CT_ACMD, 16);
	if (fis[0] != FIS_H2D)
		return false;
	sg->iov = a->iov;
	sg->n = 0;
	sg->len = 0;
	for (uint32_t i = 0; i < prdtl; i++) {
		const uint8_t *e = ct + CT_PRDT + i * PRD_LEN;
		uint64_t dba = get_le64(e) & ~1ULL;
		uint32_t dbc = (get_le32(e + 12) & PRD_DBC_MASK) + 1;
		void *h = gpa_ptr(a->mem, dba, dbc);
		if (!h)
			return false;
		a->iov[sg->n++] = (struct iovec){ h, dbc };
		sg->len += dbc;
	}
	return true;
}

/* Runs one slot's command outside the lock. */
static void run(struct ahci *a, struct ahci_port *p, uint64_t clb, int slot, struct result *r, uint8_t **hdr)
{
	uint8_t fis[64], acmd[16], h[HDR_LEN];
	struct ahci_sg sg;
	*hdr = NULL;
	memset(r, 0, sizeof(*r));
	if (!load(a, clb, slot, fis, acmd, h, &sg, hdr)) {
		abrt(r, ER_ABRT);
		return;
	}
	if (!(fis[1] & 0x80)) { /* a device control FIS: SRST */
		if (!(fis[15] & 0x04)) {
			if (p->kind == AHCI_CDROM)
				atapi_reset(&p->cd);
			r->sig = true;
		}
		ok(r);
		return;
	}
	if (fis[2] == 0xa0 && p->kind == AHCI_CDROM) { /* PACKET */
		int64_t n = atapi_command(&p->cd, acmd, &sg);
		if (n < 0) {
			r->status = ST_DRDY | ST_ERR;
			r->error = (uint8_t)(p->cd.key << 4);
		} else {
			r->status = ST_DRDY | ST_DSC;
			r->bytes = (uint32_t)n;
		}
		r->pio = !(fis[3] & 1);
		return;
	}
	ata_command(a, p, fis, &sg, r);
}

/* The result FISes into the received-FIS area, if FRE and it is RAM. */
static bool post(struct ahci *a, struct ahci_port *p, const struct result *r, int slot)
{
	uint8_t *rx = gpa_ptr(a->mem, addr64(p->fb, p->fbu), RX_LEN);
	if (!(p->cmd & CMD_FRE))
		return true;
	if (!rx)
		return false;
	if (r->ncq) {
		uint8_t *s = rx + RX_SDBFIS;
		memset(s, 0, 8);
		s[0] = FIS_SDB;
		s[1] = 0x40; /* I */
		s[2] = r->status & 0x77;
		s[3] = r->error;
		put_le32(s + 4, 1u << slot);
		return true;
	}
	if (r->pio) {
		uint8_t *s = rx + RX_PSFIS;
		memset(s, 0, 20);
		s[0] = FIS_PIO;
		s[1] = 0x60; /* I, device to host */
		s[2] = r->status;
		s[3] = r->error;
		s[15] = r->status; /* E_Status */
		put_le16(s + 16, (uint16_t)r->bytes);
	}
	uint8_t *d = rx + RX_RFIS;
	memset(d, 0, 20);
	d[0] = FIS_D2H;
	d[1] = 0x40;
	d[2] = r->status;
	d[3] = r->error;
	if (r->sig) {
		uint32_t sig = port_sig(p);
		d[12] = (uint8_t)sig;         /* sector count */
		d[4] = (uint8_t)(sig >> 8);   /* LBA low */
		d[5] = (uint8_t)(sig >> 16);  /* LBA mid */
		d[6] = (uint8_t)(sig >> 24);  /* LBA high */
	}
	return true;
}

/* With the lock held: the result into the port, unless it was reset. */
static void complete(struct ahci *a, struct ahci_port *p, int slot, const struct result *r, uint8_t *hdr)
{
	uint32_t bit = 1u << slot;
	bool fis_ok = post(a, p, r, slot);
	bool err = (r->status & ST_ERR) || !fis_ok || !hdr;
	if (hdr)
		put_le32(hdr + 4, r->bytes); /* PRDBC */
	p->tfd = (uint32_t)(err ? ((r->status & ~ST_BSY) | ST_ERR) : r->status) | (uint32_t)(err && !r->error ? ER_ABRT : r->error) << 8;
	if (r->sig)
		p->sig = port_sig(p);
	p->ci &= ~bit;
	if (r->ncq)
		p->sact &= ~bit;
	p->is |= r->ncq ? IS_SDBS : IS_DHRS;
	if (r->pio)
		p->is |= IS_PSS;
	if (err)
		p->is |= IS_TFES;
	update_irq(a, true);
}

void ahci_process(struct ahci *a)
{
	pthread_mutex_lock(&a->lock);
	for (bool more = true; more;) {
		more = false;
		for (int i = 0; i < AHCI_PORTS; i++) {
			struct ahci_port *p = &a->port[i];
			if (!(p->cmd & CMD_ST) || !p->ci)
				continue;
			int slot = __builtin_ctz(p->ci);
			unsigned gen = p->gen;
			uint64_t clb = addr64(p->clb, p->clbu);
			struct result r;
			uint8_t *hdr;
			/* a received-FIS area that is not RAM fails the command before it runs */
			bool fb_bad = (p->cmd & CMD_FRE) && !gpa_ptr(a->mem, addr64(p->fb, p->fbu), RX_LEN);
			a->inflight++;
			pthread_mutex_unlock(&a->lock);
			if (fb_bad) {
				memset(&r, 0, sizeof(r));
				abrt(&r, ER_ABRT);
				hdr = gpa_ptr(a->mem, clb + (uint64_t)slot * HDR_LEN, HDR_LEN);
			} else
				run(a, p, clb, slot, &r, &hdr);
			pthread_mutex_lock(&a->lock);
			if (--a->inflight == 0)
				pthread_cond_broadcast(&a->idle);
			if (gen == p->gen && (p->ci & (1u << slot)))
				complete(a, p, slot, &r, hdr);
			more = true;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

/* ---- set-up ------------------------------------------------------------------------------ */

struct ahci *ahci_new(void)
{
	struct ahci *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->idle, NULL);
	a->kick_fd = a->stop_fd = -1;
	a->mem = the_vm ? &the_vm->mem : NULL;
	a->signal_msi = vm_signal_msi;
	a->intx = pci_intx;
	struct pci_dev *d = &a->pci;
	pci_dev_init(d, "ahci", 0x8086, 0x2922, 0x010601, 0x02, 0x1af4, 0x1100);
	d->cfg[0x3d] = 1; /* INTA */
	pci_add_bar(d, 5, AHCI_ABAR_SIZE, PCI_BAR_MEM, ahci_mmio, a);
	/* MSI (PCI 3.0 §6.8.1), 64-bit address, one vector */
	uint8_t at = a->msi_cap = pci_add_cap(d, 0x05, 14);
	d->cfg[at + 2] = 0x80;
	d->wmask[at + 2] = 0x01;
	memset(d->wmask + at + 4, 0xff, 10);
	d->wmask[at + 4] = 0xfc;
	d->priv = a;
	a->ghc = GHC_AE;
	for (int i = 0; i < AHCI_PORTS; i++)
		port_reset(&a->port[i], true);
	return a;
}

void ahci_free(struct ahci *a)
{
	if (!a)
		return;
	pci_unregister(&a->pci);
	if (a->started) {
		/* a command held for an NBD reconnect fails now: the thread is not to wait */
		for (int i = 0; i < AHCI_PORTS; i++)
			if (a->port[i].kind == AHCI_DISK)
				disk_cancel(a->port[i].disk, true);
		uint64_t one = 1;
		if (write(a->stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(a->thread, NULL);
		for (int i = 0; i < AHCI_PORTS; i++)
			if (a->port[i].kind == AHCI_DISK)
				disk_cancel(a->port[i].disk, false);
	}
	if (a->kick_fd >= 0)
		close(a->kick_fd);
	if (a->stop_fd >= 0)
		close(a->stop_fd);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->idle);
	free(a);
}

static struct ahci_port *free_port(struct ahci *a)
{
	for (int i = 0; i < AHCI_PORTS; i++)
		if (!port_present(&a->port[i]))
			return &a->port[i];
	return NULL;
}

int ahci_attach_disk(struct ahci *a, struct disk *d, int index)
{
	struct ahci_port *p = free_port(a);
	if (!p)
		return -1;
	p->kind = AHCI_DISK;
	p->disk = d;
	if (d->serial[0])
		memcpy(p->serial, d->serial, sizeof(p->serial));
	else
		snprintf(p->serial, sizeof(p->serial), "hal-sata%d", index);
	port_reset(p, true);
	return (int)(p - a->port);
}

int ahci_attach_cdrom(struct ahci *a, struct atapi_medium *m)
{
	struct ahci_port *p = free_port(a);
	if (!p)
		return -1;
	p->kind = AHCI_CDROM;
	p->cd.m = m;
	snprintf(p->serial, sizeof(p->serial), "hal-cd%d", (int)(p - a->port));
	port_reset(p, true);
	pthread_mutex_lock(&m->lock);
	p->cd.seen_gen = m->gen; /* a medium there at power-on is no change */
	p->cd.had_medium = m->fd >= 0 && !m->tray_open;
	pthread_mutex_unlock(&m->lock);
	return (int)(p - a->port);
}

static void *io_thread(void *arg)
{
	struct ahci *a = arg;
	struct pollfd p[2] = { { a->kick_fd, POLLIN, 0 }, { a->stop_fd, POLLIN, 0 } };
	if (hal_confine(HAL_THREAD_IO) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		uint64_t n;
		if (p[0].revents && read(p[0].fd, &n, sizeof(n)) == sizeof(n))
			ahci_process(a);
	}
	return NULL;
}

int ahci_start(struct ahci *a, int slot, char *why, size_t whylen)
{
	a->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (a->kick_fd < 0 || a->stop_fd < 0) {
		snprintf(why, whylen, "AHCI: eventfd: %s", strerror(errno));
		ahci_free(a);
		return -1;
	}
	errno = pthread_create(&a->thread, NULL, io_thread, a);
	if (errno) {
		snprintf(why, whylen, "AHCI: I/O thread: %s", strerror(errno));
		ahci_free(a);
		return -1;
	}
	a->started = true;
	if (pci_register(&a->pci, slot, 0) < 0) {
		snprintf(why, whylen, "AHCI: PCI slot %d is taken", slot);
		ahci_free(a);
		return -1;
	}
	return 0;
}
