/* i8042: enough of the controller, keyboard and mouse protocol for firmware
 * and Linux to probe them, plus the two classic reset paths (command 0xFE and
 * output port bit 0). Bytes queue behind the one-byte output buffer; IRQ 1 or
 * 12 is raised while a byte waits and its interrupt is enabled in the CTR. */
#include <string.h>

#include "core/hal.h"
#include "hw/i8042.h"

enum {
	ST_OBF = 0x01, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10, ST_AUXOBF = 0x20,
	CTR_KBDINT = 0x01, CTR_AUXINT = 0x02, CTR_SYS = 0x04, CTR_KBDDIS = 0x10, CTR_AUXDIS = 0x20,
	CTR_XLATE = 0x40,
	ACK = 0xfa,
};

static unsigned qlen(const struct i8042 *k)
{
	return k->qhead - k->qtail;
}

static void push(struct i8042 *k, uint8_t byte, int aux)
{
	if (qlen(k) == I8042_QUEUE)
		return; /* a full controller drops, like the real one */
	k->q[k->qhead % I8042_QUEUE].byte = byte;
	k->q[k->qhead % I8042_QUEUE].aux = (uint8_t)aux;
	k->qhead++;
}

/* Host input moves into the output buffer only when it is empty, so it
 * never splits a command's reply. */
static void feed(struct i8042 *k)
{
	if (qlen(k))
		return;
	if (k->in_head != k->in_tail && !(k->ctr & CTR_KBDDIS))
		push(k, k->in[k->in_tail++ % I8042_INPUT], 0);
	else if (k->aux_head != k->aux_tail && !(k->ctr & CTR_AUXDIS))
		push(k, k->in_aux[k->aux_tail++ % I8042_INPUT], 1);
}

static void update_irq(struct i8042 *k)
{
	feed(k);
	int l1 = 0, l12 = 0;
	if (qlen(k)) {
		if (k->q[k->qtail % I8042_QUEUE].aux)
			l12 = !!(k->ctr & CTR_AUXINT);
		else
			l1 = !!(k->ctr & CTR_KBDINT);
	}
	if (k->irq && l1 != k->irq1)
		k->irq(1, l1);
	if (k->irq && l12 != k->irq12)
		k->irq(12, l12);
	k->irq1 = l1;
	k->irq12 = l12;
}

void i8042_init(struct i8042 *k, void (*irq)(int, int), void (*reset)(void))
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_XLATE;
	k->irq = irq;
	k->reset = reset;
}

static void kbd_command(struct i8042 *k, uint8_t v)
{
	if (k->kbd_arg_cmd) { /* argument of 0xED, 0xF0, 0xF3 */
		uint8_t cmd = k->kbd_arg_cmd;
		k->kbd_arg_cmd = 0;
		push(k, ACK, 0);
		if (cmd == 0xf0 && v == 0)
			push(k, 2, 0); /* we speak scancode set 2 */
		return;
	}
	switch (v) {
	case 0xff: /* reset, self-test passed */
		k->kbd_off = 0;
		k->in_tail = k->in_head;
		push(k, ACK, 0);
		push(k, 0xaa, 0);
		break;
	case 0xf4: k->kbd_off = 0; push(k, ACK, 0); break;
	case 0xf5: k->kbd_off = 1; push(k, ACK, 0); break;
	case 0xf2: push(k, ACK, 0); push(k, 0xab, 0); push(k, 0x83, 0); break; /* MF2 keyboard */
	case 0xee: push(k, 0xee, 0); break;                            /* echo */
	case 0xed: case 0xf0: case 0xf3: k->kbd_arg_cmd = v; push(k, ACK, 0); break;
	default: push(k, ACK, 0); break;
	}
}

static void aux_command(struct i8042 *k, uint8_t v)
{
	if (k->aux_arg_cmd) { /* argument of 0xE8, 0xF3 */
		if (k->aux_arg_cmd == 0xf3) { /* 200, 100, 80: IntelliMouse wheel */
			k->rates[0] = k->rates[1];
			k->rates[1] = k->rates[2];
			k->rates[2] = v;
			if (k->rates[0] == 200 && k->rates[1] == 100 && k->rates[2] == 80)
				k->aux_id = 3;
		}
		k->aux_arg_cmd = 0;
		push(k, ACK, 1);
		return;
	}
	switch (v) {
	case 0xff: /* reset: defaults, reporting off */
		k->aux_stream = 0;
		k->aux_id = 0;
		k->aux_tail = k->aux_head;
		push(k, ACK, 1);
		push(k, 0xaa, 1);
		push(k, 0x00, 1);
		break;
	case 0xf2: push(k, ACK, 1); push(k, k->aux_id, 1); break;
	case 0xf4: k->aux_stream = 1; push(k, ACK, 1); break;
	case 0xf5: case 0xf6: k->aux_stream = 0; push(k, ACK, 1); break;
	case 0xe9: push(k, ACK, 1); push(k, 0x00, 1); push(k, 0x02, 1); push(k, 0x64, 1); break;
	case 0xe8: case 0xf3: k->aux_arg_cmd = v; push(k, ACK, 1); break;
	default: push(k, ACK, 1); break;
	}
}

static void controller_command(struct i8042 *k, uint8_t v)
{
	switch (v) {
	case 0x20: push(k, k->ctr, 0); break;
	case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: k->pending_cmd = v; break;
	case 0xa7: k->ctr |= CTR_AUXDIS; break;
	case 0xa8: k->ctr &= (uint8_t)~CTR_AUXDIS; break;
	case 0xa9: case 0xab: push(k, 0x00, 0); break; /* interface tests pass */
	case 0xaa: k->ctr |= CTR_SYS; push(k, 0x55, 0); break;
	case 0xad: k->ctr |= CTR_KBDDIS; break;
	case 0xae: k->ctr &= (uint8_t)~CTR_KBDDIS; break;
	case 0xc0: push(k, 0x80, 0); break; /* input port: keyboard not inhibited */
	case 0xd0: push(k, 0x03, 0); break; /* output port: A20 on, no reset */
	default:
		if ((v & 0xf0) == 0xf0 && !(v & 1) && k->reset)
			k->reset(); /* pulse output line 0: CPU reset (0xFE) */
		break;
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;
	k->pending_cmd = 0;
	switch (cmd) {
	case 0x60: k->ctr = v; break;
	case 0xd1: if (!(v & 1) && k->reset) k->reset(); break;
	case 0xd2: push(k, v, 0); break;
	case 0xd3: push(k, v, 1); break;
	case 0xd4: aux_command(k, v); break;
	default: kbd_command(k, v); break;
	}
}

void i8042_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct i8042 *k = dev;
	pthread_mutex_lock(&k->lock);
	if (addr == 0x64) {
		if (is_write) {
			k->last_was_cmd = 1;
			controller_command(k, data[0]);
		} else {
			uint8_t st = ST_UNLOCKED | (k->ctr & CTR_SYS) | (k->last_was_cmd ? ST_CMD : 0);
			if (qlen(k))
				st |= ST_OBF | (k->q[k->qtail % I8042_QUEUE].aux ? ST_AUXOBF : 0);
			data[0] = st;
		}
	} else if (is_write) {
		k->last_was_cmd = 0;
		data_write(k, data[0]);
	} else {
		/* An empty output buffer reads as the last byte again, as on the
		 * real controller (a late IRQ 1 handler then sees a repeat, not 0). */
		if (qlen(k))
			k->last = k->q[k->qtail++ % I8042_QUEUE].byte;
		data[0] = k->last;
		/* The next byte moves into the output buffer as a new interrupt:
		 * drop the line so the edge-triggered PIC/IOAPIC sees it rise again. */
		if (k->irq1 && k->irq)
			k->irq(1, 0);
		if (k->irq12 && k->irq)
			k->irq(12, 0);
		k->irq1 = k->irq12 = 0;
	}
	for (uint32_t i = 1; !is_write && i < len; i++)
		data[i] = 0xff;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void put_in(struct i8042 *k, uint8_t b)
{
	if (k->in_head - k->in_tail < I8042_INPUT)
		k->in[k->in_head++ % I8042_INPUT] = b;
}

void i8042_key(struct i8042 *k, unsigned set1, unsigned set2, int down)
{
	pthread_mutex_lock(&k->lock);
	if (!k->kbd_off && k->in_head - k->in_tail <= I8042_INPUT - 3) {
		if (k->ctr & CTR_XLATE) {
			if (set1 & 0x100)
				put_in(k, 0xe0);
			put_in(k, (uint8_t)((set1 & 0x7f) | (down ? 0 : 0x80)));
		} else {
			if (set2 & 0x100)
				put_in(k, 0xe0);
			if (!down)
				put_in(k, 0xf0);
			put_in(k, (uint8_t)set2);
		}
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void i8042_mouse(struct i8042 *k, int dx, int dy, int wheel, unsigned buttons)
{
	pthread_mutex_lock(&k->lock);
	int n = k->aux_id == 3 ? 4 : 3;
	if (k->aux_stream && k->aux_head - k->aux_tail <= I8042_INPUT - (unsigned)n) {
		int ox = dx < -256 || dx > 255, oy = dy < -256 || dy > 255;
		dx = clamp(dx, -256, 255);
		dy = clamp(dy, -256, 255);
		uint8_t b[4] = {
			(uint8_t)(0x08 | (buttons & 7) | (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0) | (ox ? 0x40 : 0) |
				  (oy ? 0x80 : 0)),
			(uint8_t)dx, (uint8_t)dy, (uint8_t)(clamp(wheel, -8, 7) & 0x0f),
		};
		for (int i = 0; i < n; i++)
			k->in_aux[k->aux_head++ % I8042_INPUT] = b[i];
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}
