/* Port and MMIO dispatch: one table per address space, one handler signature.
 * Most ranges are registered before the vCPUs start; PCI BARs and the PM
 * block move when firmware programs them, so the tables sit behind a
 * read-write lock that vCPUs only ever take for reading. */
#include <string.h>

#include "core/hal.h"

#define MAX_RANGES 64

struct range {
	uint64_t base, len;
	io_fn *fn;
	void *dev;
};

static struct range ranges[2][MAX_RANGES];
static int nranges[2];
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;

int bus_register(enum bus_kind kind, uint64_t base, uint64_t len, io_fn *fn, void *dev)
{
	int ret = -1;
	if (!len || base + len < base)
		return -1;
	pthread_rwlock_wrlock(&lock);
	for (int i = 0; i < nranges[kind]; i++) {
		struct range *r = &ranges[kind][i];
		if (base < r->base + r->len && r->base < base + len) {
			err("%s range 0x%llx+0x%llx overlaps 0x%llx+0x%llx", kind == BUS_PIO ? "port" : "MMIO",
			    (unsigned long long)base, (unsigned long long)len, (unsigned long long)r->base,
			    (unsigned long long)r->len);
			goto out;
		}
	}
	if (nranges[kind] < MAX_RANGES) {
		ranges[kind][nranges[kind]++] = (struct range){ base, len, fn, dev };
		ret = 0;
	}
out:
	pthread_rwlock_unlock(&lock);
	return ret;
}

void bus_unregister(enum bus_kind kind, uint64_t base, void *dev)
{
	pthread_rwlock_wrlock(&lock);
	for (int i = 0; i < nranges[kind]; i++)
		if (ranges[kind][i].base == base && ranges[kind][i].dev == dev) {
			ranges[kind][i] = ranges[kind][--nranges[kind]];
			break;
		}
	pthread_rwlock_unlock(&lock);
}

void bus_unregister_all(void)
{
	pthread_rwlock_wrlock(&lock);
	nranges[0] = nranges[1] = 0;
	pthread_rwlock_unlock(&lock);
}

int bus_count(void)
{
	pthread_rwlock_rdlock(&lock);
	int n = nranges[0] + nranges[1];
	pthread_rwlock_unlock(&lock);
	return n;
}

bool bus_access(enum bus_kind kind, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	io_fn *fn = NULL;
	void *dev = NULL;
	pthread_rwlock_rdlock(&lock);
	for (int i = 0; i < nranges[kind]; i++) {
		struct range *r = &ranges[kind][i];
		if (addr >= r->base && addr - r->base < r->len) {
			fn = r->fn;
			dev = r->dev;
			break;
		}
	}
	pthread_rwlock_unlock(&lock);
	/* Handlers run outside the lock: one may move a range (a BAR, the PM
	 * block) while handling a config write. Device state is freed only after
	 * the vCPU threads are joined (main.c's undo_run), so a range removed
	 * meanwhile still points at valid state. */
	if (fn) {
		fn(dev, addr, data, len, is_write);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len); /* nothing there: the bus floats high */
	return false;
}
