/* Minimal unit-test harness: each TEST prints "PASS name" or "FAIL name: ...". */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <string.h>

static int check_failed_;
static const char *check_name_;

#define CHECK(cond) do { if (!(cond)) { \
	printf("FAIL %s: %s:%d: %s\n", check_name_, __FILE__, __LINE__, #cond); \
	check_failed_ = 1; return; } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { \
	printf("FAIL %s: %s:%d: %s == %lld, expected %lld\n", check_name_, __FILE__, __LINE__, #a, a_, b_); \
	check_failed_ = 1; return; } } while (0)

#define RUN(fn) do { check_name_ = #fn; check_failed_ = 0; fn(); \
	if (!check_failed_) \
		printf("PASS %s\n", #fn); \
	fflush(stdout); } while (0)
#endif
