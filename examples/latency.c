/*
 * latency.c: the round trip of an empty call (submit with veo_call_async,
 * collect with veo_call_wait_result), the fixed cost of offloading. After a
 * warm-up it times 100000 calls one by one and prints the median and a few
 * percentiles.
 *
 *     ./latency [path/to/liblatency_kernel.so] [calls]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ve_offload.h>

#ifndef LATENCY_KERNEL
#define LATENCY_KERNEL "./liblatency_kernel.so"
#endif

#define WARMUP 1000
#define DEFAULT_CALLS 100000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *libpath = argc > 1 ? argv[1] : LATENCY_KERNEL;
	long calls = argc > 2 ? atol(argv[2]) : DEFAULT_CALLS;
	if (calls <= 0)
		calls = DEFAULT_CALLS;

	double *t = malloc(calls * sizeof *t);
	if (!t)
		return 1;
	struct veo_proc_handle *proc = veo_proc_create(-1);
	if (!proc) {
		fprintf(stderr, "veo_proc_create failed: %s\n", veo_last_error());
		return 1;
	}
	uint64_t lib = veo_load_library(proc, libpath);
	uint64_t fn = lib ? veo_get_sym(proc, lib, "empty") : 0;
	struct veo_thr_ctxt *ctx = veo_context_open(proc);
	struct veo_args *args = veo_args_alloc();
	if (!fn || !ctx || !args) {
		fprintf(stderr, "cannot set up %s: %s\n", libpath, veo_last_error());
		veo_proc_destroy(proc);
		return 1;
	}

	for (long i = -WARMUP; i < calls; i++) {
		uint64_t result;
		double t0 = now_ns();
		uint64_t id = veo_call_async(ctx, fn, args);
		if (id == VEO_REQUEST_ID_INVALID ||
		    veo_call_wait_result(ctx, id, &result) != VEO_COMMAND_OK) {
			fprintf(stderr, "call %ld failed: %s\n", i, veo_last_error());
			veo_proc_destroy(proc);
			return 1;
		}
		if (i >= 0)
			t[i] = now_ns() - t0;
	}

	qsort(t, calls, sizeof *t, cmp_double);
	printf("empty call round trip over %ld calls (us):\n", calls);
	printf("  min %.2f  p10 %.2f  median %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	       t[0] / 1e3, t[calls / 10] / 1e3, t[calls / 2] / 1e3,
	       t[calls * 9 / 10] / 1e3, t[calls * 99 / 100] / 1e3, t[calls - 1] / 1e3);

	veo_args_free(args);
	veo_context_close(ctx);
	veo_proc_destroy(proc);
	free(t);
	return 0;
}
