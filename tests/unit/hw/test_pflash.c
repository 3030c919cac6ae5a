/* The CFI flash of the UEFI variable store (hal/hw/pflash.c), driven the way
 * OVMF's QemuFlashFvbServicesRuntimeDxe drives it. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/hal.h"
#include "hw/pflash.h"

#define BASE 0xFFC00000ULL
#define SIZE (4 * PFLASH_BLOCK)

static uint8_t mem[SIZE];
static int array_calls, array_state = -1;
static void set_array(void *ctx, bool array) { (void)ctx; array_calls++; array_state = array; }

static void setup(struct pflash *f, int fd)
{
	for (int i = 0; i < SIZE; i++)
		mem[i] = (uint8_t)(i * 7 + 1);
	array_calls = 0;
	array_state = -1;
	pflash_init(f, BASE, mem, SIZE, fd, set_array, NULL);
	pflash_reset(f);
}

static uint8_t rd(struct pflash *f, uint64_t off)
{
	uint8_t v = 0;
	pflash_io(f, BASE + off, &v, 1, false);
	return v;
}
static void wr(struct pflash *f, uint64_t off, uint8_t v) { pflash_io(f, BASE + off, &v, 1, true); }

static void pflash_reset_maps_array(void)
{
	struct pflash f;
	setup(&f, -1);
	CHECK_EQ(array_state, 1);
	CHECK_EQ(array_calls, 1);
	CHECK_EQ(rd(&f, 0x10), mem[0x10]);
	uint8_t q[8];
	pflash_io(&f, BASE + 8, q, 8, false); /* wide array reads */
	CHECK(!memcmp(q, mem + 8, 8));
}

/* QemuFlashDetected: 0x50 then read (must be the original byte: not RAM),
 * 0x70 then read (must be 0x00: flash, not ROM), then 0xFF. */
static void pflash_ovmf_detection_sees_flash(void)
{
	struct pflash f;
	setup(&f, -1);
	uint8_t orig = rd(&f, 0x10);
	wr(&f, 0x10, PFLASH_CLEAR_STATUS);
	CHECK_EQ(rd(&f, 0x10), orig);
	CHECK_EQ(array_state, 1);
	wr(&f, 0x10, PFLASH_READ_STATUS);
	CHECK_EQ(array_state, 0); /* the slot is unmapped: reads trap */
	CHECK_EQ(rd(&f, 0x10), 0x00);
	CHECK_EQ(rd(&f, 0x1234), 0x00); /* status at any address */
	wr(&f, 0x10, PFLASH_READ_ARRAY);
	CHECK_EQ(array_state, 1);
	CHECK_EQ(rd(&f, 0x10), orig);
	CHECK_EQ(mem[0x10], orig); /* commands never change the contents */
}

/* QemuFlashWrite: 0x10, byte, 0x10, byte, ..., 0xFF at the last byte. */
static void pflash_program_bytes(void)
{
	struct pflash f;
	setup(&f, -1);
	const uint8_t data[] = { 0xaa, 0x55, 0x00, 0x3f };
	for (int i = 0; i < 4; i++) {
		wr(&f, 0x64 + i, PFLASH_PROGRAM);
		CHECK_EQ(array_state, 0);
		wr(&f, 0x64 + i, data[i]);
		CHECK_EQ(rd(&f, 0x64 + i), PFLASH_SR_READY); /* status, not data */
	}
	CHECK_EQ(array_calls, 2); /* unmapped once for the whole sequence */
	wr(&f, 0x67, PFLASH_READ_ARRAY);
	CHECK_EQ(array_state, 1);
	CHECK_EQ(array_calls, 3);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(rd(&f, 0x64 + i), data[i]);
	CHECK_EQ(mem[0x63], (uint8_t)(0x63 * 7 + 1));
	CHECK_EQ(mem[0x68], (uint8_t)(0x68 * 7 + 1));
	CHECK_EQ(f.programs, 4);
	/* 0x40 is the other program command */
	wr(&f, 0x70, PFLASH_PROGRAM2);
	wr(&f, 0x70, 0x12);
	wr(&f, 0x70, PFLASH_READ_ARRAY);
	CHECK_EQ(mem[0x70], 0x12);
}

static void pflash_erase_block(void)
{
	struct pflash f;
	setup(&f, -1);
	wr(&f, PFLASH_BLOCK + 0x123, PFLASH_ERASE);
	CHECK_EQ(array_state, 0);
	CHECK_EQ(rd(&f, PFLASH_BLOCK), 0x00); /* status while the command is open */
	wr(&f, PFLASH_BLOCK + 0x123, PFLASH_ERASE_CONFIRM);
	CHECK_EQ(array_state, 1); /* back to read array (OVMF sends no 0xFF) */
	for (int i = 0; i < PFLASH_BLOCK; i++)
		CHECK_EQ(mem[PFLASH_BLOCK + i], 0xff);
	CHECK_EQ(mem[PFLASH_BLOCK - 1], (uint8_t)((PFLASH_BLOCK - 1) * 7 + 1));
	CHECK_EQ(mem[2 * PFLASH_BLOCK], (uint8_t)(2 * PFLASH_BLOCK * 7 + 1));
	CHECK_EQ(f.erases, 1);
	/* status says ready; 0x50 clears it */
	wr(&f, 0, PFLASH_READ_STATUS);
	CHECK_EQ(rd(&f, 0), PFLASH_SR_READY);
	wr(&f, 0, PFLASH_CLEAR_STATUS);
	wr(&f, 0, PFLASH_READ_STATUS);
	CHECK_EQ(rd(&f, 0), 0);
	wr(&f, 0, PFLASH_READ_ARRAY);
	/* an erase not confirmed is an error and erases nothing */
	wr(&f, 0, PFLASH_ERASE);
	wr(&f, 0, 0x77);
	CHECK_EQ(mem[0], 1);
	wr(&f, 0, PFLASH_READ_STATUS);
	CHECK(rd(&f, 0) & PFLASH_SR_ERASE_ERR);
	wr(&f, 0, PFLASH_READ_ARRAY);
}

static void pflash_query_and_id(void)
{
	struct pflash f;
	setup(&f, -1);
	wr(&f, 0x55, PFLASH_CFI_QUERY);
	CHECK_EQ(rd(&f, 0x10), 'Q');
	CHECK_EQ(rd(&f, 0x11), 'R');
	CHECK_EQ(rd(&f, 0x12), 'Y');
	CHECK_EQ(rd(&f, 0x2d) + 1, SIZE / PFLASH_BLOCK);
	CHECK_EQ(rd(&f, 0x2f) << 8, PFLASH_BLOCK);
	wr(&f, 0, PFLASH_READ_ID);
	CHECK_EQ(rd(&f, 0), 0x89);
	wr(&f, 0, 0xf0); /* also read array */
	CHECK_EQ(array_state, 1);
	CHECK_EQ(rd(&f, 0), mem[0]);
	wr(&f, 0, 0xe8); /* unknown (buffered write): read array again */
	CHECK_EQ(array_state, 1);
	CHECK_EQ(rd(&f, 0), mem[0]);
}

static void pflash_writes_reach_file(void)
{
	char path[] = "/tmp/test_pflash_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	struct pflash f;
	setup(&f, fd);
	CHECK(pwrite(fd, mem, SIZE, 0) == SIZE);
	wr(&f, 0x200, PFLASH_PROGRAM);
	wr(&f, 0x200, 0x5a);
	wr(&f, 0x200, PFLASH_READ_ARRAY);
	wr(&f, 3 * PFLASH_BLOCK, PFLASH_ERASE);
	wr(&f, 3 * PFLASH_BLOCK, PFLASH_ERASE_CONFIRM);
	CHECK(!f.dirty); /* synced on the way back to read array */
	uint8_t back[SIZE];
	CHECK(pread(fd, back, SIZE, 0) == SIZE);
	CHECK(!memcmp(back, mem, SIZE));
	CHECK_EQ(back[0x200], 0x5a);
	CHECK_EQ(back[3 * PFLASH_BLOCK + 17], 0xff);
	close(fd);
}

static void pflash_out_of_range(void)
{
	struct pflash f;
	setup(&f, -1);
	uint8_t v = 0;
	pflash_io(&f, BASE + SIZE, &v, 1, false);
	CHECK_EQ(v, 0xff);
	v = PFLASH_PROGRAM;
	pflash_io(&f, BASE - 1, &v, 1, true);
	CHECK_EQ(array_state, 1);
	/* a wide program at the very end is clamped */
	wr(&f, SIZE - 2, PFLASH_PROGRAM);
	uint8_t w[4] = { 1, 2, 3, 4 };
	pflash_io(&f, BASE + SIZE - 2, w, 4, true);
	wr(&f, SIZE - 2, PFLASH_READ_ARRAY);
	CHECK_EQ(mem[SIZE - 2], 1);
	CHECK_EQ(mem[SIZE - 1], 2);
}

int main(void)
{
	RUN(pflash_reset_maps_array);
	RUN(pflash_ovmf_detection_sees_flash);
	RUN(pflash_program_bytes);
	RUN(pflash_erase_block);
	RUN(pflash_query_and_id);
	RUN(pflash_writes_reach_file);
	RUN(pflash_out_of_range);
	return 0;
}
