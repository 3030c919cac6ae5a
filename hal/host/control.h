/* --control PATH: hal's control socket (docs/usage.md, "Control socket"). */
#ifndef CONTROL_H
#define CONTROL_H
#include <stddef.h>

int control_start(const char *path);
void control_stop(void);
/* The --cdrom media that eject and change work on (they outlive resets). */
struct atapi_medium;
void control_set_cdroms(struct atapi_medium *m, int n);
/* One command line to one reply line (no newline); exposed for tests. */
void control_command(const char *line, char *reply, size_t len);
#endif
