/* Direct Linux boot: bzImage parsing and the boot-protocol set-up. */
#ifndef BOOT_H
#define BOOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hal.h"

/* Guest-physical layout used for direct boot (docs/guest-contract.md). */
#define BOOT_GDT_ADDR     0x500ULL
#define BOOT_PML4_ADDR    0x1000ULL  /* then PDPT 0x2000, four PDs 0x3000-0x6fff */
#define BOOT_PARAMS_ADDR  0x7000ULL
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_KERNEL_ADDR  0x100000ULL
#define BOOT_ACPI_ADDR    0xE0000ULL /* RSDP; the other tables follow */

struct bzimage {
	uint16_t version;
	uint32_t setup_size;      /* boot sector + setup sectors */
	uint32_t pm_size;         /* protected-mode kernel that follows */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint32_t init_size;       /* memory the kernel needs from its load address */
	uint64_t pref_address;
	bool relocatable;
};

/* Returns 0, or -1 with a reason in `why` that names the problem for a user. */
int bzimage_parse(const uint8_t *img, size_t size, struct bzimage *bz, char *why, size_t whylen);

struct boot_args {
	const uint8_t *kernel;
	size_t kernel_size;
	const uint8_t *initrd;
	size_t initrd_size;
	const char *cmdline;
	bool force_32bit;
	uint64_t rsdp_addr;       /* 0 when there are no ACPI tables */
	/* A linear XRGB8888 framebuffer for boot_params.screen_info; base 0: none. */
	struct { uint64_t base; uint32_t size; int width, height, stride; } fb;
};

/* Lays out kernel, initrd, command line, boot_params and page tables in
 * guest RAM and says where the boot CPU starts. */
int bzimage_load(struct guest_mem *m, const struct boot_args *a, struct boot_regs *regs, char *why,
		 size_t whylen);
#endif
