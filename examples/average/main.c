/*
 * main.c: the host side of the average example. It starts a VE process,
 * loads the kernel library (libaverage.so, from average.c), and computes
 * the mean of a vector twice with `double average(double *a, int n)`:
 *
 *  1. passing the vector "on the stack": veo_args_set_stack copies it into
 *     VE memory for the call;
 *  2. copying it into VE memory first (veo_alloc_mem + veo_write_mem) and
 *     passing its VE address, as one does for data used by many calls.
 *
 * Both results are compared with the mean computed here.
 *
 *     cc -o average main.c $(pkg-config --cflags --libs veo)
 *     ./average ./libaverage.so
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ve_offload.h>

#define N 100000

static double abs_diff(double a, double b)
{
	return a > b ? a - b : b - a;
}

/* Runs average(arg0, n) and returns its double result. */
static int call_average(struct veo_thr_ctxt *ctx, uint64_t fn, struct veo_args *args,
                        double *out)
{
	uint64_t id = veo_call_async(ctx, fn, args);
	if (id == VEO_REQUEST_ID_INVALID) {
		fprintf(stderr, "veo_call_async failed: %s\n", veo_last_error());
		return -1;
	}
	uint64_t result;
	int rc = veo_call_wait_result(ctx, id, &result);
	if (rc != VEO_COMMAND_OK) {
		fprintf(stderr, "average() did not complete (%d): %s\n", rc, veo_last_error());
		return -1;
	}
	/* The result word holds the double's bit pattern. */
	memcpy(out, &result, sizeof *out);
	return 0;
}

int main(int argc, char **argv)
{
	const char *libpath = argc > 1 ? argv[1] : "./libaverage.so";
	struct veo_thr_ctxt *ctx = NULL;
	struct veo_args *args = NULL;
	uint64_t ve_v = 0;
	double stack_avg = 0, mem_avg = 0;
	int status = 1;

	double *v = malloc(N * sizeof *v);
	if (!v)
		return 1;
	double sum = 0;
	for (int i = 0; i < N; i++) {
		v[i] = 0.25 * (i % 13) + 1e-5 * i;
		sum += v[i];
	}
	double host_avg = sum / N;

	/* -1: the node named by VE_NODE_NUMBER, else node 0. */
	struct veo_proc_handle *proc = veo_proc_create(-1);
	if (!proc) {
		fprintf(stderr, "veo_proc_create failed: %s\n", veo_last_error());
		free(v);
		return 1;
	}
	uint64_t lib = veo_load_library(proc, libpath);
	if (!lib) {
		fprintf(stderr, "cannot load %s: %s\n", libpath, veo_last_error());
		goto out_proc;
	}
	uint64_t fn = veo_get_sym(proc, lib, "average");
	if (!fn) {
		fprintf(stderr, "average not found in %s\n", libpath);
		goto out_proc;
	}
	ctx = veo_context_open(proc);
	if (!ctx) {
		fprintf(stderr, "veo_context_open failed: %s\n", veo_last_error());
		goto out_proc;
	}
	args = veo_args_alloc();
	if (!args)
		goto out_ctx;

	/* 1. The vector as a stack argument (copied in for the call). */
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)v, N * sizeof *v);
	veo_args_set_i32(args, 1, N);
#ifdef VEO_HAVE_RESULT_TYPE
	/* openveo: say that the kernel returns a double. (On a real VE every
	 * result comes back in one register and this call does not exist.) */
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
#endif
	if (call_average(ctx, fn, args, &stack_avg) != 0)
		goto out_args;

	/* 2. The vector in VE memory, passed by its address. */
	if (veo_alloc_mem(proc, &ve_v, N * sizeof *v) != 0) {
		fprintf(stderr, "veo_alloc_mem failed: %s\n", veo_last_error());
		goto out_args;
	}
	if (veo_write_mem(proc, ve_v, v, N * sizeof *v) != 0) {
		fprintf(stderr, "veo_write_mem failed: %s\n", veo_last_error());
		goto out_mem;
	}
	veo_args_clear(args);
	veo_args_set_u64(args, 0, ve_v);
	veo_args_set_i32(args, 1, N);
#ifdef VEO_HAVE_RESULT_TYPE
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
#endif
	if (call_average(ctx, fn, args, &mem_avg) != 0)
		goto out_mem;

	printf("average on the VE, vector on the stack: %.15f\n", stack_avg);
	printf("average on the VE, vector in VE memory: %.15f\n", mem_avg);
	printf("average on the host:                    %.15f\n", host_avg);
	if (abs_diff(stack_avg, host_avg) > 1e-12 || abs_diff(mem_avg, host_avg) > 1e-12)
		fprintf(stderr, "the averages differ\n");
	else
		status = 0;

out_mem:
	veo_free_mem(proc, ve_v);
out_args:
	veo_args_free(args);
out_ctx:
	veo_context_close(ctx);
out_proc:
	veo_proc_destroy(proc);
	free(v);
	return status;
}
