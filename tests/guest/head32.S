/* 32-bit entry of the test payload (payload32 at code32_start, and the
 * 32-bit part of payload64). Boot protocol: protected mode, paging off,
 * CS = 0x10, DS = ES = SS = 0x18, ESI = boot_params, interrupts off.
 * The real-mode stub in setup.S also lands here, with EBX = STUB_MAGIC and
 * real-mode data segments still loaded. */
#include "payload.h"

	.code32
	.section .head, "ax"
	.globl	_start
_start:
	cmpl	$STUB_MAGIC, %ebx
	jne	1f
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movl	$16, %edi
	jmp	2f
1:	movl	$32, %edi
2:	movl	$stack32_top, %esp
	pushfl
	popl	entry_flags
	movw	%cs, entry_cs
	movw	%ds, entry_ds
	movw	%es, entry_es
	movw	%ss, entry_ss
	cli
	cld
	pushl	%edi				/* entry kind */
	pushl	%esi				/* boot_params */
	call	checker_main
3:	cli
	hlt
	jmp	3b

	.org	KERNEL_INFO_OFF
kernel_info:
	.ascii	"LToP"
	.long	16				/* size */
	.long	16				/* size_total */
	.long	0x80000007			/* setup_type_max */

	.bss
	.balign	16
	.space	8192
stack32_top:
