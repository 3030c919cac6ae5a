/* The validator of --smbios file= (hal/x86/smbios.c): any bytes. A table
 * it accepts must end with the type 127 structure exactly at its end, and
 * every structure it walked must lie inside the data (ASan: the input is
 * an exactly sized copy). */
#include <stdlib.h>
#include <string.h>

#include "x86/smbios.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160] = "";
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, data, size);
	if (smbios_validate(p, size, why, sizeof(why)) == 0) {
		struct smbios s;
		if (size < 6 || p[size - 1] || p[size - 2] || smbios_wrap(p, size, &s) < 0)
			abort();
		uint8_t sum = 0;
		for (int i = 0; i < SMBIOS_ANCHOR_LEN; i++)
			sum = (uint8_t)(sum + s.anchor[i]);
		if (sum)
			abort();
		smbios_free(&s);
	} else if (!why[0]) {
		abort(); /* a refusal always says why */
	}
	free(p);
	return 0;
}
