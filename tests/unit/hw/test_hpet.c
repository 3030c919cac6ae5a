/* The HPET (hal/hw/hpet.c) through its MMIO handler, on a fake clock: the
 * registers Linux's and other guests' drivers read and write, the
 * interrupts they wait for, and the host timer's clamp. */
#include <stdlib.h>

#include "check.h"
#include "core/hal.h"
#include "hw/hpet.h"

static uint64_t clock_ns;
static uint64_t fake_now(void) { return clock_ns; }

static int level[24], edges[24], legacy_calls, legacy_on = -1;
static void irq(void *ctx, int gsi, int l)
{
	(void)ctx;
	CHECK(gsi >= 0 && gsi < 24);
	if (l && !level[gsi])
		edges[gsi]++;
	level[gsi] = l;
}
static void legacy(void *ctx, bool on) { (void)ctx; legacy_calls++; legacy_on = on; }

static int msis;
static uint64_t msi_addr;
static uint32_t msi_data;
static int msi(uint64_t addr, uint32_t data)
{
	msis++;
	msi_addr = addr;
	msi_data = data;
	return 0;
}

static void setup(struct hpet *h)
{
	clock_ns = 1000000000ULL; /* not 0: the counter must not depend on it */
	memset(level, 0, sizeof(level));
	memset(edges, 0, sizeof(edges));
	legacy_calls = 0;
	legacy_on = -1;
	msis = 0;
	if (hpet_init(h, fake_now, irq, legacy, NULL) < 0)
		abort();
	h->signal_msi = msi;
}

static uint64_t rd(struct hpet *h, uint64_t off, uint32_t len)
{
	uint8_t d[8];
	hpet_io(h, HPET_BASE + off, d, len, false);
	uint64_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void wr(struct hpet *h, uint64_t off, uint32_t len, uint64_t v)
{
	uint8_t d[8];
	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	hpet_io(h, HPET_BASE + off, d, len, true);
}

/* Move the clock and let the event loop's timer callback run. */
static void run_to(struct hpet *h, uint64_t ns)
{
	clock_ns = ns;
	hpet_update(h);
}

enum { CONF = 0x10, ISR = 0x20, COUNTER = 0xf0, T0 = 0x100, T1 = 0x120, T2 = 0x140 };
enum { LEVEL = 2, ENB = 4, PERIODIC = 8, VALSET = 0x40, MODE32 = 0x100 };

static void capabilities(void)
{
	struct hpet h;
	setup(&h);
	uint64_t cap = rd(&h, 0, 8);
	CHECK_EQ(cap & 0xff, 1);                /* revision */
	CHECK_EQ((cap >> 8) & 0x1f, 2);         /* 3 timers */
	CHECK(cap & (1 << 13));                 /* 64-bit counter */
	CHECK(cap & (1 << 15));                 /* legacy replacement capable */
	CHECK_EQ((cap >> 16) & 0xffff, 0x8086);
	CHECK_EQ(cap >> 32, 10000000);          /* 10 ns in fs */
	CHECK_EQ(rd(&h, 4, 4), 10000000);       /* the period as a 32-bit read */
	CHECK_EQ(hpet_caps(), cap);
	uint64_t t0 = rd(&h, T0, 8), t1 = rd(&h, T1, 8);
	CHECK(t0 & (1 << 4) && t0 & (1 << 5));  /* periodic, 64-bit */
	CHECK(!(t1 & (1 << 4)) && !(t1 & (1 << 5)));
	CHECK_EQ(t0 >> 32, 0x00f00000);         /* IOAPIC pins 20-23 */
	CHECK(t0 & (1 << 15) && t1 & (1 << 15)); /* FSB delivery capable */
	CHECK_EQ(rd(&h, T1 + 8, 8), 0xffffffff); /* comparators reset to all ones */
	wr(&h, 0, 8, 0);                        /* read-only */
	CHECK_EQ(rd(&h, 0, 8), cap);
	hpet_exit(&h);
}

static void counter_runs_only_enabled(void)
{
	struct hpet h;
	setup(&h);
	clock_ns += 5000;
	CHECK_EQ(rd(&h, COUNTER, 8), 0);        /* halted after reset */
	wr(&h, CONF, 4, 1);
	clock_ns += 1000;
	CHECK_EQ(rd(&h, COUNTER, 8), 100);      /* 1 us = 100 ticks */
	CHECK_EQ(rd(&h, COUNTER, 4), 100);
	wr(&h, CONF, 4, 0);
	clock_ns += 1000000;
	CHECK_EQ(rd(&h, COUNTER, 8), 100);      /* kept across the halt */
	wr(&h, COUNTER, 8, 0x123456789aULL);
	CHECK_EQ(rd(&h, COUNTER, 8), 0x123456789aULL);
	wr(&h, COUNTER + 4, 4, 0x7);            /* the high half alone */
	CHECK_EQ(rd(&h, COUNTER, 8), 0x73456789aULL);
	CHECK_EQ(rd(&h, COUNTER + 4, 4), 7);
	wr(&h, CONF, 4, 1);
	clock_ns += 20;
	CHECK_EQ(rd(&h, COUNTER, 8), 0x73456789aULL + 2);
	hpet_exit(&h);
}

static void one_shot_fires_once(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, T2, 4, ENB | (21 << 9));         /* edge, pin 21 */
	wr(&h, T2 + 8, 4, 1000);                /* at counter 1000 = 10 us */
	wr(&h, CONF, 4, 1);
	uint64_t start = clock_ns;
	CHECK_EQ(h.deadline_ns, start + 10000);
	run_to(&h, start + 9990);
	CHECK_EQ(edges[21], 0);
	run_to(&h, start + 10000);
	CHECK_EQ(edges[21], 1);
	CHECK_EQ(level[21], 0);                 /* an edge: the line is back low */
	CHECK_EQ(rd(&h, ISR, 4), 0);            /* edge timers set no status */
	run_to(&h, start + 20000000);
	CHECK_EQ(edges[21], 1);                 /* once */
	hpet_exit(&h);
}

static void periodic_rearms(void)
{
	struct hpet h;
	setup(&h);
	/* Linux's way: 32-bit mode, VAL_SET, comparator = now + period, then
	 * the period, each a 32-bit write */
	wr(&h, T0, 4, ENB | PERIODIC | VALSET | MODE32 | (20 << 9));
	wr(&h, T0 + 8, 4, 100000);              /* first at 1 ms */
	wr(&h, T0 + 8, 4, 400000);              /* then every 4 ms */
	wr(&h, CONF, 4, 1);
	uint64_t start = clock_ns;
	run_to(&h, start + 1000000);
	CHECK_EQ(edges[20], 1);
	CHECK_EQ(rd(&h, T0 + 8, 8), 500000);    /* the accumulator moved on */
	CHECK_EQ(h.deadline_ns, start + 5000000);
	run_to(&h, start + 5000000);
	CHECK_EQ(edges[20], 2);
	run_to(&h, start + 9000000);
	CHECK_EQ(edges[20], 3);
	run_to(&h, start + 25500000);           /* four periods missed: one interrupt */
	CHECK_EQ(edges[20], 4);
	CHECK_EQ(rd(&h, T0 + 8, 8), 2900000);   /* next after the counter, in step */
	hpet_exit(&h);
}

static void level_status_write_one_clears(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, T1, 4, LEVEL | ENB | (22 << 9));
	wr(&h, T1 + 8, 4, 50);
	wr(&h, CONF, 4, 1);
	run_to(&h, clock_ns + 500);
	CHECK_EQ(rd(&h, ISR, 4), 2);
	CHECK_EQ(level[22], 1);                 /* held while the status is set */
	wr(&h, ISR, 4, 1);                      /* another timer's bit: no effect */
	CHECK_EQ(level[22], 1);
	wr(&h, ISR, 4, 2);
	CHECK_EQ(rd(&h, ISR, 4), 0);
	CHECK_EQ(level[22], 0);
	CHECK_EQ(edges[22], 1);
	hpet_exit(&h);
}

static void thirty_two_bit_wraps(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, COUNTER, 8, 0xfffffff0ULL);
	wr(&h, T1, 4, ENB | (23 << 9));         /* timer 1 is 32-bit */
	wr(&h, T1 + 8, 8, 0x100000010ULL);      /* the upper half is dropped */
	CHECK_EQ(rd(&h, T1 + 8, 8), 0x10);
	wr(&h, CONF, 4, 1);
	uint64_t start = clock_ns;
	CHECK_EQ(h.deadline_ns, start + 0x20 * 10); /* after the low half wraps */
	run_to(&h, start + 0x20 * 10);
	CHECK_EQ(edges[23], 1);
	CHECK_EQ(rd(&h, COUNTER, 8), 0x100000010ULL); /* the main counter does not wrap */
	/* one-shot, 32-bit: it matches again each time the low half comes round */
	CHECK_EQ(h.deadline_ns, start + 0x20 * 10 + (1ULL << 32) * 10);
	run_to(&h, h.deadline_ns);
	CHECK_EQ(edges[23], 2);
	/* timer 0 in 32-bit mode: its comparator is cut to 32 bits too */
	wr(&h, T0 + 8, 8, 0xabcdef0123ULL);
	wr(&h, T0, 4, MODE32);
	CHECK_EQ(rd(&h, T0 + 8, 8), 0xcdef0123ULL);
	CHECK(rd(&h, T0, 4) & MODE32);
	hpet_exit(&h);
}

static void legacy_replacement_routes(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, T0, 4, ENB | (20 << 9));
	wr(&h, T1, 4, LEVEL | ENB | (21 << 9));
	wr(&h, T0 + 8, 8, 100);                 /* timer 0 is 64-bit: all of it */
	wr(&h, T1 + 8, 4, 200);
	wr(&h, CONF, 4, 3);                     /* ENABLE_CNF | LEG_RT_CNF */
	CHECK_EQ(legacy_calls, 1);
	CHECK_EQ(legacy_on, 1);
	run_to(&h, clock_ns + 3000);
	CHECK_EQ(edges[0], 1);                  /* timer 0 on IRQ 0 */
	CHECK_EQ(edges[20], 0);
	CHECK_EQ(level[8], 1);                  /* timer 1 on IRQ 8 */
	CHECK_EQ(level[21], 0);
	wr(&h, CONF, 4, 1);                     /* back to the route registers */
	CHECK_EQ(legacy_calls, 2);
	CHECK_EQ(legacy_on, 0);
	CHECK_EQ(level[8], 0);
	CHECK_EQ(level[21], 1);                 /* the status is still set */
	wr(&h, CONF, 4, 1);                     /* no change: no call */
	CHECK_EQ(legacy_calls, 2);
	hpet_exit(&h);
}

/* FSB delivery: one message per match, to the FSB route register's
 * address with its data, and no IOAPIC pin; legacy replacement still
 * takes timer 1 to IRQ 8. */
static void fsb_messages(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, T1 + 0x10, 8, 0xfee01000ULL << 32 | 0x4031);
	CHECK_EQ(rd(&h, T1 + 0x14, 4), 0xfee01000);
	wr(&h, T1, 4, ENB | (1 << 14) | (20 << 9));
	wr(&h, T1 + 8, 4, 100);
	wr(&h, CONF, 4, 1);
	uint64_t start = clock_ns;
	CHECK_EQ(h.deadline_ns, start + 1000);
	run_to(&h, start + 1000);
	CHECK_EQ(msis, 1);
	CHECK_EQ(msi_addr, 0xfee01000);
	CHECK_EQ(msi_data, 0x4031);
	CHECK_EQ(edges[20], 0);                 /* the route register is ignored */
	wr(&h, T1, 4, LEVEL | ENB | (1 << 14) | (20 << 9));
	wr(&h, T1 + 8, 4, 300);
	run_to(&h, start + 3000);
	CHECK_EQ(msis, 2);
	CHECK_EQ(rd(&h, ISR, 4), 2);            /* level: the status bit, still no pin */
	CHECK_EQ(level[20], 0);
	wr(&h, CONF, 4, 3);                     /* legacy replacement wins */
	CHECK_EQ(level[8], 1);
	hpet_exit(&h);
}

/* A 10 ns period: the guest gets one interrupt per host timer fire, and
 * the host timer fires at most every HPET_MIN_HOST_NS. */
static void tiny_period_is_clamped(void)
{
	struct hpet h;
	setup(&h);
	wr(&h, T0, 4, ENB | PERIODIC | VALSET | (20 << 9));
	wr(&h, T0 + 8, 8, 1);
	wr(&h, T0 + 8, 8, 1);
	wr(&h, CONF, 4, 1);
	uint64_t start = clock_ns;
	int fires = 0;
	while (h.deadline_ns && h.deadline_ns <= start + 1000000000ULL && fires < 1000000) {
		CHECK(h.deadline_ns >= clock_ns + (fires ? HPET_MIN_HOST_NS : 0));
		run_to(&h, h.deadline_ns);
		fires++;
	}
	CHECK(fires >= 9000 && fires <= 10001);
	CHECK_EQ(edges[20], fires);
	/* the counter kept real time meanwhile */
	CHECK(rd(&h, COUNTER, 8) >= 99000000);
	hpet_exit(&h);
}

/* Every offset and width, written with all ones and read back: ASan and
 * UBSan watch; unknown registers read 0, no write reaches past them. */
static void every_offset_and_width(void)
{
	struct hpet h;
	setup(&h);
	const uint32_t lens[] = { 1, 2, 4, 8 };
	for (uint64_t off = 0; off < HPET_SIZE + 16; off++)
		for (int i = 0; i < 4; i++) {
			uint8_t d[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
			hpet_io(&h, HPET_BASE + off, d, lens[i], true);
			memset(d, 0xaa, sizeof(d));
			hpet_io(&h, HPET_BASE + off, d, lens[i], false);
			if (off >= 0x160 || (off >= 0x28 && off + lens[i] <= 0xf0) || off >= HPET_SIZE)
				for (uint32_t k = 0; k < lens[i]; k++)
					CHECK_EQ(d[k], 0);
			clock_ns += 7;
			hpet_update(&h);
		}
	uint8_t d[8] = { 0xaa };
	hpet_io(&h, HPET_BASE - 4, d, 8, false); /* below the block: a wrap, not a read */
	CHECK_EQ(d[0], 0);
	hpet_exit(&h);
}

int main(void)
{
	RUN(capabilities);
	RUN(counter_runs_only_enabled);
	RUN(one_shot_fires_once);
	RUN(periodic_rearms);
	RUN(level_status_write_one_clears);
	RUN(thirty_two_bit_wraps);
	RUN(legacy_replacement_routes);
	RUN(fsb_messages);
	RUN(tiny_period_is_clamped);
	RUN(every_offset_and_width);
	return 0;
}
