/*
 * medium.h: the offload tax on a medium kernel (medium.c): a compute
 * kernel of D us called N times in a row through openveo (call + wait) and,
 * in interleaved trials, in-process, with the host thread's CPU time while
 * it waits. Shared by veo_bench (its medium-kernel figures, in every
 * placement) and veo_medium (the same on its own, for tuning).
 */
#ifndef OPENVEO_BENCH_MEDIUM_H
#define OPENVEO_BENCH_MEDIUM_H

#include <stdint.h>

#include <ve_offload.h>

/* What a measurement needs: the kernel on both sides and the limits. */
struct medium_run {
	struct veo_thr_ctxt *ctx;
	uint64_t fn;                     /* compute, in the worker */
	uint64_t (*compute)(uint64_t);   /* compute, in this process */
	struct veo_args *args;           /* scratch, set here */
	double seconds;                  /* per D, after min_trials */
	int min_trials;
	double rest_ns;                  /* before each trial: openveo's spinners sleep */
	/* The CPU the in-process trials run on: the worker's, where the
	 * kernel runs through openveo, when it is pinned (the two CPUs of
	 * these machines differ by up to 15% in speed for minutes at a time,
	 * which is not a tax); -1: wherever the caller runs. */
	int in_cpu;
	/* If not NULL, a reference trial run after a rest right before each
	 * openveo trial (its ns), whose tax is then judged against it. */
	double (*ref_trial)(void);
};

/* The figures of one D. A "pair" is an openveo trial and the mean of the
 * in-process trials just before and just after it; ratios are medians of
 * the pairs' ratios: the trials of a pair are milliseconds apart, so all
 * three see the same machine. */
struct medium_point {
	double target_ns;  /* D */
	uint64_t iters;    /* of compute for D, calibrated in this process */
	long n;            /* calls per trial (about 20 ms of kernel) */
	int trials;        /* pairs */
	double in_ns;      /* in-process, per call (median of trials + 1) */
	double off_ns;     /* through openveo, per call (median) */
	double tax_ns;     /* openveo - in-process, per call (median of pairs) */
	double ratio;      /* openveo / in-process (median of pairs) */
	double cpu_ns;     /* host thread's CPU per call while it waited (median) */
	double cpu_frac;   /* that / the in-process time per call (median of pairs) */
	double ref_ns;     /* the paired reference trials (median), NAN without */
	double tax_over_ref; /* tax / reference (median of pairs), NAN without */
};

#define MEDIUM_MAX_TRIALS 200

/* Calibrates compute for target_ns and measures it, trial pairs until
 * r->seconds have passed (at least r->min_trials, at most
 * MEDIUM_MAX_TRIALS). 0, or -1 when a call failed (veo_last_error says
 * why). */
int medium_measure(const struct medium_run *r, double target_ns, struct medium_point *p);

#endif
