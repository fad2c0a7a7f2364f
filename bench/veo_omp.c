/*
 * veo_omp.c: OpenMP kernels through openveo, against the same kernels
 * in-process (issue 15, items 2 and 4).
 *
 *     veo_omp [-s A|H|AH] [-t seconds per case] [-T 1,2,...] [-m MiB] [-c us] [-w us]
 *             [-o host|ve] [-k libbench_omp.so]
 *
 * Section A, OpenMP at full speed: a memory-bound triad over three arrays
 * of -m MiB (default 32) and a compute-bound kernel (-c us at one thread,
 * default 2000), each with a team of T threads (-T, default 1,2; 0 is the
 * runtime's default team on each side), called N times in a row through
 * openveo (veo_call_async + veo_call_wait_result) and in-process (the same
 * library dlopened here, called with the same T). Trials of the two
 * alternate, each side first in every other pair; printed: the medians of
 * the time per call, their ratio (goal <= 1.05), and the host thread's CPU
 * time per call while it waited (CLOCK_THREAD_CPUTIME_ID). -o: whose arrays
 * are allocated first (host, the default, or ve; see section H). -w: the
 * host thread works that long (one thread) after every call, on both
 * sides: the worker's OpenMP threads still spin then (libgomp's
 * GOMP_SPINCOUNT) and compete with it.
 *
 * Section H, VE memory as fast as host memory: inside the worker, one
 * thread runs the triad over three 64 MiB arrays from veo_alloc_mem and
 * over three the kernel library malloc'ed itself, the two alternating, each
 * timed in the worker; once with the VE arrays allocated first, once with
 * the malloc'ed ones first (a new proc each). Printed: the medians and
 * their ratio VE heap / malloc (goal <= 1.02).
 *
 * A tool for issue 15, not run by bench/run. The worker's OpenMP settings
 * come from the host's VE_ variables (VE_OMP_NUM_THREADS, VE_OMP_WAIT_POLICY,
 * VE_GOMP_SPINCOUNT), the in-process side's from the unprefixed ones.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ve_offload.h>

#include "floor.h"

#ifndef BENCH_OMP_KERNELS
#define BENCH_OMP_KERNELS "libbench_omp.so"
#endif

#define MAX_TRIALS 400
#define MAX_T 8
/* Rest before each trial: longer than libgomp's spinning waiters spin
 * (GOMP_SPINCOUNT, 300000 pauses by default: a few ms) after a region. */
#define REST_NS 30e6

static _Noreturn void die(const char *what, const char *why)
{
	fprintf(stderr, "veo_omp: %s: %s\n", what, why);
	exit(1);
}

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The kernels, in-process. */
static struct {
	int64_t (*team)(int64_t);
	uint64_t (*triad)(double *, const double *, const double *, uint64_t, int64_t);
	uint64_t (*fill)(double *, uint64_t, uint64_t, int64_t);
	uint64_t (*compute)(uint64_t, int64_t);
} K;

/* The worker side: a proc with the library loaded and one context. */
struct ve {
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	uint64_t lib;
	struct veo_args *args;
};

static void ve_open(struct ve *v, const char *kernels)
{
	v->proc = veo_proc_create(0);
	if (!v->proc)
		die("veo_proc_create", veo_last_error());
	v->lib = veo_load_library(v->proc, kernels);
	v->ctx = v->lib ? veo_context_open(v->proc) : NULL;
	v->args = veo_args_alloc();
	if (!v->ctx || !v->args)
		die("setting up the proc", veo_last_error());
}

static void ve_close(struct ve *v)
{
	veo_args_free(v->args);
	veo_proc_destroy(v->proc);
}

static uint64_t ve_sym(struct ve *v, const char *name)
{
	uint64_t fn = veo_get_sym(v->proc, v->lib, name);

	if (!fn)
		die(name, veo_last_error());
	return fn;
}

/* Calls fn with v->args as they are set and waits: its result. */
static uint64_t ve_call(struct ve *v, uint64_t fn)
{
	uint64_t r;

	if (veo_call_wait_result(v->ctx, veo_call_async(v->ctx, fn, v->args), &r) !=
	    VEO_COMMAND_OK)
		die("a call", veo_last_error());
	return r;
}

static void set_u64s(struct veo_args *a, int n, const uint64_t *x)
{
	veo_args_clear(a);
	for (int i = 0; i < n; i++)
		veo_args_set_u64(a, i, x[i]);
}

/* ---- Section A ---- */

enum kind { TRIAD, COMPUTE };

/* -w: rounds of host work (omp_compute with one thread) after each call,
 * on both sides; 0 for calls back to back. */
static uint64_t host_work;

static void work_on_host(void)
{
	if (host_work) {
		volatile uint64_t x = K.compute(host_work, 1);
		(void)x;
	}
}

struct side {
	double *arr[3];    /* in-process: malloc'ed */
	uint64_t ve_arr[3]; /* openveo: veo_alloc_mem */
};

/* Time per call of n calls in-process. */
static double run_in(enum kind k, struct side *s, uint64_t size, int64_t t, long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		if (k == TRIAD)
			K.triad(s->arr[0], s->arr[1], s->arr[2], size, t);
		else {
			volatile uint64_t x = K.compute(size, t);
			(void)x;
		}
		work_on_host();
	}
	return (now_ns() - t0) / n;
}

/* Time per call of n calls through openveo; *cpu: this thread's CPU time
 * per call meanwhile. */
static double run_ve(enum kind k, struct ve *v, uint64_t fn, struct side *s, uint64_t size,
                     int64_t t, long n, double *cpu)
{
	if (k == TRIAD)
		set_u64s(v->args, 5, (uint64_t[]){ s->ve_arr[0], s->ve_arr[1], s->ve_arr[2],
		                                   size, (uint64_t)t });
	else
		set_u64s(v->args, 2, (uint64_t[]){ size, (uint64_t)t });
	double c0 = thread_cpu_ns(), t0 = now_ns();

	for (long i = 0; i < n; i++) {
		uint64_t r;

		if (veo_call_wait_result(v->ctx, veo_call_async(v->ctx, fn, v->args), &r) !=
		    VEO_COMMAND_OK)
			die("a call", veo_last_error());
		work_on_host();
	}
	double dt = (now_ns() - t0) / n;

	*cpu = (thread_cpu_ns() - c0) / n;
	return dt;
}

static void section_a(const char *kernels, double seconds, const int64_t *ts, int nts,
                      uint64_t mib, int ve_first, double compute_us, double work_us)
{
	struct ve v;
	struct side s;
	uint64_t n_el = (mib << 20) / sizeof(double);

	ve_open(&v, kernels);
	uint64_t f_triad = ve_sym(&v, "omp_triad"), f_compute = ve_sym(&v, "omp_compute");
	uint64_t f_fill = ve_sym(&v, "omp_fill"), f_team = ve_sym(&v, "omp_team");

	/* Compute: compute_us in-process with one thread. */
	uint64_t iters = 1u << 20;
	for (;;) {
		double t0 = now_ns();

		K.compute(iters, 1);
		if (now_ns() - t0 > 1e6)
			break;
		iters *= 2;
	}
	{
		double best = 1e18;

		for (int i = 0; i < 7; i++) {
			double t0 = now_ns();

			K.compute(iters, 1);
			if (now_ns() - t0 < best)
				best = now_ns() - t0;
		}
		host_work = (uint64_t)(iters * work_us * 1e3 / best);
		iters = (uint64_t)(iters * compute_us * 1e3 / best);
	}

	/* The pages a process gets first are the most scattered in physical
	 * memory (the free lists' small blocks) and the slowest: section H.
	 * Each side's arrays are allocated and touched together, in the order
	 * -o asks (host first by default). */
	for (int side = 0; side < 2; side++) {
		if ((side == 0) == ve_first)
			for (int i = 0; i < 3; i++) {
				if (veo_alloc_mem(v.proc, &s.ve_arr[i], n_el * sizeof(double)) != 0)
					die("veo_alloc_mem", veo_last_error());
				set_u64s(v.args, 4, (uint64_t[]){ s.ve_arr[i], n_el, 1, 1 });
				ve_call(&v, f_fill);
			}
		else
			for (int i = 0; i < 3; i++) {
				s.arr[i] = aligned_alloc(4096, n_el * sizeof(double));
				if (!s.arr[i])
					die("aligned_alloc", "no memory for the arrays");
				K.fill(s.arr[i], n_el, 1, 1);
			}
	}

	printf("section A: OpenMP kernels through openveo against in-process, same team size\n");
	printf("  triad over 3 x %llu MiB (%s arrays allocated first); compute %llu xorshift\n"
	       "  rounds (%.0f us at one thread); each trial after %.0f ms of rest; host work\n"
	       "  after each call %.0f us\n",
	       (unsigned long long)mib, ve_first ? "the VE" : "the host's",
	       (unsigned long long)iters, compute_us, REST_NS / 1e6, work_us);
	printf("%-8s %4s %9s %4s %12s %12s %8s %14s\n", "kernel", "T", "team here", "N",
	       "in-process", "openveo", "ratio", "host CPU/call");
	for (int kk = 0; kk < 2; kk++) {
		enum kind k = kk ? COMPUTE : TRIAD;

		for (int ti = 0; ti < nts; ti++) {
			int64_t t = ts[ti];
			uint64_t size = k == TRIAD ? n_el : iters;
			double in[MAX_TRIALS], off[MAX_TRIALS], cpu[MAX_TRIALS];
			int trials = 0;

			set_u64s(v.args, 1, (uint64_t[]){ (uint64_t)t });
			int64_t team_ve = (int64_t)ve_call(&v, f_team), team_in = K.team(t);

			/* N: about 30 ms a trial (the fastest of 3 calls). */
			double one = 1e18;

			for (int i = 0; i < 3; i++) {
				double d = run_in(k, &s, size, t, 1);

				one = d < one ? d : one;
			}
			long n = (long)(30e6 / one) + 1;
			double end = now_ns() + seconds * 1e9, c;

			run_ve(k, &v, k == TRIAD ? f_triad : f_compute, &s, size, t, 1, &c);
			while (trials < MAX_TRIALS && (trials < 6 || now_ns() < end)) {
				for (int j = 0; j < 2; j++) {
					/* The other side's OpenMP threads still spin for a
					 * while after its last parallel region. */
					sleep_ns(REST_NS);
					if ((j + trials) % 2 == 0)
						in[trials] = run_in(k, &s, size, t, n);
					else
						off[trials] = run_ve(k, &v, k == TRIAD ? f_triad : f_compute,
						                     &s, size, t, n, &cpu[trials]);
				}
				trials++;
			}
			double ratio[MAX_TRIALS];

			for (int i = 0; i < trials; i++)
				ratio[i] = off[i] / in[i];
			double mi = median(in, (size_t)trials), mo = median(off, (size_t)trials);
			double mr = median(ratio, (size_t)trials);
			char tn[16], tl[8];

			snprintf(tn, sizeof tn, "%lld/%lld", (long long)team_in, (long long)team_ve);
			snprintf(tl, sizeof tl, t ? "%lld" : "dflt", (long long)t);
			printf("%-8s %4s %9s %4ld %9.3f ms %9.3f ms %7.3fx %11.1f us\n",
			       k == TRIAD ? "triad" : "compute", tl, tn, n, mi / 1e6, mo / 1e6, mr,
			       median(cpu, (size_t)trials) / 1e3);
			fflush(stdout);
		}
	}
	printf("  (team here: the team in-process / in the worker; times: medians; ratio:\n"
	       "   openveo / in-process, the median of the ratios of the trials paired, the\n"
	       "   two 30 ms apart; goal <= 1.05; host CPU: the calling thread's while it\n"
	       "   waited, per call)\n");
	for (int i = 0; i < 3; i++) {
		free(s.arr[i]);
		veo_free_mem(v.proc, s.ve_arr[i]);
	}
	ve_close(&v);
}

/* ---- Section H ---- */

static void section_h(const char *kernels, double seconds)
{
	const uint64_t n_el = (64ull << 20) / sizeof(double);

	printf("section H: one worker thread, triad over 3 x 64 MiB of VE heap against "
	       "3 x 64 MiB the kernel malloc'ed\n");
	printf("%-14s %12s %12s %8s   %s\n", "allocated first", "VE heap", "malloc", "ratio",
	       "addresses (VE heap; malloc)");
	for (int order = 0; order < 2; order++) {
		struct ve v;
		uint64_t heap[3], own[3];
		double th[MAX_TRIALS], tm[MAX_TRIALS];
		int trials = 0;

		ve_open(&v, kernels);
		uint64_t f_own = ve_sym(&v, "own_arrays"), f_own_at = ve_sym(&v, "own_array");
		uint64_t f_fill = ve_sym(&v, "omp_fill"), f_ns = ve_sym(&v, "triad_ns");

		for (int pass = 0; pass < 2; pass++) {
			if ((pass == 0) == (order == 0)) {
				for (int i = 0; i < 3; i++) {
					if (veo_alloc_mem(v.proc, &heap[i], n_el * sizeof(double)) != 0)
						die("veo_alloc_mem", veo_last_error());
					set_u64s(v.args, 4, (uint64_t[]){ heap[i], n_el, (uint64_t)i + 1, 1 });
					ve_call(&v, f_fill);
				}
			} else {
				set_u64s(v.args, 1, (uint64_t[]){ n_el });
				if (!ve_call(&v, f_own))
					die("own_arrays", "malloc failed in the worker");
				for (int i = 0; i < 3; i++) {
					set_u64s(v.args, 1, (uint64_t[]){ (uint64_t)i });
					own[i] = ve_call(&v, f_own_at);
				}
			}
		}
		double end = now_ns() + seconds * 1e9;

		while (trials < MAX_TRIALS && (trials < 11 || now_ns() < end)) {
			for (int j = 0; j < 2; j++) {
				int mine = (j + trials) % 2;
				uint64_t *a = mine ? own : heap;

				set_u64s(v.args, 4, (uint64_t[]){ a[0], a[1], a[2], n_el });
				(mine ? tm : th)[trials] = (double)ve_call(&v, f_ns);
			}
			trials++;
		}
		double ratio[MAX_TRIALS];

		for (int i = 0; i < trials; i++)
			ratio[i] = th[i] / tm[i];
		double mh = median(th, (size_t)trials), mm = median(tm, (size_t)trials);
		double mr = median(ratio, (size_t)trials);

		printf("%-14s %9.2f ms %9.2f ms %7.3fx   %llx %llx %llx; %llx %llx %llx\n",
		       order ? "malloc" : "VE heap", mh / 1e6, mm / 1e6, mr,
		       (unsigned long long)heap[0], (unsigned long long)heap[1],
		       (unsigned long long)heap[2], (unsigned long long)own[0],
		       (unsigned long long)own[1], (unsigned long long)own[2]);
		fflush(stdout);
		ve_close(&v);
	}
	printf("  (times: medians; ratio: VE heap / malloc, the median of the ratios of the\n"
	       "   trials paired, the two a few ms apart; goal <= 1.02)\n");
}

int main(int argc, char **argv)
{
	const char *kernels = BENCH_OMP_KERNELS, *sections = "AH";
	double seconds = 3;
	int64_t ts[MAX_T] = { 1, 2 };
	int nts = 2, opt;
	uint64_t mib = 32;
	int ve_first = 0;
	double compute_us = 2000, work_us = 0;

	while ((opt = getopt(argc, argv, "s:t:T:m:o:c:w:k:")) != -1) {
		if (opt == 'w')
			work_us = atof(optarg);
		else if (opt == 'c')
			compute_us = atof(optarg);
		else if (opt == 'o' && (!strcmp(optarg, "ve") || !strcmp(optarg, "host")))
			ve_first = !strcmp(optarg, "ve");
		else if (opt == 's')
			sections = optarg;
		else if (opt == 't')
			seconds = atof(optarg);
		else if (opt == 'm')
			mib = strtoull(optarg, NULL, 0);
		else if (opt == 'k')
			kernels = optarg;
		else if (opt == 'T') {
			char *p = optarg;

			for (nts = 0; nts < MAX_T && *p; nts++) {
				ts[nts] = strtoll(p, &p, 10);
				if (ts[nts] < 0 || ts[nts] > 9)
					die("-T", "team sizes are 0 (the default) to 9");
				if (*p == ',')
					p++;
			}
		} else {
			fprintf(stderr, "usage: veo_omp [-s A|H|AH] [-t seconds per case] "
			                "[-T 1,2,...] [-m MiB] [-c us] [-w us]\n"
			                "               [-o host|ve] [-k libbench_omp.so]\n");
			return 2;
		}
	}
	void *h = dlopen(kernels, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		die(kernels, dlerror());
	*(void **)&K.team = dlsym(h, "omp_team");
	*(void **)&K.triad = dlsym(h, "omp_triad");
	*(void **)&K.fill = dlsym(h, "omp_fill");
	*(void **)&K.compute = dlsym(h, "omp_compute");
	if (!K.team || !K.triad || !K.fill || !K.compute)
		die(kernels, "not the library of omp_kernels.c");
	if (strchr(sections, 'A'))
		section_a(kernels, seconds, ts, nts, mib, ve_first, compute_us, work_us);
	if (strchr(sections, 'H'))
		section_h(kernels, seconds);
	dlclose(h);
	return 0;
}
