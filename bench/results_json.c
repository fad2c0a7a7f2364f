/*
 * results_json.c: every figure of R written to opt.json: the machine, the
 * floors, one part per section, and the goals. plot.py and summary.py read
 * these keys by name: a key renamed here is renamed there too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <ve_offload.h>

#include "bench.h"
#include "json.h"

void results_write_json(void)
{
	FILE *f = fopen(opt.json, "w");
	struct json jj, *j = &jj;
	struct utsname u;
	char when[32];
	time_t now = time(NULL);

	if (!f) {
		fprintf(stderr, "veo_bench: cannot write %s: %s\n", opt.json, strerror(errno));
		return;
	}
	json_start(j, f);
	uname(&u);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object(j, NULL);
	json_str(j, "benchmark", "veo_bench");
	json_str(j, "openveo", veo_version_string());
	json_str(j, "date", when);
	json_str(j, "host", u.nodename);
	json_str(j, "kernel", u.release);
	json_int(j, "cpus", sysconf(_SC_NPROCESSORS_ONLN));
	json_int(j, "quick", opt.quick);

	json_object(j, "floors");
	json_num(j, "round_trip_ns", R.round_trip_ns);
	json_int(j, "round_trip_n", R.round_trip_n);
	json_int(j, "round_trip_trials", R.round_trip_trials);
	json_num(j, "round_trip_paired_ns", R.paired_floor_ns);
	json_int(j, "round_trip_paired_n", R.paired_floor_n);
	json_int(j, "round_trip_paired_trials", R.paired_floor_trials);
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
			json_num(j, "per_call_ns", R.call_ns[pat][k]);
			json_int(j, "trials", R.call_trials[pat][k]);
			json_num(j, "ratio_to_floor", R.call_ratio[pat][k]);
			json_num(j, "floor_ns", R.call_floor_ns[pat][k]);
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

	json_array(j, "goals");
	for (int i = 0; i < R.ngoals; i++) {
		json_object(j, NULL);
		json_str(j, "name", R.goals[i].name);
		json_num(j, "value", R.goals[i].value);
		json_str(j, "unit", R.goals[i].unit);
		json_str(j, "op", R.goals[i].op);
		json_num(j, "limit", R.goals[i].limit);
		json_bool(j, "pass", R.goals[i].pass);
		json_end(j);
	}
	json_end(j);
	json_end(j);
	fclose(f);
	printf("figures written to %s\n", opt.json);
}
