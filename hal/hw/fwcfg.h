/* QEMU's firmware configuration interface (fw_cfg): selector 0x510, data
 * 0x511, DMA 0x514. SeaBIOS and OVMF read memory map, CPU count, ACPI tables
 * and boot order from it. */
#ifndef FWCFG_H
#define FWCFG_H
#include <pthread.h>
#include <stdint.h>

#include "core/hal.h"

enum {
	FW_CFG_SIGNATURE = 0x00, FW_CFG_ID = 0x01, FW_CFG_UUID = 0x02, FW_CFG_RAM_SIZE = 0x03,
	FW_CFG_NOGRAPHIC = 0x04, FW_CFG_NB_CPUS = 0x05, FW_CFG_BOOT_MENU = 0x0e, FW_CFG_MAX_CPUS = 0x0f,
	FW_CFG_FILE_DIR = 0x19, FW_CFG_FILE_FIRST = 0x20, FW_CFG_IRQ0_OVERRIDE = 0x8002,
	FW_CFG_DMA_ERROR = 1, FW_CFG_DMA_READ = 2, FW_CFG_DMA_SKIP = 4, FW_CFG_DMA_SELECT = 8,
	FW_CFG_DMA_WRITE = 16,
};

#define FWCFG_MAX_ITEMS 48
struct fwcfg_item {
	uint16_t key;
	char name[56];          /* files only */
	uint8_t *data;
	uint32_t size;
	/* Called when the guest selects the item, before it reads (tables that
	 * depend on what firmware programmed are built then). */
	void (*on_select)(struct fwcfg_item *it, void *ctx);
	void *ctx;
};

struct fwcfg {
	pthread_mutex_t lock;
	struct fwcfg_item items[FWCFG_MAX_ITEMS];
	int nitems, nfiles;
	struct fwcfg_item *cur;
	uint32_t offset;
	uint32_t dma_hi;
	struct guest_mem *mem;
};

void fwcfg_init(struct fwcfg *f, struct guest_mem *mem);
void fwcfg_exit(struct fwcfg *f);
int fwcfg_add(struct fwcfg *f, uint16_t key, const void *data, uint32_t size);
int fwcfg_add_u16(struct fwcfg *f, uint16_t key, uint16_t v);
int fwcfg_add_u32(struct fwcfg *f, uint16_t key, uint32_t v);
/* Adds a named file; returns the item (for on_select) or NULL. */
struct fwcfg_item *fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t size);
/* Replace an item's contents (from an on_select hook). */
int fwcfg_item_set(struct fwcfg_item *it, const void *data, uint32_t size);
void fwcfg_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, _Bool is_write);
#endif
