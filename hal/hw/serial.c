/* 16550A UART. Transmit is immediate (THR is always empty again by the time
 * the guest looks), receive goes through a FIFO fed by the event loop, and
 * the interrupt output follows the 16550 rules: IIR priority, THRE cleared
 * by reading IIR, OUT2 gating the line as on PC serial cards. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/hal.h"
#include "hw/serial.h"

enum {
	IER_RDA = 1, IER_THRE = 2, IER_RLS = 4, IER_MSI = 8,
	LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40,
	MCR_DTR = 1, MCR_RTS = 2, MCR_OUT1 = 4, MCR_OUT2 = 8, MCR_LOOP = 0x10,
	LCR_DLAB = 0x80,
	IIR_NONE = 1, IIR_MSI = 0, IIR_THRE = 2, IIR_RDA = 4, IIR_RLS = 6,
};

static unsigned rx_count(const struct serial *s)
{
	return s->rx_head - s->rx_tail;
}

static uint8_t msr(const struct serial *s)
{
	if (s->mcr & MCR_LOOP) /* loopback wires the modem outputs to the inputs */
		return (uint8_t)(((s->mcr & MCR_RTS) << 3) | ((s->mcr & MCR_DTR) << 5) |
				 ((s->mcr & MCR_OUT1) << 4) | ((s->mcr & MCR_OUT2) << 4) | s->msr_delta);
	return 0xb0 | s->msr_delta; /* DCD, DSR, CTS: a cable with someone on it */
}

static uint8_t iir_id(const struct serial *s)
{
	if ((s->ier & IER_RLS) && s->lsr_err)
		return IIR_RLS;
	if ((s->ier & IER_RDA) && rx_count(s))
		return IIR_RDA;
	if ((s->ier & IER_THRE) && s->thr_ipending)
		return IIR_THRE;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct serial *s)
{
	int level = iir_id(s) != IIR_NONE && (s->mcr & MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->irq)
			s->irq(s->irq_ctx, level);
	}
}

void serial_init(struct serial *s, int out_fd, void (*irq)(void *, int), void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->irq_ctx = ctx;
	s->dll = 12; /* 9600 baud */
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (rx_count(s) == SERIAL_RX_SIZE) {
		s->lsr_err |= LSR_OE;
		return;
	}
	s->rx[s->rx_head++ % SERIAL_RX_SIZE] = c;
}

static void transmit(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
	} else if (s->out_fd >= 0) {
		while (write(s->out_fd, &c, 1) < 0 && errno == EINTR)
			;
	}
	s->tx_bytes++;
	s->thr_ipending = 1;
}

static uint8_t reg_read(struct serial *s, unsigned off)
{
	uint8_t v = 0;
	switch (off) {
	case 0:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (rx_count(s))
			v = s->rx[s->rx_tail++ % SERIAL_RX_SIZE];
		return v;
	case 1:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case 2:
		v = iir_id(s);
		if (v == IIR_THRE)
			s->thr_ipending = 0; /* reading IIR acknowledges THRE */
		return v | ((s->fcr & 1) ? 0xc0 : 0);
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		v = LSR_THRE | LSR_TEMT | s->lsr_err | (rx_count(s) ? LSR_DR : 0);
		s->lsr_err = 0;
		return v;
	case 6:
		v = msr(s);
		s->msr_delta = 0;
		return v;
	default:
		return s->scr;
	}
}

static void reg_write(struct serial *s, unsigned off, uint8_t v)
{
	switch (off) {
	case 0:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case 1:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRE while THR is empty raises it at once. */
			if (!(s->ier & IER_THRE) && (v & IER_THRE))
				s->thr_ipending = 1;
			s->ier = v & 0x0f;
		}
		break;
	case 2:
		if (v & 2)
			s->rx_tail = s->rx_head; /* clear the receive FIFO */
		s->fcr = v & 0xc9;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & 0x1f;
		break;
	case 7:
		s->scr = v;
		break;
	}
}

void serial_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct serial *s = dev;
	unsigned off = addr & 7;
	pthread_mutex_lock(&s->lock);
	/* Wider accesses are handled byte by byte, as on the ISA bus. */
	for (uint32_t i = 0; i < len && off + i < 8; i++) {
		if (is_write)
			reg_write(s, off + i, data[i]);
		else
			data[i] = reg_read(s, off + i);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	if (!(s->mcr & MCR_LOOP))
		while (n < len && rx_count(s) < SERIAL_RX_SIZE)
			rx_push(s, buf[n++]);
	if (n < len && !(s->mcr & MCR_LOOP))
		s->lsr_err |= LSR_OE; /* the rest is lost, as on a real UART */
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}
