/* Intel 82540EM ("e1000"), from the 8254x family developer's manual: the
 * registers Linux's e1000 driver and iPXE program, the Microwire EEPROM
 * (bit-banged through EECD, or one word at a time through EERD), the M88
 * PHY behind MDIC, legacy and TCP/IP context/data transmit descriptors
 * (checksums and TSO done here, in software, for every backend) and
 * legacy receive descriptors.
 *
 * Locking: d->lock covers the registers and every access to guest memory;
 * the vCPU's BAR handlers and the I/O thread both take it. Frames are
 * copied between guest RAM and the device's own buffers under it, so a
 * CTRL.RST (under the lock too) never runs while the thread is inside
 * guest memory, and the backend's send/receive calls work on those
 * buffers only. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/endian.h"
#include "hw/e1000.h"

/* CTRL, STATUS */
#define CTRL_SLU     (1u << 6)
#define CTRL_VME     (1u << 30)  /* VLAN tags: inserted on transmit, stripped on receive */
#define CTRL_RST     (1u << 26)
#define CTRL_PHY_RST (1u << 31)
#define STATUS_UP    (0x01u | 0x02u | 0x80u) /* FD, LU, 1000 Mb/s */
/* EECD: Microwire pins, arbitration, presence; 64 words (EE_SIZE 0) */
#define EECD_SK   0x001u
#define EECD_CS   0x002u
#define EECD_DI   0x004u
#define EECD_DO   0x008u
#define EECD_FWE_DIS 0x010u
#define EECD_REQ  0x040u
#define EECD_GNT  0x080u
#define EECD_PRES 0x100u
#define EE_ADDR_BITS 6
#define EE_READ   2          /* Microwire opcode after the start bit */
#define EERD_START 0x01u
#define EERD_DONE  0x10u
/* MDIC */
#define MDIC_OP_WRITE 1u
#define MDIC_OP_READ  2u
#define MDIC_READY (1u << 28)
#define MDIC_INT   (1u << 29)
#define MDIC_ERR   (1u << 30)
#define PHY_ADDR   1
/* RCTL */
#define RCTL_EN    (1u << 1)
#define RCTL_UPE   (1u << 3)
#define RCTL_MPE   (1u << 4)
#define RCTL_LPE   (1u << 5)
#define RCTL_BAM   (1u << 15)
#define RCTL_VFE   (1u << 18)
#define RCTL_BSEX  (1u << 25)
#define RCTL_SECRC (1u << 26)
#define TCTL_EN    (1u << 1)
#define RAH_AV     (1u << 31)
/* Transmit descriptor command / options */
#define TXD_EOP  0x01u
#define TXD_IC   0x04u       /* legacy: insert checksum at CSO */
#define TXD_TSE  0x04u       /* data descriptor: segmentation */
#define TXD_RS   0x08u
#define TXD_DEXT 0x20u
#define TXD_VLE  0x40u
#define TXD_DD   0x01u
#define POPTS_IXSM 0x01u
#define POPTS_TXSM 0x02u
#define TUCMD_TCP 0x01u
#define TUCMD_IP  0x02u
/* Receive descriptor status / errors */
#define RXD_DD   0x01u
#define RXD_EOP  0x02u
#define RXD_IXSM 0x04u       /* no checksum indication: the driver checks */
#define RXD_VP   0x08u       /* a VLAN tag was stripped into `special` */
#define E1000_VET 0x0038
#define RXD_ERR_RXE 0x80u

#define BATCH 256            /* descriptors per ring per round: neither ring starves */
#define MAX_NICS NET_MAX_NICS
#define R(off) d->regs[(off) / 4]

static struct e1000 *nics[MAX_NICS];
static int nnics;

/* ---- state ---------------------------------------------------------------- */

static void update_irq(struct e1000 *d)
{
	int level = (R(E1000_ICR) & R(E1000_IMS)) != 0;
	if (level != d->pci.irq_level)
		pci_set_irq(&d->pci, level);
}

static void cause(struct e1000 *d, uint32_t bits)
{
	R(E1000_ICR) |= bits;
	update_irq(d);
}

static void wake(struct e1000 *d)
{
	uint64_t one = 1;
	if (d->wake_fd >= 0 && write(d->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter cannot overflow in practice */
	}
}

/* The M88E1011's registers after reset: link up at 1000 Mb/s full duplex,
 * autonegotiation complete (PHY ID 0x01410C20, which Linux checks). */
static void phy_reset(struct e1000 *d)
{
	static const struct { uint8_t reg; uint16_t val; } init[] = {
		{ 0, 0x1140 }, { 1, 0x796d }, { 2, 0x0141 }, { 3, 0x0c20 }, { 4, 0x01e1 }, { 5, 0x45e1 },
		{ 6, 0x0001 }, { 9, 0x0300 }, { 10, 0x3c00 }, { 15, 0x3000 }, { 16, 0x0068 }, { 17, 0xac00 },
	};
	memset(d->phy, 0, sizeof(d->phy));
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		d->phy[init[i].reg] = init[i].val;
}

/* Everything back to power-on values; frames in flight are discarded. */
static void reset(struct e1000 *d)
{
	memset(d->regs, 0, sizeof(d->regs));
	R(E1000_PBA) = 0x30; /* 48 KiB receive, 16 KiB transmit */
	R(E1000_LEDCTL) = 0x07068302;
	R(E1000_VET) = 0x8100;
	R(E1000_RAL0) = get_le32(d->mac);
	R(E1000_RAH0) = get_le16(d->mac + 4) | RAH_AV; /* loaded from the EEPROM */
	memset(&d->ee, 0, sizeof(d->ee));
	memset(&d->ctx, 0, sizeof(d->ctx));
	phy_reset(d);
	d->tx_len = d->out_len = d->rx_len = 0;
	d->tx_bad = d->tx_pending = d->tx_blocked = d->rx_stalled = false;
	d->gen++;
	update_irq(d);
}

/* ---- EEPROM (Microwire, 64 words) ------------------------------------------ */

static void ee_init(struct e1000 *d)
{
	uint16_t *w = d->eeprom;
	memset(w, 0, sizeof(d->eeprom));
	for (int i = 0; i < 3; i++)
		w[i] = (uint16_t)(d->mac[2 * i] | d->mac[2 * i + 1] << 8);
	w[0x0b] = 0x001e; /* subsystem ID, subsystem vendor, device, vendor (manual 5.6) */
	w[0x0c] = 0x8086;
	w[0x0d] = 0x100e;
	w[0x0e] = 0x8086;
	uint16_t sum = 0;
	for (int i = 0; i < 0x3f; i++)
		sum = (uint16_t)(sum + w[i]);
	w[0x3f] = (uint16_t)(0xbaba - sum); /* words 0-0x3F add up to 0xBABA */
}

/* A write to EECD: the driver moves SK, CS and DI; on each rising SK edge
 * with CS high the EEPROM takes DI (start bit, opcode, address) or, once
 * a READ is complete, presents the word's next bit on DO, MSB first, and
 * goes on into the next word while CS stays high. */
static void ee_write(struct e1000 *d, uint32_t v)
{
	bool cs = v & EECD_CS, sk = v & EECD_SK, rising = sk && !d->ee.sk;
	R(E1000_EECD) = v & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ);
	if (!cs) { /* standby; SK is still followed, so CS rising under a high SK is no edge */
		memset(&d->ee, 0, sizeof(d->ee));
		d->ee.sk = sk;
		return;
	}
	d->ee.cs = true;
	d->ee.sk = sk;
	if (!rising)
		return;
	if (d->ee.nout) {
		d->ee.dout = d->eeprom[d->ee.addr] >> (d->ee.nout - 1) & 1;
		if (--d->ee.nout == 0) {
			d->ee.addr = (uint16_t)((d->ee.addr + 1) % E1000_EEPROM_WORDS);
			d->ee.nout = 16;
		}
		return;
	}
	if (d->ee.nin == 0 && !(v & EECD_DI))
		return; /* waiting for the start bit */
	if (d->ee.nin >= 3 + EE_ADDR_BITS)
		return; /* another command than READ: ignored until CS drops */
	d->ee.in = d->ee.in << 1 | ((v & EECD_DI) ? 1 : 0);
	if (++d->ee.nin == 3 + EE_ADDR_BITS && (d->ee.in >> EE_ADDR_BITS & 3) == EE_READ) {
		d->ee.addr = (uint16_t)(d->ee.in & (E1000_EEPROM_WORDS - 1));
		d->ee.nout = 16;
	}
}

static uint32_t ee_read(struct e1000 *d)
{
	uint32_t v = R(E1000_EECD) | EECD_PRES | EECD_FWE_DIS;
	if (v & EECD_REQ)
		v |= EECD_GNT; /* nothing else shares the EEPROM */
	if (d->ee.dout)
		v |= EECD_DO;
	return v;
}

static void mdic_write(struct e1000 *d, uint32_t v)
{
	unsigned op = v >> 26 & 3, phy = v >> 21 & 31, reg = v >> 16 & 31;
	uint32_t r = v & 0x3fffffffu & ~MDIC_READY;
	if (phy != PHY_ADDR || (op != MDIC_OP_READ && op != MDIC_OP_WRITE)) {
		r |= MDIC_ERR;
	} else if (op == MDIC_OP_READ) {
		r = (r & ~0xffffu) | d->phy[reg];
	} else {
		uint16_t val = (uint16_t)v;
		if (reg == 0) /* reset and autonegotiation restart complete at once */
			val &= (uint16_t)~0x8200u;
		if (reg != 1 && reg != 2 && reg != 3 && reg != 17) /* read-only ones */
			d->phy[reg] = val;
	}
	R(E1000_MDIC) = r | MDIC_READY;
	if (v & MDIC_INT)
		cause(d, E1000_ICR_MDAC);
}

/* ---- registers ------------------------------------------------------------------ */

/* Registers that only hold what the driver wrote (no side effect here). */
static bool plain(uint32_t off)
{
	static const uint16_t regs[] = {
		0x0018 /* CTRL_EXT */, 0x0028, 0x002c, 0x0030 /* flow control */, E1000_VET, E1000_ITR,
		0x0170, 0x0178, E1000_TIPG, 0x0458, E1000_LEDCTL, E1000_PBA, 0x2160, 0x2168, E1000_RDBAH,
		E1000_RDTR, 0x2828, 0x282c, 0x2c00, E1000_TDBAH, 0x3820, 0x3828, 0x382c, 0x3830, 0x5000,
		0x5800, 0x5808, E1000_MANC, E1000_SWSM,
	};
	if ((off >= E1000_MTA && off < E1000_MTA + 0x200) || (off >= E1000_RAL0 && off < E1000_RAL0 + 0x80) ||
	    (off >= E1000_VFTA && off < E1000_VFTA + 0x200))
		return true;
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		if (regs[i] == off)
			return true;
	return false;
}

static bool stat_reg(uint32_t off) { return off >= 0x4000 && off < 0x4100; }

static void stat_add(struct e1000 *d, uint32_t off, uint64_t n)
{
	if (off == E1000_GORCL || off == E1000_GOTCL || off == 0x40c0 || off == 0x40c8) { /* 64-bit pairs */
		uint64_t v = (R(off) | (uint64_t)R(off + 4) << 32) + n;
		R(off) = (uint32_t)v;
		R(off + 4) = (uint32_t)(v >> 32);
	} else {
		R(off) += (uint32_t)n;
	}
}

static uint32_t reg_read(struct e1000 *d, uint32_t off)
{
	uint32_t v;
	switch (off) {
	case E1000_STATUS:
		return STATUS_UP;
	case E1000_EECD:
		return ee_read(d);
	case E1000_CTRL: case E1000_EERD: case E1000_MDIC: case E1000_IMS: case E1000_RCTL: case E1000_TCTL:
	case E1000_RDBAL: case E1000_RDLEN: case E1000_RDH: case E1000_RDT: case E1000_TDBAL: case E1000_TDLEN:
	case E1000_TDH: case E1000_TDT:
		return R(off);
	case E1000_ICR: /* read clears */
		v = R(E1000_ICR);
		R(E1000_ICR) = 0;
		update_irq(d);
		return v;
	}
	if (stat_reg(off)) { /* counters clear on read */
		v = R(off);
		R(off) = 0;
		return v;
	}
	return plain(off) ? R(off) : 0;
}

/* The value a partial write merges with: the register without side effects. */
static uint32_t reg_peek(struct e1000 *d, uint32_t off)
{
	if (off == E1000_STATUS || off == E1000_EECD)
		return off == E1000_STATUS ? STATUS_UP : ee_read(d);
	return off / 4 < E1000_REGS ? R(off) : 0;
}

static void reg_write(struct e1000 *d, uint32_t off, uint32_t v)
{
	switch (off) {
	case E1000_CTRL: {
		bool slu = !(R(E1000_CTRL) & CTRL_SLU) && (v & CTRL_SLU);
		if (v & CTRL_RST) {
			reset(d);
			wake(d);
			return;
		}
		if (v & CTRL_PHY_RST)
			phy_reset(d);
		R(E1000_CTRL) = v & ~(CTRL_RST | CTRL_PHY_RST);
		if (slu) /* the link is there as soon as the driver asks for it */
			cause(d, E1000_ICR_LSC);
		return;
	}
	case E1000_EECD:
		ee_write(d, v);
		return;
	case E1000_EERD:
		if (v & EERD_START) {
			unsigned a = v >> 8 & 0xff;
			uint16_t w = a < E1000_EEPROM_WORDS ? d->eeprom[a] : 0;
			R(E1000_EERD) = (uint32_t)w << 16 | a << 8 | EERD_DONE;
		}
		return;
	case E1000_MDIC:
		mdic_write(d, v);
		return;
	case E1000_ICR: /* write 1 to clear */
		R(E1000_ICR) &= ~v;
		update_irq(d);
		return;
	case E1000_ICS:
		cause(d, v);
		return;
	case E1000_IMS:
		R(E1000_IMS) |= v;
		update_irq(d);
		return;
	case E1000_IMC:
		R(E1000_IMS) &= ~v;
		update_irq(d);
		return;
	case E1000_RCTL: case E1000_TCTL:
		R(off) = v;
		wake(d);
		return;
	case E1000_RDBAL: case E1000_TDBAL:
		R(off) = v & ~0xfu;
		return;
	case E1000_RDLEN: case E1000_TDLEN:
		R(off) = v & 0xfff80u; /* a multiple of 128 bytes, at most 64 Ki descriptors */
		return;
	case E1000_RDH: case E1000_TDH:
		R(off) = v & 0xffff;
		return;
	case E1000_RDT: case E1000_TDT:
		R(off) = v & 0xffff;
		wake(d); /* new buffers or frames for the I/O thread */
		return;
	}
	if (plain(off))
		R(off) = v;
}

/* One access of len bytes at off (inside one dword, or a whole qword). */
static void reg_io(struct e1000 *d, uint32_t off, uint8_t *data, uint32_t len, bool is_write)
{
	if (len == 8) {
		reg_io(d, off, data, 4, is_write);
		reg_io(d, off + 4, data + 4, 4, is_write);
		return;
	}
	uint32_t base = off & ~3u, shift = (off & 3) * 8;
	if (len > 4 || (off & 3) + len > 4) { /* straddles two registers: not a driver's */
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		uint32_t v = base / 4 < E1000_REGS ? reg_read(d, base) : 0;
		put_le(data, v >> shift, len);
		return;
	}
	uint32_t v = (uint32_t)get_le(data, len);
	if (len < 4) {
		uint32_t mask = (len == 1 ? 0xffu : 0xffffu) << shift;
		v = (reg_peek(d, base) & ~mask) | (v << shift & mask);
	}
	if (base / 4 < E1000_REGS)
		reg_write(d, base, v);
}

void e1000_mmio_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct e1000 *d = dev;
	if (addr >= E1000_MMIO_SIZE || len > 8) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	reg_io(d, (uint32_t)addr, data, len, is_write);
	pthread_mutex_unlock(&d->lock);
}

/* BAR1: IOADDR (offset 0) selects a register, IODATA (offset 4) reaches it. */
void e1000_pio_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct e1000 *d = dev;
	if (addr + len > 8 || len > 4 || (addr < 4 && addr + len > 4)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	unsigned sh = (unsigned)(addr & 3) * 8;
	if (addr < 4) {
		if (is_write) {
			uint32_t mask = (len == 4 ? 0xffffffffu : len == 2 ? 0xffffu : 0xffu) << sh;
			d->ioaddr = (d->ioaddr & ~mask) | ((uint32_t)get_le(data, len) << sh & mask);
		} else {
			put_le(data, d->ioaddr >> sh, len);
		}
	} else if (d->ioaddr < E1000_MMIO_SIZE) {
		reg_io(d, (d->ioaddr & ~3u) + (uint32_t)(addr & 3), data, len, is_write);
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- checksums ----------------------------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The Internet checksum of f[start, end] (end inclusive; 0: to the frame's
 * end) plus `extra`, stored at f[off]. Offsets outside the frame: nothing. */
static void put_csum(uint8_t *f, size_t len, unsigned start, unsigned end, unsigned off, uint32_t extra)
{
	size_t stop = end ? (size_t)end + 1 : len;
	if (stop > len)
		stop = len;
	if (start >= stop || (size_t)off + 2 > len)
		return;
	put_be16(f + off, (uint16_t)~fold(sum16(f + start, stop - start, extra)));
}

/* ---- transmit ------------------------------------------------------------------ */

static int send_frame(struct e1000 *d, const uint8_t *f, size_t len)
{
	static const uint8_t zero_hdr[NET_HDR_LEN];
	struct iovec iov[4];
	uint8_t tag[4];
	int k = 0;
	if (d->be.vnet_hdr) /* no offload asked of the host: everything is done here */
		iov[k++] = (struct iovec){ (void *)zero_hdr, NET_HDR_LEN };
	if (d->tx_vlan && len >= 12) { /* the 802.1Q tag after the addresses */
		put_be16(tag, (uint16_t)R(E1000_VET));
		put_be16(tag + 2, d->tx_vtag);
		iov[k++] = (struct iovec){ (void *)f, 12 };
		iov[k++] = (struct iovec){ tag, 4 };
		f += 12;
		len -= 12;
	}
	iov[k++] = (struct iovec){ (void *)f, len };
	if (net_send(&d->be, iov, k) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			d->tx_blocked = true;
			return 0;
		}
		d->tx_dropped++;
		return 1;
	}
	d->tx_frames++;
	stat_add(d, E1000_GPTC, 1);
	stat_add(d, E1000_TPT, 1);
	stat_add(d, E1000_GOTCL, len + 4);
	stat_add(d, 0x40c8, len + 4); /* TOT */
	return 1;
}

/* The next segment of the TSO packet in d->tx into d->out: headers copied
 * and fixed for this segment (lengths, IP ID, TCP sequence and flags,
 * checksums). false: the context does not describe the packet. */
static bool tso_build(struct e1000 *d)
{
	const uint8_t *t = d->tx;
	unsigned h = d->ctx.hdrlen, ip = d->ctx.ipcss, l4 = d->ctx.tucss, mss = d->ctx.mss;
	bool tcp = d->ctx.tucmd & TUCMD_TCP, v4 = d->ctx.tucmd & TUCMD_IP;
	if (!h || !mss || h > d->tx_len || ip + (v4 ? 20u : 40u) > h || l4 + (tcp ? 20u : 8u) > h || l4 < ip ||
	    d->ctx.ipcso + 2u > h || d->ctx.tucso + 2u > h)
		return false;
	size_t pay = d->tx_len - h, off = d->tso_off, n = pay - off < mss ? pay - off : mss;
	bool last = off + n >= pay;
	uint8_t *o = d->out;
	memcpy(o, t, h);
	memcpy(o + h, t + h + off, n);
	size_t len = h + n;
	if (v4) {
		put_be16(o + ip + 2, (uint16_t)(len - ip));
		put_be16(o + ip + 4, (uint16_t)(get_be16(t + ip + 4) + d->tso_seg));
		if (d->tx_ixsm) {
			put_be16(o + d->ctx.ipcso, 0);
			put_csum(o, len, ip, d->ctx.ipcse, d->ctx.ipcso, 0);
		}
	} else {
		put_be16(o + ip + 4, (uint16_t)(len - ip - 40));
	}
	if (tcp) {
		put_be32(o + l4 + 4, get_be32(t + l4 + 4) + (uint32_t)off);
		if (!last)
			o[l4 + 13] &= (uint8_t)~0x09; /* FIN and PSH on the last segment only */
	} else {
		put_be16(o + l4 + 4, (uint16_t)(len - l4));
	}
	/* The driver seeded the field with the pseudo-header sum without the
	 * length: this segment's length is added here. */
	if (d->tx_txsm)
		put_csum(o, len, l4, d->ctx.tucse, d->ctx.tucso, (uint32_t)(len - l4));
	d->out_len = len;
	return true;
}

/* Sends the pending frame (or the TSO segments left); true when it is all
 * out (or dropped), false when the backend said EAGAIN. */
static bool tx_flush(struct e1000 *d)
{
	if (!d->tx_pending)
		return true;
	if (!d->tx_tse) {
		if (!send_frame(d, d->tx, d->tx_len))
			return false;
	} else {
		for (;;) {
			if (!d->out_len && !tso_build(d)) {
				d->tx_dropped++;
				break;
			}
			if (!send_frame(d, d->out, d->out_len))
				return false;
			d->tso_off += d->out_len - d->ctx.hdrlen;
			d->tso_seg++;
			d->out_len = 0;
			if (d->tso_off >= d->tx_len - d->ctx.hdrlen)
				break;
		}
	}
	d->tx_pending = false;
	d->tx_len = 0;
	return true;
}

/* A complete frame gathered: offloads applied, handed to the backend. */
static void tx_frame_done(struct e1000 *d)
{
	size_t max = d->tx_tse ? E1000_TX_MAX : NET_FRAME_MAX;
	if (d->tx_bad || !d->tx_len || d->tx_len > max ||
	    (d->tx_tse && d->tx_len <= d->ctx.hdrlen)) {
		d->tx_dropped++;
		d->tx_len = 0;
		d->tx_bad = false;
		return;
	}
	if (d->tx_tse) {
		d->tso_off = 0;
		d->tso_seg = 0;
		d->out_len = 0;
	} else if (d->tx_legacy_ic) {
		put_csum(d->tx, d->tx_len, d->tx_css, 0, d->tx_cso, 0);
	} else {
		if (d->tx_ixsm)
			put_csum(d->tx, d->tx_len, d->ctx.ipcss, d->ctx.ipcse, d->ctx.ipcso, 0);
		if (d->tx_txsm)
			put_csum(d->tx, d->tx_len, d->ctx.tucss, d->ctx.tucse, d->ctx.tucso, 0);
	}
	d->tx_pending = true;
	tx_flush(d);
}

static void tx_append(struct e1000 *d, uint64_t addr, uint32_t len)
{
	if (d->tx_bad || !len)
		return;
	const uint8_t *src = gpa_ptr(d->mem, addr, len);
	if (!src || len > E1000_TX_MAX - d->tx_len) {
		d->tx_bad = true;
		return;
	}
	memcpy(d->tx + d->tx_len, src, len);
	d->tx_len += len;
}

/* Descriptors TDH..TDT; returns whether a full batch left more. */
static bool process_tx(struct e1000 *d)
{
	if (!tx_flush(d) || !(R(E1000_TCTL) & TCTL_EN))
		return false;
	uint64_t base = (uint64_t)R(E1000_TDBAH) << 32 | R(E1000_TDBAL);
	uint32_t n = R(E1000_TDLEN) / 16, head = R(E1000_TDH), tail = R(E1000_TDT);
	if (head == tail)
		return false;
	if (!n || head >= n || tail >= n) { /* nothing to walk: the guest's queue is lost */
		d->tx_dropped++;
		R(E1000_TDH) = tail;
		cause(d, E1000_ICR_TXQE);
		return false;
	}
	int done = 0;
	for (; head != tail && done < BATCH && !d->tx_pending; done++) {
		uint8_t *p = gpa_ptr(d->mem, base + 16ULL * head, 16);
		head = (head + 1) % n;
		if (!p) { /* a descriptor outside RAM ends the frame it was in */
			d->tx_dropped++;
			d->tx_len = 0;
			d->tx_bad = false;
			continue;
		}
		uint64_t addr = get_le64(p);
		uint32_t dw2 = get_le32(p + 8), dw3 = get_le32(p + 12);
		uint8_t cmd = (uint8_t)(dw2 >> 24);
		bool first = !d->tx_len && !d->tx_bad;
		if (!(cmd & TXD_DEXT)) { /* legacy */
			if (first) {
				d->tx_tse = d->tx_ixsm = d->tx_txsm = false;
				d->tx_legacy_ic = cmd & TXD_IC;
				d->tx_cso = p[10];
				d->tx_css = p[13];
			}
			tx_append(d, addr, dw2 & 0xffff);
		} else if ((dw2 >> 20 & 0xf) == 0) { /* TCP/IP context */
			d->ctx.ipcss = p[0];
			d->ctx.ipcso = p[1];
			d->ctx.ipcse = get_le16(p + 2);
			d->ctx.tucss = p[4];
			d->ctx.tucso = p[5];
			d->ctx.tucse = get_le16(p + 6);
			d->ctx.paylen = dw2 & 0xfffff;
			d->ctx.tucmd = cmd;
			d->ctx.hdrlen = (uint8_t)(dw3 >> 8);
			d->ctx.mss = (uint16_t)(dw3 >> 16);
			cmd &= (uint8_t)~TXD_EOP; /* not part of a frame */
		} else if ((dw2 >> 20 & 0xf) == 1) { /* TCP/IP data */
			if (first) {
				uint8_t popts = (uint8_t)(dw3 >> 8);
				d->tx_legacy_ic = false;
				d->tx_tse = cmd & TXD_TSE;
				d->tx_ixsm = popts & POPTS_IXSM;
				d->tx_txsm = popts & POPTS_TXSM;
			}
			tx_append(d, addr, dw2 & 0xfffff);
		} else {
			cmd &= (uint8_t)~TXD_EOP; /* no such descriptor type: skipped */
		}
		if (cmd & TXD_RS)
			p[12] |= TXD_DD;
		if (cmd & TXD_EOP) {
			d->tx_vlan = (cmd & TXD_VLE) && (R(E1000_CTRL) & CTRL_VME);
			d->tx_vtag = get_le16(p + 14);
			tx_frame_done(d);
		}
	}
	R(E1000_TDH) = head;
	cause(d, E1000_ICR_TXDW | (head == tail ? E1000_ICR_TXQE : 0));
	return head != tail && !d->tx_pending;
}

/* ---- receive ------------------------------------------------------------------- */

static bool rx_accept(struct e1000 *d, const uint8_t *f)
{
	uint32_t rctl = R(E1000_RCTL);
	if (!(f[0] & 1)) {
		if (rctl & RCTL_UPE)
			return true;
		for (int i = 0; i < 16; i++) {
			uint32_t lo = R(E1000_RAL0 + 8 * i), hi = R(E1000_RAH0 + 8 * i);
			if ((hi & RAH_AV) && get_le32(f) == lo && get_le16(f + 4) == (hi & 0xffff))
				return true;
		}
		return false;
	}
	if (!memcmp(f, "\xff\xff\xff\xff\xff\xff", 6))
		return rctl & (RCTL_BAM | RCTL_MPE);
	if (rctl & RCTL_MPE)
		return true;
	/* the multicast table: 12 bits of the address, RCTL.MO says which */
	unsigned mo = rctl >> 12 & 3, sh = 4 - mo;
	unsigned hash = ((unsigned)f[4] >> sh | (unsigned)f[5] << (8 - sh)) & 0xfff;
	if (mo == 3)
		hash = ((unsigned)f[4] | (unsigned)f[5] << 8) & 0xfff;
	return R(E1000_MTA + 4 * (hash >> 5)) >> (hash & 31) & 1;
}

static uint32_t rx_buf_size(uint32_t rctl)
{
	static const uint32_t plainsz[4] = { 2048, 1024, 512, 256 }, ext[4] = { 2048, 16384, 8192, 4096 };
	unsigned b = rctl >> 16 & 3;
	return rctl & RCTL_BSEX ? ext[b] : plainsz[b];
}

/* The next frame from the backend into d->rx (data from NET_HDR_LEN on),
 * checked and finished as the guest will see it; false when none waits. */
static bool rx_fetch(struct e1000 *d)
{
	uint8_t *h = d->rx, *f = d->rx + NET_HDR_LEN;
	while (!d->rx_len) {
		struct iovec iov = d->be.vnet_hdr ? (struct iovec){ h, NET_HDR_LEN + E1000_RX_MAX }
						  : (struct iovec){ f, E1000_RX_MAX };
		ssize_t r = net_recv(&d->be, &iov, 1);
		if (r <= 0)
			return false;
		size_t len = (size_t)r - (d->be.vnet_hdr ? NET_HDR_LEN : 0);
		if ((size_t)r < (d->be.vnet_hdr ? NET_HDR_LEN : 0) + 14 || (d->be.vnet_hdr && (h[1] & 0x7f))) {
			d->rx_dropped++; /* a runt, or a GSO frame nobody asked for */
			continue;
		}
		if (d->be.vnet_hdr && (h[0] & 1)) { /* NEEDS_CSUM: finished here */
			unsigned start = get_le16(h + 6), off = get_le16(h + 8);
			if ((size_t)start + off + 2 <= len) {
				put_be16(f + start + off, 0);
				put_csum(f, len, start, 0, start + off, 0);
			}
		}
		uint32_t rctl = R(E1000_RCTL);
		d->rx_vtag = -1;
		if (len >= 18 && get_be16(f + 12) == (uint16_t)R(E1000_VET)) {
			unsigned tci = get_be16(f + 14), vid = tci & 0xfff;
			if ((rctl & RCTL_VFE) && !(R(E1000_VFTA + 4 * (vid >> 5)) >> (vid & 31) & 1)) {
				d->rx_filtered++; /* a VLAN the driver did not ask for */
				continue;
			}
			if (R(E1000_CTRL) & CTRL_VME) { /* stripped; the driver finds it in `special` */
				d->rx_vtag = (int)tci;
				memmove(f + 12, f + 16, len - 16);
				len -= 4;
			}
		}
		if (!(rctl & RCTL_EN) || !rx_accept(d, f)) {
			d->rx_filtered++;
			continue;
		}
		if (!(rctl & RCTL_SECRC)) { /* the FCS the driver strips */
			put_le32(f + len, crc32_ieee(0, f, len));
			len += 4;
		}
		if (len > (rctl & RCTL_LPE ? 16384u : 1522u)) {
			stat_add(d, 0x40ac, 1); /* ROC: too long */
			d->rx_dropped++;
			continue;
		}
		d->rx_len = len;
	}
	return true;
}

/* Puts d->rx into the ring: 1 done or dropped, 0 too few free descriptors now. */
static int rx_deliver(struct e1000 *d, uint64_t base, uint32_t n)
{
	uint32_t head = R(E1000_RDH), tail = R(E1000_RDT), bsz = rx_buf_size(R(E1000_RCTL));
	uint32_t free = (tail + n - head) % n, need = (uint32_t)((d->rx_len + bsz - 1) / bsz);
	const uint8_t *f = d->rx + NET_HDR_LEN;
	if (need > n - 1) { /* can never fit this ring */
		d->rx_dropped++;
		d->rx_len = 0;
		return 1;
	}
	if (free < need)
		return 0;
	size_t done = 0;
	bool ok = true;
	for (uint32_t i = 0; i < need; i++) {
		uint8_t *p = gpa_ptr(d->mem, base + 16ULL * head, 16);
		head = (head + 1) % n;
		if (!p) {
			ok = false;
			continue;
		}
		size_t k = d->rx_len - done < bsz ? d->rx_len - done : bsz;
		uint8_t *buf = ok ? gpa_ptr(d->mem, get_le64(p), k) : NULL;
		bool last = i + 1 == need;
		if (buf)
			memcpy(buf, f + done, k);
		else
			ok = false;
		done += k;
		put_le16(p + 8, (uint16_t)(ok ? k : 0));
		put_le16(p + 10, 0);
		p[13] = ok ? 0 : RXD_ERR_RXE; /* a frame error: the driver drops it */
		bool vp = d->rx_vtag >= 0 && (last || !ok);
		put_le16(p + 14, vp ? (uint16_t)d->rx_vtag : 0);
		p[12] = (uint8_t)(RXD_DD | RXD_IXSM | (last || !ok ? RXD_EOP : 0) | (vp ? RXD_VP : 0));
		if (!ok) { /* what is left of the frame is dropped */
			break;
		}
	}
	R(E1000_RDH) = head;
	if (ok) {
		d->rx_frames++;
		stat_add(d, E1000_GPRC, 1);
		stat_add(d, E1000_TPR, 1);
		stat_add(d, E1000_GORCL, d->rx_len);
		stat_add(d, 0x40c0, d->rx_len); /* TOR */
		if (f[0] & 1)
			stat_add(d, memcmp(f, "\xff\xff\xff\xff\xff\xff", 6) ? 0x407c : 0x4078, 1); /* MPRC, BPRC */
	} else {
		d->rx_dropped++;
	}
	d->rx_len = 0;
	uint32_t left = (R(E1000_RDT) + n - head) % n, thresh = n >> (1 + (R(E1000_RCTL) >> 8 & 3));
	cause(d, E1000_ICR_RXT0 | (left <= thresh ? E1000_ICR_RXDMT0 : 0));
	return 1;
}

/* Returns whether the backend should be read (the ring has room). */
static bool process_rx(struct e1000 *d, bool *more)
{
	uint32_t rctl = R(E1000_RCTL);
	uint64_t base = (uint64_t)R(E1000_RDBAH) << 32 | R(E1000_RDBAL);
	uint32_t n = R(E1000_RDLEN) / 16;
	bool ring = (rctl & RCTL_EN) && n >= 2 && R(E1000_RDH) < n && R(E1000_RDT) < n;
	if (!(rctl & RCTL_EN)) { /* no driver: what arrives is dropped, as by a NIC that is down */
		d->rx_len = 0;
		for (int i = 0; i < BATCH && rx_fetch(d); i++)
			d->rx_len = 0;
		return true;
	}
	for (int i = 0; i < BATCH; i++) {
		if (!ring || R(E1000_RDH) == R(E1000_RDT)) {
			/* No buffer: one frame is held (so RXO can say that one
			 * waits), the rest stay with the backend until RDT moves. */
			if ((d->rx_len || rx_fetch(d)) && !d->rx_stalled) {
				d->rx_stalled = true;
				stat_add(d, E1000_RNBC, 1);
				cause(d, E1000_ICR_RXO);
			}
			return false;
		}
		if (!d->rx_len && !rx_fetch(d))
			return true;
		d->rx_stalled = false;
		if (!rx_deliver(d, base, n))
			return false;
	}
	*more = true;
	return true;
}

int e1000_process(struct e1000 *d, bool *more)
{
	bool dummy;
	if (!more)
		more = &dummy;
	*more = false;
	pthread_mutex_lock(&d->lock);
	d->tx_blocked = false;
	*more = process_tx(d);
	bool rx = process_rx(d, more);
	int ev = (rx ? POLLIN : 0) | (d->tx_blocked ? POLLOUT : 0);
	pthread_mutex_unlock(&d->lock);
	return ev;
}

/* ---- the I/O thread ----------------------------------------------------------- */

static void *io_thread(void *arg)
{
	struct e1000 *d = arg;
	if (hal_confine(HAL_THREAD_IO) < 0) {
		vm_request_stop(HAL_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		bool more;
		int ev = e1000_process(d, &more);
		struct pollfd p[3] = { { d->stop_fd, POLLIN, 0 }, { d->wake_fd, POLLIN, 0 }, { d->be.fd, (short)ev, 0 } };
		if (poll(p, 3, more ? 0 : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		uint64_t cnt;
		if (p[1].revents && read(d->wake_fd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: nothing */
		}
		if (p[2].revents & (POLLERR | POLLNVAL | POLLHUP)) {
			warnx("e1000: the host side of %s is gone", d->be.ifname[0] ? d->be.ifname : "the NIC");
			break;
		}
	}
	return NULL;
}

int e1000_start(struct e1000 *d)
{
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_fd < 0 || d->wake_fd < 0)
		return -1;
	errno = pthread_create(&d->thread, NULL, io_thread, d);
	if (errno)
		return -1;
	d->started = true;
	return 0;
}

void e1000_stop(struct e1000 *d)
{
	uint64_t one = 1;
	if (d->started && write(d->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(d->thread, NULL);
	d->started = false;
}

/* ---- creation ------------------------------------------------------------------ */

struct e1000 *e1000_new(const struct net_backend *be, const uint8_t mac[6])
{
	/* the two 64 KiB frame buffers apart, so the device state is small */
	struct e1000 *d = calloc(1, sizeof(*d));
	if (d && (!(d->tx = malloc(E1000_TX_MAX)) || !(d->out = malloc(E1000_TX_MAX)))) {
		free(d->tx);
		free(d);
		d = NULL;
	}
	if (!d)
		return NULL;
	d->be = *be;
	d->stop_fd = d->wake_fd = -1;
	memcpy(d->mac, mac, 6);
	pthread_mutex_init(&d->lock, NULL);
	d->mem = the_vm ? &the_vm->mem : NULL;
	/* 82540EM, subsystem "PRO/1000 MT Desktop" */
	pci_dev_init(&d->pci, "e1000", 0x8086, 0x100e, 0x020000, 3, 0x8086, 0x001e);
	d->pci.cfg[0x3d] = 1; /* INTA# */
	pci_add_bar(&d->pci, 0, E1000_MMIO_SIZE, PCI_BAR_MEM, e1000_mmio_io, d);
	pci_add_bar(&d->pci, 1, E1000_IO_SIZE, PCI_BAR_IO, e1000_pio_io, d);
	ee_init(d);
	reset(d);
	return d;
}

void e1000_free(struct e1000 *d)
{
	if (!d)
		return;
	pci_unregister(&d->pci);
	e1000_stop(d);
	if (d->rx_frames || d->tx_frames || d->rx_dropped || d->tx_dropped)
		dbg("e1000 %02x:%02x:%02x:%02x:%02x:%02x: %llu frames in (%llu dropped, %llu filtered), %llu out "
		    "(%llu dropped)", d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5],
		    (unsigned long long)d->rx_frames, (unsigned long long)d->rx_dropped,
		    (unsigned long long)d->rx_filtered, (unsigned long long)d->tx_frames,
		    (unsigned long long)d->tx_dropped);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	net_close(&d->be);
	pthread_mutex_destroy(&d->lock);
	free(d->rom);
	free(d->tx);
	free(d->out);
	free(d);
}

int e1000_create(const struct net_spec *spec, int index, int slot, const char *rom, char *why, size_t whylen)
{
	if (nnics == MAX_NICS) {
		snprintf(why, whylen, "--net: at most %d NICs", MAX_NICS);
		return -1;
	}
	struct net_backend be;
	if (net_open(spec, index, &be, why, whylen) < 0)
		return -1;
	struct e1000 *d = e1000_new(&be, spec->mac);
	if (!d) {
		net_close(&be);
		snprintf(why, whylen, "--net: out of memory");
		return -1;
	}
	if (rom && !(d->rom = pci_load_rom(&d->pci, rom)))
		warnx("--net: no network boot ROM for the e1000 (install Debian's ipxe-qemu for PXE)");
	if (e1000_start(d) < 0) {
		snprintf(why, whylen, "--net: e1000 I/O thread: %s", strerror(errno));
		e1000_free(d);
		return -1;
	}
	if (pci_register(&d->pci, slot, 0) < 0) {
		snprintf(why, whylen, "--net: PCI slot %d is taken", slot);
		e1000_free(d);
		return -1;
	}
	nics[nnics++] = d;
	const uint8_t *m = spec->mac;
	dbg("e1000 %02x:%02x:%02x:%02x:%02x:%02x on %s: user-space path (vhost-net is virtio only)", m[0], m[1], m[2],
	    m[3], m[4], m[5], be.ifname[0] ? be.ifname : "passt");
	return 0;
}

void e1000_destroy_all(void)
{
	while (nnics)
		e1000_free(nics[--nnics]);
}
