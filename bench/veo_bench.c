/*
 * veo_bench.c: openveo's C benchmark. In one run it measures the floors the
 * machine allows (a round trip over one shared cache line between two
 * spinning processes, memcpy bandwidth) and openveo beside them: call
 * latency in AVEO's four patterns and the offload tax on medium kernels
 * (5 us to 3 ms), each unpinned, pinned to two CPUs and pinned to one,
 * transfers, proc and library life cycle, contention between contexts,
 * and the CPU an idle proc costs. The round trip is measured again right
 * before every call trial, and the call goals are ratios within those
 * pairs: this VM's speed changes for minutes at a time. It prints medians
 * and the goals of issues 4 and 15 as ratios with PASS/FAIL, and writes
 * every figure as JSON for plot.py.
 *
 *     veo_bench [-k libbench_kernels.so] [-o veo_bench.json] [-q]
 *               [-s calls|medium|contention]
 *
 * -q is a quick run (fewer and smaller cases) for trying the program out;
 * -s runs one section only (for tuning), without goals or JSON.
 * A benchmark measures and reports: it exits 0 when a goal is missed, and
 * non-zero only when it cannot run (no worker, no kernel library).
 *
 * Every timed figure is the median of repeated trials. The machine may be
 * shared, so spinning loops here are bounded by deadlines.
 *
 * This file holds main, the options, the shape of a run, the figures (R)
 * and the floors section; bench.h declares what the other files share.
 * Each family of benchmarks has a file: placements.c (which runs calls.c
 * and medium.c in each placement), transfers.c, lifecycle.c, contention.c,
 * idle.c. goals.c judges the figures, results_json.c writes
 * them (with json.c), floor.c has the round-trip floor and the clock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

#ifndef BENCH_KERNELS
#define BENCH_KERNELS "libbench_kernels.so"
#endif

/* ---- options and the shape of a run ------------------------------------ */

struct bench_options opt = { BENCH_KERNELS, "veo_bench.json", 0, NULL };

const long call_ns[] = { 1, 10, 100, 1000, 10000, 100000 };

const size_t sizes[] = {
	8, 32, 128, 512, 2 * KiB, 8 * KiB, 32 * KiB, 128 * KiB, 512 * KiB,
	1 * MiB, 2 * MiB, 8 * MiB, 32 * MiB, 128 * MiB, 256 * MiB,
};

const int contention_ctxs[] = { 1, 2, 8, 32 };

unsigned ncall_n = NCALL_N, nsizes = NSIZES;

/* ---- small tools ------------------------------------------------------- */

const char *fmt_time(double ns, char *buf, size_t len)
{
	if (ns < 0 && len > 1) { /* a tax below zero: in-process was the slower */
		buf[0] = '-';
		fmt_time(-ns, buf + 1, len - 1);
		return buf;
	}
	if (!isfinite(ns))
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

const char *fmt_size(size_t s, char *buf, size_t len)
{
	if (s >= MiB)
		snprintf(buf, len, "%zu MiB", s / MiB);
	else if (s >= KiB)
		snprintf(buf, len, "%zu KiB", s / KiB);
	else
		snprintf(buf, len, "%zu B", s);
	return buf;
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("veo_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

void section(const char *title)
{
	printf("\n== %s\n", title);
	fflush(stdout);
}

/* ---- the results, and the floors section ------------------------------- */

const char *const pat_name[NPAT] = {
	"submit N, wait N", "call+wait, N times", "submit N, wait last",
	"N veo_call_sync",
};
const char *const pat_key[NPAT] = {
	"submit_all_wait_all", "call_and_wait", "submit_all_wait_last", "call_sync",
};

const char *const xf_name[NXF] = {
	"veo_write_mem", "veo_read_mem", "veo_async_write_mem+wait",
	"veo_async_read_mem+wait",
};
const char *const xf_key[NXF] = { "write", "read", "async_write", "async_read" };

struct bench_results R;

/* The floor printed in the floors section: long trials, back to back. */
static void floor_round_trip(void)
{
	const long n = opt.quick ? 20000 : 100000;
	const int trials = opt.quick ? 5 : 11;
	double t[16];
	int done = 0;

	while (done < trials && isfinite(t[done] = floor_trial(n)))
		done++;
	R.round_trip_n = n;
	R.round_trip_trials = done;
	R.round_trip_ns = median(t, (size_t)done);
	printf("round trip over one shared cache line: %s (median of %d x %ld)\n",
	       T(R.round_trip_ns), done, n);
}

/* ---- main -------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: veo_bench [-k libbench_kernels.so] [-o out.json] [-q] "
	        "[-s calls|medium|contention]\n"
	        "  -s runs one section only (for tuning), without goals or JSON\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	uint64_t lib, fn_empty, fn_compute;
	double t_start = now_ns();
	int c;

	while ((c = getopt(argc, argv, "k:o:qs:h")) != -1) {
		switch (c) {
		case 's': opt.only = optarg; break;
		case 'k': opt.kernels = optarg; break;
		case 'o': opt.json = optarg; break;
		case 'q': opt.quick = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.quick) {
		ncall_n = NCALL_N - 1;         /* N up to 10000 */
		nsizes = NSIZES - 3;           /* sizes up to 32 MiB */
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("openveo %s benchmark, %ld CPUs%s\n", veo_version_string(),
	       sysconf(_SC_NPROCESSORS_ONLN), opt.quick ? " (quick run)" : "");

	/* The floor's child is forked before openveo's worker exists, so
	 * that it holds none of openveo's descriptors. */
	if (floor_open() != 0)
		die("cannot start the floor's process: %s", strerror(errno));
	section("floors");
	floor_round_trip();
	R.sleep_cpu_ns = sleep_cpu_ns(60000, 41);
	printf("one 60 us timed sleep (futex): %s of the sleeping thread's CPU time (median of 41;\n"
	       "  its timer and wake-up: the least a wait that sleeps uses)\n", T(R.sleep_cpu_ns));
	transfer_buffers_map();
	printf("memcpy between two warm host buffers: measured beside the transfers, below\n");

	proc = veo_proc_create(0);
	if (!proc)
		die("veo_proc_create: %s", veo_last_error());
	lib = veo_load_library(proc, opt.kernels);
	if (!lib)
		die("veo_load_library(%s): %s", opt.kernels, veo_last_error());
	fn_empty = veo_get_sym(proc, lib, "empty");
	fn_compute = veo_get_sym(proc, lib, "compute");
	ctx = veo_context_open(proc);
	if (!fn_empty || !fn_compute || !ctx)
		die("set-up: %s", veo_last_error());

	if (opt.only) {
		if (strcmp(opt.only, "calls") == 0 || strcmp(opt.only, "medium") == 0) {
			bench_placements(proc, ctx, fn_empty, fn_compute, opt.only);
			floor_close();
		} else if (strcmp(opt.only, "contention") == 0) {
			floor_close();
			bench_contention(fn_empty, fn_compute, proc);
		} else {
			usage();
		}
		veo_proc_destroy(proc);
		return 0;
	}
	bench_placements(proc, ctx, fn_empty, fn_compute, NULL);
	floor_close();
	section("transfers");
	bench_transfers(proc, ctx);
	transfer_buffers_unmap();
	section("contention");
	bench_contention(fn_empty, fn_compute, proc);
	veo_proc_destroy(proc);

	section("proc and library life cycle");
	bench_lifecycle();
	section("idle cost");
	bench_idle();

	goals_judge();
	goals_print();
	results_write_json();
	printf("veo_bench took %.0f s\n", (now_ns() - t_start) / 1e9);
	return 0;
}
