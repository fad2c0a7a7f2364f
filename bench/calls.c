/*
 * calls.c: call latency of the empty kernel in AVEO's four patterns, for
 * each N of call_ns, every call trial right after a floor trial (floor.c)
 * and judged against it: the machine's speed changes for minutes at a time.
 * The patterns' trials alternate, one of each a round, and when the host
 * and the worker share one CPU each round also times the same-CPU futex
 * round trip, the reference of that placement. placements.c runs it once
 * per placement.
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
	struct call_results *cr;
	int ref_cpu;          /* >= 0: a futex round trip on that CPU each round */
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	uint64_t fn;
	struct veo_args *args;
	double budget;        /* per pattern and N, in ns, after 3 rounds */
	int maxtrials;
	/* a cell's trials, per pattern: per call, per call / floor, floors,
	 * per call / futex round trip */
	double *t[NPAT], *ratio[NPAT], *cell_floors[NPAT], *fratio[NPAT];
	double *sync_wait, *cell_futex; /* per round */
	double *floors, *futex;         /* every floor and futex trial of the section */
	size_t nfloors, nfutex;
};

/*
 * The cells of one N: rounds of one trial of each pattern, each trial
 * right after a floor trial and judged against it, until about 1e5 calls
 * a pattern, at least MIN_CELL_TRIALS rounds, or until the budget is
 * spent. The machine's speed changes for minutes at a time, and a pair's
 * two halves are a millisecond apart; the patterns of one round are a few
 * milliseconds apart, so veo_call_sync is judged against call+wait of the
 * same round. Now and then the speed changes inside a pair; with a few
 * more trials than 3, such a pair does not make the median.
 *
 * When pinned to one CPU (ref_cpu >= 0), each round also times the futex
 * round trip on that CPU, right after the first floor trial (openveo's
 * spinners asleep), and every trial of the round is judged against it too.
 */
#define MIN_CELL_TRIALS 11
static void call_cells(struct call_run *c, unsigned k)
{
	struct call_results *cr = c->cr;
	long n = call_ns[k];
	long trials = 100000 / n; /* about 1e5 calls a cell */
	double start = now_ns();
	int done = 0, paired[NPAT] = { 0 }, fpaired[NPAT] = { 0 }, nfut = 0;

	trials = trials < MIN_CELL_TRIALS ? MIN_CELL_TRIALS
	         : trials > c->maxtrials ? c->maxtrials : trials;
	while (done < trials) {
		double fut = NAN;

		for (int pat = 0; pat < NPAT; pat++) {
			double f = floor_trial(FLOOR_PAIRED), dt = NAN;

			if (pat == 0 && c->ref_cpu >= 0) {
				fut = futex_rt_trial(c->ref_cpu, FUTEX_RT_PAIRED);
				if (isfinite(fut))
					c->cell_futex[nfut++] = c->futex[c->nfutex++] = fut;
			}
			if (isfinite(run_pattern(pat, CALL_WARMUP, c->proc, c->ctx, c->fn, c->args)))
				dt = run_pattern(pat, n, c->proc, c->ctx, c->fn, c->args);
			if (!isfinite(dt))
				die("%s failed: %s", pat_name[pat], veo_last_error());
			c->t[pat][done] = dt / n;
			if (isfinite(f)) {
				c->ratio[pat][paired[pat]] = dt / n / f;
				c->cell_floors[pat][paired[pat]++] = f;
				c->floors[c->nfloors++] = f;
			}
			if (isfinite(fut))
				c->fratio[pat][fpaired[pat]++] = dt / n / fut;
		}
		c->sync_wait[done] = c->t[PAT_CALL_SYNC][done] / c->t[PAT_CALL_WAIT][done];
		done++;
		if (done >= 3 && now_ns() - start > NPAT * c->budget)
			break;
	}
	for (int pat = 0; pat < NPAT; pat++) {
		cr->ns[pat][k] = median(c->t[pat], (size_t)done);
		cr->trials[pat][k] = done;
		cr->ratio[pat][k] = median(c->ratio[pat], (size_t)paired[pat]);
		cr->floor_ns[pat][k] = median(c->cell_floors[pat], (size_t)paired[pat]);
		cr->futex_ratio[pat][k] = median(c->fratio[pat], (size_t)fpaired[pat]);
	}
	cr->sync_over_wait[k] = median(c->sync_wait, (size_t)done);
	cr->futex_ns[k] = median(c->cell_futex, (size_t)nfut);
}

static void print_calls(const struct call_results *cr, int ref)
{
	unsigned last = ncall_n - 1;

	printf("time per call of an empty kernel (median of trials):\n");
	printf("  %-8s", "N");
	for (int pat = 0; pat < NPAT; pat++)
		printf(" %20s", pat_name[pat]);
	printf("  sync/call+wait\n");
	for (unsigned k = 0; k < ncall_n; k++) {
		printf("  %-8ld", call_ns[k]);
		for (int pat = 0; pat < NPAT; pat++)
			printf(" %20s", T(cr->ns[pat][k]));
		printf("  %13.2fx\n", cr->sync_over_wait[k]);
	}
	printf("round-trip floor, %ld round trips right before each call trial: %s\n"
	       "  (median of %d trials, each after %.0f us of rest for openveo's spinners)\n",
	       cr->paired_floor_n, T(cr->paired_floor_ns), cr->paired_floor_trials,
	       R.quiet_ns / 1e3);
	printf("  per call / round-trip floor at N=%ld, paired trial by trial (median):",
	       call_ns[last]);
	for (int pat = 0; pat < NPAT; pat++)
		printf(" %.2fx", cr->ratio[pat][last]);
	printf("\n");
	if (!ref)
		return;
	printf("same-CPU futex round trip, %ld round trips once a round: %s (median of %d)\n",
	       FUTEX_RT_PAIRED, T(cr->futex_rt_ns), cr->futex_rt_trials);
	printf("  per call / futex round trip of the round (median), N = 1 .. %ld:\n",
	       call_ns[last]);
	for (int pat = 0; pat < NPAT; pat++) {
		printf("    %-20s", pat_name[pat]);
		for (unsigned k = 0; k < ncall_n; k++)
			printf(" %6.2fx", cr->futex_ratio[pat][k]);
		printf("\n");
	}
}

void bench_calls(struct call_results *cr, int ref_cpu, struct veo_proc_handle *proc,
                 struct veo_thr_ctxt *ctx, uint64_t fn)
{
	long nmax = call_ns[ncall_n - 1];
	/* Each trial costs a floor trial of about half a millisecond, so the
	 * cells of small N, where a trial is a few calls, stop at 301 trials
	 * (1001 before the floors were paired): their medians hardly move. */
	struct call_run c = {
		.cr = cr, .ref_cpu = ref_cpu,
		.proc = proc, .ctx = ctx, .fn = fn, .args = veo_args_alloc(),
		.budget = opt.quick ? 0.3e9 : 1.5e9, .maxtrials = opt.quick ? 201 : 301,
	};
	size_t m = (size_t)c.maxtrials;
	int ok = c.args != NULL;

	ids = malloc(nmax * sizeof *ids);
	for (int pat = 0; pat < NPAT; pat++) {
		ok &= (c.t[pat] = malloc(m * sizeof *c.t[pat])) != NULL;
		ok &= (c.ratio[pat] = malloc(m * sizeof *c.ratio[pat])) != NULL;
		ok &= (c.cell_floors[pat] = malloc(m * sizeof *c.cell_floors[pat])) != NULL;
		ok &= (c.fratio[pat] = malloc(m * sizeof *c.fratio[pat])) != NULL;
	}
	c.sync_wait = malloc(m * sizeof *c.sync_wait);
	c.cell_futex = malloc(m * sizeof *c.cell_futex);
	c.floors = malloc(NPAT * ncall_n * m * sizeof *c.floors);
	c.futex = malloc(ncall_n * m * sizeof *c.futex);
	if (!ok || !ids || !c.sync_wait || !c.cell_futex || !c.floors || !c.futex)
		die("out of memory");
	/* Warm-up: the worker's context thread, the lazy sync context. */
	for (int pat = 0; pat < NPAT; pat++)
		if (!isfinite(run_pattern(pat, 1000, proc, ctx, fn, c.args)))
			die("call of the empty kernel failed: %s", veo_last_error());

	for (unsigned k = 0; k < ncall_n; k++)
		call_cells(&c, k);
	cr->paired_floor_n = FLOOR_PAIRED;
	cr->paired_floor_trials = (int)c.nfloors;
	cr->paired_floor_ns = median(c.floors, c.nfloors);
	cr->futex_rt_trials = (int)c.nfutex;
	cr->futex_rt_ns = median(c.futex, c.nfutex);
	R.quiet_ns = floor_quiet_ns();
	veo_args_free(c.args);
	free(ids);
	for (int pat = 0; pat < NPAT; pat++) {
		free(c.t[pat]);
		free(c.ratio[pat]);
		free(c.cell_floors[pat]);
		free(c.fratio[pat]);
	}
	free(c.sync_wait);
	free(c.cell_futex);
	free(c.floors);
	free(c.futex);
	print_calls(cr, ref_cpu >= 0);
}
