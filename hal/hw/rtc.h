/* MC146818 RTC and CMOS NVRAM at ports 0x70/0x71, IRQ 8. */
#ifndef RTC_H
#define RTC_H
#include <pthread.h>
#include <stdint.h>
#include <time.h>

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t nvram[128];
	int64_t offset;         /* guest time minus host time, seconds */
	int timer_fd;           /* periodic/update interrupts, -1 when none */
	int irq_level;
	time_t last_update;     /* for the once-a-second update interrupt */
	void (*irq)(int level);
};

struct rtc_cfg {
	uint64_t low_ram, high_ram; /* bytes below and above 4 GiB */
	int ncpus;
	uint8_t boot_order[3];      /* CMOS codes: 1 floppy, 2 disk, 3 CD, 4 network */
};

int rtc_init(struct rtc *r, const struct rtc_cfg *c, void (*irq)(int));
void rtc_exit(struct rtc *r);
void rtc_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
/* The timer fd fired (event loop): raise periodic/update/alarm flags. */
void rtc_tick(void *r);
/* Current time as the guest's clock shows it (tests). */
time_t rtc_guest_time(const struct rtc *r);
#endif
