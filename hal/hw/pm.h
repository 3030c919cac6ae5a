/* ACPI PM block (PIIX4 style): PM1 event/control, PM timer, APM port 0xB2. */
#ifndef PM_H
#define PM_H
#include <pthread.h>
#include <stdint.h>

struct pm {
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
	uint8_t gpe[4], apm_sts;
	uint64_t t0_ns;          /* PM timer epoch */
	int sci_level;
	void (*sci)(int level);
	void (*sleep)(int slp_typ); /* SLP_EN written */
};

#define PM_TIMER_HZ 3579545ULL
enum { PM1_TMR_STS = 1, PM1_PWRBTN_STS = 1 << 8, PM1_WAK_STS = 1 << 15, PM1_CNT_SCI_EN = 1 };

void pm_init(struct pm *p, void (*sci)(int), void (*sleep)(int));
void pm_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);   /* base..base+63 */
void pm_apm_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write); /* 0xB2, 0xB3 */
void pm_gpe_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write); /* 0xAFE0..3 */
void pm_power_button(struct pm *p);
uint32_t pm_timer(const struct pm *p, uint64_t now);
#endif
