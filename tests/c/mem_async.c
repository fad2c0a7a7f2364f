/*
 * mem_async.c: veo_async_write_mem / veo_async_read_mem keep their place in
 * the context's order: write, kernel, read queued back to back (no wait in
 * between) see each other's effects. Works for heap blocks and for
 * library variables. Each transfer's result is 0.
 */
#include "testlib.h"

#define N 1000

int main(void)
{
	test_init("mem_async");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t r = 0;

	/* Heap: write, increment (kernel), read, increment, read. */
	uint64_t addr = 0;
	REQUIRE(veo_alloc_mem(proc, &addr, N * sizeof(uint64_t)) == 0);
	static uint64_t in[N], out1[N], out2[N];
	for (int i = 0; i < N; i++)
		in[i] = (uint64_t)i * 3;

	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, addr);
	veo_args_set_u64(args, 1, N);
	uint64_t inc = test_sym(proc, lib, "inc_u64_array");

	uint64_t ids[5];
	ids[0] = veo_async_write_mem(ctx, addr, in, sizeof in);
	ids[1] = veo_call_async(ctx, inc, args);
	ids[2] = veo_async_read_mem(ctx, out1, addr, sizeof out1);
	ids[3] = veo_call_async(ctx, inc, args);
	ids[4] = veo_async_read_mem(ctx, out2, addr, sizeof out2);
	for (int i = 0; i < 5; i++)
		REQUIRE(ids[i] != VEO_REQUEST_ID_INVALID);
	/* Collect the last first; it can only finish after the others. */
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[4], &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0);
	int ok1 = 1, ok2 = 1;
	for (int i = 0; i < N; i++) {
		ok1 &= out1[i] == in[i] + 1;
		ok2 &= out2[i] == in[i] + 2;
	}
	CHECKF(ok1, "the first read did not see write + one increment");
	CHECKF(ok2, "the second read did not see write + two increments");
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[0], &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[1], &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, N);
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[2], &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[3], &r), VEO_COMMAND_OK);

	/* A library variable: read (old), write, kernel increments, read. */
	uint64_t counter = test_sym(proc, lib, "counter");
	int before = -1, value = 1000, after = -1;
	struct veo_args *none = test_args();
	uint64_t a = veo_async_read_mem(ctx, &before, counter, sizeof before);
	uint64_t b = veo_async_write_mem(ctx, counter, &value, sizeof value);
	uint64_t c = veo_call_async(ctx, test_sym(proc, lib, "inc_counter"), none);
	uint64_t d = veo_async_read_mem(ctx, &after, counter, sizeof after);
	REQUIRE(a != VEO_REQUEST_ID_INVALID && b != VEO_REQUEST_ID_INVALID &&
	        c != VEO_REQUEST_ID_INVALID && d != VEO_REQUEST_ID_INVALID);
	veo_context_sync(ctx);
	CHECK_EQ_I64(veo_call_wait_result(ctx, a, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, b, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, c, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64((int)r, 1001);
	CHECK_EQ_I64(veo_call_wait_result(ctx, d, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(before, TK_COUNTER_INIT);
	CHECK_EQ_I64(after, 1001);

	/* A transfer to an address the worker does not own fails on its own;
	 * the context goes on. */
	veo_set_error_print(0);
	uint64_t bad = veo_async_read_mem(ctx, out1, 16, 64);
	if (bad != VEO_REQUEST_ID_INVALID) {
		int rc = veo_call_wait_result(ctx, bad, &r);
		CHECKF(rc != VEO_COMMAND_OK || r != 0,
		       "an async read from address 16 succeeded");
	}
	veo_set_error_print(1);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);

	veo_args_free(args);
	veo_args_free(none);
	CHECK_EQ_I64(veo_free_mem(proc, addr), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
