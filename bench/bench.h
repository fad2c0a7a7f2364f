/*
 * bench.h: what the parts of veo_bench share: the options, the shape of a
 * run (which N, which sizes), a few small tools (formatting, dying with a
 * message), R, the figures every section fills in and prints, and what
 * each file offers main: a section each, then the goals and the JSON.
 */
#ifndef OPENVEO_BENCH_BENCH_H
#define OPENVEO_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <ve_offload.h>

#include "goal.h"
#include "medium.h"

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* ---- options and the shape of a run ------------------------------------ */

struct bench_options {
	const char *kernels;  /* path of libbench_kernels.so */
	const char *json;     /* where the figures go */
	int quick;
	const char *only;
};
extern struct bench_options opt;

#define NCALL_N 6
extern const long call_ns[NCALL_N];   /* the N of the call cells */
#define NSIZES 15
extern const size_t sizes[NSIZES];    /* the transfer sizes */
#define NCONT 4
extern const int contention_ctxs[NCONT];
#define NMEDIUM 7
extern const double medium_us[NMEDIUM]; /* the D of the medium kernels */

/* How many of the tables above a run uses (-q cuts them). */
extern unsigned ncall_n, nsizes;

/* Where the host thread and openveo's worker run while the calls and the
 * medium kernels are measured: wherever the scheduler puts them; pinned
 * apart (host on CPU 0, every worker thread on CPU 1); pinned to one CPU
 * (all on CPU 0). The floor's child is on CPU 1 when pinned, so the floor
 * stays the cross-CPU round trip. */
enum { PL_FREE, PL_APART, PL_SAME, NPLACE };
extern const char *const place_name[NPLACE];
extern const char *const place_key[NPLACE];

/* ---- small tools ------------------------------------------------------- */

/* "123 ns", "4.56 us", "7.89 ms", "1.23 s" */
const char *fmt_time(double ns, char *buf, size_t len);
/* "8 B", "2 KiB", "256 MiB" */
const char *fmt_size(size_t s, char *buf, size_t len);

#define T(ns) fmt_time((ns), (char[24]){ 0 }, 24)
#define S(sz) fmt_size((sz), (char[24]){ 0 }, 24)

/* Prints "veo_bench: " and the message on stderr, and exits 1. */
_Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The title of a section of the output. */
void section(const char *title);

/* Keeps the compiler from dropping a copy whose result nobody reads. */
static inline void clobber(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static inline double gbps(size_t size, double ns)
{
	return size / ns; /* bytes per ns == GB/s */
}

/* ---- the results ------------------------------------------------------- */

/* AVEO's four call patterns, and the four transfers: names for the output,
 * keys for the JSON. */
enum { PAT_SUBMIT_ALL_WAIT_ALL, PAT_CALL_WAIT, PAT_SUBMIT_ALL_WAIT_LAST,
       PAT_CALL_SYNC, NPAT };
extern const char *const pat_name[NPAT];
extern const char *const pat_key[NPAT];

enum { XF_WRITE, XF_READ, XF_AWRITE, XF_AREAD, NXF };
extern const char *const xf_name[NXF];
extern const char *const xf_key[NXF];

struct cont_point {
	int contexts;
	double calls_per_s;
	double relative; /* to one context */
};

/* The call section's figures in one placement (calls.c). */
struct call_results {
	double ns[NPAT][NCALL_N];        /* per call (median of trials) */
	int trials[NPAT][NCALL_N];
	double ratio[NPAT][NCALL_N];     /* median of per call / paired floor */
	double floor_ns[NPAT][NCALL_N];  /* median of a cell's paired floors */
	/* veo_call_sync / call+wait on a context, the two trials of one
	 * round (median over rounds). */
	double sync_over_wait[NCALL_N];
	/* Pinned to one CPU: per call / the round's futex round trip
	 * (median), and the median of a cell's futex trials; NAN elsewhere. */
	double futex_ratio[NPAT][NCALL_N];
	double futex_ns[NCALL_N];
	double paired_floor_ns;          /* median of every paired floor trial */
	long paired_floor_n;
	int paired_floor_trials;
	double futex_rt_ns;              /* median of every futex trial (one CPU) */
	int futex_rt_trials;
};

/* Every figure of the run: each section fills its part and prints it; the
 * goals and the JSON are made from it at the end. Times are in ns. */
struct bench_results {
	double round_trip_ns;
	double sleep_cpu_ns;             /* one 60 us timed sleep's own CPU time */
	int round_trip_trials;
	long round_trip_n;
	double memcpy_ns[NSIZES];
	struct call_results calls[NPLACE];
	int placed[NPLACE];              /* the placement was measured */
	double quiet_ns;                 /* rest before each floor trial */
	struct medium_point medium[NPLACE][NMEDIUM];
	double medium_seconds;           /* per D and placement */
	double xfer_ns[NXF][NSIZES];     /* per transfer */
	double proc_create_destroy_ns, proc_create_ns, proc_destroy_ns;
	double load_unload_ns;
	int lifecycle_trials;
	double compute_kernel_ns;
	uint64_t compute_iters;
	double contention_s;
	int contention_trials;
	struct cont_point cont_empty[NCONT], cont_compute[NCONT];
	double idle_worker_pct_sched, idle_worker_pct_stat, idle_host_pct;
	double waiter_thread_pct, waiter_worker_pct_sched, waiter_worker_pct_stat;
	struct goals goals;
};
extern struct bench_results R;

/* ---- the sections: each measures, fills its part of R and prints it ---- */

/* placements.c: the calls and the medium kernels in each placement
 * (pinned, measured, unpinned), with the medium kernels' section. `only`
 * is NULL for everything, or "calls" or "medium" for that section alone. */
void bench_placements(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                      uint64_t fn_empty, uint64_t fn_compute, const char *only);

/* calls.c: the four call patterns of the empty kernel `fn` into cr, each
 * trial paired with a floor trial (floor_open must have succeeded) and,
 * if ref_cpu >= 0, each round of trials with a futex round trip on that
 * CPU (futex_rt_open must have succeeded). */
void bench_calls(struct call_results *cr, int ref_cpu, struct veo_proc_handle *proc,
                 struct veo_thr_ctxt *ctx, uint64_t fn);

/* transfers.c: the two host buffers of the transfers and of memcpy, as
 * large as the largest size of the run and filled (their pages faulted
 * in), then the transfers on memory from veo_alloc_mem, and memcpy. */
void transfer_buffers_map(void);
void transfer_buffers_unmap(void);
void bench_transfers(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx);

/* lifecycle.c: proc create + destroy, library load + unload. */
void bench_lifecycle(void);

/* contention.c: contexts on one proc, each driven by its own thread, with
 * the kernels `lib_empty` and `lib_compute` of proc. */
void bench_contention(uint64_t lib_empty, uint64_t lib_compute,
                      struct veo_proc_handle *proc);

/* idle.c: percent of a core of an idle proc and of an idle waiting thread. */
void bench_idle(void);

/* ---- at the end: the goals and the JSON, from R ------------------------ */

/* goals.c: judges the goals from R (into R.goals), and prints them. */
void goals_judge(void);
void goals_print(void);

/* results_json.c: R as JSON, in opt.json. */
void results_write_json(void);

#endif
