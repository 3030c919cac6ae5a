/* Protected-mode part of payload64: at offset 0 the 32-bit entry (runs the
 * 32-bit checker linked at PM_BASE + BLOB32_OFF), at 0x200 the 64-bit entry
 * (long mode, identity-mapped paging from the loader, RSI = boot_params). */
#include "payload.h"

	.section .head, "ax"
	.code32
	.globl	_start
_start:
	jmp	blob32_start			/* keeps EBX/ESI for the 32-bit entry */

	.org	KERNEL_INFO_OFF
kernel_info:
	.ascii	"LToP"
	.long	16
	.long	16
	.long	0x80000007

	.org	0x200
	.code64
startup_64:
	movq	$stack64_top, %rsp
	pushfq
	popq	%rax
	movl	%eax, entry_flags(%rip)
	movw	%cs, entry_cs(%rip)
	movw	%ds, entry_ds(%rip)
	movw	%es, entry_es(%rip)
	movw	%ss, entry_ss(%rip)
	cli
	cld
	movq	%rsi, %rdi			/* boot_params */
	movl	$64, %esi			/* entry kind */
	call	checker_main
1:	cli
	hlt
	jmp	1b

	.section .blob32, "a"
	.globl	blob32_start
blob32_start:
	.incbin	BLOB32

	.bss
	.balign	16
	.space	8192
stack64_top:
