#ifndef DEBUG_H
#define DEBUG_H
#include <stdint.h>

#define DEBUGCON_PORT 0x402
#define MARKER_PORT   0x440

struct debugport {
	int debugcon_fd;        /* -1: debugcon output dropped */
	uint32_t markers, last_marker;
};

void debugcon_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
void marker_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
#endif
