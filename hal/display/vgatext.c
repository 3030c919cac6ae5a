/* The legacy VGA window and text mode, just enough for guests that write
 * straight to 0xB8000 (Linux vgacon, DOS, memory testers): 0xA0000-0xBFFFF
 * is plain RAM with dirty logging (a font upload into plane 2 lands
 * harmlessly), the registers at 0x3C0-0x3DF keep what is written and give
 * it back, 0x3DA toggles the retrace bits, and the core renders 80x25 cells
 * from 0xB8000 with a built-in 8x16 font (CP437, from Debian's
 * console-setup-linux). Planar and 256-colour VGA modes are not emulated. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "core/hal.h"
#include "display/bochs.h"
#include "font8x16.h" /* generated: vga_font8x16 */

#define VGA_BASE 0xA0000ULL
#define VGA_SIZE 0x20000ULL
#define TEXT_OFF ((uint64_t)VGA_TEXT_OFF)

/* The 16 text colours of the standard palette. */
static const uint32_t cga[16] = {
	0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
	0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
};

void vgatext_reset_regs(struct vgatext *v)
{
	pthread_mutex_lock(&v->lock);
	v->misc = 0x67; /* colour, 0x3Dx ports, RAM enabled */
	memset(v->seq, 0, sizeof(v->seq));
	memset(v->gc, 0, sizeof(v->gc));
	memset(v->crtc, 0, sizeof(v->crtc));
	memset(v->atc, 0, sizeof(v->atc));
	v->seq[1] = 0x00; v->seq[2] = 0x03; v->seq[4] = 0x02;
	v->gc[5] = 0x10; v->gc[6] = 0x0e;
	v->crtc[0x01] = 79; v->crtc[0x09] = 0x0f; v->crtc[0x0a] = 0x0d; v->crtc[0x0b] = 0x0e;
	v->crtc[0x12] = 0x8f;
	for (int i = 0; i < 16; i++)
		v->atc[i] = (uint8_t)i;
	v->atc[0x10] = 0x0c;
	v->pel_mask = 0xff;
	v->atc_flip = false;
	for (int i = 0; i < 256; i++)
		for (int c = 0; c < 3; c++)
			v->dac[i][c] = (uint8_t)((cga[i & 15] >> (16 - 8 * c)) >> 2 & 0x3f);
	pthread_mutex_unlock(&v->lock);
}

int vgatext_init(struct vgatext *v)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	v->slot = -1;
	v->mem = mmap(NULL, VGA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		err("cannot map VGA memory: %s", strerror(errno));
		return -1;
	}
	vgatext_reset_regs(v);
	if (the_vm && (v->slot = vm_ram_slot(VGA_BASE, VGA_SIZE, v->mem, true)) < 0)
		return -1;
	return 0;
}

void vgatext_exit(struct vgatext *v)
{
	if (v->slot >= 0 && the_vm)
		vm_ram_slot_move(v->slot, 0, 0, v->mem, false, false);
	v->slot = -1;
	if (v->mem)
		munmap(v->mem, VGA_SIZE);
	v->mem = NULL;
}

void vgatext_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct vgatext *v = dev;
	pthread_mutex_lock(&v->lock);
	for (uint32_t i = 0; i < len; i++, addr++) {
		uint8_t *d = &data[i], val = is_write ? *d : 0xff;
		switch (addr) {
		case 0x3c0:
			if (!is_write) {
				val = v->atc_idx;
			} else if (!v->atc_flip) {
				v->atc_idx = *d & 0x3f;
				v->atc_flip = true;
			} else {
				v->atc[v->atc_idx & 0x1f] = *d;
				v->atc_flip = false;
			}
			break;
		case 0x3c1: val = v->atc[v->atc_idx & 0x1f]; break;
		case 0x3c2: if (is_write) v->misc = *d; else val = 0x10; break; /* input status 0 */
		case 0x3cc: val = v->misc; break;
		case 0x3c4: if (is_write) v->seq_idx = *d & 7; else val = v->seq_idx; break;
		case 0x3c5: if (is_write) v->seq[v->seq_idx] = *d; else val = v->seq[v->seq_idx]; break;
		case 0x3c6: if (is_write) v->pel_mask = *d; else val = v->pel_mask; break;
		case 0x3c7: if (is_write) { v->dac_ridx = *d; v->dac_sub = 0; } else val = 0; break;
		case 0x3c8: if (is_write) { v->dac_widx = *d; v->dac_sub = 0; } else val = v->dac_widx; break;
		case 0x3c9:
			if (is_write) {
				v->dac[v->dac_widx][v->dac_sub] = *d & 0x3f;
				if (++v->dac_sub == 3) { v->dac_sub = 0; v->dac_widx++; }
			} else {
				val = v->dac[v->dac_ridx][v->dac_sub];
				if (++v->dac_sub == 3) { v->dac_sub = 0; v->dac_ridx++; }
			}
			break;
		case 0x3ce: if (is_write) v->gc_idx = *d & 15; else val = v->gc_idx; break;
		case 0x3cf: if (is_write) v->gc[v->gc_idx] = *d; else val = v->gc[v->gc_idx]; break;
		case 0x3b4: case 0x3d4: if (is_write) v->crtc_idx = *d & 31; else val = v->crtc_idx; break;
		case 0x3b5: case 0x3d5:
			if (is_write) v->crtc[v->crtc_idx] = *d; else val = v->crtc[v->crtc_idx];
			break;
		case 0x3ba: case 0x3da: /* input status 1: retrace bits toggle; resets the ATC flip-flop */
			if (!is_write) {
				v->atc_flip = false;
				val = (++v->status_reads & 1) ? 0x09 : 0x00;
			}
			break;
		default: break;
		}
		if (!is_write)
			*d = val;
	}
	pthread_mutex_unlock(&v->lock);
}

void vgatext_scanout(struct vgatext *v, struct fb_scanout *s)
{
	memset(s, 0, sizeof(*s));
	s->slot = -1;
	if (!v || !v->mem)
		return;
	pthread_mutex_lock(&v->lock);
	unsigned start = (unsigned)v->crtc[0x0c] << 8 | v->crtc[0x0d];
	unsigned cur = (unsigned)v->crtc[0x0e] << 8 | v->crtc[0x0f];
	bool cur_off = v->crtc[0x0a] & 0x20;
	pthread_mutex_unlock(&v->lock);
	s->kind = FB_TEXT;
	s->cols = 80;
	s->rows = 25;
	s->width = 80 * 8;
	s->height = 25 * 16;
	if (start > 0x4000 - 80 * 25)
		start = 0;
	s->cells = v->mem + TEXT_OFF + 2 * start;
	s->cursor = cur_off || cur < start || cur >= start + 80 * 25 ? -1 : (int)(cur - start);
	s->slot = v->slot;
	s->slot_size = VGA_SIZE;
	s->offset = TEXT_OFF + 2 * start;
	s->stride = 160; /* bytes of cells per text row, for dirty rows */
	s->serial = start << 16 | 0x8000;
}

void vgatext_render(uint32_t *dst, int stride_px, const uint8_t *cells, int cols, int rows, int cursor,
		    bool blink_on)
{
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++) {
			uint8_t ch = cells[2 * (r * cols + c)], at = cells[2 * (r * cols + c) + 1];
			uint32_t fg = cga[at & 15], bg = cga[(at >> 4) & 7];
			if ((at & 0x80) && !blink_on)
				fg = bg; /* blinking text, off phase */
			bool cur = cursor == r * cols + c && blink_on;
			for (int y = 0; y < 16; y++) {
				uint8_t bits = vga_font8x16[ch][y];
				if (cur && y >= 14)
					bits = 0xff;
				uint32_t *p = dst + (size_t)(r * 16 + y) * (size_t)stride_px + (size_t)c * 8;
				for (int x = 0; x < 8; x++)
					p[x] = bits & (0x80 >> x) ? fg : bg;
			}
		}
}
