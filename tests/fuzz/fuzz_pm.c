/* The ACPI PM block (PM1 event/control/timer at its base, 64 bytes), the
 * APM ports 0xB2/0xB3, GPE0 at 0xAFE0, reset control (0x92, 0xCF9) and the
 * power button. Kinds: 0-2 PM block, 3 APM, 4 GPE0, 5 reset ports, 6 the
 * power button, 7 a fresh block. */
#include "fuzz.h"
#include "hw/pm.h"
#include "hw/reset.h"

static void sci(int level) { (void)level; }
static void sleep_cb(int typ) { (void)typ; }
static void reset(void) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pm p;
	struct reset_ctl rc = { .reset = reset };
	pm_init(&p, sci, sleep_cb);
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 512 && fz_op(&f, &o, 1); n++) {
		switch (o.kind % 8) {
		case 3: fz_io(pm_apm_io, &p, 0xb2 + (o.addr & 1), o.len, o.val, o.write); break;
		case 4: fz_io(pm_gpe_io, &p, 0xafe0 + (o.addr & 3), o.len, o.val, o.write); break;
		case 5: fz_io(reset_io, &rc, o.addr & 1 ? 0xcf9 : 0x92, o.len, o.val, o.write); break;
		case 6: pm_power_button(&p); break;
		case 7: pm_init(&p, sci, sleep_cb); break;
		default: fz_io(pm_io, &p, 0x600 + (o.addr & 0x3f), o.len, o.val, o.write);
		}
	}
	return 0;
}
