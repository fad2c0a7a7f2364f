/*
 * call_sync.c: veo_call_sync calls a kernel and waits for it, without any
 * context opened by the caller; it is usable from several threads and
 * beside contexts that are busy.
 */
#include <pthread.h>

#include "testlib.h"

#define NTHREADS 3
#define NCALLS 200

static struct veo_proc_handle *proc;
static uint64_t mix;

static void *sync_caller(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg;
	long bad = 0;
	struct veo_args *args = veo_args_alloc();
	for (uint64_t i = 0; i < NCALLS && args; i++) {
		uint64_t r = 0;
		veo_args_set_u64(args, 0, t);
		veo_args_set_u64(args, 1, i);
		if (veo_call_sync(proc, mix, args, &r) != VEO_COMMAND_OK ||
		    r != t * 1000003u + i)
			bad++;
	}
	veo_args_free(args);
	return (void *)bad;
}

int main(void)
{
	test_init("call_sync");
	proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();
	uint64_t r = 0;

	/* No context is open. */
	CHECK_EQ_I64(veo_num_contexts(proc), 0);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "empty"), args, &r),
	             VEO_COMMAND_OK);
	CHECK_EQ_U64(r, TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_num_contexts(proc), 0);

	veo_args_set_i8(args, 0, -99);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "echo_i8"), args, &r),
	             VEO_COMMAND_OK);
	CHECK_EQ_I64((int64_t)r, -99);

	/* Several host threads calling at once. */
	mix = test_sym(proc, lib, "mix_u64");
	pthread_t th[NTHREADS];
	for (uintptr_t t = 0; t < NTHREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, sync_caller, (void *)(t + 1)) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *bad;
		pthread_join(th[t], &bad);
		CHECKF(bad == NULL, "thread %d: %ld calls failed or returned a wrong result",
		       t, (long)(intptr_t)bad);
	}

	/* A context busy with a long kernel does not hold veo_call_sync up. */
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t id = test_submit1(ctx, test_sym(proc, lib, "sleep_us"), 2000000);
	double t0 = test_now();
	veo_args_clear(args);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "empty"), args, &r),
	             VEO_COMMAND_OK);
	double dt = test_now() - t0;
	CHECKF(dt < 1.5, "veo_call_sync took %.3f s while another context slept 2 s", dt);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);

	CHECK_EQ_I64(veo_context_close(ctx), 0);

	/* Address 0 is not a kernel (last: it might kill the worker). */
	veo_set_error_print(0);
	CHECK(veo_call_sync(proc, 0, args, &r) != VEO_COMMAND_OK);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
