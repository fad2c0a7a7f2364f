/*
 * contention.c: 1, 2, 8 and 32 contexts on one proc, each called and
 * waited in a loop by its own host thread: aggregate calls per second, with
 * the empty kernel and with compute (about 50 us, calibrated in-process).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

struct driver {
	pthread_t thread;
	struct veo_thr_ctxt *ctx;
	uint64_t fn;
	uint64_t arg;
	long calls;
	int failed;
	pthread_barrier_t *start;
	_Atomic int *stop;
};

static void *drive(void *p)
{
	struct driver *d = p;
	struct veo_args *args = veo_args_alloc();
	uint64_t r;

	if (!args) {
		d->failed = 1;
		pthread_barrier_wait(d->start);
		return NULL;
	}
	veo_args_set_u64(args, 0, d->arg);
	pthread_barrier_wait(d->start);
	while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
		uint64_t id = veo_call_async(d->ctx, d->fn, args);

		if (veo_call_wait_result(d->ctx, id, &r) != VEO_COMMAND_OK) {
			d->failed = 1;
			break;
		}
		/* A call that ends after the stop is not counted. */
		if (!atomic_load_explicit(d->stop, memory_order_relaxed))
			d->calls++;
	}
	veo_args_free(args);
	return NULL;
}

/* Aggregate calls/s of k contexts, each called in a loop by its own
 * thread for `seconds`. */
static double contend(struct veo_proc_handle *proc, int k, uint64_t fn,
                      uint64_t arg, double seconds)
{
	struct driver *d = calloc((size_t)k, sizeof *d);
	pthread_barrier_t start;
	_Atomic int stop = 0;
	long total = 0;
	double t0;
	int failed = 0;

	if (!d)
		die("out of memory");
	pthread_barrier_init(&start, NULL, (unsigned)k + 1);
	for (int i = 0; i < k; i++) {
		d[i] = (struct driver){ .ctx = veo_context_open(proc), .fn = fn, .arg = arg,
		                        .start = &start, .stop = &stop };
		if (!d[i].ctx)
			die("veo_context_open (%d of %d): %s", i + 1, k, veo_last_error());
	}
	for (int i = 0; i < k; i++)
		if (pthread_create(&d[i].thread, NULL, drive, &d[i]) != 0)
			die("pthread_create failed");
	pthread_barrier_wait(&start);
	t0 = now_ns();
	sleep_ns(seconds * 1e9);
	atomic_store(&stop, 1);
	t0 = now_ns() - t0;
	for (int i = 0; i < k; i++) {
		pthread_join(d[i].thread, NULL);
		total += d[i].calls;
		failed |= d[i].failed;
		veo_context_close(d[i].ctx);
	}
	pthread_barrier_destroy(&start);
	free(d);
	if (failed)
		die("a call failed under contention: %s", veo_last_error());
	return total / (t0 / 1e9);
}

/* Iterations of compute() that take about target_ns in this process. */
static uint64_t calibrate_compute(double target_ns, double *measured)
{
	void *h = dlopen(opt.kernels, RTLD_NOW | RTLD_LOCAL);
	uint64_t (*compute)(uint64_t), iters;

	if (!h)
		die("dlopen %s: %s", opt.kernels, dlerror());
	*(void **)&compute = dlsym(h, "compute");
	if (!compute)
		die("%s has no compute()", opt.kernels);
	iters = compute_iters(compute, target_ns, measured);
	dlclose(h);
	return iters;
}

void bench_contention(uint64_t lib_empty, uint64_t lib_compute,
                             struct veo_proc_handle *proc)
{
	double secs = opt.quick ? 0.25 : 1.0;
	enum { MAX_TRIALS = 5 };
	int trials = opt.quick ? 3 : MAX_TRIALS;
	double e[NCONT][MAX_TRIALS], c[NCONT][MAX_TRIALS];
	double re[NCONT][MAX_TRIALS], rc[NCONT][MAX_TRIALS]; /* relative, per round */

	R.contention_s = secs;
	R.contention_trials = trials;
	R.compute_iters = calibrate_compute(50e3, &R.compute_kernel_ns);
	/* The trials go round all the cases, so that a burst of load from
	 * elsewhere on the machine spoils one trial of several cases rather
	 * than every trial of one. */
	for (int t = 0; t < trials; t++)
		for (unsigned i = 0; i < NCONT; i++) {
			e[i][t] = contend(proc, contention_ctxs[i], lib_empty, 0, secs);
			c[i][t] = contend(proc, contention_ctxs[i], lib_compute, R.compute_iters, secs);
		}
	/* The relative figures are medians of ratios within a round, as the
	 * call goals are ratios within a pair: the VM's speed changes for
	 * seconds to minutes, and a round's cases are seconds apart, where
	 * the medians of each case may come from different speeds. */
	for (unsigned i = 0; i < NCONT; i++)
		for (int t = 0; t < trials; t++) {
			re[i][t] = e[i][t] / e[0][t];
			rc[i][t] = c[i][t] / c[0][t];
		}
	for (unsigned i = 0; i < NCONT; i++) { /* median() sorts: the ratios first */
		R.cont_empty[i].contexts = R.cont_compute[i].contexts = contention_ctxs[i];
		R.cont_empty[i].relative = median(re[i], trials);
		R.cont_compute[i].relative = median(rc[i], trials);
		R.cont_empty[i].calls_per_s = median(e[i], trials);
		R.cont_compute[i].calls_per_s = median(c[i], trials);
	}
	printf("contexts on one proc, each called+waited in a loop by its own thread\n"
	       "(aggregate calls/s, median of %d trials of %.2g s; relative to one\n"
	       "context: median of the ratios within each round of trials):\n", trials, secs);
	printf("  compute kernel: %llu iterations, %s in-process\n",
	       (unsigned long long)R.compute_iters, T(R.compute_kernel_ns));
	printf("  %-9s %22s %22s\n", "contexts", "empty calls/s (rel.)", "compute calls/s (rel.)");
	for (unsigned i = 0; i < NCONT; i++) {
		char a[40], b[40];

		snprintf(a, sizeof a, "%.0f (%.2fx)", R.cont_empty[i].calls_per_s,
		         R.cont_empty[i].relative);
		snprintf(b, sizeof b, "%.0f (%.2fx)", R.cont_compute[i].calls_per_s,
		         R.cont_compute[i].relative);
		printf("  %-9d %22s %22s\n", contention_ctxs[i], a, b);
	}
}
