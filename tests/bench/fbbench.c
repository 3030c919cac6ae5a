/* Framebuffer core benchmark (docs/benchmarks.md): host CPU time per frame
 * of hal/display/fb.c for a full-screen change, a one-line change and no change,
 * at guest resolutions 1024x768 and 1920x1080 (XRGB8888), presented to an
 * in-memory 1920x1080 backend (letterboxed). KVM_GET_DIRTY_LOG is replaced
 * by a function that reports the pages this program wrote; the ioctl itself
 * is timed separately by tests/bench/fb.sh's note. Built -O2 without
 * sanitizers from the hal sources: make bench-fb */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hal.h"
#include "core/loop.h"
#include "display/bochs.h"
#include "display/fb.h"

struct vm *the_vm;
int vm_dirty_log(int slot, uint64_t *bitmap) { (void)slot; (void)bitmap; return -1; }
int vm_ram_slot(uint64_t gpa, uint64_t size, void *hva, bool dirty_log) { return -1; }
int vm_ram_slot_move(int slot, uint64_t gpa, uint64_t size, void *hva, bool dirty_log, bool present) { return -1; }

#define VRAM (16u << 20)
static uint8_t *vram;
static uint64_t pending[VRAM / 4096 / 64];
static struct fb_scanout mode;

static int fake_dirty_log(int slot, uint64_t *bm)
{
	memcpy(bm, pending, sizeof(pending));
	memset(pending, 0, sizeof(pending));
	return 0;
}

static void touch(size_t off, size_t len)
{
	for (size_t p = off / 4096; p <= (off + len - 1) / 4096; p++)
		pending[p / 64] |= 1ull << (p % 64);
}

static void get(void *ctx, struct fb_scanout *s) { *s = mode; }

/* backend: 1920x1080 in memory */
static uint32_t *screen;
static int be_open(struct display_mode *m, bool quiet) { *m = (struct display_mode){ 1920, 1080, 1920 * 4 }; return 0; }
static uint32_t *be_buffer(void) { return screen; }
static volatile int presented;
static void be_present(int y0, int y1) { presented += y1 - y0; }
static void be_close(void) {}
const struct display_backend display_kms = {
	.name = "bench", .open = be_open, .buffer = be_buffer, .present = be_present, .close = be_close,
};

static double cpu_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void run(int w, int h, int iters)
{
	mode = (struct fb_scanout){ .kind = FB_GFX, .width = w, .height = h, .bpp = 32, .stride = w * 4,
				    .pixels = vram, .slot = 0, .slot_size = VRAM, .serial = (uint32_t)w };
	fb_tick(); /* mode change: first full frame */
	const char *names[3] = { "full-screen change", "one-line change", "no change" };
	for (int c = 0; c < 3; c++) {
		double t0 = cpu_ns(), guest = 0;
		int rows = 0;
		for (int i = 0; i < iters; i++) {
			double g0 = cpu_ns();
			if (c == 0) { /* the guest redraws everything */
				memset(vram, i & 0xff, (size_t)w * h * 4);
				touch(0, (size_t)w * h * 4);
			} else if (c == 1) { /* one text line: 16 rows in the middle */
				size_t off = (size_t)(h / 2) * w * 4, len = (size_t)w * 4 * 16;
				memset(vram + off, i & 0xff, len);
				touch(off, len);
			}
			guest += cpu_ns() - g0;
			rows += fb_tick();
		}
		double per = (cpu_ns() - t0 - guest) / iters;
		printf("fb %4dx%-4d %-20s %8.1f us/frame  (%d rows converted per frame)\n", w, h, names[c], per / 1000,
		       rows / iters);
	}
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 200;
	vram = calloc(1, VRAM);
	screen = calloc(1920 * 1080, 4);
	fb_dirty_log = fake_dirty_log;
	loop_init();
	struct fb_source src = { get, NULL };
	if (fb_start(&src, "bench") < 0)
		return 1;
	run(1024, 768, iters);
	run(1920, 1080, iters);
	return 0;
}
