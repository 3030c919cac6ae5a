/* init: kernel modules without kmod (modules.dep, modules.alias, coldplug). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "init.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

void mod_name_norm(const char *path_or_name, char *out, size_t n)
{
	const char *b = strrchr(path_or_name, '/');
	b = b ? b + 1 : path_or_name;
	size_t i = 0;
	for (; b[i] && i + 1 < n; i++) {
		if (b[i] == '.' && !strncmp(b + i, ".ko", 3) && (b[i + 3] == 0 || b[i + 3] == '.'))
			break;
		out[i] = b[i] == '-' ? '_' : b[i];
	}
	out[i] = 0;
}

/* Splits text into lines, calling fn on each (modifiable, NUL-terminated). */
static int for_lines(const char *text, int (*fn)(struct mod_db *, char *), struct mod_db *db)
{
	char *copy = strdup(text), *save = NULL;
	if (!copy)
		return -1;
	int r = 0;
	for (char *l = strtok_r(copy, "\n", &save); l && r == 0; l = strtok_r(NULL, "\n", &save))
		r = fn(db, l);
	free(copy);
	return r;
}

static void *grow(void *p, size_t n, size_t size)
{
	/* capacity doubles at powers of two */
	if (n & (n - 1) && n > 8)
		return p;
	return realloc(p, (n < 8 ? 8 : n * 2) * size);
}

static int dep_line(struct mod_db *db, char *l)
{
	char *colon = strchr(l, ':');
	if (!colon)
		return 0;
	*colon = 0;
	struct mod_ent *m = grow(db->mods, db->nmods, sizeof(*m));
	if (!m)
		return -1;
	db->mods = m;
	m = &db->mods[db->nmods];
	memset(m, 0, sizeof(*m));
	char name[128];
	mod_name_norm(l, name, sizeof(name));
	m->name = strdup(name);
	m->path = strdup(l);
	if (!m->name || !m->path) {
		free(m->name);
		free(m->path);
		return -1;
	}
	db->nmods++;
	char *save = NULL;
	for (char *d = strtok_r(colon + 1, " \t", &save); d; d = strtok_r(NULL, " \t", &save)) {
		char **nd = grow(m->deps, (size_t)m->ndeps, sizeof(*nd));
		if (!nd)
			return -1;
		m->deps = nd;
		mod_name_norm(d, name, sizeof(name));
		if (!(m->deps[m->ndeps] = strdup(name)))
			return -1;
		m->ndeps++;
	}
	return 0;
}

static int alias_line(struct mod_db *db, char *l)
{
	char *save = NULL;
	char *kw = strtok_r(l, " \t", &save), *pat = strtok_r(NULL, " \t", &save), *mod = strtok_r(NULL, " \t", &save);
	if (!kw || strcmp(kw, "alias") || !pat || !mod)
		return 0;
	struct mod_alias *a = grow(db->aliases, db->naliases, sizeof(*a));
	if (!a)
		return -1;
	db->aliases = a;
	char name[128];
	mod_name_norm(mod, name, sizeof(name));
	a[db->naliases].pattern = strdup(pat);
	a[db->naliases].name = strdup(name);
	if (!a[db->naliases].pattern || !a[db->naliases].name) {
		free(a[db->naliases].pattern);
		free(a[db->naliases].name);
		return -1;
	}
	db->naliases++;
	return 0;
}

static int push_name(char ***v, size_t *n, const char *s)
{
	char **nv = grow(*v, *n, sizeof(*nv));
	if (!nv)
		return -1;
	*v = nv;
	char name[128];
	mod_name_norm(s, name, sizeof(name));
	if (!(nv[*n] = strdup(name)))
		return -1;
	(*n)++;
	return 0;
}

static int builtin_line(struct mod_db *db, char *l) { return push_name(&db->builtin, &db->nbuiltin, l); }

int mod_db_parse_dep(struct mod_db *db, const char *text) { return for_lines(text, dep_line, db); }
int mod_db_parse_alias(struct mod_db *db, const char *text) { return for_lines(text, alias_line, db); }
int mod_db_parse_builtin(struct mod_db *db, const char *text) { return for_lines(text, builtin_line, db); }

struct mod_ent *mod_find(const struct mod_db *db, const char *name)
{
	char n[128];
	mod_name_norm(name, n, sizeof(n));
	for (size_t i = 0; i < db->nmods; i++)
		if (!strcmp(db->mods[i].name, n))
			return &db->mods[i];
	return NULL;
}

static bool in_list(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

static int loaded_line(struct mod_db *db, char *l)
{
	char *sp = strchr(l, ' ');
	if (sp)
		*sp = 0;
	struct mod_ent *m = mod_find(db, l);
	if (m)
		m->state = MOD_LOADED;
	return 0;
}

void mod_db_parse_loaded(struct mod_db *db, const char *text) { for_lines(text, loaded_line, db); }

int mod_db_open(struct mod_db *db, const char *dir)
{
	char path[512];
	if (!(db->dir = strdup(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/modules.dep", dir);
	char *t = init_read_file(path, NULL);
	if (!t)
		return -1;
	int r = mod_db_parse_dep(db, t);
	free(t);
	snprintf(path, sizeof(path), "%s/modules.alias", dir);
	if (r == 0 && (t = init_read_file(path, NULL))) {
		r = mod_db_parse_alias(db, t);
		free(t);
	}
	snprintf(path, sizeof(path), "%s/modules.builtin", dir);
	if (r == 0 && (t = init_read_file(path, NULL))) {
		r = mod_db_parse_builtin(db, t);
		free(t);
	}
	return r;
}

void mod_db_free(struct mod_db *db)
{
	for (size_t i = 0; i < db->nmods; i++) {
		free(db->mods[i].name);
		free(db->mods[i].path);
		for (int j = 0; j < db->mods[i].ndeps; j++)
			free(db->mods[i].deps[j]);
		free(db->mods[i].deps);
	}
	for (size_t i = 0; i < db->naliases; i++) {
		free(db->aliases[i].pattern);
		free(db->aliases[i].name);
	}
	char **lists[] = { db->builtin, db->blacklist, db->seen };
	size_t ns[] = { db->nbuiltin, db->nblacklist, db->nseen };
	for (int l = 0; l < 3; l++) {
		for (size_t i = 0; i < ns[l]; i++)
			free(lists[l][i]);
		free(lists[l]);
	}
	free(db->mods);
	free(db->aliases);
	free(db->dir);
	memset(db, 0, sizeof(*db));
}

int mod_load_order(const struct mod_db *db, const char *name, struct mod_ent **out, int max)
{
	struct mod_ent *m = mod_find(db, name);
	if (!m)
		return -1;
	int n = 0;
	/* modules.dep lists the full closure, users first: load right to left. */
	for (int i = m->ndeps - 1; i >= 0; i--) {
		struct mod_ent *d = mod_find(db, m->deps[i]);
		if (!d)
			continue; /* built in, or missing: finit_module will say */
		bool dup = false;
		for (int j = 0; j < n; j++)
			dup |= out[j] == d;
		if (!dup && d != m && n < max)
			out[n++] = d;
	}
	if (n < max)
		out[n++] = m;
	return n;
}

void mod_options(const char *cmdline, const char *modname, char *out, size_t n)
{
	char want[128], **w;
	mod_name_norm(modname, want, sizeof(want));
	size_t used = 0;
	out[0] = 0;
	int nw = kcmd_split(cmdline ? cmdline : "", &w);
	for (int i = 0; i < nw; i++) {
		char *dot = strchr(w[i], '.');
		char *eq = strchr(w[i], '=');
		if (!dot || (eq && eq < dot))
			continue;
		*dot = 0;
		char have[128];
		mod_name_norm(w[i], have, sizeof(have));
		if (strcmp(have, want))
			continue;
		const char *param = dot + 1;
		const char *val = eq ? eq + 1 : NULL;
		if (eq)
			*eq = 0;
		if (!*param)
			continue;
		int r;
		if (!val)
			r = snprintf(out + used, n - used, "%s%s", used ? " " : "", param);
		else if (strpbrk(val, " \t"))
			r = snprintf(out + used, n - used, "%s%s=\"%s\"", used ? " " : "", param, val);
		else
			r = snprintf(out + used, n - used, "%s%s=%s", used ? " " : "", param, val);
		if (r < 0 || (size_t)r >= n - used) {
			out[used] = 0; /* too long: drop this one */
			break;
		}
		used += (size_t)r;
	}
	kcmd_free(w);
}

int mod_init_flags(const char *path, const char *compression)
{
	static const struct { const char *suffix, *name; } comp[] = {
		{ ".ko.xz", "xz" }, { ".ko.gz", "gzip" }, { ".ko.zst", "zstd" },
	};
	size_t l = strlen(path);
	for (size_t i = 0; i < sizeof(comp) / sizeof(comp[0]); i++) {
		size_t sl = strlen(comp[i].suffix);
		if (l >= sl && !strcmp(path + l - sl, comp[i].suffix))
			return compression && !strcmp(compression, comp[i].name) ? MODULE_INIT_COMPRESSED_FILE : -1;
	}
	return 0;
}

int mod_finit(void *ctx, const char *path, const char *params, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	long r = syscall(SYS_finit_module, fd, params, flags);
	int e = errno;
	close(fd);
	return r == 0 ? 0 : -e;
}

static bool is_blacklisted(const struct mod_db *db, const char *name)
{
	if (in_list(db->blacklist, db->nblacklist, name))
		return true;
	/* modprobe.blacklist=a,b on the command line */
	char **w;
	bool hit = false;
	int n = kcmd_split(db->cmdline ? db->cmdline : "", &w);
	for (int i = 0; i < n && !hit; i++) {
		if (strncmp(w[i], "modprobe.blacklist=", 19))
			continue;
		char *save = NULL;
		for (char *t = strtok_r(w[i] + 19, ",", &save); t && !hit; t = strtok_r(NULL, ",", &save)) {
			char nm[128];
			mod_name_norm(t, nm, sizeof(nm));
			hit = !strcmp(nm, name);
		}
	}
	kcmd_free(w);
	return hit;
}

/* Loads one module file (dependencies already loaded). 1 loaded, 0 nothing to do, -1 error. */
static int load_one(struct mod_db *db, struct mod_ent *m)
{
	if (m->state != MOD_UNKNOWN)
		return m->state == MOD_FAILED ? -1 : 0;
	if (in_list(db->builtin, db->nbuiltin, m->name)) {
		m->state = MOD_LOADED;
		return 0;
	}
	char path[768], params[1024];
	snprintf(path, sizeof(path), "%s/%s", db->dir ? db->dir : ".", m->path);
	int flags = mod_init_flags(m->path, db->compression);
	if (flags < 0) {
		ilog_err("module %s is compressed but this kernel decompresses only '%s': "
			 "ship uncompressed modules", m->name, db->compression[0] ? db->compression : "none");
		m->state = MOD_FAILED;
		return -1;
	}
	mod_options(db->cmdline, m->name, params, sizeof(params));
	int r = db->load ? db->load(db->load_ctx, path, params, flags) : -ENOSYS;
	if (r == 0 || r == -EEXIST) {
		m->state = MOD_LOADED;
		if (r == 0) {
			db->nloaded++;
			ilog_debug("loaded %s%s%s", m->name, params[0] ? " " : "", params);
		}
		return r == 0;
	}
	if (r == -ENODEV || r == -ENXIO || r == -EOPNOTSUPP) {
		m->state = MOD_NOHW;
		ilog_info("%s: no such hardware (%s)", m->name, strerror(-r));
		return 0;
	}
	m->state = MOD_FAILED;
	ilog_err("loading module %s failed: %s%s", m->name, strerror(-r),
		 r == -ENOENT ? " (unknown symbol or parameter: see dmesg)" :
		 r == -ENOEXEC ? " (wrong kernel version or bad file)" :
		 r == -EPERM || r == -EKEYREJECTED ? " (signature rejected: Secure Boot lockdown?)" : "");
	return -1;
}

static int probe_name(struct mod_db *db, const char *name)
{
	struct mod_ent *order[64];
	if (is_blacklisted(db, name))
		return 0;
	int n = mod_load_order(db, name, order, 64), loaded = 0;
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		int r = load_one(db, order[i]);
		if (r < 0) {
			if (order[i] != order[n - 1] && order[n - 1]->state == MOD_UNKNOWN) {
				ilog_err("not loading %s: its dependency %s failed", order[n - 1]->name, order[i]->name);
				order[n - 1]->state = MOD_FAILED;
			}
			return loaded ? loaded : -1;
		}
		loaded += r;
		if (order[i]->state == MOD_NOHW && order[i] != order[n - 1])
			break;
	}
	return loaded;
}

int mod_probe(struct mod_db *db, const char *name_or_alias)
{
	char n[128];
	mod_name_norm(name_or_alias, n, sizeof(n));
	if (mod_find(db, n))
		return probe_name(db, n);
	if (in_list(db->builtin, db->nbuiltin, n))
		return 0;
	int loaded = 0, matched = 0;
	for (size_t i = 0; i < db->naliases; i++) {
		if (fnmatch(db->aliases[i].pattern, name_or_alias, 0))
			continue;
		matched++;
		int r = probe_name(db, db->aliases[i].name);
		if (r > 0)
			loaded += r;
	}
	return matched || loaded ? loaded : -1;
}

/* Reads one modalias file; matches it unless seen before. */
static int coldplug_file(struct mod_db *db, const char *path)
{
	char alias[512];
	if (init_read_line(path, alias, sizeof(alias)) < 0 || !alias[0])
		return 0;
	if (in_list(db->seen, db->nseen, alias))
		return 0;
	char **nv = grow(db->seen, db->nseen, sizeof(*nv));
	if (!nv)
		return 0;
	db->seen = nv;
	if (!(db->seen[db->nseen] = strdup(alias)))
		return 0;
	db->nseen++;
	int r = mod_probe(db, alias);
	return r > 0 ? r : 0;
}

int mod_coldplug(struct mod_db *db, const char *sysroot)
{
	int total = 0, pass;
	char path[1024];
	do {
		pass = 0;
		snprintf(path, sizeof(path), "%s/devices/system/cpu/modalias", sysroot);
		pass += coldplug_file(db, path);
		snprintf(path, sizeof(path), "%s/bus", sysroot);
		DIR *bd = opendir(path);
		struct dirent *b;
		while (bd && (b = readdir(bd))) {
			if (b->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/bus/%s/devices", sysroot, b->d_name);
			DIR *dd = opendir(path);
			struct dirent *d;
			while (dd && (d = readdir(dd))) {
				if (d->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/bus/%s/devices/%s/modalias", sysroot, b->d_name, d->d_name);
				pass += coldplug_file(db, path);
			}
			if (dd)
				closedir(dd);
		}
		if (bd)
			closedir(bd);
		total += pass;
	} while (pass > 0);
	return total;
}

const char *mod_kvm_module(const char *vendor)
{
	if (!vendor)
		return NULL;
	if (!strcmp(vendor, "GenuineIntel") || !strcmp(vendor, "CentaurHauls") || !strcmp(vendor, "  Shanghai  "))
		return "kvm_intel";
	if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine"))
		return "kvm_amd";
	return NULL;
}

/* True when the "flags" line of cpuinfo has flag as a whole word. */
static bool cpuinfo_flag(const char *cpuinfo, const char *flag)
{
	const char *l = cpuinfo ? strstr(cpuinfo, "\nflags") : NULL;
	if (!l && cpuinfo && !strncmp(cpuinfo, "flags", 5))
		l = cpuinfo - 1;
	if (!l)
		return false;
	const char *colon = strchr(l + 1, ':'), *end = strchr(l + 1, '\n');
	if (!colon || (end && colon > end))
		return false;
	size_t fl = strlen(flag);
	for (const char *p = colon + 1; *p && (!end || p < end); p++) {
		if ((p[-1] == ' ' || p[-1] == ':' || p[-1] == '\t') && !strncmp(p, flag, fl) &&
		    (p[fl] == ' ' || p[fl] == '\n' || p[fl] == 0))
			return true;
	}
	return false;
}

int mod_virt_check(const char *vendor, const char *cpuinfo, char *msg, size_t n)
{
	const char *mod = mod_kvm_module(vendor);
	if (!mod) {
		snprintf(msg, n, "unknown CPU vendor '%s': cannot choose kvm_intel or kvm_amd", vendor ? vendor : "");
		return 0;
	}
	bool intel = !strcmp(mod, "kvm_intel");
	const char *flag = intel ? "vmx" : "svm";
	if (cpuinfo_flag(cpuinfo, flag)) {
		snprintf(msg, n, "%s CPU with %s: using %s", vendor, flag, mod);
		return 1;
	}
	snprintf(msg, n, "hardware virtualisation is not available: the CPU flag '%s' is missing. "
		 "Enable %s in the firmware (BIOS/UEFI) setup, or use a CPU that has it.",
		 flag, intel ? "Intel VT-x (\"Virtualization Technology\")" : "AMD-V (\"SVM Mode\")");
	return 0;
}
