/*
 * medium.c: the offload tax on medium kernels (medium.h). A pair of trials
 * runs the compute kernel N times in-process, then N times through openveo
 * (veo_call_async + veo_call_wait_result, one call at a time), and times
 * the host thread's CPU (CLOCK_THREAD_CPUTIME_ID: getrusage(RUSAGE_THREAD)
 * counts in scheduler ticks here and reported more CPU than wall time)
 * over the openveo trial. The pairs repeat, and every figure is a median.
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

int medium_measure(const struct medium_run *r, double target_ns, struct medium_point *p)
{
	double in[MEDIUM_MAX_TRIALS], off[MEDIUM_MAX_TRIALS], cpu[MEDIUM_MAX_TRIALS];
	double tax[MEDIUM_MAX_TRIALS], ratio[MEDIUM_MAX_TRIALS], frac[MEDIUM_MAX_TRIALS];
	double ref[MEDIUM_MAX_TRIALS], tax_ref[MEDIUM_MAX_TRIALS];
	double end;
	int k = 0, nref = 0;

	p->target_ns = target_ns;
	p->iters = compute_iters(r->compute, target_ns, NULL);
	p->n = (long)(20e6 / target_ns) + 1; /* about 20 ms of kernel a trial */
	veo_args_set_u64(r->args, 0, p->iters);
	end = now_ns() + r->seconds * 1e9;
	while (k < MEDIUM_MAX_TRIALS && (k < r->min_trials || now_ns() < end)) {
		double t0, c0, rt = NAN;
		uint64_t res;

		sleep_ns(r->rest_ns);
		if (r->ref_trial)
			rt = r->ref_trial();
		t0 = now_ns();
		for (long i = 0; i < p->n; i++) {
			volatile uint64_t x = r->compute(p->iters);

			(void)x;
		}
		in[k] = (now_ns() - t0) / p->n;
		c0 = thread_cpu_ns();
		t0 = now_ns();
		for (long i = 0; i < p->n; i++)
			if (veo_call_wait_result(r->ctx, veo_call_async(r->ctx, r->fn, r->args), &res) !=
			    VEO_COMMAND_OK)
				return -1;
		off[k] = (now_ns() - t0) / p->n;
		cpu[k] = (thread_cpu_ns() - c0) / p->n;
		tax[k] = off[k] - in[k];
		ratio[k] = off[k] / in[k];
		frac[k] = cpu[k] / in[k];
		if (isfinite(rt)) {
			ref[nref] = rt;
			tax_ref[nref++] = tax[k] / rt;
		}
		k++;
	}
	p->trials = k;
	p->in_ns = median(in, (size_t)k);
	p->off_ns = median(off, (size_t)k);
	p->tax_ns = median(tax, (size_t)k);
	p->ratio = median(ratio, (size_t)k);
	p->cpu_ns = median(cpu, (size_t)k);
	p->cpu_frac = median(frac, (size_t)k);
	p->ref_ns = median(ref, (size_t)nref);
	p->tax_over_ref = median(tax_ref, (size_t)nref);
	return 0;
}
