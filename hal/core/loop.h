/* The main thread's event loop: devices hand it file descriptors. */
#ifndef LOOP_H
#define LOOP_H

int loop_init(void);
void loop_exit(void);
/* Call fn(ctx) whenever fd is readable. */
int loop_add(int fd, void (*fn)(void *ctx), void *ctx);
void loop_del(int fd);
/* Wait for events and dispatch them once; returns -1 on a fatal error. */
int loop_run_once(int timeout_ms);
#endif
