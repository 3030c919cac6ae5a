/* bootdisk.img: a 1 MiB raw disk whose MBR boots through the BIOS (SeaBIOS
 * under hal or QEMU). Linked at 0x7C00: LBA 0 is the MBR (code, a partition
 * table with one partition at LBA 8, 0x55AA), LBA 1 holds the second stage,
 * LBA 2-4 a known pattern (byte j of LBA s = (j + s * 0x35) & 0xff).
 *
 * MBR:    marker 0x30 at entry; "bootsector: hello" on the screen (INT 10h
 *         AH=0Eh) and COM1 (polled); marker 0x03; INT 13h extensions check
 *         (AH=41h); LBA 1-4 read with AH=42h to 0x7E00; jump to stage 2.
 * stage2: checks the pattern of LBA 2-4, prints
 *         "bootsector: stage2 ok lba-read=pattern-ok sum=0xXXXX" (16-bit sum
 *         of the bytes of LBA 2-4), powers off: outw(0x604, 0x2000).
 * Any failure prints "bootsector: FAIL <what>" and halts. */
#define LOAD_SECTS	4		/* LBA 1 .. 4 */
#define PAT_LBA		2		/* first pattern sector */
#define PAT_SECTS	3

	.code16
	.text
	.globl	_start
_start:
	movw	%dx, %bx		/* DL: the boot drive */
	movb	$0x30, %al		/* marker 0x30: first guest instruction */
	movw	$0x440, %dx
	outb	%al, %dx
	cli
	ljmp	$0, $1f			/* CS:IP = 0:7C0x whatever the BIOS used */
1:	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	sti
	cld
	movb	%bl, drive

	movw	$s_hello, %si
	call	puts
	movb	$0x03, %al		/* marker 0x03: first output */
	movw	$0x440, %dx
	outb	%al, %dx

	/* INT 13h extensions: AH=41h BX=55AAh -> CF=0, BX=AA55h, CX bit 0 */
	movb	$0x41, %ah
	movw	$0x55aa, %bx
	movb	drive, %dl
	int	$0x13
	jc	no_ext
	cmpw	$0xaa55, %bx
	jne	no_ext
	testb	$1, %cl
	jz	no_ext

	/* read LBA 1 .. LOAD_SECTS to 0:7E00 */
	movw	$dap, %si
	movb	$0x42, %ah
	movb	drive, %dl
	int	$0x13
	jc	read_err
	cmpl	$0x32415453, stage2_magic	/* "STA2" */
	jne	bad_stage2
	jmp	stage2

no_ext:
	movw	$s_noext, %si
	jmp	fail
read_err:
	movw	$s_readerr, %si
	jmp	fail
bad_stage2:
	movw	$s_badst2, %si
/* print "bootsector: FAIL ", then SI, then halt for good */
fail:
	pushw	%si
	movw	$s_fail, %si
	call	puts
	popw	%si
	call	puts
1:	cli
	hlt
	jmp	1b

/* print the NUL-terminated string at DS:SI on the screen and COM1 */
puts:
	lodsb
	testb	%al, %al
	jz	2f
	call	putc
	jmp	puts
2:	ret

putc:
	pushaw
	movb	%al, %cl
	movb	$0x0e, %ah		/* teletype: AL char, BH page, BL colour */
	movw	$0x0007, %bx
	int	$0x10
	movw	$0x3fd, %dx		/* COM1 LSR: wait for THR empty */
1:	inb	%dx, %al
	testb	$0x20, %al
	jz	1b
	movw	$0x3f8, %dx
	movb	%cl, %al
	outb	%al, %dx
	popaw
	ret

	.p2align 2
dap:	.byte	16, 0
	.word	LOAD_SECTS
	.word	0x7e00, 0		/* offset, segment */
	.quad	1			/* LBA */
drive:	.byte	0x80

s_hello:	.asciz	"bootsector: hello\r\n"
s_fail:		.asciz	"bootsector: FAIL "
s_noext:	.asciz	"int13 extensions missing\r\n"
s_readerr:	.asciz	"int13 ah=42h read error\r\n"
s_badst2:	.asciz	"stage2 signature\r\n"

	/* the partition table: one active Linux partition, LBA 8 .. 2047
	 * (CHS 0/0/9 .. 2/0/32 with 16 heads, 63 sectors) */
	.org	0x1b8
	.long	0x214c4148		/* disk signature "HAL!" */
	.word	0
	.byte	0x80, 0, 9, 0		/* active, CHS first */
	.byte	0x83, 0, 32 | (2 >> 8 << 6), 2	/* type, CHS last */
	.long	8, 2040			/* LBA first, sectors */
	.fill	48, 1, 0		/* entries 2-4 unused */
	.word	0xaa55

/* --- LBA 1: the second stage, at 0x7E00 ------------------------------------- */
stage2_magic:
	.ascii	"STA2"
stage2:
	/* check the pattern, and sum its bytes */
	movw	$0x7c00 + PAT_LBA * 512, %si
	xorw	%di, %di		/* 16-bit sum */
	movb	$PAT_LBA * 0x35, %bl	/* expected byte at j = 0 of this sector */
	movw	$PAT_SECTS, %bp
3:	movw	$512, %cx
	movb	%bl, %bh
4:	lodsb
	cmpb	%bh, %al
	jne	bad_pattern
	xorb	%ah, %ah
	addw	%ax, %di
	incb	%bh
	loop	4b
	addb	$0x35, %bl
	decw	%bp
	jnz	3b

	movw	$s_ok, %si
	call	puts
	movw	%di, %ax
	call	puthex16
	movw	$s_crlf, %si
	call	puts

	movw	$0x604, %dx		/* PM1a_CNT at SeaBIOS's PM base 0x600: S5 */
	movw	$0x2000, %ax
	outw	%ax, %dx
	movb	$0x86, %ah		/* a VMM may take a moment: wait 1 s first */
	movw	$0x000f, %cx
	movw	$0x4240, %dx
	int	$0x15
	movw	$s_nopoweroff, %si
	jmp	fail

bad_pattern:
	movw	$s_badpat, %si
	jmp	fail

/* print AX as 4 hex digits */
puthex16:
	movw	$4, %cx
1:	rolw	$4, %ax
	pushw	%ax
	andb	$15, %al
	addb	$'0', %al
	cmpb	$'9', %al
	jbe	2f
	addb	$'a' - '9' - 1, %al
2:	call	putc
	popw	%ax
	loop	1b
	ret

s_ok:		.asciz	"bootsector: stage2 ok lba-read=pattern-ok sum=0x"
s_crlf:		.asciz	"\r\n"
s_badpat:	.asciz	"lba-read pattern mismatch\r\n"
s_nopoweroff:	.asciz	"power-off via 0x604 did not happen\r\n"

	.org	512 + 512
/* --- LBA 2 .. 4: the pattern ------------------------------------------------ */
	.set	s, PAT_LBA
	.rept	PAT_SECTS
	.set	j, 0
	.rept	512
	.byte	(j + s * 0x35) & 0xff
	.set	j, j + 1
	.endr
	.set	s, s + 1
	.endr
