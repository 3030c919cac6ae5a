/* CFI flash (Intel/Sharp command set, one 8-bit device) for OVMF's variable
 * store. The commands follow QEMU's pflash_cfi01, which is what OVMF's
 * QemuFlashFvbServicesRuntimeDxe is written against:
 *   0xFF/0xF0/0x00 read array       0x50 clear status (status = 0, read array)
 *   0x10/0x40 + data program        0x70 read status (reads return it)
 *   0x20 + 0xD0 erase a 4 KiB block 0x90 read ID, 0x98 CFI query
 * OVMF detects the flash by writing 0x50, then 0x70, and wants to read 0x00:
 * so the status is 0 after reset and after 0x50, and program/erase set 0x80
 * (ready). Programming stores the byte as given (QEMU does; OVMF only
 * programs erased bytes). After an erase the device returns to read-array
 * mode: OVMF reads the block next without writing 0xFF first.
 * Writes reach the backing file at once (pwrite); fdatasync runs when the
 * guest returns to read-array mode, which ends every OVMF write sequence. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/hal.h"
#include "hw/pflash.h"

void pflash_init(struct pflash *f, uint64_t base, uint8_t *mem, uint64_t size, int fd,
		 void (*set_array)(void *ctx, bool array), void *ctx)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->base = base;
	f->mem = mem;
	f->size = size;
	f->fd = fd;
	f->set_array = set_array;
	f->ctx = ctx;
	f->array = true;
}

static void set_mode(struct pflash *f, uint8_t cmd)
{
	f->cmd = cmd;
	f->wcycle = false;
	bool array = cmd == 0;
	if (array != f->array) {
		f->array = array;
		if (f->set_array)
			f->set_array(f->ctx, array);
	}
}

int pflash_sync(struct pflash *f)
{
	if (!f->dirty || f->fd < 0)
		return 0;
	f->dirty = false;
	if (fdatasync(f->fd) < 0) {
		warnx("UEFI variable store: fdatasync: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void pflash_reset(struct pflash *f)
{
	pthread_mutex_lock(&f->lock);
	pflash_sync(f);
	f->status = 0;
	f->array = false; /* force the call: the slot is mapped afresh */
	set_mode(f, 0);
	pthread_mutex_unlock(&f->lock);
}

static void store(struct pflash *f, uint64_t off, const uint8_t *src, uint64_t len)
{
	memcpy(f->mem + off, src, len);
	if (f->fd < 0)
		return;
	ssize_t n = pwrite(f->fd, src, len, (off_t)off);
	if (n != (ssize_t)len) {
		warnx("UEFI variable store: write at 0x%llx: %s", (unsigned long long)off,
		      n < 0 ? strerror(errno) : "short write");
		f->status |= PFLASH_SR_PROGRAM_ERR;
	}
	f->dirty = true;
}

/* The CFI query table (QEMU's values for a 1-byte-wide device). */
static uint8_t cfi_byte(const struct pflash *f, uint64_t off)
{
	uint64_t blocks = f->size / PFLASH_BLOCK;
	int log2 = 0;
	while ((1ULL << log2) < f->size)
		log2++;
	switch (off) {
	case 0x10: return 'Q';
	case 0x11: return 'R';
	case 0x12: return 'Y';
	case 0x13: return 0x01; /* Intel command set */
	case 0x15: return 0x31;
	case 0x1b: return 0x45;
	case 0x1c: return 0x55;
	case 0x1f: return 0x07;
	case 0x20: return 0x07;
	case 0x21: return 0x0a;
	case 0x23: return 0x04;
	case 0x24: return 0x04;
	case 0x25: return 0x04;
	case 0x27: return (uint8_t)log2;
	case 0x28: return 0x02;
	case 0x2a: return 0x0b;
	case 0x2c: return 0x01; /* one uniform erase region */
	case 0x2d: return (uint8_t)(blocks - 1);
	case 0x2e: return (uint8_t)((blocks - 1) >> 8);
	case 0x2f: return (uint8_t)(PFLASH_BLOCK >> 8);
	case 0x30: return (uint8_t)(PFLASH_BLOCK >> 16);
	default: return 0;
	}
}

static void do_read(struct pflash *f, uint64_t off, uint8_t *data, uint32_t len)
{
	memset(data, 0, len);
	switch (f->cmd) {
	case 0:
		for (uint32_t i = 0; i < len; i++)
			data[i] = off + i < f->size ? f->mem[off + i] : 0xff;
		break;
	case PFLASH_READ_ID:
		data[0] = off == 0 ? 0x89 : off == 1 ? 0x18 : 0; /* Intel, 28F128J3 */
		break;
	case PFLASH_CFI_QUERY:
		data[0] = cfi_byte(f, off);
		break;
	default: /* program, erase, status: the status register */
		data[0] = f->status;
		break;
	}
}

static void do_write(struct pflash *f, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint8_t v = data[0];
	if (f->wcycle) {
		if (f->cmd == PFLASH_PROGRAM) {
			store(f, off, data, len < f->size - off ? len : f->size - off);
			f->programs++;
			f->status |= PFLASH_SR_READY;
			f->wcycle = false; /* reads keep returning the status until 0xFF */
			return;
		}
		/* erase */
		if (v == PFLASH_ERASE_CONFIRM) {
			static const uint8_t ones[PFLASH_BLOCK] = { [0 ... PFLASH_BLOCK - 1] = 0xff };
			store(f, off & ~(uint64_t)(PFLASH_BLOCK - 1), ones, PFLASH_BLOCK);
			f->erases++;
			f->status |= PFLASH_SR_READY;
			set_mode(f, 0);
			pflash_sync(f);
		} else { /* a sequence error: erase error + program error, as real parts */
			f->status |= PFLASH_SR_ERASE_ERR | PFLASH_SR_PROGRAM_ERR;
			set_mode(f, 0);
		}
		return;
	}
	switch (v) {
	case 0x00: case 0xf0: case PFLASH_READ_ARRAY:
		set_mode(f, 0);
		pflash_sync(f);
		break;
	case PFLASH_PROGRAM: case PFLASH_PROGRAM2:
		set_mode(f, PFLASH_PROGRAM);
		f->wcycle = true;
		break;
	case PFLASH_ERASE:
		set_mode(f, PFLASH_ERASE);
		f->wcycle = true;
		break;
	case PFLASH_CLEAR_STATUS:
		f->status = 0;
		set_mode(f, 0);
		pflash_sync(f);
		break;
	case PFLASH_READ_STATUS: case PFLASH_READ_ID: case PFLASH_CFI_QUERY:
		set_mode(f, v);
		break;
	default: /* unknown: back to read array, as QEMU */
		dbg("UEFI variable store: unknown flash command 0x%02x at 0x%llx", v, (unsigned long long)off);
		set_mode(f, 0);
		break;
	}
}

void pflash_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct pflash *f = dev;
	uint64_t off = addr - f->base;
	if (addr < f->base || off >= f->size || !len) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (is_write)
		do_write(f, off, data, len);
	else
		do_read(f, off, data, len);
	pthread_mutex_unlock(&f->lock);
}
