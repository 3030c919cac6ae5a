/* The CFI flash of the UEFI variable store: commands and their second
 * cycles (program, erase + confirm, status, read array, ID, CFI query) at
 * any offset and width, over 4 blocks malloc'd exactly and backed by a
 * memfd the programmed bytes go to. Kinds: 0-5 an access in the flash
 * (address: the offset), 6 sync, 7 reset. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "hw/pflash.h"

#define BASE 0xFFC00000ULL
#define SIZE (4 * PFLASH_BLOCK)

static void set_array(void *ctx, bool array) { (void)ctx; (void)array; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	if (fd < 0 && ((fd = memfd_create("fuzz-flash", 0)) < 0 || ftruncate(fd, SIZE) < 0))
		abort();
	uint8_t *mem = calloc(1, SIZE);
	struct pflash p;
	pflash_init(&p, BASE, mem, SIZE, fd, set_array, NULL);
	pflash_reset(&p);
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 512 && fz_op(&f, &o, 2); n++) {
		switch (o.kind % 8) {
		case 6: pflash_sync(&p); break;
		case 7: pflash_reset(&p); break;
		default: fz_io(pflash_io, &p, BASE + o.addr % SIZE, o.len, o.val, o.write);
		}
	}
	free(mem);
	return 0;
}
