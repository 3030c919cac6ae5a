/* i8042 keyboard controller with a PS/2 keyboard and mouse behind it. */
#ifndef I8042_H
#define I8042_H
#include <pthread.h>
#include <stdint.h>

#define I8042_QUEUE 64
#define I8042_INPUT 1024

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;          /* controller command byte */
	uint8_t pending_cmd;  /* controller command waiting for its data byte */
	uint8_t kbd_arg_cmd;  /* keyboard command waiting for its argument */
	uint8_t aux_arg_cmd;  /* mouse command waiting for its argument */
	uint8_t last_was_cmd;
	uint8_t last;         /* last byte read from the output buffer */
	struct { uint8_t byte, aux; } q[I8042_QUEUE];
	unsigned qhead, qtail;
	int irq1, irq12;      /* current line levels */
	/* Input from the host waits here and moves into the output buffer one
	 * byte at a time when it is empty (the keyboard's and mouse's own FIFOs). */
	uint8_t in[I8042_INPUT];
	uint8_t in_aux[I8042_INPUT];
	unsigned in_head, in_tail, aux_head, aux_tail;
	uint8_t kbd_off;      /* 0xF5: scanning disabled */
	uint8_t aux_stream;   /* 0xF4: data reporting on */
	uint8_t aux_id;       /* 0 plain, 3 IntelliMouse (wheel) */
	uint8_t rates[3];     /* last three sample rates: 200,100,80 unlocks the wheel */
	void (*irq)(int irq, int level);
	void (*reset)(void);
};

void i8042_init(struct i8042 *k, void (*irq)(int, int), void (*reset)(void));
/* Host input. A key: its set-1 and set-2 make codes (bit 8: 0xE0 prefix);
 * set 1 goes out while the controller translates (CTR bit 6), else set 2.
 * Dropped while the keyboard is disabled. */
void i8042_key(struct i8042 *k, unsigned set1, unsigned set2, int down);
/* A mouse movement (PS/2: y up), when the guest enabled data reporting. */
void i8042_mouse(struct i8042 *k, int dx, int dy, int wheel, unsigned buttons);
void i8042_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
#endif
