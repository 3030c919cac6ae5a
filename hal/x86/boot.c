/* Direct Linux boot, following the x86 boot protocol 2.06 and later
 * (Documentation/arch/x86/boot.rst): 64-bit entry when the kernel offers it,
 * the 32-bit protected-mode entry otherwise. The kernel file is untrusted
 * input: every header field is checked before it is used. */
#include <asm/bootparam.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "x86/boot.h"

#define SETUP_AT offsetof(struct boot_params, hdr) /* 0x1f1: the setup header, in the image too */
_Static_assert(sizeof(struct boot_params) == 4096, "the zero page");
_Static_assert(sizeof(struct boot_e820_entry) == sizeof(struct e820_entry), "E820 entry layout");

#define FAIL(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage *bz, char *why, size_t whylen)
{
	struct setup_header h = { 0 };
	memset(bz, 0, sizeof(*bz));
	_Static_assert(SETUP_AT + sizeof(h) <= 0x270, "the header fits in what is checked");
	if (size >= 0x270)
		memcpy(&h, img + SETUP_AT, sizeof(h));
	if (size < 0x270 || h.boot_flag != 0xaa55 ||
	    memcmp(img + SETUP_AT + offsetof(struct setup_header, header), "HdrS", 4) != 0)
		FAIL("not a bzImage (no Linux boot-protocol header); hal boots bzImage kernels, not ELF vmlinux or compressed files");
	bz->version = h.version;
	if (bz->version < 0x206)
		FAIL("bzImage boot protocol %u.%02u is too old: hal needs 2.06 or later (Linux 2.6.22+)",
		     bz->version >> 8, bz->version & 0xff);
	bz->loadflags = h.loadflags;
	if (!(bz->loadflags & LOADED_HIGH))
		FAIL("zImage (loaded low) is not supported: the kernel must be a bzImage");
	unsigned sects = h.setup_sects ? h.setup_sects : 4; /* 0 means 4 (boot.rst) */
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size >= size)
		FAIL("truncated bzImage: setup is %u bytes, the file %zu", bz->setup_size, size);
	bz->pm_size = (uint32_t)(size - bz->setup_size);
	uint64_t syssize = (uint64_t)h.syssize * 16;
	if (syssize > (uint64_t)bz->pm_size + 15) /* syssize is rounded up to 16 bytes */
		FAIL("truncated bzImage: the header says %llu bytes of kernel, the file has %u",
		     (unsigned long long)syssize, bz->pm_size);
	bz->initrd_addr_max = h.initrd_addr_max;
	bz->cmdline_size = bz->version >= 0x206 ? h.cmdline_size : 255;
	bz->relocatable = bz->version >= 0x205 && h.relocatable_kernel;
	if (bz->version >= 0x20a) {
		bz->pref_address = h.pref_address;
		bz->init_size = h.init_size;
	}
	if (bz->version >= 0x20c)
		bz->xloadflags = h.xloadflags;
	if (bz->init_size < bz->pm_size)
		bz->init_size = bz->pm_size;
	return 0;
}

/* Identity-map the first 4 GiB with 2 MiB pages for the 64-bit entry
 * (4-level paging, Intel SDM vol. 3A, 4.5). */
static int build_page_tables(struct guest_mem *m)
{
	uint8_t *pml4 = gpa_ptr(m, BOOT_PML4_ADDR, 6 * 4096);
	if (!pml4)
		return -1;
	memset(pml4, 0, 6 * 4096);
	uint8_t *pdpt = pml4 + 4096, *pd = pml4 + 2 * 4096;
	put_le64(pml4, (BOOT_PML4_ADDR + 0x1000) | 3);
	for (uint64_t g = 0; g < 4; g++) {
		put_le64(pdpt + 8 * g, (BOOT_PML4_ADDR + 0x2000 + g * 0x1000) | 3);
		for (uint64_t i = 0; i < 512; i++)
			put_le64(pd + g * 4096 + 8 * i, (g << 30 | i << 21) | 0x83); /* P, RW, PS */
	}
	return 0;
}

/* boot_params.screen_info: a VESA-style linear framebuffer, as a boot
 * loader leaves it after setting a VBE mode, so efifb/vesafb/simpledrm take
 * it over. */
static void set_screen_info(struct screen_info *si, const struct boot_args *a)
{
	si->orig_video_isVGA = VIDEO_TYPE_VLFB;
	si->lfb_width = (uint16_t)a->fb.width;
	si->lfb_height = (uint16_t)a->fb.height;
	si->lfb_depth = 32;
	si->lfb_base = (uint32_t)a->fb.base;
	si->lfb_size = a->fb.size >> 16; /* 64 KiB units for VLFB */
	si->lfb_linelength = (uint16_t)a->fb.stride;
	si->red_size = si->green_size = si->blue_size = si->rsvd_size = 8; /* XRGB8888 */
	si->red_pos = 16;
	si->green_pos = 8;
	si->blue_pos = 0;
	si->rsvd_pos = 24;
	si->pages = 1;
	if (a->fb.base >> 32) {
		si->capabilities = VIDEO_CAPABILITY_64BIT_BASE;
		si->ext_lfb_base = (uint32_t)(a->fb.base >> 32);
	}
}

int bzimage_load(struct guest_mem *m, const struct boot_args *a, struct boot_regs *regs, char *why,
		 size_t whylen)
{
	struct bzimage bz;
	if (bzimage_parse(a->kernel, a->kernel_size, &bz, why, whylen) < 0)
		return -1;
	bool use64 = (bz.xloadflags & XLF_KERNEL_64) && !a->force_32bit;

	/* Where the kernel will run: at the load address, or where a relocatable
	 * kernel decompresses itself (never below its preferred address). */
	uint64_t run_at = BOOT_KERNEL_ADDR;
	if (bz.relocatable && bz.pref_address > run_at)
		run_at = bz.pref_address;
	uint64_t kernel_end = run_at + bz.init_size;
	if (BOOT_KERNEL_ADDR + bz.pm_size > kernel_end)
		kernel_end = BOOT_KERNEL_ADDR + bz.pm_size;
	if (kernel_end > m->low_end)
		FAIL("the kernel needs %llu MiB of RAM below 4 GiB; give the guest more --mem",
		     (unsigned long long)((kernel_end + MiB - 1) >> 20));
	uint8_t *dst = gpa_ptr(m, BOOT_KERNEL_ADDR, bz.pm_size);
	if (!dst)
		FAIL("the kernel does not fit in guest RAM");
	memcpy(dst, a->kernel + bz.setup_size, bz.pm_size);

	struct boot_params *bp = gpa_ptr(m, BOOT_PARAMS_ADDR, sizeof(*bp));
	if (!bp)
		FAIL("no RAM for boot_params");
	memset(bp, 0, sizeof(*bp));
	/* The setup header is copied as the kernel wrote it, up to its end:
	 * 0x202 + the byte at 0x201, where its leading jump goes (boot.rst);
	 * never past 0x280. */
	size_t hdr_end = 0x202 + a->kernel[0x201];
	if (hdr_end > 0x280)
		hdr_end = 0x280;
	memcpy((uint8_t *)bp + SETUP_AT, a->kernel + SETUP_AT, hdr_end - SETUP_AT);
	bp->hdr.type_of_loader = 0xff;         /* undefined */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;         /* the heap ends 64 KiB into the setup segment */

	size_t cl = a->cmdline ? strlen(a->cmdline) : 0;
	if (cl > bz.cmdline_size || cl >= 64 * 1024)
		FAIL("the command line is %zu bytes; this kernel takes at most %u", cl, bz.cmdline_size);
	char *cmd = gpa_ptr(m, BOOT_CMDLINE_ADDR, cl + 1);
	if (!cmd)
		FAIL("no RAM for the command line");
	memcpy(cmd, a->cmdline ? a->cmdline : "", cl + 1);
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_ADDR;

	if (a->initrd_size) {
		uint64_t top = m->low_end;
		if (bz.initrd_addr_max && (uint64_t)bz.initrd_addr_max + 1 < top)
			top = (uint64_t)bz.initrd_addr_max + 1;
		if (a->initrd_size > top)
			FAIL("the initrd (%zu bytes) is larger than the memory the kernel can reach",
			     a->initrd_size);
		uint64_t at = (top - a->initrd_size) & ~0xfffULL;
		if (at < kernel_end)
			FAIL("the kernel and a %zu MiB initrd do not fit below %llu MiB; give the guest more --mem",
			     a->initrd_size >> 20, (unsigned long long)(top >> 20));
		uint8_t *rd = gpa_ptr(m, at, a->initrd_size);
		if (!rd)
			FAIL("the initrd does not fit in guest RAM");
		memcpy(rd, a->initrd, a->initrd_size);
		bp->hdr.ramdisk_image = (uint32_t)at;
		bp->hdr.ramdisk_size = (uint32_t)a->initrd_size;
	}

	struct e820_entry e[32];
	int n = mem_e820(m, e, 32);
	if (n < 0)
		FAIL("memory map too large");
	bp->e820_entries = (uint8_t)n;
	memcpy(bp->e820_table, e, (size_t)n * sizeof(e[0]));
	if (a->rsdp_addr)
		bp->acpi_rsdp_addr = a->rsdp_addr;
	if (a->fb.base)
		set_screen_info(&bp->screen_info, a);

	regs->rsi = BOOT_PARAMS_ADDR;
	regs->gdt = BOOT_GDT_ADDR;
	regs->cr3 = BOOT_PML4_ADDR;
	if (use64) {
		if (build_page_tables(m) < 0)
			FAIL("no RAM for page tables");
		regs->mode = BOOT_LONG64;
		regs->rip = BOOT_KERNEL_ADDR + 0x200;
	} else {
		regs->mode = BOOT_PM32;
		regs->rip = BOOT_KERNEL_ADDR; /* code32_start, where we loaded it */
		bp->hdr.code32_start = (uint32_t)BOOT_KERNEL_ADDR;
	}
	return 0;
}
