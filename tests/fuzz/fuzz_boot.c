/* The bzImage and initrd loader (x86/boot.c): the input is the kernel image
 * (libFuzzer hands it over in a buffer of exactly its size), after 4 bytes
 * of options: bit 0 of the first force the 32-bit entry, bit 1 a
 * framebuffer for screen_info; the next two the initrd's size in KiB;
 * the fourth the command line's length. Guest RAM is 4 MiB in one malloc'd
 * buffer laid out as mem.c lays out RAM (the VGA hole unmapped). */
#include "fuzz.h"
#include "x86/boot.h"

#define RAM (4 * MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static uint8_t *initrd;
	static char cmdline[256];
	if (!m.base) {
		m.ram_size = m.low_end = RAM;
		m.base = malloc(RAM);
		m.regions[0] = (struct mem_region){ 0, VGA_HOLE_START, m.base };
		m.regions[1] = (struct mem_region){ ROM_START, RAM - ROM_START, m.base + ROM_START };
		m.nregions = 2;
		initrd = calloc(1, 8 * MiB);
		memset(cmdline, 'a', sizeof(cmdline) - 1);
	}
	if (size < 4)
		return 0;
	struct boot_args a = { 0 };
	a.force_32bit = data[0] & 1;
	if (data[0] & 2)
		a.fb.base = 0xfd000000, a.fb.size = 16 * MiB, a.fb.width = 1024, a.fb.height = 768, a.fb.stride = 4096;
	a.initrd = initrd;
	a.initrd_size = ((size_t)data[1] | (size_t)data[2] << 8) * KiB % (8 * MiB);
	a.cmdline = cmdline + sizeof(cmdline) - 1 - data[3];
	a.kernel = data + 4;
	a.kernel_size = size - 4;
	a.rsdp_addr = 0xe0000;
	struct boot_regs regs;
	char why[256];
	bzimage_load(&m, &a, &regs, why, sizeof(why));
	return 0;
}
