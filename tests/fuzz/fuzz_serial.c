/* The 16550A (COM1, ports 0x3F8-0x3FF): register accesses with host input
 * arriving in between. Kinds: 0-5 a register access, 6 host input (the
 * next n input bytes), 7 a fresh device. Output goes to a pipe the harness
 * empties. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "hw/serial.h"

static int out[2] = { -1, -1 };
static void irq(void *ctx, int level) { (void)ctx; (void)level; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct serial s;
	static uint8_t buf[4096];
	if (out[0] < 0 && pipe2(out, O_NONBLOCK) < 0)
		abort();
	serial_init(&s, out[1], irq, NULL);
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 512 && fz_op(&f, &o, 1); n++) {
		if (o.kind % 8 == 6) {
			size_t len = fz_bytes(&f, buf, o.addr);
			serial_rx(&s, buf, len);
		} else if (o.kind % 8 == 7) {
			serial_init(&s, out[1], irq, NULL);
		} else {
			fz_io(serial_io, &s, 0x3f8 + (o.addr & 7), o.len, o.val, o.write);
		}
	}
	while (read(out[0], buf, sizeof(buf)) > 0)
		;
	return 0;
}
