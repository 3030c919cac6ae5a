/* Direct-boot loader, memory map and command line, on the host. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "x86/boot.h"
#include "check.h"
#include "core/config.h"
#include "core/hal.h"

static uint8_t img[64 * 1024];

/* A minimal bzImage: 4 setup sectors, `pm` bytes of kernel. */
static size_t make_bzimage(uint16_t version, uint16_t xlf, uint32_t init_size, size_t pm)
{
	memset(img, 0, sizeof(img));
	img[0x1f1] = 4;
	img[0x1fe] = 0x55; img[0x1ff] = 0xaa;
	img[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = (uint8_t)version; img[0x207] = (uint8_t)(version >> 8);
	img[0x211] = 1; /* LOADED_HIGH */
	uint32_t syssize = (uint32_t)(pm + 15) / 16;
	memcpy(img + 0x1f4, &syssize, 4);
	uint32_t max = 0x7fffffff, cl = 2047;
	memcpy(img + 0x22c, &max, 4);
	memcpy(img + 0x238, &cl, 4);
	memcpy(img + 0x236, &xlf, 2);
	memcpy(img + 0x260, &init_size, 4);
	for (size_t i = 0; i < pm; i++)
		img[5 * 512 + i] = (uint8_t)(i * 7);
	return 5 * 512 + pm;
}

static void bzimage_rejects_what_is_not_one(void)
{
	struct bzimage bz;
	char why[256];
	static const uint8_t elf[0x300] = { 0x7f, 'E', 'L', 'F' };
	CHECK(bzimage_parse(elf, sizeof(elf), &bz, why, sizeof(why)) < 0);
	CHECK(strstr(why, "not a bzImage"));
	CHECK(bzimage_parse(img, 100, &bz, why, sizeof(why)) < 0);   /* tiny file */
	size_t n = make_bzimage(0x204, 1, 0, 4096);
	CHECK(bzimage_parse(img, n, &bz, why, sizeof(why)) < 0);
	CHECK(strstr(why, "too old"));
	n = make_bzimage(0x20f, 1, 0, 4096);
	CHECK(bzimage_parse(img, n - 100, &bz, why, sizeof(why)) < 0); /* cut short */
	CHECK(strstr(why, "truncated"));
	CHECK(bzimage_parse(img, n, &bz, why, sizeof(why)) == 0);
	CHECK_EQ(bz.pm_size, 4096);
	CHECK_EQ(bz.setup_size, 5 * 512);
}

static struct guest_mem mem;

static void load(uint16_t xlf, bool force32, const uint8_t *initrd, size_t isz, const char *cmd,
		 int expect, struct boot_regs *r, char *why)
{
	size_t n = make_bzimage(0x20f, xlf, 1 * MiB, 4096);
	struct boot_args a = { img, n, initrd, isz, cmd, force32, 0xe0000, { 0 } };
	int ret = bzimage_load(&mem, &a, r, why, 256);
	if (ret != expect)
		printf("# bzimage_load: %s\n", why);
}

static void boot_params_carry_cmdline_initrd_and_e820(void)
{
	CHECK(mem_init(&mem, 128 * MiB) == 0);
	static uint8_t initrd[100000 + 3];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	struct boot_regs r;
	char why[256];
	load(1, false, initrd, sizeof(initrd), "console=ttyS0 x=\"a b\"", 0, &r, why);
	CHECK_EQ(r.mode, BOOT_LONG64);
	CHECK_EQ(r.rip, 0x100200);
	CHECK_EQ(r.rsi, BOOT_PARAMS_ADDR);
	uint8_t *bp = gpa_ptr(&mem, BOOT_PARAMS_ADDR, 4096);
	uint32_t cmd, rd, rdsz;
	memcpy(&cmd, bp + 0x228, 4);
	memcpy(&rd, bp + 0x218, 4);
	memcpy(&rdsz, bp + 0x21c, 4);
	CHECK(!strcmp(gpa_ptr(&mem, cmd, 1), "console=ttyS0 x=\"a b\""));
	CHECK_EQ(rdsz, sizeof(initrd));
	CHECK_EQ(rd % 4096, 0);
	CHECK(rd + rdsz <= 128 * MiB);
	CHECK(!memcmp(gpa_ptr(&mem, rd, rdsz), initrd, rdsz));
	CHECK(!memcmp(gpa_ptr(&mem, 0x100000, 4096), img + 5 * 512, 4096)); /* kernel at 1 MiB */
	CHECK_EQ(bp[0x210], 0xff);                                           /* type_of_loader */
	uint64_t rsdp;
	memcpy(&rsdp, bp + 0x70, 8);
	CHECK_EQ(rsdp, 0xe0000);

	int n = bp[0x1e8];
	struct e820_entry e[8];
	CHECK(n >= 3 && n <= 8);
	memcpy(e, bp + 0x2d0, (size_t)n * sizeof(e[0]));
	uint64_t ram = 0;
	for (int i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	CHECK(e[0].addr == 0 && e[0].type == E820_RAM && e[0].size == 0x9fc00);
	CHECK(ram > 127 * MiB && ram <= 128 * MiB);
	/* 64-bit entry: identity map of the first 4 GiB */
	uint64_t pde;
	memcpy(&pde, gpa_ptr(&mem, BOOT_PML4_ADDR + 0x2000 + 8 * 511, 8), 8);
	CHECK_EQ(pde, (511ULL << 21) | 0x83);
	mem_exit(&mem);
}

static void entry_falls_back_to_32bit(void)
{
	CHECK(mem_init(&mem, 64 * MiB) == 0);
	struct boot_regs r;
	char why[256];
	load(0, false, NULL, 0, "", 0, &r, why);
	CHECK_EQ(r.mode, BOOT_PM32);
	CHECK_EQ(r.rip, 0x100000);
	load(1, true, NULL, 0, "", 0, &r, why); /* --entry32 on a 64-bit kernel */
	CHECK_EQ(r.mode, BOOT_PM32);
	mem_exit(&mem);
}

static void loader_refuses_what_does_not_fit(void)
{
	CHECK(mem_init(&mem, 16 * MiB) == 0);
	struct boot_regs r;
	char why[256];
	static char longcmd[4000];
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	load(1, false, NULL, 0, longcmd, -1, &r, why);
	CHECK(strstr(why, "command line"));
	size_t n = make_bzimage(0x20f, 1, 64 * MiB, 4096); /* wants 64 MiB to decompress */
	struct boot_args a = { img, n, NULL, 0, "", false, 0, { 0 } };
	CHECK(bzimage_load(&mem, &a, &r, why, sizeof(why)) < 0);
	CHECK(strstr(why, "--mem"));
	static uint8_t big[15 * 1024 * 1024];
	load(1, false, big, sizeof(big), "", -1, &r, why); /* initrd cannot fit */
	CHECK(strstr(why, "initrd"));
	mem_exit(&mem);
}

static void memory_map_and_guest_pointer_checks(void)
{
	CHECK(mem_init(&mem, 5 * GiB) == 0);
	CHECK_EQ(mem.low_end, LOWMEM_LIMIT);
	CHECK_EQ(mem.high_size, 5 * GiB - LOWMEM_LIMIT);
	struct e820_entry e[16];
	int n = mem_e820(&mem, e, 16);
	CHECK(n > 0);
	CHECK_EQ(e[n - 1].addr, 4 * GiB);
	CHECK_EQ(e[n - 1].size, 5 * GiB - LOWMEM_LIMIT);
	int reserved_kvm = 0;
	for (int i = 0; i < n; i++)
		if (e[i].type == E820_RESERVED && e[i].addr <= KVM_TSS_ADDR && e[i].addr + e[i].size >= KVM_TSS_ADDR + 0x3000)
			reserved_kvm = 1;
	CHECK(reserved_kvm);
	CHECK(gpa_ptr(&mem, 0, 4096) == mem.base);
	CHECK(gpa_ptr(&mem, 0xa0000, 1) == NULL);              /* VGA hole */
	CHECK(gpa_ptr(&mem, 0x9ffff, 2) == NULL);              /* straddles into it */
	CHECK(gpa_ptr(&mem, LOWMEM_LIMIT - 1, 1) != NULL);
	CHECK(gpa_ptr(&mem, LOWMEM_LIMIT, 1) == NULL);         /* PCI hole */
	CHECK(gpa_ptr(&mem, 4 * GiB, 8) == mem.base + LOWMEM_LIMIT);
	CHECK(gpa_ptr(&mem, 9 * GiB - LOWMEM_LIMIT + 4 * GiB, 1) == NULL);
	CHECK(gpa_ptr(&mem, 4 * GiB, ~0ULL) == NULL);          /* length overflow */
	CHECK(gpa_ptr(&mem, ~0ULL - 2, 8) == NULL);            /* address overflow */
	mem_exit(&mem);
	CHECK(mem_init(&mem, 1 * MiB) < 0);                    /* too small, said so */
}

/* Guest RAM is backed by 2 MiB pages where the host's THP setting lets a
 * program ask for them ("always" or "madvise"): KVM then maps the guest with
 * 2 MiB pages (fewer TLB misses on every guest memory access). */
static void guest_ram_is_huge_page_backed(void)
{
	CHECK(mem_init(&mem, 64 * MiB) == 0);
	CHECK_EQ((uintptr_t)mem.base % (2 * MiB), 0);
	for (uint64_t o = 0; o < 8 * MiB; o += 4096)
		mem.base[o] = 1;
	char thp[64] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(thp, sizeof(thp), f))
			thp[0] = 0;
		fclose(f);
	}
	long huge_kib = -1;
	f = fopen("/proc/self/smaps", "r");
	CHECK(f);
	char line[256];
	bool ours = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
			ours = a <= (uintptr_t)mem.base && (uintptr_t)mem.base < b;
		else if (ours && !strncmp(line, "AnonHugePages:", 14))
			huge_kib = atol(line + 14);
	}
	fclose(f);
	mem_exit(&mem);
	CHECK(huge_kib >= 0); /* the mapping was found */
	if (!strstr(thp, "[never]"))
		CHECK(huge_kib >= 2048);
}

static void command_line_options(void)
{
	struct config c;
	char why[256];
	uint64_t v;
	CHECK(parse_size("512M", &v) == 0 && v == 512 * MiB);
	CHECK(parse_size("4G", &v) == 0 && v == 4 * GiB);
	CHECK(parse_size("2GiB", &v) == 0 && v == 2 * GiB);
	CHECK(parse_size("256", &v) == 0 && v == 256 * MiB);
	CHECK(parse_size("64k", &v) == 0 && v == 64 * KiB);
	CHECK(parse_size("-1", &v) < 0);
	CHECK(parse_size("12Q", &v) < 0);
	CHECK(parse_size("99999999999T", &v) < 0);
	char *ok[] = { "hal", "--kernel", "k", "--initrd", "i", "--append", "a b", "--mem", "1G", "--cpus", "2",
		       "--serial", "file:/tmp/x", NULL };
	CHECK_EQ(config_parse(13, ok, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.kernel, "k") && !strcmp(c.initrd, "i") && !strcmp(c.append, "a b"));
	CHECK(c.mem == GiB && c.cpus == 2 && c.serial == OUT_FILE && !strcmp(c.serial_path, "/tmp/x"));
	char *bad1[] = { "hal", "--initrd", "x", NULL };
	CHECK_EQ(config_parse(3, bad1, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--kernel"));
	char *bad2[] = { "hal", "--cpus", "0", NULL };
	CHECK_EQ(config_parse(3, bad2, &c, why, sizeof(why)), CONFIG_USAGE);
	char *bad3[] = { "hal", "--bogus", NULL };
	CHECK_EQ(config_parse(2, bad3, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--bogus"));
	char *bad4[] = { "hal", "--serial", "tcp:1", NULL };
	CHECK_EQ(config_parse(3, bad4, &c, why, sizeof(why)), CONFIG_USAGE);
	char *bad5[] = { "hal", "--kernel", NULL };
	CHECK_EQ(config_parse(2, bad5, &c, why, sizeof(why)), CONFIG_USAGE);
	char *menu[] = { "hal", "--boot-menu", "5", NULL };
	CHECK_EQ(config_parse(3, menu, &c, why, sizeof(why)), CONFIG_OK);
	CHECK_EQ(c.boot_menu_ms, 5000);
	char *sb_bios[] = { "hal", "--secure-boot", "--firmware", "bios", NULL };
	CHECK_EQ(config_parse(4, sb_bios, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--secure-boot needs --firmware ovmf"));
	char *sb_kernel[] = { "hal", "--secure-boot", "--kernel", "k", NULL };
	CHECK_EQ(config_parse(4, sb_kernel, &c, why, sizeof(why)), CONFIG_USAGE);
	char *sb[] = { "hal", "--secure-boot", NULL };
	CHECK_EQ(config_parse(2, sb, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(c.secure_boot && !strcmp(c.firmware, "auto"));
	char *menu_bad[] = { "hal", "--boot-menu", "61", NULL };
	CHECK_EQ(config_parse(3, menu_bad, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--boot-menu"));
	char *fw[] = { "hal", NULL };
	CHECK_EQ(config_parse(1, fw, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.firmware, "auto")); /* no kernel: the disk's label decides (main.c) */
	CHECK(!c.no_hpet);                  /* an HPET by default, as QEMU's pc */
	char *nohpet[] = { "hal", "--no-hpet", NULL };
	CHECK_EQ(config_parse(2, nohpet, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(c.no_hpet);
	char *fw2[] = { "hal", "--firmware", "bios", "--efivars", "x", NULL };
	CHECK_EQ(config_parse(5, fw2, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--efivars"));
	char *fw3[] = { "hal", "--disk", "d.img", "--efivars", "x", NULL }; /* auto: decided once the disk is read */
	CHECK_EQ(config_parse(5, fw3, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.firmware, "auto") && !strcmp(c.efivars, "x"));
	/* --efivars-dir is accepted whatever the firmware: init passes it blind */
	char *dir_bios[] = { "hal", "--firmware", "bios", "--efivars-dir", "/boot/hal/efivars", NULL };
	CHECK_EQ(config_parse(5, dir_bios, &c, why, sizeof(why)), CONFIG_OK);
	CHECK(!strcmp(c.efivars_dir, "/boot/hal/efivars") && !c.efivars);
	char *dir_kernel[] = { "hal", "--kernel", "k", "--efivars-dir", "d", NULL };
	CHECK_EQ(config_parse(5, dir_kernel, &c, why, sizeof(why)), CONFIG_OK);
	char *dir_empty[] = { "hal", "--efivars-dir", "", NULL };
	CHECK_EQ(config_parse(3, dir_empty, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--efivars-dir"));
	char *fw4[] = { "hal", "--kernel", "k", "--firmware", "auto", NULL };
	CHECK_EQ(config_parse(5, fw4, &c, why, sizeof(why)), CONFIG_USAGE);
}

int main(void)
{
	RUN(bzimage_rejects_what_is_not_one);
	RUN(boot_params_carry_cmdline_initrd_and_e820);
	RUN(entry_falls_back_to_32bit);
	RUN(loader_refuses_what_does_not_fit);
	RUN(memory_map_and_guest_pointer_checks);
	RUN(guest_ram_is_huge_page_backed);
	RUN(command_line_options);
	return 0;
}
