/* SMBIOS: the produced table parsed back as a guest's dmidecode would
 * read it, the host strings from a fake /sys/class/dmi/id, and the
 * validator of --smbios file= on good and damaged tables. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/config.h"
#include "core/endian.h"
#include "x86/smbios.h"

#define GiB_ (1ULL << 30)

struct parsed {
	int count[128];
	const uint8_t *first[128]; /* the first structure of each type */
	int nstruct, maxsize;
	bool ok, end_last;
};

/* Walks the table: every structure's length inside, its string set ended. */
static struct parsed parse(const uint8_t *p, size_t n)
{
	struct parsed r = { .ok = true };
	size_t off = 0;
	while (off < n) {
		if (n - off < 4 || p[off + 1] < 4 || p[off + 1] > n - off) {
			r.ok = false;
			return r;
		}
		size_t s = off + p[off + 1];
		if (s + 1 >= n) { /* a string set is two bytes at least */
			r.ok = false;
			return r;
		}
		if (!p[s]) { /* no strings: two NULs */
			if (p[s + 1]) {
				r.ok = false;
				return r;
			}
			s += 2;
		} else {
			while (s < n && p[s])
				s += strnlen((const char *)p + s, n - s) + 1;
			if (s >= n) {
				r.ok = false;
				return r;
			}
			s++;
		}
		uint8_t t = p[off] & 0x7f;
		if (!r.count[t]++)
			r.first[t] = p + off;
		r.nstruct++;
		if ((int)(s - off) > r.maxsize)
			r.maxsize = (int)(s - off);
		r.end_last = p[off] == 127 && s == n;
		off = s;
	}
	return r;
}

/* String number k of the structure at s (1-based), or "" */
static const char *str(const uint8_t *s, unsigned k)
{
	const char *p = (const char *)s + s[1];
	if (!k)
		return "";
	while (--k && *p)
		p += strlen(p) + 1;
	return p;
}

static void test_built_table(void)
{
	struct smbios_ids id;
	struct smbios s;
	smbios_ids_default(&id);
	snprintf(id.sys_vendor, sizeof(id.sys_vendor), "ACME Computers");
	snprintf(id.product, sizeof(id.product), "Roadrunner 3000");
	snprintf(id.serial, sizeof(id.serial), "SN-42");
	CHECK(smbios_parse_uuid("01234567-89ab-cdef-0123-456789abcdef", id.uuid) == 0);
	CHECK(smbios_build(&id, 3, 6 * GiB_, 3 * GiB_, 3 * GiB_, &s) == 0);
	/* the entry point */
	const uint8_t *a = s.anchor;
	CHECK(!memcmp(a, "_SM3_", 5));
	CHECK_EQ(a[6], 24);
	CHECK_EQ(a[7], 3);
	uint8_t sum = 0;
	for (int i = 0; i < 24; i++)
		sum = (uint8_t)(sum + a[i]);
	CHECK_EQ(sum, 0);
	CHECK_EQ(get_le32(a + 12), s.len);
	/* the structures */
	struct parsed p = parse(s.tables, s.len);
	CHECK(p.ok);
	CHECK(p.end_last);
	static const int want[] = { 0, 1, 2, 3, 16, 17, 32, 127 };
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_EQ(p.count[want[i]], 1);
	CHECK_EQ(p.count[4], 3);   /* one per CPU */
	CHECK_EQ(p.count[19], 2);  /* RAM below and above 4 GiB */
	const uint8_t *t1 = p.first[1];
	CHECK(!strcmp(str(t1, t1[4]), "ACME Computers"));
	CHECK(!strcmp(str(t1, t1[5]), "Roadrunner 3000"));
	CHECK(!strcmp(str(t1, t1[7]), "SN-42"));
	static const uint8_t uuid[16] = { 0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd,
					  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	CHECK(!memcmp(t1 + 8, uuid, 16));
	const uint8_t *t2 = p.first[2];
	CHECK(!strcmp(str(t2, t2[4]), "hal"));
	CHECK_EQ(get_le16(t2 + 0x0b), get_le16(p.first[3] + 2)); /* the board is in the chassis */
	CHECK_EQ(get_le16(p.first[17] + 0x0c), 6 * 1024); /* MiB */
	CHECK_EQ(p.first[4][1], 0x30);
	/* the high map: 4 GiB to 7 GiB, in KiB, inclusive end */
	const uint8_t *m = p.first[19] + p.first[19][1];
	while (*m || m[1])
		m++;
	m += 2;
	CHECK_EQ(m[0], 19);
	CHECK_EQ(get_le32(m + 4), 4 * 1024 * 1024);
	CHECK_EQ(get_le32(m + 8), 7 * 1024 * 1024 - 1);
	/* what we build passes what we ask of a file, and its UUID is found
	 * again (fw_cfg's UUID item for --smbios file=); a table cut before
	 * the UUID has none */
	char why[160];
	CHECK(smbios_validate(s.tables, s.len, why, sizeof(why)) == 0);
	uint8_t found[16], wire[16];
	CHECK(smbios_table_uuid(s.tables, s.len, found) == 0);
	CHECK(!memcmp(found, uuid, 16));
	smbios_uuid_wire(found, wire);
	CHECK(wire[0] == 0x01 && wire[3] == 0x67 && wire[4] == 0x89 && wire[6] == 0xcd && wire[15] == 0xef);
	CHECK(smbios_table_uuid(s.tables, (size_t)(t1 - s.tables) + 20, found) < 0);
	smbios_free(&s);
	/* 64 CPUs, 1 TiB: still well formed */
	CHECK(smbios_build(&id, 64, 1024 * GiB_, 3 * GiB_, 1021 * GiB_, &s) == 0);
	p = parse(s.tables, s.len);
	CHECK(p.ok && p.end_last);
	CHECK_EQ(p.count[4], 64);
	CHECK_EQ(get_le16(p.first[17] + 0x0c), 0x7fff);
	CHECK_EQ(get_le32(p.first[17] + 0x1c), 1024 * 1024);
	smbios_free(&s);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_host_ids(void)
{
	char dir[] = "/tmp/hal-dmi-XXXXXX";
	CHECK(mkdtemp(dir));
	put_file(dir, "sys_vendor", "Real Vendor Inc.\n");
	put_file(dir, "product_name", "Model 7   \n");
	put_file(dir, "product_serial", "\n");  /* empty: the default (none) */
	put_file(dir, "product_uuid", "4c4c4544-0042-3510-8052-b4c04f564732\n");
	put_file(dir, "board_name", "Board\x01X\n");
	/* board_vendor, product_version missing; board_serial unreadable */
	put_file(dir, "board_serial", "secret\n");
	char path[300];
	snprintf(path, sizeof(path), "%s/board_serial", dir);
	chmod(path, 0);
	struct smbios_ids id;
	smbios_ids_host(&id, dir);
	CHECK(!strcmp(id.sys_vendor, "Real Vendor Inc."));
	CHECK(!strcmp(id.product, "Model 7"));
	CHECK(!strcmp(id.serial, ""));
	CHECK(!strcmp(id.board_vendor, "hal"));
	CHECK(!strcmp(id.board_name, "Board?X"));
	CHECK(!strcmp(id.version, "1.0"));
	if (geteuid()) /* root reads a mode 000 file */
		CHECK(!strcmp(id.board_serial, ""));
	CHECK_EQ(id.uuid[0], 0x44);
	CHECK_EQ(id.uuid[3], 0x4c);
	CHECK_EQ(id.uuid[15], 0x32);
	/* a damaged UUID: zeros, not garbage */
	put_file(dir, "product_uuid", "4c4c4544-0042-3510-8052-b4c04f56473\n");
	smbios_ids_host(&id, dir);
	static const uint8_t zero[16];
	CHECK(!memcmp(id.uuid, zero, 16));
	/* no directory at all: the defaults */
	smbios_ids_host(&id, "/nonexistent/dmi");
	CHECK(!strcmp(id.sys_vendor, "hal"));
	const char *names[] = { "sys_vendor", "product_name", "product_serial", "product_uuid", "board_name", "board_serial" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void test_file_validation(void)
{
	char why[160];
	/* type 1 with two strings, type 32 without, the end */
	uint8_t good[64];
	size_t n = 0;
	uint8_t t1[0x1b] = { 1, 0x1b, 0, 1, 1, 2 };
	memcpy(good + n, t1, sizeof(t1)), n += sizeof(t1);
	memcpy(good + n, "Vendor\0Thing\0\0", 14), n += 14;
	uint8_t t32[0x0b] = { 32, 0x0b, 0, 2 };
	memcpy(good + n, t32, sizeof(t32)), n += sizeof(t32);
	good[n++] = 0, good[n++] = 0;
	const uint8_t end[6] = { 127, 4, 0, 3, 0, 0 };
	memcpy(good + n, end, 6), n += 6;
	CHECK(smbios_validate(good, n, why, sizeof(why)) == 0);
	struct smbios s;
	CHECK(smbios_wrap(good, n, &s) == 0);
	CHECK_EQ(get_le32(s.anchor + 12), n);
	smbios_free(&s);

	uint8_t bad[64];
	CHECK(smbios_validate(good, n - 6, why, sizeof(why)) < 0); /* no end */
	CHECK(strstr(why, "127"));
	CHECK(smbios_validate(good, n - 1, why, sizeof(why)) < 0); /* end's set cut */
	memcpy(bad, good, n);
	bad[1] = 2;                                                 /* length below the header */
	CHECK(smbios_validate(bad, n, why, sizeof(why)) < 0);
	CHECK(strstr(why, "bad length"));
	bad[1] = 0xff;                                              /* past the data */
	CHECK(smbios_validate(bad, n, why, sizeof(why)) < 0);
	memcpy(bad, good, n);
	bad[0x1b + 14 + 0x0b + 1] = 'x';                            /* type 32's set: one NUL then text */
	CHECK(smbios_validate(bad, n, why, sizeof(why)) < 0);
	memcpy(bad, good, n);
	bad[n] = 0;                                                 /* bytes after the end */
	CHECK(smbios_validate(bad, n + 1, why, sizeof(why)) < 0);
	CHECK(smbios_validate(good, 3, why, sizeof(why)) < 0);
	CHECK(smbios_validate(good, 0, why, sizeof(why)) < 0);
	uint8_t *big = calloc(1, SMBIOS_FILE_MAX + 1);
	CHECK(big);
	bool refused = smbios_validate(big, SMBIOS_FILE_MAX + 1, why, sizeof(why)) < 0;
	free(big);
	CHECK(refused);
	/* strings with no end before the data ends */
	memcpy(bad, good, 0x1b + 6);
	CHECK(smbios_validate(bad, 0x1b + 6, why, sizeof(why)) < 0);
	CHECK(strstr(why, "string set"));
}

static void test_option(void)
{
	struct config c;
	char why[256];
	char *dflt[] = { "hal", "--kernel", "k", NULL };
	CHECK_EQ(config_parse(3, dflt, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.smbios, "host"));
	char *file[] = { "hal", "--kernel", "k", "--smbios", "file=/x.bin", NULL };
	CHECK_EQ(config_parse(5, file, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.smbios, "file=/x.bin"));
	char *empty[] = { "hal", "--kernel", "k", "--smbios", "file=", NULL };
	CHECK_EQ(config_parse(5, empty, &c, why, sizeof(why)), CONFIG_USAGE);
	char *bad[] = { "hal", "--kernel", "k", "--smbios", "hosts", NULL };
	CHECK_EQ(config_parse(5, bad, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--smbios hosts"));
}

int main(void)
{
	RUN(test_built_table);
	RUN(test_host_ids);
	RUN(test_file_validation);
	RUN(test_option);
	return 0;
}
