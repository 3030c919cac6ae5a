/* The UEFI variable store's checks and file handling (hal/pc/efivars.c) on
 * stores built here the way EDK2 lays them out (a firmware volume header,
 * then a variable store header), and on Debian's OVMF_VARS_4M.fd when it
 * is installed. hal's messages go to stderr; the checks are on results,
 * files and names. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/hal.h"
#include "pc/efivars.h"

#define STORE (16 * 1024) /* four 4 KiB flash blocks */

static void w16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void w32(uint8_t *p, uint32_t v) { w16(p, (uint16_t)v); w16(p + 2, (uint16_t)(v >> 16)); }
static void w64(uint8_t *p, uint64_t v) { w32(p, (uint32_t)v); w32(p + 4, (uint32_t)(v >> 32)); }

static const uint8_t auth_guid[16] = { 0x78, 0x2c, 0xf3, 0xaa, 0x7b, 0x94, 0x9a, 0x43,
				       0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92 };

/* Makes the header's 16-bit words sum to zero (the Checksum at 50). */
static void fix_checksum(uint8_t *s)
{
	uint16_t sum = 0;
	w16(s + 50, 0);
	for (int i = 0; i < 72; i += 2)
		sum = (uint16_t)(sum + (s[i] | s[i + 1] << 8));
	w16(s + 50, (uint16_t)(0x10000 - sum));
}

/* An empty store of size bytes: erased flash (0xFF) after the headers. */
static void make_store(uint8_t *s, size_t size)
{
	memset(s, 0xff, size);
	memset(s, 0, 72);
	w64(s + 32, size);           /* FvLength */
	memcpy(s + 40, "_FVH", 4);
	w32(s + 44, 0x0004feff);     /* attributes, as OVMF's */
	w16(s + 48, 72);             /* HeaderLength: 56 + two block map entries */
	s[55] = 2;                   /* revision */
	w32(s + 56, (uint32_t)(size / 4096));
	w32(s + 60, 4096);
	fix_checksum(s);
	memcpy(s + 72, auth_guid, 16);
	w32(s + 88, (uint32_t)(size / 2 - 72));
	s[92] = 0x5a;                /* formatted */
	s[93] = 0xfe;                /* healthy */
	memset(s + 94, 0, 6);
}

static uint8_t tmpl_img[STORE];
static char dir[64], tmpl[128], store[128];

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, p, n) != (ssize_t)n)
			perror(path);
		close(fd);
	}
}

/* The whole file, or NULL; *n its size. */
static uint8_t *slurp(const char *path, size_t *n)
{
	return hal_read_file("test file", path, 64 << 20, n);
}

static bool same_as(const char *path, const void *p, size_t n)
{
	size_t got;
	uint8_t *b = slurp(path, &got);
	bool same = b && got == n && !memcmp(b, p, n);
	free(b);
	return same;
}

static void setup(void)
{
	strcpy(dir, "/tmp/hal-efivars-XXXXXX");
	if (!mkdtemp(dir))
		perror("mkdtemp");
	snprintf(tmpl, sizeof(tmpl), "%s/VARS.fd", dir);
	snprintf(store, sizeof(store), "%s/disk.img.efivars", dir);
	make_store(tmpl_img, STORE);
	write_file(tmpl, tmpl_img, STORE);
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void check_accepts_a_store(void)
{
	uint8_t s[STORE];
	char why[160] = "";
	make_store(s, STORE);
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), 0);
	memcpy(s + 72, "\x16\x36\xcf\xdd\x75\x32\x64\x41\x98\xb6\xfe\x85\x70\x7f\xfe\x7d", 16);
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), 0); /* gEfiVariableGuid: no auth variables */
}

static void check_rejects_corruption(void)
{
	uint8_t s[STORE];
	char why[160];
	make_store(s, STORE);
	s[40] = 'X';
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "_FVH"));
	make_store(s, STORE);
	CHECK_EQ(efivars_check(s, STORE - 4096, why, sizeof(why)), -1); /* FvLength is not the size */
	CHECK(strstr(why, "16384") && strstr(why, "12288"));
	make_store(s, STORE);
	s[60] ^= 0x10; /* inside the header: the checksum no longer holds */
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "checksum"));
	make_store(s, STORE);
	s[73] ^= 1; /* the variable store's GUID */
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "variable store signature"));
	make_store(s, STORE);
	s[92] = 0xff; /* not formatted */
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "formatted"));
	make_store(s, STORE);
	w16(s + 48, 71);
	fix_checksum(s);
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "header length"));
	make_store(s, STORE);
	s[55] = 1;
	fix_checksum(s);
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	CHECK(strstr(why, "revision"));
	memset(s, 0xff, STORE); /* erased flash */
	CHECK_EQ(efivars_check(s, STORE, why, sizeof(why)), -1);
	memset(s, 0, STORE);
	CHECK_EQ(efivars_check(s, 64, why, sizeof(why)), -1);
	CHECK(strstr(why, "too small"));
}

/* Debian's empty store passes as it is, when the ovmf package is there. */
static void check_accepts_debians_template(void)
{
	size_t n;
	if (access(OVMF_VARS_PATH, R_OK) < 0) {
		printf("SKIP check_accepts_debians_template: no %s (apt-get install ovmf)\n", OVMF_VARS_PATH);
		check_failed_ = 1; /* not a PASS either */
		return;
	}
	uint8_t *t = slurp(OVMF_VARS_PATH, &n);
	char why[160] = "";
	CHECK(t != NULL);
	int r = efivars_check(t, n, why, sizeof(why));
	free(t);
	if (r)
		printf("  %s: %s\n", OVMF_VARS_PATH, why);
	CHECK_EQ(r, 0);
}

/* An authenticated variable record at off: name (UTF-16, NUL included),
 * data of dlen bytes, EFI_GLOBAL_VARIABLE's GUID; returns the next offset. */
static size_t put_var(uint8_t *s, size_t off, uint8_t state, const char *name, uint32_t dlen)
{
	static const uint8_t global[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
					    0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
	uint8_t *v = s + off;
	uint32_t nlen = (uint32_t)(strlen(name) + 1) * 2;
	memset(v, 0, 60);
	w16(v, 0x55aa);
	v[2] = state;
	w32(v + 4, 0x27); /* NV, BS, RT, time-based authenticated */
	w32(v + 36, nlen); /* after MonotonicCount, TimeStamp, PubKeyIndex */
	w32(v + 40, dlen);
	memcpy(v + 44, global, 16);
	for (uint32_t i = 0; i < nlen / 2; i++)
		w16(v + 60 + 2 * i, (uint8_t)name[i]);
	memset(v + 60 + nlen, 0xab, dlen);
	return (off + 60 + nlen + dlen + 3) & ~(size_t)3;
}

/* --secure-boot's check: a live PK record means OVMF enforces Secure Boot. */
static void has_pk_finds_a_live_platform_key(void)
{
	static uint8_t s[STORE];
	make_store(s, STORE);
	CHECK(!efivars_has_pk(s, STORE)); /* empty */
	size_t off = put_var(s, 100, 0x3f, "PKX", 5);
	off = put_var(s, off, 0x3c, "PK", 800); /* deleted */
	CHECK(!efivars_has_pk(s, STORE));
	size_t pk = off;
	put_var(s, off, 0x3f, "PK", 800);
	CHECK(efivars_has_pk(s, STORE));
	w32(s + pk + 36, 0xfffffff0); /* a NameSize past the store: no read beyond it */
	CHECK(!efivars_has_pk(s, STORE));
	CHECK(!efivars_has_pk(s, 100 + 60)); /* the record cut by the buffer's end */

	const char *files[] = { OVMF_VARS_PATH, OVMF_VARS_MS_PATH };
	for (int i = 0; i < 2; i++) {
		size_t n;
		uint8_t *t = access(files[i], R_OK) == 0 ? slurp(files[i], &n) : NULL;
		if (!t) {
			printf("SKIP has_pk_finds_a_live_platform_key: no %s (apt-get install ovmf)\n", files[i]);
			check_failed_ = 1;
			return;
		}
		CHECK_EQ(efivars_has_pk(t, n), i == 1); /* the .ms store has Microsoft's keys and a PK */
		free(t);
	}
}

static void open_creates_a_missing_store(void)
{
	uint8_t *img;
	size_t size;
	setup();
	int fd = efivars_open(store, tmpl, &img, &size);
	CHECK(fd >= 0);
	CHECK_EQ(size, STORE);
	CHECK(!memcmp(img, tmpl_img, STORE));
	CHECK(same_as(store, tmpl_img, STORE));
	struct stat st;
	CHECK(stat(store, &st) == 0 && (st.st_mode & 0777) == 0600);
	close(fd);
	free(img);
	cleanup();
}

static void open_keeps_a_good_store(void)
{
	uint8_t s[STORE], *img;
	size_t size;
	setup();
	make_store(s, STORE);
	memset(s + 100, 0x3f, 64); /* "variables" the firmware wrote */
	write_file(store, s, STORE);
	int fd = efivars_open(store, tmpl, &img, &size);
	CHECK(fd >= 0);
	CHECK(size == STORE && !memcmp(img, s, STORE));
	CHECK(same_as(store, s, STORE));
	CHECK(access(store, F_OK) == 0);
	char old[160];
	snprintf(old, sizeof(old), "%s.corrupt", store);
	CHECK(access(old, F_OK) < 0);
	close(fd);
	free(img);
	cleanup();
}

static void open_refuses_the_wrong_size_untouched(void)
{
	uint8_t s[2 * STORE], *img;
	size_t size;
	setup();
	make_store(s, sizeof(s)); /* a valid store, only of another build's size */
	write_file(store, s, sizeof(s));
	CHECK_EQ(efivars_open(store, tmpl, &img, &size), -1);
	CHECK(same_as(store, s, sizeof(s)));
	char old[160];
	snprintf(old, sizeof(old), "%s.corrupt", store);
	CHECK(access(old, F_OK) < 0);
	write_file(store, "", 0); /* an empty file is the wrong size too */
	CHECK_EQ(efivars_open(store, tmpl, &img, &size), -1);
	CHECK(same_as(store, "", 0));
	cleanup();
}

static void open_renames_a_corrupt_store(void)
{
	uint8_t s[STORE], *img;
	size_t size;
	char old[160], old1[160];
	setup();
	make_store(s, STORE);
	s[50] ^= 0xff; /* bad checksum */
	memset(s + 200, 0x11, 32);
	write_file(store, s, STORE);
	int fd = efivars_open(store, tmpl, &img, &size);
	CHECK(fd >= 0);
	close(fd);
	free(img);
	snprintf(old, sizeof(old), "%s.corrupt", store);
	CHECK(same_as(old, s, STORE));          /* the old bytes, kept */
	CHECK(same_as(store, tmpl_img, STORE)); /* a fresh store */
	/* again: PATH.corrupt is taken, so PATH.corrupt.1 */
	s[40] = 0;
	write_file(store, s, STORE);
	fd = efivars_open(store, tmpl, &img, &size);
	CHECK(fd >= 0);
	close(fd);
	free(img);
	snprintf(old1, sizeof(old1), "%s.corrupt.1", store);
	CHECK(same_as(old1, s, STORE));
	s[40] = '_';
	CHECK(same_as(old, s, STORE)); /* the first one still there */
	CHECK(same_as(store, tmpl_img, STORE));
	cleanup();
}

static void open_refuses_what_is_not_a_file(void)
{
	uint8_t *img;
	size_t size;
	setup();
	CHECK(mkdir(store, 0755) == 0);
	CHECK_EQ(efivars_open(store, tmpl, &img, &size), -1);
	struct stat st;
	CHECK(stat(store, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_EQ(efivars_open("/dev/null", tmpl, &img, &size), -1);
	CHECK_EQ(efivars_open(tmpl, tmpl, &img, &size), -1); /* the template itself */
	CHECK(same_as(tmpl, tmpl_img, STORE));
	cleanup();
}

/* As root every file is writable: the check then runs in a child that
 * has become nobody. */
static void open_refuses_an_unwritable_store(void)
{
	uint8_t *img;
	size_t size;
	setup();
	write_file(store, tmpl_img, STORE);
	CHECK(chmod(store, 0444) == 0 && chmod(dir, 0755) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		_exit(efivars_open(store, tmpl, &img, &size) == -1 ? 0 : 1);
	}
	int st = -1;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	CHECK(same_as(store, tmpl_img, STORE));
	cleanup();
}

static void open_bad_template_touches_nothing(void)
{
	uint8_t s[STORE], *img;
	size_t size;
	setup();
	make_store(s, STORE);
	s[50] ^= 1;
	write_file(store, s, STORE);
	CHECK_EQ(efivars_open(store, store, &img, &size), -1); /* a corrupt "template" */
	uint8_t junk[STORE] = { 0 };
	write_file(tmpl, junk, STORE);
	CHECK_EQ(efivars_open(store, tmpl, &img, &size), -1);
	CHECK(same_as(store, s, STORE));
	char old[160];
	snprintf(old, sizeof(old), "%s.corrupt", store);
	CHECK(access(old, F_OK) < 0);
	cleanup();
}

/* --firmware PATH: no template, so no format to check and nothing to create. */
static void open_without_template(void)
{
	uint8_t s[STORE], *img;
	size_t size;
	setup();
	CHECK_EQ(efivars_open(store, NULL, &img, &size), -1);
	CHECK(access(store, F_OK) < 0);
	memset(s, 0x5c, STORE);
	write_file(store, s, STORE);
	int fd = efivars_open(store, NULL, &img, &size);
	CHECK(fd >= 0);
	CHECK(size == STORE && !memcmp(img, s, STORE));
	close(fd);
	free(img);
	cleanup();
}

/* Which file holds the store: --efivars, --efivars-dir's DIR/<id>.efivars
 * (the disk's MBR signature here; GPT GUIDs: test_disklabel.c), or the
 * file beside a disk image. */
static void store_path_rules(void)
{
	char disk[300], vdir[300], want[400], spec[320];
	const char *path;
	setup();
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	snprintf(spec, sizeof(spec), "%s,ro,serial=X", disk);
	snprintf(vdir, sizeof(vdir), "%s/vars", dir);
	uint8_t mbr[4096] = { 0 };
	w32(mbr + 440, 0x1234abcd);
	w16(mbr + 510, 0xaa55);
	mbr[446 + 4] = 0x83;
	write_file(disk, mbr, sizeof(mbr));
	struct efivars_cfg c = { "ovmf", NULL, NULL, spec, false };
	CHECK_EQ(efivars_store_path(&c, &path), 0); /* beside the image */
	CHECK(path && !strcmp(path, store));
	c.efivars_dir = vdir;
	CHECK_EQ(efivars_store_path(&c, &path), -1); /* DIR must exist */
	CHECK(mkdir(vdir, 0755) == 0);
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	snprintf(want, sizeof(want), "%s/mbr-1234abcd.efivars", vdir);
	CHECK(path && !strcmp(path, want));
	c.efivars = "/elsewhere.fd"; /* --efivars wins */
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	CHECK(path && !strcmp(path, "/elsewhere.fd"));
	c.efivars = NULL;
	w32(mbr + 440, 0); /* no signature: nothing names the disk */
	write_file(disk, mbr, sizeof(mbr));
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	CHECK(path == NULL);
	c.disk = "nbd+unix:///guest?socket=/run/nbd.sock,ro"; /* an NBD disk is not read: in memory */
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	CHECK(path == NULL);
	c.disk = NULL; /* no disk: in memory */
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	CHECK(path == NULL);
	c.disk = spec;
	c.firmware = tmpl; /* --firmware PATH: no store by disk */
	CHECK_EQ(efivars_store_path(&c, &path), 0);
	CHECK(path == NULL);
	c.firmware = "ovmf";
	c.efivars_dir = store; /* not a directory */
	write_file(store, mbr, 16);
	CHECK_EQ(efivars_store_path(&c, &path), -1);
	cleanup();
}

int main(void)
{
	RUN(check_accepts_a_store);
	RUN(check_rejects_corruption);
	RUN(check_accepts_debians_template);
	RUN(has_pk_finds_a_live_platform_key);
	RUN(open_creates_a_missing_store);
	RUN(open_keeps_a_good_store);
	RUN(open_refuses_the_wrong_size_untouched);
	RUN(open_renames_a_corrupt_store);
	RUN(open_refuses_what_is_not_a_file);
	RUN(open_refuses_an_unwritable_store);
	RUN(open_bad_template_touches_nothing);
	RUN(open_without_template);
	RUN(store_path_rules);
	return 0;
}
