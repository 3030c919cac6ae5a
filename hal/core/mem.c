/* Guest RAM: one anonymous mapping, the PC memory map, and the checked way in. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/hal.h"

#define HUGE_ALIGN (2 * MiB)

int mem_init(struct guest_mem *m, uint64_t ram_size)
{
	memset(m, 0, sizeof(*m));
	if (ram_size < 16 * MiB) {
		err("--mem %llu MiB is too small: hal needs at least 16 MiB", (unsigned long long)(ram_size >> 20));
		return -1;
	}
	m->ram_size = ram_size;
	m->low_end = ram_size < LOWMEM_LIMIT ? ram_size : LOWMEM_LIMIT;
	m->high_size = ram_size - m->low_end;

	/* Anonymous private memory, 2 MiB aligned, with transparent huge pages
	 * asked for (THP is "madvise" on Debian): KVM then maps the guest with
	 * 2 MiB pages, which a memfd (shmem, THP off by default) never got. Not
	 * inherited by a child (passt is started with fork + exec). */
	size_t len = (size_t)ram_size + HUGE_ALIGN;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		err("cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)(ram_size >> 20), strerror(errno));
		return -1;
	}
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + ram_size < p + len)
		munmap(a + ram_size, (size_t)(p + len - (a + ram_size)));
	m->base = a;
	madvise(m->base, ram_size, MADV_HUGEPAGE);
	madvise(m->base, ram_size, MADV_DONTFORK);

	/* The host mapping is contiguous; the guest sees three pieces: conventional
	 * memory, 0xC0000 up to the PCI hole (the VGA window 0xA0000-0xBFFFF stays
	 * unmapped for the display device), and what is left above 4 GiB. */
	m->regions[m->nregions++] = (struct mem_region){ 0, VGA_HOLE_START, m->base };
	m->regions[m->nregions++] = (struct mem_region){ ROM_START, m->low_end - ROM_START, m->base + ROM_START };
	if (m->high_size)
		m->regions[m->nregions++] = (struct mem_region){ HIGHMEM_BASE, m->high_size, m->base + m->low_end };
	return 0;
}

void mem_exit(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->ram_size);
	m->base = NULL;
}

void *gpa_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	/* gpa and len may come straight from the guest: check without overflow. */
	for (int i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

/* The map a direct-booted kernel sees. Firmware builds its own from fw_cfg. */
int mem_e820(const struct guest_mem *m, struct e820_entry *out, int max)
{
	struct e820_entry e[] = {
		{ 0, EBDA_START, E820_RAM },
		{ EBDA_START, VGA_HOLE_START - EBDA_START, E820_RESERVED },
		{ 0xE0000, HIMEM_START - 0xE0000, E820_RESERVED }, /* ACPI tables, BIOS area */
		{ HIMEM_START, m->low_end - HIMEM_START, E820_RAM },
		{ KVM_IDMAP_ADDR, 0x4000, E820_RESERVED },
		{ HIGHMEM_BASE, m->high_size, E820_RAM },
	};
	int n = 0;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		if (!e[i].size)
			continue;
		if (n == max)
			return -1;
		out[n++] = e[i];
	}
	return n;
}

/* The map firmware gets in fw_cfg "etc/e820": SeaBIOS and OVMF carve the
 * legacy holes out of low RAM themselves. */
int mem_e820_fw(const struct guest_mem *m, struct e820_entry *out, int max)
{
	struct e820_entry e[] = {
		{ 0, m->low_end, E820_RAM },
		{ KVM_IDMAP_ADDR, 0x4000, E820_RESERVED },
		{ HIGHMEM_BASE, m->high_size, E820_RAM },
	};
	int n = 0;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		if (e[i].size && n < max)
			out[n++] = e[i];
	return n;
}
