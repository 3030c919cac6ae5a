/* What the project's freestanding guests share (checker.c, busy.c): the
 * integer types, port I/O, and polled COM1 output. Static functions: each
 * guest includes it once. */
#ifndef GIO_H
#define GIO_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef __UINTPTR_TYPE__ uptr;

static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

__attribute__((unused)) static void putch(char c)
{
	while (!(inb(0x3fd) & 0x20))
		;
	outb(0x3f8, (u8)c);
}

__attribute__((unused)) static void puts(const char *s)
{
	while (*s)
		putch(*s++);
}

/* digits == 0: as few as needed */
__attribute__((unused)) static void puthex(u64 v, int digits)
{
	int n;
	if (!digits) {
		digits = 1;
		while (digits < 16 && (v >> (4 * digits)))
			digits++;
	}
	for (n = digits - 1; n >= 0; n--)
		putch("0123456789abcdef"[(v >> (4 * n)) & 15]);
}

/* no 64-bit division in 32-bit code without libgcc: subtract powers of ten */
static const u64 pow10[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
	10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
	100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
};

__attribute__((unused)) static void putdec(u64 v)
{
	int i = 19;
	while (i > 0 && v < pow10[i])
		i--;
	for (; i >= 0; i--) {
		int d = 0;
		while (v >= pow10[i]) {
			v -= pow10[i];
			d++;
		}
		putch((char)('0' + d));
	}
}

#endif
