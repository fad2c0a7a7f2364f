/*
 * mem_alloc_async.c: veo_alloc_mem_async (result: the address) and
 * veo_free_mem_async (result: 0) in a context's order; the memory is
 * ordinary VE memory in between. Freeing it twice does not succeed.
 */
#include "testlib.h"

int main(void)
{
	test_init("mem_alloc_async");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t r = 0;

	uint64_t id = veo_alloc_mem_async(ctx, 4096);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	uint64_t addr = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &addr), VEO_COMMAND_OK);
	REQUIRE(addr != 0);

	/* Usable with the synchronous calls and by kernels. */
	uint8_t buf[4096];
	uint64_t sum = 0;
	for (int i = 0; i < 4096; i++) {
		buf[i] = (uint8_t)(i * 5);
		sum += buf[i];
	}
	CHECK_EQ_I64(veo_write_mem(proc, addr, buf, sizeof buf), 0);
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, addr);
	veo_args_set_u64(args, 1, sizeof buf);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "sum_bytes"), args), sum);

	/* Two allocations queued back to back are distinct. */
	uint64_t id1 = veo_alloc_mem_async(ctx, 100);
	uint64_t id2 = veo_alloc_mem_async(ctx, 100);
	REQUIRE(id1 != VEO_REQUEST_ID_INVALID && id2 != VEO_REQUEST_ID_INVALID);
	uint64_t a1 = 0, a2 = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id2, &a2), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id1, &a1), VEO_COMMAND_OK);
	CHECK(a1 != 0 && a2 != 0 && a1 != a2);
	CHECK(a1 + 100 <= a2 || a2 + 100 <= a1);

	/* Free: result 0. */
	id = veo_free_mem_async(ctx, addr);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0);

	/* Freed memory from the async call is freed for the sync calls too. */
	veo_set_error_print(0);
	CHECK(veo_free_mem(proc, addr) < 0);
	/* And a second async free does not succeed. */
	id = veo_free_mem_async(ctx, addr);
	if (id != VEO_REQUEST_ID_INVALID) {
		int rc = veo_call_wait_result(ctx, id, &r);
		CHECKF(rc != VEO_COMMAND_OK || r != 0, "a second veo_free_mem_async of the "
		       "same address succeeded");
	}
	veo_set_error_print(1);

	/* Memory from veo_alloc_mem can be freed asynchronously and the other
	 * way round. */
	uint64_t b = 0;
	REQUIRE(veo_alloc_mem(proc, &b, 256) == 0);
	id = veo_free_mem_async(ctx, b);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0);
	CHECK_EQ_I64(veo_free_mem(proc, a1), 0);
	CHECK_EQ_I64(veo_free_mem(proc, a2), 0);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
