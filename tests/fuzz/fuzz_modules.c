/* init's kernel module database (init/mod.c): the input is split at NUL
 * bytes into modules.dep, modules.alias, modules.builtin, /proc/modules,
 * a command line and names or modaliases to load; each is loaded with its
 * dependencies through a loader that fails for some names (no files, no
 * finit_module). */
#include "fuzz.h"
#include "init.h"

static int fake_load(void *ctx, const char *path, const char *params, int flags)
{
	(void)ctx, (void)params, (void)flags;
	return strlen(path) % 3 == 0 ? -19 /* ENODEV */ : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	const char *part[6] = { "", "", "", "", "", "" };
	char *p = s;
	for (int i = 0; i < 6 && p <= s + size; i++) {
		part[i] = p;
		p += strlen(p) + 1;
	}
	init_log_level = -1;
	struct mod_db db = { 0 };
	db.load = fake_load;
	db.cmdline = part[4];
	mod_db_parse_dep(&db, part[0]);
	mod_db_parse_alias(&db, part[1]);
	mod_db_parse_builtin(&db, part[2]);
	mod_db_parse_loaded(&db, part[3]);
	char *names = strdup(part[5]), *save = NULL;
	for (char *t = strtok_r(names, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		struct mod_ent *order[64];
		mod_find(&db, t);
		mod_load_order(&db, t, order, 64);
		mod_probe(&db, t);
	}
	free(names);
	mod_db_free(&db);
	free(s);
	return 0;
}
