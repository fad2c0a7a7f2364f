/*
 * calls.c: call latency of the empty kernel in AVEO's four patterns, for
 * each N of call_ns, every call trial right after a floor trial (floor.c)
 * and judged against it: the machine's speed changes for minutes at a time.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

static uint64_t *ids;

/* Time of N calls of fn in pattern pat, in ns; NAN on failure. */
static double run_pattern(int pat, long n, struct veo_proc_handle *proc,
                          struct veo_thr_ctxt *ctx, uint64_t fn, struct veo_args *args)
{
	double t0 = now_ns(), t1;
	uint64_t r;
	long i;

	switch (pat) {
	case PAT_SUBMIT_ALL_WAIT_ALL:
		for (i = 0; i < n; i++)
			ids[i] = veo_call_async(ctx, fn, args);
		for (i = 0; i < n; i++)
			if (veo_call_wait_result(ctx, ids[i], &r) != VEO_COMMAND_OK)
				return NAN;
		break;
	case PAT_CALL_WAIT:
		for (i = 0; i < n; i++)
			if (veo_call_wait_result(ctx, veo_call_async(ctx, fn, args), &r) !=
			    VEO_COMMAND_OK)
				return NAN;
		break;
	case PAT_SUBMIT_ALL_WAIT_LAST:
		for (i = 0; i < n; i++)
			ids[i] = veo_call_async(ctx, fn, args);
		if (veo_call_wait_result(ctx, ids[n - 1], &r) != VEO_COMMAND_OK)
			return NAN;
		t1 = now_ns();
		/* Not timed: collect the others, which are done (a context runs
		 * in order), so that the request table does not keep them. */
		for (i = 0; i < n - 1; i++)
			veo_call_wait_result(ctx, ids[i], &r);
		return t1 - t0;
	default:
		for (i = 0; i < n; i++)
			if (veo_call_sync(proc, fn, args, &r) != VEO_COMMAND_OK)
				return NAN;
		break;
	}
	return now_ns() - t0;
}

/* Untimed calls before each timed trial: the floor trial just before let
 * openveo's worker fall asleep, and a trial times calls to a worker that
 * is awake, as it did when trials ran back to back. */
#define CALL_WARMUP 32

/* What the cells of bench_calls share: the kernel, limits, scratch space. */
struct call_run {
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	uint64_t fn;
	struct veo_args *args;
	double budget;        /* per cell, in ns, after 3 trials */
	int maxtrials;
	double *t, *ratio;    /* a cell's trials: per call, and per call / floor */
	double *cell_floors;  /* a cell's floor trials */
	double *floors;       /* every floor trial of the section */
	size_t nfloors;
};

/*
 * One (pattern, N) cell: trials of N calls until about 1e5 calls, at least
 * MIN_CELL_TRIALS, or until the budget is spent. Each trial runs right
 * after a floor trial, and its ratio is to that floor: the machine's speed
 * changes for minutes at a time, and a pair's two halves are a millisecond
 * apart. Now and then the speed changes between the two halves; with a
 * few more trials than 3, such a pair does not make the median.
 */
#define MIN_CELL_TRIALS 11
static void call_cell(struct call_run *c, int pat, unsigned k)
{
	long n = call_ns[k];
	long trials = 100000 / n; /* about 1e5 calls a cell */
	double start = now_ns();
	int done = 0, paired = 0;

	trials = trials < MIN_CELL_TRIALS ? MIN_CELL_TRIALS
	         : trials > c->maxtrials ? c->maxtrials : trials;
	while (done < trials) {
		double f = floor_trial(FLOOR_PAIRED), dt = NAN;

		if (isfinite(run_pattern(pat, CALL_WARMUP, c->proc, c->ctx, c->fn, c->args)))
			dt = run_pattern(pat, n, c->proc, c->ctx, c->fn, c->args);
		if (!isfinite(dt))
			die("%s failed: %s", pat_name[pat], veo_last_error());
		c->t[done++] = dt / n;
		if (isfinite(f)) {
			c->ratio[paired] = dt / n / f;
			c->cell_floors[paired++] = f;
			c->floors[c->nfloors++] = f;
		}
		if (done >= 3 && now_ns() - start > c->budget)
			break;
	}
	R.call_ns[pat][k] = median(c->t, (size_t)done);
	R.call_trials[pat][k] = done;
	R.call_ratio[pat][k] = median(c->ratio, (size_t)paired);
	R.call_floor_ns[pat][k] = median(c->cell_floors, (size_t)paired);
}

static void print_calls(long nmax)
{
	printf("time per call of an empty kernel (median of trials):\n");
	printf("  %-8s", "N");
	for (int pat = 0; pat < NPAT; pat++)
		printf(" %20s", pat_name[pat]);
	printf("\n");
	for (unsigned k = 0; k < ncall_n; k++) {
		printf("  %-8ld", call_ns[k]);
		for (int pat = 0; pat < NPAT; pat++)
			printf(" %20s", T(R.call_ns[pat][k]));
		printf("\n");
	}
	printf("round-trip floor, %ld round trips right before each call trial: %s\n"
	       "  (median of %d trials, each after %.0f us of rest for openveo's spinners)\n",
	       R.paired_floor_n, T(R.paired_floor_ns), R.paired_floor_trials, R.quiet_ns / 1e3);
	printf("  per call / round-trip floor at N=%ld, paired trial by trial (median):", nmax);
	for (int pat = 0; pat < NPAT; pat++)
		printf(" %.2fx", R.call_ratio[pat][ncall_n - 1]);
	printf("\n");
}

void bench_calls(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                        uint64_t fn)
{
	long nmax = call_ns[ncall_n - 1];
	/* Each trial costs a floor trial of about half a millisecond, so the
	 * cells of small N, where a trial is a few calls, stop at 301 trials
	 * (1001 before the floors were paired): their medians hardly move. */
	struct call_run c = {
		.proc = proc, .ctx = ctx, .fn = fn, .args = veo_args_alloc(),
		.budget = opt.quick ? 0.3e9 : 1.5e9, .maxtrials = opt.quick ? 201 : 301,
	};
	size_t m = (size_t)c.maxtrials;

	ids = malloc(nmax * sizeof *ids);
	c.t = malloc(m * sizeof *c.t);
	c.ratio = malloc(m * sizeof *c.ratio);
	c.cell_floors = malloc(m * sizeof *c.cell_floors);
	c.floors = malloc(NPAT * ncall_n * m * sizeof *c.floors);
	if (!c.args || !ids || !c.t || !c.ratio || !c.cell_floors || !c.floors)
		die("out of memory");
	/* Warm-up: the worker's context thread, the lazy sync context. */
	for (int pat = 0; pat < NPAT; pat++)
		if (!isfinite(run_pattern(pat, 1000, proc, ctx, fn, c.args)))
			die("call of the empty kernel failed: %s", veo_last_error());

	for (int pat = 0; pat < NPAT; pat++)
		for (unsigned k = 0; k < ncall_n; k++)
			call_cell(&c, pat, k);
	R.paired_floor_n = FLOOR_PAIRED;
	R.paired_floor_trials = (int)c.nfloors;
	R.paired_floor_ns = median(c.floors, c.nfloors);
	R.quiet_ns = floor_quiet_ns();
	veo_args_free(c.args);
	free(ids);
	free(c.t);
	free(c.ratio);
	free(c.cell_floors);
	free(c.floors);
	print_calls(nmax);
}
