/* MC146818 RTC: time from the host clock (UTC) plus whatever offset the
 * guest set, BCD or binary and 12/24 h as register B says, status registers
 * A-D, and the periodic, update and alarm interrupts on IRQ 8 (INT 15h/86h
 * waits in SeaBIOS depend on the periodic one). The NVRAM carries what the
 * firmware reads at boot: memory sizes, CPU count, boot order. */
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "core/hal.h"
#include "hw/rtc.h"

enum {
	SEC = 0, SEC_ALARM = 1, MIN = 2, MIN_ALARM = 3, HOUR = 4, HOUR_ALARM = 5, WDAY = 6, MDAY = 7,
	MONTH = 8, YEAR = 9, REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d, CENTURY = 0x32,
	B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM = 0x04, B_24H = 0x02,
	C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10,
	A_UIP = 0x80,
};

/* A clock register from v: binary, or BCD of v's last two digits (a guest
 * can set the clock before 1900, making tm_year % 100 negative). */
static uint8_t to_bcd(const struct rtc *r, int v)
{
	unsigned u = (unsigned)(v % 100 + 100) % 100;
	return (r->nvram[REG_B] & B_DM) ? (uint8_t)v : (uint8_t)((u / 10) << 4 | (u % 10));
}

static int from_bcd(const struct rtc *r, uint8_t v)
{
	return (r->nvram[REG_B] & B_DM) ? v : (v >> 4) * 10 + (v & 0xf);
}

time_t rtc_guest_time(const struct rtc *r)
{
	return time(NULL) + r->offset;
}

static uint8_t hour_reg(const struct rtc *r, int h)
{
	if (r->nvram[REG_B] & B_24H)
		return to_bcd(r, h);
	int h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(to_bcd(r, h12) | (h >= 12 ? 0x80 : 0));
}

/* Refresh the time registers from the clock (not while SET holds them). */
static void latch_time(struct rtc *r)
{
	if (r->nvram[REG_B] & B_SET)
		return;
	time_t t = rtc_guest_time(r);
	struct tm tm;
	gmtime_r(&t, &tm);
	r->nvram[SEC] = to_bcd(r, tm.tm_sec);
	r->nvram[MIN] = to_bcd(r, tm.tm_min);
	r->nvram[HOUR] = hour_reg(r, tm.tm_hour);
	r->nvram[WDAY] = to_bcd(r, tm.tm_wday + 1);
	r->nvram[MDAY] = to_bcd(r, tm.tm_mday);
	r->nvram[MONTH] = to_bcd(r, tm.tm_mon + 1);
	int year = tm.tm_year + 1900; /* 1850 is century 18, year 50 */
	r->nvram[YEAR] = to_bcd(r, year % 100);
	r->nvram[CENTURY] = to_bcd(r, year / 100);
}

/* The guest finished setting the clock: remember how far it is from ours. */
static void store_time(struct rtc *r)
{
	struct tm tm = { 0 };
	tm.tm_sec = from_bcd(r, r->nvram[SEC]);
	tm.tm_min = from_bcd(r, r->nvram[MIN]);
	uint8_t h = r->nvram[HOUR];
	if (r->nvram[REG_B] & B_24H)
		tm.tm_hour = from_bcd(r, h);
	else
		tm.tm_hour = from_bcd(r, h & 0x7f) % 12 + ((h & 0x80) ? 12 : 0);
	tm.tm_mday = from_bcd(r, r->nvram[MDAY]);
	tm.tm_mon = from_bcd(r, r->nvram[MONTH]) - 1;
	tm.tm_year = from_bcd(r, r->nvram[YEAR]) + (from_bcd(r, r->nvram[CENTURY]) - 19) * 100;
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		r->offset = (int64_t)(t - time(NULL));
}

static void update_irq(struct rtc *r)
{
	uint8_t c = r->nvram[REG_C] & (C_PF | C_AF | C_UF);
	uint8_t en = (uint8_t)(r->nvram[REG_B] & (B_PIE | B_AIE | B_UIE));
	if (c & en)
		c |= C_IRQF;
	r->nvram[REG_C] = c;
	int level = !!(c & C_IRQF);
	if (level != r->irq_level) {
		r->irq_level = level;
		if (r->irq)
			r->irq(level);
	}
}

/* Arm the timer for the periodic rate (register A) or, for update and
 * alarm interrupts, once a second; disarm when nothing is enabled. */
static void program_timer(struct rtc *r)
{
	if (r->timer_fd < 0)
		return;
	struct itimerspec its = { 0 };
	unsigned rate = r->nvram[REG_A] & 0x0f;
	if ((r->nvram[REG_B] & B_PIE) && rate) {
		if (rate <= 2)
			rate += 7; /* 1 and 2 alias 8 and 9 on the real chip */
		long ns = (long)(1000000000LL >> (16 - rate)); /* 1 s / (32768 Hz >> (rate - 1)) */
		its.it_interval.tv_nsec = its.it_value.tv_nsec = ns ? ns : 1;
	} else if (r->nvram[REG_B] & (B_UIE | B_AIE)) {
		its.it_interval.tv_nsec = its.it_value.tv_nsec = 100000000; /* check 10x a second */
	}
	timerfd_settime(r->timer_fd, 0, &its, NULL);
}

void rtc_tick(void *arg)
{
	struct rtc *r = arg;
	uint64_t n;
	if (r->timer_fd >= 0 && read(r->timer_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&r->lock);
	if ((r->nvram[REG_B] & B_PIE) && (r->nvram[REG_A] & 0x0f))
		r->nvram[REG_C] |= C_PF;
	time_t now = rtc_guest_time(r);
	if (now != r->last_update && !(r->nvram[REG_B] & B_SET)) {
		r->last_update = now;
		r->nvram[REG_C] |= C_UF;
		latch_time(r);
		/* alarm: each field matches, or is "don't care" (0xC0-0xFF) */
		int match = 1;
		for (int i = 0; i < 3; i++) {
			uint8_t alarm = r->nvram[SEC_ALARM + 2 * i];
			match &= (alarm & 0xc0) == 0xc0 || alarm == r->nvram[SEC + 2 * i];
		}
		if (match)
			r->nvram[REG_C] |= C_AF;
	}
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
}

/* CMOS memory sizes saturate (as in QEMU's pc_cmos_init) rather than wrap. */
static uint16_t sat16(uint64_t v) { return v > 0xffff ? 0xffff : (uint16_t)v; }

int rtc_init(struct rtc *r, const struct rtc_cfg *c, void (*irq)(int))
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->irq = irq;
	r->nvram[REG_A] = 0x26;        /* 32.768 kHz divider, 1024 Hz rate */
	r->nvram[REG_B] = B_24H;       /* BCD, 24 hour */
	r->nvram[REG_D] = 0x80;        /* valid RAM and time */
	r->nvram[0x10] = 0;            /* no floppy */
	r->nvram[0x14] = 0x06;         /* equipment: FPU, VGA */
	put_le16(r->nvram + 0x15, 640);        /* base memory, KiB */
	uint64_t ext = c->low_ram > MiB ? (c->low_ram - MiB) / KiB : 0;
	put_le16(r->nvram + 0x17, sat16(ext)); /* extended memory, KiB */
	put_le16(r->nvram + 0x30, sat16(ext));
	/* SeaBIOS's CMOS_MEM_EXTMEM2 (64 KiB units above 16 MiB) and
	 * CMOS_MEM_HIGHMEM (64 KiB units above 4 GiB, 24 bits, cut) */
	put_le16(r->nvram + 0x34, sat16(c->low_ram > 16 * MiB ? (c->low_ram - 16 * MiB) >> 16 : 0));
	put_le(r->nvram + 0x5b, c->high_ram >> 16, 3);
	r->nvram[0x5f] = (uint8_t)(c->ncpus - 1);
	r->nvram[0x3d] = (uint8_t)(c->boot_order[0] | c->boot_order[1] << 4);
	r->nvram[0x38] = (uint8_t)(c->boot_order[2] << 4 | 1); /* bit 0: skip the floppy check */
	latch_time(r);
	r->last_update = rtc_guest_time(r);
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	return r->timer_fd < 0 ? -1 : 0;
}

void rtc_exit(struct rtc *r)
{
	if (r->timer_fd >= 0)
		close(r->timer_fd);
	r->timer_fd = -1;
}

void rtc_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct rtc *r = dev;
	pthread_mutex_lock(&r->lock);
	if (addr == 0x70) {
		if (is_write)
			r->index = data[0] & 0x7f; /* bit 7 masks NMI: nothing to mask here */
		else
			data[0] = 0xff;            /* write-only on real boards; SeaBIOS relies on 0xFF */
	} else if (!is_write) {
		uint8_t i = r->index;
		if (i < 10 || i == CENTURY)
			latch_time(r);
		data[0] = r->nvram[i];
		if (i == REG_A) {
			/* UIP is set for the last 244 us of each second */
			uint64_t ns = now_ns() % 1000000000ULL;
			if (!(r->nvram[REG_B] & B_SET) && ns >= 1000000000ULL - 244000)
				data[0] |= A_UIP;
		} else if (i == REG_C) {
			r->nvram[REG_C] = 0; /* reading C acknowledges everything */
			update_irq(r);
		}
	} else {
		uint8_t i = r->index, v = data[0];
		switch (i) {
		case REG_A:
			r->nvram[REG_A] = v & 0x7f;
			program_timer(r);
			break;
		case REG_B: {
			uint8_t old = r->nvram[REG_B];
			if ((old & B_SET) && !(v & B_SET)) {
				r->nvram[REG_B] = v;
				store_time(r);
			}
			r->nvram[REG_B] = (v & B_SET) ? (uint8_t)(v & ~B_UIE) : v;
			program_timer(r);
			update_irq(r);
			break;
		}
		case REG_C: case REG_D:
			break; /* read-only */
		default:
			r->nvram[i] = v;
			break;
		}
	}
	for (uint32_t k = 1; k < len; k++)
		if (!is_write)
			data[k] = 0xff;
	pthread_mutex_unlock(&r->lock);
}
