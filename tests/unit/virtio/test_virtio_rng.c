/* virtio-rng driven like a guest would: rings in real guest RAM
 * (mem_init), registers through the modern BAR, requests served by
 * virtio_rng_process with a clock the test moves. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/config.h"
#include "hw/pci.h"
#include "virtio/virtio.h"

#define RAM   (16 * MiB)
#define DESC  0x10000ULL
#define AVAIL 0x11000ULL
#define USED  0x12000ULL
#define BUF   0x20000ULL
#define QS    16
#define MOD   virtio_modern_io

static struct guest_mem m;
static struct virtio_rng *r;
static uint16_t aidx;
static uint64_t clock_ns;

static uint64_t fake_now(void) { return clock_ns; }
static int fake_msi(uint64_t addr, uint32_t data) { return 0; }
static int fake_ioeventfd(uint64_t addr, uint32_t len, bool pio, int fd, bool assign) { return 0; }
static void *g(uint64_t gpa) { return gpa_ptr(&m, gpa, 1); }

static uint64_t rd(uint64_t off, unsigned len)
{
	uint8_t d[8] = { 0 };
	uint64_t v = 0;
	MOD(&r->vdev, off, d, len, false);
	memcpy(&v, d, len);
	return v;
}

static void wr(uint64_t off, uint64_t val, unsigned len)
{
	uint8_t d[8];
	memcpy(d, &val, 8);
	MOD(&r->vdev, off, d, len, true);
}

static void negotiate(void);

/* A new device at rate bytes/s, negotiated and with one queue of QS entries. */
static void setup(uint64_t rate)
{
	virtio_rng_free(r);
	r = virtio_rng_new(rate);
	if (!r)
		exit(1);
	r->vdev.mem = &m;
	r->vdev.signal_msi = fake_msi;
	r->vdev.ioeventfd = fake_ioeventfd;
	r->now = fake_now;
	r->last = clock_ns;
	negotiate();
}

/* VERSION_1 and queue 0 with QS entries, DRIVER_OK. */
static void negotiate(void)
{
	memset(g(DESC), 0, 0x3000);
	aidx = 0;
	wr(0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER, 1);
	wr(0x08, 1, 4);
	wr(0x0c, VIRTIO_F_VERSION_1 >> 32, 4);
	wr(0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK, 1);
	wr(0x16, 0, 2);
	wr(0x18, QS, 2);
	wr(0x20, DESC, 8);
	wr(0x28, AVAIL, 8);
	wr(0x30, USED, 8);
	wr(0x1c, 1, 2);
	wr(0x14, VIRTIO_S_ACK | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK, 1);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = g(DESC + 16 * i);
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

static uint16_t *avail(void) { return g(AVAIL); }
static uint16_t *used(void) { return g(USED); }
static uint16_t used_idx(void) { return used()[1]; }
static uint32_t used_len(uint16_t i) { return ((uint32_t *)(used() + 2))[2 * (i % QS) + 1]; }

static void submit(uint16_t head)
{
	avail()[2 + aidx % QS] = head;
	avail()[1] = ++aidx;
}

/* One writable buffer of len bytes at gpa as chain `head`; returns the used
 * length, or -1 when nothing came back. */
static long request(uint16_t head, uint64_t gpa, uint32_t len)
{
	uint16_t before = used_idx();
	desc(head, gpa, len, VQ_DESC_F_WRITE, 0);
	submit(head);
	virtio_rng_process(r);
	return used_idx() == before + 1 ? (long)used_len(before) : -1;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_identity(void)
{
	setup(RNG_UNLIMITED);
	uint8_t *c = r->vdev.pci.cfg;
	CHECK_EQ(c[0] | c[1] << 8, 0x1af4);
	CHECK_EQ(c[2] | c[3] << 8, 0x1005);
	CHECK_EQ(c[0x2e] | c[0x2f] << 8, 4); /* subsystem: virtio type 4, entropy */
	CHECK_EQ(rd(0x12, 2), 1);             /* one queue */
	CHECK_EQ(rd(0x14, 1), 15);
}

static void test_random_bytes(void)
{
	setup(RNG_UNLIMITED);
	uint8_t *a = g(BUF), *b = g(BUF + 0x1000);
	memset(a, 0, 0x2000);
	CHECK_EQ(request(0, BUF, 64), 64);
	CHECK_EQ(request(1, BUF + 0x1000, 64), 64);
	CHECK(!all_zero(a, 64));
	CHECK(memcmp(a, b, 64));              /* two requests, two different answers */
	CHECK(all_zero(a + 64, 0x1000 - 64)); /* nothing past the buffer */
	/* a chain of two writable buffers: both filled, the length is the sum */
	memset(a, 0, 0x2000);
	desc(2, BUF, 100, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 3);
	desc(3, BUF + 0x1000, 28, VQ_DESC_F_WRITE, 0);
	uint16_t before = used_idx();
	submit(2);
	virtio_rng_process(r);
	CHECK_EQ(used_idx(), before + 1);
	CHECK_EQ(used_len(before), 128);
	CHECK(!all_zero(a + 90, 10) && !all_zero(b + 20, 8));
	CHECK(all_zero(a + 100, 0x1000 - 100) && all_zero(b + 28, 0x1000 - 28));
	CHECK_EQ(r->bytes, 256);
}

static void test_rate_limit(void)
{
	clock_ns = 1000000000ULL;
	setup(1024);                           /* 1 KiB/s: a burst of 256 bytes */
	memset(g(BUF), 0, 0x1000);
	CHECK_EQ(request(0, BUF, 1024), 256);  /* the burst, not the whole buffer */
	CHECK(all_zero(g(BUF + 256), 1024 - 256));
	/* the bucket is empty: the chain waits in the ring, the thread is told
	 * how long until 64 bytes are earned (62.5 ms at 1 KiB/s) */
	uint16_t before = used_idx();
	desc(1, BUF, 512, VQ_DESC_F_WRITE, 0);
	submit(1);
	int wait = virtio_rng_process(r);
	CHECK_EQ(used_idx(), before);
	CHECK(wait >= 62 && wait <= 64);
	clock_ns += 30000000ULL; /* 30 ms: 30 bytes, still held back */
	wait = virtio_rng_process(r);
	CHECK_EQ(used_idx(), before);
	CHECK(wait >= 31 && wait <= 34);
	/* 125 ms after the burst: 128 bytes earned, that much and no more */
	clock_ns += 95000000ULL;
	CHECK_EQ(virtio_rng_process(r), -1);
	CHECK_EQ(used_idx(), before + 1);
	CHECK_EQ(used_len(before), 128);
	/* a request smaller than 64 bytes is served as soon as it is covered */
	clock_ns += 16000000ULL;
	CHECK_EQ(request(2, BUF, 16), 16);
	/* one simulated minute asking all the time (a new 4 KiB buffer as soon
	 * as the last came back, as Linux does), the thread waking every 10 ms:
	 * about 1 KiB/s gets out, in pieces of 64 bytes or more */
	uint64_t start = r->bytes;
	unsigned served = 0;
	uint16_t seen = used_idx();
	desc(3, BUF, 4096, VQ_DESC_F_WRITE, 0);
	submit(3);
	for (int i = 0; i < 6000; i++) {
		clock_ns += 10000000ULL;
		virtio_rng_process(r);
		if (used_idx() != seen) {
			CHECK(used_len(seen) >= 64);
			seen = used_idx();
			served++;
			submit(3);
		}
	}
	uint64_t got = r->bytes - start;
	CHECK(got >= 60 * 1024 - 128 && got <= 60 * 1024 + 128);
	CHECK(served >= 60 * 1024 / 128 && served <= 60 * 1024 / 64);
	/* unlimited: a 64 KiB buffer at once */
	setup(RNG_UNLIMITED);
	CHECK_EQ(request(0, BUF, 65536), 65536);
}

static void test_hostile_chains(void)
{
	setup(RNG_UNLIMITED);
	uint8_t *end = g(RAM - 0x1000);
	memset(end, 0, 0x1000);
	memset(g(BUF), 0, 0x1000);
	CHECK_EQ(request(0, 0xf0000000ULL, 64), 0);        /* outside RAM */
	CHECK_EQ(request(1, RAM - 16, 64), 0);             /* runs past the end of RAM */
	CHECK(all_zero(end, 0x1000));
	CHECK_EQ(request(2, ~0ULL - 8, 64), 0);            /* wraps around */
	CHECK_EQ(request(3, BUF, 0xffffffffu), 0);         /* absurd length */
	desc(4, BUF, 64, 0, 0);                            /* read-only */
	uint16_t before = used_idx();
	submit(4);
	virtio_rng_process(r);
	CHECK_EQ(used_idx(), before + 1);
	CHECK_EQ(used_len(before), 0);
	CHECK(all_zero(g(BUF), 0x1000));                   /* the guest's data untouched */
	/* a readable buffer in front of a writable one: refused as a whole */
	desc(5, BUF, 16, VQ_DESC_F_NEXT, 6);
	desc(6, BUF + 16, 64, VQ_DESC_F_WRITE, 0);
	before = used_idx();
	submit(5);
	virtio_rng_process(r);
	CHECK_EQ(used_len(before), 0);
	CHECK(all_zero(g(BUF), 0x1000));
	CHECK_EQ(r->bytes, 0);
	/* still working */
	CHECK_EQ(request(7, BUF, 32), 32);
	/* a loop: the device stops (NEEDS_RESET), writes nothing */
	memset(g(BUF), 0, 0x1000);
	desc(8, BUF, 16, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 9);
	desc(9, BUF + 16, 16, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 8);
	before = used_idx();
	submit(8);
	virtio_rng_process(r);
	CHECK_EQ(used_idx(), before);
	CHECK(rd(0x14, 1) & VIRTIO_S_NEEDS_RESET);
	CHECK(all_zero(g(BUF), 0x1000));
	/* a head out of range, after a reset */
	setup(RNG_UNLIMITED);
	before = used_idx();
	submit(QS + 3);
	virtio_rng_process(r);
	CHECK_EQ(used_idx(), before);
	CHECK(rd(0x14, 1) & VIRTIO_S_NEEDS_RESET);
}

static bool wait_used(uint16_t n, int ms)
{
	for (int t = 0; t < ms && __atomic_load_n(&used()[1], __ATOMIC_ACQUIRE) != n; t++)
		usleep(1000);
	return __atomic_load_n(&used()[1], __ATOMIC_ACQUIRE) == n;
}

/* The real I/O thread and clock: a notify brings the burst at once; a chain
 * held back for the budget comes back by itself, without another notify. */
static void test_thread(void)
{
	static struct vm fake;
	fake.mem = m;
	the_vm = &fake;
	char why[256];
	CHECK_EQ(virtio_rng_create(1024, 11, why, sizeof(why)), 0);
	CHECK(virtio_rng_create(1024, 11, why, sizeof(why)) < 0);
	struct pci_dev *d = pci_find(11, 0);
	CHECK(d);
	struct virtio_rng *mine = r;
	r = (struct virtio_rng *)d->priv;
	r->vdev.signal_msi = fake_msi;
	r->vdev.ioeventfd = fake_ioeventfd;
	negotiate();
	memset(g(BUF), 0, 0x2000);
	desc(0, BUF, 256, VQ_DESC_F_WRITE, 0);
	desc(1, BUF + 0x1000, 64, VQ_DESC_F_WRITE, 0);
	submit(0);
	submit(1);
	uint64_t t0 = now_ns();
	wr(0x3000, 0, 2); /* notify queue 0 */
	bool first = wait_used(1, 2000), second = wait_used(2, 2000);
	uint64_t ms = (now_ns() - t0) / 1000000;
	virtio_rng_destroy();
	pci_reset_bus();
	the_vm = NULL;
	r = mine;
	CHECK(first && second);
	CHECK_EQ(used_len(0), 256);
	CHECK_EQ(used_len(1), 64);
	CHECK(ms >= 50 && ms < 1000); /* 64 bytes at 1 KiB/s: 62.5 ms */
	CHECK(!all_zero(g(BUF + 0x1000), 64));
}

static void test_rate_option(void)
{
	uint64_t v;
	CHECK(parse_rng_rate("2M", &v) == 0 && v == 2 * MiB);
	CHECK(parse_rng_rate("64k", &v) == 0 && v == 65536);
	CHECK(parse_rng_rate("1000", &v) == 0 && v == 1000);
	CHECK(parse_rng_rate("unlimited", &v) == 0 && v == RNG_UNLIMITED);
	CHECK(parse_rng_rate("none", &v) == 0 && v == 0);
	CHECK(parse_rng_rate("0", &v) < 0);
	CHECK(parse_rng_rate("2G", &v) < 0);
	CHECK(parse_rng_rate("-1", &v) < 0);
	CHECK(parse_rng_rate("5X", &v) < 0);
	CHECK(parse_rng_rate("", &v) < 0);
	struct config c;
	char why[256];
	char *dflt[] = { "hal", "--kernel", "k", NULL };
	CHECK_EQ(config_parse(3, dflt, &c, why, sizeof(why)), CONFIG_OK);
	CHECK_EQ(c.rng_rate, 2 * MiB);
	char *slow[] = { "hal", "--kernel", "k", "--rng", "64K", NULL };
	CHECK_EQ(config_parse(5, slow, &c, why, sizeof(why)), CONFIG_OK);
	CHECK_EQ(c.rng_rate, 64 * 1024);
	char *bad[] = { "hal", "--kernel", "k", "--rng", "fast", NULL };
	CHECK_EQ(config_parse(5, bad, &c, why, sizeof(why)), CONFIG_USAGE);
	CHECK(strstr(why, "--rng fast"));
}

int main(void)
{
	if (mem_init(&m, RAM) < 0)
		return 1;
	RUN(test_identity);
	RUN(test_random_bytes);
	RUN(test_rate_limit);
	RUN(test_hostile_chains);
	RUN(test_rate_option);
	RUN(test_thread);
	virtio_rng_free(r);
	mem_exit(&m);
	return 0;
}
