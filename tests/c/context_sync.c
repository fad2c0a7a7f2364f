/*
 * context_sync.c: veo_context_sync returns when everything queued so far
 * has finished; the results are still there to collect afterwards.
 * veo_context_sync_timeout (an openveo extension) gives up after the time
 * asked for, collecting nothing, and syncs like it when there is time.
 */
#include "testlib.h"

#define N 5

int main(void)
{
	test_init("context_sync");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t inc = test_sym(proc, lib, "inc_counter");
	struct veo_args *none = test_args();
	uint64_t r = 0;

	/* N x (sleep 0.1 s, increment the counter). */
	uint64_t sleeps[N], incs[N];
	double t0 = test_now();
	for (int i = 0; i < N; i++) {
		sleeps[i] = test_submit1(ctx, sleep_us, 100000);
		incs[i] = veo_call_async(ctx, inc, none);
		REQUIRE(incs[i] != VEO_REQUEST_ID_INVALID);
	}
	veo_context_sync(ctx);
	double dt = test_now() - t0;
	CHECKF(dt >= 0.45, "veo_context_sync returned after %.3f s, before %d x 0.1 s "
	       "of kernels were done", dt, N);

	/* Everything is done: peeks succeed at once, in any order. */
	CHECK_EQ_I64(test_read_int_global(proc, lib, "counter"), TK_COUNTER_INIT + N);
	for (int i = N - 1; i >= 0; i--) {
		CHECK_EQ_I64(veo_call_peek_result(ctx, incs[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_I64((int)r, TK_COUNTER_INIT + 1 + i);
		CHECK_EQ_I64(veo_call_peek_result(ctx, sleeps[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, 100000);
	}

	/* Sync with nothing queued returns at once. */
	t0 = test_now();
	veo_context_sync(ctx);
	CHECK(test_now() - t0 < 2);

	/* Sync does not wait for other contexts. */
	struct veo_thr_ctxt *other = test_ctx_open(proc);
	uint64_t long_id = test_submit1(other, sleep_us, 2000000);
	uint64_t id = test_submit1(ctx, sleep_us, 1000);
	t0 = test_now();
	veo_context_sync(ctx);
	dt = test_now() - t0;
	CHECKF(dt < 1.5, "veo_context_sync waited %.3f s for another context", dt);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(other, long_id, &r), VEO_COMMAND_OK);

	/* The time-out form: 1 after about the time asked for, nothing
	 * collected; 0 with nothing pending, or when the kernels are done. */
	id = test_submit1(ctx, sleep_us, 1000000);
	t0 = test_now();
	CHECK_EQ_I64(veo_context_sync_timeout(ctx, 100000), 1);
	dt = test_now() - t0;
	CHECKF(dt >= 0.09 && dt < 0.9, "a 0.1 s sync time-out returned after %.3f s", dt);
	CHECK_EQ_I64(veo_context_sync_timeout(ctx, 0), 1);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_UNFINISHED);
	CHECK_EQ_I64(veo_context_sync_timeout(ctx, 10000000), 0);
	CHECKF(test_now() - t0 >= 0.95, "synced after %.3f s, before the 1 s kernel ended",
	       test_now() - t0);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1000000);
	CHECK_EQ_I64(veo_context_sync_timeout(ctx, 0), 0);
	id = test_submit1(ctx, sleep_us, 1000);
	CHECK_EQ_I64(veo_context_sync_timeout(ctx, -1), 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);

	veo_args_free(none);
	CHECK_EQ_I64(veo_context_close(other), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
