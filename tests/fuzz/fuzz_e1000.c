/* The e1000 (hw/e1000.c) over a backend that is one end of a socketpair,
 * as tests/unit/hw/test_e1000.c drives it; the harness is the host
 * network at the other end. The first byte picks the backend: a tap
 * without or with the vnet header (SOCK_SEQPACKET), or passt's stream
 * framing (SOCK_STREAM). Then operations (fuzz.h, 3 address bytes), by
 * kind % 16: 0 BAR0 register access, 1 BAR1 (IOADDR/IODATA), 2 config
 * space, 3 a guest RAM store of the value, 4 the next n input bytes into
 * guest RAM, 5 serve the rings (e1000_process), 6 a quick set-up (rings at
 * fixed addresses, receive and transmit on, every interrupt unmasked, the
 * value as RCTL's extra bits), 7 the peer sends the next n input bytes, 8
 * the peer reads everything the guest sent. Guest RAM is 64 KiB of exact
 * size (fuzz.h): any access by the device outside it is an ASan error. */
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "hw/e1000.h"

#define FZ_RAM 0x10000
#define TXR 0x0000 /* 16 descriptors each; buffers from 0x2000 */
#define RXR 0x1000

static void drain(int fd)
{
	static uint8_t buf[NET_HDR_LEN + NET_FRAME_MAX + 64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void reg(struct e1000 *d, uint32_t off, uint32_t v) { fz_io(e1000_mmio_io, d, off, 4, v, true); }

static void setup(struct e1000 *d, uint32_t rctl)
{
	reg(d, E1000_TDBAL, TXR);
	reg(d, E1000_TDLEN, 256);
	reg(d, E1000_TDH, 0);
	reg(d, E1000_TDT, 0);
	reg(d, E1000_TCTL, 2);
	reg(d, E1000_RDBAL, RXR);
	reg(d, E1000_RDLEN, 256);
	reg(d, E1000_RDH, 0);
	reg(d, E1000_RCTL, 2 | rctl);
	reg(d, E1000_RDT, 15);
	reg(d, E1000_IMS, 0xffff);
	reg(d, E1000_CTRL, 0x40); /* SLU */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned mode = (unsigned)fz_u(&f, 1) % 3;
	int sv[2];
	if (socketpair(AF_UNIX, (mode == 2 ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	struct net_backend be = { .mode = mode == 2 ? NET_USER : NET_TAP, .fd = sv[0], .vnet_hdr = mode == 1,
				  .stream = mode == 2 };
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	struct e1000 *d = e1000_new(&be, mac);
	if (!d)
		abort();
	struct guest_mem m;
	fz_ram(&m, FZ_RAM);
	d->mem = &m;
	struct fz_op o;
	static uint8_t frame[4096];
	for (int k = 0; k < 256 && fz_op(&f, &o, 3); k++) {
		switch (o.kind % 16) {
		case 0:
			fz_io(e1000_mmio_io, d, o.addr % E1000_MMIO_SIZE, o.len, o.val, o.write);
			break;
		case 1:
			fz_io(e1000_pio_io, d, o.addr % E1000_IO_SIZE, o.len, o.val, o.write);
			break;
		case 2: { /* as 0xCFC hands it over: at most 4 bytes */
			uint8_t b[8];
			unsigned off = o.addr & 0xff, len = o.len > 4 ? 4 : o.len;
			memcpy(b, &o.val, 8);
			if (o.write)
				pci_cfg_write(&d->pci, off, b, len);
			else
				pci_cfg_read(&d->pci, off, b, len);
			break;
		}
		case 3: {
			uint64_t a = o.addr % FZ_RAM;
			if (a + o.len <= FZ_RAM)
				memcpy(m.base + a, &o.val, o.len);
			break;
		}
		case 4: {
			uint64_t a = o.addr % FZ_RAM;
			size_t n = (size_t)fz_u(&f, 2) % 4096;
			if (n > FZ_RAM - a)
				n = FZ_RAM - a;
			fz_bytes(&f, m.base + a, n);
			break;
		}
		case 5:
			e1000_process(d, NULL);
			break;
		case 6:
			setup(d, (uint32_t)o.val);
			break;
		case 7: {
			size_t len = fz_bytes(&f, frame, o.addr % sizeof(frame));
			if (send(sv[1], frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* full: the guest has not taken the earlier ones */
			}
			break;
		}
		default:
			drain(sv[1]);
		}
	}
	e1000_process(d, NULL);
	e1000_free(d); /* closes sv[0] */
	close(sv[1]);
	fz_ram_free(&m);
	return 0;
}
