/* The one keymap: Linux KEY_* codes (evdev, the control socket) to PS/2
 * scancode sets 1 and 2, and the input entry points of display.h. */
#include <linux/input-event-codes.h>
#include <string.h>
#include <strings.h>

#include "core/hal.h"
#include "display/fb.h"
#include "hw/i8042.h"
#include "hw/pm.h"

#define E0 0x100

/* Set 2 make codes by Linux code. Set 1 equals the Linux code for 1..88;
 * the rest are in set1_ext. */
static const uint16_t set2[KEY_MAX + 1] = {
	[KEY_ESC] = 0x76, [KEY_1] = 0x16, [KEY_2] = 0x1e, [KEY_3] = 0x26, [KEY_4] = 0x25, [KEY_5] = 0x2e,
	[KEY_6] = 0x36, [KEY_7] = 0x3d, [KEY_8] = 0x3e, [KEY_9] = 0x46, [KEY_0] = 0x45, [KEY_MINUS] = 0x4e,
	[KEY_EQUAL] = 0x55, [KEY_BACKSPACE] = 0x66, [KEY_TAB] = 0x0d, [KEY_Q] = 0x15, [KEY_W] = 0x1d,
	[KEY_E] = 0x24, [KEY_R] = 0x2d, [KEY_T] = 0x2c, [KEY_Y] = 0x35, [KEY_U] = 0x3c, [KEY_I] = 0x43,
	[KEY_O] = 0x44, [KEY_P] = 0x4d, [KEY_LEFTBRACE] = 0x54, [KEY_RIGHTBRACE] = 0x5b, [KEY_ENTER] = 0x5a,
	[KEY_LEFTCTRL] = 0x14, [KEY_A] = 0x1c, [KEY_S] = 0x1b, [KEY_D] = 0x23, [KEY_F] = 0x2b, [KEY_G] = 0x34,
	[KEY_H] = 0x33, [KEY_J] = 0x3b, [KEY_K] = 0x42, [KEY_L] = 0x4b, [KEY_SEMICOLON] = 0x4c,
	[KEY_APOSTROPHE] = 0x52, [KEY_GRAVE] = 0x0e, [KEY_LEFTSHIFT] = 0x12, [KEY_BACKSLASH] = 0x5d,
	[KEY_Z] = 0x1a, [KEY_X] = 0x22, [KEY_C] = 0x21, [KEY_V] = 0x2a, [KEY_B] = 0x32, [KEY_N] = 0x31,
	[KEY_M] = 0x3a, [KEY_COMMA] = 0x41, [KEY_DOT] = 0x49, [KEY_SLASH] = 0x4a, [KEY_RIGHTSHIFT] = 0x59,
	[KEY_KPASTERISK] = 0x7c, [KEY_LEFTALT] = 0x11, [KEY_SPACE] = 0x29, [KEY_CAPSLOCK] = 0x58,
	[KEY_F1] = 0x05, [KEY_F2] = 0x06, [KEY_F3] = 0x04, [KEY_F4] = 0x0c, [KEY_F5] = 0x03, [KEY_F6] = 0x0b,
	[KEY_F7] = 0x83, [KEY_F8] = 0x0a, [KEY_F9] = 0x01, [KEY_F10] = 0x09, [KEY_NUMLOCK] = 0x77,
	[KEY_SCROLLLOCK] = 0x7e, [KEY_KP7] = 0x6c, [KEY_KP8] = 0x75, [KEY_KP9] = 0x7d, [KEY_KPMINUS] = 0x7b,
	[KEY_KP4] = 0x6b, [KEY_KP5] = 0x73, [KEY_KP6] = 0x74, [KEY_KPPLUS] = 0x79, [KEY_KP1] = 0x69,
	[KEY_KP2] = 0x72, [KEY_KP3] = 0x7a, [KEY_KP0] = 0x70, [KEY_KPDOT] = 0x71, [KEY_102ND] = 0x61,
	[KEY_F11] = 0x78, [KEY_F12] = 0x07,
	[KEY_KPENTER] = E0 | 0x5a, [KEY_RIGHTCTRL] = E0 | 0x14, [KEY_KPSLASH] = E0 | 0x4a,
	[KEY_SYSRQ] = E0 | 0x7c, [KEY_RIGHTALT] = E0 | 0x11, [KEY_HOME] = E0 | 0x6c, [KEY_UP] = E0 | 0x75,
	[KEY_PAGEUP] = E0 | 0x7d, [KEY_LEFT] = E0 | 0x6b, [KEY_RIGHT] = E0 | 0x74, [KEY_END] = E0 | 0x69,
	[KEY_DOWN] = E0 | 0x72, [KEY_PAGEDOWN] = E0 | 0x7a, [KEY_INSERT] = E0 | 0x70,
	[KEY_DELETE] = E0 | 0x71, [KEY_LEFTMETA] = E0 | 0x1f, [KEY_RIGHTMETA] = E0 | 0x27,
	[KEY_COMPOSE] = E0 | 0x2f, [KEY_POWER] = E0 | 0x37, [KEY_SLEEP] = E0 | 0x3f, [KEY_WAKEUP] = E0 | 0x5e,
	[KEY_MUTE] = E0 | 0x23, [KEY_VOLUMEDOWN] = E0 | 0x21, [KEY_VOLUMEUP] = E0 | 0x32,
};

static const struct { uint16_t code, set1; } set1_ext[] = {
	{ KEY_KPENTER, E0 | 0x1c }, { KEY_RIGHTCTRL, E0 | 0x1d }, { KEY_KPSLASH, E0 | 0x35 },
	{ KEY_SYSRQ, E0 | 0x37 }, { KEY_RIGHTALT, E0 | 0x38 }, { KEY_HOME, E0 | 0x47 }, { KEY_UP, E0 | 0x48 },
	{ KEY_PAGEUP, E0 | 0x49 }, { KEY_LEFT, E0 | 0x4b }, { KEY_RIGHT, E0 | 0x4d }, { KEY_END, E0 | 0x4f },
	{ KEY_DOWN, E0 | 0x50 }, { KEY_PAGEDOWN, E0 | 0x51 }, { KEY_INSERT, E0 | 0x52 },
	{ KEY_DELETE, E0 | 0x53 }, { KEY_LEFTMETA, E0 | 0x5b }, { KEY_RIGHTMETA, E0 | 0x5c },
	{ KEY_COMPOSE, E0 | 0x5d }, { KEY_POWER, E0 | 0x5e }, { KEY_SLEEP, E0 | 0x5f }, { KEY_WAKEUP, E0 | 0x63 },
	{ KEY_MUTE, E0 | 0x20 }, { KEY_VOLUMEDOWN, E0 | 0x2e }, { KEY_VOLUMEUP, E0 | 0x30 },
};

unsigned keymap_set2(unsigned code)
{
	return code <= KEY_MAX ? set2[code] : 0;
}

unsigned keymap_set1(unsigned code)
{
	if (code >= 1 && code <= KEY_F12 && set2[code])
		return code;
	for (size_t i = 0; i < sizeof(set1_ext) / sizeof(set1_ext[0]); i++)
		if (set1_ext[i].code == code)
			return set1_ext[i].set1;
	return 0;
}

/* QEMU's sendkey names (monitor "sendkey"), plus a few aliases. */
static const struct { const char *name; uint16_t code; } names[] = {
	{ "shift", KEY_LEFTSHIFT }, { "shift_r", KEY_RIGHTSHIFT }, { "alt", KEY_LEFTALT },
	{ "alt_r", KEY_RIGHTALT }, { "altgr", KEY_RIGHTALT }, { "ctrl", KEY_LEFTCTRL },
	{ "ctrl_r", KEY_RIGHTCTRL }, { "meta_l", KEY_LEFTMETA }, { "meta_r", KEY_RIGHTMETA },
	{ "menu", KEY_COMPOSE }, { "esc", KEY_ESC }, { "minus", KEY_MINUS }, { "equal", KEY_EQUAL },
	{ "backspace", KEY_BACKSPACE }, { "tab", KEY_TAB }, { "bracket_left", KEY_LEFTBRACE },
	{ "bracket_right", KEY_RIGHTBRACE }, { "ret", KEY_ENTER }, { "enter", KEY_ENTER },
	{ "return", KEY_ENTER }, { "semicolon", KEY_SEMICOLON }, { "apostrophe", KEY_APOSTROPHE },
	{ "grave_accent", KEY_GRAVE }, { "backslash", KEY_BACKSLASH }, { "comma", KEY_COMMA },
	{ "dot", KEY_DOT }, { "slash", KEY_SLASH }, { "asterisk", KEY_KPASTERISK }, { "spc", KEY_SPACE },
	{ "space", KEY_SPACE }, { "caps_lock", KEY_CAPSLOCK }, { "num_lock", KEY_NUMLOCK },
	{ "scroll_lock", KEY_SCROLLLOCK }, { "print", KEY_SYSRQ }, { "sysrq", KEY_SYSRQ },
	{ "home", KEY_HOME }, { "pgup", KEY_PAGEUP }, { "pgdn", KEY_PAGEDOWN }, { "end", KEY_END },
	{ "left", KEY_LEFT }, { "up", KEY_UP }, { "down", KEY_DOWN }, { "right", KEY_RIGHT },
	{ "insert", KEY_INSERT }, { "delete", KEY_DELETE }, { "less", KEY_102ND },
	{ "kp_divide", KEY_KPSLASH }, { "kp_multiply", KEY_KPASTERISK }, { "kp_subtract", KEY_KPMINUS },
	{ "kp_add", KEY_KPPLUS }, { "kp_enter", KEY_KPENTER }, { "kp_decimal", KEY_KPDOT },
	{ "kp_0", KEY_KP0 }, { "kp_1", KEY_KP1 }, { "kp_2", KEY_KP2 }, { "kp_3", KEY_KP3 }, { "kp_4", KEY_KP4 },
	{ "kp_5", KEY_KP5 }, { "kp_6", KEY_KP6 }, { "kp_7", KEY_KP7 }, { "kp_8", KEY_KP8 }, { "kp_9", KEY_KP9 },
	{ "power", KEY_POWER }, { "sleep", KEY_SLEEP }, { "wake", KEY_WAKEUP },
};

static const char letters[] = "qwertyuiopasdfghjklzxcvbnm";
static const uint16_t letter_codes[] = {
	KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P, KEY_A, KEY_S, KEY_D,
	KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L, KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M,
};
static const uint16_t digit_codes[] = { KEY_0, KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9 };
static const uint16_t fkeys[] = { KEY_F1, KEY_F2, KEY_F3, KEY_F4, KEY_F5, KEY_F6,
				  KEY_F7, KEY_F8, KEY_F9, KEY_F10, KEY_F11, KEY_F12 };

unsigned keymap_by_name(const char *name)
{
	if (!name[0])
		return 0;
	if (!name[1]) {
		bool shift;
		unsigned c = keymap_char(name[0], &shift);
		return shift && !(name[0] >= 'A' && name[0] <= 'Z') ? 0 : c;
	}
	if ((name[0] == 'f' || name[0] == 'F') && name[1] >= '1' && name[1] <= '9') {
		int n = name[1] - '0';
		if (name[2] >= '0' && name[2] <= '2' && !name[3] && n == 1)
			n = 10 + name[2] - '0';
		else if (name[2])
			n = 0;
		if (n >= 1 && n <= 12)
			return fkeys[n - 1];
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(names[i].name, name))
			return names[i].code;
	return 0;
}

unsigned keymap_char(char c, bool *shift)
{
	static const char plain[] = "-=[];'`\\,./ \n\t", shifted[] = "_+{}:\"~|<>?";
	static const uint16_t pc[] = { KEY_MINUS, KEY_EQUAL, KEY_LEFTBRACE, KEY_RIGHTBRACE, KEY_SEMICOLON,
				       KEY_APOSTROPHE, KEY_GRAVE, KEY_BACKSLASH, KEY_COMMA, KEY_DOT,
				       KEY_SLASH, KEY_SPACE, KEY_ENTER, KEY_TAB };
	static const char shdigits[] = ")!@#$%^&*(";
	*shift = false;
	if (c >= 'a' && c <= 'z')
		return letter_codes[strchr(letters, c) - letters];
	if (c >= 'A' && c <= 'Z') {
		*shift = true;
		return letter_codes[strchr(letters, c - 'A' + 'a') - letters];
	}
	if (c >= '0' && c <= '9')
		return digit_codes[c - '0'];
	const char *p;
	if (c && (p = strchr(plain, c)))
		return pc[p - plain];
	if (c && (p = strchr(shifted, c))) {
		*shift = true;
		return pc[p - shifted];
	}
	if (c && (p = strchr(shdigits, c))) {
		*shift = true;
		return digit_codes[p - shdigits];
	}
	return 0;
}

/* ---- display.h entry points -------------------------------------------------- */

static struct i8042 *kbc;
static struct pm *pmdev;
static pthread_mutex_t input_lock = PTHREAD_MUTEX_INITIALIZER;

void input_attach(struct i8042 *k, struct pm *p)
{
	pthread_mutex_lock(&input_lock);
	kbc = k;
	pmdev = p;
	pthread_mutex_unlock(&input_lock);
}

void input_key(unsigned linux_code, bool down)
{
	if (linux_code == KEY_POWER) { /* the machine's button, not a key */
		if (down)
			machine_power_button();
		return;
	}
	unsigned s1 = keymap_set1(linux_code), s2 = keymap_set2(linux_code);
	pthread_mutex_lock(&input_lock);
	if (kbc && s1 && s2)
		i8042_key(kbc, s1, s2, down);
	pthread_mutex_unlock(&input_lock);
}

void input_mouse(int dx, int dy, int wheel, unsigned buttons)
{
	pthread_mutex_lock(&input_lock);
	if (kbc) /* PS/2 counts y upwards, evdev downwards; wheel likewise */
		i8042_mouse(kbc, dx, -dy, -wheel, buttons);
	pthread_mutex_unlock(&input_lock);
}

void machine_power_button(void)
{
	pthread_mutex_lock(&input_lock);
	if (pmdev)
		pm_power_button(pmdev);
	pthread_mutex_unlock(&input_lock);
}
