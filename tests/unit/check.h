/*
 * check.h: the one assertion of the unit tests. UNIT_CHECK(cond, fmt, ...)
 * prints the place, the condition and the message, and exits 1 (unlike
 * the CHECK of tests/c/testlib.h, which counts a failure and goes on).
 */
#ifndef OPENVEO_UNIT_CHECK_H
#define OPENVEO_UNIT_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define UNIT_CHECK(cond, ...)                                               \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s: ",        \
			        __FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			exit(1);                                            \
		}                                                           \
	} while (0)

#endif
