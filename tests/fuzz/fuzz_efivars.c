/* The UEFI variable store's checks (pc/efivars.c): the store file is what
 * the guest last wrote through the flash, read back at the next start:
 * efivars_check (firmware volume header, its checksum, the variable store
 * header) and efivars_has_pk (walks the variables looking for a live PK)
 * on the input, which libFuzzer hands over in a buffer of exactly its
 * size. */
#include "fuzz.h"
#include "pc/efivars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	if (efivars_check(data, size, why, sizeof(why)) == 0)
		efivars_has_pk(data, size);
	return 0;
}
