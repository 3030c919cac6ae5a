/* init: the kernel command line, hal.conf, and hal's argv. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "init.h"

/* What each hal.* key is and which hal option it becomes (NULL: init's own). */
static const struct {
	const char *name, *flag;
} keys[KCMD_NKEYS] = {
	[KCMD_DISK] = { "disk", "--disk" },
	[KCMD_MEM] = { "mem", "--mem" },
	[KCMD_CPUS] = { "cpus", "--cpus" },
	[KCMD_FIRMWARE] = { "firmware", "--firmware" },
	[KCMD_KERNEL] = { "kernel", "--kernel" },
	[KCMD_INITRD] = { "initrd", "--initrd" },
	[KCMD_APPEND] = { "append", "--append" },
	[KCMD_DISPLAY] = { "display", "--display" },
	[KCMD_SERIAL] = { "serial", "--serial" },
	[KCMD_ARGS] = { "args", NULL },          /* extra words, appended last */
	[KCMD_HAL] = { "path", NULL },           /* hal binary, default /bin/hal */
	[KCMD_RESCUE] = { "rescue", NULL },
	[KCMD_DISK_WAIT] = { "disk_wait", NULL },
	[KCMD_CONF] = { "conf", NULL },          /* hal.conf path, default /hal.conf */
	[KCMD_EFIVARS_DIR] = { "efivars_dir", NULL }, /* init mounts /boot for it: kcmd_efivars_dir */
	[KCMD_NET] = { "net", NULL },            /* init makes br0 for it: --net from inet_choose */
	[KCMD_NET_WAIT] = { "net_wait", NULL },  /* seconds for a carrier, default 3 */
	[KCMD_IP] = { "ip", NULL },              /* the HAL's own address: dhcp or none */
	[KCMD_WATCHDOG] = { "watchdog", NULL },  /* seconds hal may leave its control socket unanswered */
};

const char *kcmd_key_name(enum kcmd_key k) { return k < KCMD_NKEYS ? keys[k].name : "?"; }

/* A growable NULL-terminated word vector. */
struct vec { char **v; int n, cap; };

static int vec_push(struct vec *w, char *s)
{
	if (!s)
		return -1;
	if (w->n + 2 > w->cap) {
		int cap = w->cap ? w->cap * 2 : 16;
		char **nv = realloc(w->v, (size_t)cap * sizeof(*nv));
		if (!nv) {
			free(s);
			return -1;
		}
		w->v = nv;
		w->cap = cap;
	}
	w->v[w->n++] = s;
	w->v[w->n] = NULL;
	return 0;
}

static int vec_done(struct vec *w, char ***out, int ok)
{
	if (ok && !w->v) /* no words: an empty vector */
		w->v = calloc(1, sizeof(*w->v));
	if (!ok || !w->v) {
		kcmd_free(w->v);
		*out = NULL;
		return -1;
	}
	*out = w->v;
	return w->n;
}

void kcmd_free(char **words)
{
	if (!words)
		return;
	for (char **p = words; *p; p++)
		free(*p);
	free(words);
}

int kcmd_split(const char *line, char ***words)
{
	struct vec w = { 0 };
	size_t len = strlen(line);
	char *buf = malloc(len + 1);
	int ok = buf != NULL;
	const char *p = line;
	while (ok) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		size_t n = 0;
		bool quote = false;
		for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
			if (*p == '"')
				quote = !quote;
			else
				buf[n++] = *p;
		}
		buf[n] = 0;
		ok = vec_push(&w, strdup(buf)) == 0;
	}
	free(buf);
	return vec_done(&w, words, ok);
}

int kcmd_split_args(const char *s, char ***words)
{
	struct vec w = { 0 };
	char *buf = malloc(strlen(s) + 1);
	int ok = buf != NULL;
	const char *p = s;
	while (ok) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		size_t n = 0;
		char quote = 0;
		for (; *p && (quote || !isspace((unsigned char)*p)); p++) {
			if (quote) {
				if (*p == quote)
					quote = 0;
				else if (*p == '\\' && quote == '"' && p[1])
					buf[n++] = *++p;
				else
					buf[n++] = *p;
			} else if (*p == '"' || *p == '\'') {
				quote = *p;
			} else if (*p == '\\' && p[1]) {
				buf[n++] = *++p;
			} else {
				buf[n++] = *p;
			}
		}
		if (quote) {
			ok = 0;
			break;
		}
		buf[n] = 0;
		ok = vec_push(&w, strdup(buf)) == 0;
	}
	free(buf);
	return vec_done(&w, words, ok);
}

/* Compares key names with '-' and '_' equivalent. */
static bool name_eq(const char *a, const char *b, size_t blen)
{
	size_t i;
	for (i = 0; i < blen && a[i]; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return i == blen && a[i] == 0;
}

int kcmd_set(struct kcmd_config *c, const char *key, const char *value)
{
	size_t klen = strlen(key);
	if (klen > 4 && strncmp(key, "hal.", 4) == 0) {
		key += 4;
		klen -= 4;
	} else if (strchr(key, '.')) {
		return 1; /* somebody else's namespace */
	}
	for (int k = 0; k < KCMD_NKEYS; k++) {
		if (name_eq(keys[k].name, key, klen)) {
			char *v = strdup(value ? value : "");
			if (!v)
				return -1;
			free(c->val[k]);
			c->val[k] = v;
			return 0;
		}
	}
	return -1;
}

int kcmd_parse_cmdline(struct kcmd_config *c, const char *cmdline)
{
	char **w;
	int n = kcmd_split(cmdline, &w), bad = 0;
	for (int i = 0; i < n; i++) {
		if (strncmp(w[i], "hal.", 4) != 0)
			continue;
		char *eq = strchr(w[i], '=');
		if (eq)
			*eq = 0;
		if (kcmd_set(c, w[i], eq ? eq + 1 : "1") < 0) {
			ilog_warn("unknown kernel command line key %s (ignored)", w[i]);
			bad++;
		}
	}
	kcmd_free(w);
	return bad;
}

int kcmd_parse_conf(struct kcmd_config *c, const char *text)
{
	int bad = 0, lineno = 0;
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[1024];
		lineno++;
		if (len >= sizeof(line)) {
			ilog_warn("hal.conf:%d: line too long (ignored)", lineno);
			bad++;
			p += len + (e ? 1 : 0);
			continue;
		}
		memcpy(line, p, len);
		line[len] = 0;
		p += len + (e ? 1 : 0);
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		size_t l = strlen(s);
		while (l && isspace((unsigned char)s[l - 1]))
			s[--l] = 0;
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			ilog_warn("hal.conf:%d: expected key=value: %s", lineno, s);
			bad++;
			continue;
		}
		char *k = s, *v = eq + 1;
		*eq = 0;
		for (size_t i = strlen(k); i && isspace((unsigned char)k[i - 1]); i--)
			k[i - 1] = 0;
		while (isspace((unsigned char)*v))
			v++;
		l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
			v[l - 1] = 0;
			v++;
		}
		if (kcmd_set(c, k, v) != 0) {
			ilog_warn("hal.conf:%d: unknown key %s (ignored)", lineno, k);
			bad++;
		}
	}
	return bad;
}

void kcmd_config_free(struct kcmd_config *c)
{
	for (int k = 0; k < KCMD_NKEYS; k++) {
		free(c->val[k]);
		c->val[k] = NULL;
	}
}

const char *kcmd_get(const struct kcmd_config *c, enum kcmd_key k, const char *dflt)
{
	return c->val[k] && *c->val[k] ? c->val[k] : dflt;
}

bool kcmd_get_bool(const struct kcmd_config *c, enum kcmd_key k)
{
	const char *v = c->val[k];
	if (!v)
		return false;
	return !*v || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true");
}

long kcmd_get_long(const struct kcmd_config *c, enum kcmd_key k, long dflt)
{
	const char *v = c->val[k];
	char *end;
	if (!v || !*v)
		return dflt;
	long r = strtol(v, &end, 10);
	if (*end || r < 0) {
		ilog_warn("hal.%s=%s: expected a number, using %ld", keys[k].name, v, dflt);
		return dflt;
	}
	return r;
}

bool kcmd_serial_console(const struct kcmd_config *c)
{
	const char *s = kcmd_get(c, KCMD_SERIAL, NULL);
	return s && !strcmp(s, "console");
}

const char *kcmd_efivars_dir(const struct kcmd_config *c)
{
	const char *v = kcmd_get(c, KCMD_EFIVARS_DIR, KCMD_EFIVARS_DIR_DEFAULT);
	return strcmp(v, "none") ? v : NULL;
}

int kcmd_hal_argv(const struct kcmd_config *c, const char *disk_path, const char *efivars_dir, const char *net,
		  const char *control, char ***argv, const char **why)
{
	struct vec w = { 0 };
	int ok = vec_push(&w, strdup(kcmd_get(c, KCMD_HAL, "/bin/hal"))) == 0;
	*why = NULL;
	for (int k = 0; ok && k < KCMD_NKEYS; k++) {
		const char *v = kcmd_get(c, k, NULL);
		if (!keys[k].flag)
			continue;
		if (k == KCMD_DISK) {
			if (!disk_path)
				continue;
			char buf[512];
			size_t l = v ? strlen(v) : 0;
			bool ro = l >= 3 && !strcmp(v + l - 3, ",ro");
			if (disk_spec_is_nbd(disk_path)) /* an export: hal's spec with its options, as given */
				snprintf(buf, sizeof(buf), "%s", disk_path);
			else
				snprintf(buf, sizeof(buf), "%s%s", disk_path, ro ? ",ro" : "");
			ok = vec_push(&w, strdup(keys[k].flag)) == 0 && vec_push(&w, strdup(buf)) == 0;
			continue;
		}
		if (!v)
			continue;
		if (k == KCMD_SERIAL && !strcmp(v, "console"))
			v = "stdio"; /* init hands hal /dev/console as stdio */
		ok = vec_push(&w, strdup(keys[k].flag)) == 0 && vec_push(&w, strdup(v)) == 0;
	}
	if (ok && efivars_dir)
		ok = vec_push(&w, strdup("--efivars-dir")) == 0 && vec_push(&w, strdup(efivars_dir)) == 0;
	if (ok && net)
		ok = vec_push(&w, strdup("--net")) == 0 && vec_push(&w, strdup(net)) == 0;
	if (ok && control)
		ok = vec_push(&w, strdup("--control")) == 0 && vec_push(&w, strdup(control)) == 0;
	const char *extra = kcmd_get(c, KCMD_ARGS, NULL);
	if (ok && extra) {
		char **ew;
		int n = kcmd_split_args(extra, &ew);
		if (n < 0) {
			*why = "hal.args has an unterminated quote";
			ok = 0;
		}
		for (int i = 0; ok && i < n; i++) {
			ok = vec_push(&w, ew[i]) == 0;
			ew[i] = NULL;
			if (!ok)
				for (int j = i + 1; j < n; j++)
					free(ew[j]);
		}
		if (n >= 0)
			free(ew);
	}
	if (!ok && !*why)
		*why = "out of memory";
	return vec_done(&w, argv, ok);
}
