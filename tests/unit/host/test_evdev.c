/* Host input state machine (hal/host/evdev.c) with synthetic events, and the
 * fbdev pixel conversion (hal/host/fbdev.c). No devices needed. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "display/fb.h"
#include "host/console.h"
#include "host/evdev.h"
#include "host/fbdev.h"

/* What the guest was sent, in order: "+30" press KEY_A, "-30" release,
 * "M dx dy w b" mouse, "P" power, "S" stop. */
static char log_[1024];

static void rec(const char *s)
{
	strncat(log_, s, sizeof(log_) - strlen(log_) - 1);
}
static void k_key(unsigned code, bool down)
{
	char b[16];
	snprintf(b, sizeof(b), "%c%u ", down ? '+' : '-', code);
	rec(b);
}
static void k_mouse(int dx, int dy, int wheel, unsigned buttons)
{
	char b[48];
	snprintf(b, sizeof(b), "M%d,%d,%d,%u ", dx, dy, wheel, buttons);
	rec(b);
}
static void k_power(void) { rec("P "); }
static void k_stop(void) { rec("S "); }

static int grabs, ungrabs;
static int fake_grab(struct evdev_dev *d, bool on)
{
	if (on)
		grabs++;
	else
		ungrabs++;
	return 0;
}

static struct evdev e;
static struct evdev_dev kbd, mouse;

static void setup(void)
{
	log_[0] = 0;
	grabs = ungrabs = 0;
	e = (struct evdev){ .sink = { k_key, k_mouse, k_power, k_stop }, .capture = true, .grab = fake_grab };
	kbd = (struct evdev_dev){ .fd = -1, .kind = EVDEV_KBD };
	mouse = (struct evdev_dev){ .fd = -1, .kind = EVDEV_MOUSE };
}

static void key(struct evdev_dev *d, unsigned code, int value)
{
	struct input_event ie = { .type = EV_KEY, .code = (uint16_t)code, .value = value };
	evdev_event(&e, d, &ie);
	struct input_event syn = { .type = EV_SYN, .code = SYN_REPORT };
	evdev_event(&e, d, &syn);
	evdev_sync_grab(&e, d);
}

static void rel(struct evdev_dev *d, unsigned code, int value)
{
	struct input_event ie = { .type = EV_REL, .code = (uint16_t)code, .value = value };
	evdev_event(&e, d, &ie);
}

static void syn(struct evdev_dev *d)
{
	struct input_event ie = { .type = EV_SYN, .code = SYN_REPORT };
	evdev_event(&e, d, &ie);
}

static void test_keys_pass_repeat_dropped(void)
{
	setup();
	key(&kbd, KEY_A, 1);
	key(&kbd, KEY_A, 2);
	key(&kbd, KEY_A, 2);
	key(&kbd, KEY_A, 0);
	CHECK(!strcmp(log_, "+30 -30 "));
}

/* Ctrl+Alt+Esc: the guest sees Ctrl and Alt go up, never Esc, and the
 * later host releases of Ctrl/Alt/Esc are not sent twice. */
static void test_stop_hotkey_does_not_leak(void)
{
	setup();
	key(&kbd, KEY_LEFTCTRL, 1);
	key(&kbd, KEY_RIGHTALT, 1);
	key(&kbd, KEY_ESC, 1);
	key(&kbd, KEY_ESC, 0);
	key(&kbd, KEY_RIGHTALT, 0);
	key(&kbd, KEY_LEFTCTRL, 0);
	CHECK(!strcmp(log_, "+29 +100 -29 -100 S "));
}

/* Ctrl+Alt+G releases input: nothing reaches the guest until the second
 * Ctrl+Alt+G; the ungrab waits until no key of the device is down. */
static void test_grab_toggle(void)
{
	setup();
	key(&kbd, KEY_A, 0); /* a release never pressed: nothing */
	CHECK_EQ(grabs, 1);
	CHECK(kbd.grabbed);
	key(&kbd, KEY_RIGHTCTRL, 1);
	key(&kbd, KEY_LEFTALT, 1);
	key(&kbd, KEY_G, 1);
	CHECK(!e.capture);
	CHECK(kbd.grabbed); /* keys still down: not yet */
	key(&kbd, KEY_G, 0);
	key(&kbd, KEY_LEFTALT, 0);
	key(&kbd, KEY_RIGHTCTRL, 0);
	CHECK(!kbd.grabbed);
	CHECK_EQ(ungrabs, 1);
	key(&kbd, KEY_B, 1);
	key(&kbd, KEY_B, 0);
	rel(&mouse, REL_X, 5);
	syn(&mouse);
	CHECK(!strcmp(log_, "+97 +56 -56 -97 "));
	/* and back */
	key(&kbd, KEY_LEFTCTRL, 1);
	key(&kbd, KEY_LEFTALT, 1);
	key(&kbd, KEY_G, 1);
	CHECK(e.capture);
	key(&kbd, KEY_G, 0);
	key(&kbd, KEY_LEFTALT, 0);
	key(&kbd, KEY_LEFTCTRL, 0);
	CHECK(kbd.grabbed);
	CHECK_EQ(grabs, 2);
	key(&kbd, KEY_C, 1);
	CHECK(!strcmp(log_, "+97 +56 -56 -97 +46 "));
}

/* A key held when hal starts (the Enter that ran it): no grab until it is
 * up, and its release does not reach the guest. */
static void test_grab_waits_for_keys_up(void)
{
	setup();
	kbd.down[KEY_ENTER / 8] |= 1u << (KEY_ENTER % 8);
	kbd.ndown = 1;
	evdev_sync_grab(&e, &kbd);
	CHECK(!kbd.grabbed);
	key(&kbd, KEY_ENTER, 0);
	CHECK(kbd.grabbed);
	CHECK(!strcmp(log_, ""));
}

static void test_mouse(void)
{
	setup();
	rel(&mouse, REL_X, 3);
	rel(&mouse, REL_X, 4);
	rel(&mouse, REL_Y, -2);
	rel(&mouse, REL_WHEEL, 1);
	syn(&mouse);
	key(&mouse, BTN_LEFT, 1);
	key(&mouse, BTN_RIGHT, 1);
	key(&mouse, BTN_LEFT, 0);
	key(&mouse, BTN_RIGHT, 0);
	key(&mouse, BTN_SIDE, 1); /* not a PS/2 button: dropped */
	syn(&mouse);
	CHECK(!strcmp(log_, "M7,-2,1,0 M0,0,0,1 M0,0,0,3 M0,0,0,2 M0,0,0,0 "));
}

static void test_power_and_unplug(void)
{
	setup();
	struct evdev_dev pwr = { .fd = -1, .kind = EVDEV_POWER };
	key(&pwr, KEY_POWER, 1);
	key(&pwr, KEY_POWER, 0);
	CHECK(!strcmp(log_, "P "));
	key(&kbd, KEY_LEFTSHIFT, 1);
	key(&kbd, KEY_X, 1);
	evdev_gone(&e, &kbd); /* unplugged with keys down: the guest gets releases */
	CHECK(!strcmp(log_, "P +42 +45 -42 -45 "));
}

/* One owner for the power button while hal runs: input released to the
 * host (Ctrl+Alt+G) leaves the ACPI button grabbed and the guest's, and a
 * keyboard's power key goes to nobody (init watches only power buttons). */
static void test_power_button_one_owner(void)
{
	setup();
	struct evdev_dev pwr = { .fd = -1, .kind = EVDEV_POWER };
	e.capture = false;
	evdev_sync_grab(&e, &pwr);
	CHECK(pwr.grabbed);
	evdev_sync_grab(&e, &kbd);
	CHECK(!kbd.grabbed);
	key(&kbd, KEY_POWER, 1);
	key(&kbd, KEY_POWER, 0);
	CHECK(!strcmp(log_, ""));
	key(&pwr, KEY_POWER, 1);
	key(&pwr, KEY_POWER, 0);
	CHECK(!strcmp(log_, "P "));
	CHECK(pwr.grabbed);
	CHECK_EQ(ungrabs, 0);
}

static void test_classify(void)
{
	uint8_t keys[EVDEV_KEYS / 8] = { 0 }, rels[REL_CNT / 8 + 1] = { 0 };
#define S(m, n) ((m)[(n) / 8] |= 1u << ((n) % 8))
	CHECK_EQ(evdev_classify(keys, rels), 0);
	S(keys, KEY_A), S(keys, KEY_Z), S(keys, KEY_SPACE);
	CHECK_EQ(evdev_classify(keys, rels), EVDEV_KBD);
	S(keys, BTN_LEFT), S(rels, REL_X);
	CHECK_EQ(evdev_classify(keys, rels), EVDEV_KBD); /* no REL_Y */
	S(rels, REL_Y), S(keys, KEY_POWER);
	CHECK_EQ(evdev_classify(keys, rels), EVDEV_KBD | EVDEV_MOUSE | EVDEV_POWER);
}

static void test_fbdev_formats(void)
{
	struct fb_fix_screeninfo fix = { .type = FB_TYPE_PACKED_PIXELS, .visual = FB_VISUAL_TRUECOLOR };
	struct fb_var_screeninfo v = { .bits_per_pixel = 32, .red = { 16, 8, 0 }, .green = { 8, 8, 0 }, .blue = { 0, 8, 0 } };
	bool direct = false;
	CHECK(fbdev_format_ok(&v, &fix, &direct) && direct);
	/* vesafb's 24 bpp */
	v.bits_per_pixel = 24;
	CHECK(fbdev_format_ok(&v, &fix, &direct) && !direct);
	uint32_t px[2] = { 0x00123456, 0x00ffffff };
	uint8_t out[8] = { 0 };
	fbdev_convert_row(out, px, 2, &v);
	CHECK(!memcmp(out, "\x56\x34\x12\xff\xff\xff", 6));
	/* RGB565 */
	v.bits_per_pixel = 16;
	v.red = (struct fb_bitfield){ 11, 5, 0 };
	v.green = (struct fb_bitfield){ 5, 6, 0 };
	v.blue = (struct fb_bitfield){ 0, 5, 0 };
	CHECK(fbdev_format_ok(&v, &fix, &direct) && !direct);
	px[0] = 0x00ff0000;
	px[1] = 0x0000ff00;
	fbdev_convert_row(out, px, 2, &v);
	CHECK_EQ(out[0] | out[1] << 8, 0xf800);
	CHECK_EQ(out[2] | out[3] << 8, 0x07e0);
	/* 32 bpp BGR: converted, not copied */
	v.bits_per_pixel = 32;
	v.red = (struct fb_bitfield){ 0, 8, 0 };
	v.blue = (struct fb_bitfield){ 16, 8, 0 };
	v.green = (struct fb_bitfield){ 8, 8, 0 };
	CHECK(fbdev_format_ok(&v, &fix, &direct) && !direct);
	v.bits_per_pixel = 8;
	CHECK(!fbdev_format_ok(&v, &fix, &direct));
	v.bits_per_pixel = 32;
	fix.visual = FB_VISUAL_PSEUDOCOLOR;
	CHECK(!fbdev_format_ok(&v, &fix, &direct));
}

/* hal's --display is chosen in fb_start. Without libdrm (this host build)
 * kms never opens; none picks nothing; an unknown name is an error, not a
 * silent "no screen". */
static void test_display_choose(void)
{
	CHECK(fb_start(NULL, "vnc") < 0);
	CHECK(fb_start(NULL, "kms") < 0);
	CHECK(fb_start(NULL, "none") == 0 && !fb_has_backend());
}

int main(void)
{
	RUN(test_keys_pass_repeat_dropped);
	RUN(test_stop_hotkey_does_not_leak);
	RUN(test_grab_toggle);
	RUN(test_grab_waits_for_keys_up);
	RUN(test_mouse);
	RUN(test_power_and_unplug);
	RUN(test_power_button_one_owner);
	RUN(test_classify);
	RUN(test_fbdev_formats);
	RUN(test_display_choose);
	return 0;
}
