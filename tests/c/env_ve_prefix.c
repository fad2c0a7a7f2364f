/*
 * env_ve_prefix.c: environment variables named VE_X in the host reach the
 * worker as X (as VEOS does for VE programs), read when the proc is
 * created: VE_OMP_NUM_THREADS=4 gives OpenMP kernels 4 threads.
 */
#include <sched.h>

#include "testlib.h"

/* The worker's value of `name`, via env_copy(); NULL if unset. */
static const char *worker_getenv(struct veo_thr_ctxt *ctx, uint64_t env_copy,
                                 const char *name)
{
	static char value[256];
	struct veo_args *args = test_args();
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)name, strlen(name) + 1);
	veo_args_set_stack(args, VEO_INTENT_OUT, 1, value, sizeof value);
	veo_args_set_i64(args, 2, sizeof value);
	int64_t len = (int64_t)test_call(ctx, env_copy, args);
	veo_args_free(args);
	return len < 0 ? NULL : value;
}

/* A worker started with VE_OMP_NUM_THREADS=ve_threads (unset if 0) runs
 * parallel regions of `want` threads, and runs them right. */
static void check_omp(int ve_threads, int want)
{
	char v[16];

	snprintf(v, sizeof v, "%d", ve_threads);
	if (ve_threads > 0)
		setenv("VE_OMP_NUM_THREADS", v, 1);
	else
		unsetenv("VE_OMP_NUM_THREADS");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_OMP);
	struct veo_args *args = test_args();
	veo_args_set_result_type(args, VEO_RESULT_I32);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "omp_max_threads"), args),
	             want);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "omp_team_size"), args),
	             want);
	veo_args_clear(args);
	veo_args_set_i64(args, 0, 100000);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "omp_sum_to"), args),
	             (int64_t)100000 * 99999 / 2);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

/* Without VE_OMP_NUM_THREADS, the host's OMP_NUM_THREADS (its own teams'
 * size) stays on the host: the worker's runtime uses a thread per CPU it
 * may run on. */
static void check_omp_default(void)
{
	cpu_set_t cpus;

	CHECK_EQ_I64(sched_getaffinity(0, sizeof cpus, &cpus), 0);
	setenv("OMP_NUM_THREADS", CPU_COUNT(&cpus) == 3 ? "5" : "3", 1);
	check_omp(0, CPU_COUNT(&cpus));
	unsetenv("OMP_NUM_THREADS");
}

int main(void)
{
	test_init("env_ve_prefix");
	/* Only the VE_ variable decides (the host's own must not interfere). */
	unsetenv("OMP_NUM_THREADS");
	unsetenv("OPENVEO_TEST_VALUE");
	setenv("VE_OPENVEO_TEST_VALUE", "hello from the host", 1);

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t env_copy = test_sym(proc, lib, "env_copy");

	const char *v = worker_getenv(ctx, env_copy, "OPENVEO_TEST_VALUE");
	CHECKF(v != NULL && strcmp(v, "hello from the host") == 0,
	       "OPENVEO_TEST_VALUE in the worker is \"%s\", want \"hello from the host\"",
	       v ? v : "(unset)");
	CHECK(worker_getenv(ctx, env_copy, "OPENVEO_NOT_SET_ANYWHERE") == NULL);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);

	/* Read at creation: a new proc sees a new value. */
	setenv("VE_OPENVEO_TEST_VALUE", "second", 1);
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);
	v = worker_getenv(ctx, test_sym(proc, lib, "env_copy"), "OPENVEO_TEST_VALUE");
	CHECK(v != NULL && strcmp(v, "second") == 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);

	if (!kernel_exists(TK_LIB_OMP)) {
		fprintf(stderr, "%s not built (no OpenMP): VE_OMP_NUM_THREADS not checked\n",
		        TK_LIB_OMP);
		if (test_failures)
			return test_done();
		TEST_SKIP("no OpenMP kernel");
	}
	check_omp(4, 4);
	check_omp(3, 3);
	check_omp_default();
	return test_done();
}
