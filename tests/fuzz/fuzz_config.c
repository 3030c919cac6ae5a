/* hal's command line (core/config.c, with the --net specs of net/spec.c
 * and the --disk options of disk/raw.c that hal checks before it opens
 * anything): the input split at NUL bytes into argv[1..]. */
#include <getopt.h>

#include "fuzz.h"
#include "core/config.h"
#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	char *argv[66] = { "hal" };
	int argc = 1;
	for (char *p = s; p <= s + size && argc < 65; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	/* getopt keeps a position inside the last argv element: start afresh */
	char *none[] = { "hal", NULL };
	optind = 0;
	getopt_long(1, none, "", NULL, NULL);
	opterr = 0;
	struct config c;
	char why[512];
	if (config_parse(argc, argv, &c, why, sizeof(why)) == CONFIG_OK)
		for (int i = 0; i < c.nnets; i++) {
			struct net_spec ns;
			net_parse(c.nets[i], &ns, why, sizeof(why));
		}
	uint64_t v;
	parse_size(s, &v);
	free(s);
	return 0;
}
