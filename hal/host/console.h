/* The host's text console while a display backend owns the screen
 * (docs/display-host.md). A leaf: it knows no backend. */
#ifndef CONSOLE_H
#define CONSOLE_H

/* Switch the active virtual terminal to KD_GRAPHICS, so the kernel's text
 * console (fbcon) stops drawing over our frames. No VT (a serial-only host,
 * no permission) is not an error. Restored by console_restore(), at exit,
 * and by console_emergency_restore(). */
void console_graphics(void);
/* KD_TEXT again; idempotent. */
void console_restore(void);

/* KD_TEXT again from a fatal-signal handler: async-signal-safe (ioctl on
 * the descriptor opened earlier, nothing else). */
void console_emergency_restore(void);
#endif
