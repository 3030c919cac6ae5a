/* --control PATH: a Unix stream socket on the main event loop with a line
 * protocol for people and tests; one reply line per command, starting with
 * "ok" or "error". Commands (docs/display.md):
 *   screendump FILE    the guest screen at its resolution, PNG (".ppm": PPM)
 *   sendkey COMBO      QEMU key names joined by '-', e.g. ctrl-alt-delete
 *   type TEXT          the characters of TEXT as key presses (US layout)
 *   mouse DX DY [BTN]  relative motion, buttons bit 0 left, 1 right, 2 middle
 *   powerdown          ACPI power button
 *   quit               stop hal (exit status 5)
 *   status             "ok running <display mode>"
 *   eject [cdromN]     opens the CD drive's tray: the guest sees no medium
 *   change cdrom[N] PATH  a new ISO in the drive (UNIT ATTENTION in the guest) */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/hal.h"
#include "core/loop.h"
#include "display/fb.h"
#include "host/control.h"

#define MAX_CLIENTS 8
#define LINE_MAX_LEN 1024

struct client {
	int fd;
	char buf[LINE_MAX_LEN];
	size_t len;
};

static struct client clients[MAX_CLIENTS];
static int listen_fd = -1;
static char sock_path[108];
static int (*media_change)(int drive, const char *path, char *why, size_t whylen);
static int ncdroms;

void control_set_media(int (*change)(int drive, const char *path, char *why, size_t whylen), int n)
{
	media_change = change;
	ncdroms = n;
}

/* "cdrom" is the first drive, "cdromN" drive N (from 0, in --cdrom order);
 * -1 after the reply says what is wrong. */
static int cdrom_by_name(const char *name, size_t n, char *reply, size_t len)
{
	int i = 0;
	if (n < 5 || strncmp(name, "cdrom", 5) || (n > 5 && (strspn(name + 5, "0123456789") != n - 5 || n > 7))) {
		snprintf(reply, len, "error unknown drive '%.*s' (cdrom, cdrom0, cdrom1...)", (int)(n > 32 ? 32 : n), name);
		return -1;
	}
	if (n > 5)
		i = atoi(name + 5);
	if (i >= ncdroms || !media_change) {
		snprintf(reply, len, "error no CD drive %d: hal has %d (one per --cdrom)", i, ncdroms);
		return -1;
	}
	return i;
}

static void media(bool change, const char *arg, char *reply, size_t len)
{
	char why[300];
	const char *a = arg ? arg : "";
	size_t n = strcspn(a, " ");
	const char *path = a + n;
	while (*path == ' ')
		path++;
	int drive = cdrom_by_name(n ? a : "cdrom", n ? n : 5, reply, len);
	if (drive < 0)
		return;
	if (change && !*path) {
		snprintf(reply, len, "error change cdrom PATH");
		return;
	}
	if (!change && *path) {
		snprintf(reply, len, "error eject [cdromN]");
		return;
	}
	if (media_change(drive, change ? path : NULL, why, sizeof(why)) < 0)
		snprintf(reply, len, "error %s", why);
	else
		snprintf(reply, len, "ok");
}

static void sendkey(const char *combo, char *reply, size_t len)
{
	unsigned codes[8];
	int n = 0;
	char tmp[64];
	if (strlen(combo) >= sizeof(tmp)) {
		snprintf(reply, len, "error key combination too long");
		return;
	}
	strcpy(tmp, combo);
	char *save = NULL;
	/* "-" alone and trailing "--" name the minus key */
	for (char *t = strtok_r(tmp, "-", &save); t; t = strtok_r(NULL, "-", &save)) {
		unsigned c = keymap_by_name(t);
		if (!c) {
			snprintf(reply, len, "error unknown key '%s'", t);
			return;
		}
		if (n == 8) {
			snprintf(reply, len, "error more than 8 keys");
			return;
		}
		codes[n++] = c;
	}
	if (!n) {
		snprintf(reply, len, "error sendkey needs keys, e.g. ctrl-alt-delete");
		return;
	}
	for (int i = 0; i < n; i++)
		input_key(codes[i], true);
	for (int i = n - 1; i >= 0; i--)
		input_key(codes[i], false);
	snprintf(reply, len, "ok");
}

static void type_text(const char *text, char *reply, size_t len)
{
	int n = 0;
	for (const char *p = text; *p; p++) {
		bool shift;
		unsigned c = keymap_char(*p, &shift);
		if (!c) {
			snprintf(reply, len, "error cannot type character 0x%02x", (unsigned char)*p);
			return;
		}
	}
	for (const char *p = text; *p; p++, n++) {
		bool shift;
		unsigned c = keymap_char(*p, &shift);
		if (shift)
			input_key(KEY_LEFTSHIFT, true);
		input_key(c, true);
		input_key(c, false);
		if (shift)
			input_key(KEY_LEFTSHIFT, false);
	}
	snprintf(reply, len, "ok %d", n);
}

void control_command(const char *line, char *reply, size_t len)
{
	while (*line == ' ' || *line == '\t')
		line++;
	const char *arg = strchr(line, ' ');
	size_t cl = arg ? (size_t)(arg - line) : strlen(line);
	if (arg)
		while (*arg == ' ')
			arg++;
	char why[256];
#define IS(s) (cl == strlen(s) && !strncmp(line, s, cl))
	if (IS("screendump")) {
		if (!arg || !*arg)
			snprintf(reply, len, "error screendump needs a file name");
		else if (fb_screendump(arg, why, sizeof(why)) < 0)
			snprintf(reply, len, "error %s", why);
		else
			snprintf(reply, len, "ok %s", why);
	} else if (IS("sendkey")) {
		sendkey(arg ? arg : "", reply, len);
	} else if (IS("type")) {
		type_text(arg ? arg : "", reply, len);
	} else if (IS("mouse")) {
		int dx, dy;
		unsigned btn = 0;
		if (!arg || sscanf(arg, "%d %d %u", &dx, &dy, &btn) < 2)
			snprintf(reply, len, "error mouse DX DY [BUTTONS]");
		else {
			input_mouse(dx, dy, 0, btn);
			snprintf(reply, len, "ok");
		}
	} else if (IS("powerdown")) {
		machine_power_button();
		snprintf(reply, len, "ok");
	} else if (IS("quit")) {
		vm_request_stop(HAL_EXIT_SIGNAL);
		snprintf(reply, len, "ok");
	} else if (IS("status")) {
		fb_describe(why, sizeof(why));
		bool stopping = the_vm && __atomic_load_n(&the_vm->stopping, __ATOMIC_ACQUIRE);
		snprintf(reply, len, "ok %s %s", stopping ? "stopping" : "running", why);
	} else if (IS("eject")) {
		media(false, arg, reply, len);
	} else if (IS("change")) {
		media(true, arg, reply, len);
	} else if (IS("help")) {
		snprintf(reply, len, "ok screendump FILE | sendkey COMBO | type TEXT | mouse DX DY [BTN] | "
				     "powerdown | quit | status | eject [cdromN] | change cdrom[N] PATH");
	} else if (cl == 0) {
		snprintf(reply, len, "error empty command");
	} else {
		snprintf(reply, len, "error unknown command '%.*s' (try help)", (int)(cl > 32 ? 32 : cl), line);
	}
#undef IS
}

static void drop(struct client *c)
{
	loop_del(c->fd);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void on_client(void *ctx)
{
	struct client *c = ctx;
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			drop(c);
		return;
	}
	c->len += (size_t)n;
	char *nl;
	while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
		*nl = 0;
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = 0;
		char reply[512];
		control_command(c->buf, reply, sizeof(reply) - 1);
		size_t rl = strlen(reply);
		reply[rl++] = '\n';
		if (send(c->fd, reply, rl, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			drop(c);
		size_t used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->fd >= 0 && c->len == sizeof(c->buf) - 1) {
		static const char msg[] = "error line too long\n";
		send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
		drop(c);
	}
}

static void on_accept(void *ctx)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd >= 0)
			continue;
		clients[i].fd = fd;
		clients[i].len = 0;
		if (loop_add(fd, on_client, &clients[i]) == 0)
			return;
		clients[i].fd = -1;
		break;
	}
	static const char busy[] = "error too many control clients\n";
	send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
	close(fd);
}

int control_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		err("--control %s: path too long (at most %zu bytes)", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run */
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 4) < 0 ||
	    loop_add(listen_fd, on_accept, NULL) < 0) {
		err("--control %s: %s", path, strerror(errno));
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
		return -1;
	}
	strcpy(sock_path, path);
	return 0;
}

void control_stop(void)
{
	if (listen_fd < 0)
		return; /* never started: the client table holds no descriptors */
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop(&clients[i]);
	if (listen_fd >= 0) {
		loop_del(listen_fd);
		close(listen_fd);
		unlink(sock_path);
	}
	listen_fd = -1;
}
