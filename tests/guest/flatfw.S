/* Flat 64 KiB "firmware" for hal --firmware: entered at the reset vector
 * (F000:FFF0) in real mode. Checks rep outsb / rep insb counts, unassigned
 * port reads and the marker port, then writes marker 0x02, programs the
 * PIIX4 PM base as firmware does, and powers off through it.
 * Linked at 0: offsets are offsets from segment F000 (the image is also
 * mapped at 0xF0000). */
	.code16
	.text
	.globl	_start
_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ss
	movw	%ax, %es
	movw	$0x7000, %sp
	movw	%cs, %ax
	movw	%ax, %ds
	/* the whole line in one rep outsb */
	movw	$hello, %si
	movw	$hello_end - hello, %cx
	movw	$0x3f8, %dx
	rep outsb
	/* four bytes from an unassigned port into 0:0x500 */
	movl	$0x5a5a5a5a, %es:0x500
	movw	$0x500, %di
	movw	$4, %cx
	movw	$0x300, %dx
	rep insb
	movw	$s_unassigned, %si
	call	puts
	movl	%es:0x500, %eax
	movw	$8, %cx
	call	puthex
	/* the marker port reads 0x48 under hal */
	movw	$s_marker, %si
	call	puts
	movw	$0x440, %dx
	inb	%dx, %al
	shll	$24, %eax
	movw	$2, %cx
	call	puthex
	movb	$0x02, %al
	outb	%al, %dx
	/* like real firmware: place the PIIX4 PM block at 0x600 and enable
	 * it (00:01.3 cfg 0x40 PMBA, cfg 0x80 PMIOSE) before using it */
	movl	$0x80000b40, %eax
	movw	$0xcf8, %dx
	outl	%eax, %dx
	movl	$0x601, %eax
	movw	$0xcfc, %dx
	outl	%eax, %dx
	movl	$0x80000b80, %eax
	movw	$0xcf8, %dx
	outl	%eax, %dx
	movl	$1, %eax
	movw	$0xcfc, %dx
	outl	%eax, %dx
	movw	$0x604, %dx
	movw	$0x2000, %ax
	outw	%ax, %dx
1:	cli
	hlt
	jmp	1b

/* print CX hex digits from the top of EAX, then a newline */
puthex:
	roll	$4, %eax
	pushl	%eax
	andb	$15, %al
	addb	$'0', %al
	cmpb	$'9', %al
	jbe	2f
	addb	$'a' - '9' - 1, %al
2:	call	putc
	popl	%eax
	loop	puthex
	movb	$'\n', %al
	jmp	putc

/* print the NUL-terminated string at DS:SI */
puts:
	lodsb
	testb	%al, %al
	jz	3f
	call	putc
	jmp	puts
3:	ret

/* polled COM1 output of AL */
putc:
	pushw	%dx
	pushw	%ax
	movw	$0x3fd, %dx
4:	inb	%dx, %al
	testb	$0x20, %al
	jz	4b
	popw	%ax
	movw	$0x3f8, %dx
	outb	%al, %dx
	popw	%dx
	ret

hello:	.ascii	"flatfw: hello\n"
hello_end:
s_unassigned: .asciz "flatfw: unassigned="
s_marker: .asciz "flatfw: marker-read="

	.org	0xfff0
reset:
	ljmp	$0xf000, $_start
	.org	0x10000
