/*
 * result_types.c: veo_args_set_result_type (an openveo extension) makes the
 * result word look as on the VE: a float in the upper 32 bits, a double as
 * its 64-bit pattern, narrow integers sign- or zero-extended; void results
 * complete normally. Works with veo_call_sync too.
 */
#include "testlib.h"

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;
static uint64_t lib;

/* Calls a no-argument kernel declaring its result type. */
static uint64_t call_typed(const char *kernel, enum veo_result_type type)
{
	struct veo_args *args = test_args();
	CHECK_EQ_I64(veo_args_set_result_type(args, type), 0);
	uint64_t r = test_call(ctx, test_sym(proc, lib, kernel), args);
	veo_args_free(args);
	return r;
}

int main(void)
{
	test_init("result_types");
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);

	CHECK_EQ_U64(call_typed("ret_float", VEO_RESULT_FLOAT) >> 32,
	             tk_float_bits(TK_RET_FLOAT));
	CHECK_EQ_U64(call_typed("ret_double", VEO_RESULT_DOUBLE),
	             tk_double_bits(TK_RET_DOUBLE));
	CHECK_EQ_U64(call_typed("ret_i8", VEO_RESULT_I8), (uint64_t)(int64_t)TK_RET_I8);
	CHECK_EQ_U64(call_typed("ret_u8", VEO_RESULT_U8), TK_RET_U8);
	CHECK_EQ_U64(call_typed("ret_i16", VEO_RESULT_I16), (uint64_t)(int64_t)TK_RET_I16);
	CHECK_EQ_U64(call_typed("ret_u16", VEO_RESULT_U16), TK_RET_U16);
	CHECK_EQ_U64(call_typed("ret_i32", VEO_RESULT_I32), (uint64_t)(int64_t)TK_RET_I32);
	CHECK_EQ_U64(call_typed("ret_u32", VEO_RESULT_U32), TK_RET_U32);
	CHECK_EQ_U64(call_typed("ret_i64", VEO_RESULT_I64), (uint64_t)TK_RET_I64);
	CHECK_EQ_U64(call_typed("ret_i64", VEO_RESULT_U64), (uint64_t)TK_RET_I64);
	CHECK_EQ_U64(call_typed("empty", VEO_RESULT_POINTER), TK_EMPTY_RESULT);

	/* A void kernel runs (it counts its calls) and completes OK. */
	call_typed("ret_void", VEO_RESULT_VOID);
	call_typed("ret_void", VEO_RESULT_VOID);
	CHECK_EQ_I64(test_read_int_global(proc, lib, "void_calls"), 2);

	/* The result type with arguments, through veo_call_sync. */
	struct veo_args *args = test_args();
	double a[4] = { 1.0, 2.0, 4.0, 8.5 };
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)a, sizeof a);
	veo_args_set_i32(args, 1, 4);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	uint64_t r = 0;
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "average"), args, &r),
	             VEO_COMMAND_OK);
	CHECK_EQ_U64(r, tk_double_bits(15.5 / 4));

	veo_args_clear(args);
	veo_args_set_float(args, 0, -7.0f);
	veo_args_set_result_type(args, VEO_RESULT_FLOAT);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "half_float"), args, &r),
	             VEO_COMMAND_OK);
	CHECK_EQ_U64(r >> 32, tk_float_bits(-3.5f));

	/* Bad types and handles. */
	veo_set_error_print(0);
	CHECK(veo_args_set_result_type(args, (enum veo_result_type)99) < 0);
	CHECK(veo_args_set_result_type(args, (enum veo_result_type)-1) < 0);
	CHECK(veo_args_set_result_type(NULL, VEO_RESULT_DOUBLE) < 0);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
