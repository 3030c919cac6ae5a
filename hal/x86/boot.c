/* Direct Linux boot, following the x86 boot protocol 2.06 and later
 * (Documentation/arch/x86/boot.rst): 64-bit entry when the kernel offers it,
 * the 32-bit protected-mode entry otherwise. The kernel file is untrusted
 * input: every header field is checked before it is used. */
#include <stdio.h>
#include <string.h>

#include "x86/boot.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

#define FAIL(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage *bz, char *why, size_t whylen)
{
	memset(bz, 0, sizeof(*bz));
	if (size < 0x270 || rd16(img + 0x1fe) != 0xaa55 || memcmp(img + 0x202, "HdrS", 4) != 0)
		FAIL("not a bzImage (no Linux boot-protocol header); hal boots bzImage kernels, not ELF vmlinux or compressed files");
	bz->version = rd16(img + 0x206);
	if (bz->version < 0x206)
		FAIL("bzImage boot protocol %u.%02u is too old: hal needs 2.06 or later (Linux 2.6.22+)",
		     bz->version >> 8, bz->version & 0xff);
	bz->loadflags = img[0x211];
	if (!(bz->loadflags & 1))
		FAIL("zImage (loaded low) is not supported: the kernel must be a bzImage");
	unsigned sects = img[0x1f1] ? img[0x1f1] : 4;
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size >= size)
		FAIL("truncated bzImage: setup is %u bytes, the file %zu", bz->setup_size, size);
	bz->pm_size = (uint32_t)(size - bz->setup_size);
	uint64_t syssize = (uint64_t)rd32(img + 0x1f4) * 16;
	if (syssize > (uint64_t)bz->pm_size + 15) /* syssize is rounded up to 16 bytes */
		FAIL("truncated bzImage: the header says %llu bytes of kernel, the file has %u",
		     (unsigned long long)syssize, bz->pm_size);
	bz->initrd_addr_max = rd32(img + 0x22c);
	bz->cmdline_size = bz->version >= 0x206 ? rd32(img + 0x238) : 255;
	bz->relocatable = bz->version >= 0x205 && img[0x234];
	if (bz->version >= 0x20a) {
		bz->pref_address = rd64(img + 0x258);
		bz->init_size = rd32(img + 0x260);
	}
	if (bz->version >= 0x20c)
		bz->xloadflags = rd16(img + 0x236);
	if (bz->init_size < bz->pm_size)
		bz->init_size = bz->pm_size;
	return 0;
}

/* Identity-map the first 4 GiB with 2 MiB pages for the 64-bit entry. */
static int build_page_tables(struct guest_mem *m)
{
	uint8_t *pml4 = gpa_ptr(m, BOOT_PML4_ADDR, 6 * 4096);
	if (!pml4)
		return -1;
	memset(pml4, 0, 6 * 4096);
	uint8_t *pdpt = pml4 + 4096, *pd = pml4 + 2 * 4096;
	wr64(pml4, (BOOT_PML4_ADDR + 0x1000) | 3);
	for (uint64_t g = 0; g < 4; g++) {
		wr64(pdpt + 8 * g, (BOOT_PML4_ADDR + 0x2000 + g * 0x1000) | 3);
		for (uint64_t i = 0; i < 512; i++)
			wr64(pd + g * 4096 + 8 * i, (g << 30 | i << 21) | 0x83); /* P, RW, PS */
	}
	return 0;
}

/* boot_params.screen_info (offset 0): a VESA-style linear framebuffer, as a
 * boot loader leaves it after setting a VBE mode, so efifb/vesafb/simpledrm
 * take it over. */
static void screen_info(uint8_t *si, const struct boot_args *a)
{
	si[0x0f] = 0x23;                                /* orig_video_isVGA: VIDEO_TYPE_VLFB */
	wr16(si + 0x12, (uint16_t)a->fb.width);         /* lfb_width */
	wr16(si + 0x14, (uint16_t)a->fb.height);        /* lfb_height */
	wr16(si + 0x16, 32);                            /* lfb_depth */
	wr32(si + 0x18, (uint32_t)a->fb.base);          /* lfb_base */
	wr32(si + 0x1c, a->fb.size >> 16);              /* lfb_size, 64 KiB units for VLFB */
	wr16(si + 0x24, (uint16_t)a->fb.stride);        /* lfb_linelength */
	static const uint8_t rgbx[8] = { 8, 16, 8, 8, 8, 0, 8, 24 }; /* size, pos: red green blue rsvd */
	memcpy(si + 0x26, rgbx, 8);
	wr16(si + 0x32, 1);                             /* pages */
	if (a->fb.base >> 32) {
		wr32(si + 0x36, 2);                     /* capabilities: VIDEO_CAPABILITY_64BIT_BASE */
		wr32(si + 0x3a, (uint32_t)(a->fb.base >> 32));
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

	uint8_t *bp = gpa_ptr(m, BOOT_PARAMS_ADDR, 4096);
	if (!bp)
		FAIL("no RAM for boot_params");
	memset(bp, 0, 4096);
	/* The setup header is copied as the kernel wrote it, up to its end. */
	size_t hdr_end = 0x202 + a->kernel[0x201];
	if (hdr_end > 0x280)
		hdr_end = 0x280;
	memcpy(bp + 0x1f1, a->kernel + 0x1f1, hdr_end - 0x1f1);
	bp[0x210] = 0xff;                      /* type_of_loader: undefined */
	bp[0x211] |= 0x80;                     /* CAN_USE_HEAP */
	wr16(bp + 0x224, 0xfe00);              /* heap_end_ptr */

	size_t cl = a->cmdline ? strlen(a->cmdline) : 0;
	if (cl > bz.cmdline_size || cl >= 64 * 1024)
		FAIL("the command line is %zu bytes; this kernel takes at most %u", cl, bz.cmdline_size);
	char *cmd = gpa_ptr(m, BOOT_CMDLINE_ADDR, cl + 1);
	if (!cmd)
		FAIL("no RAM for the command line");
	memcpy(cmd, a->cmdline ? a->cmdline : "", cl + 1);
	wr32(bp + 0x228, (uint32_t)BOOT_CMDLINE_ADDR);

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
		wr32(bp + 0x218, (uint32_t)at);
		wr32(bp + 0x21c, (uint32_t)a->initrd_size);
	}

	struct e820_entry e[32];
	int n = mem_e820(m, e, 32);
	if (n < 0)
		FAIL("memory map too large");
	bp[0x1e8] = (uint8_t)n;
	memcpy(bp + 0x2d0, e, (size_t)n * sizeof(e[0]));
	if (a->rsdp_addr)
		wr64(bp + 0x70, a->rsdp_addr);
	if (a->fb.base)
		screen_info(bp, a);

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
		wr32(bp + 0x214, (uint32_t)BOOT_KERNEL_ADDR);
	}
	return 0;
}
