/* Port and MMIO dispatch: one table per address space, one handler signature.
 * Registration happens before the vCPUs start; lookups afterwards are
 * lock-free because the tables never change while the guest runs. */
#include <string.h>

#include "hal.h"

#define MAX_RANGES 64

struct range {
	uint64_t base, len;
	io_fn *fn;
	void *dev;
};

static struct range ranges[2][MAX_RANGES];
static int nranges[2];

int bus_register(enum bus_kind kind, uint64_t base, uint64_t len, io_fn *fn, void *dev)
{
	if (!len || base + len < base || nranges[kind] == MAX_RANGES)
		return -1;
	for (int i = 0; i < nranges[kind]; i++) {
		struct range *r = &ranges[kind][i];
		if (base < r->base + r->len && r->base < base + len) {
			err("%s range 0x%llx+0x%llx overlaps 0x%llx+0x%llx", kind == BUS_PIO ? "port" : "MMIO",
			    (unsigned long long)base, (unsigned long long)len, (unsigned long long)r->base,
			    (unsigned long long)r->len);
			return -1;
		}
	}
	ranges[kind][nranges[kind]++] = (struct range){ base, len, fn, dev };
	return 0;
}

void bus_unregister_all(void)
{
	nranges[0] = nranges[1] = 0;
}

bool bus_access(enum bus_kind kind, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	for (int i = 0; i < nranges[kind]; i++) {
		struct range *r = &ranges[kind][i];
		if (addr >= r->base && addr - r->base < r->len) {
			r->fn(r->dev, addr, data, len, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, len); /* nothing there: the bus floats high */
	return false;
}
