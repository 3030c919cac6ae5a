/* init's kernel command line and hal.conf readers (init/kcmd.c): the input
 * as a command line (hal.* keys, quotes), as hal.conf text, as hal.args,
 * then hal's argv built from what was read, and modname.param options
 * (init/mod.c's mod_options) from it. */
#include "fuzz.h"
#include "init.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	init_log_level = -1; /* no console output */
	char **w;
	int n = kcmd_split(s, &w);
	if (n >= 0)
		kcmd_free(w);
	n = kcmd_split_args(s, &w);
	if (n >= 0)
		kcmd_free(w);
	struct kcmd_config c = { 0 };
	kcmd_parse_cmdline(&c, s);
	kcmd_parse_conf(&c, s);
	kcmd_get_bool(&c, KCMD_RESCUE);
	kcmd_get_long(&c, KCMD_CPUS, 1);
	kcmd_efivars_dir(&c);
	kcmd_serial_console(&c);
	const char *why;
	char **argv;
	n = kcmd_hal_argv(&c, "/dev/sdb", "/boot/hal/efivars", "bridge=br0", NULL, &argv, &why);
	if (n >= 0)
		kcmd_free(argv);
	char opts[256];
	mod_options(s, "virtio_net", opts, sizeof(opts));
	mod_options(s, strlen(s) > 8 ? s + strlen(s) - 8 : s, opts, sizeof(opts));
	struct inet_want iw;
	char msg[256];
	inet_parse_want(&c, &iw, msg, sizeof(msg));
	kcmd_config_free(&c);
	free(s);
	return 0;
}
