/* Shared constants of the test payload (C and assembler). */
#ifndef PAYLOAD_H
#define PAYLOAD_H

#define SETUP_SECTS	8		/* setup area: 9 * 512 bytes */
#define STUB_MAGIC	0x36314c48	/* EBX at the 32-bit entry when the real-mode stub ran */
#define KERNEL_INFO_OFF	0x100		/* kernel_info, from the start of the pm part */
#define BLOB32_OFF	0x10000		/* payload64: the 32-bit checker lives here */

#endif
