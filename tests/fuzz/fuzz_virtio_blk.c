/* virtio-blk over the virtio-pci transport: split virtqueues (descriptor
 * chains, indirect tables, event idx), every request type, against a
 * 64 KiB disk in memory (a memfd opened by path, as --disk opens files).
 * Operations (fuzz_virtio.h) and: 6 serve the queue (the I/O thread's
 * virtio_blk_process), 7 the standard set-up with features from the value
 * and the queue size from the address. The first byte: bit 0 opens the
 * disk read-only, bit 1 gives the device two request queues (F_MQ). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_virtio.h"

static char disk_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!disk_path[0]) {
		int fd = memfd_create("fuzz-disk", 0);
		if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
			abort();
		snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", fd);
	}
	struct fz f = { data, size };
	char spec[96], why[256];
	unsigned opts = (unsigned)fz_u(&f, 1);
	snprintf(spec, sizeof(spec), "%s%s", disk_path, opts & 1 ? ",ro" : ",serial=fuzz");
	struct virtio_blk *b = virtio_blk_new(spec, 0, opts & 2 ? 2 : 1, why, sizeof(why)); /* 2: VIRTIO_BLK_F_MQ */
	if (!b)
		abort();
	struct guest_mem m;
	fz_ram(&m, FZ_RAM);
	b->vdev.mem = &m;
	b->vdev.signal_msi = fz_msi;
	b->vdev.ioeventfd = fz_ioeventfd;
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&f, &o, 2); n++) {
		if (fz_virtio_op(&f, &b->vdev, &m, &o))
			continue;
		if (o.kind % 16 == 6)
			virtio_blk_process(b);
		else
			fz_virtio_setup(&b->vdev, o.val, (uint16_t)(1u << (o.addr % 8)));
	}
	virtio_blk_process(b);
	virtio_blk_free(b);
	fz_ram_free(&m);
	return 0;
}
