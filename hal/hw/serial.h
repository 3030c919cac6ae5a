/* 16550A UART model (COM1), independent of KVM so it can be unit tested. */
#ifndef SERIAL_H
#define SERIAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_RX_SIZE 4096

struct serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr_err, msr_delta, scr, dll, dlm;
	uint8_t fcr;
	int thr_ipending;   /* THRE interrupt pending until IIR is read or THR written */
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_tail; /* free-running indices */
	int irq_level;
	int out_fd;         /* where guest output goes, -1 to drop */
	void (*irq)(void *ctx, int level);
	void *irq_ctx;
	uint64_t tx_bytes;
};

void serial_init(struct serial *s, int out_fd, void (*irq)(void *, int), void *ctx);
/* Port handler; `addr` is the absolute port, the base is 8-aligned. */
void serial_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
/* Host input; returns how many bytes were taken (less when the FIFO is full). */
size_t serial_rx(struct serial *s, const uint8_t *buf, size_t len);
#endif
