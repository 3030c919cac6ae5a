#ifndef RESET_H
#define RESET_H
#include <stdint.h>

struct reset_ctl {
	uint8_t port92, cf9;
	void (*reset)(void);
};

void reset_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
#endif
