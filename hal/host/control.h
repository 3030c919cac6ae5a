/* --control PATH: hal's control socket (docs/usage.md, "Control socket"). */
#ifndef CONTROL_H
#define CONTROL_H
#include <stddef.h>

int control_start(const char *path);
void control_stop(void);
/* eject and change: the board's function that puts PATH (NULL: none) into
 * CD drive `drive` (0 to n-1, in --cdrom order); 0, or -1 with why. */
void control_set_media(int (*change)(int drive, const char *path, char *why, size_t whylen), int n);
/* One command line to one reply line (no newline); exposed for tests. */
void control_command(const char *line, char *reply, size_t len);
#endif
