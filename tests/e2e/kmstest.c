/* The KMS backend on its own, for the display test bed (tests/e2e/display.sh):
 * opens backend NAME (kms or fb, default kms) as fb_start does, draws four
 * quadrants (red, green / blue, white) over the native mode, presents them,
 * keeps them up for SECONDS, closes (the console must come back).
 * Prints "E2E: kmstest shown WxH" and "E2E: kmstest closed".
 * Usage: kmstest [NAME [SECONDS]] */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hal.h"
#include "display/display.h"

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "kms";
	int secs = argc > 2 ? atoi(argv[2]) : 8;
	struct display_mode m;
	hal_verbose = 1;
	const struct display_backend *b = !strcmp(name, "fb") ? &display_fbdev : &display_kms;
	if (b->open(&m, false) < 0) {
		printf("E2E: kmstest open failed\n");
		return 1;
	}
	uint32_t *px = b->buffer();
	int w = m.width, h = m.height, s = m.stride / 4;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			px[y * s + x] = y < h / 2 ? (x < w / 2 ? 0xff0000 : 0x00ff00) : (x < w / 2 ? 0x0000ff : 0xffffff);
	/* Two presents, the second maybe while the first flip is in flight:
	 * the backend merges them. */
	b->present(0, h / 2);
	b->present(h / 2, h);
	for (int i = 0; i < secs * 10; i++) {
		/* as the event loop does: on_event only when the fd is readable */
		struct pollfd p = { .fd = b->fd ? b->fd() : -1, .events = POLLIN };
		if (poll(&p, 1, 100) > 0 && b->on_event)
			b->on_event();
		if (i == 5) {
			printf("E2E: kmstest shown %dx%d backend=%s\n", w, h, b->name);
			fflush(stdout);
		}
	}
	b->close();
	printf("E2E: kmstest closed\n");
	fflush(stdout);
	return 0;
}
