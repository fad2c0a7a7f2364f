/*
 * bad_args.c: argument lists and calls that cannot be right are refused
 * with a message, and the proc goes on working: argument numbers out of
 * range (negative, VEO_MAX_NUM_ARGS and beyond: too many arguments), NULL
 * stack buffers with a length, stack arguments larger than any VE memory,
 * bad intents and result types, and calls of addresses that are not code
 * (0, a library variable, VE memory, a made-up number). A failed setter
 * leaves the list as it was.
 */
#include "testlib.h"

int main(void)
{
	test_init("bad_args");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t three_args = test_sym(proc, lib, "three_args");
	struct veo_args *args = test_args();
	char buf[16] = { 0 };
	veo_set_error_print(0);

	printf("-- argument numbers\n");
	CHECK_FAILS(veo_args_set_u64(args, -1, 1), -1, "argument number -1 is out of range");
	CHECK_FAILS(veo_args_set_u64(args, VEO_MAX_NUM_ARGS, 1), -1, "at most 256 arguments");
	CHECK_FAILS(veo_args_set_i32(args, INT_MAX, 1), -1, "out of range");
	CHECK_FAILS(veo_args_set_double(args, INT_MIN, 1.0), -1, "out of range");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_IN, VEO_MAX_NUM_ARGS, buf, sizeof buf), -1,
	      "out of range");
	/* The last legal number is fine. */
	CHECK_EQ_I64(veo_args_set_u64(args, VEO_MAX_NUM_ARGS - 1, 1), 0);
	veo_args_clear(args);

	printf("-- stack arguments\n");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_IN, 0, NULL, 8), -1, "NULL buffer of 8 bytes");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_OUT, 0, NULL, 1), -1, "NULL buffer");
	CHECK_FAILS(veo_args_set_stack(args, (enum veo_args_intent)7, 0, buf, sizeof buf), -1,
	      "bad intent 7");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_IN, 0, buf, (size_t)1 << 62), -1,
	      "more than a stack argument can hold");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_INOUT, 0, buf, SIZE_MAX), -1,
	      "more than a stack argument can hold");
	/* An empty NULL buffer is an empty argument, not an error. */
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_IN, 0, NULL, 0), 0);
	/* A stack argument larger than the VE heap: refused at submission. */
	static char big[1];
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_IN, 0, big, (size_t)1 << 47), 0);
	CHECK_FAILS(veo_call_async(ctx, three_args, args), VEO_REQUEST_ID_INVALID,
	      "cannot allocate");
	veo_args_clear(args);

	printf("-- result types\n");
	CHECK_FAILS(veo_args_set_result_type(args, (enum veo_result_type)99), -1, "bad type 99");
	CHECK_FAILS(veo_args_set_result_type(args, (enum veo_result_type)-1), -1, "bad type -1");

	printf("-- a failed setter leaves the list as it was\n");
	CHECK_EQ_I64(veo_args_set_u64(args, 0, 1), 0);
	CHECK_EQ_I64(veo_args_set_u64(args, 1, 2), 0);
	CHECK_EQ_I64(veo_args_set_u64(args, 2, 3), 0);
	CHECK_FAILS(veo_args_set_u64(args, 300, 9), -1, "out of range");
	CHECK_FAILS(veo_args_set_stack(args, VEO_INTENT_IN, 1, NULL, 4), -1, "NULL buffer");
	CHECK_EQ_U64(test_call(ctx, three_args, args), 1002003);

	printf("-- calls of what is not code\n");
	uint64_t counter = test_sym(proc, lib, "counter"), heap = 0;
	REQUIRE(veo_alloc_mem(proc, &heap, 64) == 0);
	const uint64_t not_code[] = { counter, heap, 0x1234, 0xffff800000000000ull,
	                              three_args + (1ull << 40) };
	CHECK_FAILS(veo_call_async(ctx, 0, args), VEO_REQUEST_ID_INVALID, "function address is 0");
	for (size_t i = 0; i < sizeof not_code / sizeof not_code[0]; i++) {
		uint64_t id = veo_call_async(ctx, not_code[i], args), r = 0;
		REQUIRE(id != VEO_REQUEST_ID_INVALID);
		CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
		CHECK_CONTAINS(veo_last_error(), "is not code of a loaded library");
	}
	uint64_t r = 0;
	CHECK_FAILS(veo_call_sync(proc, counter, args, &r), -1, "not code");
	CHECK_FAILS(veo_call_async_vh(ctx, NULL, NULL), VEO_REQUEST_ID_INVALID, "NULL function");
	veo_set_error_print(1);

	/* Nothing of that hurt: the same list calls the right function. */
	CHECK_EQ_U64(test_call(ctx, three_args, args), 1002003);
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_RUNNING);
	CHECK_EQ_I64(veo_free_mem(proc, heap), 0);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
