/*
 * goals.c: the goals of issues 4 and 15, each a ratio or a figure of R
 * against its limit, judged PASS or FAIL once every section has run, and
 * printed. A missed goal is printed as FAIL; it never fails the run.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "bench.h"

/* Records a goal of the run: value op limit, in unit (goal.h). */
static void goal(const char *name, double value, const char *op, double limit,
                 const char *unit)
{
	goal_add(&R.goals, name, value, op, limit, unit);
}

/* A goal's name, formatted for the goal() right after (which copies it). */
static const char *name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *name(const char *fmt, ...)
{
	static char n[sizeof R.goals.g[0].name];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n, sizeof n, fmt, ap);
	va_end(ap);
	return n;
}

/* Whether v is worse (larger) than the worst so far, w: a NAN (not
 * measured) is the worst of all, and stays so. */
static int worse(double v, double w)
{
	return !isnan(w) && !(v <= w);
}

/* The largest of v[k] over the N of the run, and its N in *at. */
static double worst_over_n(const double *v, long *at)
{
	double w = -INFINITY;

	for (unsigned k = 0; k < ncall_n; k++)
		if (worse(v[k], w)) {
			w = v[k];
			*at = call_ns[k];
		}
	return w;
}

/* The medium-kernel goals of issue 15 in placement pl: the time per call
 * within 1.02x of in-process for D >= 20 us and within 1 us at 5 us, the
 * host thread's CPU while it waits at most 10% of the kernel's time for
 * D >= 100 us; the first two as the worst D. */
static void medium_goals(int pl)
{
	double ratio = -INFINITY, cpu = -INFINITY;
	int r_at = 0, c_at = 0;

	for (unsigned d = 0; d < NMEDIUM; d++) {
		struct medium_point *p = &R.medium[pl][d];

		if (medium_us[d] >= 20 && worse(p->ratio, ratio))
			ratio = p->ratio, r_at = (int)medium_us[d];
		if (medium_us[d] >= 100 && worse(100 * p->cpu_frac, cpu))
			cpu = 100 * p->cpu_frac, c_at = (int)medium_us[d];
	}
	goal(name("%s: medium kernel D=5 us, openveo - in-process", place_key[pl]),
	     R.medium[pl][0].tax_ns / 1e3, "<=", 1, "us");
	goal(name("%s: medium D >= 20 us, openveo / in-process (worst: %d us)", place_key[pl],
	          r_at), ratio, "<=", 1.02, "x");
	goal(name("%s: medium D >= 100 us, host CPU waiting / D (worst: %d us; one sleep: %.0f%%)",
	          place_key[pl], c_at, R.sleep_cpu_ns / (10 * c_at)), cpu, "<=", 10, "%");
}

void goals_judge(void)
{
	double floor = R.round_trip_ns;
	unsigned last = ncall_n - 1;
	const struct call_results *apart = &R.calls[PL_APART], *same = &R.calls[PL_SAME];
	long at = 0;
	double w;

	/* The call goals use the ratios paired trial by trial (call_cells): a
	 * floor from minutes earlier may have run at another speed. They are
	 * judged pinned apart, where a call is a cache-line round trip; on
	 * one CPU it is a context switch each way, judged against the futex
	 * round trip on one CPU below. */
	goal(name("apart: call+wait (pattern 2, N=%ld) / paired floor", call_ns[last]),
	     apart->ratio[PAT_CALL_WAIT][last], "<=", 1.5, "x");
	goal(name("apart: pipelined call (pattern 1, N=%ld) / paired floor", call_ns[last]),
	     apart->ratio[PAT_SUBMIT_ALL_WAIT_ALL][last], "<=", 0.35, "x");
	w = worst_over_n(apart->sync_over_wait, &at);
	goal(name("apart: veo_call_sync / call+wait, same round (worst: N=%ld)", at), w, "<=",
	     1.5, "x");
	for (int pat = 0; pat < NPAT; pat++) {
		w = worst_over_n(same->futex_ratio[pat], &at);
		goal(name("one CPU: %s / futex round trip (worst: N=%ld)", pat_name[pat], at), w,
		     "<=", 2, "x");
	}
	w = -INFINITY;
	for (unsigned d = 0; d < NMEDIUM; d++)
		if (worse(R.medium[PL_SAME][d].tax_over_ref, w))
			w = R.medium[PL_SAME][d].tax_over_ref, at = (long)medium_us[d];
	goal(name("one CPU: medium kernels' tax / futex round trip (worst: D=%ld us)", at), w,
	     "<=", 2, "x");
	medium_goals(PL_FREE);
	medium_goals(PL_APART);

	for (int xf = 0; xf < NXF; xf++) {
		double worst = INFINITY;
		size_t size_at = 0;

		for (unsigned i = 0; i < nsizes; i++)
			if (sizes[i] >= MiB && R.memcpy_ns[i] / R.xfer_ns[xf][i] < worst) {
				worst = R.memcpy_ns[i] / R.xfer_ns[xf][i];
				size_at = sizes[i];
			}
		goal(name("%s >= 1 MiB / memcpy (worst at %s)", xf_name[xf], S(size_at)), worst, ">=",
		     0.8, "x");
	}
	for (int xf = 0; xf < NXF; xf++)
		goal(name("8-byte %s / floor", xf_name[xf]), R.xfer_ns[xf][0] / floor, "<=", 2, "x");
	goal("proc create + destroy", R.proc_create_destroy_ns / 1e6, "<", 20, "ms");
	goal("32 contexts, empty calls: aggregate / 1 context",
	     R.cont_empty[NCONT - 1].relative, ">=", 0.5, "x");
	goal("idle proc, % of a core", R.idle_worker_pct_sched + R.idle_host_pct, "<", 1, "%");
	goal("idle waiting host thread, % of a core", R.waiter_thread_pct, "<", 1, "%");
}

void goals_print(void)
{
	int passed;

	section("goals (issues 4 and 15), this run");
	passed = goals_print_lines(&R.goals);
	printf("  %d of %d goals met (the Python goals are in py_bench's output)\n", passed,
	       R.goals.n);
}
