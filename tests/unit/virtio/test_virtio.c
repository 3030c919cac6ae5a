/* virtio-blk over the virtio-pci transport, driven like a guest would: rings
 * in real guest RAM (mem_init), registers through the BAR handlers, requests
 * served synchronously by virtio_blk_process against a temporary image. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "virtio/virtio.h"

#define DESC  0x10000ULL
#define AVAIL 0x11000ULL
#define USED  0x12000ULL
#define HDR   0x20000ULL
#define DATA  0x30000ULL
#define STAT  0x2f000ULL
#define IND   0x2e000ULL
#define QS    16
#define DISK  (1 * MiB)
#define BAD   0xf0000000ULL /* not guest RAM */

#define MOD virtio_modern_io
#define LEG virtio_legacy_io

static struct guest_mem m;
static char path[64];
static struct virtio_blk *b;
static uint16_t aidx, qsize, msis;
static uint64_t msi_addr;
static uint32_t msi_data;

static int fake_msi(uint64_t addr, uint32_t data)
{
	msis++;
	msi_addr = addr;
	msi_data = data;
	return 0;
}

static int fake_ioeventfd(uint64_t addr, uint32_t len, bool pio, int fd, bool assign) { return 0; }

static void *g(uint64_t gpa) { return gpa_ptr(&m, gpa, 1); }

static uint64_t rd(io_fn *fn, uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;
	fn(&b->vdev, off, d, len, false);
	memcpy(&v, d, len);
	return v;
}

static void wr(io_fn *fn, uint64_t off, uint64_t val, unsigned len)
{
	uint8_t d[8];
	memcpy(d, &val, 8);
	fn(&b->vdev, off, d, len, true);
}

static void open_disk(const char *opts)
{
	char spec[128], why[256];
	virtio_blk_free(b);
	snprintf(spec, sizeof(spec), "%s%s", path, opts);
	b = virtio_blk_new(spec, 0, 1, why, sizeof(why));
	if (!b) {
		printf("virtio_blk_new: %s\n", why);
		exit(1);
	}
	b->vdev.mem = &m;
	b->vdev.signal_msi = fake_msi;
	b->vdev.ioeventfd = fake_ioeventfd;
}

static void rings_clear(void)
{
	memset(g(DESC), 0, 0x3000);
	aidx = 0;
}

static void modern_setup(uint64_t feats)
{
	rings_clear();
	qsize = QS;
	wr(MOD, 0x14, 0, 1);
	wr(MOD, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER, 1);
	wr(MOD, 0x08, 0, 4);
	wr(MOD, 0x0c, (uint32_t)feats, 4);
	wr(MOD, 0x08, 1, 4);
	wr(MOD, 0x0c, feats >> 32, 4);
	wr(MOD, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK, 1);
	wr(MOD, 0x16, 0, 2);
	wr(MOD, 0x18, QS, 2);
	wr(MOD, 0x20, DESC, 8);
	wr(MOD, 0x28, AVAIL & 0xffffffff, 4); /* 32-bit halves, as some drivers do */
	wr(MOD, 0x2c, 0, 4);
	wr(MOD, 0x30, USED, 8);
	wr(MOD, 0x1c, 1, 2);
	wr(MOD, 0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK, 1);
}

static void desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = g(table + 16 * i);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t *avail(void) { return g(AVAIL); }
static uint16_t *used(void) { return g(USED); }

static void submit(uint16_t head)
{
	avail()[2 + aidx % qsize] = head;
	avail()[1] = ++aidx;
}

/* header, optional data, status: returns the status byte, *len the used length. */
static int req(uint32_t type, uint64_t sector, uint32_t len, bool device_writes, uint32_t *ulen)
{
	uint8_t *h = g(HDR);
	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*(uint8_t *)g(STAT) = 0xee;
	unsigned n = 0;
	desc(DESC, n, HDR, 16, VQ_DESC_F_NEXT, (uint16_t)(n + 1)), n++;
	if (len)
		desc(DESC, n, DATA, len, VQ_DESC_F_NEXT | (device_writes ? VQ_DESC_F_WRITE : 0), (uint16_t)(n + 1)), n++;
	desc(DESC, n, STAT, 1, VQ_DESC_F_WRITE, 0);
	uint16_t before = used()[1];
	submit(0);
	virtio_blk_process(b);
	if (used()[1] != (uint16_t)(before + 1))
		return -1;
	uint32_t *e = (uint32_t *)(used() + 2) + 2 * (before % qsize);
	if (ulen)
		*ulen = e[1];
	return *(uint8_t *)g(STAT);
}

static void test_identity(void)
{
	open_disk("");
	uint8_t *c = b->vdev.pci.cfg;
	CHECK_EQ(c[0] | c[1] << 8, 0x1af4);
	CHECK_EQ(c[2] | c[3] << 8, 0x1001);
	CHECK_EQ(c[0x2e] | c[0x2f] << 8, 2);
	CHECK_EQ(c[0x0b], 1);
	CHECK_EQ(c[0x3d], 1);
	unsigned types = 0, msix = 0;
	for (unsigned at = c[0x34], n = 0; at && n < 16; at = c[at + 1], n++) {
		if (c[at] == 0x09)
			types |= 1u << c[at + 3];
		if (c[at] == 0x11)
			msix = at;
	}
	CHECK_EQ(types, 0x3e); /* common, notify, isr, device, pci_cfg */
	CHECK(msix);
	CHECK_EQ(b->vdev.pci.bar[0].size, 0x80);
	CHECK_EQ(b->vdev.pci.bar[4].flags, PCI_BAR_MEM | PCI_BAR_64 | PCI_BAR_PREFETCH);
}

static void test_modern_regs(void)
{
	open_disk("");
	wr(MOD, 0x00, 1, 4);
	CHECK_EQ(rd(MOD, 0x04, 4), 1); /* VERSION_1 */
	wr(MOD, 0x00, 0, 4);
	uint32_t f = (uint32_t)rd(MOD, 0x04, 4);
	CHECK(f & (1u << 29));
	CHECK(f & (1u << 13));
	CHECK(!(f & (1u << 5)));
	CHECK(!(f & (1u << 12)));             /* one queue: no F_MQ */
	CHECK_EQ(rd(MOD, 0x12, 2), 1);        /* num_queues */
	CHECK_EQ(rd(MOD, 0x18, 2), 128);      /* queue_size max */
	/* FEATURES_OK refused without VERSION_1 */
	wr(MOD, 0x14, 3, 1);
	wr(MOD, 0x0c, f, 4);
	wr(MOD, 0x14, 3 | VIRTIO_S_FEATURES_OK, 1);
	CHECK_EQ(rd(MOD, 0x14, 1), 3);
	/* ... and refused with a feature we never offered */
	wr(MOD, 0x08, 1, 4);
	wr(MOD, 0x0c, 1 | 2, 4);
	wr(MOD, 0x14, 3 | VIRTIO_S_FEATURES_OK, 1);
	CHECK_EQ(rd(MOD, 0x14, 1), 3);
	wr(MOD, 0x18, 100, 2); /* not a power of two: ignored */
	CHECK_EQ(rd(MOD, 0x18, 2), 128);
	wr(MOD, 0x18, 256, 2); /* above the maximum: ignored */
	CHECK_EQ(rd(MOD, 0x18, 2), 128);
	wr(MOD, 0x16, 5, 2);   /* no such queue */
	CHECK_EQ(rd(MOD, 0x18, 2), 0);
	modern_setup(VIRTIO_F_VERSION_1);
	CHECK_EQ(rd(MOD, 0x14, 1), 15);
	CHECK_EQ(rd(MOD, 0x20, 8), DESC);
	CHECK_EQ(rd(MOD, 0x28, 8), AVAIL);
	CHECK_EQ(rd(MOD, 0x1c, 2), 1);
	wr(MOD, 0x20, 0x5000, 8); /* frozen while enabled */
	CHECK_EQ(rd(MOD, 0x20, 8), DESC);
	CHECK_EQ(rd(MOD, 0x2000, 8), DISK / 512); /* capacity */
	CHECK_EQ(rd(MOD, 0x2000 + 20, 4), 512);   /* blk_size */
	CHECK_EQ(rd(MOD, 0x2000 + 40, 4), 1);     /* max_discard_seg */
	wr(MOD, 0x14, 0, 1); /* reset */
	CHECK_EQ(rd(MOD, 0x14, 1), 0);
	CHECK_EQ(rd(MOD, 0x1c, 2), 0);
	CHECK_EQ(rd(MOD, 0x20, 8), 0);
	wr(MOD, 0x08, 0, 4);
	CHECK_EQ(rd(MOD, 0x0c, 4), 0);
}

static void test_legacy_regs(void)
{
	open_disk(",serial=legacy");
	CHECK_EQ(rd(LEG, 0, 4), (uint32_t)b->vdev.host_features); /* VERSION_1 is bit 32 */
	CHECK_EQ(rd(LEG, 0x0c, 2), 128);
	CHECK_EQ(rd(LEG, 0x14, 8), DISK / 512); /* config at 20 without MSI-X */
	CHECK_EQ(rd(LEG, 0x14 + 20, 4), 512);
	rings_clear();
	memset(g(0x40000), 0, 0x2000);
	wr(LEG, 0x12, 3, 1);
	wr(LEG, 0x04, 0xffffffff, 4);
	CHECK_EQ(rd(LEG, 0x04, 4), (uint32_t)b->vdev.host_features);
	wr(LEG, 0x04, 0, 4); /* SeaBIOS: no features */
	wr(LEG, 0x0e, 0, 2);
	wr(LEG, 0x08, 0x40000 >> 12, 4);
	CHECK_EQ(rd(LEG, 0x08, 4), 0x40);
	CHECK(b->vdev.vq[0].ready);
	CHECK_EQ(b->vdev.vq[0].avail, 0x40000 + 16 * 128);
	CHECK_EQ(b->vdev.vq[0].used, 0x40000 + 0x1000);
	wr(LEG, 0x12, 7, 1);
	/* A GET_ID request through the legacy rings; SeaBIOS keeps private data
	 * where avail_event would be: it must survive. */
	uint16_t *av = g(0x40000 + 16 * 128), *us = g(0x41000);
	us[2 + 4 * 128] = 0x5a5a;
	uint32_t t = VIRTIO_BLK_T_GET_ID;
	memset(g(HDR), 0, 16);
	memcpy(g(HDR), &t, 4);
	desc(0x40000, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(0x40000, 1, DATA, 20, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	desc(0x40000, 2, STAT, 1, VQ_DESC_F_WRITE, 0);
	av[2] = 0;
	av[1] = 1;
	wr(LEG, 0x10, 0, 2); /* notify without ioeventfd: wakes nobody in tests */
	virtio_blk_process(b);
	CHECK_EQ(us[1], 1);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_OK);
	CHECK(!memcmp(g(DATA), "legacy\0", 7));
	CHECK_EQ(us[2 + 4 * 128], 0x5a5a);
	/* INTx: ISR bit 0 and the line; reading ISR clears both */
	CHECK_EQ(b->vdev.pci.irq_level, 1);
	CHECK_EQ(rd(LEG, 0x13, 1), 1);
	CHECK_EQ(b->vdev.pci.irq_level, 0);
	CHECK_EQ(rd(LEG, 0x13, 1), 0);
	wr(LEG, 0x12, 0, 1);
	CHECK(!b->vdev.vq[0].ready);
}

static void test_io(void)
{
	open_disk("");
	modern_setup(VIRTIO_F_VERSION_1 | (1ULL << 13) | (1ULL << 14) | (1ULL << 9));
	uint32_t ul = 0;
	uint8_t buf[4096];
	memset(g(DATA), 0xab, 4096);
	CHECK_EQ(req(VIRTIO_BLK_T_OUT, 8, 4096, false, &ul), VIRTIO_BLK_S_OK);
	CHECK_EQ(ul, 1);
	int fd = open(path, O_RDONLY);
	CHECK(pread(fd, buf, 4096, 8 * 512) == 4096);
	CHECK(buf[0] == 0xab && buf[4095] == 0xab);
	memset(g(DATA), 0, 4096);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, 8, 4096, true, &ul), VIRTIO_BLK_S_OK);
	CHECK_EQ(ul, 4097);
	CHECK(!memcmp(g(DATA), buf, 4096));
	CHECK_EQ(req(VIRTIO_BLK_T_FLUSH, 0, 0, false, &ul), VIRTIO_BLK_S_OK);
	CHECK_EQ(req(VIRTIO_BLK_T_GET_ID, 0, 20, true, &ul), VIRTIO_BLK_S_OK);
	CHECK_EQ(ul, 21);
	CHECK(!memcmp(g(DATA), "hal-disk0", 10));
	/* WRITE_ZEROES sectors 8..9, DISCARD 10..15 */
	uint64_t seg[2] = { 8, 2 };
	memcpy(g(DATA), seg, 16);
	CHECK_EQ(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &ul), VIRTIO_BLK_S_OK);
	seg[0] = 10, seg[1] = 6;
	memcpy(g(DATA), seg, 16);
	CHECK_EQ(req(VIRTIO_BLK_T_DISCARD, 0, 16, false, &ul), VIRTIO_BLK_S_OK);
	CHECK(pread(fd, buf, 1024, 8 * 512) == 1024); /* discard need not zero */
	for (int i = 0; i < 1024; i++)
		CHECK_EQ(buf[i], 0);
	seg[1] = (uint64_t)1 << 32 | 2; /* flags 1 on a discard */
	memcpy(g(DATA), seg, 16);
	CHECK_EQ(req(VIRTIO_BLK_T_DISCARD, 0, 16, false, &ul), VIRTIO_BLK_S_UNSUPP);
	seg[0] = DISK / 512 - 1, seg[1] = 2; /* past the end */
	memcpy(g(DATA), seg, 16);
	CHECK_EQ(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, &ul), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(VIRTIO_BLK_T_DISCARD, 0, 32, false, &ul), VIRTIO_BLK_S_UNSUPP); /* 2 segments */
	close(fd);
	/* errors */
	CHECK_EQ(req(VIRTIO_BLK_T_IN, DISK / 512 - 1, 1024, true, &ul), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(ul, 1);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, DISK / 512 - 1, 512, true, &ul), VIRTIO_BLK_S_OK);
	CHECK_EQ(req(VIRTIO_BLK_T_OUT, ~0ULL, 512, false, &ul), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, 0, 100, true, &ul), VIRTIO_BLK_S_IOERR); /* not whole sectors */
	CHECK_EQ(req(99, 0, 0, false, &ul), VIRTIO_BLK_S_UNSUPP);
	CHECK(!b->vdev.broken);
}

static void test_readonly(void)
{
	open_disk(",ro");
	CHECK(b->vdev.host_features & (1u << 5));
	CHECK(!(b->vdev.host_features & (1u << 13)));
	modern_setup(VIRTIO_F_VERSION_1 | (1u << 5));
	CHECK_EQ(req(VIRTIO_BLK_T_OUT, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	uint64_t seg[2] = { 0, 1 };
	memcpy(g(DATA), seg, 16);
	CHECK_EQ(req(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
}

/* The host fails requests the guest made right (the image shrank under
 * hal, as when a disk goes away): IOERR each time, counted as host errors;
 * the guest's own bad requests and writes to a read-only disk are not. */
static void test_host_error(void)
{
	open_disk("");
	modern_setup(VIRTIO_F_VERSION_1);
	CHECK_EQ(req(VIRTIO_BLK_T_OUT, ~0ULL, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(b->host_errors, 0);
	CHECK_EQ(truncate(path, 4096), 0);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, 0, 512, true, NULL), VIRTIO_BLK_S_OK); /* before the new end */
	CHECK_EQ(req(VIRTIO_BLK_T_IN, DISK / 512 - 1, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, DISK / 512 - 2, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(b->host_errors, 2);
	CHECK(!b->vdev.broken);
	CHECK_EQ(truncate(path, DISK), 0);
	CHECK_EQ(req(VIRTIO_BLK_T_IN, DISK / 512 - 1, 512, true, NULL), VIRTIO_BLK_S_OK); /* back */
	open_disk(",ro");
	modern_setup(VIRTIO_F_VERSION_1 | (1u << 5));
	CHECK_EQ(req(VIRTIO_BLK_T_OUT, 0, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(b->host_errors, 0);
}

/* Request failed, device fine. */
static void test_bad_request(void)
{
	open_disk("");
	modern_setup(VIRTIO_F_VERSION_1);
	/* data buffer outside RAM */
	desc(DESC, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(DESC, 1, BAD, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	desc(DESC, 2, STAT, 1, VQ_DESC_F_WRITE, 0);
	submit(0);
	virtio_blk_process(b);
	CHECK_EQ(used()[1], 1);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_IOERR);
	/* readable after writable */
	desc(DESC, 0, STAT, 1, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 1);
	desc(DESC, 1, HDR, 16, VQ_DESC_F_NEXT, 2);
	desc(DESC, 2, STAT, 1, VQ_DESC_F_WRITE, 0);
	*(uint8_t *)g(STAT) = 0;
	submit(0);
	virtio_blk_process(b);
	CHECK_EQ(used()[1], 2);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_IOERR);
	/* lengths summing past 4 GiB, all in RAM by address but not by length */
	desc(DESC, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(DESC, 1, DATA, 0xffffffff, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	desc(DESC, 2, DATA, 0xffffffff, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 3);
	desc(DESC, 3, STAT, 1, VQ_DESC_F_WRITE, 0);
	submit(0);
	virtio_blk_process(b);
	CHECK_EQ(used()[1], 3);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_IOERR);
	/* no writable status at all: completed with length 0 */
	desc(DESC, 0, HDR, 16, 0, 0);
	submit(0);
	virtio_blk_process(b);
	CHECK_EQ(used()[1], 4);
	CHECK_EQ(((uint32_t *)(used() + 2))[2 * 3 + 1], 0);
	/* header too short */
	desc(DESC, 0, HDR, 8, VQ_DESC_F_NEXT, 1);
	desc(DESC, 1, STAT, 1, VQ_DESC_F_WRITE, 0);
	submit(0);
	virtio_blk_process(b);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_IOERR);
	CHECK(!b->vdev.broken);
}

/* Ring corruption: NEEDS_RESET, a config interrupt, and a reset recovers. */
static bool broken_after(void (*setup)(void))
{
	modern_setup(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT);
	b->vdev.pci.irq_level = 0;
	setup();
	virtio_blk_process(b);
	bool ok = b->vdev.broken && (rd(MOD, 0x14, 1) & VIRTIO_S_NEEDS_RESET) && rd(MOD, 0x1000, 1) == 2;
	modern_setup(VIRTIO_F_VERSION_1);
	return ok && !b->vdev.broken && req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL) == VIRTIO_BLK_S_OK;
}

static void loop(void)
{
	desc(DESC, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(DESC, 1, DATA, 16, VQ_DESC_F_NEXT, 0);
	submit(0);
}
static void next_range(void)
{
	desc(DESC, 0, HDR, 16, VQ_DESC_F_NEXT, QS);
	submit(0);
}
static void head_range(void) { submit(QS); }
static void idx_jump(void)
{
	desc(DESC, 0, STAT, 1, VQ_DESC_F_WRITE, 0);
	avail()[1] = QS + 1;
}
static void ring_outside(void)
{
	b->vdev.vq[0].avail = BAD;
	submit(0);
}
static void nested_indirect(void)
{
	desc(DESC, 0, IND, 32, VQ_DESC_F_INDIRECT, 0);
	desc(IND, 0, IND, 16, VQ_DESC_F_INDIRECT, 0);
	submit(0);
}
static void indirect_len(void)
{
	desc(DESC, 0, IND, 24, VQ_DESC_F_INDIRECT, 0);
	submit(0);
}
static void indirect_outside(void)
{
	desc(DESC, 0, BAD, 48, VQ_DESC_F_INDIRECT, 0);
	submit(0);
}
static void indirect_loop(void)
{
	desc(DESC, 0, IND, 32, VQ_DESC_F_INDIRECT, 0);
	desc(IND, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(IND, 1, HDR, 16, VQ_DESC_F_NEXT, 0);
	submit(0);
}

static void test_broken(void)
{
	open_disk("");
	CHECK(broken_after(loop));
	CHECK(broken_after(next_range));
	CHECK(broken_after(head_range));
	CHECK(broken_after(idx_jump));
	CHECK(broken_after(ring_outside));
	CHECK(broken_after(nested_indirect));
	CHECK(broken_after(indirect_len));
	CHECK(broken_after(indirect_outside));
	CHECK(broken_after(indirect_loop));
}

static void test_indirect(void)
{
	open_disk("");
	modern_setup(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT);
	uint32_t t = VIRTIO_BLK_T_IN;
	uint64_t sector = 8;
	memcpy(g(HDR), &t, 4);
	memcpy((uint8_t *)g(HDR) + 8, &sector, 8);
	desc(IND, 0, HDR, 16, VQ_DESC_F_NEXT, 1);
	desc(IND, 1, DATA, 256, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
	desc(IND, 2, DATA + 256, 256, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 3);
	desc(IND, 3, STAT, 1, VQ_DESC_F_WRITE, 0);
	desc(DESC, 5, IND, 64, VQ_DESC_F_INDIRECT, 0);
	submit(5);
	virtio_blk_process(b);
	CHECK_EQ(used()[1], 1);
	CHECK_EQ(((uint32_t *)(used() + 2))[0], 5);
	CHECK_EQ(((uint32_t *)(used() + 2))[1], 513);
	CHECK_EQ(*(uint8_t *)g(STAT), VIRTIO_BLK_S_OK);
	/* not negotiated: a malformed ring */
	modern_setup(VIRTIO_F_VERSION_1);
	desc(DESC, 5, IND, 64, VQ_DESC_F_INDIRECT, 0);
	submit(5);
	virtio_blk_process(b);
	CHECK(b->vdev.broken);
}

static void test_event_idx(void)
{
	open_disk("");
	modern_setup(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX);
	uint16_t *used_event = &avail()[2 + QS], *avail_event = &used()[2 + 4 * QS];
	*used_event = 5; /* interrupt when used idx passes 5 */
	CHECK_EQ(req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), 0);
	CHECK_EQ(*avail_event, 1); /* the device publishes where it is */
	CHECK_EQ(b->vdev.pci.irq_level, 0);
	for (int i = 0; i < 4; i++)
		req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(b->vdev.pci.irq_level, 0); /* used idx now 5 */
	req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(b->vdev.pci.irq_level, 1); /* crossed 5 -> 6 */
	CHECK_EQ(*avail_event, 6);
	rd(MOD, 0x1000, 1);
	/* without EVENT_IDX: NO_INTERRUPT flag, avail_event untouched */
	modern_setup(VIRTIO_F_VERSION_1);
	avail_event = &used()[2 + 4 * QS];
	*avail_event = 0x1234;
	avail()[0] = VQ_AVAIL_F_NO_INTERRUPT;
	req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(b->vdev.pci.irq_level, 0);
	avail()[0] = 0;
	req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(b->vdev.pci.irq_level, 1);
	CHECK_EQ(*avail_event, 0x1234);
}

static void test_msix(void)
{
	open_disk("");
	struct pci_dev *d = &b->vdev.pci;
	unsigned cap = b->vdev.msix_cap;
	uint8_t on[2] = { 1, 0x80 };
	pci_cfg_write(d, cap + 2, on, 2);
	modern_setup(VIRTIO_F_VERSION_1);
	wr(MOD, 0x1a, 1, 2); /* queue 0 -> vector 1 */
	CHECK_EQ(rd(MOD, 0x1a, 2), 1);
	wr(MOD, 0x10, 7, 2); /* no such vector: reads back NO_VECTOR */
	CHECK_EQ(rd(MOD, 0x10, 2), VIRTIO_NO_VECTOR);
	wr(virtio_msix_io, 16, 0xfee00000, 4);
	wr(virtio_msix_io, 20, 0, 4);
	wr(virtio_msix_io, 24, 0x41, 4);
	msis = 0;
	CHECK_EQ(req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL), 0);
	CHECK_EQ(msis, 0); /* vector masked: pending */
	CHECK_EQ(rd(virtio_msix_io, 0x800, 4), 2);
	CHECK_EQ(d->irq_level, 0);
	wr(virtio_msix_io, 28, 0, 4); /* unmask */
	CHECK_EQ(msis, 1);
	CHECK_EQ(msi_addr, 0xfee00000);
	CHECK_EQ(msi_data, 0x41);
	CHECK_EQ(rd(virtio_msix_io, 0x800, 4), 0);
	req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(msis, 2);
	uint8_t maskall[1] = { 0xc0 };
	pci_cfg_write(d, cap + 3, maskall, 1);
	req(VIRTIO_BLK_T_FLUSH, 0, 0, false, NULL);
	CHECK_EQ(msis, 2);
	pci_cfg_write(d, cap + 3, on + 1, 1); /* function unmask delivers */
	CHECK_EQ(msis, 3);
	CHECK_EQ(rd(LEG, 0x14, 2), VIRTIO_NO_VECTOR); /* legacy: MSI-X vectors at 20 */
	CHECK_EQ(rd(LEG, 0x18, 8), DISK / 512);     /* and config at 24 */
}

static void test_pci_cfg_window(void)
{
	open_disk("");
	struct pci_dev *d = &b->vdev.pci;
	unsigned c = b->vdev.pcicfg_cap;
	uint8_t bar = 4, data[4];
	uint32_t off = 0x12, len = 2;
	pci_cfg_write(d, c + 4, &bar, 1);
	pci_cfg_write(d, c + 8, (uint8_t *)&off, 4);
	pci_cfg_write(d, c + 12, (uint8_t *)&len, 4);
	pci_cfg_read(d, c + 16, data, 2);
	CHECK_EQ(data[0] | data[1] << 8, 1); /* num_queues */
	off = 0x14, len = 1; /* write status through the window */
	pci_cfg_write(d, c + 8, (uint8_t *)&off, 4);
	pci_cfg_write(d, c + 12, (uint8_t *)&len, 4);
	data[0] = 3;
	pci_cfg_write(d, c + 16, data, 1);
	CHECK_EQ(b->vdev.status, 3);
	b->vdev.isr = 1; /* ISR read-clear through the window */
	off = 0x1000;
	pci_cfg_write(d, c + 8, (uint8_t *)&off, 4);
	pci_cfg_write(d, c + 12, (uint8_t *)&len, 4);
	pci_cfg_read(d, c + 16, data, 1);
	CHECK_EQ(data[0], 1);
	CHECK_EQ(b->vdev.isr, 0);
	/* No BAR 9: the data written stays in the window, nothing is accessed. */
	const uint8_t sentinel[4] = { 0xa5, 0xa5, 0xa5, 0xa5 };
	bar = 9;
	len = 4;
	off = 0x14;
	pci_cfg_write(d, c + 4, &bar, 1);
	pci_cfg_write(d, c + 8, (uint8_t *)&off, 4);
	pci_cfg_write(d, c + 12, (uint8_t *)&len, 4);
	pci_cfg_write(d, c + 16, sentinel, 4);
	CHECK_EQ(b->vdev.status, 3);
	pci_cfg_read(d, c + 16, data, 4);
	CHECK(!memcmp(data, sentinel, 4));
	/* Past the BAR's end, wrapping around, misaligned over the status byte:
	 * a read leaves the window's data alone, a write changes nothing. */
	const uint32_t bad[] = { 0x4000 - 2, 0xfffffffc, 0x13 };
	bar = 4;
	pci_cfg_write(d, c + 4, &bar, 1);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		off = bad[i];
		pci_cfg_write(d, c + 8, (uint8_t *)&off, 4);
		pci_cfg_write(d, c + 16, sentinel, 4); /* a write */
		CHECK_EQ(b->vdev.status, 3);
		pci_cfg_write(d, c + 12, (uint8_t *)&len, 4); /* a read */
		pci_cfg_read(d, c + 16, data, 4);
		CHECK(!memcmp(data, sentinel, 4));
		const uint8_t zero[4] = { 0 };
		pci_cfg_write(d, c + 16, zero, 4); /* a write */
		CHECK_EQ(b->vdev.status, 3);
	}
}

/* The real thing: virtio_blk_create, the I/O thread woken by a notify that
 * reached the BAR handler, several requests in one kick. */
static void test_thread(void)
{
	static struct vm fake;
	fake.mem = m;
	the_vm = &fake;
	char why[256];
	static struct disk td;
	CHECK_EQ(disk_open(&td, path, why, sizeof(why)), 0);
	CHECK_EQ(virtio_blk_create(&td, 5, 1, why, sizeof(why)), 0);
	CHECK(virtio_blk_create(&td, 5, 1, why, sizeof(why)) < 0 && strstr(why, "slot 5"));
	CHECK(td.fd >= 0); /* the failed create leaves the borrowed disk open */
	struct pci_dev *d = pci_find(5, 0);
	CHECK(d);
	struct virtio_blk *mine = b;
	b = (struct virtio_blk *)d->priv;
	b->vdev.signal_msi = fake_msi;
	b->vdev.ioeventfd = fake_ioeventfd;
	modern_setup(VIRTIO_F_VERSION_1);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t hdr = HDR + 16 * i, sector = i;
		memset(g(hdr), 0, 16);
		memcpy((uint8_t *)g(hdr) + 8, &sector, 8);
		*(uint8_t *)g(STAT + i) = 0xee;
		desc(DESC, 3 * i, hdr, 16, VQ_DESC_F_NEXT, (uint16_t)(3 * i + 1));
		desc(DESC, 3 * i + 1, DATA + 512 * i, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, (uint16_t)(3 * i + 2));
		desc(DESC, 3 * i + 2, STAT + i, 1, VQ_DESC_F_WRITE, 0);
		submit((uint16_t)(3 * i));
	}
	wr(MOD, 0x3000, 0, 2);
	for (int t = 0; t < 2000 && __atomic_load_n(&used()[1], __ATOMIC_ACQUIRE) != 4; t++)
		usleep(1000);
	CHECK_EQ(used()[1], 4);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(*(uint8_t *)g(STAT + i), VIRTIO_BLK_S_OK);
	CHECK_EQ(rd(MOD, 0x1000, 1), 1);
	virtio_blk_destroy_all();
	CHECK(td.fd >= 0); /* still the caller's */
	disk_close(&td);
	pci_reset_bus();
	the_vm = NULL;
	b = mine;
}

/* A guest reset frees the virtio-blk and makes a new one over the same open
 * disk (pc_open_disks): the snapshot layer keeps the guest's writes across
 * it, the image is still not written, and freeing a device that borrowed
 * the disk does not close it. */
static void test_reset_keeps_snapshot(void)
{
	char spec[128], why[256];
	uint8_t before[512], after[512];
	int fd = open(path, O_RDONLY);
	CHECK(pread(fd, before, 512, 20 * 512) == 512);
	static struct disk sd;
	snprintf(spec, sizeof(spec), "%s,snapshot", path);
	CHECK_EQ(disk_open(&sd, spec, why, sizeof(why)), 0);
	struct virtio_blk *mine = b;
	for (int boot = 0; boot < 2; boot++) {
		b = virtio_blk_new_disk(&sd, 0, 1, why, sizeof(why));
		CHECK(b != NULL);
		b->vdev.mem = &m;
		b->vdev.signal_msi = fake_msi;
		b->vdev.ioeventfd = fake_ioeventfd;
		modern_setup(VIRTIO_F_VERSION_1);
		memset(g(DATA), 0, 512);
		CHECK_EQ(req(VIRTIO_BLK_T_IN, 20, 512, true, NULL), VIRTIO_BLK_S_OK);
		uint8_t want = boot ? 0x5a : before[0];
		CHECK_EQ(*(uint8_t *)g(DATA), want); /* boot 1 reads what boot 0 wrote */
		if (!boot) {
			memset(g(DATA), 0x5a, 512);
			CHECK_EQ(req(VIRTIO_BLK_T_OUT, 20, 512, false, NULL), VIRTIO_BLK_S_OK);
		}
		virtio_blk_free(b);
		CHECK(sd.snap != NULL); /* the layer outlives the device */
	}
	b = mine;
	CHECK(pread(fd, after, 512, 20 * 512) == 512);
	CHECK(!memcmp(before, after, 512)); /* the image never saw the write */
	CHECK(before[0] != 0x5a);
	disk_close(&sd);
	close(fd);
}

/* A batch of 16 requests (indirect chains) on an NBD disk served by
 * qemu-nbd over the same image: the reads are in flight together, the
 * write in the middle waits for the reads before it, every chain is used
 * once with the right length and status, every read has the file's bytes. */
static void test_nbd_batch(void)
{
	if (access("/usr/bin/qemu-nbd", X_OK)) {
		printf("SKIP test_nbd_batch: no /usr/bin/qemu-nbd (apt-get install qemu-utils)\n");
		return;
	}
	enum { N = 16, W = 7, IND2 = 0x2d000 };
	static uint8_t img[DISK];
	for (unsigned i = 0; i < DISK; i++)
		img[i] = (uint8_t)(i * 7 + (i >> 9));
	int fd = open(path, O_RDWR);
	CHECK(pwrite(fd, img, DISK, 0) == DISK);
	char sock[96], pidf[96], pidopt[110], spec[160], why[256];
	snprintf(sock, sizeof(sock), "%s.sock", path);
	snprintf(pidf, sizeof(pidf), "%s.pid", path);
	snprintf(pidopt, sizeof(pidopt), "--pid-file=%s", pidf);
	unlink(pidf);
	pid_t srv = fork();
	if (srv == 0) {
		execl("/usr/bin/qemu-nbd", "qemu-nbd", "-t", "-f", "raw", "-x", "exp", "--socket", sock, pidopt, path,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(pidf, F_OK); i++)
		usleep(10000);
	static struct disk nd;
	snprintf(spec, sizeof(spec), "nbd+unix:///exp?socket=%s,reconnect=5", sock);
	int r = disk_open(&nd, spec, why, sizeof(why));
	if (r)
		printf("  %s\n", why);
	CHECK_EQ(r, 0);
	struct virtio_blk *mine = b;
	b = virtio_blk_new_disk(&nd, 0, 1, why, sizeof(why));
	CHECK(b != NULL);
	b->vdev.mem = &m;
	b->vdev.signal_msi = fake_msi;
	b->vdev.ioeventfd = fake_ioeventfd;
	modern_setup(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT);
	for (unsigned i = 0; i < N; i++) {
		uint32_t t = i == W ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
		uint64_t sector = i * 16 + 3;
		memset(g(HDR + 16 * i), 0, 16);
		memcpy(g(HDR + 16 * i), &t, 4);
		memcpy((uint8_t *)g(HDR + 16 * i) + 8, &sector, 8);
		memset(g(DATA + 4096 * i), i == W ? 0x5a : 0xee, 4096);
		*(uint8_t *)g(STAT + i) = 0xee;
		desc(IND2 + 64 * i, 0, HDR + 16 * i, 16, VQ_DESC_F_NEXT, 1);
		desc(IND2 + 64 * i, 1, DATA + 4096 * i, 4096, VQ_DESC_F_NEXT | (i == W ? 0 : VQ_DESC_F_WRITE), 2);
		desc(IND2 + 64 * i, 2, STAT + i, 1, VQ_DESC_F_WRITE, 0);
		desc(DESC, i, IND2 + 64 * i, 48, VQ_DESC_F_INDIRECT, 0);
		submit((uint16_t)i);
	}
	virtio_blk_process(b);
	CHECK_EQ(used()[1], N);
	unsigned seen = 0;
	for (unsigned k = 0; k < N; k++) {
		uint32_t *e = (uint32_t *)(used() + 2) + 2 * k;
		CHECK(e[0] < N);
		seen |= 1u << e[0];
		CHECK_EQ(e[1], e[0] == W ? 1 : 4097);
		if (k == W)
			CHECK_EQ(e[0], W); /* the reads before it were all done first */
	}
	CHECK_EQ(seen, (1u << N) - 1);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(*(uint8_t *)g(STAT + i), VIRTIO_BLK_S_OK);
		if (i != W)
			CHECK(!memcmp(g(DATA + 4096 * i), img + (i * 16 + 3) * 512, 4096));
	}
	uint8_t back[4096];
	CHECK(pread(fd, back, 4096, (W * 16 + 3) * 512) == 4096);
	CHECK(back[0] == 0x5a && back[4095] == 0x5a);
	CHECK(!b->vdev.broken);
	virtio_blk_free(b);
	b = mine;
	disk_close(&nd);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	unlink(sock);
	unlink(pidf);
	CHECK(ftruncate(fd, 0) == 0 && ftruncate(fd, DISK) == 0);
	close(fd);
}

/* A batch of 16 on a file with its queue started (virtio_blk_create does
 * it): reads and writes in flight together on the workers, a flush in the
 * middle that completes only after every request before it, each chain
 * used once with its length and status, the reads with the file's bytes
 * and the writes in the file. */
static void test_file_batch(void)
{
	enum { N = 16, F = 7, IND2 = 0x2d000 };
	static uint8_t img[DISK];
	for (unsigned i = 0; i < DISK; i++)
		img[i] = (uint8_t)(i * 11 + (i >> 9));
	int fd = open(path, O_RDWR);
	CHECK(pwrite(fd, img, DISK, 0) == DISK);
	char why[256];
	open_disk("");
	CHECK_EQ(disk_start_queue(b->disk, why, sizeof(why)), 0);
	modern_setup(VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT);
	for (unsigned i = 0; i < N; i++) {
		bool w = i % 3 == 1;
		uint32_t t = i == F ? VIRTIO_BLK_T_FLUSH : w ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
		uint64_t sector = i * 16 + 5;
		memset(g(HDR + 16 * i), 0, 16);
		memcpy(g(HDR + 16 * i), &t, 4);
		memcpy((uint8_t *)g(HDR + 16 * i) + 8, &sector, 8);
		memset(g(DATA + 4096 * i), w ? 0x60 + (int)i : 0xee, 4096);
		*(uint8_t *)g(STAT + i) = 0xee;
		unsigned k = 0;
		desc(IND2 + 64 * i, k, HDR + 16 * i, 16, VQ_DESC_F_NEXT, (uint16_t)(k + 1)), k++;
		if (i != F)
			desc(IND2 + 64 * i, k, DATA + 4096 * i, 4096, VQ_DESC_F_NEXT | (w ? 0 : VQ_DESC_F_WRITE),
			     (uint16_t)(k + 1)), k++;
		desc(IND2 + 64 * i, k, STAT + i, 1, VQ_DESC_F_WRITE, 0), k++;
		desc(DESC, i, IND2 + 64 * i, 16 * k, VQ_DESC_F_INDIRECT, 0);
		submit((uint16_t)i);
	}
	virtio_blk_process(b);
	CHECK_EQ(used()[1], N);
	unsigned seen = 0, before_flush = 0;
	for (unsigned k = 0; k < N; k++) {
		uint32_t *e = (uint32_t *)(used() + 2) + 2 * k;
		CHECK(e[0] < N);
		if (e[0] == F)
			before_flush = seen;
		seen |= 1u << e[0];
		CHECK_EQ(e[1], e[0] == F || e[0] % 3 == 1 ? 1 : 4097);
	}
	CHECK_EQ(seen, (1u << N) - 1);
	CHECK_EQ(before_flush & ((1u << F) - 1), (1u << F) - 1); /* all before it were done first */
	uint8_t back[4096];
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ(*(uint8_t *)g(STAT + i), VIRTIO_BLK_S_OK);
		if (i == F)
			continue;
		if (i % 3 == 1) {
			CHECK(pread(fd, back, 4096, (i * 16 + 5) * 512) == 4096);
			CHECK(back[0] == 0x60 + i && back[4095] == 0x60 + i);
		} else {
			CHECK(!memcmp(g(DATA + 4096 * i), img + (i * 16 + 5) * 512, 4096));
		}
	}
	CHECK(!b->vdev.broken);
	CHECK(ftruncate(fd, 0) == 0 && ftruncate(fd, DISK) == 0);
	close(fd);
	open_disk("");
}

/* Two request queues (VIRTIO_BLK_F_MQ, as the board gives a guest with two
 * CPUs): offered and counted in the config; each queue's requests complete
 * on its own used ring with its own MSI-X vector, also when both have
 * work in the same pass. */
static void test_multiqueue(void)
{
	enum { D1 = 0x13000, A1 = 0x14000, U1 = 0x15000 };
	char spec[128], why[256];
	virtio_blk_free(b);
	snprintf(spec, sizeof(spec), "%s", path);
	b = virtio_blk_new(spec, 0, 2, why, sizeof(why));
	CHECK(b != NULL);
	b->vdev.mem = &m;
	b->vdev.signal_msi = fake_msi;
	b->vdev.ioeventfd = fake_ioeventfd;
	wr(MOD, 0x00, 0, 4);
	CHECK(rd(MOD, 0x04, 4) & (1u << 12)); /* F_MQ */
	CHECK_EQ(rd(MOD, 0x12, 2), 2);          /* num_queues */
	CHECK_EQ(rd(MOD, 0x2000 + 34, 2), 2);   /* virtio_blk_config.num_queues */
	uint8_t on[2] = { 1, 0x80 };
	pci_cfg_write(&b->vdev.pci, b->vdev.msix_cap + 2, on, 2);
	modern_setup(VIRTIO_F_VERSION_1 | (1ULL << 12));
	memset(g(D1), 0, 0x3000);
	wr(MOD, 0x16, 1, 2); /* queue 1 */
	wr(MOD, 0x18, QS, 2);
	wr(MOD, 0x20, D1, 8);
	wr(MOD, 0x28, A1, 8);
	wr(MOD, 0x30, U1, 8);
	wr(MOD, 0x1a, 2, 2); /* -> vector 2 */
	wr(MOD, 0x1c, 1, 2);
	wr(MOD, 0x16, 0, 2);
	wr(MOD, 0x1a, 1, 2); /* queue 0 -> vector 1 */
	for (unsigned vec = 1; vec <= 2; vec++) {
		wr(virtio_msix_io, 16 * vec, 0xfee00000, 4);
		wr(virtio_msix_io, 16 * vec + 8, 0x40 + vec, 4);
		wr(virtio_msix_io, 16 * vec + 12, 0, 4);
	}
	/* four reads on each queue, queue q's of sector 8*q+i into its own buffer */
	uint16_t *av[2] = { g(AVAIL), g(A1) }, *us[2] = { g(USED), g(U1) };
	for (unsigned q = 0; q < 2; q++) {
		for (unsigned i = 0; i < 4; i++) {
			unsigned r = q * 4 + i;
			uint64_t sector = 8 * q + i, dt = q ? D1 : DESC;
			memset(g(HDR + 16 * r), 0, 16);
			memcpy((uint8_t *)g(HDR + 16 * r) + 8, &sector, 8);
			*(uint8_t *)g(STAT + r) = 0xee;
			desc(dt, 3 * i, HDR + 16 * r, 16, VQ_DESC_F_NEXT, (uint16_t)(3 * i + 1));
			desc(dt, 3 * i + 1, DATA + 512 * r, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, (uint16_t)(3 * i + 2));
			desc(dt, 3 * i + 2, STAT + r, 1, VQ_DESC_F_WRITE, 0);
			av[q][2 + i] = (uint16_t)(3 * i);
		}
		av[q][1] = 4;
	}
	msis = 0;
	virtio_blk_process(b);
	CHECK_EQ(us[0][1], 4);
	CHECK_EQ(us[1][1], 4);
	CHECK_EQ(msis, 2); /* one per queue */
	int fd = open(path, O_RDONLY);
	uint8_t want[512];
	for (unsigned r = 0; r < 8; r++) {
		CHECK_EQ(*(uint8_t *)g(STAT + r), VIRTIO_BLK_S_OK);
		CHECK(pread(fd, want, 512, (8 * (r / 4) + r % 4) * 512) == 512);
		CHECK(!memcmp(g(DATA + 512 * r), want, 512));
	}
	close(fd);
	/* one request on queue 1 only: its ring and vector 2, queue 0 untouched */
	av[1][2 + 4] = 0;
	av[1][1] = 5;
	msis = 0;
	virtio_blk_process(b);
	CHECK_EQ(us[1][1], 5);
	CHECK_EQ(us[0][1], 4);
	CHECK_EQ(msis, 1);
	CHECK_EQ(msi_data, 0x42);
	open_disk("");
}

static void test_spec_errors(void)
{
	char why[256];
	CHECK(!virtio_blk_new("/nonexistent/disk.img", 0, 1, why, sizeof(why)));
	CHECK(strstr(why, "/nonexistent/disk.img") && strstr(why, "No such file"));
	char spec[128];
	snprintf(spec, sizeof(spec), "%s,rw", path);
	CHECK(!virtio_blk_new(spec, 0, 1, why, sizeof(why)));
	CHECK(strstr(why, "unknown option 'rw'"));
	snprintf(spec, sizeof(spec), "%s,serial=123456789012345678901", path);
	CHECK(!virtio_blk_new(spec, 0, 1, why, sizeof(why)));
	CHECK(!virtio_blk_new("", 0, 1, why, sizeof(why)));
	CHECK(!virtio_blk_new("/dev/null", 0, 1, why, sizeof(why)));
	snprintf(spec, sizeof(spec), "%s,ro,serial=12345678901234567890", path);
	struct virtio_blk *x = virtio_blk_new(spec, 3, 1, why, sizeof(why));
	CHECK(x && x->disk->ro && !strcmp(x->serial, "12345678901234567890"));
	virtio_blk_free(x);
}

int main(void)
{
	if (mem_init(&m, 16 * MiB) < 0)
		return 1;
	snprintf(path, sizeof(path), "/tmp/hal-virtio-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, DISK) < 0)
		return 1;
	close(fd);
	RUN(test_identity);
	RUN(test_modern_regs);
	RUN(test_legacy_regs);
	RUN(test_io);
	RUN(test_readonly);
	RUN(test_bad_request);
	RUN(test_host_error);
	RUN(test_broken);
	RUN(test_indirect);
	RUN(test_event_idx);
	RUN(test_msix);
	RUN(test_pci_cfg_window);
	RUN(test_spec_errors);
	RUN(test_thread);
	RUN(test_reset_keeps_snapshot);
	RUN(test_nbd_batch);
	RUN(test_file_batch);
	RUN(test_multiqueue);
	virtio_blk_free(b);
	unlink(path);
	mem_exit(&m);
	return 0;
}
