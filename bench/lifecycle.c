/*
 * lifecycle.c: what a proc and a library cost to set up and tear down:
 * veo_proc_create + veo_proc_destroy, each part timed too, and
 * veo_load_library + veo_unload_library of the kernel library.
 */
#include <stdint.h>
#include <stdio.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

void bench_lifecycle(void)
{
	int n = opt.quick ? 5 : 20;
	double cd[64], c[64], d[64], lu[64];
	struct veo_proc_handle *proc;

	for (int i = 0; i < n; i++) {
		double t0 = now_ns(), t1;

		proc = veo_proc_create(0);
		t1 = now_ns();
		if (!proc)
			die("veo_proc_create: %s", veo_last_error());
		veo_proc_destroy(proc);
		d[i] = now_ns() - t1;
		c[i] = t1 - t0;
		cd[i] = c[i] + d[i];
	}
	R.lifecycle_trials = n;
	R.proc_create_destroy_ns = median(cd, n);
	R.proc_create_ns = median(c, n);
	R.proc_destroy_ns = median(d, n);

	proc = veo_proc_create(0);
	if (!proc)
		die("veo_proc_create: %s", veo_last_error());
	for (int i = 0; i < n; i++) {
		double t0 = now_ns();
		uint64_t lib = veo_load_library(proc, opt.kernels);

		if (!lib || veo_unload_library(proc, lib) != 0)
			die("load/unload %s: %s", opt.kernels, veo_last_error());
		lu[i] = now_ns() - t0;
	}
	veo_proc_destroy(proc);
	R.load_unload_ns = median(lu, n);
	printf("proc create + destroy: %s (create %s, destroy %s; median of %d)\n",
	       T(R.proc_create_destroy_ns), T(R.proc_create_ns), T(R.proc_destroy_ns), n);
	printf("load_library + unload_library: %s (median of %d)\n", T(R.load_unload_ns), n);
}
