/* The ATAPI CD-ROM drive behind an AHCI port: the SCSI/MMC commands of a
 * PACKET (SPC-3, MMC-5) over an ISO file of 2048-byte sectors, and the
 * medium that the control socket ejects and changes. The medium is shared
 * by the I/O thread (reads) and the main loop (eject, change): its lock
 * covers both; a new medium gives the guest UNIT ATTENTION once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/endian.h"
#include "hw/ahci.h"

/* sense keys and additional sense codes (SPC-3 §4.5.6, MMC-5 annex F) */
#define K_NOT_READY 0x02
#define K_MEDIUM_ERROR 0x03
#define K_ILLEGAL 0x05
#define K_UNIT_ATTENTION 0x06
#define ASC_INVALID_OPCODE 0x20
#define ASC_LBA_RANGE 0x21
#define ASC_INVALID_FIELD 0x24
#define ASC_MEDIUM_CHANGED 0x28
#define ASC_NO_MEDIUM 0x3a
#define ASC_REMOVAL_PREVENTED 0x53
#define CD_MAX_BLOCKS (800 * MiB / ATAPI_SECTOR) /* larger: DVD-ROM */
#define RESP_MAX 256

/* ---- the medium -------------------------------------------------------------------- */

static int open_iso(const char *path, uint64_t *blocks, char *why, size_t whylen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, whylen, "--cdrom %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(why, whylen, "--cdrom %s: not a regular file or block device", path);
		close(fd);
		return -1;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		size = end > 0 ? (uint64_t)end : 0;
	}
	if (size < ATAPI_SECTOR) {
		snprintf(why, whylen, "--cdrom %s: %llu bytes, not even one 2048-byte sector", path,
			 (unsigned long long)size);
		close(fd);
		return -1;
	}
	uint8_t probe[1];
	if (hal_pread_all(fd, probe, 1, 0) < 0) {
		snprintf(why, whylen, "--cdrom %s: cannot be read: %s", path, errno ? strerror(errno) : "end of file");
		close(fd);
		return -1;
	}
	if (size % ATAPI_SECTOR)
		warnx("--cdrom %s: %llu bytes is no whole number of 2048-byte sectors; the guest sees %llu", path,
		      (unsigned long long)size, (unsigned long long)(size / ATAPI_SECTOR));
	*blocks = size / ATAPI_SECTOR;
	return fd;
}

int atapi_medium_open(struct atapi_medium *m, const char *path, char *why, size_t whylen)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	if (strlen(path) >= sizeof(m->path)) {
		snprintf(why, whylen, "--cdrom %s: path too long", path);
		return -1;
	}
	m->fd = open_iso(path, &m->blocks, why, whylen);
	if (m->fd < 0)
		return -1;
	strcpy(m->path, path);
	return 0;
}

void atapi_medium_close(struct atapi_medium *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	pthread_mutex_destroy(&m->lock);
}

int atapi_medium_change(struct atapi_medium *m, const char *path, char *why, size_t whylen)
{
	int fd = -1;
	uint64_t blocks = 0;
	if (path && strlen(path) >= sizeof(m->path)) {
		snprintf(why, whylen, "--cdrom %s: path too long", path);
		return -1;
	}
	if (path && (fd = open_iso(path, &blocks, why, whylen)) < 0)
		return -1;
	pthread_mutex_lock(&m->lock);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = fd;
	m->blocks = blocks;
	snprintf(m->path, sizeof(m->path), "%s", path ? path : "");
	m->tray_open = !path;
	if (path)
		m->gen++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- commands ------------------------------------------------------------------------ */

void atapi_reset(struct atapi *a)
{
	a->key = a->asc = a->ascq = 0;
	a->locked = false;
	a->event = 0;
}

static int64_t check(struct atapi *a, uint8_t key, uint8_t asc, uint8_t ascq)
{
	a->key = key;
	a->asc = asc;
	a->ascq = ascq;
	return -1;
}

static void put_msf(uint8_t *p, uint64_t lba)
{
	lba += 150; /* the 2-second pregap */
	p[0] = 0;
	p[1] = (uint8_t)(lba / (75 * 60));
	p[2] = (uint8_t)(lba / 75 % 60);
	p[3] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (msf)
		put_msf(p, lba);
	else
		put_be32(p, (uint32_t)lba);
}

/* READ TOC/PMA/ATIP formats 0 (TOC) and 1 (session info): one data track. */
static int64_t read_toc(struct atapi *a, const uint8_t *cdb, uint64_t blocks, uint8_t *r)
{
	bool msf = cdb[1] & 2;
	unsigned fmt = cdb[2] & 0x0f, track = cdb[6];
	if (!fmt && (cdb[9] >> 6)) /* the old SFF-8020 place of the format */
		fmt = cdb[9] >> 6;
	int n = 4;
	r[2] = r[3] = 1; /* first and last track, or session */
	if (fmt == 0) {
		if (track > 1 && track != 0xaa)
			return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
		if (track <= 1) {
			r[n + 1] = 0x14; /* ADR 1, data track */
			r[n + 2] = 1;
			put_addr(r + n + 4, 0, msf);
			n += 8;
		}
		r[n + 1] = 0x14;
		r[n + 2] = 0xaa; /* lead-out */
		put_addr(r + n + 4, blocks, msf);
		n += 8;
	} else if (fmt == 1) {
		r[n + 1] = 0x14;
		r[n + 2] = 1;
		put_addr(r + n + 4, 0, msf);
		n += 8;
	} else
		return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
	put_be16(r, (uint16_t)(n - 2));
	return n;
}

static int feature(uint8_t *r, uint16_t code, uint8_t flags, const uint8_t *data, uint8_t len)
{
	put_be16(r, code);
	r[2] = flags;
	r[3] = len;
	memcpy(r + 4, data, len);
	return 4 + len;
}

/* GET CONFIGURATION (MMC-5 §6.6): profile list, core, removable medium,
 * random readable; the current profile follows the medium's size. */
static int64_t get_config(struct atapi *a, const uint8_t *cdb, bool medium, uint64_t blocks, uint8_t *r)
{
	unsigned rt = cdb[1] & 3, start = get_be16(cdb + 2);
	uint16_t cur = !medium ? 0 : blocks > CD_MAX_BLOCKS ? 0x0010 : 0x0008;
	uint8_t profiles[8] = { 0, 0x10, cur == 0x10, 0, 0, 0x08, cur == 0x08, 0 };
	uint8_t core[8] = { 0, 0, 0, 2 /* ATAPI */, 1 /* DBE */ };
	uint8_t removable[4] = { 0x29 }; /* tray, eject, lock */
	uint8_t random[8] = { 0, 0, ATAPI_SECTOR >> 8, 0, 0, 1, 1 /* PP */ };
	struct { uint16_t code; uint8_t flags; const uint8_t *d; uint8_t len; } f[] = {
		{ 0x0000, 0x03, profiles, 8 },
		{ 0x0001, 0x0b, core, 8 },
		{ 0x0003, 0x03, removable, 4 },
		{ 0x0010, (uint8_t)(medium ? 0x01 : 0), random, 8 },
	};
	if (rt == 3)
		return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
	int n = 8;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].code < start || (rt == 2 && f[i].code != start) || (rt == 1 && !(f[i].flags & 1)))
			continue;
		n += feature(r + n, f[i].code, f[i].flags, f[i].d, f[i].len);
	}
	put_be32(r, (uint32_t)(n - 4));
	put_be16(r + 6, cur);
	return n;
}

/* MODE SENSE(10): the capabilities page 0x2A (MMC-5 §7.8), or all pages. */
static int64_t mode_sense(struct atapi *a, const uint8_t *cdb, uint8_t *r)
{
	unsigned page = cdb[2] & 0x3f;
	if (page != 0x2a && page != 0x3f)
		return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
	uint8_t *c = r + 8;
	c[0] = 0x2a;
	c[1] = 0x12;
	c[2] = 0x3b;             /* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
	c[4] = 0x71;             /* audio play, mode 2 form 1/2, multi-session */
	c[5] = 0x03;
	c[6] = (uint8_t)(0x29 | (a->locked ? 0x02 : 0)); /* tray, eject, lock and its state */
	c[7] = 0x03;
	put_be16(c + 8, 706 * 4); /* KB/s */
	put_be16(c + 10, 256);
	put_be16(c + 12, 512);
	put_be16(c + 14, 706 * 4);
	put_be16(r, 8 + 20 - 2);
	return 8 + 20;
}

/* GET EVENT STATUS NOTIFICATION, polled, media class (MMC-5 §6.8). */
static int64_t get_event(struct atapi *a, const uint8_t *cdb, bool medium, bool tray_open, uint8_t *r)
{
	if (!(cdb[1] & 1))
		return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
	r[3] = 0x10; /* supported: media */
	if (!(cdb[4] & 0x10)) {
		r[2] = 0x80; /* no event available */
		put_be16(r, 2);
		return 4;
	}
	r[2] = 0x04;
	r[4] = a->event;
	r[5] = (uint8_t)((medium ? 2 : 0) | (tray_open ? 1 : 0));
	a->event = 0;
	put_be16(r, 6);
	return 8;
}

static int64_t read_blocks(struct atapi *a, struct atapi_medium *m, uint64_t lba, uint64_t n, const struct ahci_sg *sg)
{
	if (lba > m->blocks || n > m->blocks - lba)
		return check(a, K_ILLEGAL, ASC_LBA_RANGE, 0);
	uint64_t len = n * ATAPI_SECTOR, done = 0;
	if (sg->len < len)
		return check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0); /* the PRDT is shorter */
	for (unsigned i = 0; i < sg->n && done < len; i++) {
		uint64_t l = sg->iov[i].iov_len < len - done ? sg->iov[i].iov_len : len - done;
		if (hal_pread_all(m->fd, sg->iov[i].iov_base, l, lba * ATAPI_SECTOR + done) < 0)
			return check(a, K_MEDIUM_ERROR, 0x11, 0); /* unrecovered read error */
		done += l;
	}
	return (int64_t)len;
}

int64_t atapi_command(struct atapi *a, const uint8_t cdb[16], const struct ahci_sg *sg)
{
	struct atapi_medium *m = a->m;
	uint8_t r[RESP_MAX];
	int64_t n = 0;
	memset(r, 0, sizeof(r));
	pthread_mutex_lock(&m->lock);
	bool medium = m->fd >= 0 && !m->tray_open;
	uint64_t blocks = medium ? m->blocks : 0;
	uint8_t op = cdb[0];
	if (medium && m->gen != a->seen_gen) { /* a new medium since the guest last looked */
		a->event = 2;
		a->had_medium = true;
	} else if (!medium && a->had_medium) {
		a->event = 3;
		a->had_medium = false;
	}
	/* UNIT ATTENTION once per new medium, on any command but these */
	if (op != 0x12 && op != 0x03 && op != 0x4a && op != 0x46 && medium && m->gen != a->seen_gen) {
		a->seen_gen = m->gen;
		n = check(a, K_UNIT_ATTENTION, ASC_MEDIUM_CHANGED, 0);
		goto out;
	}
	bool needs_medium = op == 0x00 || op == 0x25 || op == 0x28 || op == 0xa8 || op == 0x43 || op == 0x51;
	if (needs_medium && !medium) {
		n = check(a, K_NOT_READY, ASC_NO_MEDIUM, m->tray_open ? 2 : 1);
		goto out;
	}
	uint64_t alloc = 0; /* the guest's allocation length, for data-in replies */
	switch (op) {
	case 0x00: /* TEST UNIT READY */
		break;
	case 0x03: /* REQUEST SENSE: fixed format */
		alloc = cdb[4];
		r[0] = 0x70;
		r[7] = 10;
		if (a->key) {
			r[2] = a->key;
			r[12] = a->asc;
			r[13] = a->ascq;
		} else if (!medium) {
			r[2] = K_NOT_READY;
			r[12] = ASC_NO_MEDIUM;
			r[13] = m->tray_open ? 2 : 1;
		}
		n = 18;
		a->key = a->asc = a->ascq = 0;
		break;
	case 0x12: /* INQUIRY */
		alloc = get_be16(cdb + 3);
		if (cdb[1] & 1) {
			n = check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
			goto out;
		}
		r[0] = 0x05;      /* CD/DVD */
		r[1] = 0x80;      /* removable */
		r[2] = 0x05;      /* SPC-3 */
		r[3] = 0x32;      /* response data format 2 */
		r[4] = 31;
		memcpy(r + 8, "HAL     ", 8);
		memcpy(r + 16, "HAL DVD-ROM     ", 16);
		memcpy(r + 32, "1.0 ", 4);
		n = 36;
		break;
	case 0x25: /* READ CAPACITY(10) */
		alloc = 8;
		put_be32(r, (uint32_t)(blocks - 1));
		put_be32(r + 4, ATAPI_SECTOR);
		n = 8;
		break;
	case 0x28: /* READ(10) */
		n = read_blocks(a, m, get_be32(cdb + 2), get_be16(cdb + 7), sg);
		goto out;
	case 0xa8: /* READ(12) */
		n = read_blocks(a, m, get_be32(cdb + 2), get_be32(cdb + 6), sg);
		goto out;
	case 0x43: /* READ TOC */
		alloc = get_be16(cdb + 7);
		n = read_toc(a, cdb, blocks, r);
		break;
	case 0x46: /* GET CONFIGURATION */
		alloc = get_be16(cdb + 7);
		n = get_config(a, cdb, medium, blocks, r);
		break;
	case 0x5a: /* MODE SENSE(10) */
		alloc = get_be16(cdb + 7);
		n = mode_sense(a, cdb, r);
		break;
	case 0x4a: /* GET EVENT STATUS NOTIFICATION */
		alloc = get_be16(cdb + 7);
		n = get_event(a, cdb, medium, m->tray_open, r);
		break;
	case 0x51: /* READ DISC INFORMATION */
		alloc = get_be16(cdb + 7);
		if (cdb[1] & 7) {
			n = check(a, K_ILLEGAL, ASC_INVALID_FIELD, 0);
			goto out;
		}
		put_be16(r, 32);
		r[2] = 0x0e;      /* last session complete, disc complete */
		r[3] = r[4] = r[5] = r[6] = 1;
		n = 34;
		break;
	case 0x1b: /* START STOP UNIT */
		if ((cdb[4] & 3) == 2) { /* eject */
			if (a->locked) {
				n = check(a, K_ILLEGAL, ASC_REMOVAL_PREVENTED, 2);
				goto out;
			}
			m->tray_open = true;
		} else if ((cdb[4] & 3) == 3 && m->tray_open) { /* load: the disc in the tray is back */
			m->tray_open = false;
			if (m->fd >= 0)
				m->gen++;
		}
		break;
	case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
		a->locked = cdb[4] & 1;
		break;
	case 0xbb: /* SET CD SPEED */
		break;
	default:
		n = check(a, K_ILLEGAL, ASC_INVALID_OPCODE, 0);
		goto out;
	}
	if (n > 0)
		n = (int64_t)ahci_sg_copy_to(sg, r, (uint64_t)n < alloc ? (uint64_t)n : alloc);
out:
	if (n >= 0 && op != 0x03)
		a->key = a->asc = a->ascq = 0;
	pthread_mutex_unlock(&m->lock);
	return n;
}
