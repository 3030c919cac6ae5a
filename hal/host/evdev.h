/* Host keyboards, mice and power buttons from /dev/input/event*
 * (docs/display-host.md). */
#ifndef EVDEV_H
#define EVDEV_H
#include <stdbool.h>
#include <stdint.h>
#include <linux/input.h>

/* Where input goes: main.c passes input_key, input_mouse,
 * machine_power_button and a stop (vm_request_stop(HAL_EXIT_SIGNAL));
 * the unit tests pass recorders. */
struct evdev_sink {
	void (*key)(unsigned linux_code, bool down);
	void (*mouse)(int dx, int dy, int wheel, unsigned buttons); /* evdev signs: +dy down, +wheel away from the user */
	void (*power)(void);
	void (*stop)(void);
};

/* Scan /dev/input, open keyboards, mice and power buttons, grab them (once
 * no key is down), watch for hot-plug. Register with the event loop.
 * 0, or -1 when /dev/input cannot be watched at all. */
int evdev_start(const struct evdev_sink *sink);
/* Ungrab and close everything (also fine when never started). */
void evdev_stop(void);

/* ---- the state machine, exposed for tests/unit/test_evdev.c ------------------
 * Hotkeys, grab discipline and guest key state, independent of real devices. */
enum { EVDEV_KBD = 1, EVDEV_MOUSE = 2, EVDEV_POWER = 4 };
#define EVDEV_KEYS (KEY_MAX + 1)

struct evdev_dev {
	int fd;               /* -1 in tests */
	unsigned kind;
	bool grabbed;
	int ndown;            /* keys/buttons down on this device */
	uint8_t down[EVDEV_KEYS / 8];
	int dx, dy, wheel;    /* relative motion since the last EV_SYN */
	unsigned buttons;     /* bit 0 left, 1 right, 2 middle */
	bool moved;
	char path[32], name[64];
};

struct evdev {
	struct evdev_sink sink;
	bool capture;         /* input belongs to the guest (toggled by the hotkey) */
	uint8_t sent[EVDEV_KEYS / 8]; /* keys the guest was told are down */
	uint8_t held[EVDEV_KEYS / 8]; /* keys down on the host, all devices (hotkey modifiers) */
	/* EVIOCGRAB on or off: 0 or -1; tests replace it. */
	int (*grab)(struct evdev_dev *d, bool on);
};

/* Classify from the capability bitmaps (EVIOCGBIT of EV_KEY and EV_REL). */
unsigned evdev_classify(const uint8_t *keybits, const uint8_t *relbits);
/* One event from device d. */
void evdev_event(struct evdev *e, struct evdev_dev *d, const struct input_event *ev);
/* Grab or release d as e->capture says, once it has no key down. */
void evdev_sync_grab(struct evdev *e, struct evdev_dev *d);
/* d went away (ENODEV): release on the guest what it held. */
void evdev_gone(struct evdev *e, struct evdev_dev *d);
#endif
