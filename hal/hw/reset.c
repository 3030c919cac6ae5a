/* The chipset's reset controls: port 0x92 (System Control Port A: bit 0 =
 * fast reset, bit 1 = A20, which is always on under KVM) and 0xCF9 (PIIX
 * reset control: bit 2 set resets). */
#include "core/hal.h"
#include "hw/reset.h"

void reset_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct reset_ctl *r = dev;
	uint8_t *reg = addr == 0x92 ? &r->port92 : &r->cf9;
	if (!is_write) {
		data[0] = *reg;
		for (uint32_t i = 1; i < len; i++)
			data[i] = 0xff;
		return;
	}
	if (addr == 0x92) {
		r->port92 = (data[0] & 0x02) | 0x02;
		if ((data[0] & 1) && r->reset)
			r->reset();
	} else {
		r->cf9 = data[0] & 0x0a;
		if ((data[0] & 4) && r->reset)
			r->reset();
	}
}
