/* --display kms: the guest's frames on a DRM/KMS output through libdrm
 * (docs/display-host.md).
 *
 * One connected connector in its native (preferred) mode, two dumb buffers
 * in XRGB8888 flipped with DRM_MODE_PAGE_FLIP_EVENT; the flip completion
 * arrives on the DRM fd, which the event loop watches. The core draws into a
 * cached shadow buffer in RAM: dumb buffers are often write-combined, so
 * nothing ever reads them back. Each dumb buffer remembers which rows of the
 * shadow it has not seen yet; a flip copies exactly those rows. A frame
 * presented while a flip is in flight is merged into the next flip, so the
 * core never waits. Drivers without page flips get one buffer plus DIRTYFB.
 * The CRTC found at open is put back at close, and by the fatal-signal path.
 *
 * Without HAL_LIBDRM (the host build of the unit tests, which cannot link a
 * musl libdrm) the backend exists but never opens. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hal.h"
#include "display/display.h"
#include "host/console.h"

#ifdef HAL_LIBDRM
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

struct dumb {
	uint32_t handle, fb_id, pitch;
	uint64_t size;
	uint8_t *map;
	int lo, hi; /* rows [lo, hi) of the shadow not yet copied here */
};

static struct kms {
	int fd;
	uint32_t conn_id, crtc_id;
	drmModeModeInfo mode;
	drmModeCrtc *saved;
	struct dumb buf[2];
	int front;          /* the buffer being scanned out */
	bool flip_pending;
	bool can_flip;      /* false: one buffer, DIRTYFB after each frame */
	bool dirtyfb;       /* DIRTYFB is wanted (not ENOSYS/EINVAL) */
	uint32_t *shadow;
	int stride;         /* of the shadow, bytes */
} k = { .fd = -1 };

/* What the fatal-signal path needs, prepared in advance (emergency_restore). */
static struct drm_mode_crtc emerg;
static uint32_t emerg_conn;
static volatile int emerg_fd = -1;

#define say(quiet, ...) do { if (quiet) dbg(__VA_ARGS__); else err(__VA_ARGS__); } while (0)

static bool is_boot_vga(int n)
{
	char path[64], c = 0;
	snprintf(path, sizeof(path), "/sys/class/drm/card%d/device/boot_vga", n);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool yes = read(fd, &c, 1) == 1 && c == '1';
	close(fd);
	return yes;
}

/* The mode the panel is made for: PREFERRED, else the largest. */
static bool pick_mode(const drmModeConnector *c, drmModeModeInfo *out)
{
	int best = -1;
	for (int i = 0; i < c->count_modes; i++) {
		const drmModeModeInfo *mi = &c->modes[i];
		if (mi->type & DRM_MODE_TYPE_PREFERRED) {
			best = i;
			break;
		}
		if (best < 0 || mi->hdisplay * mi->vdisplay > c->modes[best].hdisplay * c->modes[best].vdisplay)
			best = i;
	}
	if (best < 0)
		return false;
	*out = c->modes[best];
	return true;
}

static uint32_t pick_crtc(int fd, const drmModeRes *res, const drmModeConnector *c)
{
	if (c->encoder_id) {
		drmModeEncoder *e = drmModeGetEncoder(fd, c->encoder_id);
		uint32_t id = e ? e->crtc_id : 0;
		drmModeFreeEncoder(e);
		if (id)
			return id;
	}
	for (int i = 0; i < c->count_encoders; i++) {
		drmModeEncoder *e = drmModeGetEncoder(fd, c->encoders[i]);
		if (!e)
			continue;
		uint32_t mask = e->possible_crtcs;
		drmModeFreeEncoder(e);
		for (int j = 0; j < res->count_crtcs && j < 32; j++)
			if (mask & (1u << j))
				return res->crtcs[j];
	}
	return 0;
}

/* Card n: DRM_CAP_DUMB_BUFFER and a connected connector with a mode. */
static bool try_card(int n, bool quiet)
{
	char path[32];
	snprintf(path, sizeof(path), "/dev/dri/card%d", n);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		say(quiet, "kms: %s: %s", path, strerror(errno));
		return false;
	}
	uint64_t dumb = 0;
	drmModeRes *res = NULL;
	if (drmGetCap(fd, DRM_CAP_DUMB_BUFFER, &dumb) < 0 || !dumb || !(res = drmModeGetResources(fd))) {
		say(quiet, "kms: %s: no dumb buffers or no mode setting", path);
		close(fd);
		return false;
	}
	bool found = false;
	for (int i = 0; i < res->count_connectors && !found; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);
		if (c && c->connection == DRM_MODE_CONNECTED && pick_mode(c, &k.mode) &&
		    (k.crtc_id = pick_crtc(fd, res, c))) {
			k.conn_id = c->connector_id;
			found = true;
		}
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	if (!found) {
		say(quiet, "kms: %s: no connected output", path);
		close(fd);
		return false;
	}
	k.fd = fd;
	dbg("kms: %s connector %u crtc %u mode %s %dx%d@%u", path, k.conn_id, k.crtc_id, k.mode.name,
	    k.mode.hdisplay, k.mode.vdisplay, k.mode.vrefresh);
	return true;
}

/* Never assume card0: boot_vga devices first, then the rest by number. */
static bool find_card(bool quiet)
{
	int cards[16], n = 0;
	DIR *d = opendir("/dev/dri");
	if (!d) {
		say(quiet, "kms: no /dev/dri (no DRM driver loaded)");
		return false;
	}
	struct dirent *de;
	while ((de = readdir(d)) && n < 16) {
		char *end;
		if (strncmp(de->d_name, "card", 4))
			continue;
		long v = strtol(de->d_name + 4, &end, 10);
		if (end != de->d_name + 4 && !*end && v >= 0 && v < 1000)
			cards[n++] = (int)v;
	}
	closedir(d);
	for (int pass = 0; pass < 2; pass++)
		for (int want = 0; want < 1000; want++)
			for (int i = 0; i < n; i++)
				if (cards[i] == want && is_boot_vga(want) == (pass == 0) && try_card(want, quiet))
					return true;
	if (!n)
		say(quiet, "kms: no /dev/dri/card*");
	return false;
}

static int dumb_create(struct dumb *b, int w, int h)
{
	if (drmModeCreateDumbBuffer(k.fd, w, h, 32, 0, &b->handle, &b->pitch, &b->size) < 0)
		return -1;
	uint64_t off;
	if (drmModeAddFB(k.fd, w, h, 24, 32, b->pitch, b->handle, &b->fb_id) < 0 ||
	    drmModeMapDumbBuffer(k.fd, b->handle, &off) < 0)
		return -1;
	void *p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, k.fd, (off_t)off);
	if (p == MAP_FAILED)
		return -1;
	b->map = p;
	memset(b->map, 0, b->size); /* black: written, never read */
	b->lo = b->hi = 0;
	return 0;
}

static void dumb_destroy(struct dumb *b)
{
	if (b->map)
		munmap(b->map, b->size);
	if (b->fb_id)
		drmModeRmFB(k.fd, b->fb_id);
	if (b->handle)
		drmModeDestroyDumbBuffer(k.fd, b->handle);
	memset(b, 0, sizeof(*b));
}

static void kms_close(void);

static int kms_open(struct display_mode *m, bool quiet)
{
	if (k.fd >= 0)
		return -1;
	if (!find_card(quiet))
		return -1;
	int w = k.mode.hdisplay, h = k.mode.vdisplay;
	k.stride = w * 4;
	k.shadow = calloc((size_t)w * h, 4);
	if (!k.shadow || dumb_create(&k.buf[0], w, h) < 0 || dumb_create(&k.buf[1], w, h) < 0) {
		say(quiet, "kms: %dx%d buffers: %s", w, h, strerror(errno));
		goto fail;
	}
	k.saved = drmModeGetCrtc(k.fd, k.crtc_id);
	console_graphics();
	if (drmModeSetCrtc(k.fd, k.crtc_id, k.buf[0].fb_id, 0, 0, &k.conn_id, 1, &k.mode) < 0) {
		say(quiet, "kms: setting mode %s: %s%s", k.mode.name, strerror(errno),
		    errno == EACCES ? " (another program is DRM master)" : "");
		goto fail;
	}
	if (k.saved && k.saved->mode_valid && k.saved->buffer_id) {
		emerg = (struct drm_mode_crtc){
			.crtc_id = k.crtc_id, .fb_id = k.saved->buffer_id, .x = k.saved->x, .y = k.saved->y,
			.mode_valid = 1, .count_connectors = 1, .set_connectors_ptr = (uintptr_t)&emerg_conn,
		};
		memcpy(&emerg.mode, &k.saved->mode, sizeof(emerg.mode));
		emerg_conn = k.conn_id;
		emerg_fd = k.fd;
	}
	k.front = 0;
	k.flip_pending = false;
	k.can_flip = true;
	k.dirtyfb = true;
	*m = (struct display_mode){ .width = w, .height = h, .stride = k.stride };
	return 0;
fail:
	kms_close();
	return -1;
}

static uint32_t *kms_buffer(void)
{
	return k.shadow;
}

static void copy_rows(struct dumb *b)
{
	size_t row = (size_t)k.mode.hdisplay * 4;
	for (int y = b->lo; y < b->hi; y++)
		memcpy(b->map + (size_t)y * b->pitch, (uint8_t *)k.shadow + (size_t)y * k.stride, row);
}

/* Put what the shadow has on the screen, unless a flip is in flight (then
 * the flip's completion calls this again). */
static void kick(void)
{
	if (k.flip_pending)
		return;
	if (k.can_flip) {
		struct dumb *b = &k.buf[!k.front];
		if (b->lo >= b->hi)
			return;
		copy_rows(b);
		if (drmModePageFlip(k.fd, k.crtc_id, b->fb_id, DRM_MODE_PAGE_FLIP_EVENT, NULL) == 0) {
			b->lo = b->hi = 0;
			k.flip_pending = true;
			return;
		}
		if (errno == EBUSY)
			return; /* not ours in flight: retried on the next present */
		dbg("kms: page flip: %s; one buffer with DIRTYFB from now on", strerror(errno));
		k.can_flip = false;
		k.buf[k.front].lo = 0; /* the front buffer may be behind: bring it up to date */
		k.buf[k.front].hi = k.mode.vdisplay;
	}
	struct dumb *f = &k.buf[k.front];
	if (f->lo >= f->hi)
		return;
	copy_rows(f);
	if (k.dirtyfb) {
		drmModeClip clip = { .x1 = 0, .y1 = (uint16_t)f->lo, .x2 = (uint16_t)k.mode.hdisplay, .y2 = (uint16_t)f->hi };
		if (drmModeDirtyFB(k.fd, f->fb_id, &clip, 1) < 0 && (errno == ENOSYS || errno == EINVAL))
			k.dirtyfb = false; /* the driver scans out memory directly: not needed */
	}
	f->lo = f->hi = 0;
}

static void kms_present(int y0, int y1)
{
	if (k.fd < 0)
		return;
	if (y0 < 0)
		y0 = 0;
	if (y1 > k.mode.vdisplay)
		y1 = k.mode.vdisplay;
	if (y0 >= y1)
		return;
	for (int i = 0; i < 2; i++) {
		struct dumb *b = &k.buf[i];
		if (b->lo >= b->hi) {
			b->lo = y0;
			b->hi = y1;
		} else {
			b->lo = y0 < b->lo ? y0 : b->lo;
			b->hi = y1 > b->hi ? y1 : b->hi;
		}
	}
	kick();
}

static void on_flip(int fd, unsigned seq, unsigned sec, unsigned usec, void *data)
{
	k.flip_pending = false;
	k.front = !k.front;
}

static void kms_on_event(void)
{
	drmEventContext ev = { .version = 2, .page_flip_handler = on_flip };
	if (drmHandleEvent(k.fd, &ev) < 0)
		return;
	kick();
}

static int kms_fd(void)
{
	return k.fd;
}

static void kms_close(void)
{
	if (k.fd < 0)
		return;
	emerg_fd = -1;
	/* A flip cannot be cancelled; some drivers misbehave if its buffer goes
	 * away first, so wait for it (briefly). */
	for (int i = 0; i < 5 && k.flip_pending; i++) {
		struct pollfd p = { .fd = k.fd, .events = POLLIN };
		if (poll(&p, 1, 100) > 0) {
			drmEventContext ev = { .version = 2, .page_flip_handler = on_flip };
			drmHandleEvent(k.fd, &ev);
		}
	}
	if (k.saved && k.saved->mode_valid && k.saved->buffer_id)
		drmModeSetCrtc(k.fd, k.crtc_id, k.saved->buffer_id, k.saved->x, k.saved->y, &k.conn_id, 1,
			       &k.saved->mode);
	else
		drmModeSetCrtc(k.fd, k.crtc_id, 0, 0, 0, NULL, 0, NULL);
	drmModeFreeCrtc(k.saved);
	k.saved = NULL;
	for (int i = 0; i < 2; i++)
		dumb_destroy(&k.buf[i]);
	free(k.shadow);
	k.shadow = NULL;
	close(k.fd); /* dropping DRM master also lets fbcon back */
	k.fd = -1;
	console_restore();
}

static void kms_emergency_restore(void)
{
	int fd = emerg_fd;
	if (fd >= 0) {
		emerg_fd = -1;
		ioctl(fd, DRM_IOCTL_MODE_SETCRTC, &emerg);
	}
	console_emergency_restore();
}

#else /* !HAL_LIBDRM */

static int kms_open(struct display_mode *m, bool quiet)
{
	if (!quiet)
		err("kms: this hal was built without libdrm");
	return -1;
}
static uint32_t *kms_buffer(void) { return NULL; }
static void kms_present(int y0, int y1) {}
static int kms_fd(void) { return -1; }
static void kms_on_event(void) {}
static void kms_close(void) {}
static void kms_emergency_restore(void) {}

#endif

const struct display_backend display_kms = {
	.name = "kms",
	.open = kms_open,
	.buffer = kms_buffer,
	.present = kms_present,
	.fd = kms_fd,
	.on_event = kms_on_event,
	.close = kms_close,
	.emergency_restore = kms_emergency_restore,
};
