/* SMBIOS 3.0 structures (DSP0134 3.0): each is a formatted area (type,
 * length, handle, fields) followed by its string set, strings numbered
 * from 1, the set ended by an empty string (two NULs when it has none). */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/endian.h"
#include "x86/smbios.h"

#define REC_MAX   0x30 /* the longest formatted area we write: type 4 */
#define REC_STRS  8

struct rec {
	uint8_t f[REC_MAX];
	char strs[REC_STRS * SMBIOS_STR_MAX];
	size_t slen;
	uint8_t nstr;
};

struct table {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void rec_init(struct rec *r, uint8_t type, uint8_t len, uint16_t handle)
{
	memset(r, 0, sizeof(*r));
	r->f[0] = type;
	r->f[1] = len;
	put_le16(r->f + 2, handle);
}

/* Adds s to the string set; its number, or 0 (no string) for an empty s. */
static uint8_t rec_str(struct rec *r, const char *s)
{
	size_t n = strnlen(s, SMBIOS_STR_MAX - 1);
	if (!n || r->nstr == REC_STRS)
		return 0;
	memcpy(r->strs + r->slen, s, n);
	r->slen += n + 1; /* strs was zeroed: the NUL is there */
	return ++r->nstr;
}

static void add(struct table *t, const void *p, size_t n)
{
	if (t->oom)
		return;
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 1024;
		while (cap < t->len + n)
			cap *= 2;
		uint8_t *q = realloc(t->p, cap);
		if (!q) {
			t->oom = true;
			return;
		}
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->len, p, n);
	t->len += n;
}

static void emit(struct table *t, const struct rec *r)
{
	add(t, r->f, r->f[1]);
	if (r->nstr)
		add(t, r->strs, r->slen);
	else
		add(t, "", 1);
	add(t, "", 1);
}

/* ---- what the guest is told --------------------------------------------------- */

void smbios_ids_default(struct smbios_ids *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->sys_vendor, sizeof(id->sys_vendor), "hal");
	snprintf(id->product, sizeof(id->product), "hal virtual PC");
	snprintf(id->version, sizeof(id->version), "1.0");
	snprintf(id->board_vendor, sizeof(id->board_vendor), "hal");
	snprintf(id->board_name, sizeof(id->board_name), "hal board");
	snprintf(id->board_version, sizeof(id->board_version), "1.0");
}

int smbios_parse_uuid(const char *s, uint8_t out[16])
{
	uint8_t u[16];
	for (int i = 0, k = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]))
			return -1;
		char h[3] = { s[i], s[i + 1], 0 };
		u[k++] = (uint8_t)strtoul(h, NULL, 16);
		i++;
	}
	if (s[36] && s[36] != '\n')
		return -1;
	smbios_uuid_wire(u, out); /* the swap is its own inverse */
	return 0;
}

/* time_low, time_mid, time_hi_and_version little endian (SMBIOS 2.6+) */
void smbios_uuid_wire(const uint8_t smbios[16], uint8_t wire[16])
{
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
	uint8_t u[16];
	memcpy(u, smbios, 16);
	for (int i = 0; i < 16; i++)
		wire[i] = u[order[i]];
}

/* dir/name's first line, printable ASCII, trailing blanks cut; false when
 * missing, unreadable or empty (the default stays). */
static bool dmi_read(const char *dir, const char *name, char *out, size_t size)
{
	char path[256], buf[SMBIOS_STR_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	n = (ssize_t)strlen(buf);
	while (n && buf[n - 1] == ' ')
		buf[--n] = 0;
	if (!n)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			buf[i] = '?';
	snprintf(out, size, "%s", buf);
	return true;
}

void smbios_ids_host(struct smbios_ids *id, const char *dir)
{
	char uuid[SMBIOS_STR_MAX];
	smbios_ids_default(id);
	dmi_read(dir, "sys_vendor", id->sys_vendor, sizeof(id->sys_vendor));
	dmi_read(dir, "product_name", id->product, sizeof(id->product));
	dmi_read(dir, "product_version", id->version, sizeof(id->version));
	dmi_read(dir, "product_serial", id->serial, sizeof(id->serial));
	dmi_read(dir, "board_vendor", id->board_vendor, sizeof(id->board_vendor));
	dmi_read(dir, "board_name", id->board_name, sizeof(id->board_name));
	dmi_read(dir, "board_version", id->board_version, sizeof(id->board_version));
	dmi_read(dir, "board_serial", id->board_serial, sizeof(id->board_serial));
	if (dmi_read(dir, "product_uuid", uuid, sizeof(uuid)) && smbios_parse_uuid(uuid, id->uuid) < 0)
		memset(id->uuid, 0, sizeof(id->uuid));
}

/* ---- the table ----------------------------------------------------------------- */

enum { H_BIOS = 0, H_SYSTEM = 0x100, H_BOARD = 0x200, H_CHASSIS = 0x300, H_CPU = 0x400, H_ARRAY = 0x1000,
       H_DIMM = 0x1100, H_MAP = 0x1300, H_BOOT = 0x2000, H_END = 0x7f00 };

/* Type 19 for [start, end) bytes. */
static void mem_map(struct table *t, int i, uint64_t start, uint64_t end)
{
	struct rec r;
	rec_init(&r, 19, 0x1f, (uint16_t)(H_MAP + i));
	uint64_t s = start >> 10, e = (end >> 10) - 1; /* KiB, inclusive */
	if (e < 0xffffffffULL) {
		put_le32(r.f + 4, (uint32_t)s);
		put_le32(r.f + 8, (uint32_t)e);
	} else {
		put_le32(r.f + 4, 0xffffffff);
		put_le32(r.f + 8, 0xffffffff);
		put_le64(r.f + 0x0f, start);
		put_le64(r.f + 0x17, end - 1);
	}
	put_le16(r.f + 0x0c, H_ARRAY);
	r.f[0x0e] = 1; /* partition width */
	emit(t, &r);
}

/* The 24-byte entry point of a table of len bytes; its address is 0 for
 * the firmware to fill in. */
static void anchor(uint8_t *a, size_t len)
{
	memset(a, 0, SMBIOS_ANCHOR_LEN);
	memcpy(a, "_SM3_", 5);
	a[6] = SMBIOS_ANCHOR_LEN;
	a[7] = 3;  /* SMBIOS 3.0.0 */
	a[8] = 0;
	a[10] = 1; /* entry point revision */
	put_le32(a + 12, (uint32_t)len); /* structure table maximum size */
	uint8_t sum = 0;
	for (int i = 0; i < SMBIOS_ANCHOR_LEN; i++)
		sum = (uint8_t)(sum + a[i]);
	a[5] = (uint8_t)-sum;
}

int smbios_build(const struct smbios_ids *id, int cpus, uint64_t ram_size, uint64_t low_end, uint64_t high_size,
		 struct smbios *out)
{
	struct table t = { 0 };
	struct rec r;

	rec_init(&r, 0, 0x18, H_BIOS); /* BIOS information */
	r.f[4] = rec_str(&r, "hal");
	r.f[5] = rec_str(&r, "hal");
	put_le16(r.f + 6, 0xe800);     /* starting address segment */
	r.f[8] = rec_str(&r, "01/01/2026");
	put_le64(r.f + 0x0a, 1u << 3); /* characteristics not supported */
	r.f[0x13] = 1u << 4;           /* a virtual machine */
	r.f[0x14] = 1;
	r.f[0x16] = r.f[0x17] = 0xff;  /* no embedded controller */
	emit(&t, &r);

	rec_init(&r, 1, 0x1b, H_SYSTEM); /* system information */
	r.f[4] = rec_str(&r, id->sys_vendor);
	r.f[5] = rec_str(&r, id->product);
	r.f[6] = rec_str(&r, id->version);
	r.f[7] = rec_str(&r, id->serial);
	memcpy(r.f + 8, id->uuid, 16);
	r.f[0x18] = 6;                 /* woken by the power switch */
	emit(&t, &r);

	rec_init(&r, 2, 0x0f, H_BOARD);  /* baseboard */
	r.f[4] = rec_str(&r, id->board_vendor);
	r.f[5] = rec_str(&r, id->board_name);
	r.f[6] = rec_str(&r, id->board_version);
	r.f[7] = rec_str(&r, id->board_serial);
	r.f[9] = 1;                    /* a hosting board */
	put_le16(r.f + 0x0b, H_CHASSIS);
	r.f[0x0d] = 0x0a;              /* motherboard */
	emit(&t, &r);

	rec_init(&r, 3, 0x16, H_CHASSIS); /* system enclosure */
	r.f[4] = rec_str(&r, id->sys_vendor);
	r.f[5] = 1;                    /* other */
	r.f[9] = r.f[0x0a] = r.f[0x0b] = 3; /* boot-up, power supply, thermal: safe */
	r.f[0x0c] = 3;                 /* security: none */
	emit(&t, &r);

	for (int i = 0; i < cpus; i++) {
		char socket[16];
		snprintf(socket, sizeof(socket), "CPU %d", i);
		rec_init(&r, 4, 0x30, (uint16_t)(H_CPU + i)); /* processor */
		r.f[4] = rec_str(&r, socket);
		r.f[5] = 3;                /* central processor */
		r.f[6] = 0xfe;             /* family: see family 2 */
		r.f[7] = rec_str(&r, "hal");
		put_le64(r.f + 8, id->processor_id);
		r.f[0x10] = rec_str(&r, "hal virtual CPU");
		put_le16(r.f + 0x14, 2000); /* max speed, MHz */
		put_le16(r.f + 0x16, 2000); /* current speed */
		r.f[0x18] = 0x41;          /* socket populated, CPU enabled */
		r.f[0x19] = 1;             /* upgrade: other */
		put_le16(r.f + 0x1a, 0xffff);
		put_le16(r.f + 0x1c, 0xffff);
		put_le16(r.f + 0x1e, 0xffff);
		r.f[0x23] = r.f[0x24] = r.f[0x25] = 1; /* cores, enabled, threads */
		put_le16(r.f + 0x26, 1u << 2); /* 64-bit capable */
		put_le16(r.f + 0x28, 1);   /* family 2: other */
		put_le16(r.f + 0x2a, 1);
		put_le16(r.f + 0x2c, 1);
		put_le16(r.f + 0x2e, 1);
		emit(&t, &r);
	}

	rec_init(&r, 16, 0x17, H_ARRAY); /* physical memory array */
	r.f[4] = 3;                    /* location: system board */
	r.f[5] = 3;                    /* use: system memory */
	r.f[6] = 3;                    /* error correction: none */
	put_le32(r.f + 7, 0x80000000); /* capacity: see the extended field */
	put_le16(r.f + 0x0b, 0xfffe);  /* no error information */
	put_le16(r.f + 0x0d, 1);       /* one device */
	put_le64(r.f + 0x0f, ram_size);
	emit(&t, &r);

	uint64_t mib = ram_size >> 20;
	rec_init(&r, 17, 0x28, H_DIMM); /* memory device */
	put_le16(r.f + 4, H_ARRAY);
	put_le16(r.f + 6, 0xfffe);
	put_le16(r.f + 8, 64);         /* total width */
	put_le16(r.f + 0x0a, 64);      /* data width */
	put_le16(r.f + 0x0c, mib < 0x7fff ? (uint16_t)mib : 0x7fff);
	put_le32(r.f + 0x1c, mib < 0x7fff ? 0 : (uint32_t)mib);
	r.f[0x0e] = 9;                 /* DIMM */
	r.f[0x10] = rec_str(&r, "DIMM 0");
	r.f[0x12] = 7;                 /* RAM */
	put_le16(r.f + 0x13, 1u << 1); /* other */
	r.f[0x17] = rec_str(&r, "hal");
	emit(&t, &r);

	mem_map(&t, 0, 0, low_end);
	if (high_size)
		mem_map(&t, 1, 4ULL << 30, (4ULL << 30) + high_size);

	rec_init(&r, 32, 0x0b, H_BOOT); /* system boot: no errors */
	emit(&t, &r);
	rec_init(&r, 127, 4, H_END);
	emit(&t, &r);

	if (t.oom) {
		free(t.p);
		return -1;
	}
	out->tables = t.p;
	out->len = t.len;
	anchor(out->anchor, t.len);
	return 0;
}

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

int smbios_validate(const uint8_t *p, size_t n, char *why, size_t whylen)
{
	if (n > SMBIOS_FILE_MAX)
		WHY("%zu bytes, more than %d", n, SMBIOS_FILE_MAX);
	for (size_t off = 0; off < n;) {
		if (n - off < 4)
			WHY("a structure header cut off at byte %zu", off);
		unsigned type = p[off], len = p[off + 1];
		if (len < 4 || len > n - off)
			WHY("the structure at byte %zu (type %u) has a bad length %u", off, type, len);
		size_t s = off + len;
		/* the string set: strings up to an empty one; two NULs when empty */
		if (s < n && !p[s]) {
			if (n - s < 2 || p[s + 1])
				WHY("the structure at byte %zu (type %u) has no ended string set", off, type);
			s += 2;
		} else {
			while (s < n && p[s]) {
				const uint8_t *z = memchr(p + s, 0, n - s);
				if (!z)
					break;
				s = (size_t)(z - p) + 1;
			}
			if (s >= n || p[s])
				WHY("the structure at byte %zu (type %u) has no ended string set", off, type);
			s++;
		}
		if (type == 127) {
			if (s != n)
				WHY("%zu bytes after the end structure (type 127)", n - s);
			return 0;
		}
		off = s;
	}
	WHY("no end structure (type 127)");
}

int smbios_table_uuid(const uint8_t *p, size_t n, uint8_t out[16])
{
	for (size_t off = 0; n - off >= 4;) {
		unsigned type = p[off], len = p[off + 1];
		if (len < 4 || len > n - off || type == 127)
			return -1;
		if (type == 1 && len >= 0x18) {
			memcpy(out, p + off + 8, 16);
			return 0;
		}
		/* the string set ends at the first two NULs after the formatted area */
		size_t s = off + len;
		while (n - s >= 2 && (p[s] || p[s + 1]))
			s++;
		if (n - s < 2)
			return -1;
		off = s + 2;
	}
	return -1;
}

int smbios_wrap(const uint8_t *p, size_t n, struct smbios *out)
{
	out->tables = malloc(n ? n : 1);
	if (!out->tables)
		return -1;
	memcpy(out->tables, p, n);
	out->len = n;
	anchor(out->anchor, n);
	return 0;
}

void smbios_free(struct smbios *s)
{
	free(s->tables);
	s->tables = NULL;
	s->len = 0;
}
