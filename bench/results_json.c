/*
 * results_json.c: every figure of R written to opt.json: the machine, the
 * floors, one part per section, and the goals. plot.py and summary.py read
 * these keys by name: a key renamed here is renamed there too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"
#include "json.h"

/* The "calls" array of one placement: AVEO's four patterns, each N. */
static void write_calls(struct json *j, const struct call_results *cr)
{
	json_array(j, "calls");
	for (int pat = 0; pat < NPAT; pat++) {
		json_object(j, NULL);
		json_int(j, "pattern", pat + 1);
		json_str(j, "key", pat_key[pat]);
		json_str(j, "name", pat_name[pat]);
		json_array(j, "points");
		for (unsigned k = 0; k < ncall_n; k++) {
			json_object(j, NULL);
			json_int(j, "n", call_ns[k]);
			json_num(j, "per_call_ns", cr->ns[pat][k]);
			json_int(j, "trials", cr->trials[pat][k]);
			json_num(j, "ratio_to_floor", cr->ratio[pat][k]);
			json_num(j, "floor_ns", cr->floor_ns[pat][k]);
			json_num(j, "ratio_to_futex_round_trip", cr->futex_ratio[pat][k]);
			json_end(j);
		}
		json_end(j);
		json_end(j);
	}
	json_end(j);
}

void results_write_json(void)
{
	struct json jj, *j = &jj;
	FILE *f = json_document(j, opt.json, "veo_bench", opt.quick);

	if (!f)
		return;

	json_object(j, "floors");
	json_num(j, "round_trip_ns", R.round_trip_ns);
	json_num(j, "sleep_cpu_ns", R.sleep_cpu_ns);
	json_int(j, "round_trip_n", R.round_trip_n);
	json_int(j, "round_trip_trials", R.round_trip_trials);
	json_num(j, "round_trip_paired_ns", R.calls[PL_FREE].paired_floor_ns);
	json_int(j, "round_trip_paired_n", R.calls[PL_FREE].paired_floor_n);
	json_int(j, "round_trip_paired_trials", R.calls[PL_FREE].paired_floor_trials);
	json_num(j, "futex_round_trip_same_cpu_ns", R.calls[PL_SAME].futex_rt_ns);
	json_num(j, "rest_before_trial_ns", R.quiet_ns);
	json_array(j, "memcpy");
	for (unsigned i = 0; i < nsizes; i++) {
		json_object(j, NULL);
		json_int(j, "size", (long long)sizes[i]);
		json_num(j, "ns", R.memcpy_ns[i]);
		json_num(j, "gbps", gbps(sizes[i], R.memcpy_ns[i]));
		json_end(j);
	}
	json_end(j);
	json_end(j);

	/* The unpinned calls at the top level, as before placements were
	 * measured; every placement's calls and medium kernels below. */
	write_calls(j, &R.calls[PL_FREE]);

	json_array(j, "placements");
	for (int pl = 0; pl < NPLACE; pl++) {
		const struct call_results *cr = &R.calls[pl];

		json_object(j, NULL);
		json_str(j, "key", place_key[pl]);
		json_str(j, "name", place_name[pl]);
		json_num(j, "round_trip_paired_ns", cr->paired_floor_ns);
		json_int(j, "round_trip_paired_trials", cr->paired_floor_trials);
		json_num(j, "futex_round_trip_ns", cr->futex_rt_ns);
		json_int(j, "futex_round_trip_n", FUTEX_RT_PAIRED);
		json_int(j, "futex_round_trip_trials", cr->futex_rt_trials);
		write_calls(j, cr);
		json_array(j, "sync_over_call_wait");
		for (unsigned k = 0; k < ncall_n; k++) {
			json_object(j, NULL);
			json_int(j, "n", call_ns[k]);
			json_num(j, "ratio", cr->sync_over_wait[k]);
			json_end(j);
		}
		json_end(j);
		json_num(j, "medium_seconds_per_d", R.medium_seconds);
		json_array(j, "medium");
		for (unsigned d = 0; d < NMEDIUM; d++) {
			const struct medium_point *m = &R.medium[pl][d];

			json_object(j, NULL);
			json_num(j, "d_us", medium_us[d]);
			json_int(j, "compute_iters", (long long)m->iters);
			json_int(j, "n", m->n);
			json_int(j, "trials", m->trials);
			json_num(j, "in_process_ns", m->in_ns);
			json_num(j, "openveo_ns", m->off_ns);
			json_num(j, "tax_ns", m->tax_ns);
			json_num(j, "ratio", m->ratio);
			json_num(j, "host_cpu_ns", m->cpu_ns);
			json_num(j, "host_cpu_fraction", m->cpu_frac);
			json_num(j, "futex_round_trip_ns", m->ref_ns);
			json_num(j, "tax_over_futex_round_trip", m->tax_over_ref);
			json_end(j);
		}
		json_end(j);
		json_end(j);
	}
	json_end(j);

	json_array(j, "transfers");
	for (int xf = 0; xf < NXF; xf++) {
		json_object(j, NULL);
		json_str(j, "key", xf_key[xf]);
		json_str(j, "name", xf_name[xf]);
		json_array(j, "points");
		for (unsigned i = 0; i < nsizes; i++) {
			json_object(j, NULL);
			json_int(j, "size", (long long)sizes[i]);
			json_num(j, "ns", R.xfer_ns[xf][i]);
			json_num(j, "gbps", gbps(sizes[i], R.xfer_ns[xf][i]));
			json_num(j, "ratio_to_memcpy", R.memcpy_ns[i] / R.xfer_ns[xf][i]);
			json_end(j);
		}
		json_end(j);
		json_end(j);
	}
	json_end(j);

	json_object(j, "lifecycle");
	json_num(j, "proc_create_destroy_ns", R.proc_create_destroy_ns);
	json_num(j, "proc_create_ns", R.proc_create_ns);
	json_num(j, "proc_destroy_ns", R.proc_destroy_ns);
	json_num(j, "load_unload_library_ns", R.load_unload_ns);
	json_int(j, "trials", R.lifecycle_trials);
	json_end(j);

	json_object(j, "contention");
	json_num(j, "seconds_per_trial", R.contention_s);
	json_int(j, "trials", R.contention_trials);
	json_int(j, "compute_iters", (long long)R.compute_iters);
	json_num(j, "compute_kernel_ns", R.compute_kernel_ns);
	for (int kind = 0; kind < 2; kind++) {
		struct cont_point *c = kind ? R.cont_compute : R.cont_empty;

		json_array(j, kind ? "compute" : "empty");
		for (unsigned i = 0; i < NCONT; i++) {
			json_object(j, NULL);
			json_int(j, "contexts", c[i].contexts);
			json_num(j, "calls_per_s", c[i].calls_per_s);
			json_num(j, "relative", c[i].relative);
			json_end(j);
		}
		json_end(j);
	}
	json_end(j);

	json_object(j, "idle");
	json_num(j, "proc_worker_pct", R.idle_worker_pct_sched);
	json_num(j, "proc_worker_pct_stat_ticks", R.idle_worker_pct_stat);
	json_num(j, "proc_host_pct", R.idle_host_pct);
	json_num(j, "waiter_thread_pct", R.waiter_thread_pct);
	json_num(j, "waiter_worker_pct", R.waiter_worker_pct_sched);
	json_num(j, "waiter_worker_pct_stat_ticks", R.waiter_worker_pct_stat);
	json_end(j);

	goals_json(j, &R.goals);
	json_end(j);
	fclose(f);
	printf("figures written to %s\n", opt.json);
}
