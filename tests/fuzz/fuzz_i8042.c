/* The i8042 keyboard controller with its PS/2 keyboard and mouse (ports
 * 0x60 and 0x64): controller and device commands with their argument
 * bytes, and host keys and mouse movements in between. Kinds: 0-4 port
 * access (address bit 0: 0x60 or 0x64), 5 a host key (set-1 and set-2
 * codes from the value), 6 a mouse movement, 7 a fresh controller. */
#include "fuzz.h"
#include "hw/i8042.h"

static void irq(int line, int level) { (void)line; (void)level; }
static void reset(void) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct i8042 k;
	i8042_init(&k, irq, reset);
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 1024 && fz_op(&f, &o, 1); n++) {
		switch (o.kind % 8) {
		case 5: i8042_key(&k, (unsigned)o.val & 0x1ff, (unsigned)(o.val >> 16) & 0x1ff, (int)(o.addr & 1)); break;
		case 6: i8042_mouse(&k, (int8_t)o.val, (int8_t)(o.val >> 8), (int8_t)(o.val >> 16), (unsigned)o.addr & 7); break;
		case 7: i8042_init(&k, irq, reset); break;
		default: fz_io(i8042_io, &k, o.addr & 1 ? 0x64 : 0x60, o.len, o.val, o.write);
		}
	}
	return 0;
}
