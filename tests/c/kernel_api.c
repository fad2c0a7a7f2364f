/*
 * kernel_api.c: what a kernel can ask of its VE process (veo_ve.h): a
 * kernel reads the results of the requests its context ran before it with
 * veo_prev_req_result(offs, &result), offs 0 being the one just before.
 * The kernels are linked with -lveohmem -laveoVE -lveftrace, as AVEO's
 * Makefiles link them; the worker's functions answer. A context has its own
 * history, and a new context starts with none.
 */
#include "testlib.h"

#define NONE (~0ull)

int main(void)
{
	test_init("kernel_api");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	struct veo_thr_ctxt *ctx2 = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_HMEM);
	uint64_t ret = test_sym(proc, lib, "return_arg");
	uint64_t prev = test_sym(proc, lib, "prev_result");
	uint64_t r = 0;

	/* Nothing ran before: no result, whatever offs. */
	CHECK_EQ_U64(test_call1(ctx, prev, 0), NONE);

	/* Three calls, then the kernel looks back at each of them. The look-back
	 * calls are requests too: each one's own result is offs 0 of the next. */
	CHECK_EQ_U64(test_call1(ctx, ret, 11), 11);
	CHECK_EQ_U64(test_call1(ctx, ret, 22), 22);
	CHECK_EQ_U64(test_call1(ctx, ret, 33), 33);
	CHECK_EQ_U64(test_call1(ctx, prev, 0), 33);
	CHECK_EQ_U64(test_call1(ctx, prev, 2), 22); /* 33, prev(0), then 22 */
	/* An asynchronous allocation's result is its address. */
	uint64_t id = veo_alloc_mem_async(ctx, 64), addr = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &addr), VEO_COMMAND_OK);
	CHECK_EQ_U64(test_call1(ctx, prev, 0), addr);
	id = veo_free_mem_async(ctx, addr);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(test_call1(ctx, prev, 0), 0);

	/* Another context has a history of its own. */
	CHECK_EQ_U64(test_call1(ctx2, prev, 0), NONE);
	CHECK_EQ_U64(test_call1(ctx2, ret, 77), 77);
	CHECK_EQ_U64(test_call1(ctx2, prev, 0), 77);

	/* Out of range: negative, and beyond the 16 kept. */
	CHECK_EQ_U64(test_call1(ctx, prev, (uint64_t)-1), NONE);
	CHECK_EQ_U64(test_call1(ctx, prev, 16), NONE);
	for (int i = 0; i < 20; i++)
		test_call1(ctx, ret, 1000 + i);
	CHECK_EQ_U64(test_call1(ctx, prev, 15), 1004);

	/* A context opened again in the same slot starts empty. */
	CHECK_EQ_I64(veo_context_close(ctx2), 0);
	ctx2 = test_ctx_open(proc);
	CHECK_EQ_U64(test_call1(ctx2, prev, 0), NONE);

	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
