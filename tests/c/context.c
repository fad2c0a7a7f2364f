/*
 * context.c: contexts of a proc. veo_num_contexts / veo_get_context list
 * the open ones (not the hidden one veo_call_sync uses), each runs calls,
 * veo_get_context_state says RUNNING while open, closing waits for queued
 * requests, and a closed context is gone from the list.
 */
#include "testlib.h"

#define NCTX 4

/* ctx is among the proc's listed contexts. */
static int listed(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	int n = veo_num_contexts(proc);
	for (int i = 0; i < n; i++)
		if (veo_get_context(proc, i) == ctx)
			return 1;
	return 0;
}

int main(void)
{
	test_init("context");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t empty = test_sym(proc, lib, "empty");
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");

	CHECK_EQ_I64(veo_num_contexts(proc), 0);
	CHECK(veo_get_context(proc, 0) == NULL);

	struct veo_thr_ctxt *ctx[NCTX];
	for (int i = 0; i < NCTX; i++) {
		ctx[i] = test_ctx_open(proc);
		CHECK_EQ_I64(veo_num_contexts(proc), i + 1);
		for (int j = 0; j < i; j++)
			CHECK(ctx[i] != ctx[j]);
	}
	for (int i = 0; i < NCTX; i++) {
		CHECKF(listed(proc, ctx[i]), "context %d is not listed", i);
		CHECK_EQ_I64(veo_get_context_state(ctx[i]), VEO_STATE_RUNNING);
		CHECK_EQ_U64(test_call0(ctx[i], empty), TK_EMPTY_RESULT);
	}
	veo_set_error_print(0);
	CHECK(veo_get_context(proc, NCTX) == NULL);
	CHECK(veo_get_context(proc, -1) == NULL);
	veo_set_error_print(1);

	/* veo_call_sync uses a context of its own, not a listed one. */
	struct veo_args *args = test_args();
	uint64_t r = 0;
	CHECK_EQ_I64(veo_call_sync(proc, empty, args, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_num_contexts(proc), NCTX);

	/* Close one in the middle. */
	CHECK_EQ_I64(veo_context_close(ctx[1]), 0);
	CHECK_EQ_I64(veo_num_contexts(proc), NCTX - 1);
	CHECK(listed(proc, ctx[0]));
	CHECK(listed(proc, ctx[2]));
	CHECK(listed(proc, ctx[3]));
	veo_set_error_print(0);
	CHECK(veo_context_close(ctx[1]) < 0);
	CHECK(veo_get_context_state(ctx[1]) != VEO_STATE_RUNNING);
	veo_set_error_print(1);

	/* Closing waits for what was queued. */
	uint64_t id = test_submit1(ctx[2], sleep_us, 300000);
	(void)id;
	double t0 = test_now();
	CHECK_EQ_I64(veo_context_close(ctx[2]), 0);
	double waited = test_now() - t0;
	CHECKF(waited >= 0.2, "veo_context_close returned after %.3f s, before the "
	       "queued 0.3 s kernel finished", waited);
	CHECK_EQ_I64(veo_num_contexts(proc), NCTX - 2);

	/* A new context after closing some. */
	struct veo_thr_ctxt *again = test_ctx_open(proc);
	CHECK_EQ_U64(test_call0(again, empty), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_num_contexts(proc), NCTX - 1);
	CHECK(listed(proc, again));

	/* Destroying the proc closes the contexts still open. */
	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
