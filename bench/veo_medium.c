/*
 * veo_medium.c: the offload tax on medium kernels (issue 15), on its own:
 * the measurement veo_bench runs in each placement (medium.c), for one
 * placement, with the time per D chosen. A compute kernel of D us
 * (calibrated in this process) is called N times in a row through openveo
 * (call + wait) and, interleaved with those trials, in-process; printed
 * per D: both times per call, the tax (their difference) and their ratio,
 * and the host thread's CPU time per call while it waited, all medians.
 *
 *     veo_medium [-t seconds per D] [-k libbench_kernels.so] [-P same|apart]
 *
 * -P pins this thread to CPU 0 and every worker thread to CPU 0 (same) or
 * 1 (apart); without it the scheduler places them. With -P same, each
 * pair of trials also times the same-CPU futex round trip (floor.h) and
 * the tax is given as a multiple of it. bench/run measures all of this in
 * veo_bench; this is the quick tool for the wait policy's design.
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
#include <unistd.h>
#include <ve_offload.h>

#include "floor.h"
#include "medium.h"

#ifndef BENCH_KERNELS
#define BENCH_KERNELS "libbench_kernels.so"
#endif

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

static double futex_ref(void)
{
	return futex_rt_trial(0, FUTEX_RT_PAIRED);
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
	struct medium_run run = { .seconds = seconds, .min_trials = 5, .in_cpu = place };

	if (!h)
		die(kernels, dlerror());
	*(void **)&run.compute = dlsym(h, "compute");
	if (!run.compute)
		die(kernels, "no compute()");

	struct veo_proc_handle *proc = veo_proc_create(0);
	if (!proc)
		die("veo_proc_create", veo_last_error());
	uint64_t lib = veo_load_library(proc, kernels);
	run.fn = lib ? veo_get_sym(proc, lib, "compute") : 0;
	run.ctx = veo_context_open(proc);
	run.args = veo_args_alloc();
	if (!run.fn || !run.ctx || !run.args)
		die("setting up", veo_last_error());
	run.rest_ns = floor_quiet_ns(); /* openveo's spinners sleep before each pair */
	if (place >= 0) {
		pin_process(getpid(), 0);
		pin_process(veo_proc_pid(proc), place);
		printf("placement: caller on CPU 0, worker on CPU %d\n", place);
	}
	if (place == 0 && futex_rt_open() == 0)
		run.ref_trial = futex_ref;
	printf("%8s %6s %12s %12s %10s %8s %14s%s\n", "D", "N", "in-process", "openveo",
	       "tax", "ratio", "host CPU/call", run.ref_trial ? "  tax/futex RT" : "");
	for (size_t d = 0; d < sizeof durations_us / sizeof durations_us[0]; d++) {
		struct medium_point p;

		if (medium_measure(&run, durations_us[d] * 1e3, &p) != 0)
			die("a call", veo_last_error());
		printf("%6.0f us %6ld %9.1f us %9.1f us %7.2f us %7.3fx %11.2f us", durations_us[d],
		       p.n, p.in_ns / 1e3, p.off_ns / 1e3, p.tax_ns / 1e3, p.ratio, p.cpu_ns / 1e3);
		if (run.ref_trial)
			printf("  %5.2fx of %.2f us", p.tax_over_ref, p.ref_ns / 1e3);
		printf("\n");
	}
	futex_rt_close();
	veo_args_free(run.args);
	veo_proc_destroy(proc);
	dlclose(h);
	return 0;
}
