/* The guest's screen, in three layers (docs/architecture.md):
 *   device   (bochs.c, vgatext.c)  owns what the guest sees and writes;
 *   core     (fb.c)                dirty tracking, conversion to XRGB8888,
 *                                  integer scaling with letterboxing, frame clock;
 *   backends (kms.c, fbdev.c)      only put pixels on a screen.
 * The core opens the backend --display names (fb_start); backends know
 * nothing of the devices. Input flows the other way: host/evdev.c ->
 * input_key()/input_mouse() (keymap.c) -> i8042. */
#ifndef DISPLAY_H
#define DISPLAY_H
#include <stdbool.h>
#include <stdint.h>

struct display_mode {
	int width, height;  /* pixels */
	int stride;         /* bytes per row of the buffer returned by buffer() */
};

struct display_backend {
	const char *name;
	/* Open the output and report its mode; -1 (with a message when the user
	 * asked for this backend by name) when it is not available. */
	int (*open)(struct display_mode *m, bool quiet);
	/* The XRGB8888 buffer the next frame is drawn into. */
	uint32_t *(*buffer)(void);
	/* Show that buffer; rows [y0, y1) of it changed since it was last shown. */
	void (*present)(int y0, int y1);
	/* Optional: a file descriptor for the event loop and its handler
	 * (page-flip completion, hot-plug), -1 when none. */
	int (*fd)(void);
	void (*on_event)(void);
	/* Give the screen back (text console restored) on every exit path. */
	void (*close)(void);
	/* For fatal-signal handlers: the same, async-signal-safe (only ioctl(2)
	 * on descriptors opened earlier, no locks, no allocation). */
	void (*emergency_restore)(void);
};

extern const struct display_backend display_kms, display_fbdev;

/* Keyboard and mouse towards the guest, keyed by Linux KEY_* / BTN_* codes
 * (one keymap: keymap.c). Thread safe. */
void input_key(unsigned linux_code, bool down);
void input_mouse(int dx, int dy, int wheel, unsigned buttons); /* bit 0 left, 1 right, 2 middle */
/* The host's power button: an ACPI power-button event for the guest. */
void machine_power_button(void);

/* The keymap (keymap.c): which devices input goes to (NULL, NULL: none). */
struct i8042;
struct pm;
void input_attach(struct i8042 *k, struct pm *p);
/* Scancodes of a Linux KEY_* code: 0 when unmapped. Bit 8 = 0xE0 prefix. */
unsigned keymap_set1(unsigned code);
unsigned keymap_set2(unsigned code);
/* QEMU-style key names ("ret", "ctrl", "a", "f5"): Linux code or 0. */
unsigned keymap_by_name(const char *name);
/* A character for `type`: Linux code, *shift set when Shift is needed. */
unsigned keymap_char(char c, bool *shift);
#endif
