/* Protected-mode part of crash.bzimage (with setup32.bin: 32-bit entry at
 * code32_start = 0x100000). Prints "crash: ud2 with a zero-limit IDT" on
 * COM1, writes marker 0x04, loads an IDT with limit 0 and executes ud2:
 * #UD cannot be delivered (#GP), nor can #GP (#DF), nor #DF: a triple fault.
 * Under direct boot hal reports that as a crash (exit 3, registers).
 * (Not int3: a software INT in protected mode is not handled by KVM's
 * instruction emulator, which the paravirtual /dev/kvm of the development
 * machines uses for all CPL 0 code: that is a "KVM internal error", not a
 * triple fault.) */
#include "payload.h"

	.code32
	.text
	.globl	_start
_start:
	cli
	movl	$msg, %esi
1:	movb	(%esi), %bl
	testb	%bl, %bl
	jz	3f
	movw	$0x3fd, %dx
2:	inb	%dx, %al
	testb	$0x20, %al
	jz	2b
	movw	$0x3f8, %dx
	movb	%bl, %al
	outb	%al, %dx
	incl	%esi
	jmp	1b
3:	movb	$0x04, %al
	movw	$0x440, %dx
	outb	%al, %dx
	lidt	idt_desc
	movl	$0xc0ffee, %eax		/* recognisable in the register dump */
	ud2
4:	hlt				/* not reached */
	jmp	4b

idt_desc:
	.word	0			/* limit 0: no vector is inside */
	.long	0

msg:	.asciz	"crash: ud2 with a zero-limit IDT\n"

	.org	KERNEL_INFO_OFF
kernel_info:
	.ascii	"LToP"
	.long	16
	.long	16
	.long	0x80000007
