/* The e1000 (hal/hw/e1000.c) driven as Linux's e1000 driver drives it:
 * registers through BAR0 (and BAR1's IOADDR/IODATA), descriptor rings and
 * buffers in real guest RAM (a memfd, no KVM), over a backend that is one
 * end of a SOCK_SEQPACKET socketpair: the test plays the host network at
 * the other end. Served synchronously by e1000_process, except where the
 * I/O thread itself is the subject. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/endian.h"
#include "hw/e1000.h"

#define BAD  0xf0000000ULL /* not guest RAM */
#define TXR  0x10000ULL    /* transmit ring, 16 descriptors */
#define RXR  0x20000ULL    /* receive ring, 16 descriptors */
#define BUF  0x100000ULL   /* buffers, 0x4000 each */
#define RAMSZ (16 * MiB)
#define NDESC 16

static struct guest_mem m;
static struct e1000 *d;
static int peer = -1;
static const uint8_t MAC[6] = { 0x52, 0x54, 0, 0xab, 0xcd, 0xef };

static uint8_t *g(uint64_t gpa) { return gpa_ptr(&m, gpa, 1); }

static uint32_t rd(uint32_t off)
{
	uint8_t b[4];
	e1000_mmio_io(d, off, b, 4, false);
	return get_le32(b);
}

static void wr(uint32_t off, uint32_t v)
{
	uint8_t b[4];
	put_le32(b, v);
	e1000_mmio_io(d, off, b, 4, true);
}

static void open_nic(bool vnet)
{
	e1000_free(d);
	if (peer >= 0)
		close(peer);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		exit(1);
	peer = sv[1];
	struct net_backend be = { .mode = NET_TAP, .fd = sv[0], .vnet_hdr = vnet };
	d = e1000_new(&be, MAC);
	d->mem = &m;
	memset(g(TXR), 0, 0x20000);
	memset(g(BUF), 0, 0x40000);
}

static void tx_ring(void)
{
	wr(E1000_TDBAL, (uint32_t)TXR);
	wr(E1000_TDBAH, 0);
	wr(E1000_TDLEN, NDESC * 16);
	wr(E1000_TDH, 0);
	wr(E1000_TDT, 0);
	wr(E1000_TCTL, 2); /* EN */
}

/* rctl: what the driver adds to EN */
static void rx_ring(uint32_t rctl, unsigned bufs)
{
	wr(E1000_RDBAL, (uint32_t)RXR);
	wr(E1000_RDBAH, 0);
	wr(E1000_RDLEN, NDESC * 16);
	wr(E1000_RDH, 0);
	for (unsigned i = 0; i < NDESC; i++) {
		memset(g(RXR + 16 * i), 0, 16);
		put_le64(g(RXR + 16 * i), BUF + 0x4000ULL * i);
	}
	wr(E1000_RCTL, 2 | rctl);
	wr(E1000_RDT, bufs);
}

static void txd_legacy(unsigned i, uint64_t addr, uint16_t len, uint8_t cmd)
{
	uint8_t *p = g(TXR + 16 * i);
	memset(p, 0, 16);
	put_le64(p, addr);
	put_le16(p + 8, len);
	p[11] = cmd;
}

static void txd_ctx(unsigned i, uint8_t ipcss, uint8_t ipcso, uint16_t ipcse, uint8_t tucss, uint8_t tucso,
		    uint16_t tucse, uint32_t paylen, uint8_t tucmd, uint8_t hdrlen, uint16_t mss)
{
	uint8_t *p = g(TXR + 16 * i);
	p[0] = ipcss;
	p[1] = ipcso;
	put_le16(p + 2, ipcse);
	p[4] = tucss;
	p[5] = tucso;
	put_le16(p + 6, tucse);
	put_le32(p + 8, (paylen & 0xfffff) | (uint32_t)(tucmd | 0x20) << 24); /* DTYP 0, DEXT */
	put_le32(p + 12, (uint32_t)hdrlen << 8 | (uint32_t)mss << 16);
}

static void txd_data(unsigned i, uint64_t addr, uint32_t len, uint8_t dcmd, uint8_t popts)
{
	uint8_t *p = g(TXR + 16 * i);
	put_le64(p, addr);
	put_le32(p + 8, len | 1u << 20 | (uint32_t)(dcmd | 0x20) << 24);
	put_le32(p + 12, (uint32_t)popts << 8);
}

/* The Internet checksum, written here independently of the device's. */
static uint16_t ones(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i++)
		s += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* TCP over IPv4 at f (Ethernet header first): does the checksum verify? */
static bool tcp_ok(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + 14;
	size_t ihl = (ip[0] & 15) * 4u, tl = (size_t)(ip[2] << 8 | ip[3]);
	if (tl + 14 != len)
		return false;
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)((tl - ihl) >> 8);
	ph[11] = (uint8_t)(tl - ihl);
	return ones(ip + ihl, tl - ihl, ones(ph, 12, 0)) == 0xffff;
}

static bool ip_ok(const uint8_t *f) { return ones(f + 14, (f[14] & 15) * 4u, 0) == 0xffff; }

/* An Ethernet + IPv4 + TCP frame with `pay` bytes of payload, the IP
 * checksum 0 and the TCP one seeded with the pseudo-header sum (with the
 * length unless tso) as Linux's stack leaves a CHECKSUM_PARTIAL packet. */
static size_t tcp_frame(uint8_t *f, size_t pay, bool tso)
{
	memset(f, 0, 54);
	memcpy(f, MAC, 6);
	memcpy(f + 6, "\x52\x54\x00\x11\x22\x33", 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *t = f + 34;
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(tso ? 0 : 40 + pay));
	put_be16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x02\x0a\x00\x00\x01", 8);
	put_be16(t, 40000);
	put_be16(t + 2, 80);
	put_be32(t + 4, 0x10000000);
	t[12] = 0x50;
	t[13] = 0x19; /* ACK PSH FIN */
	put_be16(t + 14, 65535);
	for (size_t i = 0; i < pay; i++)
		f[54 + i] = (uint8_t)(i * 13 + 1);
	uint8_t ph[12];
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(tso ? 0 : (20 + pay) >> 8);
	ph[11] = (uint8_t)(tso ? 0 : 20 + pay);
	put_be16(t + 16, ones(ph, 12, 0));
	return 54 + pay;
}

static ssize_t peer_recv(uint8_t *buf, size_t n) { return recv(peer, buf, n, MSG_DONTWAIT); }

static void test_identity(void)
{
	open_nic(false);
	const uint8_t *c = d->pci.cfg;
	CHECK_EQ(get_le16(c), 0x8086);
	CHECK_EQ(get_le16(c + 2), 0x100e);
	CHECK_EQ(c[0x0b], 2);      /* network */
	CHECK_EQ(get_le16(c + 0x2c), 0x8086);
	CHECK_EQ(get_le16(c + 0x2e), 0x001e);
	CHECK_EQ(c[0x3d], 1);      /* INTA# */
	CHECK_EQ(d->pci.bar[0].size, E1000_MMIO_SIZE);
	CHECK(d->pci.bar[1].flags & PCI_BAR_IO);
	CHECK_EQ(rd(E1000_STATUS) & 0x83, 0x83); /* full duplex, link up, 1000 Mb/s */
	CHECK_EQ(rd(0x5a00), 0);   /* an unknown register */
	wr(0x5a00, 0x1234);
	CHECK_EQ(rd(0x5a00), 0);
	/* the I/O window reaches the same registers */
	uint8_t b[4];
	put_le32(b, E1000_RCTL);
	e1000_pio_io(d, 0, b, 4, true);
	put_le32(b, 0x8002);
	e1000_pio_io(d, 4, b, 4, true);
	CHECK_EQ(rd(E1000_RCTL), 0x8002);
	put_le32(b, E1000_STATUS);
	e1000_pio_io(d, 0, b, 4, true);
	e1000_pio_io(d, 4, b, 4, false);
	CHECK_EQ(get_le32(b), rd(E1000_STATUS));
}

static void test_eeprom_eerd(void)
{
	open_nic(false);
	uint16_t sum = 0, w[64];
	for (unsigned a = 0; a < 64; a++) {
		wr(E1000_EERD, a << 8 | 1);
		uint32_t v = rd(E1000_EERD);
		CHECK(v & 0x10); /* DONE */
		w[a] = (uint16_t)(v >> 16);
		sum = (uint16_t)(sum + w[a]);
	}
	CHECK_EQ(sum, 0xbaba);
	CHECK_EQ(w[0], 0x5452);
	CHECK_EQ(w[1], 0xab00);
	CHECK_EQ(w[2], 0xefcd);
}

/* n words from addr the way Linux's e1000_read_eeprom reads a Microwire
 * part, bit by bit: acquire (REQ/GNT, CS), per word the start bit, READ
 * and 6 address bits out and 16 data bits in, then standby (CS low, SK
 * high, CS high, SK low) before the next word; release at the end. */
static int ee_bitbang(unsigned addr, uint16_t *out, unsigned n)
{
	uint32_t e = rd(E1000_EECD) | 0x40; /* REQ */
	wr(E1000_EECD, e);
	if (!(rd(E1000_EECD) & 0x80))      /* GNT */
		return -1;
	e &= ~0x5u;                         /* DI, SK low */
	wr(E1000_EECD, e);
	e |= 0x2;                           /* CS */
	wr(E1000_EECD, e);
	for (unsigned w = 0; w < n; w++) {
		uint32_t bits = 6u << 6 | (addr + w); /* start bit + READ (110), 6 address bits */
		for (int i = 8; i >= 0; i--) {
			e = (e & ~0x4u) | ((bits >> i & 1) ? 0x4 : 0);
			wr(E1000_EECD, e);
			wr(E1000_EECD, e | 1);
			wr(E1000_EECD, e);
		}
		uint16_t v = 0;
		e &= ~0x4u;
		for (int i = 0; i < 16; i++) {
			wr(E1000_EECD, e | 1);
			v = (uint16_t)(v << 1 | ((rd(E1000_EECD) & 0x8) ? 1 : 0));
			wr(E1000_EECD, e);
		}
		out[w] = v;
		e &= ~0x3u;                 /* standby */
		wr(E1000_EECD, e);
		wr(E1000_EECD, e | 1);
		wr(E1000_EECD, e | 3);
		e |= 2;
		wr(E1000_EECD, e);
	}
	e &= ~0x6u;                         /* release: CS, DI low, one clock, REQ off */
	wr(E1000_EECD, e);
	wr(E1000_EECD, e | 1);
	wr(E1000_EECD, e);
	wr(E1000_EECD, e & ~0x40u);
	return 0;
}

static void test_eeprom_bitbang(void)
{
	open_nic(false);
	uint16_t w[64], one;
	CHECK_EQ(ee_bitbang(0, w, 64), 0);
	uint16_t sum = 0;
	for (unsigned a = 0; a < 64; a++) {
		wr(E1000_EERD, a << 8 | 1);
		CHECK_EQ(w[a], rd(E1000_EERD) >> 16); /* both paths read the same words */
		sum = (uint16_t)(sum + w[a]);
	}
	CHECK_EQ(sum, 0xbaba);
	CHECK_EQ(w[0], 0x5452);
	CHECK_EQ(w[2], 0xefcd);
	CHECK_EQ(ee_bitbang(1, &one, 1), 0);  /* a fresh session after the release */
	CHECK_EQ(one, 0xab00);
}

static uint32_t mdic(unsigned op, unsigned phy, unsigned reg, uint16_t val)
{
	wr(E1000_MDIC, op << 26 | phy << 21 | reg << 16 | val);
	return rd(E1000_MDIC);
}

static void test_phy_link(void)
{
	open_nic(false);
	uint32_t v = mdic(2, 1, 1, 0);
	CHECK(v & (1u << 28));            /* ready */
	CHECK(!(v & (1u << 30)));         /* no error */
	CHECK_EQ(v & 0x24, 0x24);         /* link up, autonegotiation complete */
	CHECK_EQ(mdic(2, 1, 2, 0) & 0xffff, 0x0141);
	CHECK_EQ(mdic(2, 1, 3, 0) & 0xfff0, 0x0c20); /* M88E1011 */
	CHECK(mdic(2, 2, 1, 0) & (1u << 30)); /* no PHY at address 2 */
	mdic(1, 1, 4, 0x0de1);            /* write autonegotiation advertisement */
	CHECK_EQ(mdic(2, 1, 4, 0) & 0xffff, 0x0de1);
	/* SLU: a link status change interrupt, the line up when unmasked */
	wr(E1000_IMS, E1000_ICR_LSC);
	CHECK_EQ(d->pci.irq_level, 0);
	wr(E1000_CTRL, rd(E1000_CTRL) | 0x40);
	CHECK_EQ(d->pci.irq_level, 1);
	CHECK(rd(E1000_ICR) & E1000_ICR_LSC);
	CHECK_EQ(d->pci.irq_level, 0);    /* the read cleared it */
	CHECK_EQ(rd(E1000_ICR), 0);
}

/* A 100-byte frame in three descriptors reaches the host intact; DD, TDH,
 * TXDW and the counters follow. */
static void test_tx_three_descriptors(void)
{
	for (int vnet = 0; vnet < 2; vnet++) {
		open_nic(vnet);
		tx_ring();
		uint8_t f[100];
		for (int i = 0; i < 100; i++)
			f[i] = (uint8_t)(i * 3 + 7);
		memcpy(g(BUF), f, 30);
		memcpy(g(BUF + 0x4000), f + 30, 40);
		memcpy(g(BUF + 0x8000), f + 70, 30);
		txd_legacy(0, BUF, 30, 0);
		txd_legacy(1, BUF + 0x4000, 40, 0);
		txd_legacy(2, BUF + 0x8000, 30, 0x01 | 0x02 | 0x08); /* EOP IFCS RS */
		wr(E1000_IMS, E1000_ICR_TXDW);
		wr(E1000_TDT, 3);
		e1000_process(d, NULL);
		uint8_t got[256];
		ssize_t r = peer_recv(got, sizeof(got));
		CHECK_EQ(r, vnet ? 112 : 100);
		CHECK(!memcmp(vnet ? got + 12 : got, f, 100));
		if (vnet)
			CHECK_EQ(ones(got, 12, 0), 0); /* an all-zero header: nothing left to the host */
		CHECK_EQ(peer_recv(got, sizeof(got)), -1); /* one frame, not three */
		CHECK_EQ(rd(E1000_TDH), 3);
		CHECK_EQ(g(TXR + 32)[12] & 1, 1); /* DD */
		CHECK_EQ(d->pci.irq_level, 1);
		CHECK(rd(E1000_ICR) & E1000_ICR_TXDW);
		CHECK_EQ(rd(E1000_GPTC), 1);
		CHECK_EQ(rd(E1000_GPTC), 0);      /* cleared by the read */
		CHECK_EQ(rd(E1000_TPT), 1);
		CHECK_EQ(rd(E1000_GOTCL), 104);
	}
}

/* Checksum offload through a context descriptor: the IP and TCP checksums
 * of what the host receives verify. */
static void test_tx_checksum_offload(void)
{
	open_nic(true);
	tx_ring();
	size_t len = tcp_frame(g(BUF), 37, false);
	CHECK(!ip_ok(g(BUF)) && !tcp_ok(g(BUF), len)); /* not yet */
	txd_ctx(0, 14, 24, 33, 34, 50, 0, 0, 0x01 | 0x02, 0, 0);
	txd_data(1, BUF, 20, 0, 0x03);
	txd_data(2, BUF + 20, (uint32_t)len - 20, 0x01 | 0x08, 0x03);
	wr(E1000_TDT, 3);
	e1000_process(d, NULL);
	uint8_t got[256];
	ssize_t r = peer_recv(got, sizeof(got));
	CHECK_EQ(r, 12 + (ssize_t)len);
	CHECK(ip_ok(got + 12));
	CHECK(tcp_ok(got + 12, len));
	CHECK(!memcmp(got + 12 + 54, g(BUF) + 54, 37));
}

/* TSO: a 2500-byte payload with MSS 1000 leaves as three frames with their
 * own lengths, IDs, sequence numbers, flags and correct checksums. */
static void test_tx_tso(void)
{
	open_nic(false);
	tx_ring();
	size_t len = tcp_frame(g(BUF), 2500, true);
	txd_ctx(0, 14, 24, 33, 34, 50, 0, 2500, 0x01 | 0x02 | 0x04, 54, 1000);
	txd_data(1, BUF, 54, 0x04, 0x03);
	txd_data(2, BUF + 54, (uint32_t)len - 54, 0x04 | 0x01 | 0x08, 0x03);
	wr(E1000_TDT, 3);
	e1000_process(d, NULL);
	for (int s = 0; s < 3; s++) {
		uint8_t got[2000];
		size_t n = s < 2 ? 1000 : 500;
		ssize_t r = peer_recv(got, sizeof(got));
		CHECK_EQ(r, (ssize_t)(54 + n));
		CHECK_EQ(get_be16(got + 16), 40 + n);         /* IP total length */
		CHECK_EQ(get_be16(got + 18), 0x1234 + s);     /* IP ID */
		CHECK_EQ(get_be32(got + 38), 0x10000000u + 1000u * (unsigned)s);
		CHECK_EQ(got[47], s < 2 ? 0x10 : 0x19);       /* FIN, PSH on the last only */
		CHECK(ip_ok(got));
		CHECK(tcp_ok(got, 54 + n));
		CHECK(!memcmp(got + 54, g(BUF) + 54 + 1000 * s, n));
	}
	CHECK_EQ(d->tx_frames, 3);
	CHECK_EQ(g(TXR + 32)[12] & 1, 1);
}

static void frame_to_us(uint8_t *f, size_t len)
{
	memcpy(f, MAC, 6);
	memcpy(f + 6, "\x52\x54\x00\x11\x22\x33", 6);
	f[12] = 0x08;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 5);
}

static void test_rx_frame(void)
{
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 8); /* BAM, SECRC, 2048-byte buffers */
	wr(E1000_IMS, E1000_ICR_RXT0);
	uint8_t f[100];
	frame_to_us(f, sizeof(f));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	const uint8_t *p = g(RXR);
	CHECK_EQ(get_le16(p + 8), 100);
	CHECK_EQ(p[12] & 3, 3);                /* DD EOP */
	CHECK_EQ(p[13], 0);
	CHECK(!memcmp(g(BUF), f, 100));
	CHECK_EQ(rd(E1000_RDH), 1);
	CHECK_EQ(d->pci.irq_level, 1);
	CHECK(rd(E1000_ICR) & E1000_ICR_RXT0);
	CHECK_EQ(rd(E1000_GPRC), 1);
	CHECK_EQ(rd(E1000_GORCL), 100);
	/* a frame for another MAC is filtered; with UPE it is taken */
	f[5] ^= 1;
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 1);
	wr(E1000_RCTL, rd(E1000_RCTL) | 0x8);
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 2);
	/* multicast: through the table (RCTL.MO 0: address bits 47:36), or MPE */
	wr(E1000_RCTL, rd(E1000_RCTL) & ~0x8u);
	memcpy(f, "\x01\x00\x5e\x00\x12\x34", 6);
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 2);                /* no bit in the table: filtered */
	unsigned hash = (0x12 >> 4 | 0x34 << 4) & 0xfff;
	wr(E1000_MTA + 4 * (hash >> 5), 1u << (hash & 31));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 3);
	CHECK_EQ(rd(0x407c), 1);                   /* MPRC */
	wr(E1000_RCTL, rd(E1000_RCTL) | 0x8);
	memcpy(f, MAC, 6);
	/* without SECRC the frame check sequence follows (Linux strips 4 bytes) */
	wr(E1000_RCTL, rd(E1000_RCTL) & ~(1u << 26));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(get_le16(g(RXR + 48) + 8), 104);
	CHECK_EQ(get_le32(g(BUF + 0xc000) + 100), crc32_ieee(0, f, 100));
}

/* A 600-byte frame into 256-byte buffers takes three descriptors, EOP on
 * the last. */
static void test_rx_spans_descriptors(void)
{
	open_nic(true);
	rx_ring(0x8000 | 1u << 26 | 3u << 16, 8);
	uint8_t f[12 + 600] = { 0 };
	frame_to_us(f + 12, 600);
	CHECK_EQ(send(peer, f, sizeof(f), 0), (ssize_t)sizeof(f));
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 3);
	const unsigned lens[3] = { 256, 256, 88 };
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *p = g(RXR + 16 * i);
		CHECK_EQ(get_le16(p + 8), lens[i]);
		CHECK_EQ(p[12] & 3, i == 2 ? 3 : 1);
		CHECK(!memcmp(g(BUF + 0x4000ULL * i), f + 12 + 256 * i, lens[i]));
	}
	CHECK_EQ(d->rx_frames, 1);
}

/* CTRL.VME: the tag of a VLE descriptor goes in after the addresses on
 * transmit; a tagged frame arrives stripped, VP and the tag in `special`;
 * with RCTL.VFE only the VLANs set in the VFTA pass. */
static void test_vlan(void)
{
	open_nic(false);
	tx_ring();
	rx_ring(0x8000 | 1u << 26, 8);
	wr(E1000_CTRL, rd(E1000_CTRL) | 1u << 30);
	uint8_t f[64], got[128];
	frame_to_us(f, sizeof(f));
	memcpy(g(BUF + 0x3c000), f, sizeof(f));
	txd_legacy(0, BUF + 0x3c000, sizeof(f), 0x01 | 0x08 | 0x40);
	put_le16(g(TXR) + 14, 0x2007); /* priority 1, VLAN 7 */
	wr(E1000_TDT, 1);
	e1000_process(d, NULL);
	CHECK_EQ(peer_recv(got, sizeof(got)), 68);
	CHECK(!memcmp(got, f, 12));
	CHECK(!memcmp(got + 12, "\x81\x00\x20\x07", 4));
	CHECK(!memcmp(got + 16, f + 12, sizeof(f) - 12));
	/* the same frame back: stripped */
	CHECK_EQ(send(peer, got, 68, 0), 68);
	e1000_process(d, NULL);
	CHECK_EQ(get_le16(g(RXR) + 8), 64);
	CHECK_EQ(g(RXR)[12] & 0x08, 0x08);
	CHECK_EQ(get_le16(g(RXR) + 14), 0x2007);
	CHECK(!memcmp(g(BUF), f, 64));
	/* VLAN filter on: 7 is not in the table, then it is */
	wr(E1000_RCTL, rd(E1000_RCTL) | 1u << 18);
	CHECK_EQ(send(peer, got, 68, 0), 68);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 1);
	wr(E1000_VFTA, 1u << 7);
	CHECK_EQ(send(peer, got, 68, 0), 68);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 2);
}

/* No free descriptor: hal does not read the backend (no POLLIN wanted),
 * drops nothing, says RXO, and the frame arrives once buffers are given. */
static void test_rx_empty_ring(void)
{
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 0);
	uint8_t f[80];
	frame_to_us(f, sizeof(f));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	int ev = e1000_process(d, NULL);
	CHECK(!(ev & POLLIN));
	CHECK_EQ(d->rx_dropped, 0);
	CHECK_EQ(g(RXR)[12], 0);
	CHECK(rd(E1000_ICR) & E1000_ICR_RXO);
	wr(E1000_RDT, 2);
	ev = e1000_process(d, NULL);
	CHECK(ev & POLLIN);
	CHECK_EQ(get_le16(g(RXR) + 8), 80);
	CHECK_EQ(d->rx_dropped, 0);
}

static double thread_cpu_ms(pthread_t t)
{
	clockid_t c;
	struct timespec ts;
	if (pthread_getcpuclockid(t, &c) || clock_gettime(c, &ts))
		return 1e9;
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The I/O thread with an empty ring and frames waiting sleeps (no busy
 * loop), and an RDT write wakes it to deliver them. */
static void test_rx_thread_sleeps(void)
{
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 0);
	CHECK_EQ(e1000_start(d), 0);
	uint8_t f[80];
	frame_to_us(f, sizeof(f));
	for (int i = 0; i < 3; i++)
		CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	usleep(50000);
	double t0 = thread_cpu_ms(d->thread);
	usleep(300000);
	double used = thread_cpu_ms(d->thread) - t0;
	CHECK(used < 30); /* ms of CPU in 300 ms: waiting, not spinning */
	wr(E1000_RDT, 8);
	for (int i = 0; i < 200 && !(g(RXR + 32)[12] & 1); i++)
		usleep(10000);
	CHECK_EQ(g(RXR + 32)[12] & 3, 3); /* the third frame in the third descriptor */
	/* a TDT write wakes the thread, which sends */
	tx_ring();
	memcpy(g(BUF + 0x3c000), f, sizeof(f));
	txd_legacy(0, BUF + 0x3c000, sizeof(f), 0x09);
	wr(E1000_TDT, 1);
	struct pollfd p = { peer, POLLIN, 0 };
	CHECK_EQ(poll(&p, 1, 2000), 1);
	uint8_t got[128];
	CHECK_EQ(peer_recv(got, sizeof(got)), 80);
	e1000_stop(d);
	CHECK_EQ(d->rx_frames, 3);
	CHECK_EQ(d->rx_dropped, 0);
	CHECK_EQ(d->tx_frames, 1);
}

/* Frames over 1522 bytes (with the FCS) only with RCTL.LPE; RXDMT0 when the
 * free descriptors reach RDMTS's threshold (half the ring). */
static void test_rx_long_and_threshold(void)
{
	open_nic(false);
	rx_ring(0x8000 | 1u << 25 | 1u << 16, 15); /* 16 KiB buffers, FCS kept */
	static uint8_t f[3000];
	frame_to_us(f, sizeof(f));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 3000);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 0);
	CHECK_EQ(d->rx_dropped, 1);
	CHECK_EQ(rd(0x40ac), 1);                   /* ROC */
	wr(E1000_RCTL, rd(E1000_RCTL) | 0x20);     /* LPE */
	CHECK_EQ(send(peer, f, sizeof(f), 0), 3000);
	e1000_process(d, NULL);
	CHECK_EQ(get_le16(g(RXR) + 8), 3004);
	CHECK(!memcmp(g(BUF), f, 3000));
	CHECK_EQ(rd(E1000_ICR) & E1000_ICR_RXDMT0, 0); /* 14 of 16 free */
	for (int i = 0; i < 6; i++)
		CHECK_EQ(send(peer, f, 100, 0), 100);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_RDH), 7);
	CHECK(rd(E1000_ICR) & E1000_ICR_RXDMT0);       /* 8 left: half */
}

/* Rings and buffers outside RAM, absurd lengths, TDT past the ring: frames
 * dropped and counted, nothing sent, nothing outside the descriptors
 * touched, hal still standing. */
static void test_hostile_rings(void)
{
	uint8_t got[256];
	open_nic(false);
	tx_ring();
	/* the ring outside RAM: TDH still advances */
	wr(E1000_TDBAL, (uint32_t)BAD);
	wr(E1000_TDT, 2);
	e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_TDH), 2);
	CHECK_EQ(d->tx_dropped, 2);
	CHECK_EQ(peer_recv(got, sizeof(got)), -1);
	/* the largest TDLEN from near the end of RAM: the descriptors past it are dropped */
	open_nic(false);
	tx_ring();
	wr(E1000_TDBAL, (uint32_t)(RAMSZ - 64));
	wr(E1000_TDLEN, 0xffffffff);
	CHECK_EQ(rd(E1000_TDLEN), 0xfff80);
	memset(g(RAMSZ - 64), 0, 64);
	txd_legacy(0, 0, 0, 0);
	put_le64(g(RAMSZ - 64), BUF);
	put_le16(g(RAMSZ - 64) + 8, 60);
	g(RAMSZ - 64)[11] = 0x01 | 0x08; /* a valid frame first */
	wr(E1000_TDT, 300);
	for (int i = 0; i < 4; i++)
		e1000_process(d, NULL);
	CHECK_EQ(rd(E1000_TDH), 300);
	CHECK_EQ(d->tx_frames, 1);
	CHECK_EQ(d->tx_dropped, 300 - 4);
	CHECK_EQ(peer_recv(got, sizeof(got)), 60);
	/* TDT beyond TDLEN: nothing walked, counted */
	open_nic(false);
	tx_ring();
	txd_legacy(0, BUF, 60, 0x09);
	wr(E1000_TDT, 40);
	e1000_process(d, NULL);
	CHECK_EQ(d->tx_frames, 0);
	CHECK_EQ(d->tx_dropped, 1);
	CHECK_EQ(peer_recv(got, sizeof(got)), -1);
	/* a buffer outside RAM: dropped, DD still written, the next frame goes */
	open_nic(false);
	tx_ring();
	txd_legacy(0, BAD, 60, 0x09);
	txd_legacy(1, BUF, 60, 0x09);
	wr(E1000_TDT, 2);
	e1000_process(d, NULL);
	CHECK_EQ(d->tx_dropped, 1);
	CHECK_EQ(d->tx_frames, 1);
	CHECK_EQ(g(TXR)[12] & 1, 1);
	CHECK_EQ(peer_recv(got, sizeof(got)), 60);
	/* a chain longer than 64 KiB + headers: dropped */
	open_nic(false);
	tx_ring();
	for (unsigned i = 0; i < 5; i++)
		txd_legacy(i, BUF, 16384, i == 4 ? 0x09 : 0);
	wr(E1000_TDT, 5);
	e1000_process(d, NULL);
	CHECK_EQ(d->tx_dropped, 1);
	CHECK_EQ(peer_recv(got, sizeof(got)), -1);
	CHECK_EQ(rd(E1000_TDH), 5);

	/* receive: a buffer outside RAM gets an errored descriptor, the frame is dropped */
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 4);
	put_le64(g(RXR), BAD);
	uint8_t f[80];
	frame_to_us(f, sizeof(f));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	e1000_process(d, NULL);
	CHECK_EQ(g(RXR)[12] & 1, 1);
	CHECK_EQ(g(RXR)[13], 0x80);        /* RXE */
	CHECK_EQ(get_le16(g(RXR) + 8), 0);
	CHECK_EQ(get_le16(g(RXR + 16) + 8), 80); /* the next frame is fine */
	CHECK_EQ(d->rx_dropped, 1);
	CHECK_EQ(d->rx_frames, 1);
	/* the whole receive ring outside RAM: dropped, RDH moves, nothing written */
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 4);
	wr(E1000_RDBAL, (uint32_t)BAD);
	memset(g(BUF), 0x5a, 0x4000);
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	e1000_process(d, NULL);
	CHECK_EQ(d->rx_dropped, 1);
	CHECK_EQ(rd(E1000_RDH), 1);
	CHECK_EQ(g(BUF)[0], 0x5a);
	/* RDT past the ring: nothing delivered, nothing read */
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 0);
	wr(E1000_RDT, 100);
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	int ev = e1000_process(d, NULL);
	CHECK(!(ev & POLLIN));
	CHECK_EQ(g(RXR)[12], 0);
}

/* CTRL.RST: registers back to their power-on values, the interrupt line
 * down, a frame waiting for the ring discarded, the MAC filter reloaded. */
static void test_reset(void)
{
	open_nic(false);
	rx_ring(0x8000 | 1u << 26, 0);
	tx_ring();
	wr(E1000_IMS, 0xff);
	wr(E1000_ICS, E1000_ICR_TXDW);
	uint8_t f[80];
	frame_to_us(f, sizeof(f));
	CHECK_EQ(send(peer, f, sizeof(f), 0), 80);
	e1000_process(d, NULL);
	wr(E1000_RAL0, 0);
	CHECK_EQ(d->pci.irq_level, 1);
	CHECK(d->rx_len > 0);
	/* through the I/O window, as Linux resets an 82540 */
	uint8_t b[4];
	put_le32(b, E1000_CTRL);
	e1000_pio_io(d, 0, b, 4, true);
	put_le32(b, rd(E1000_CTRL) | 1u << 26);
	e1000_pio_io(d, 4, b, 4, true);
	CHECK_EQ(d->pci.irq_level, 0);
	CHECK_EQ(rd(E1000_CTRL) & (1u << 26), 0);
	CHECK_EQ(rd(E1000_IMS), 0);
	CHECK_EQ(rd(E1000_ICR), 0);
	CHECK_EQ(rd(E1000_RCTL), 0);
	CHECK_EQ(rd(E1000_TCTL), 0);
	CHECK_EQ(rd(E1000_RDLEN), 0);
	CHECK_EQ(rd(E1000_TDT), 0);
	CHECK_EQ(d->rx_len, 0);
	CHECK_EQ(rd(E1000_RAL0), get_le32(MAC));
	CHECK_EQ(rd(E1000_RAH0), get_le16(MAC + 4) | 1u << 31);
}

int main(void)
{
	if (mem_init(&m, RAMSZ) < 0)
		return 1;
	RUN(test_identity);
	RUN(test_eeprom_eerd);
	RUN(test_eeprom_bitbang);
	RUN(test_phy_link);
	RUN(test_tx_three_descriptors);
	RUN(test_tx_checksum_offload);
	RUN(test_tx_tso);
	RUN(test_rx_frame);
	RUN(test_rx_spans_descriptors);
	RUN(test_vlan);
	RUN(test_rx_empty_ring);
	RUN(test_rx_thread_sleeps);
	RUN(test_rx_long_and_threshold);
	RUN(test_hostile_rings);
	RUN(test_reset);
	e1000_free(d);
	close(peer);
	mem_exit(&m);
	return 0;
}
