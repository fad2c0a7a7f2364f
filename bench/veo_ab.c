/*
 * veo_ab.c: compares builds of openveo on the two call goals, in one
 * process. Up to four libveo builds are loaded side by side (dlopen, each
 * with its own symbols and its own worker), and their trials alternate:
 * each is a call+wait or a pipelined run of the empty kernel, right after a
 * floor trial, and is judged as its ratio to that floor. On this machine
 * the speed changes for minutes at a time and from one process to the
 * next, so two builds measured in two runs of veo_bench differ by more
 * than most changes do; interleaved in one process, a 3% difference shows.
 *
 *     veo_ab [-t seconds] [-k libbench_kernels.so] [-P same|apart] [-m D]
 *            lib1.so veorun1 [lib2.so veorun2 ...]
 *
 * A build is its libveo.so and its worker, e.g. build/src/lib/libveo.so
 * and build/src/worker/veorun; copy them aside before rebuilding to keep
 * the old ones. Prints, per build and pattern, the median ratio to the
 * paired floor over all trials, over the trials whose floor was under
 * 100 ns (the VM's fast phase) and under 50 ns (its fastest), and the
 * median and 90th percentile of the time per call.
 *
 * The figures flip with whether the calling thread and the worker's
 * context thread share a CPU, a placement the scheduler keeps for seconds.
 * -P same pins this process to CPU 0 and every worker thread to CPU 0 too;
 * -P apart pins the workers to CPU 1: both placements, measured instead of
 * whatever the scheduler picked. The floor's partner is on CPU 1 either
 * way (its ping-pong spins: on one CPU it would not answer for a time
 * slice), so the floor is always the cross-CPU round trip.
 *
 * -m D compares the builds on a medium kernel instead: the compute kernel,
 * calibrated in this process to run D us, called in a row (call + wait),
 * each trial judged against the same calls made in-process just before
 * it; printed per build: the median ratio, the tax (time per call above
 * in-process) and the host thread's CPU time per call as a share of D.
 * The wait policy (src/lib/pace.c) is judged this way.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#ifndef BENCH_KERNELS
#define BENCH_KERNELS "libbench_kernels.so"
#endif

#define MAX_BUILDS 4
#define MAX_TRIALS 40000
#define CALL_WAIT_N 4000L  /* calls in a call+wait trial */
#define PIPELINED_N 10000L /* calls submitted, then waited for, in a pipelined trial */
#define WARMUP 200         /* untimed call+waits before a trial: the worker wakes up */

enum { CALL_WAIT, PIPELINED, NPAT };
static const char *const pat_name[NPAT] = { "call+wait", "pipelined" };

/* The calls of one libveo build, found with dlsym, and its context. */
struct build {
	const char *lib;
	void *(*proc_create_static)(int, char *);
	uint64_t (*load_library)(void *, const char *);
	uint64_t (*get_sym)(void *, uint64_t, const char *);
	void *(*context_open)(void *);
	void *(*args_alloc)(void);
	uint64_t (*call_async)(void *, uint64_t, void *);
	int (*wait_result)(void *, uint64_t, uint64_t *);
	int (*proc_pid)(void *);
	int (*args_set_u64)(void *, int, uint64_t);
	void *proc, *ctx, *args;
	uint64_t fn, compute_fn;
	/* -m: per trial, the tax in ns and the CPU time per call in ns */
	double tax[MAX_TRIALS], cpu[MAX_TRIALS];
	/* per pattern: trials' ratios to their floors, and times per call */
	double ratio[NPAT][MAX_TRIALS], floor[NPAT][MAX_TRIALS], ns[NPAT][MAX_TRIALS];
	int n[NPAT];
};

static uint64_t ids[PIPELINED_N];

static _Noreturn void die(const char *what, const char *detail)
{
	fprintf(stderr, "veo_ab: %s: %s\n", what, detail);
	exit(1);
}

static void *sym(void *h, const char *lib, const char *name)
{
	void *p = dlsym(h, name);

	if (!p)
		die(lib, dlerror());
	return p;
}

static void open_build(struct build *b, const char *lib, char *veorun, const char *kernels)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	uint64_t handle;

	if (!h)
		die(lib, dlerror());
	b->lib = lib;
	*(void **)&b->proc_create_static = sym(h, lib, "veo_proc_create_static");
	*(void **)&b->load_library = sym(h, lib, "veo_load_library");
	*(void **)&b->get_sym = sym(h, lib, "veo_get_sym");
	*(void **)&b->context_open = sym(h, lib, "veo_context_open");
	*(void **)&b->args_alloc = sym(h, lib, "veo_args_alloc");
	*(void **)&b->call_async = sym(h, lib, "veo_call_async");
	*(void **)&b->wait_result = sym(h, lib, "veo_call_wait_result");
	*(void **)&b->proc_pid = sym(h, lib, "veo_proc_pid");
	*(void **)&b->args_set_u64 = sym(h, lib, "veo_args_set_u64");
	if (!(b->proc = b->proc_create_static(0, veorun)))
		die(lib, "veo_proc_create_static failed");
	if (!(handle = b->load_library(b->proc, kernels)) ||
	    !(b->fn = b->get_sym(b->proc, handle, "empty")) ||
	    !(b->compute_fn = b->get_sym(b->proc, handle, "compute")))
		die(kernels, "cannot load it or find `empty` and `compute` in it");
	if (!(b->ctx = b->context_open(b->proc)) || !(b->args = b->args_alloc()))
		die(lib, "cannot open a context");
}

/* Pins every thread of process pid to cpu (-P). */
static void pin_process(int pid, int cpu)
{
	if (pin_threads(pid, cpu) != 0)
		die("pinning", "cannot list the threads of a process to pin");
}

/* One trial: ns per call, NAN if a call failed. */
static double trial(struct build *b, int pat)
{
	long n = pat == CALL_WAIT ? CALL_WAIT_N : PIPELINED_N;
	uint64_t r;
	double t0;
	int ok = 1;

	for (int i = 0; i < WARMUP; i++)
		b->wait_result(b->ctx, b->call_async(b->ctx, b->fn, b->args), &r);
	t0 = now_ns();
	if (pat == CALL_WAIT) {
		for (long i = 0; i < n; i++)
			ok &= b->wait_result(b->ctx, b->call_async(b->ctx, b->fn, b->args), &r) == 0;
	} else {
		for (long i = 0; i < n; i++)
			ids[i] = b->call_async(b->ctx, b->fn, b->args);
		for (long i = 0; i < n; i++)
			ok &= b->wait_result(b->ctx, ids[i], &r) == 0;
	}
	return ok ? (now_ns() - t0) / n : NAN;
}

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* -m: the medium kernel, in-process and through a build. */
static uint64_t (*compute)(uint64_t);
static uint64_t medium_iters;
static long medium_n;

static double medium_in_process(void)
{
	double t0 = now_ns();

	for (long i = 0; i < medium_n; i++) {
		volatile uint64_t x = compute(medium_iters);

		(void)x;
	}
	return (now_ns() - t0) / medium_n;
}

/* One trial through b: ns per call, and the CPU time per call in *cpu. */
static double medium_trial(struct build *b, double *cpu)
{
	uint64_t r;
	double t0, c0;
	int ok = 1;

	b->args_set_u64(b->args, 0, medium_iters);
	for (int i = 0; i < 3; i++) /* the worker wakes up */
		b->wait_result(b->ctx, b->call_async(b->ctx, b->compute_fn, b->args), &r);
	c0 = thread_cpu_ns();
	t0 = now_ns();
	for (long i = 0; i < medium_n; i++)
		ok &= b->wait_result(b->ctx, b->call_async(b->ctx, b->compute_fn, b->args), &r) == 0;
	t0 = (now_ns() - t0) / medium_n;
	*cpu = (thread_cpu_ns() - c0) / medium_n;
	return ok ? t0 : NAN;
}

static void medium_report(struct build *b, double d_ns)
{
	double p50 = median(b->ns[CALL_WAIT], (size_t)b->n[CALL_WAIT]);

	printf("  %7.4fx  tax %7.2f us  host CPU %5.1f%% of D  %8.1f us/call  (%d)  %s\n",
	       median(b->ratio[CALL_WAIT], (size_t)b->n[CALL_WAIT]),
	       median(b->tax, (size_t)b->n[CALL_WAIT]) / 1e3,
	       100 * median(b->cpu, (size_t)b->n[CALL_WAIT]) / d_ns, p50 / 1e3,
	       b->n[CALL_WAIT], b->lib);
}

/* Median ratio of the trials of b and pat whose floor was below limit. */
static double ratio_below(const struct build *b, int pat, double limit, int *count)
{
	static double v[MAX_TRIALS];
	int m = 0;

	for (int i = 0; i < b->n[pat]; i++)
		if (b->floor[pat][i] < limit)
			v[m++] = b->ratio[pat][i];
	*count = m;
	return median(v, (size_t)m);
}

static void report(struct build *b, int pat)
{
	int n_all, n_fast, n_fastest;
	double all = ratio_below(b, pat, INFINITY, &n_all);
	double fast = ratio_below(b, pat, 100, &n_fast);
	double fastest = ratio_below(b, pat, 50, &n_fastest);
	double p50 = median(b->ns[pat], (size_t)b->n[pat]); /* sorts: p90 next */

	printf("  %-10s %5.3fx (%5d)  %5.3fx (%5d)  %5.3fx (%5d)  %6.1f ns  %6.1f ns  %s\n",
	       pat_name[pat], all, n_all, fast, n_fast, fastest, n_fastest, p50,
	       b->n[pat] ? b->ns[pat][b->n[pat] * 9 / 10] : NAN, b->lib);
}

int main(int argc, char **argv)
{
	const char *kernels = BENCH_KERNELS;
	double seconds = 60, end;
	struct build *b;
	int nb, opt, place = -1; /* -P: the worker's CPU (the caller's is 0), -1: none */
	double medium_us = 0;    /* -m */

	while ((opt = getopt(argc, argv, "t:k:P:m:")) != -1) {
		if (opt == 't')
			seconds = atof(optarg);
		else if (opt == 'm' && atof(optarg) > 0)
			medium_us = atof(optarg);
		else if (opt == 'k')
			kernels = optarg;
		else if (opt == 'P' && (!strcmp(optarg, "same") || !strcmp(optarg, "apart")))
			place = !strcmp(optarg, "same") ? 0 : 1;
		else
			return 2;
	}
	nb = (argc - optind) / 2;
	if (nb < 1 || nb > MAX_BUILDS || (argc - optind) % 2) {
		fprintf(stderr, "usage: veo_ab [-t seconds] [-k libbench_kernels.so] [-P same|apart] "
		                "[-m D] lib1.so veorun1 [lib2.so veorun2 ...] (at most %d)\n",
		        MAX_BUILDS);
		return 2;
	}
	if (!(b = calloc((size_t)nb, sizeof *b)))
		die("calloc", "out of memory");
	if (floor_open() != 0)
		die("the floor's process", "cannot start it");
	for (int i = 0; i < nb; i++)
		open_build(&b[i], argv[optind + 2 * i], argv[optind + 2 * i + 1], kernels);
	if (place >= 0) {
		pin_process(getpid(), 0);
		pin_process(floor_pid(), 1);
		for (int i = 0; i < nb; i++)
			pin_process(b[i].proc_pid(b[i].proc), place);
		printf("placement: caller on CPU 0, workers on CPU %d, the floor's partner on CPU 1\n",
		       place);
	}

	if (medium_us > 0) {
		void *h = dlopen(kernels, RTLD_NOW | RTLD_LOCAL);

		if (!h || !(*(void **)&compute = dlsym(h, "compute")))
			die(kernels, "cannot load it in-process or find `compute` in it");
		medium_iters = compute_iters(compute, medium_us * 1e3, NULL);
		medium_n = (long)(20000 / medium_us) + 1; /* about 20 ms a trial */
		end = now_ns() + seconds * 1e9;
		for (int round = 0; now_ns() < end; round++) {
			for (int k = 0; k < nb; k++) {
				struct build *x = &b[(k + round) % nb];
				int i = x->n[CALL_WAIT];
				double ref = medium_in_process(), cpu, t = medium_trial(x, &cpu);

				if (!isfinite(t))
					die(x->lib, "a call failed");
				x->ratio[CALL_WAIT][i] = t / ref;
				x->tax[i] = t - ref;
				x->cpu[i] = cpu;
				x->ns[CALL_WAIT][i] = t;
				if (++x->n[CALL_WAIT] == MAX_TRIALS)
					end = 0;
			}
		}
		floor_close();
		printf("D = %g us, %ld calls a trial: median ratio to in-process, tax, "
		       "host CPU per call, time per call (trials)\n", medium_us, medium_n);
		for (int i = 0; i < nb; i++)
			medium_report(&b[i], medium_us * 1e3);
		return 0;
	}

	/* Round robin over builds and patterns, the starting build turning
	 * each round, so that no build always follows the same one. */
	end = now_ns() + seconds * 1e9;
	for (int round = 0; now_ns() < end; round++) {
		for (int k = 0; k < nb * NPAT; k++) {
			struct build *x = &b[(k / NPAT + round) % nb];
			int pat = k % NPAT, i = x->n[pat];
			double f = floor_trial(FLOOR_PAIRED), t = trial(x, pat);

			if (!isfinite(f) || !isfinite(t))
				die(x->lib, "a floor trial or a call failed");
			x->floor[pat][i] = f;
			x->ratio[pat][i] = t / f;
			x->ns[pat][i] = t;
			if (++x->n[pat] == MAX_TRIALS)
				end = 0;
		}
	}
	floor_close();
	printf("median ratio to the paired floor (trials): all, floor < 100 ns, floor < 50 ns;"
	       " time per call: median, 90th percentile\n");
	for (int pat = 0; pat < NPAT; pat++)
		for (int i = 0; i < nb; i++)
			report(&b[i], pat);
	return 0;
}
