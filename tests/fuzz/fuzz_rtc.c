/* The MC146818 RTC and CMOS (ports 0x70/0x71): index and data accesses,
 * every register including the clock in BCD and binary, 12/24 h, the
 * alarm and the periodic rate, with timer ticks in between. Kinds: 0-5 a
 * port access (address bit 0: 0x70 or 0x71), 6 a timer tick, 7 read the
 * guest's time. */
#include <unistd.h>

#include "fuzz.h"
#include "hw/rtc.h"

static void irq(int level) { (void)level; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rtc r;
	struct rtc_cfg c = { 128 * MiB, 2 * GiB, 4, { 2, 3, 0 } };
	if (rtc_init(&r, &c, irq) < 0)
		abort();
	struct fz f = { data, size };
	struct fz_op o;
	for (int n = 0; n < 512 && fz_op(&f, &o, 1); n++) {
		switch (o.kind % 8) {
		case 6: rtc_tick(&r); break;
		case 7: (void)rtc_guest_time(&r); break;
		default: fz_io(rtc_io, &r, 0x70 + (o.addr & 1), o.len, o.val, o.write);
		}
	}
	rtc_exit(&r);
	return 0;
}
