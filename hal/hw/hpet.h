/* HPET (IA-PC HPET 1.0a): 1 KiB of MMIO at 0xFED00000, a 100 MHz 64-bit
 * counter and three comparators on IOAPIC pins 20-23, as FSB (MSI)
 * messages, or on IRQ 0 and 8 in legacy replacement mode. */
#ifndef HPET_H
#define HPET_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define HPET_BASE     0xFED00000ULL
#define HPET_SIZE     0x400
#define HPET_TIMERS   3
#define HPET_PERIOD_FS 10000000u           /* 10 ns: 100 MHz */
#define HPET_TICK_NS  10
/* The host timer of a periodic comparator fires at most this often,
 * whatever period the guest programs (missed periods are skipped). */
#define HPET_MIN_HOST_NS 100000ULL          /* 100 us */
#define HPET_ROUTE_CAP 0x00f00000u          /* IOAPIC pins 20-23 */
#define HPET_MIN_TICK  (HPET_MIN_HOST_NS / HPET_TICK_NS) /* the ACPI table's */

struct hpet_timer {
	uint64_t config;    /* the writable bits of Tn_CONF (caps are added on read) */
	uint64_t cmp;       /* comparator; 32-bit timers keep it below 2^32 */
	uint64_t period;    /* periodic mode: what a match adds to cmp */
	uint64_t fsb;       /* FSB route: message data (low half), address (high half) */
};

struct hpet {
	pthread_mutex_t lock;
	uint64_t config;    /* ENABLE_CNF, LEG_RT_CNF */
	uint64_t isr;       /* general interrupt status, level-triggered timers */
	uint64_t counter;   /* the main counter at base_ns (or while halted) */
	uint64_t base_ns;
	uint64_t seen;      /* counter value up to which matches have been taken */
	struct hpet_timer t[HPET_TIMERS];
	bool line[24];      /* what each GSI was last driven to by a level timer */
	int timer_fd;       /* CLOCK_MONOTONIC timerfd for the next enabled match, or -1 */
	uint64_t deadline_ns; /* when timer_fd fires; 0: disarmed */
	uint64_t (*now)(void);                  /* CLOCK_MONOTONIC ns (tests: a fake) */
	void (*irq)(void *ctx, int gsi, int level);
	/* LEG_RT_CNF changed: the board takes IRQ 0 from the PIT and IRQ 8
	 * from the RTC (on) or gives them back (off). */
	void (*legacy)(void *ctx, bool on);
	int (*signal_msi)(uint64_t addr, uint32_t data); /* Tn_FSB_EN_CNF (vm_signal_msi) */
	void *ctx;
};

/* now may be NULL (now_ns). -1 if the timerfd cannot be made. */
int hpet_init(struct hpet *h, uint64_t (*now)(void), void (*irq)(void *, int, int),
	      void (*legacy)(void *, bool), void *ctx);
void hpet_exit(struct hpet *h);
/* MMIO at HPET_BASE: any offset and width; unknown registers read 0. */
void hpet_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
/* timer_fd is readable (event loop): take the matches that are due. */
void hpet_tick(void *h);
/* The same without reading the fd: the unit tests after moving the clock. */
void hpet_update(struct hpet *h);
/* General capabilities and ID; the ACPI table's event timer block id is its
 * low 32 bits. */
uint64_t hpet_caps(void);
#endif
