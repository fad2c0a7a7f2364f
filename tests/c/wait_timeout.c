/*
 * wait_timeout.c: veo_call_wait_result_timeout (an openveo extension)
 * returns VEO_COMMAND_UNFINISHED after about the time asked for when the
 * kernel takes longer, without collecting the result; a negative time-out
 * waits for ever; a finished result comes at once.
 */
#include "testlib.h"

int main(void)
{
	test_init("wait_timeout");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t r = 0;

	uint64_t id = test_submit1(ctx, sleep_us, 1500000);
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 100000),
	             VEO_COMMAND_UNFINISHED);
	double dt = test_now() - t0;
	CHECKF(dt >= 0.09 && dt < 1.2, "a 0.1 s time-out returned after %.3f s", dt);

	/* Not collected: a peek still sees it running, a second time-out too. */
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_UNFINISHED);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 1000), VEO_COMMAND_UNFINISHED);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 0), VEO_COMMAND_UNFINISHED);

	/* Negative: wait until it is done. */
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, -1), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1500000);
	CHECKF(test_now() - t0 >= 1.4, "the 1.5 s kernel finished after %.3f s",
	       test_now() - t0);

	/* Collected once. */
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 1000), VEO_COMMAND_ERROR);
	veo_set_error_print(1);

	/* A fast kernel within a long time-out comes back as soon as it is done. */
	id = test_submit1(ctx, sleep_us, 1000);
	t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 10000000), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1000);
	CHECKF(test_now() - t0 < 5, "a 1 ms kernel took %.3f s with a 10 s time-out",
	       test_now() - t0);

	/* A finished result with time-out 0. */
	id = test_submit1(ctx, sleep_us, 1);
	veo_context_sync(ctx);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 0), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
