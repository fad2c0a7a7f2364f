/*
 * medium.c: the offload tax on medium kernels (medium.h). Trials run the
 * compute kernel N times in-process and N times through openveo
 * (veo_call_async + veo_call_wait_result, one call at a time) by turns,
 * each openveo trial judged against the in-process trials on either side
 * of it, and time the host thread's CPU (CLOCK_THREAD_CPUTIME_ID:
 * getrusage(RUSAGE_THREAD) counts in scheduler ticks here and reported
 * more CPU than wall time) over the openveo trial. Every figure is a
 * median over the openveo trials.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "medium.h"

#include <math.h>
#include <stdint.h>
#include <time.h>

#include <ve_offload.h>

#include "floor.h"

static double thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* N calls of compute in-process, on r->in_cpu: ns per call, after the
 * rest. */
static double in_process_trial(const struct medium_run *r, const struct medium_point *p)
{
	cpu_set_t was;
	int moved = r->in_cpu >= 0 && pin_self(r->in_cpu, &was) == 0;
	double t0, ns;

	sleep_ns(r->rest_ns);
	t0 = now_ns();
	for (long i = 0; i < p->n; i++) {
		volatile uint64_t x = r->compute(p->iters);

		(void)x;
	}
	ns = (now_ns() - t0) / p->n;
	if (moved)
		unpin_self(&was);
	return ns;
}

int medium_measure(const struct medium_run *r, double target_ns, struct medium_point *p)
{
	double in[MEDIUM_MAX_TRIALS + 1], off[MEDIUM_MAX_TRIALS], cpu[MEDIUM_MAX_TRIALS];
	double tax[MEDIUM_MAX_TRIALS], ratio[MEDIUM_MAX_TRIALS], frac[MEDIUM_MAX_TRIALS];
	double ref[MEDIUM_MAX_TRIALS], tax_ref[MEDIUM_MAX_TRIALS], rt[MEDIUM_MAX_TRIALS];
	double end;
	int k = 0, nref = 0;

	p->target_ns = target_ns;
	p->iters = compute_iters(r->compute, target_ns, NULL);
	p->n = (long)(20e6 / target_ns) + 1; /* about 20 ms of kernel a trial */
	veo_args_set_u64(r->args, 0, p->iters);
	end = now_ns() + r->seconds * 1e9;
	/*
	 * in[0] off[0] in[1] off[1] ... in[k]: each openveo trial between two
	 * in-process ones, and judged against their mean, so that a machine
	 * slowing down or speeding up steadily over the three trials does not
	 * show as a tax (at D = 3 ms, 0.1% of drift is 3 us, more than the
	 * tax on one CPU). The reference trial, if any, runs right after the
	 * rest before the openveo trial.
	 */
	in[0] = in_process_trial(r, p);
	while (k < MEDIUM_MAX_TRIALS && (k < r->min_trials || now_ns() < end)) {
		double t0, c0;
		uint64_t res;

		rt[k] = NAN;
		if (r->ref_trial) {
			sleep_ns(r->rest_ns);
			rt[k] = r->ref_trial();
		}
		c0 = thread_cpu_ns();
		t0 = now_ns();
		for (long i = 0; i < p->n; i++)
			if (veo_call_wait_result(r->ctx, veo_call_async(r->ctx, r->fn, r->args), &res) !=
			    VEO_COMMAND_OK)
				return -1;
		off[k] = (now_ns() - t0) / p->n;
		cpu[k] = (thread_cpu_ns() - c0) / p->n;
		in[k + 1] = in_process_trial(r, p);
		k++;
	}
	for (int i = 0; i < k; i++) {
		double base = (in[i] + in[i + 1]) / 2;

		tax[i] = off[i] - base;
		ratio[i] = off[i] / base;
		frac[i] = cpu[i] / base;
		if (isfinite(rt[i])) {
			ref[nref] = rt[i];
			tax_ref[nref++] = tax[i] / rt[i];
		}
	}
	p->trials = k;
	p->in_ns = median(in, (size_t)k + 1);
	p->off_ns = median(off, (size_t)k);
	p->tax_ns = median(tax, (size_t)k);
	p->ratio = median(ratio, (size_t)k);
	p->cpu_ns = median(cpu, (size_t)k);
	p->cpu_frac = median(frac, (size_t)k);
	p->ref_ns = median(ref, (size_t)nref);
	p->tax_over_ref = median(tax_ref, (size_t)nref);
	return 0;
}
