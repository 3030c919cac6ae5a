/* Debug devices: QEMU's debugcon at 0x402 and hal's boot-marker port 0x440
 * (docs/guest-contract.md). Markers are timestamped from process start so
 * benchmarks and tests can see how far a guest got and when. */
#include <stdio.h>
#include <unistd.h>

#include "core/hal.h"
#include "hw/debug.h"

void debugcon_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct debugport *d = dev;
	if (!is_write) {
		data[0] = 0xe9; /* SeaBIOS checks this before it logs here */
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
		return;
	}
	if (d->debugcon_fd >= 0 && write(d->debugcon_fd, data, 1) < 0) {
		/* a closed log must not stop the guest */
	}
}

void marker_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct debugport *d = dev;
	if (!is_write) {
		for (uint32_t i = 0; i < len; i++)
			data[i] = i ? 0 : 'H';
		return;
	}
	uint32_t v = 0;
	for (uint32_t i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	uint64_t t = now_ns() - hal_start_ns;
	__atomic_add_fetch(&d->markers, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&d->last_marker, v, __ATOMIC_RELAXED);
	fprintf(stderr, "hal: marker 0x%02x at %llu.%03llu ms\r\n", v, (unsigned long long)(t / 1000000),
		(unsigned long long)(t / 1000 % 1000));
}
