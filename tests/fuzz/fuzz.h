/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c, docs/security.md):
 * a reader over the input, the (address, size, value, read/write) operation
 * most targets decode their input into, and a guest RAM that is one
 * malloc'd buffer of exactly its size, so any access outside it is an ASan
 * error. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_more(const struct fz *f) { return f->n > 0; }

/* n bytes (n <= 8), little endian; missing bytes are 0. */
static inline uint64_t fz_u(struct fz *f, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n && f->n; i++, f->p++, f->n--)
		v |= (uint64_t)*f->p << (8 * i);
	return v;
}

/* Up to n bytes of the input (fewer at its end); returns how many. */
static inline size_t fz_bytes(struct fz *f, void *dst, size_t n)
{
	if (n > f->n)
		n = f->n;
	memcpy(dst, f->p, n);
	f->p += n;
	f->n -= n;
	return n;
}

/* One access: a control byte (bit 0 write, bits 1-2 size 1/2/4/8, bits 3-7
 * for the target: which handler), abytes of address, and the value for a
 * write. */
struct fz_op {
	uint8_t kind;  /* control byte >> 3 */
	bool write;
	uint32_t len;
	uint64_t addr, val;
};

static inline bool fz_op(struct fz *f, struct fz_op *o, unsigned abytes)
{
	if (!fz_more(f))
		return false;
	uint8_t c = (uint8_t)fz_u(f, 1);
	o->kind = c >> 3;
	o->write = c & 1;
	o->len = 1u << ((c >> 1) & 3);
	o->addr = fz_u(f, abytes);
	o->val = o->write ? fz_u(f, o->len) : 0;
	return true;
}

/* Calls fn for the op: a write stores val, a read fills a buffer that is
 * exactly len bytes (an over-long store by the handler is an ASan error). */
static inline uint64_t fz_io(io_fn *fn, void *dev, uint64_t addr, uint32_t len, uint64_t val, bool write)
{
	uint8_t *d = malloc(len);
	uint64_t r = 0;
	memcpy(d, &val, len);
	fn(dev, addr, d, len, write);
	memcpy(&r, d, len);
	free(d);
	return r;
}

/* Guest RAM [0, size): one region over a malloc'd buffer. */
static inline void fz_ram(struct guest_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->ram_size = m->low_end = size;
	m->base = calloc(1, size);
	m->regions[0] = (struct mem_region){ 0, size, m->base };
	m->nregions = 1;
}

static inline void fz_ram_free(struct guest_mem *m)
{
	free(m->base);
	m->base = NULL;
}
#endif
