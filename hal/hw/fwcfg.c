/* fw_cfg: items are byte arrays found by key; files also have a name and
 * appear in the directory (key 0x19). The DMA interface takes a descriptor
 * {be32 control, be32 length, be64 address} (QEMU's
 * docs/specs/fw_cfg.rst, FWCfgDmaAccess) from guest memory; both the
 * descriptor and the buffer it names are guest-controlled and go through
 * gpa_ptr(). The transfer is done before the port write returns, since both
 * firmwares poll the control word right after. */
#include <stdlib.h>
#include <string.h>

#include "core/endian.h"
#include "hw/fwcfg.h"


void fwcfg_init(struct fwcfg *f, struct guest_mem *mem)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->mem = mem;
	fwcfg_add(f, FW_CFG_SIGNATURE, "QEMU", 4);
	fwcfg_add_u32(f, FW_CFG_ID, 3); /* traditional interface + DMA */
	fwcfg_add(f, FW_CFG_FILE_DIR, "\0\0\0\0", 4);
}

void fwcfg_exit(struct fwcfg *f)
{
	for (int i = 0; i < f->nitems; i++)
		free(f->items[i].data);
	f->nitems = f->nfiles = 0;
	f->cur = NULL;
}

static struct fwcfg_item *find(struct fwcfg *f, uint16_t key)
{
	for (int i = 0; i < f->nitems; i++)
		if (f->items[i].key == key)
			return &f->items[i];
	return NULL;
}

int fwcfg_item_set(struct fwcfg_item *it, const void *data, uint32_t size)
{
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return -1;
	memcpy(p, data, size);
	free(it->data);
	it->data = p;
	it->size = size;
	return 0;
}

int fwcfg_add(struct fwcfg *f, uint16_t key, const void *data, uint32_t size)
{
	struct fwcfg_item *it = find(f, key);
	if (!it) {
		if (f->nitems == FWCFG_MAX_ITEMS)
			return -1;
		it = &f->items[f->nitems++];
		it->key = key;
	}
	return fwcfg_item_set(it, data, size);
}

int fwcfg_add_u16(struct fwcfg *f, uint16_t key, uint16_t v)
{
	uint8_t b[2];
	put_le16(b, v);
	return fwcfg_add(f, key, b, 2);
}

int fwcfg_add_u32(struct fwcfg *f, uint16_t key, uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	return fwcfg_add(f, key, b, 4);
}

/* The directory: be32 count, then {be32 size, be16 select, u16 0, name[56]}. */
static void rebuild_dir(struct fwcfg *f)
{
	uint32_t n = 0, len = 4 + 64 * (uint32_t)f->nfiles;
	uint8_t *d = calloc(1, len);
	if (!d)
		return;
	for (int i = 0; i < f->nitems; i++) {
		struct fwcfg_item *it = &f->items[i];
		if (it->key < FW_CFG_FILE_FIRST || it->key >= FW_CFG_FILE_FIRST + f->nfiles)
			continue;
		uint8_t *e = d + 4 + 64 * (it->key - FW_CFG_FILE_FIRST);
		put_be32(e, it->size);
		put_be16(e + 4, it->key);
		memcpy(e + 8, it->name, sizeof(it->name));
		n++;
	}
	put_be32(d, n);
	fwcfg_add(f, FW_CFG_FILE_DIR, d, len);
	free(d);
}

struct fwcfg_item *fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t size)
{
	if (strlen(name) >= 56 || f->nfiles >= FWCFG_MAX_ITEMS)
		return NULL;
	uint16_t key = (uint16_t)(FW_CFG_FILE_FIRST + f->nfiles);
	if (fwcfg_add(f, key, data, size) < 0)
		return NULL;
	f->nfiles++;
	struct fwcfg_item *it = find(f, key);
	strcpy(it->name, name);
	rebuild_dir(f);
	return find(f, key);
}

static void select_item(struct fwcfg *f, uint16_t key)
{
	f->cur = find(f, key);
	f->offset = 0;
	if (f->cur && f->cur->on_select) {
		f->cur->on_select(f->cur, f->cur->ctx);
		if (f->cur->key >= FW_CFG_FILE_FIRST) {
			struct fwcfg_item *cur = f->cur;
			rebuild_dir(f); /* sizes may have changed */
			f->cur = cur;
		}
	}
}

static void dma(struct fwcfg *f, uint64_t desc_addr)
{
	uint8_t *desc = gpa_ptr(f->mem, desc_addr, 16);
	if (!desc)
		return; /* nowhere to even report the error */
	uint32_t control = get_be32(desc), len = get_be32(desc + 4);
	uint64_t addr = get_be64(desc + 8);
	uint32_t status = 0;

	if (control & FW_CFG_DMA_SELECT)
		select_item(f, (uint16_t)(control >> 16));
	if (control & FW_CFG_DMA_WRITE) {
		status = FW_CFG_DMA_ERROR; /* no writable items */
	} else if (control & (FW_CFG_DMA_READ | FW_CFG_DMA_SKIP)) {
		uint8_t *buf = NULL;
		if ((control & FW_CFG_DMA_READ) && len && !(buf = gpa_ptr(f->mem, addr, len))) {
			status = FW_CFG_DMA_ERROR;
		} else {
			uint32_t avail = f->cur && f->offset < f->cur->size ? f->cur->size - f->offset : 0;
			uint32_t n = len < avail ? len : avail;
			if (buf) {
				if (n)
					memcpy(buf, f->cur->data + f->offset, n);
				memset(buf + n, 0, len - n); /* past the end reads zeros */
			}
			f->offset += n;
		}
	}
	/* Re-check the descriptor: the copy may have overwritten its page. The
	 * control word becomes 0 or big-endian FW_CFG_DMA_ERROR (bytes 0 0 0 1),
	 * stored as one little-endian word. */
	desc = gpa_ptr(f->mem, desc_addr, 16);
	if (desc)
		__atomic_store_n((uint32_t *)(void *)desc, status ? 0x01000000u : 0, __ATOMIC_RELEASE);
}

void fwcfg_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write)
{
	struct fwcfg *f = dev;
	pthread_mutex_lock(&f->lock);
	switch (addr) {
	case 0x510: /* selector */
		if (is_write)
			select_item(f, (uint16_t)get_le(data, len < 2 ? len : 2));
		else
			memset(data, 0, len);
		break;
	case 0x511: /* data, byte-wise */
		if (is_write)
			break; /* writes were removed from fw_cfg in QEMU 2.4 */
		for (uint32_t i = 0; i < len; i++)
			data[i] = f->cur && f->offset < f->cur->size ? f->cur->data[f->offset++] : 0;
		break;
	case 0x514: /* DMA address, high half (big endian) */
	case 0x518: /* low half: starts the transfer */
		if (!is_write) {
			static const uint8_t sig[8] = "QEMU CFG";
			for (uint32_t i = 0; i < len; i++)
				data[i] = sig[(addr - 0x514 + i) & 7];
		} else if (len == 4 && addr == 0x514) {
			f->dma_hi = get_be32(data);
		} else if (len == 4) {
			dma(f, (uint64_t)f->dma_hi << 32 | get_be32(data));
			f->dma_hi = 0;
		}
		break;
	default:
		if (!is_write)
			memset(data, 0xff, len);
	}
	pthread_mutex_unlock(&f->lock);
}
