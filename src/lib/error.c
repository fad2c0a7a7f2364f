/*
 * error.c: the message of the last failure, per thread (like dlerror),
 * and whether failures are also printed to stderr.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "protocol.h" /* VP_MSG_MAX: the longest message from the worker */
#include "ve_offload.h"

static _Thread_local char last_error[VP_MSG_MAX + 256];
static _Atomic int print_mode = -1; /* -1: not decided yet */

static int should_print(void)
{
	int m = atomic_load_explicit(&print_mode, memory_order_relaxed);

	if (m < 0) {
		const char *e = getenv("VEO_LOG_ERRORS");

		m = !(e && strcmp(e, "0") == 0);
		atomic_store_explicit(&print_mode, m, memory_order_relaxed);
	}
	return m;
}

int error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	if (should_print())
		fprintf(stderr, "openveo: %s\n", last_error);
	return -1;
}

const char *veo_last_error(void)
{
	return last_error;
}

void veo_set_error_print(int on)
{
	atomic_store_explicit(&print_mode, on ? 1 : 0, memory_order_relaxed);
}
