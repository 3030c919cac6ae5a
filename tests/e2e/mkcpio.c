/* mkcpio: writes a newc ("070701") cpio archive to stdout from a spec on stdin,
 * so that initramfs images need no root (device nodes, uid 0) and are
 * reproducible (mtime 0). The spec follows the kernel's gen_init_cpio:
 *
 *   dir   NAME MODE
 *   file  NAME SOURCE MODE
 *   nod   NAME MODE c|b MAJOR MINOR
 *   slink NAME TARGET MODE
 *
 * MODE is octal permissions; NAME is the path inside the archive (a leading
 * '/' is dropped). Blank lines and lines starting with '#' are ignored.
 * Usage: mkcpio < spec | gzip -9n > initramfs.cpio.gz
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long ino = 721;
static unsigned long long offset;

static void die(const char *fmt, const char *a)
{
	fprintf(stderr, "mkcpio: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	exit(1);
}

static void out(const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, stdout) != n)
		die("write failed: %s", strerror(errno));
	offset += n;
}

static void pad4(void)
{
	static const char zero[4];
	out(zero, (4 - offset % 4) % 4);
}

static void header(const char *name, unsigned mode, unsigned long size,
		   unsigned nlink, unsigned rmaj, unsigned rmin)
{
	char h[160];
	if (size > 0xFFFFFFFFUL)
		die("%s: too large for newc", name);
	while (*name == '/')
		name++;
	if (!*name)
		name = ".";
	snprintf(h, sizeof h,
		 "070701%08lX%08X%08X%08X%08X%08X%08lX%08X%08X%08X%08X%08lX%08X",
		 ino++, mode, 0u, 0u, nlink, 0u, size, 0u, 0u, rmaj, rmin,
		 (unsigned long)strlen(name) + 1, 0u);
	if (strlen(h) != 110)
		die("bad header for %s", name);
	out(h, 110);
	out(name, strlen(name) + 1);
	pad4();
}

static unsigned parse_mode(const char *s)
{
	char *end;
	unsigned long m;
	if (!s)
		die("missing mode%s", "");
	m = strtoul(s, &end, 8);
	if (*end || m > 07777)
		die("bad mode '%s'", s);
	return (unsigned)m;
}

static void add_file(const char *name, const char *src, unsigned mode)
{
	FILE *f = fopen(src, "rb");
	char buf[65536];
	size_t n;
	struct stat st;
	if (!f || fstat(fileno(f), &st))
		die("cannot open %s", src);
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file", src);
	header(name, S_IFREG | mode, (unsigned long)st.st_size, 1, 0, 0);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		out(buf, n);
	if (ferror(f))
		die("read error on %s", src);
	fclose(f);
	pad4();
}

int main(void)
{
	char line[4096];
	unsigned lineno = 0;
	while (fgets(line, sizeof line, stdin)) {
		char *v[7] = {0};
		int n = 0;
		char *save, *t;
		lineno++;
		for (t = strtok_r(line, " \t\r\n", &save); t && n < 7; t = strtok_r(NULL, " \t\r\n", &save))
			v[n++] = t;
		if (n == 0 || v[0][0] == '#')
			continue;
		if (!strcmp(v[0], "dir") && n == 3) {
			header(v[1], S_IFDIR | parse_mode(v[2]), 0, 2, 0, 0);
		} else if (!strcmp(v[0], "file") && n == 4) {
			add_file(v[1], v[2], parse_mode(v[3]));
		} else if (!strcmp(v[0], "nod") && n == 6 && (!strcmp(v[3], "c") || !strcmp(v[3], "b"))) {
			unsigned type = v[3][0] == 'c' ? S_IFCHR : S_IFBLK;
			header(v[1], type | parse_mode(v[2]), 0, 1,
			       (unsigned)strtoul(v[4], NULL, 0), (unsigned)strtoul(v[5], NULL, 0));
		} else if (!strcmp(v[0], "slink") && n == 4) {
			header(v[1], S_IFLNK | parse_mode(v[3]), (unsigned long)strlen(v[2]), 1, 0, 0);
			out(v[2], strlen(v[2]));
			pad4();
		} else {
			fprintf(stderr, "mkcpio: line %u: bad spec line\n", lineno);
			return 1;
		}
	}
	header("TRAILER!!!", 0, 0, 1, 0, 0);
	/* pad the archive to a 512-byte multiple like cpio(1) does */
	while (offset % 512)
		out("", 1);
	if (fflush(stdout))
		die("write failed: %s", strerror(errno));
	return 0;
}
