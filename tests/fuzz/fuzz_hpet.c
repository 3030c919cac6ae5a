/* The HPET (hw/hpet.c): MMIO at any offset (up to 2 KiB, past the 1 KiB
 * block) and width, with a fake clock moved by the input and the event
 * loop's timer callback in between. Kinds: 0-5 an access (address: offset
 * from HPET_BASE), 6 the clock moves by address * 2^(value's low byte % 24)
 * ns (a write op carries the value), 7 the timer callback. FSB (MSI)
 * messages are dropped. Each interrupt
 * line's callback must change its level: the model never reports a level
 * it already set. */
#include "fuzz.h"
#include "hw/hpet.h"

static uint64_t clock_ns;
static uint64_t fake_now(void) { return clock_ns; }
static int level[24];

static void irq(void *ctx, int gsi, int l)
{
	(void)ctx;
	if (gsi < 0 || gsi >= 24 || (l != 0 && l != 1) || level[gsi] == l)
		abort();
	level[gsi] = l;
}

static void legacy(void *ctx, bool on) { (void)ctx; (void)on; }
static int msi(uint64_t addr, uint32_t data) { (void)addr; (void)data; return 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hpet h;
	clock_ns = 1000000000ULL;
	memset(level, 0, sizeof(level));
	if (hpet_init(&h, fake_now, irq, legacy, NULL) < 0)
		abort();
	h.signal_msi = msi; /* FSB delivery: not into a VM */
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 512 && fz_op(&f, &o, 2); n++) {
		switch (o.kind % 8) {
		case 6: clock_ns += (o.addr & 0xfff) << (o.val % 24); break;
		case 7: hpet_update(&h); break;
		default: fz_io(hpet_io, &h, HPET_BASE + (o.addr & 0x7ff), o.len, o.val, o.write);
		}
	}
	hpet_exit(&h);
	return 0;
}
