/* HPET (IA-PC HPET specification 1.0a): a 64-bit main counter at 100 MHz
 * and three comparators. Timer 0 is 64-bit and periodic capable, timers 1
 * and 2 are 32-bit one-shot, as on Intel's ICH chipsets. The counter is
 * computed from CLOCK_MONOTONIC, never ticked: counter + (now - base_ns) /
 * 10 ns while ENABLE_CNF is set. Matches are taken lazily, at each MMIO
 * access and when the one timerfd for the earliest enabled match fires:
 * a comparator matched when it lies in (seen, counter], modulo its width.
 *
 * Interrupts go to IOAPIC pins 20-23 (Tn_INT_ROUTE_CAP), as an MSI with
 * Tn_FSB_EN_CNF (the FSB route register's address and data), or, with
 * LEG_RT_CNF, timer 0 to IRQ 0 and timer 1 to IRQ 8; the board then stops
 * the PIT and the RTC driving those (the legacy callback). */
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/hal.h"
#include "hw/hpet.h"

enum {
	REG_CAP = 0x000, REG_CONF = 0x010, REG_ISR = 0x020, REG_COUNTER = 0x0f0,
	REG_TIMER0 = 0x100, TIMER_STRIDE = 0x20, T_CONF = 0x00, T_CMP = 0x08,
	CONF_ENABLE = 1 << 0, CONF_LEGACY = 1 << 1,
	TN_LEVEL = 1 << 1, TN_INT_ENB = 1 << 2, TN_PERIODIC = 1 << 3, TN_PER_CAP = 1 << 4,
	TN_SIZE_CAP = 1 << 5, TN_VAL_SET = 1 << 6, TN_32MODE = 1 << 8, TN_ROUTE_SHIFT = 9,
	TN_ROUTE = 0x1f << TN_ROUTE_SHIFT, TN_FSB_EN = 1 << 14, TN_FSB_CAP = 1 << 15, T_FSB = 0x10,
};

/* A 64-bit match further ahead than this is re-checked then (keeps the
 * deadline arithmetic in range; nothing fires early). */
#define MAX_AHEAD_TICKS (1ULL << 36)

uint64_t hpet_caps(void)
{
	return 0x01                           /* REV_ID */
	       | (HPET_TIMERS - 1) << 8       /* NUM_TIM_CAP */
	       | 1 << 13                      /* COUNT_SIZE_CAP: 64-bit */
	       | 1 << 15                      /* LEG_RT_CAP */
	       | 0x8086u << 16                /* VENDOR_ID */
	       | (uint64_t)HPET_PERIOD_FS << 32;
}

static uint64_t timer_caps(int n)
{
	return (n == 0 ? TN_PER_CAP | TN_SIZE_CAP : 0) | TN_FSB_CAP | (uint64_t)HPET_ROUTE_CAP << 32;
}

static bool is32(const struct hpet *h, int n)
{
	return !(timer_caps(n) & TN_SIZE_CAP) || (h->t[n].config & TN_32MODE);
}

static uint64_t width(const struct hpet *h, int n) { return is32(h, n) ? 0xffffffffULL : ~0ULL; }

static bool enabled(const struct hpet *h) { return h->config & CONF_ENABLE; }

static uint64_t counter_at(const struct hpet *h, uint64_t now)
{
	if (!enabled(h) || now < h->base_ns)
		return h->counter;
	return h->counter + (now - h->base_ns) / HPET_TICK_NS;
}

/* FSB delivery: an MSI per match, no IOAPIC pin (legacy replacement
 * still takes timers 0 and 1). */
static bool fsb(const struct hpet *h, int n)
{
	return (h->t[n].config & TN_FSB_EN) && !((h->config & CONF_LEGACY) && n < 2);
}

/* The GSI timer n interrupts on, or -1 when its route is not one it has
 * (or it sends FSB messages instead). */
static int route(const struct hpet *h, int n)
{
	if ((h->config & CONF_LEGACY) && n < 2)
		return n == 0 ? 0 : 8;
	if (fsb(h, n))
		return -1;
	int r = (int)((h->t[n].config & TN_ROUTE) >> TN_ROUTE_SHIFT);
	return (HPET_ROUTE_CAP >> r) & 1 ? r : -1;
}

/* Level-triggered timers hold their line while their status bit is set;
 * several timers on one pin are OR'ed. Only changes reach the callback. */
static void sync_lines(struct hpet *h)
{
	bool want[24] = { 0 };
	for (int n = 0; n < HPET_TIMERS; n++) {
		uint64_t c = h->t[n].config;
		int g = route(h, n);
		if (g >= 0 && enabled(h) && (c & TN_LEVEL) && (c & TN_INT_ENB) && (h->isr >> n & 1))
			want[g] = true;
	}
	for (int g = 0; g < 24; g++)
		if (want[g] != h->line[g]) {
			h->line[g] = want[g];
			if (h->irq)
				h->irq(h->ctx, g, want[g]);
		}
}

static void fire(struct hpet *h, int n)
{
	uint64_t c = h->t[n].config;
	if (fsb(h, n) && (c & TN_INT_ENB) && h->signal_msi) /* a message per match */
		h->signal_msi(h->t[n].fsb >> 32, (uint32_t)h->t[n].fsb);
	if (c & TN_LEVEL) {
		/* set even with Tn_INT_ENB clear: the timer runs, it only
		 * does not interrupt */
		h->isr |= 1ULL << n;
		return;              /* the line follows in sync_lines */
	}
	int g = route(h, n);
	if ((c & TN_INT_ENB) && g >= 0 && !h->line[g] && h->irq) {
		h->irq(h->ctx, g, 1); /* an edge; a level timer holding the pin hides it */
		h->irq(h->ctx, g, 0);
	}
}

/* Take every match between the last look and now; a periodic comparator
 * jumps past the counter by whole periods, however many were missed. */
static void advance(struct hpet *h, uint64_t now)
{
	if (!enabled(h))
		return;
	uint64_t cur = counter_at(h, now), elapsed = cur - h->seen;
	if (!elapsed)
		return;
	for (int n = 0; n < HPET_TIMERS; n++) {
		struct hpet_timer *t = &h->t[n];
		uint64_t mask = width(h, n), d = (t->cmp - h->seen) & mask;
		if (!d && mask == ~0ULL)
			continue;
		if (!d)
			d = mask + 1; /* matched at the last look: again after a wrap */
		if (d > elapsed)
			continue;
		fire(h, n);
		if ((t->config & TN_PERIODIC) && t->period) {
			uint64_t over = elapsed - d; /* ticks the counter is past cmp */
			t->cmp = (t->cmp + (over / t->period + 1) * t->period) & mask;
		}
	}
	h->seen = cur;
	sync_lines(h);
}

/* The host timer for the earliest match that can interrupt. A periodic
 * timer's fires are at least HPET_MIN_HOST_NS apart, so a guest asking
 * for a 10 ns period costs 10,000 wake-ups a second, not a host core. */
static void arm(struct hpet *h, uint64_t now)
{
	uint64_t best = 0;
	if (enabled(h)) {
		uint64_t cur = counter_at(h, now);
		for (int n = 0; n < HPET_TIMERS; n++) {
			const struct hpet_timer *t = &h->t[n];
			if (!(t->config & TN_INT_ENB) || (route(h, n) < 0 && !fsb(h, n)))
				continue;
			uint64_t mask = width(h, n), d = (t->cmp - cur) & mask;
			if (!d)
				d = mask == ~0ULL ? MAX_AHEAD_TICKS : mask + 1; /* the next wrap */
			if (d > MAX_AHEAD_TICKS)
				d = MAX_AHEAD_TICKS;
			/* the moment the counter reaches cur + d, exactly: stable
			 * across calls, so re-arming is rarely a system call */
			uint64_t at = h->base_ns + (cur + d - h->counter) * HPET_TICK_NS;
			if ((t->config & TN_PERIODIC) && at < now + HPET_MIN_HOST_NS)
				at = now + HPET_MIN_HOST_NS;
			if (!best || at < best)
				best = at;
		}
	}
	if (best == h->deadline_ns)
		return;
	h->deadline_ns = best;
	if (h->timer_fd < 0)
		return;
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(best / 1000000000ULL);
	its.it_value.tv_nsec = (long)(best % 1000000000ULL);
	timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static uint64_t read_reg(struct hpet *h, uint64_t off, uint64_t now)
{
	switch (off) {
	case REG_CAP: return hpet_caps();
	case REG_CONF: return h->config;
	case REG_ISR: return h->isr;
	case REG_COUNTER: return counter_at(h, now);
	}
	if (off < REG_TIMER0 || off >= REG_TIMER0 + HPET_TIMERS * TIMER_STRIDE)
		return 0;
	int n = (int)((off - REG_TIMER0) / TIMER_STRIDE);
	switch ((off - REG_TIMER0) % TIMER_STRIDE) {
	case T_CONF: return h->t[n].config | timer_caps(n);
	case T_CMP: return h->t[n].cmp;
	case T_FSB: return h->t[n].fsb;
	}
	return 0;
}

static void write_conf(struct hpet *h, uint64_t v, uint64_t now)
{
	uint64_t old = h->config;
	v &= CONF_ENABLE | CONF_LEGACY;
	if ((old & CONF_ENABLE) && !(v & CONF_ENABLE))
		h->counter = counter_at(h, now); /* halted: keeps its value */
	if (!(old & CONF_ENABLE) && (v & CONF_ENABLE)) {
		h->base_ns = now;
		h->seen = h->counter;
	}
	bool leg_on = (v & CONF_LEGACY) && !(old & CONF_LEGACY);
	bool leg_off = !(v & CONF_LEGACY) && (old & CONF_LEGACY);
	if (leg_on && h->legacy)
		h->legacy(h->ctx, true); /* PIT and RTC off IRQ 0/8 before we drive them */
	h->config = v;
	sync_lines(h);
	if (leg_off && h->legacy)
		h->legacy(h->ctx, false);
}

static void write_timer(struct hpet *h, int n, uint64_t reg, uint64_t val, uint64_t m)
{
	struct hpet_timer *t = &h->t[n];
	if (reg == T_CONF) {
		uint64_t caps = timer_caps(n);
		uint64_t wr = TN_LEVEL | TN_INT_ENB | TN_VAL_SET | TN_ROUTE | TN_FSB_EN;
		if (caps & TN_PER_CAP)
			wr |= TN_PERIODIC;
		if (caps & TN_SIZE_CAP)
			wr |= TN_32MODE;
		uint64_t v = (((t->config | caps) & ~m) | (val & m)) & wr;
		if ((t->config & TN_LEVEL) && !(v & TN_LEVEL))
			h->isr &= ~(1ULL << n); /* edge timers have no status */
		t->config = v;
		if (is32(h, n)) {
			t->cmp &= 0xffffffffULL;
			t->period &= 0xffffffffULL;
		}
	} else if (reg == T_CMP) {
		/* Periodic: a write sets the period; with Tn_VAL_SET also the
		 * comparator (the accumulator), and VAL_SET clears itself (one
		 * write: Linux writes comparator, then period, 32 bits each). */
		bool periodic = t->config & TN_PERIODIC, set = !periodic || (t->config & TN_VAL_SET);
		uint64_t base = set ? t->cmp : t->period;
		uint64_t v = ((base & ~m) | (val & m)) & width(h, n);
		if (set)
			t->cmp = v;
		if (periodic)
			t->period = v;
		t->config &= ~(uint64_t)TN_VAL_SET;
	} else if (reg == T_FSB) {
		t->fsb = (t->fsb & ~m) | (val & m);
	}
}

static void write_reg(struct hpet *h, uint64_t off, uint64_t val, uint64_t m, uint64_t now)
{
	switch (off) {
	case REG_CONF:
		write_conf(h, (h->config & ~m) | (val & m), now);
		return;
	case REG_ISR:
		h->isr &= ~(val & m & ((1ULL << HPET_TIMERS) - 1)); /* write 1 to clear */
		return;
	case REG_COUNTER: {
		/* the spec wants the counter halted first; taken either way */
		uint64_t v = (counter_at(h, now) & ~m) | (val & m);
		h->counter = h->seen = v;
		h->base_ns = now;
		return;
	}
	}
	if (off >= REG_TIMER0 && off < REG_TIMER0 + HPET_TIMERS * TIMER_STRIDE)
		write_timer(h, (int)((off - REG_TIMER0) / TIMER_STRIDE), (off - REG_TIMER0) % TIMER_STRIDE, val, m);
}

/* Accesses of any width and alignment: each 8-byte register the bytes
 * fall in is read, or written with a byte mask of what the guest wrote. */
void hpet_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct hpet *h = dev;
	uint64_t off = addr - HPET_BASE;
	if (!is_write)
		memset(data, 0, len);
	if (off >= HPET_SIZE || len > 8 || len > HPET_SIZE - off)
		return;
	pthread_mutex_lock(&h->lock);
	uint64_t now = h->now();
	advance(h, now);
	for (uint64_t reg = off & ~7ULL; reg < off + len; reg += 8) {
		uint64_t v = 0, m = 0;
		for (uint32_t i = 0; i < len; i++) {
			uint64_t a = off + i;
			if (a < reg || a >= reg + 8)
				continue;
			unsigned sh = (unsigned)(a - reg) * 8;
			m |= 0xffULL << sh;
			v |= (uint64_t)data[i] << sh;
		}
		if (is_write) {
			write_reg(h, reg, v, m, now);
			continue;
		}
		uint64_t r = read_reg(h, reg, now);
		for (uint32_t i = 0; i < len; i++)
			if (off + i >= reg && off + i < reg + 8)
				data[i] = (uint8_t)(r >> ((off + i - reg) * 8));
	}
	if (is_write)
		sync_lines(h);
	arm(h, now);
	pthread_mutex_unlock(&h->lock);
}

void hpet_update(struct hpet *h)
{
	pthread_mutex_lock(&h->lock);
	uint64_t now = h->now();
	advance(h, now);
	h->deadline_ns = 0; /* it fired: arm again even for the same time */
	arm(h, now);
	pthread_mutex_unlock(&h->lock);
}

void hpet_tick(void *arg)
{
	struct hpet *h = arg;
	uint64_t n;
	if (h->timer_fd >= 0 && read(h->timer_fd, &n, sizeof(n)) < 0)
		return;
	hpet_update(h);
}

int hpet_init(struct hpet *h, uint64_t (*now)(void), void (*irq)(void *, int, int),
	      void (*legacy)(void *, bool), void *ctx)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->now = now ? now : now_ns;
	h->irq = irq;
	h->legacy = legacy;
	h->signal_msi = vm_signal_msi;
	h->ctx = ctx;
	for (int n = 0; n < HPET_TIMERS; n++)
		h->t[n].cmp = width(h, n); /* all ones after reset, as the spec says */
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return h->timer_fd < 0 ? -1 : 0;
}

void hpet_exit(struct hpet *h)
{
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	h->timer_fd = -1;
	pthread_mutex_destroy(&h->lock);
}
