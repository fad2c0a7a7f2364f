/*
 * placements.c: the calls (calls.c) and the medium kernels (medium.c) in
 * each placement of the host thread and openveo's worker: where the
 * scheduler puts them, pinned to two CPUs, pinned to one. The scheduler
 * keeps one placement or the other for seconds at a time, and the two
 * cost very differently (a cache-line transfer against a context switch),
 * so both are measured on purpose, beside the unpinned figures. Every
 * thread is given back all its CPUs after each pinned placement.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"
#include "medium.h"

const char *const place_name[NPLACE] = {
	"unpinned (where the scheduler puts them)",
	"apart: host thread on CPU 0, worker on CPU 1",
	"one CPU: host thread and worker on CPU 0",
};
const char *const place_key[NPLACE] = { "unpinned", "apart", "same" };

const double medium_us[NMEDIUM] = { 5, 20, 50, 100, 300, 1000, 3000 };

/* The CPU of the worker in each placement (-1: not pinned); the host
 * thread is on CPU 0 when pinned, the floor's child on CPU 1. */
static const int worker_cpu[NPLACE] = { -1, 1, 0 };

static void place(int pl, struct veo_proc_handle *proc)
{
	int ok = 1;

	if (worker_cpu[pl] < 0)
		return;
	ok &= pin_threads(getpid(), 0) == 0;
	ok &= pin_threads(veo_proc_pid(proc), worker_cpu[pl]) == 0;
	if (floor_pid() > 0)
		ok &= pin_threads(floor_pid(), 1) == 0;
	if (!ok)
		die("cannot pin the threads of a process (/proc/<pid>/task unreadable)");
}

static void unplace(int pl, struct veo_proc_handle *proc)
{
	if (worker_cpu[pl] < 0)
		return;
	unpin_threads(getpid());
	unpin_threads(veo_proc_pid(proc));
	if (floor_pid() > 0)
		unpin_threads(floor_pid());
}

/* ---- the medium kernels -------------------------------------------------- */

static double futex_ref_cpu0(void)
{
	return futex_rt_trial(0, FUTEX_RT_PAIRED);
}

/* This process's compute(), the in-process side of the medium kernels. */
static uint64_t (*host_compute(void))(uint64_t)
{
	static uint64_t (*compute)(uint64_t);

	if (!compute) {
		void *h = dlopen(opt.kernels, RTLD_NOW | RTLD_LOCAL);

		if (!h)
			die("dlopen %s: %s", opt.kernels, dlerror());
		*(void **)&compute = dlsym(h, "compute");
		if (!compute)
			die("%s has no compute()", opt.kernels);
	}
	return compute;
}

static void print_medium(int pl)
{
	int ref = pl == PL_SAME;

	printf("compute kernel of D, called N times in a row (call + wait), against in-process\n"
	       "(medians of %.1f s of interleaved trial pairs per D):\n", R.medium_seconds);
	printf("  %8s %5s %11s %11s %10s %8s %13s %7s%s\n", "D", "N", "in-process", "openveo",
	       "tax", "ratio", "host CPU/call", "CPU/D", ref ? "  tax/futex RT" : "");
	for (unsigned d = 0; d < NMEDIUM; d++) {
		struct medium_point *p = &R.medium[pl][d];

		printf("  %5.0f us %5ld %11s %11s %10s %7.3fx %13s %6.1f%%", medium_us[d], p->n,
		       T(p->in_ns), T(p->off_ns), T(p->tax_ns), p->ratio, T(p->cpu_ns),
		       100 * p->cpu_frac);
		if (ref)
			printf("  %6.2fx of %s", p->tax_over_ref, T(p->ref_ns));
		printf("\n");
	}
}

static void bench_medium(int pl, struct veo_thr_ctxt *ctx, uint64_t fn)
{
	struct medium_run run = {
		.ctx = ctx, .fn = fn, .compute = host_compute(), .args = veo_args_alloc(),
		.seconds = R.medium_seconds, .min_trials = opt.quick ? 3 : 7,
		.rest_ns = floor_quiet_ns(), .in_cpu = worker_cpu[pl],
		.ref_trial = pl == PL_SAME ? futex_ref_cpu0 : NULL,
	};

	if (!run.args)
		die("out of memory");
	for (unsigned d = 0; d < NMEDIUM; d++)
		if (medium_measure(&run, medium_us[d] * 1e3, &R.medium[pl][d]) != 0)
			die("a call of the compute kernel failed: %s", veo_last_error());
	veo_args_free(run.args);
	print_medium(pl);
}

/* ---- every placement ------------------------------------------------------ */

void bench_placements(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                      uint64_t fn_empty, uint64_t fn_compute, const char *only)
{
	int calls = !only || !strcmp(only, "calls");
	int medium = !only || !strcmp(only, "medium");
	char title[160];

	R.medium_seconds = opt.quick ? 0.3 : 1.0;
	if (futex_rt_open() != 0)
		die("cannot start the futex round trip's thread");
	for (int pl = 0; pl < NPLACE; pl++) {
		int ref_cpu = pl == PL_SAME ? 0 : -1;

		place(pl, proc);
		if (calls) {
			snprintf(title, sizeof title, "call latency (AVEO's four patterns), %s",
			         place_name[pl]);
			section(title);
			bench_calls(&R.calls[pl], ref_cpu, proc, ctx, fn_empty);
		}
		if (medium) {
			snprintf(title, sizeof title, "medium kernels, %s", place_name[pl]);
			section(title);
			bench_medium(pl, ctx, fn_compute);
		}
		unplace(pl, proc);
		R.placed[pl] = 1;
	}
	futex_rt_close();
}
