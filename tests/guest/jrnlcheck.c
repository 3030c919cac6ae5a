/* Host tool of the no-acknowledged-write-lost test (tests/guest/journal.sh):
 * jrnlcheck DISK ID N -- checks that records 0..N-1 of run ID (hex), written
 * by tests/guest/journal.c, are on DISK (a file or a block device), record
 * n whole at LBA n. Prints one line: how many of the N are there, the first
 * missing or damaged one, and how many records past N the disk also holds
 * (written, not yet acknowledged: allowed). Exit 0 when all N are there, 1
 * when one is missing, 2 on a usage or read error. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int record_ok(const uint8_t *s, uint32_t id, uint32_t n)
{
	uint32_t w[128];
	memcpy(w, s, sizeof(w));
	if (w[0] != 0x4c4e524au || w[1] != id || w[2] != n || w[3] != ~n)
		return 0;
	for (uint32_t i = 4; i < 128; i++)
		if (w[i] != id * 0x9e3779b1u + n * 0x85ebca6bu + i)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: jrnlcheck DISK ID N\n");
		return 2;
	}
	uint32_t id = (uint32_t)strtoul(argv[2], NULL, 16);
	unsigned long want = strtoul(argv[3], NULL, 10);
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 2;
	}
	uint8_t s[512];
	unsigned long n = 0, good = 0, ahead = 0, first_bad = want;
	for (;; n++) {
		ssize_t r = pread(fd, s, sizeof(s), (off_t)n * 512);
		if (r < 0) {
			perror(argv[1]);
			return 2;
		}
		if (r < (ssize_t)sizeof(s))
			break;
		int ok = record_ok(s, id, (uint32_t)n);
		if (n < want) {
			good += ok;
			if (!ok && first_bad == want)
				first_bad = n;
		} else if (ok) {
			ahead++;
		} else {
			break;
		}
	}
	close(fd);
	if (good == want) {
		printf("jrnlcheck: all %lu acknowledged records there, %lu more written\n", want, ahead);
		return 0;
	}
	printf("jrnlcheck: %lu of %lu acknowledged records there; first missing or damaged: %lu\n", good, want,
	       first_bad);
	return 1;
}
