/* fw_cfg: the selector (0x510), the data port (0x511) and DMA (0x514 high
 * half, 0x518 low half starting the transfer) with descriptors and buffers
 * in a 64 KiB guest RAM, over items like the ones pc/firmware.c adds
 * (numbers, files and the directory, an item rebuilt when selected).
 * Kinds: 0 selector, 1 data, 2 DMA high, 3 DMA low, 4-5 guest RAM stores
 * (the value, or the next n input bytes), 6 a DMA transfer at the
 * address, 7 fresh items. */
#include "fuzz.h"
#include "hw/fwcfg.h"

#define RAM 0x10000

static void rebuilt(struct fwcfg_item *it, void *ctx)
{
	static uint8_t n;
	uint8_t blob[300];
	memset(blob, ++n, sizeof(blob));
	fwcfg_item_set(it, blob, 100 + n % 200); /* a size that changes */
}

static void items(struct fwcfg *f, struct guest_mem *m)
{
	fwcfg_init(f, m);
	fwcfg_add(f, FW_CFG_SIGNATURE, "QEMU", 4);
	fwcfg_add_u32(f, FW_CFG_ID, 3);
	fwcfg_add_u16(f, FW_CFG_NB_CPUS, 2);
	fwcfg_add(f, FW_CFG_UUID, "0123456789abcdef", 16);
	fwcfg_add_file(f, "bootorder", "/pci@i0cf8/*@3\n", 16);
	fwcfg_add_file(f, "etc/empty", "", 0);
	struct fwcfg_item *it = fwcfg_add_file(f, "etc/acpi/tables", "x", 1);
	if (it)
		it->on_select = rebuilt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fwcfg f;
	struct guest_mem m;
	fz_ram(&m, RAM);
	items(&f, &m);
	struct fz fz = { data, size };
	struct fz_op o;
	for (int n = 0; n < 256 && fz_op(&fz, &o, 2); n++) {
		uint8_t be[4];
		switch (o.kind % 8) {
		case 0: fz_io(fwcfg_io, &f, 0x510, o.len, o.val, o.write); break;
		case 1: fz_io(fwcfg_io, &f, 0x511, o.len, o.val, o.write); break;
		case 2: fz_io(fwcfg_io, &f, 0x514, o.len, o.val, o.write); break;
		case 3: fz_io(fwcfg_io, &f, 0x518, o.len, o.val, o.write); break;
		case 4:
			if (o.addr + o.len <= RAM)
				memcpy(m.base + o.addr, &o.val, o.len);
			break;
		case 5: {
			size_t len = (size_t)fz_u(&fz, 1);
			fz_bytes(&fz, m.base + o.addr % RAM, len < RAM - o.addr % RAM ? len : RAM - o.addr % RAM);
			break;
		}
		case 6: /* the address written big endian, as firmware does */
			be[0] = 0, be[1] = 0, be[2] = (uint8_t)(o.addr >> 8), be[3] = (uint8_t)o.addr;
			fwcfg_io(&f, 0x518, be, 4, true);
			break;
		default:
			fwcfg_exit(&f);
			items(&f, &m);
		}
	}
	fwcfg_exit(&f);
	fz_ram_free(&m);
	return 0;
}
