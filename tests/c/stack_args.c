/*
 * stack_args.c: veo_args_set_stack. IN buffers are copied in at submission
 * (changing them afterwards does not matter, and what the kernel writes is
 * not copied back); OUT buffers are copied back when the result is
 * collected; INOUT both. Each pending request keeps its own buffers.
 */
#include "testlib.h"

int main(void)
{
	test_init("stack_args");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();
	uint64_t r = 0;

	/* IN: double average(double *a, int n) */
	double a[10];
	for (int i = 0; i < 10; i++)
		a[i] = i * 1.5;
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)a, sizeof a), 0);
	veo_args_set_i32(args, 1, 10);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "average"), args),
	             tk_double_bits(67.5 / 10));

	/* IN is copied at submission: the kernel sums what was there then. */
	int64_t v[100];
	int64_t want = 0;
	for (int i = 0; i < 100; i++) {
		v[i] = i * i - 50;
		want += v[i];
	}
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)v, sizeof v);
	veo_args_set_i32(args, 1, 100);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "sum_i64"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	memset(v, 0, sizeof v);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64((int64_t)r, want);

	/* IN is not copied back, even when the kernel writes to it. */
	uint8_t bytes[300];
	memset(bytes, 9, sizeof bytes);
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)bytes, sizeof bytes);
	veo_args_set_u64(args, 1, sizeof bytes);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "inc_bytes"), args),
	             10 * sizeof bytes);
	int untouched = 1;
	for (size_t i = 0; i < sizeof bytes; i++)
		untouched &= bytes[i] == 9;
	CHECK(untouched);

	/* OUT: int fill_i32(int32_t *out, int n, int32_t start) */
	int32_t out[64];
	for (int i = 0; i < 64; i++)
		out[i] = -1;
	veo_args_clear(args);
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)out, sizeof out), 0);
	veo_args_set_i32(args, 1, 64);
	veo_args_set_i32(args, 2, -20);
	veo_args_set_result_type(args, VEO_RESULT_I32);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "fill_i32"), args), 64);
	for (int i = 0; i < 64; i++)
		CHECKF(out[i] == -20 + i, "out[%d] = %d, want %d", i, out[i], -20 + i);

	/* OUT through veo_call_sync: void store_pair(int64_t *out, a, b) */
	int64_t pair[2] = { 0, 0 };
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)pair, sizeof pair);
	veo_args_set_i64(args, 1, -123);
	veo_args_set_i64(args, 2, 456);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "store_pair"), args, &r),
	             VEO_COMMAND_OK);
	CHECK_EQ_I64(pair[0], -123);
	CHECK_EQ_I64(pair[1], 456);

	/* INOUT: void scale_f64(double *a, int n, double f) */
	double d[16];
	for (int i = 0; i < 16; i++)
		d[i] = i - 8.5;
	veo_args_clear(args);
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)d, sizeof d), 0);
	veo_args_set_i32(args, 1, 16);
	veo_args_set_double(args, 2, -2.0);
	veo_args_set_result_type(args, VEO_RESULT_VOID);
	test_call(ctx, test_sym(proc, lib, "scale_f64"), args);
	for (int i = 0; i < 16; i++)
		CHECKF(d[i] == (i - 8.5) * -2.0, "d[%d] = %g, want %g", i, d[i],
		       (i - 8.5) * -2.0);

	/* Two requests pending with OUT buffers, collected in reverse order:
	 * each buffer gets its own request's data. */
	int32_t small_out[3] = { 0, 0, 0 };
	int64_t pair2[2] = { 0, 0 };
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)small_out, sizeof small_out);
	veo_args_set_i32(args, 1, 3);
	veo_args_set_i32(args, 2, 1000);
	uint64_t id_a = veo_call_async(ctx, test_sym(proc, lib, "fill_i32"), args);
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)pair2, sizeof pair2);
	veo_args_set_i64(args, 1, 1);
	veo_args_set_i64(args, 2, 2);
	uint64_t id_b = veo_call_async(ctx, test_sym(proc, lib, "store_pair"), args);
	REQUIRE(id_a != VEO_REQUEST_ID_INVALID && id_b != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id_b, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id_a, &r), VEO_COMMAND_OK);
	CHECK(small_out[0] == 1000 && small_out[1] == 1001 && small_out[2] == 1002);
	CHECK(pair2[0] == 1 && pair2[1] == 2);

	/* Bad stack arguments. */
	veo_set_error_print(0);
	CHECK(veo_args_set_stack(args, VEO_INTENT_IN, -1, (char *)a, sizeof a) < 0);
	CHECK(veo_args_set_stack(args, VEO_INTENT_IN, 256, (char *)a, sizeof a) < 0);
	CHECK(veo_args_set_stack(args, (enum veo_args_intent)7, 0, (char *)a, sizeof a) < 0);
	CHECK(veo_args_set_stack(NULL, VEO_INTENT_IN, 0, (char *)a, sizeof a) < 0);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
