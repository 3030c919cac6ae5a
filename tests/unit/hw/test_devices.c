/* Device models on the host: what a guest driver would see. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/hal.h"
#include "hw/i8042.h"
#include "hw/pm.h"
#include "hw/serial.h"

static int irq_level[16], irq_edges[16];
static void irq_cb(void *ctx, int level) { (void)ctx; if (level && !irq_level[4]) irq_edges[4]++; irq_level[4] = level; }
static void isa_cb(int irq, int level) { if (level && !irq_level[irq]) irq_edges[irq]++; irq_level[irq] = level; }

static uint8_t in8(io_fn *fn, void *dev, uint16_t port)
{
	uint8_t v = 0;
	fn(dev, port, &v, 1, 0);
	return v;
}
static void out8(io_fn *fn, void *dev, uint16_t port, uint8_t v) { fn(dev, port, &v, 1, 1); }

static void serial_output_reaches_host(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct serial s;
	serial_init(&s, p[1], irq_cb, NULL);
	const char *msg = "hello";
	for (const char *c = msg; *c; c++) {
		CHECK(in8(serial_io, &s, 0x3fd) & 0x20); /* THR empty before each byte */
		out8(serial_io, &s, 0x3f8, (uint8_t)*c);
	}
	char buf[8] = { 0 };
	CHECK_EQ(read(p[0], buf, sizeof(buf)), 5);
	CHECK(!strcmp(buf, "hello"));
	close(p[0]);
	close(p[1]);
}

static void serial_thre_interrupt_needs_out2_and_clears_on_iir(void)
{
	struct serial s;
	memset(irq_level, 0, sizeof(irq_level));
	serial_init(&s, -1, irq_cb, NULL);
	out8(serial_io, &s, 0x3f9, 0x02);       /* IER: THRE */
	CHECK_EQ(irq_level[4], 0);              /* OUT2 still off: line gated */
	out8(serial_io, &s, 0x3fc, 0x08);       /* MCR: OUT2 */
	CHECK_EQ(irq_level[4], 1);
	CHECK_EQ(in8(serial_io, &s, 0x3fa) & 0x0f, 0x02); /* IIR says THRE */
	CHECK_EQ(irq_level[4], 0);              /* ...and reading it acknowledged */
	CHECK_EQ(in8(serial_io, &s, 0x3fa) & 0x01, 1);    /* nothing pending now */
	out8(serial_io, &s, 0x3f8, 'x');        /* transmitting makes THR empty again */
	CHECK_EQ(irq_level[4], 1);
}

static void serial_receive_interrupt_and_fifo(void)
{
	struct serial s;
	memset(irq_level, 0, sizeof(irq_level));
	serial_init(&s, -1, irq_cb, NULL);
	out8(serial_io, &s, 0x3fc, 0x08);
	out8(serial_io, &s, 0x3f9, 0x01);       /* IER: received data */
	CHECK_EQ(irq_level[4], 0);
	CHECK_EQ(serial_rx(&s, (const uint8_t *)"ab", 2), 2);
	CHECK_EQ(irq_level[4], 1);
	CHECK_EQ(in8(serial_io, &s, 0x3fa) & 0x0f, 0x04);
	CHECK(in8(serial_io, &s, 0x3fd) & 0x01);
	CHECK_EQ(in8(serial_io, &s, 0x3f8), 'a');
	CHECK_EQ(irq_level[4], 1);              /* 'b' still waiting */
	CHECK_EQ(in8(serial_io, &s, 0x3f8), 'b');
	CHECK_EQ(irq_level[4], 0);
	CHECK(!(in8(serial_io, &s, 0x3fd) & 0x01));
	/* A full FIFO takes no more; the guest sees the overrun in LSR once. */
	static uint8_t big[SERIAL_RX_SIZE + 10];
	CHECK_EQ(serial_rx(&s, big, sizeof(big)), SERIAL_RX_SIZE);
	CHECK(in8(serial_io, &s, 0x3fd) & 0x02);
	CHECK(!(in8(serial_io, &s, 0x3fd) & 0x02));
}

static void serial_passes_linux_8250_probe(void)
{
	struct serial s;
	serial_init(&s, -1, NULL, NULL);
	/* autoconfig: IER must hold exactly what was written in its low nibble */
	out8(serial_io, &s, 0x3f9, 0x00);
	CHECK_EQ(in8(serial_io, &s, 0x3f9), 0);
	out8(serial_io, &s, 0x3f9, 0xff);
	CHECK_EQ(in8(serial_io, &s, 0x3f9), 0x0f);
	/* loopback: RTS/OUT2 come back as CTS/DCD, status 0x90 */
	out8(serial_io, &s, 0x3fc, 0x10 | 0x0a);
	CHECK_EQ(in8(serial_io, &s, 0x3fe) & 0xf0, 0x90);
	/* FIFO enabled: IIR top bits say 16550A */
	out8(serial_io, &s, 0x3fa, 0xc7);
	CHECK_EQ(in8(serial_io, &s, 0x3fa) & 0xc0, 0xc0);
	/* divisor latch and scratch hold their values */
	out8(serial_io, &s, 0x3fb, 0x80);
	out8(serial_io, &s, 0x3f8, 0x01);
	out8(serial_io, &s, 0x3f9, 0x00);
	CHECK_EQ(in8(serial_io, &s, 0x3f8), 1);
	out8(serial_io, &s, 0x3fb, 0x03);
	out8(serial_io, &s, 0x3ff, 0x5a);
	CHECK_EQ(in8(serial_io, &s, 0x3ff), 0x5a);
	/* loopback echoes transmitted bytes into the receiver */
	out8(serial_io, &s, 0x3f8, 'z');
	CHECK_EQ(in8(serial_io, &s, 0x3f8), 'z');
}

static int resets;
static void count_reset(void) { resets++; }

static void i8042_self_test_and_reset(void)
{
	struct i8042 k;
	memset(irq_level, 0, sizeof(irq_level));
	i8042_init(&k, isa_cb, count_reset);
	CHECK(in8(i8042_io, &k, 0x64) != 0xff);  /* a controller is present */
	out8(i8042_io, &k, 0x64, 0xaa);
	CHECK(in8(i8042_io, &k, 0x64) & 0x01);   /* output buffer full */
	CHECK_EQ(irq_level[1], 1);
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0x55);
	CHECK_EQ(irq_level[1], 0);
	out8(i8042_io, &k, 0x60, 0xff);          /* keyboard reset */
	CHECK_EQ(irq_edges[1], 2);
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0xfa);
	CHECK_EQ(irq_edges[1], 3);               /* each byte of a reply is its own interrupt */
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0xaa);
	CHECK_EQ(irq_level[1], 0);
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0xaa);  /* empty: the last byte again */
	out8(i8042_io, &k, 0x64, 0x60);          /* write CTR: no interrupts */
	out8(i8042_io, &k, 0x60, 0x00);
	out8(i8042_io, &k, 0x64, 0x20);
	CHECK_EQ(irq_level[1], 0);
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0x00);
	out8(i8042_io, &k, 0x64, 0xd4);          /* mouse: get device id */
	out8(i8042_io, &k, 0x60, 0xf2);
	CHECK_EQ(in8(i8042_io, &k, 0x64) & 0x21, 0x21); /* aux data waiting */
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0xfa);
	CHECK_EQ(in8(i8042_io, &k, 0x60), 0x00);
	CHECK_EQ(resets, 0);
	out8(i8042_io, &k, 0x64, 0xfe);          /* pulse reset line */
	CHECK_EQ(resets, 1);
	out8(i8042_io, &k, 0x64, 0xd1);          /* output port with bit 0 low */
	out8(i8042_io, &k, 0x60, 0x00);
	CHECK_EQ(resets, 2);
}

static int slept = -1, sci_level;
static void on_sleep(int typ) { slept = typ; }
static void on_sci(int level) { sci_level = level; }

static void pm_poweroff_and_acpi_enable(void)
{
	struct pm p;
	pm_init(&p, on_sci, on_sleep);
	uint8_t w[2] = { 0x00, 0x20 };           /* outw(0x604, 0x2000) */
	pm_io(&p, 0x604, w, 2, 1);
	CHECK_EQ(slept, 0);
	uint8_t r[2];
	pm_io(&p, 0x604, r, 2, 0);
	CHECK_EQ(r[1] & 0x20, 0);                /* SLP_EN is not sticky */

	CHECK_EQ(p.cnt & 1, 0);
	uint8_t en = 0xf1;
	pm_apm_io(&p, 0xb2, &en, 1, 1);          /* ACPI enable handshake */
	pm_io(&p, 0x604, r, 2, 0);
	CHECK_EQ(r[0] & 1, 1);

	uint8_t pwr[2] = { 0x00, 0x01 };         /* PM1_EN: power button */
	pm_io(&p, 0x602, pwr, 2, 1);
	pm_power_button(&p);
	CHECK_EQ(sci_level, 1);
	pm_io(&p, 0x600, pwr, 2, 1);             /* write one to clear status */
	CHECK_EQ(sci_level, 0);
}

static void pm_timer_runs_at_3_58_mhz(void)
{
	struct pm p;
	pm_init(&p, NULL, NULL);
	CHECK_EQ(pm_timer(&p, p.t0_ns + 1000000000ULL), PM_TIMER_HZ & 0xffffff);
	CHECK_EQ(pm_timer(&p, p.t0_ns + 1000000ULL), 3579);
	uint8_t a[4], b[4];
	pm_io(&p, 0x608, a, 4, 0);
	usleep(2000);
	pm_io(&p, 0x608, b, 4, 0);
	uint32_t ta = a[0] | a[1] << 8 | a[2] << 16, tb = b[0] | b[1] << 8 | b[2] << 16;
	CHECK(((tb - ta) & 0xffffff) >= 7000); /* at least 2 ms worth of ticks */
	CHECK_EQ(a[3], 0);                      /* 24-bit counter */
}

int main(void)
{
	RUN(serial_output_reaches_host);
	RUN(serial_thre_interrupt_needs_out2_and_clears_on_iir);
	RUN(serial_receive_interrupt_and_fifo);
	RUN(serial_passes_linux_8250_probe);
	RUN(i8042_self_test_and_reset);
	RUN(pm_poweroff_and_acpi_enable);
	RUN(pm_timer_runs_at_3_58_mhz);
	return 0;
}
