/* CFI (Intel command set, 8 bits wide) parallel flash holding UEFI variables:
 * OVMF's VARS store at 0xFFC00000, as QEMU's pflash_cfi01 (docs/usage.md,
 * "UEFI"). In read-array mode the guest reads a read-only memory slot and
 * only writes exit; any other command unmaps the slot (set_array(false)) so
 * that reads trap and return the status register, and 0xFF maps it again. */
#ifndef PFLASH_H
#define PFLASH_H
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PFLASH_BLOCK 0x1000 /* erase block size (OVMF's FVB uses 4 KiB) */

enum {
	PFLASH_READ_ARRAY = 0xff, PFLASH_PROGRAM = 0x10, PFLASH_PROGRAM2 = 0x40, PFLASH_ERASE = 0x20,
	PFLASH_ERASE_CONFIRM = 0xd0, PFLASH_CLEAR_STATUS = 0x50, PFLASH_READ_STATUS = 0x70,
	PFLASH_READ_ID = 0x90, PFLASH_CFI_QUERY = 0x98,
	PFLASH_SR_READY = 0x80, PFLASH_SR_ERASE_ERR = 0x20, PFLASH_SR_PROGRAM_ERR = 0x10,
};

struct pflash {
	pthread_mutex_t lock;
	uint64_t base, size;  /* guest physical range; size a multiple of PFLASH_BLOCK */
	uint8_t *mem;         /* the contents (host memory, page aligned) */
	int fd;               /* backing file (writes go through), or -1 */
	bool dirty;           /* written since the last fdatasync */
	uint8_t cmd;          /* 0: read array */
	uint8_t status;
	bool wcycle;          /* the second cycle of program/erase is due */
	bool array;           /* what set_array was last told */
	/* Read-array mode on/off: map or unmap the read-only slot. */
	void (*set_array)(void *ctx, bool array);
	void *ctx;
	uint64_t programs, erases; /* counters (logged with -v) */
};

/* mem holds size bytes (the file's contents); fd may be -1 (volatile). */
void pflash_init(struct pflash *f, uint64_t base, uint8_t *mem, uint64_t size, int fd,
		 void (*set_array)(void *ctx, bool array), void *ctx);
/* Power-on state: read-array mode, status 0 (set_array(true) is called). */
void pflash_reset(struct pflash *f);
/* fdatasync the backing file if written; 0 or -1. */
int pflash_sync(struct pflash *f);
void pflash_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);
#endif
