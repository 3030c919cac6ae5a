/* init: partition tables (GPT, MBR), filesystem labels/UUIDs (FAT, exFAT,
 * ext2/3/4, ISO9660) read from the superblocks, and guest disk discovery. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "init.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int mem_read_cb(void *ctx, uint64_t off, void *buf, size_t n)
{
	struct disk_mem *m = ctx;
	if (off > m->len || n > m->len - off)
		return -1;
	memcpy(buf, m->buf + off, n);
	return 0;
}

void disk_src_mem(struct disk_src *s, struct disk_mem *m, unsigned sector)
{
	s->read = mem_read_cb;
	s->ctx = m;
	s->size = m->len;
	s->sector = sector ? sector : 512;
}

static int rd(const struct disk_src *s, uint64_t off, void *buf, size_t n)
{
	if (off > s->size || n > s->size - off)
		return -1;
	return s->read(s->ctx, off, buf, n);
}

/* Copies a space/NUL-padded field, trimming trailing padding. */
static void copy_trim(char *dst, size_t dn, const uint8_t *src, size_t sn)
{
	size_t n = 0;
	for (; n < sn && n + 1 < dn && src[n]; n++)
		dst[n] = (char)src[n];
	while (n && dst[n - 1] == ' ')
		n--;
	dst[n] = 0;
}

static void fmt_guid(char *out, size_t n, const uint8_t *g)
{
	snprintf(out, n, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(g), le16(g + 4), le16(g + 6),
		 g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

static void fmt_uuid(char *out, size_t n, const uint8_t *u) /* big-endian, as blkid prints ext UUIDs */
{
	snprintf(out, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static bool is_fat(const uint8_t *b)
{
	return !memcmp(b + 0x52, "FAT32   ", 8) || !memcmp(b + 0x36, "FAT1", 4);
}

int disk_probe_fs(const struct disk_src *s, struct disk_fs *fs)
{
	uint8_t b[2048];
	memset(fs, 0, sizeof(*fs));
	/* ext2/3/4: superblock at 1024, magic 0xEF53 at +56 */
	if (rd(s, 1024, b, 1024) == 0 && le16(b + 56) == 0xEF53) {
		uint32_t compat = le32(b + 92), incompat = le32(b + 96);
		strcpy(fs->type, incompat & (0x40 | 0x80 | 0x200) ? "ext4" : compat & 4 ? "ext3" : "ext2");
		fmt_uuid(fs->uuid, sizeof(fs->uuid), b + 104);
		copy_trim(fs->label, sizeof(fs->label), b + 120, 16);
		return 0;
	}
	if (rd(s, 0, b, 512) == 0) {
		if (!memcmp(b + 3, "EXFAT   ", 8)) {
			strcpy(fs->type, "exfat");
			uint32_t v = le32(b + 100);
			snprintf(fs->uuid, sizeof(fs->uuid), "%04X-%04X", v >> 16, v & 0xffff);
			return 0; /* the exFAT label lives in the root directory: not read */
		}
		if (is_fat(b) && le16(b + 510) == 0xAA55) {
			bool f32 = !memcmp(b + 0x52, "FAT32   ", 8);
			const uint8_t *ext = b + (f32 ? 0x40 : 0x24); /* drive no, reserved, signature, serial, label */
			strcpy(fs->type, "vfat");
			if (ext[2] == 0x29 || ext[2] == 0x28) {
				uint32_t v = le32(ext + 3);
				snprintf(fs->uuid, sizeof(fs->uuid), "%04X-%04X", v >> 16, v & 0xffff);
			}
			if (ext[2] == 0x29) {
				copy_trim(fs->label, sizeof(fs->label), ext + 7, 11);
				if (!strcmp(fs->label, "NO NAME"))
					fs->label[0] = 0;
			}
			return 0;
		}
	}
	/* ISO9660: primary volume descriptor at 32 KiB */
	if (rd(s, 0x8000, b, 2048) == 0 && b[0] == 1 && !memcmp(b + 1, "CD001", 5)) {
		strcpy(fs->type, "iso9660");
		copy_trim(fs->label, sizeof(fs->label), b + 40, 32);
		const char *d = (const char *)b + 813; /* creation date YYYYMMDDHHMMSScc */
		bool digits = true, zero = true;
		for (int i = 0; i < 16; i++) {
			digits &= d[i] >= '0' && d[i] <= '9';
			zero &= d[i] == '0';
		}
		if (digits && !zero)
			snprintf(fs->uuid, sizeof(fs->uuid), "%.4s-%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", d, d + 4, d + 6, d + 8,
				 d + 10, d + 12, d + 14);
		return 0;
	}
	return -1;
}

/* UTF-16LE (GPT names) to UTF-8. */
static void utf16_to_utf8(char *out, size_t n, const uint8_t *in, size_t chars)
{
	size_t o = 0;
	for (size_t i = 0; i < chars; i++) {
		unsigned c = le16(in + 2 * i);
		if (!c)
			break;
		if (c < 0x80 && o + 1 < n) {
			out[o++] = (char)c;
		} else if (c < 0x800 && o + 2 < n) {
			out[o++] = (char)(0xC0 | c >> 6);
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else if (c >= 0x800 && o + 3 < n) {
			out[o++] = (char)(0xE0 | c >> 12);
			out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
			out[o++] = (char)(0x80 | (c & 0x3F));
		} else {
			break;
		}
	}
	out[o] = 0;
}

static int probe_gpt(const struct disk_src *s, struct disk_part *p, int max)
{
	uint8_t h[512], e[512];
	uint64_t ss = s->sector;
	if (rd(s, ss, h, sizeof(h)) < 0 || memcmp(h, "EFI PART", 8))
		return -1;
	uint64_t lba = le64(h + 72);
	uint32_t count = le32(h + 80), esize = le32(h + 84);
	if (esize < 128 || esize > sizeof(e) || count > 1024)
		return -1;
	int n = 0;
	for (uint32_t i = 0; i < count && n < max; i++) {
		if (rd(s, lba * ss + (uint64_t)i * esize, e, esize) < 0)
			break;
		static const uint8_t zero[16];
		if (!memcmp(e, zero, 16))
			continue;
		struct disk_part *q = &p[n++];
		memset(q, 0, sizeof(*q));
		q->num = (int)i + 1;
		q->start = le64(e + 32);
		q->size = le64(e + 40) - q->start + 1;
		fmt_guid(q->type, sizeof(q->type), e);
		fmt_guid(q->partuuid, sizeof(q->partuuid), e + 16);
		utf16_to_utf8(q->partlabel, sizeof(q->partlabel), e + 56, 36);
	}
	return n;
}

int disk_probe_parts(const struct disk_src *s, struct disk_part *p, int max, int *pt)
{
	uint8_t b[512];
	*pt = DISK_PT_NONE;
	int n = probe_gpt(s, p, max);
	if (n >= 0) {
		*pt = DISK_PT_GPT;
		return n;
	}
	if (rd(s, 0, b, 512) < 0 || le16(b + 510) != 0xAA55 || is_fat(b) || !memcmp(b + 3, "EXFAT   ", 8))
		return 0;
	for (int i = 0; i < 4; i++) /* boot flags must be 0x00/0x80 */
		if (b[446 + 16 * i] & 0x7F)
			return 0;
	uint32_t sig = le32(b + 0x1B8);
	n = 0;
	for (int i = 0; i < 4 && n < max; i++) {
		const uint8_t *e = b + 446 + 16 * i;
		if (!e[4] || !le32(e + 12))
			continue;
		struct disk_part *q = &p[n++];
		memset(q, 0, sizeof(*q));
		q->num = i + 1;
		q->start = le32(e + 8);
		q->size = le32(e + 12);
		snprintf(q->type, sizeof(q->type), "0x%02x", e[4]);
		snprintf(q->partuuid, sizeof(q->partuuid), "%08x-%02x", sig, i + 1);
	}
	*pt = DISK_PT_MBR;
	return n;
}

bool disk_spec_is_nbd(const char *s)
{
	return s && (!strncmp(s, "nbd://", 6) || !strncmp(s, "nbd+unix://", 11));
}

/* nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH, then hal's own
 * options: checked only as far as init needs (hal parses the rest). */
static int parse_nbd(const char *s, struct disk_spec *spec)
{
	const char *opt = strchr(s, ',');
	size_t l = opt ? (size_t)(opt - s) : strlen(s);
	if (l >= sizeof(spec->value))
		return -1;
	memcpy(spec->value, s, l);
	spec->value[l] = 0;
	spec->kind = DISK_NBD;
	spec->tcp = !strncmp(s, "nbd://", 6);
	if (spec->tcp) {
		if (!s[6] || s[6] == '/' || s[6] == ':')
			return -1; /* no host */
	} else {
		const char *q = strstr(spec->value, "?socket=");
		if (spec->value[11] != '/' || !q || !q[8])
			return -1;
	}
	while (opt) { /* ",ro" noted; ",part" means nothing for an export */
		const char *o = opt + 1;
		opt = strchr(o, ',');
		size_t ol = opt ? (size_t)(opt - o) : strlen(o);
		if (ol == 2 && !strncmp(o, "ro", 2))
			spec->ro = true;
		else if (!ol || (ol == 4 && !strncmp(o, "part", 4)))
			return -1;
	}
	return 0;
}

int disk_parse_spec(const char *s, struct disk_spec *spec)
{
	static const struct { const char *key; enum disk_spec_kind kind; } kinds[] = {
		{ "LABEL=", DISK_LABEL }, { "PARTLABEL=", DISK_PARTLABEL }, { "UUID=", DISK_UUID },
		{ "PARTUUID=", DISK_PARTUUID }, { "SERIAL=", DISK_SERIAL },
	};
	memset(spec, 0, sizeof(*spec));
	if (!s || !*s)
		return -1;
	if (disk_spec_is_nbd(s))
		return parse_nbd(s, spec);
	size_t l = strlen(s);
	for (bool more = true; more;) { /* ",ro" and ",part", in any order */
		more = false;
		if (l > 3 && !strncmp(s + l - 3, ",ro", 3)) {
			spec->ro = more = true;
			l -= 3;
		} else if (l > 5 && !strncmp(s + l - 5, ",part", 5)) {
			spec->part = more = true;
			l -= 5;
		}
	}
	const char *v = NULL;
	if (s[0] == '/') {
		spec->kind = DISK_PATH;
		v = s;
	}
	for (size_t i = 0; !v && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t kl = strlen(kinds[i].key);
		if (!strncasecmp(s, kinds[i].key, kl)) {
			spec->kind = kinds[i].kind;
			v = s + kl;
			l -= kl;
		}
	}
	if (!v || l == 0 || l >= sizeof(spec->value))
		return -1;
	memcpy(spec->value, v, l);
	spec->value[l] = 0;
	/* The kernel command line cannot carry quotes inside a value; allow LABEL="A B" in hal.conf. */
	if (l >= 2 && spec->value[0] == '"' && spec->value[l - 1] == '"') {
		memmove(spec->value, spec->value + 1, l - 2);
		spec->value[l - 2] = 0;
	}
	return 0;
}

/* ---- sysfs scan ------------------------------------------------------------ */

static void scopy(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memcpy(dst, src, l);
	dst[l] = 0;
}

struct fd_ctx { int fd; };
static int fd_read_cb(void *ctx, uint64_t off, void *buf, size_t n)
{
	struct fd_ctx *f = ctx;
	return pread(f->fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

static int open_src(const char *path, struct disk_src *s, struct fd_ctx *f, uint64_t size, unsigned sector)
{
	f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (f->fd < 0)
		return -1;
	off_t end = lseek(f->fd, 0, SEEK_END);
	s->read = fd_read_cb;
	s->ctx = f;
	s->size = end > 0 ? (uint64_t)end : size;
	s->sector = sector ? sector : 512;
	return 0;
}

static struct disk_dev *add_dev(struct disk_scan *sc)
{
	if ((sc->n & (sc->n - 1)) == 0) {
		struct disk_dev *nd = realloc(sc->devs, (size_t)(sc->n ? sc->n * 2 : 8) * sizeof(*nd));
		if (!nd)
			return NULL;
		sc->devs = nd;
	}
	struct disk_dev *d = &sc->devs[sc->n++];
	memset(d, 0, sizeof(*d));
	return d;
}

static void read_serial(const char *sysroot, const char *disk, char *out, size_t n)
{
	static const char *files[] = { "device/serial", "serial", "device/wwid" };
	char path[512];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/block/%s/%s", sysroot, disk, files[i]);
		if (init_read_line(path, out, n) == 0 && out[0]) {
			char *p = out;
			while (*p == ' ')
				p++;
			memmove(out, p, strlen(p) + 1);
			return;
		}
	}
	/* SCSI/USB: unit serial number VPD page 0x80, bytes 4.. */
	snprintf(path, sizeof(path), "%s/block/%s/device/vpd_pg80", sysroot, disk);
	size_t len;
	uint8_t *v = (uint8_t *)init_read_file(path, &len);
	if (v && len > 4) {
		size_t l = v[3] < len - 4 ? v[3] : len - 4;
		copy_trim(out, n, v + 4, l);
		char *p = out;
		while (*p == ' ')
			p++;
		memmove(out, p, strlen(p) + 1);
	}
	free(v);
}

int disk_scan(struct disk_scan *sc, const char *sysroot, const char *devroot)
{
	char path[1200], line[64];
	memset(sc, 0, sizeof(*sc));
	snprintf(path, sizeof(path), "%s/block", sysroot);
	DIR *bd = opendir(path);
	if (!bd)
		return -1;
	struct dirent *de;
	while ((de = readdir(bd))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(sc->devs->name))
			continue;
		const char *disk = de->d_name;
		snprintf(path, sizeof(path), "%s/block/%s/size", sysroot, disk);
		if (init_read_line(path, line, sizeof(line)) < 0 || strtoull(line, NULL, 10) == 0)
			continue; /* empty loop devices, card readers without a card */
		uint64_t size = strtoull(line, NULL, 10) * 512;
		unsigned sector = 512;
		snprintf(path, sizeof(path), "%s/block/%s/queue/logical_block_size", sysroot, disk);
		if (init_read_line(path, line, sizeof(line)) == 0 && atoi(line) >= 512)
			sector = (unsigned)atoi(line);
		struct disk_dev *d = add_dev(sc);
		if (!d)
			break;
		int di = sc->n - 1;
		scopy(d->name, sizeof(d->name), disk);
		scopy(d->disk, sizeof(d->disk), disk);
		d->whole = true;
		snprintf(path, sizeof(path), "%s/block/%s/dev", sysroot, disk);
		init_read_line(path, d->dev, sizeof(d->dev));
		read_serial(sysroot, disk, d->serial, sizeof(d->serial));
		struct disk_part parts[128];
		int np = 0, pt;
		struct disk_src s;
		struct fd_ctx f;
		snprintf(path, sizeof(path), "%s/%s", devroot, disk);
		if (open_src(path, &s, &f, size, sector) == 0) {
			np = disk_probe_parts(&s, parts, 128, &pt);
			disk_probe_fs(&s, &d->fs);
			close(f.fd);
		}
		/* partitions: subdirectories with a "partition" file */
		snprintf(path, sizeof(path), "%s/block/%s", sysroot, disk);
		DIR *pd = opendir(path);
		struct dirent *pe;
		while (pd && (pe = readdir(pd))) {
			if (pe->d_name[0] == '.' || strlen(pe->d_name) >= sizeof(d->name))
				continue;
			snprintf(path, sizeof(path), "%s/block/%s/%s/partition", sysroot, disk, pe->d_name);
			if (init_read_line(path, line, sizeof(line)) < 0)
				continue;
			int num = atoi(line);
			struct disk_dev *p = add_dev(sc);
			if (!p)
				break;
			scopy(p->name, sizeof(p->name), pe->d_name);
			scopy(p->disk, sizeof(p->disk), sc->devs[di].disk);
			snprintf(path, sizeof(path), "%s/block/%s/%s/dev", sysroot, disk, pe->d_name);
			init_read_line(path, p->dev, sizeof(p->dev));
			for (int i = 0; i < np; i++)
				if (parts[i].num == num)
					p->part = parts[i];
			p->part.num = num;
			snprintf(path, sizeof(path), "%s/%s", devroot, pe->d_name);
			if (open_src(path, &s, &f, p->part.size * sector, sector) == 0) {
				disk_probe_fs(&s, &p->fs);
				close(f.fd);
			}
		}
		if (pd)
			closedir(pd);
	}
	closedir(bd);
	return 0;
}

void disk_scan_free(struct disk_scan *sc)
{
	free(sc->devs);
	sc->devs = NULL;
	sc->n = 0;
}

bool disk_is_boot(const struct disk_scan *sc, const char *disk)
{
	for (int i = 0; i < sc->n; i++) {
		const struct disk_dev *d = &sc->devs[i];
		if (strcmp(d->disk, disk))
			continue;
		if (!strcasecmp(d->fs.label, DISK_BOOT_LABEL) || !strcasecmp(d->part.partlabel, DISK_BOOT_LABEL))
			return true;
	}
	return false;
}

const struct disk_dev *disk_find_boot_fs(const struct disk_scan *sc)
{
	const struct disk_dev *whole = NULL;
	for (int i = 0; i < sc->n; i++) {
		const struct disk_dev *d = &sc->devs[i];
		if (strcmp(d->fs.type, "vfat") || strcasecmp(d->fs.label, DISK_BOOT_LABEL))
			continue;
		if (!d->whole)
			return d;
		if (!whole)
			whole = d; /* a stick formatted without a partition table */
	}
	return whole;
}

bool disk_match(const struct disk_dev *d, const struct disk_spec *spec)
{
	switch (spec->kind) {
	case DISK_LABEL: return d->fs.label[0] && !strcmp(d->fs.label, spec->value);
	case DISK_PARTLABEL: return !d->whole && d->part.partlabel[0] && !strcmp(d->part.partlabel, spec->value);
	case DISK_UUID: return d->fs.uuid[0] && !strcasecmp(d->fs.uuid, spec->value);
	case DISK_PARTUUID: return !d->whole && d->part.partuuid[0] && !strcasecmp(d->part.partuuid, spec->value);
	case DISK_SERIAL: return d->whole && d->serial[0] && !strcmp(d->serial, spec->value);
	case DISK_PATH: case DISK_NBD: break;
	}
	return false;
}

int disk_find(const struct disk_scan *sc, const struct disk_spec *spec, const char *devroot,
	      char *devpath, size_t n, char *msg, size_t msgn)
{
	msg[0] = 0;
	if (spec->kind == DISK_PATH) {
		struct stat st;
		if (stat(spec->value, &st) < 0) {
			snprintf(msg, msgn, "%s does not exist (yet)", spec->value);
			return -ENOENT;
		}
		if (S_ISBLK(st.st_mode)) {
			char dev[16];
			snprintf(dev, sizeof(dev), "%u:%u", major(st.st_rdev), minor(st.st_rdev));
			for (int i = 0; i < sc->n; i++) {
				if (!strcmp(sc->devs[i].dev, dev) && disk_is_boot(sc, sc->devs[i].disk)) {
					snprintf(msg, msgn, "refusing %s: it is on %s, the disk the HAL booted from "
						 "(it has a partition labelled " DISK_BOOT_LABEL ")", spec->value, sc->devs[i].disk);
					return -EPERM;
				}
			}
		}
		snprintf(devpath, n, "%s", spec->value);
		return 0;
	}
	int found = -1, nmatch = 0, refused = 0;
	char names[256] = "", refused_names[256] = "";
	for (int i = 0; i < sc->n; i++) {
		const struct disk_dev *d = &sc->devs[i];
		if (!disk_match(d, spec))
			continue;
		char *list = disk_is_boot(sc, d->disk) ? refused_names : names;
		size_t l = strlen(list);
		snprintf(list + l, sizeof(names) - l, "%s%s", l ? ", " : "", d->name);
		if (list == refused_names) {
			refused++;
			continue;
		}
		nmatch++;
		found = i;
	}
	if (nmatch > 1) {
		snprintf(msg, msgn, "%d devices match: %s; refusing to guess (remove or relabel all but one)", nmatch, names);
		return -EEXIST;
	}
	if (nmatch == 1) {
		/* A firmware guest boots a whole disk: a label found on a partition
		 * names the disk holding it, unless ",part" asks for the partition. */
		const struct disk_dev *d = &sc->devs[found];
		snprintf(devpath, n, "%s/%s", devroot, spec->part ? d->name : d->disk);
		return 0;
	}
	if (refused) {
		snprintf(msg, msgn, "only %s matches, which is on the disk the HAL booted from "
			 "(it has a partition labelled " DISK_BOOT_LABEL "); refusing to give it to the guest", refused_names);
		return -EPERM;
	}
	snprintf(msg, msgn, "no device matches");
	return -ENOENT;
}
