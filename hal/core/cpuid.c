/* CPUID policy: start from what KVM supports, then describe our topology
 * (every vCPU a core of one socket, APIC ID = vCPU index) and the host's real
 * physical address width. */
#include <cpuid.h>
#include <linux/kvm.h>

#include "core/hal.h"

int host_phys_bits(void)
{
	unsigned a, b, c, d;
	if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000008 &&
	    __get_cpuid(0x80000008, &a, &b, &c, &d) && (a & 0xff) >= 32)
		return (int)(a & 0xff);
	return 36;
}

static int order(int n) /* bits needed for IDs 0..n-1 */
{
	int s = 0;
	while ((1 << s) < n)
		s++;
	return s;
}

void cpuid_fixup(struct kvm_cpuid2 *c, int cpu, int ncpus, int phys_bits)
{
	int shift = order(ncpus);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | ((uint32_t)cpu << 24) | ((uint32_t)ncpus << 16);
			e->ecx |= 1u << 31; /* hypervisor present */
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: EBX[23:16] is valid */
			break;
		case 4: { /* deterministic cache parameters (Intel) */
			uint32_t level = (e->eax >> 5) & 7;
			e->eax &= 0x3fff;
			if (e->eax & 0x1f) {
				e->eax |= (uint32_t)(ncpus - 1) << 26;
				if (level >= 3) /* last level is shared by the package */
					e->eax |= (uint32_t)(ncpus - 1) << 14;
			}
			break;
		}
		case 0xb:
		case 0x1f: /* extended topology: one thread per core, ncpus cores */
			e->edx = (uint32_t)cpu;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 0 | (1u << 8);
			} else if (e->index == 1) {
				e->eax = (uint32_t)shift;
				e->ebx = (uint32_t)ncpus;
				e->ecx = 1 | (2u << 8);
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000001:
			if (ncpus > 1)
				e->ecx |= 1u << 1; /* CmpLegacy */
			break;
		case 0x80000008:
			e->eax = (e->eax & ~0xffu) | (uint32_t)phys_bits;
			e->ecx = (e->ecx & ~0xf0ffu) | ((uint32_t)shift << 12) | (uint32_t)(ncpus - 1);
			break;
		case 0x8000001e: /* AMD topology extensions */
			e->eax = (uint32_t)cpu;
			e->ebx = (uint32_t)cpu & 0xff; /* core id, one thread per core */
			e->ecx = 0;
			break;
		}
	}
}
