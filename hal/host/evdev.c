/* Host input from /dev/input/event* (docs/display-host.md).
 *
 * Keyboards, mice and power buttons are opened and, while input belongs to
 * the guest, grabbed with EVIOCGRAB, so the host's console, SysRq and
 * Ctrl-Alt-Del never see the keys. A device is grabbed or released only
 * when none of its keys is down, so neither side is left with a stuck key.
 * Hotkeys (never delivered to the guest):
 *   Ctrl+Alt+G    give input back to the host / take it again
 *   Ctrl+Alt+Esc  stop the guest (hal exits with HAL_EXIT_SIGNAL)
 * On a hotkey the guest gets releases for every key it was told is down,
 * and later host releases of those keys are not forwarded again.
 * The power button has one owner while hal runs: hal. A power-button
 * device (KEY_POWER, neither keyboard nor mouse: the ACPI button) stays
 * grabbed whatever Ctrl+Alt+G says, so init, which powers the machine off
 * on it when no hal holds it, never sees a press meant for the guest; its
 * presses are the guest's ACPI power button (the guest shuts down, hal
 * exits 0, init powers off). A keyboard's power key reaches the guest only
 * while input belongs to the guest.
 * Host autorepeat (value 2) is dropped, as QEMU does: the guest's keyboard
 * repeats on its own. Hot-plug: inotify on /dev/input. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/hal.h"
#include "core/loop.h"
#include "host/evdev.h"

#define BIT(map, n) (((map)[(n) / 8] >> ((n) % 8)) & 1)
#define SET(map, n) ((map)[(n) / 8] |= (uint8_t)(1u << ((n) % 8)))
#define CLR(map, n) ((map)[(n) / 8] &= (uint8_t)~(1u << ((n) % 8)))

/* ---- the state machine (no devices needed) --------------------------------- */

unsigned evdev_classify(const uint8_t *keybits, const uint8_t *relbits)
{
	unsigned kind = 0;
	if (BIT(keybits, KEY_A) && BIT(keybits, KEY_Z) && BIT(keybits, KEY_SPACE))
		kind |= EVDEV_KBD;
	if (BIT(keybits, BTN_LEFT) && BIT(relbits, REL_X) && BIT(relbits, REL_Y))
		kind |= EVDEV_MOUSE;
	if (BIT(keybits, KEY_POWER))
		kind |= EVDEV_POWER;
	return kind;
}

static bool held(const struct evdev *e, unsigned a, unsigned b)
{
	return BIT(e->held, a) || BIT(e->held, b);
}

/* Tell the guest every key it believes is down is up. */
static void release_sent(struct evdev *e)
{
	for (unsigned c = 0; c < EVDEV_KEYS; c++)
		if (BIT(e->sent, c)) {
			CLR(e->sent, c);
			e->sink.key(c, false);
		}
}

static unsigned button_bit(unsigned code)
{
	switch (code) {
	case BTN_LEFT: return 1;
	case BTN_RIGHT: return 2;
	case BTN_MIDDLE: return 4;
	}
	return 0;
}

static void on_key(struct evdev *e, struct evdev_dev *d, unsigned code, bool down)
{
	/* Keep the host-side state exact even for keys we then drop. */
	if (BIT(d->down, code) == down)
		return; /* a repeated press or a release we never saw pressed */
	if (down) {
		SET(d->down, code);
		d->ndown++;
		SET(e->held, code);
	} else {
		CLR(d->down, code);
		d->ndown--;
		CLR(e->held, code);
	}

	if (code == KEY_POWER) {
		if (down && e->sink.power && (e->capture || d->kind == EVDEV_POWER))
			e->sink.power();
		return;
	}
	if (down && (code == KEY_G || code == KEY_ESC) && held(e, KEY_LEFTCTRL, KEY_RIGHTCTRL) &&
	    held(e, KEY_LEFTALT, KEY_RIGHTALT)) {
		release_sent(e); /* Ctrl and Alt must not stay down in the guest */
		if (code == KEY_G) {
			e->capture = !e->capture;
			hal_log(NULL, "input %s (Ctrl+Alt+G to %s)", e->capture ? "to the guest" : "released to the host",
				e->capture ? "release" : "take it back");
		} else {
			hal_log(NULL, "Ctrl+Alt+Esc: stopping the guest");
			if (e->sink.stop)
				e->sink.stop();
		}
		return; /* the trigger itself never reaches the guest */
	}
	unsigned bit = button_bit(code);
	if (bit) {
		unsigned was = d->buttons;
		d->buttons = down ? d->buttons | bit : d->buttons & ~bit;
		d->moved |= was != d->buttons;
		return;
	}
	if (code >= BTN_MISC && code < KEY_OK)
		return; /* other buttons (joystick, stylus, extra mouse buttons) */
	if (down) {
		if (e->capture) {
			SET(e->sent, code);
			e->sink.key(code, true);
		}
	} else if (BIT(e->sent, code)) {
		CLR(e->sent, code);
		e->sink.key(code, false);
	}
}

void evdev_event(struct evdev *e, struct evdev_dev *d, const struct input_event *ev)
{
	switch (ev->type) {
	case EV_KEY:
		if (ev->code < EVDEV_KEYS && ev->value != 2) /* 2: host autorepeat, dropped */
			on_key(e, d, ev->code, ev->value != 0);
		break;
	case EV_REL:
		switch (ev->code) {
		case REL_X: d->dx += ev->value; d->moved = true; break;
		case REL_Y: d->dy += ev->value; d->moved = true; break;
		case REL_WHEEL: d->wheel += ev->value; d->moved = true; break;
		}
		break;
	case EV_SYN:
		if (ev->code != SYN_REPORT)
			break;
		if (d->moved && e->capture && e->sink.mouse)
			e->sink.mouse(d->dx, d->dy, d->wheel, d->buttons);
		d->dx = d->dy = d->wheel = 0;
		d->moved = false;
		break;
	}
}

void evdev_sync_grab(struct evdev *e, struct evdev_dev *d)
{
	bool want = e->capture || d->kind == EVDEV_POWER; /* hal owns the power button */
	if (d->grabbed == want || d->ndown > 0)
		return;
	if (e->grab(d, want) == 0)
		d->grabbed = want;
	else if (want)
		warnx("input: cannot grab %s (%s): %s", d->path, d->name, strerror(errno));
}

void evdev_gone(struct evdev *e, struct evdev_dev *d)
{
	for (unsigned c = 0; c < EVDEV_KEYS; c++)
		if (BIT(d->down, c))
			on_key(e, d, c, false);
	d->grabbed = false;
}

/* ---- devices ------------------------------------------------------------------- */

#define MAX_DEVS 32

static struct evdev ev;
static struct evdev_dev *devs[MAX_DEVS];
static int inotify_fd = -1;

static int grab_ioctl(struct evdev_dev *d, bool on)
{
	return ioctl(d->fd, EVIOCGRAB, (void *)(uintptr_t)on);
}

static void sync_all(void)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (devs[i])
			evdev_sync_grab(&ev, devs[i]);
}

static void dev_close(struct evdev_dev *d)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (devs[i] == d)
			devs[i] = NULL;
	loop_del(d->fd);
	close(d->fd); /* closing also ends a grab */
	free(d);
}

/* After SYN_DROPPED, the kernel's key state is the truth. */
static void resync(struct evdev_dev *d)
{
	uint8_t now[EVDEV_KEYS / 8] = { 0 };
	if (ioctl(d->fd, EVIOCGKEY(sizeof(now)), now) < 0)
		return;
	for (unsigned c = 0; c < EVDEV_KEYS; c++)
		if (BIT(d->down, c) && !BIT(now, c)) {
			struct input_event up = { .type = EV_KEY, .code = (uint16_t)c, .value = 0 };
			evdev_event(&ev, d, &up);
		}
}

static void on_input(void *ctx)
{
	struct evdev_dev *d = ctx;
	struct input_event buf[64];
	for (;;) {
		ssize_t n = read(d->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) { /* ENODEV: unplugged */
			dbg("input: %s (%s) gone", d->path, d->name);
			evdev_gone(&ev, d);
			dev_close(d);
			sync_all();
			return;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++) {
			if (buf[i].type == EV_SYN && buf[i].code == SYN_DROPPED)
				resync(d);
			else
				evdev_event(&ev, d, &buf[i]);
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	sync_all(); /* a hotkey on this device changes what all want */
}

static void dev_open(const char *name)
{
	char path[32];
	if (strncmp(name, "event", 5) || strlen(name) > 16)
		return;
	snprintf(path, sizeof(path), "/dev/input/%s", name);
	int slot = -1;
	for (int i = 0; i < MAX_DEVS; i++) {
		if (devs[i] && !strcmp(devs[i]->path, path))
			return; /* already open */
		if (!devs[i] && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return; /* not there yet, or no permission yet: IN_ATTRIB comes back */
	uint8_t keybits[EVDEV_KEYS / 8] = { 0 }, relbits[REL_CNT / 8 + 1] = { 0 };
	ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keybits)), keybits);
	ioctl(fd, EVIOCGBIT(EV_REL, sizeof(relbits)), relbits);
	unsigned kind = evdev_classify(keybits, relbits);
	struct evdev_dev *d = kind ? calloc(1, sizeof(*d)) : NULL;
	if (!d) {
		close(fd);
		return;
	}
	d->fd = fd;
	d->kind = kind;
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (ioctl(fd, EVIOCGNAME(sizeof(d->name)), d->name) < 0)
		strcpy(d->name, "?");
	/* Keys already down (the Enter that started hal): grab after their release. */
	if (ioctl(fd, EVIOCGKEY(sizeof(d->down)), d->down) == 0)
		for (unsigned c = 0; c < EVDEV_KEYS; c++)
			d->ndown += BIT(d->down, c);
	if (loop_add(fd, on_input, d) < 0) {
		close(fd);
		free(d);
		return;
	}
	devs[slot] = d;
	dbg("input: %s \"%s\"%s%s%s", path, d->name, kind & EVDEV_KBD ? " keyboard" : "",
	    kind & EVDEV_MOUSE ? " mouse" : "", kind & EVDEV_POWER ? " power-button" : "");
	evdev_sync_grab(&ev, d);
}

static void on_inotify(void *ctx)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(inotify_fd, buf, sizeof(buf));
	for (ssize_t off = 0; n > 0 && off < n;) {
		const struct inotify_event *ie = (const void *)(buf + off);
		if (ie->len)
			dev_open(ie->name);
		off += (ssize_t)(sizeof(*ie) + ie->len);
	}
}

int evdev_start(const struct evdev_sink *sink)
{
	ev = (struct evdev){ .sink = *sink, .capture = true, .grab = grab_ioctl };
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd < 0 || inotify_add_watch(inotify_fd, "/dev/input", IN_CREATE | IN_ATTRIB) < 0 ||
	    loop_add(inotify_fd, on_inotify, NULL) < 0) {
		warnx("input: cannot watch /dev/input: %s (no keyboard or mouse for the guest)", strerror(errno));
		if (inotify_fd >= 0)
			close(inotify_fd);
		inotify_fd = -1;
		return -1;
	}
	DIR *dir = opendir("/dev/input");
	struct dirent *de;
	while (dir && (de = readdir(dir)))
		dev_open(de->d_name);
	if (dir)
		closedir(dir);
	hal_log(NULL, "input to the guest: Ctrl+Alt+G releases it, Ctrl+Alt+Esc stops the guest");
	return 0;
}

void evdev_stop(void)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (devs[i]) {
			if (devs[i]->grabbed)
				grab_ioctl(devs[i], false);
			dev_close(devs[i]);
		}
	if (inotify_fd >= 0) {
		loop_del(inotify_fd);
		close(inotify_fd);
		inotify_fd = -1;
	}
}
