/*
 * veo_medium.c: the offload tax on medium kernels (issue 15). A compute
 * kernel that runs D us (calibrated in this process) is called N times in
 * a row through openveo (call + wait) and, interleaved with those trials,
 * in-process; printed per D: both times per call, the tax (their
 * difference) and their ratio, and the host thread's CPU time per call
 * while it waited (user + system, getrusage), all medians of the trials.
 *
 *     veo_medium [-t seconds per D] [-k libbench_kernels.so] [-P same|apart]
 *
 * -P pins this thread to CPU 0 and every worker thread to CPU 0 (same) or
 * 1 (apart); without it the scheduler places them. A tool for the wait
 * policy's design, not run by bench/run.
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
#include <sys/resource.h>
#include <unistd.h>
#include <ve_offload.h>

#include "floor.h"

#ifndef BENCH_KERNELS
#define BENCH_KERNELS "libbench_kernels.so"
#endif

#define MAX_TRIALS 200
static const double durations_us[] = { 5, 20, 50, 100, 300, 1000, 3000 };

static _Noreturn void die(const char *what, const char *why)
{
	fprintf(stderr, "veo_medium: %s: %s\n", what, why);
	exit(1);
}

static void pin_process(int pid, int cpu)
{
	if (pin_threads(pid, cpu) != 0)
		die("pinning", "cannot list the threads of a process to pin");
}

static double thread_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

int main(int argc, char **argv)
{
	const char *kernels = BENCH_KERNELS;
	double seconds = 2;
	int opt, place = -1;

	while ((opt = getopt(argc, argv, "t:k:P:")) != -1) {
		if (opt == 't')
			seconds = atof(optarg);
		else if (opt == 'k')
			kernels = optarg;
		else if (opt == 'P' && (!strcmp(optarg, "same") || !strcmp(optarg, "apart")))
			place = !strcmp(optarg, "same") ? 0 : 1;
		else {
			fprintf(stderr, "usage: veo_medium [-t seconds per D] [-k kernels.so] "
			                "[-P same|apart]\n");
			return 2;
		}
	}
	void *h = dlopen(kernels, RTLD_NOW | RTLD_LOCAL);
	uint64_t (*compute)(uint64_t);

	if (!h)
		die(kernels, dlerror());
	*(void **)&compute = dlsym(h, "compute");
	if (!compute)
		die(kernels, "no compute()");

	struct veo_proc_handle *proc = veo_proc_create(0);
	if (!proc)
		die("veo_proc_create", veo_last_error());
	uint64_t lib = veo_load_library(proc, kernels);
	uint64_t fn = lib ? veo_get_sym(proc, lib, "compute") : 0;
	struct veo_thr_ctxt *ctx = veo_context_open(proc);
	struct veo_args *args = veo_args_alloc();

	if (!fn || !ctx || !args)
		die("setting up", veo_last_error());
	if (place >= 0) {
		pin_process(getpid(), 0);
		pin_process(veo_proc_pid(proc), place);
		printf("placement: caller on CPU 0, worker on CPU %d\n", place);
	}
	printf("%8s %6s %12s %12s %10s %8s %14s\n", "D", "N", "in-process", "openveo",
	       "tax", "ratio", "host CPU/call");
	for (size_t d = 0; d < sizeof durations_us / sizeof durations_us[0]; d++) {
		uint64_t iters = compute_iters(compute, durations_us[d] * 1e3, NULL);
		long n = (long)(20000 / durations_us[d]) + 1; /* about 20 ms a trial */
		double in[MAX_TRIALS], off[MAX_TRIALS], cpu[MAX_TRIALS], end = now_ns() + seconds * 1e9;
		int trials = 0;

		veo_args_set_u64(args, 0, iters);
		while (trials < MAX_TRIALS && (trials < 5 || now_ns() < end)) {
			double t0 = now_ns(), c0;

			for (long i = 0; i < n; i++) {
				volatile uint64_t x = compute(iters);

				(void)x;
			}
			in[trials] = (now_ns() - t0) / n;
			c0 = thread_cpu_ns();
			t0 = now_ns();
			for (long i = 0; i < n; i++) {
				uint64_t r;

				if (veo_call_wait_result(ctx, veo_call_async(ctx, fn, args), &r) !=
				    VEO_COMMAND_OK)
					die("a call", veo_last_error());
			}
			off[trials] = (now_ns() - t0) / n;
			cpu[trials] = (thread_cpu_ns() - c0) / n;
			trials++;
		}
		double mi = median(in, (size_t)trials), mo = median(off, (size_t)trials);
		printf("%6.0f us %6ld %9.1f us %9.1f us %7.1f us %7.3fx %11.1f us\n", durations_us[d],
		       n, mi / 1e3, mo / 1e3, (mo - mi) / 1e3, mo / mi,
		       median(cpu, (size_t)trials) / 1e3);
	}
	veo_args_free(args);
	veo_proc_destroy(proc);
	dlclose(h);
	return 0;
}
