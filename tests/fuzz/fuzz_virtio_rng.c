/* virtio-rng over the virtio-pci transport: descriptor chains of any shape
 * filled from getrandom() under the token bucket, with a clock the input
 * moves. Operations (fuzz_virtio.h) and: 6 serve the queue
 * (virtio_rng_process), 7 the standard set-up with features from the
 * value and the queue size from the address, 8 the clock advances by the
 * value in ns. The first byte: 0 unlimited, else a rate of that many KiB/s. */
#include "fuzz_virtio.h"

static uint64_t clock_ns;
static uint64_t fz_now(void) { return clock_ns; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t k = fz_u(&f, 1);
	struct virtio_rng *r = virtio_rng_new(k ? k << 10 : RNG_UNLIMITED);
	if (!r)
		abort();
	struct guest_mem m;
	fz_ram(&m, FZ_RAM);
	clock_ns = 1000000000ULL;
	r->now = fz_now;
	r->last = clock_ns;
	r->vdev.mem = &m;
	r->vdev.signal_msi = fz_msi;
	r->vdev.ioeventfd = fz_ioeventfd;
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&f, &o, 2); n++) {
		if (fz_virtio_op(&f, &r->vdev, &m, &o))
			continue;
		switch (o.kind % 16) {
		case 6: {
			int w = virtio_rng_process(r);
			if (w < -1 || w > 1001)
				abort(); /* at most a second for one byte: the bucket's own bound */
			break;
		}
		case 7: fz_virtio_setup(&r->vdev, o.val, (uint16_t)(1u << (o.addr % 8))); break;
		case 8: clock_ns += o.val; break;
		}
	}
	virtio_rng_process(r);
	virtio_rng_free(r);
	fz_ram_free(&m);
	return 0;
}
