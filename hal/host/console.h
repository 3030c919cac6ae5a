/* The host side of the screen (docs/display-host.md): the text console, the
 * choice of display backend, and host input (evdev.c). */
#ifndef CONSOLE_H
#define CONSOLE_H
#include <stdbool.h>
#include "display/display.h"

/* Switch the active virtual terminal to KD_GRAPHICS, so the kernel's text
 * console (fbcon) stops drawing over our frames. No VT (a serial-only host,
 * no permission) is not an error. Restored by console_restore(), at exit,
 * and by display_emergency_restore(). */
void console_graphics(void);
/* KD_TEXT again; idempotent. */
void console_restore(void);

/* For fatal-signal handlers: put the host's screen back (the CRTC the KMS
 * backend found, KD_TEXT). Async-signal-safe: only ioctl(2) on descriptors
 * opened earlier, no locks, no allocation. */
void display_emergency_restore(void);
/* The KMS backend's part of it (kms.c). */
void kms_emergency_restore(void);

/* --display NAME: "kms", "fb", "none" or "auto" (kms, then fb, then none).
 * Opens the backend and fills *m. Returns the backend, or NULL for none;
 * *failed is set when a backend named explicitly could not be opened (the
 * backend printed why). */
const struct display_backend *display_choose(const char *name, struct display_mode *m, bool *failed);
#endif
