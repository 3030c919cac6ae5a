/* Logging and clocks. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "hal.h"

int hal_verbose;
uint64_t hal_start_ns;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void hal_log(const char *level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* "\r\n" keeps lines readable while the terminal is in raw mode. */
	fprintf(stderr, "hal: %s%s%s\r\n", level ? level : "", level ? ": " : "", buf);
}
