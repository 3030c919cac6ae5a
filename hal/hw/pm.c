/* ACPI PM1 registers as PIIX4 lays them out from the PM base:
 *   +0 PM1_STS (write 1 to clear)  +2 PM1_EN  +4 PM1_CNT  +8 PM_TMR (24 bit)
 * SLP_EN in PM1_CNT hands SLP_TYP to the machine (S5 = power off); the SCI
 * follows STS & EN while SCI_EN is set. */
#include <string.h>

#include "core/hal.h"
#include "hw/pm.h"

void pm_init(struct pm *p, void (*sci)(int), void (*sleep)(int))
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->t0_ns = now_ns();
	p->sci = sci;
	p->sleep = sleep;
}

uint32_t pm_timer(const struct pm *p, uint64_t now)
{
	uint64_t ns = now - p->t0_ns;
	/* ticks = ns * 3579545 / 1e9, split to stay inside 64 bits */
	uint64_t ticks = (ns / 1000000000ULL) * PM_TIMER_HZ + (ns % 1000000000ULL) * PM_TIMER_HZ / 1000000000ULL;
	return (uint32_t)(ticks & 0xffffff);
}

static void update_sci(struct pm *p)
{
	int level = (p->cnt & PM1_CNT_SCI_EN) && (p->sts & p->en & (PM1_TMR_STS | PM1_PWRBTN_STS));
	if (level != p->sci_level) {
		p->sci_level = level;
		if (p->sci)
			p->sci(level);
	}
}

static uint8_t reg_read(struct pm *p, unsigned off)
{
	switch (off) { /* PM_TMR (+8) is read by pm_io, as one snapshot */
	case 0: case 1: return (uint8_t)(p->sts >> (8 * (off & 1)));
	case 2: case 3: return (uint8_t)(p->en >> (8 * (off & 1)));
	case 4: case 5: return (uint8_t)(p->cnt >> (8 * (off & 1)));
	default: return 0xff;
	}
}

void pm_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct pm *p = dev;
	unsigned off = addr & 63;
	int slp = -1;
	pthread_mutex_lock(&p->lock);
	if (!is_write) {
		/* a 32-bit timer read must be one snapshot, not four */
		uint32_t t = pm_timer(p, now_ns());
		for (uint32_t i = 0; i < len; i++)
			data[i] = (off + i >= 8 && off + i < 12) ? (uint8_t)(t >> (8 * (off + i - 8)))
							       : reg_read(p, off + i);
	} else {
		for (uint32_t i = 0; i < len; i++) {
			unsigned o = off + i, sh = 8 * (o & 1);
			uint16_t v = (uint16_t)(data[i] << sh), m = (uint16_t)(0xff << sh);
			if (o < 2)
				p->sts &= (uint16_t)~v; /* write one to clear */
			else if (o < 4)
				p->en = (uint16_t)((p->en & ~m) | v);
			else if (o < 6) {
				uint16_t cnt = (uint16_t)((p->cnt & ~m) | v);
				if (cnt & (1 << 13)) /* SLP_EN: act on it, never store it */
					slp = (cnt >> 10) & 7;
				p->cnt = cnt & (uint16_t)~(1 << 13);
			}
		}
	}
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
	if (slp >= 0 && p->sleep)
		p->sleep(slp);
}

void pm_apm_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct pm *p = dev;
	pthread_mutex_lock(&p->lock);
	if (addr == 0xb2 && is_write) {
		/* No SMM here: the ACPI enable/disable handshake is done directly. */
		if (data[0] == 0xf1)
			p->cnt |= PM1_CNT_SCI_EN;
		else if (data[0] == 0xf0)
			p->cnt &= (uint16_t)~PM1_CNT_SCI_EN;
	} else if (addr == 0xb3 && is_write) {
		p->apm_sts = data[0];
	} else if (!is_write) {
		data[0] = addr == 0xb3 ? p->apm_sts : 0;
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
	}
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
}

void pm_gpe_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct pm *p = dev;
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < len; i++) {
		unsigned o = (unsigned)((addr + i) & 3);
		if (!is_write)
			data[i] = p->gpe[o];
		else if (o < 2)
			p->gpe[o] &= (uint8_t)~data[i]; /* status: write one to clear */
		else
			p->gpe[o] = data[i];
	}
	pthread_mutex_unlock(&p->lock);
}

void pm_power_button(struct pm *p)
{
	pthread_mutex_lock(&p->lock);
	p->sts |= PM1_PWRBTN_STS;
	update_sci(p);
	pthread_mutex_unlock(&p->lock);
}
