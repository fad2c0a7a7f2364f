/*
 * goals.c: the goals of issue 4, each a ratio or a figure of R against its
 * limit, judged PASS or FAIL once every section has run, and printed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

/* Records a goal: value op limit, in unit. */
static void goal(const char *name, double value, const char *op, double limit,
                 const char *unit)
{
	struct goal *g = &R.goals[R.ngoals++];
	int pass;

	if (!strcmp(op, "<="))
		pass = value <= limit;
	else if (!strcmp(op, ">="))
		pass = value >= limit;
	else
		pass = value < limit;
	*g = (struct goal){ name, value, op, limit, unit, isfinite(value) && pass };
}

void goals_judge(void)
{
	double floor = R.round_trip_ns;
	unsigned last = ncall_n - 1;
	double worst_big = INFINITY;
	static char name_big[NXF][96], name_small[NXF][96], name_p1[96], name_p2[96];

	/* The call goals use the ratios paired trial by trial (call_cell): a
	 * floor from minutes earlier may have run at another speed. */
	snprintf(name_p2, sizeof name_p2, "call+wait (pattern 2, N=%ld) / paired floor",
	         call_ns[last]);
	goal(name_p2, R.call_ratio[PAT_CALL_WAIT][last], "<=", 2, "x");
	snprintf(name_p1, sizeof name_p1, "pipelined call (pattern 1, N=%ld) / paired floor",
	         call_ns[last]);
	goal(name_p1, R.call_ratio[PAT_SUBMIT_ALL_WAIT_ALL][last], "<=", 0.5, "x");
	for (int xf = 0; xf < NXF; xf++) {
		double worst = INFINITY;
		size_t at = 0;

		for (unsigned i = 0; i < nsizes; i++)
			if (sizes[i] >= MiB && R.memcpy_ns[i] / R.xfer_ns[xf][i] < worst) {
				worst = R.memcpy_ns[i] / R.xfer_ns[xf][i];
				at = sizes[i];
			}
		snprintf(name_big[xf], sizeof name_big[xf],
		         "%s >= 1 MiB / memcpy (worst at %s)", xf_name[xf], S(at));
		goal(name_big[xf], worst, ">=", 0.8, "x");
		if (worst < worst_big)
			worst_big = worst;
	}
	for (int xf = 0; xf < NXF; xf++) {
		snprintf(name_small[xf], sizeof name_small[xf], "8-byte %s / floor", xf_name[xf]);
		goal(name_small[xf], R.xfer_ns[xf][0] / floor, "<=", 2, "x");
	}
	goal("proc create + destroy", R.proc_create_destroy_ns / 1e6, "<", 20, "ms");
	goal("32 contexts, empty calls: aggregate / 1 context",
	     R.cont_empty[NCONT - 1].relative, ">=", 0.5, "x");
	goal("idle proc, % of a core", R.idle_worker_pct_sched + R.idle_host_pct, "<", 1, "%");
	goal("idle waiting host thread, % of a core", R.waiter_thread_pct, "<", 1, "%");
}

void goals_print(void)
{
	int passed = 0;

	section("goals (issue 4), this run");
	for (int i = 0; i < R.ngoals; i++) {
		struct goal *g = &R.goals[i];

		printf("  %-62s = %8.3g %-2s (goal %s %g) %s\n", g->name, g->value, g->unit, g->op,
		       g->limit, g->pass ? "PASS" : "FAIL");
		passed += g->pass;
	}
	printf("  %d of %d goals met (the Python goals are in py_bench's output)\n", passed,
	       R.ngoals);
}
