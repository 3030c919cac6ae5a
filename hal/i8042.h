/* i8042 keyboard controller with a PS/2 keyboard and mouse behind it. */
#ifndef I8042_H
#define I8042_H
#include <pthread.h>
#include <stdint.h>

#define I8042_QUEUE 64

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;          /* controller command byte */
	uint8_t pending_cmd;  /* controller command waiting for its data byte */
	uint8_t kbd_arg_cmd;  /* keyboard command waiting for its argument */
	uint8_t aux_arg_cmd;  /* mouse command waiting for its argument */
	uint8_t last_was_cmd;
	struct { uint8_t byte, aux; } q[I8042_QUEUE];
	unsigned qhead, qtail;
	int irq1, irq12;      /* current line levels */
	void (*irq)(int irq, int level);
	void (*reset)(void);
};

void i8042_init(struct i8042 *k, void (*irq)(int, int), void (*reset)(void));
void i8042_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
#endif
