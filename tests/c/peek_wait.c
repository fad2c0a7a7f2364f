/*
 * peek_wait.c: collecting results. veo_call_peek_result says
 * VEO_COMMAND_UNFINISHED while the kernel runs and hands the result over
 * once it is done; a result is collected once (a second wait or peek is
 * VEO_COMMAND_ERROR); an id that was never issued is VEO_COMMAND_ERROR
 * (and does not block).
 */
#include "testlib.h"

int main(void)
{
	test_init("peek_wait");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t r = 0;

	/* Peek while a 0.5 s kernel runs, then until it is done. */
	double t0 = test_now();
	uint64_t id = test_submit1(ctx, sleep_us, 500000);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_UNFINISHED);
	int rc, unfinished = 0;
	while ((rc = veo_call_peek_result(ctx, id, &r)) == VEO_COMMAND_UNFINISHED &&
	       test_now() - t0 < 20) {
		unfinished++;
		test_sleep_ms(5);
	}
	CHECK_EQ_I64(rc, VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 500000);
	CHECK(unfinished > 0);
	CHECKF(test_now() - t0 >= 0.45, "the result came %.3f s after submitting a "
	       "0.5 s kernel", test_now() - t0);

	/* Collected by peek: wait and peek now fail. */
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_ERROR);
	veo_set_error_print(1);

	/* Collected by wait: a second wait fails. */
	id = test_submit1(ctx, sleep_us, 1000);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1000);
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_ERROR);

	/* Ids that were never issued. */
	t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result(ctx, id + 1000000, &r), VEO_COMMAND_ERROR);
	CHECK_EQ_I64(veo_call_wait_result(ctx, VEO_REQUEST_ID_INVALID, &r), VEO_COMMAND_ERROR);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id + 1000000, &r), VEO_COMMAND_ERROR);
	CHECK(test_now() - t0 < 5);
	veo_set_error_print(1);

	/* A finished result waits to be collected: sync first, peek once. */
	id = test_submit1(ctx, sleep_us, 10);
	veo_context_sync(ctx);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 10);

	/* Results of several requests, collected in any order. */
	uint64_t ids[8];
	for (int i = 0; i < 8; i++)
		ids[i] = test_submit1(ctx, sleep_us, (uint64_t)(i + 1) * 1000);
	const int order[8] = { 5, 0, 7, 2, 1, 6, 3, 4 };
	for (int k = 0; k < 8; k++) {
		int i = order[k];
		CHECK_EQ_I64(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, (uint64_t)(i + 1) * 1000);
	}

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
