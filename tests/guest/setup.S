/* Real-mode part of the test payload: boot sector + Linux boot protocol 2.15
 * setup header + a 16-bit entry for loaders that start the kernel in real
 * mode (QEMU -kernel: SeaBIOS + linuxboot option ROM enter at
 * setup_seg+0x20:0 with DS = ES = SS = setup_seg).
 *
 * The first 4 KiB of the setup area double as boot_params (the zero page)
 * in that case, so everything except the header and a jump stays zero and
 * the stub itself lives at 0x1000.
 *
 * XLF (0 or 1) is xloadflags; syssize and init_size are patched by
 * mkbzimage. */
#include "payload.h"

#define SMAP 0x534d4150

	.code16
	.text
	.globl	_start
_start:
	.org	0x1f1
setup_sects:	.byte	SETUP_SECTS
root_flags:	.word	0
syssize:	.long	0			/* patched: pm size / 16 */
ram_size:	.word	0
vid_mode:	.word	0xffff
root_dev:	.word	0
boot_flag:	.word	0xaa55
	/* 0x200: the real-mode entry */
	.byte	0xeb
	.byte	start_of_setup - hdrs
hdrs:		.ascii	"HdrS"
version:	.word	0x020f
realmode_swtch:	.long	0
start_sys_seg:	.word	0x1000
kernel_version:	.word	version_str - 0x200
type_of_loader:	.byte	0
loadflags:	.byte	0x01			/* LOADED_HIGH */
setup_move_size: .word	0x8000
code32_start:	.long	0x100000
ramdisk_image:	.long	0
ramdisk_size:	.long	0
bootsect_kludge: .long	0
heap_end_ptr:	.word	0
ext_loader_ver:	.byte	0
ext_loader_type: .byte	0
cmd_line_ptr:	.long	0
initrd_addr_max: .long	0x7fffffff
kernel_alignment: .long	0x200000
relocatable_kernel: .byte 0
min_alignment:	.byte	21
xloadflags:	.word	XLF
cmdline_size:	.long	2047
hardware_subarch: .long	0
hardware_subarch_data: .quad 0
payload_offset:	.long	0
payload_length:	.long	0
setup_data:	.quad	0
pref_address:	.quad	0x100000
init_size:	.long	0			/* patched */
handover_offset: .long	0
kernel_info_offset: .long KERNEL_INFO_OFF
start_of_setup:
	.if	start_of_setup - hdrs - (0x26c - 0x202)
	.error	"setup header is not 0x26c bytes"
	.endif
	jmp	stub				/* rel16: the stub is past the zero page */

	.org	0x1000
stub:
	cli
	cld
	mov	%ds, %ax
	mov	%ax, %es
	/* A20 on (fast A20 gate) */
	inb	$0x92, %al
	orb	$2, %al
	andb	$0xfe, %al
	outb	%al, $0x92
	/* Memory map from the BIOS, as Linux's setup code does, unless the
	 * loader filled it in already. Written straight into boot_params. */
	cmpb	$0, 0x1e8
	jne	2f
	xorl	%ebx, %ebx
	movw	$0x2d0, %di
1:	movl	$0xe820, %eax
	movl	$20, %ecx
	movl	$SMAP, %edx
	int	$0x15
	jc	2f
	cmpl	$SMAP, %eax
	jne	2f
	incb	0x1e8
	addw	$20, %di
	cmpb	$128, 0x1e8
	jae	2f
	testl	%ebx, %ebx
	jnz	1b
2:	cli
	/* ESI = linear address of boot_params = setup_seg << 4 */
	xorl	%esi, %esi
	movw	%ds, %si
	shll	$4, %esi
	leal	gdt(%esi), %eax
	movl	%eax, gdt_desc + 2
	movl	0x214, %eax			/* code32_start */
	movl	%eax, jmp_ptr
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orb	$1, %al
	movl	%eax, %cr0
	movl	$STUB_MAGIC, %ebx		/* tells the 32-bit entry: came from here */
	ljmpl	*jmp_ptr

	.balign	8
gdt:	.quad	0, 0
	.quad	0x00cf9a000000ffff		/* 0x10: flat 32-bit code */
	.quad	0x00cf92000000ffff		/* 0x18: flat data */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	0				/* patched: linear address of gdt */
jmp_ptr:
	.long	0				/* patched: code32_start */
	.word	0x10
version_str:
	.asciz	"hal-test-payload"
	.org	(SETUP_SECTS + 1) * 512
