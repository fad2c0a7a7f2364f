/*
 * args_float.c: float and double arguments arrive bit-exact, alone and
 * interleaved with integers in a call with 12 floating-point and 8 integer
 * arguments (so some of each go on the stack on x86-64).
 */
#include <math.h>

#include "testlib.h"

int main(void)
{
	test_init("args_float");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();

	/* Doubles: the result is the double's 64-bit pattern. */
	uint64_t echo_double = test_sym(proc, lib, "echo_double");
	const double ds[] = { 0.0, -0.0, 1.0, -2.75, 1e300, -1e-300, 3.141592653589793,
	                      INFINITY, 4.9e-324 };
	for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_double(args, 0, ds[i]), 0);
		veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
		CHECK_EQ_U64(test_call(ctx, echo_double, args), tk_double_bits(ds[i]));
	}
	/* A NaN keeps its payload. */
	uint64_t nan_bits = 0x7ff8000000012345ull;
	double nan_val;
	memcpy(&nan_val, &nan_bits, sizeof nan_val);
	veo_args_clear(args);
	veo_args_set_double(args, 0, nan_val);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	CHECK_EQ_U64(test_call(ctx, echo_double, args), nan_bits);

	/* Floats: the result is the float's pattern in the upper 32 bits. */
	uint64_t echo_float = test_sym(proc, lib, "echo_float");
	const float fs[] = { 0.0f, -1.5f, 3.4e38f, 1e-45f, 0.1f, -INFINITY };
	for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_float(args, 0, fs[i]), 0);
		veo_args_set_result_type(args, VEO_RESULT_FLOAT);
		uint64_t r = test_call(ctx, echo_float, args);
		CHECK_EQ_U64(r >> 32, tk_float_bits(fs[i]));
	}

	/* float half_float(float), double twice_double(double). */
	veo_args_clear(args);
	veo_args_set_float(args, 0, 5.0f);
	veo_args_set_result_type(args, VEO_RESULT_FLOAT);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "half_float"), args) >> 32,
	             tk_float_bits(2.5f));
	veo_args_clear(args);
	veo_args_set_double(args, 0, -1.25);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "twice_double"), args),
	             tk_double_bits(-2.5));

	/* mixed_args(i32, d, f, i64, d, i8, f, d, u16, d, f, i64, d, d, u32, f,
	 *            i64, d, i16, d) */
	double want[TK_MIXED_NARGS] = { -17, 1.5, 2.25f, -40000000000.0, 3.5, -100,
	                                -0.75f, 4.125, 65000, 5.5, 6.5f, 123456789,
	                                7.75, -8.875, 4000000000.0, 9.25f, -1, 10.5,
	                                -32000, 11.0625 };
	veo_args_clear(args);
	veo_args_set_i32(args, 0, -17);
	veo_args_set_double(args, 1, 1.5);
	veo_args_set_float(args, 2, 2.25f);
	veo_args_set_i64(args, 3, -40000000000ll);
	veo_args_set_double(args, 4, 3.5);
	veo_args_set_i8(args, 5, -100);
	veo_args_set_float(args, 6, -0.75f);
	veo_args_set_double(args, 7, 4.125);
	veo_args_set_u16(args, 8, 65000);
	veo_args_set_double(args, 9, 5.5);
	veo_args_set_float(args, 10, 6.5f);
	veo_args_set_i64(args, 11, 123456789);
	veo_args_set_double(args, 12, 7.75);
	veo_args_set_double(args, 13, -8.875);
	veo_args_set_u32(args, 14, 4000000000u);
	veo_args_set_float(args, 15, 9.25f);
	veo_args_set_i64(args, 16, -1);
	veo_args_set_double(args, 17, 10.5);
	veo_args_set_i16(args, 18, -32000);
	veo_args_set_double(args, 19, 11.0625);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	uint64_t r = test_call(ctx, test_sym(proc, lib, "mixed_args"), args);

	CHECK_EQ_U64(r, tk_double_bits(tk_mixed_sum(want)));
	/* What each argument arrived as. */
	double seen[TK_MIXED_NARGS];
	REQUIRE(veo_read_mem(proc, seen, test_sym(proc, lib, "mixed_seen"), sizeof seen) == 0);
	for (int i = 0; i < TK_MIXED_NARGS; i++)
		CHECKF(tk_double_bits(seen[i]) == tk_double_bits(want[i]),
		       "mixed_args argument %d arrived as %.17g, want %.17g", i, seen[i],
		       want[i]);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
