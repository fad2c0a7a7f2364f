/*
 * veo_omp.c: OpenMP kernels through openveo, against the same kernels
 * in-process (issue 15, items 2 and 4). bench/run runs it after veo_bench
 * (with -q for bench/run --quick) and writes bench/out/veo_omp.json.
 *
 *     veo_omp [-q] [-j out.json] [-s A|H|AH] [-t seconds per case] [-T 1,2,...]
 *             [-m MiB] [-c us] [-w us] [-o host|ve] [-k libbench_omp.so]
 *
 * Section A, OpenMP at full speed: a memory-bound triad over three arrays
 * of -m MiB (default 32) and a compute-bound kernel (-c us at one thread,
 * default 2000), each with a team of T threads (-T, default 1,2; 0 is the
 * runtime's default team on each side), called N times in a row through
 * openveo (veo_call_async + veo_call_wait_result) and in-process (the same
 * library dlopened here, called with the same T). Trials of the two
 * alternate, each side first in every other pair; printed: the medians of
 * the time per call, the median of the paired trials' ratios (goal <=
 * 1.05), and the host thread's CPU time per call while it waited
 * (CLOCK_THREAD_CPUTIME_ID). -o: whose arrays are allocated first (host,
 * the default, or ve; see section H). -w: the host thread works that long
 * (one thread) after every call, on both sides: the worker's OpenMP
 * threads still spin then (libgomp's GOMP_SPINCOUNT) and compete with it.
 *
 * Section H, VE memory as fast as host memory: inside the worker, one
 * thread runs the triad over three 64 MiB arrays from veo_alloc_mem and
 * over three the kernel library malloc'ed itself, the two alternating, each
 * timed in the worker; once with the VE arrays allocated first, once with
 * the malloc'ed ones first (a new proc each). Printed: the medians and
 * the median of the paired ratios VE heap / malloc (goal <= 1.02, judged
 * on the worse of the two orders).
 *
 * At the end the goals are judged and printed (PASS/FAIL); -j writes every
 * figure, each trial's ratio and the goals as JSON (plot.py draws omp.svg
 * from it, summary.py puts the goals in its table). -q: shorter trials and
 * cases, for a quick run. A missed goal never changes the exit status: 0,
 * or 1 if openveo failed. The worker's OpenMP settings come from the host's
 * VE_ variables (VE_OMP_NUM_THREADS, VE_OMP_WAIT_POLICY, VE_GOMP_SPINCOUNT),
 * the in-process side's from the unprefixed ones.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ve_offload.h>

#include "floor.h"
#include "goal.h"
#include "json.h"

#ifndef BENCH_OMP_KERNELS
#define BENCH_OMP_KERNELS "libbench_omp.so"
#endif

#define MAX_TRIALS 400
#define MAX_T 8
/* Rest before each trial: longer than libgomp's spinning waiters spin
 * (GOMP_SPINCOUNT, 300000 pauses by default: a few ms) after a region. */
#define REST_NS 30e6

/* How long a run takes: the full run's figures, or -q's (a quick run). */
static struct {
	double seconds;  /* per case, at least (-t) */
	int min_pairs_a; /* pairs of trials per case of section A, at least */
	int min_pairs_h; /* and of section H */
	double trial_ns; /* about how long a trial of section A lasts */
} run = { 3, 6, 11, 30e6 };
static const double QUICK_SECONDS = 0.5, QUICK_TRIAL_NS = 15e6;
static const int QUICK_PAIRS_A = 7, QUICK_PAIRS_H = 7;

/* One kernel and team size of section A. */
struct a_case {
	const char *kernel;       /* "triad" or "compute" */
	int64_t threads;          /* the T asked for (0: the default team) */
	int64_t team_in, team_ve; /* the team it got in-process, in the worker */
	long n;                   /* calls per trial */
	int pairs;                /* pairs of trials */
	double in_ns, off_ns;     /* medians of the time per call */
	double ratio;             /* median of the pairs' openveo / in-process */
	double cpu_ns;            /* median host CPU per call while it waited */
	double ratios[MAX_TRIALS]; /* each pair's ratio, in the order measured */
};

/* One order of allocation of section H. */
struct h_order {
	int ve_first;             /* the VE heap's arrays were allocated first */
	int pairs;
	double heap_ns, malloc_ns; /* medians of a triad over each */
	double ratio;             /* median of the pairs' VE heap / malloc */
	uint64_t heap[3], own[3]; /* the arrays' addresses in the worker */
	double ratios[MAX_TRIALS];
};

/* The figures of the run: filled by the sections, read by the goals and
 * the JSON. */
static struct {
	int quick;
	uint64_t mib;            /* section A's arrays, each */
	int ve_first;            /* section A: the VE arrays allocated first (-o ve) */
	double compute_us, work_us;
	uint64_t compute_iters;  /* xorshift rounds of compute_us at one thread */
	struct a_case a[2 * MAX_T];
	int na;
	struct h_order h[2];
	int nh;
	struct goals goals;      /* judged once every section has run */
} R;

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

static void section_a(const char *kernels, const int64_t *ts, int nts, uint64_t mib,
                      int ve_first, double compute_us, double work_us)
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
		R.compute_iters = iters;
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
	       "  after each call %.0f us; at least %d pairs of trials a case, %.3g s\n",
	       (unsigned long long)mib, ve_first ? "the VE" : "the host's",
	       (unsigned long long)iters, compute_us, REST_NS / 1e6, work_us, run.min_pairs_a,
	       run.seconds);
	printf("%-8s %4s %9s %4s %12s %12s %8s %14s\n", "kernel", "T", "team here", "N",
	       "in-process", "openveo", "ratio", "host CPU/call");
	for (int kk = 0; kk < 2; kk++) {
		enum kind k = kk ? COMPUTE : TRIAD;

		for (int ti = 0; ti < nts; ti++) {
			int64_t t = ts[ti];
			uint64_t size = k == TRIAD ? n_el : iters;
			struct a_case *ac = &R.a[R.na++];
			double in[MAX_TRIALS], off[MAX_TRIALS], cpu[MAX_TRIALS];
			int trials = 0;

			set_u64s(v.args, 1, (uint64_t[]){ (uint64_t)t });
			int64_t team_ve = (int64_t)ve_call(&v, f_team), team_in = K.team(t);

			/* N: a trial of about run.trial_ns (the fastest of 3 calls). */
			double one = 1e18;

			for (int i = 0; i < 3; i++) {
				double d = run_in(k, &s, size, t, 1);

				one = d < one ? d : one;
			}
			long n = (long)(run.trial_ns / one) + 1;
			double end = now_ns() + run.seconds * 1e9, c;

			run_ve(k, &v, k == TRIAD ? f_triad : f_compute, &s, size, t, 1, &c);
			while (trials < MAX_TRIALS && (trials < run.min_pairs_a || now_ns() < end)) {
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
				ac->ratios[i] = ratio[i] = off[i] / in[i];
			double mi = median(in, (size_t)trials), mo = median(off, (size_t)trials);
			double mr = median(ratio, (size_t)trials);
			char tn[16], tl[8];

			ac->kernel = k == TRIAD ? "triad" : "compute";
			ac->threads = t;
			ac->team_in = team_in;
			ac->team_ve = team_ve;
			ac->n = n;
			ac->pairs = trials;
			ac->in_ns = mi;
			ac->off_ns = mo;
			ac->ratio = mr;
			ac->cpu_ns = median(cpu, (size_t)trials);

			snprintf(tn, sizeof tn, "%lld/%lld", (long long)team_in, (long long)team_ve);
			snprintf(tl, sizeof tl, t ? "%lld" : "dflt", (long long)t);
			printf("%-8s %4s %9s %4ld %9.3f ms %9.3f ms %7.3fx %11.1f us\n", ac->kernel, tl,
			       tn, n, mi / 1e6, mo / 1e6, mr, ac->cpu_ns / 1e3);
			fflush(stdout);
		}
	}
	printf("  (team here: the team in-process / in the worker; times: medians; ratio:\n"
	       "   openveo / in-process, the median of the ratios of the trials paired, the\n"
	       "   two %.0f ms apart; goal <= 1.05; host CPU: the calling thread's while it\n"
	       "   waited, per call)\n", REST_NS / 1e6);
	for (int i = 0; i < 3; i++) {
		free(s.arr[i]);
		veo_free_mem(v.proc, s.ve_arr[i]);
	}
	ve_close(&v);
}

/* ---- Section H ---- */

static void section_h(const char *kernels)
{
	const uint64_t n_el = (64ull << 20) / sizeof(double);

	printf("section H: one worker thread, triad over 3 x 64 MiB of VE heap against "
	       "3 x 64 MiB the kernel malloc'ed\n");
	printf("%-14s %12s %12s %8s   %s\n", "allocated first", "VE heap", "malloc", "ratio",
	       "addresses (VE heap; malloc)");
	for (int order = 0; order < 2; order++) {
		struct h_order *ho = &R.h[R.nh++];
		uint64_t *heap = ho->heap, *own = ho->own;
		struct ve v;
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
		double end = now_ns() + run.seconds * 1e9;

		while (trials < MAX_TRIALS && (trials < run.min_pairs_h || now_ns() < end)) {
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
			ho->ratios[i] = ratio[i] = th[i] / tm[i];
		double mh = median(th, (size_t)trials), mm = median(tm, (size_t)trials);
		double mr = median(ratio, (size_t)trials);

		ho->ve_first = order == 0;
		ho->pairs = trials;
		ho->heap_ns = mh;
		ho->malloc_ns = mm;
		ho->ratio = mr;

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

/* ---- Goals ---- */

/* Records a goal: value op limit in unit, its name formatted (goal.h). */
static void goal(double value, const char *op, double limit, const char *unit,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void goal(double value, const char *op, double limit, const char *unit,
                 const char *fmt, ...)
{
	char name[sizeof R.goals.g[0].name];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	goal_add(&R.goals, name, value, op, limit, unit);
}

/* The goals of issue 15 this run measured: every kernel and team of
 * section A within 1.05x of in-process; section H's VE heap within 1.02x
 * of malloc'ed memory, the worse of the two orders of allocation. */
static void goals_judge(void)
{
	for (int i = 0; i < R.na; i++) {
		const struct a_case *c = &R.a[i];
		char t[16];

		snprintf(t, sizeof t, c->threads ? "%lld" : "default", (long long)c->threads);
		if (!strcmp(c->kernel, "triad"))
			goal(c->ratio, "<=", 1.05, "x", "OpenMP triad 3 x %llu MiB, T=%s: openveo / in-process",
			     (unsigned long long)R.mib, t);
		else
			goal(c->ratio, "<=", 1.05, "x", "OpenMP compute %g us, T=%s: openveo / in-process",
			     R.compute_us, t);
	}
	if (R.nh) {
		const struct h_order *w = &R.h[0];

		for (int i = 1; i < R.nh; i++)
			if (!(R.h[i].ratio <= w->ratio)) /* a NAN is the worse */
				w = &R.h[i];
		goal(w->ratio, "<=", 1.02, "x", "worker's triad, VE heap / malloc'ed (worse: %s first)",
		     w->ve_first ? "VE heap" : "malloc");
	}
}

static void goals_print(void)
{
	int passed;

	printf("\n== goals (issue 15), OpenMP kernels and VE memory, this run\n");
	passed = goals_print_lines(&R.goals);
	printf("  %d of %d goals met%s\n", passed, R.goals.n, R.quick ? " (quick run)" : "");
}

/* ---- JSON ---- */

/* The setting the kernel chose in a sysfs file such as
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled ("always [never]"),
 * written as key; nothing if the file cannot be read. */
static void json_sysfs_choice(struct json *j, const char *key, const char *path)
{
	char buf[256], *a, *b;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	if (fgets(buf, sizeof buf, f) && (a = strchr(buf, '[')) && (b = strchr(a, ']'))) {
		*b = '\0';
		json_str(j, key, a + 1);
	}
	fclose(f);
}

/* Every figure of the run, each pair's ratio and the goals, written to
 * path; plot.py and summary.py read these keys by name. */
static void results_write_json(const char *path)
{
	static const char *env[] = { "VE_OMP_NUM_THREADS", "VE_OMP_WAIT_POLICY",
		                     "VE_GOMP_SPINCOUNT", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
		                     "GOMP_SPINCOUNT" };
	struct json jj, *j = &jj;
	FILE *f = json_document(j, path, "veo_omp", R.quick);
	char addr[24];

	if (!f)
		return;

	json_object(j, "settings");
	json_num(j, "seconds_per_case", run.seconds);
	json_int(j, "min_pairs_openmp", run.min_pairs_a);
	json_int(j, "min_pairs_ve_heap", run.min_pairs_h);
	json_num(j, "trial_ns", run.trial_ns);
	json_num(j, "rest_before_trial_ns", REST_NS);
	json_int(j, "triad_array_mib", (long long)R.mib);
	json_str(j, "arrays_allocated_first", R.ve_first ? "ve" : "host");
	json_num(j, "compute_us", R.compute_us);
	json_int(j, "compute_iters", (long long)R.compute_iters);
	json_num(j, "host_work_us", R.work_us);
	json_int(j, "ve_heap_array_mib", 64);
	json_end(j);

	/* The OpenMP settings of both sides (only those set) and the huge
	 * pages the system allows: section H depends on them. */
	json_object(j, "environment");
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
		if (getenv(env[i]))
			json_str(j, env[i], getenv(env[i]));
	json_sysfs_choice(j, "thp_enabled", "/sys/kernel/mm/transparent_hugepage/enabled");
	json_sysfs_choice(j, "thp_shmem_enabled",
	                  "/sys/kernel/mm/transparent_hugepage/shmem_enabled");
	json_end(j);

	json_array(j, "openmp");
	for (int i = 0; i < R.na; i++) {
		const struct a_case *c = &R.a[i];

		json_object(j, NULL);
		json_str(j, "kernel", c->kernel);
		json_int(j, "threads", c->threads);
		json_int(j, "team_in_process", c->team_in);
		json_int(j, "team_openveo", c->team_ve);
		json_int(j, "n", c->n);
		json_int(j, "pairs", c->pairs);
		json_num(j, "in_process_ns", c->in_ns);
		json_num(j, "openveo_ns", c->off_ns);
		json_num(j, "ratio", c->ratio);
		json_num(j, "host_cpu_ns", c->cpu_ns);
		json_array(j, "pair_ratios");
		for (int k = 0; k < c->pairs; k++)
			json_num(j, NULL, c->ratios[k]);
		json_end(j);
		json_end(j);
	}
	json_end(j);

	json_array(j, "ve_heap");
	for (int i = 0; i < R.nh; i++) {
		const struct h_order *h = &R.h[i];

		json_object(j, NULL);
		json_str(j, "allocated_first", h->ve_first ? "ve_heap" : "malloc");
		json_int(j, "pairs", h->pairs);
		json_num(j, "ve_heap_ns", h->heap_ns);
		json_num(j, "malloc_ns", h->malloc_ns);
		json_num(j, "ratio", h->ratio);
		for (int side = 0; side < 2; side++) {
			json_array(j, side ? "malloc_addresses" : "ve_heap_addresses");
			for (int k = 0; k < 3; k++) {
				snprintf(addr, sizeof addr, "0x%llx",
				         (unsigned long long)(side ? h->own : h->heap)[k]);
				json_str(j, NULL, addr);
			}
			json_end(j);
		}
		json_array(j, "pair_ratios");
		for (int k = 0; k < h->pairs; k++)
			json_num(j, NULL, h->ratios[k]);
		json_end(j);
		json_end(j);
	}
	json_end(j);

	goals_json(j, &R.goals);
	json_end(j);
	fclose(f);
	printf("figures written to %s\n", path);
}

int main(int argc, char **argv)
{
	const char *kernels = BENCH_OMP_KERNELS, *sections = "AH", *json_path = NULL;
	double seconds = -1; /* -t; else the full or the quick run's */
	int64_t ts[MAX_T] = { 1, 2 };
	int nts = 2, opt;
	uint64_t mib = 32;
	int ve_first = 0;
	double compute_us = 2000, work_us = 0;

	while ((opt = getopt(argc, argv, "qj:s:t:T:m:o:c:w:k:")) != -1) {
		if (opt == 'q')
			R.quick = 1;
		else if (opt == 'j')
			json_path = optarg;
		else if (opt == 'w')
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
			fprintf(stderr, "usage: veo_omp [-q] [-j out.json] [-s A|H|AH] "
			                "[-t seconds per case] [-T 1,2,...]\n"
			                "               [-m MiB] [-c us] [-w us] [-o host|ve] "
			                "[-k libbench_omp.so]\n");
			return 2;
		}
	}
	if (R.quick) {
		run.seconds = QUICK_SECONDS;
		run.trial_ns = QUICK_TRIAL_NS;
		run.min_pairs_a = QUICK_PAIRS_A;
		run.min_pairs_h = QUICK_PAIRS_H;
	}
	if (seconds >= 0)
		run.seconds = seconds;
	R.mib = mib;
	R.ve_first = ve_first;
	R.compute_us = compute_us;
	R.work_us = work_us;

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
		section_a(kernels, ts, nts, mib, ve_first, compute_us, work_us);
	if (strchr(sections, 'H'))
		section_h(kernels);
	dlclose(h);

	/* Judged and written whatever they say: a missed goal is a figure,
	 * not a failure of the run. */
	goals_judge();
	goals_print();
	if (json_path)
		results_write_json(json_path);
	return 0;
}
