/*
 * call_by_name.c: veo_call_async_by_name looks the kernel up in the given
 * library and queues the call; an unknown name fails at submission.
 */
#include "testlib.h"

int main(void)
{
	test_init("call_by_name");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();
	uint64_t r = 0;

	uint64_t id = veo_call_async_by_name(ctx, lib, "empty", args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, TK_EMPTY_RESULT);

	veo_args_set_u64(args, 0, 3);
	veo_args_set_u64(args, 1, 2);
	veo_args_set_u64(args, 2, 1);
	id = veo_call_async_by_name(ctx, lib, "three_args", args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 3002001);

	/* With a result type. */
	veo_args_clear(args);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	id = veo_call_async_by_name(ctx, lib, "ret_double", args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, tk_double_bits(TK_RET_DOUBLE));

	/* Same as the address from veo_get_sym: the same kernel runs. */
	veo_args_clear(args);
	uint64_t id1 = veo_call_async_by_name(ctx, lib, "inc_counter", args);
	uint64_t id2 = veo_call_async(ctx, test_sym(proc, lib, "inc_counter"), args);
	REQUIRE(id1 != VEO_REQUEST_ID_INVALID && id2 != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id1, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64((int)r, TK_COUNTER_INIT + 1);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id2, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64((int)r, TK_COUNTER_INIT + 2);

	veo_set_error_print(0);
	CHECK_EQ_U64(veo_call_async_by_name(ctx, lib, "no_such_kernel", args),
	             VEO_REQUEST_ID_INVALID);
	CHECK(veo_last_error()[0] != '\0');
	CHECK_EQ_U64(veo_call_async_by_name(ctx, 0x4242, "empty", args),
	             VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_by_name(ctx, lib, NULL, args), VEO_REQUEST_ID_INVALID);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
