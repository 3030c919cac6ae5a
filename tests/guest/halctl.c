/* Host helper for the display tests (tests/guest/run.sh):
 *   halctl SOCK COMMAND...      send one line to hal --control SOCK, print the
 *                               reply; exit 0 on "ok ...", 1 otherwise
 *   halctl -pattern W H OUT.ppm the picture `payload draw` paints (pattern.h)
 *   halctl -bar FILE.ppm        top row of the widest band of light rows (a
 *                               highlighted menu entry): prints "Y HEIGHT"
 *   halctl -lit FILE.ppm        how many pixels are not (near) black; exit 0
 *                               when some are: something is on the screen */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pattern.h"

static int ctl(const char *path, int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[2048] = "", reply[1024];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (strlen(path) >= sizeof(sa.sun_path) || fd < 0)
		return 2;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "halctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		if (i)
			strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, argv[i], sizeof(line) - strlen(line) - 2);
	}
	strcat(line, "\n");
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return 2;
	size_t n = 0;
	while (n < sizeof(reply) - 1) {
		ssize_t r = read(fd, reply + n, sizeof(reply) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(reply, '\n', n))
			break;
	}
	reply[n] = 0;
	fputs(reply, stdout);
	close(fd);
	return strncmp(reply, "ok", 2) ? 1 : 0;
}

static uint8_t *read_ppm(const char *path, int *w, int *h)
{
	FILE *f = fopen(path, "rb");
	int max;
	if (!f || fscanf(f, "P6 %d %d %d", w, h, &max) != 3 || max != 255 || fgetc(f) == EOF || *w <= 0 || *h <= 0) {
		fprintf(stderr, "halctl: %s: not a PPM we wrote\n", path);
		return NULL;
	}
	size_t len = (size_t)*w * (size_t)*h * 3;
	uint8_t *px = malloc(len);
	if (!px || fread(px, 1, len, f) != len) {
		fprintf(stderr, "halctl: %s: short\n", path);
		return NULL;
	}
	fclose(f);
	return px;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "-pattern")) {
		int w = atoi(argv[2]), h = atoi(argv[3]);
		FILE *f = fopen(argv[4], "wb");
		if (!f || w <= 0 || h <= 0)
			return 2;
		fprintf(f, "P6\n%d %d\n255\n", w, h);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				uint32_t c = pattern_expected((unsigned)x, (unsigned)y);
				uint8_t rgb[3] = { (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c };
				fwrite(rgb, 3, 1, f);
			}
		return fclose(f) ? 2 : 0;
	}
	if (argc == 3 && !strcmp(argv[1], "-bar")) {
		int w, h;
		uint8_t *px = read_ppm(argv[2], &w, &h);
		if (!px)
			return 2;
		/* A row is "light" when most of its middle half is light grey or white. */
		int best = -1, best_len = 0, run = 0;
		for (int y = 0; y <= h; y++) {
			int light = 0;
			for (int x = w / 4; y < h && x < 3 * w / 4; x++) {
				const uint8_t *p = px + ((size_t)y * (size_t)w + (size_t)x) * 3;
				light += p[0] > 150 && p[1] > 150 && p[2] > 150;
			}
			if (y < h && light > w / 4) {
				run++;
			} else {
				if (run > best_len) {
					best_len = run;
					best = y - run;
				}
				run = 0;
			}
		}
		printf("%d %d\n", best, best_len);
		return best < 0;
	}
	if (argc == 3 && !strcmp(argv[1], "-lit")) {
		int w, h;
		uint8_t *px = read_ppm(argv[2], &w, &h);
		if (!px)
			return 2;
		size_t lit = 0;
		for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i += 3)
			lit += px[i] > 64 || px[i + 1] > 64 || px[i + 2] > 64;
		free(px);
		printf("%zu\n", lit);
		return lit == 0;
	}
	if (argc >= 3)
		return ctl(argv[1], argc - 2, argv + 2);
	fprintf(stderr, "usage: halctl SOCK COMMAND... | -pattern W H OUT.ppm | -bar FILE.ppm | -lit FILE.ppm\n");
	return 2;
}
