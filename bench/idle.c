/*
 * idle.c: the CPU openveo costs while nothing happens: an idle proc (its
 * worker from /proc/<pid>/task/<tid>/schedstat, and the host process), and
 * a host thread blocked in veo_call_wait_result on a kernel that sleeps.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

/* CPU time of every thread of pid, in ns, from /proc/<pid>/task/<tid>/schedstat
 * (nanosecond resolution); NAN if unreadable. */
static double proc_cpu_sched_ns(pid_t pid)
{
	char path[64];
	struct dirent *e;
	double sum = 0;
	DIR *dir;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if (!(dir = opendir(path)))
		return NAN;
	while ((e = readdir(dir))) {
		char p2[512];
		unsigned long long run;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof p2, "%s/%s/schedstat", path, e->d_name);
		if (!(f = fopen(p2, "r")))
			continue;
		if (fscanf(f, "%llu", &run) == 1)
			sum += (double)run;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/* utime + stime of pid (all threads) from /proc/<pid>/stat, in ns
 * (clock-tick resolution); NAN if unreadable. */
static double proc_cpu_stat_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return NAN;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which is in parentheses: state is
	 * field 3, utime 14, stime 15. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return NAN;
	return (ut + st) * 1e9 / sysconf(_SC_CLK_TCK);
}

static double self_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static double thread_cpu_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		return NAN;
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct waiter {
	struct veo_thr_ctxt *ctx;
	uint64_t id;
	int status;
};

static void *wait_for_result(void *p)
{
	struct waiter *w = p;
	uint64_t r;

	w->status = veo_call_wait_result(w->ctx, w->id, &r);
	return NULL;
}

void bench_idle(void)
{
	const double settle = 100e6, window = 1e9;
	struct veo_proc_handle *proc = veo_proc_create(0);
	struct veo_thr_ctxt *ctx;
	struct veo_args *args;
	struct waiter w;
	pthread_t th;
	clockid_t clk;
	uint64_t hdl, fn_empty, fn_sleep, r;
	double s0, s1, q0, q1, h0, h1, c0, c1;
	pid_t pid;

	if (!proc)
		die("veo_proc_create: %s", veo_last_error());
	hdl = veo_load_library(proc, opt.kernels);
	fn_empty = hdl ? veo_get_sym(proc, hdl, "empty") : 0;
	fn_sleep = hdl ? veo_get_sym(proc, hdl, "sleep_us") : 0;
	ctx = veo_context_open(proc);
	args = veo_args_alloc();
	if (!fn_empty || !fn_sleep || !ctx || !args)
		die("idle set-up: %s", veo_last_error());
	pid = veo_proc_pid(proc);

	/* An idle proc: a context that has just run a call, then nothing. */
	veo_call_wait_result(ctx, veo_call_async(ctx, fn_empty, args), &r);
	sleep_ns(settle);
	s0 = proc_cpu_sched_ns(pid), q0 = proc_cpu_stat_ns(pid), h0 = self_cpu_ns();
	sleep_ns(window);
	s1 = proc_cpu_sched_ns(pid), q1 = proc_cpu_stat_ns(pid), h1 = self_cpu_ns();
	R.idle_worker_pct_sched = (s1 - s0) / window * 100;
	R.idle_worker_pct_stat = (q1 - q0) / window * 100;
	R.idle_host_pct = (h1 - h0) / window * 100;

	/* A host thread blocked in veo_call_wait_result on a kernel that
	 * sleeps longer than settle + window. */
	veo_args_set_u64(args, 0, (uint64_t)((settle + window) / 1e3) + 300000);
	w = (struct waiter){ .ctx = ctx, .id = veo_call_async(ctx, fn_sleep, args) };
	if (w.id == VEO_REQUEST_ID_INVALID || pthread_create(&th, NULL, wait_for_result, &w) != 0)
		die("idle waiter set-up: %s", veo_last_error());
	pthread_getcpuclockid(th, &clk);
	sleep_ns(settle);
	c0 = thread_cpu_ns(clk), s0 = proc_cpu_sched_ns(pid), q0 = proc_cpu_stat_ns(pid);
	sleep_ns(window);
	c1 = thread_cpu_ns(clk), s1 = proc_cpu_sched_ns(pid), q1 = proc_cpu_stat_ns(pid);
	pthread_join(th, NULL);
	if (w.status != VEO_COMMAND_OK)
		die("the sleeping kernel failed: %s", veo_last_error());
	R.waiter_thread_pct = (c1 - c0) / window * 100;
	R.waiter_worker_pct_sched = (s1 - s0) / window * 100;
	R.waiter_worker_pct_stat = (q1 - q0) / window * 100;

	veo_args_free(args);
	veo_proc_destroy(proc);
	printf("idle proc (one context), 1 s measured after 100 ms of idleness:\n");
	printf("  worker %.3f%% of a core (schedstat; %.1f%% from /proc/<pid>/stat ticks), "
	       "host process %.3f%%\n",
	       R.idle_worker_pct_sched, R.idle_worker_pct_stat, R.idle_host_pct);
	printf("host thread blocked in veo_call_wait_result on a kernel sleeping %.1f s:\n",
	       (settle + window) / 1e9 + 0.3);
	printf("  waiting thread %.3f%% of a core; worker %.3f%% (schedstat; %.1f%% stat)\n",
	       R.waiter_thread_pct, R.waiter_worker_pct_sched, R.waiter_worker_pct_stat);
}
