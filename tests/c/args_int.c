/*
 * args_int.c: every integer argument setter delivers its value exactly
 * (extreme values, sign extension of negative narrow types, zero extension
 * of unsigned ones), alone and all widths in one call; bad argument numbers
 * are errors; unset arguments below the highest set one arrive as 0; the
 * arguments are copied at submission, so args can be reused at once.
 */
#include "testlib.h"

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;
static uint64_t lib;

static uint64_t call_with(const char *kernel, struct veo_args *args)
{
	return test_call(ctx, test_sym(proc, lib, kernel), args);
}

int main(void)
{
	test_init("args_int");
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();

	/* One width at a time: echo_X returns its argument widened to 64 bits. */
	static const int8_t i8s[] = { 0, 1, -1, -128, 127, -3 };
	for (size_t i = 0; i < sizeof i8s; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_i8(args, 0, i8s[i]), 0);
		CHECK_EQ_I64((int64_t)call_with("echo_i8", args), i8s[i]);
	}
	static const uint8_t u8s[] = { 0, 1, 127, 128, 200, 255 };
	for (size_t i = 0; i < sizeof u8s; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_u8(args, 0, u8s[i]), 0);
		CHECK_EQ_U64(call_with("echo_u8", args), u8s[i]);
	}
	static const int16_t i16s[] = { 0, -1, INT16_MIN, INT16_MAX, -300 };
	for (size_t i = 0; i < sizeof i16s / sizeof i16s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_i16(args, 0, i16s[i]), 0);
		CHECK_EQ_I64((int64_t)call_with("echo_i16", args), i16s[i]);
	}
	static const uint16_t u16s[] = { 0, 1, 0x7fff, 0x8000, 0xBEEF, UINT16_MAX };
	for (size_t i = 0; i < sizeof u16s / sizeof u16s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_u16(args, 0, u16s[i]), 0);
		CHECK_EQ_U64(call_with("echo_u16", args), u16s[i]);
	}
	static const int32_t i32s[] = { 0, -1, INT32_MIN, INT32_MAX, -123456 };
	for (size_t i = 0; i < sizeof i32s / sizeof i32s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_i32(args, 0, i32s[i]), 0);
		CHECK_EQ_I64((int64_t)call_with("echo_i32", args), i32s[i]);
	}
	static const uint32_t u32s[] = { 0, 1, 0x7fffffffu, 0x80000000u, UINT32_MAX };
	for (size_t i = 0; i < sizeof u32s / sizeof u32s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_u32(args, 0, u32s[i]), 0);
		CHECK_EQ_U64(call_with("echo_u32", args), u32s[i]);
	}
	static const int64_t i64s[] = { 0, -1, INT64_MIN, INT64_MAX, -5 };
	for (size_t i = 0; i < sizeof i64s / sizeof i64s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_i64(args, 0, i64s[i]), 0);
		CHECK_EQ_I64((int64_t)call_with("echo_i64", args), i64s[i]);
	}
	static const uint64_t u64s[] = { 0, 1, 0x8000000000000000ull, UINT64_MAX,
	                                 0x0123456789abcdefull };
	for (size_t i = 0; i < sizeof u64s / sizeof u64s[0]; i++) {
		veo_args_clear(args);
		CHECK_EQ_I64(veo_args_set_u64(args, 0, u64s[i]), 0);
		CHECK_EQ_U64(call_with("echo_u64", args), u64s[i]);
	}

	/* All widths in one call. */
	veo_args_clear(args);
	veo_args_set_i8(args, 0, -7);
	veo_args_set_u8(args, 1, 250);
	veo_args_set_i16(args, 2, -30000);
	veo_args_set_u16(args, 3, 60000);
	veo_args_set_i32(args, 4, -2000000000);
	veo_args_set_u32(args, 5, 4000000000u);
	veo_args_set_i64(args, 6, -9000000000000000000ll);
	veo_args_set_u64(args, 7, 18000000000000000000ull);
	uint64_t sum = call_with("int_widths", args);
	CHECK_EQ_U64(sum, tk_widths_checksum(-7, 250, -30000, 60000, -2000000000,
	                                     4000000000u, -9000000000000000000ll,
	                                     18000000000000000000ull));
	/* What each argument arrived as. */
	int64_t seen[8];
	int rc = veo_read_mem(proc, seen, test_sym(proc, lib, "int_widths_seen"), sizeof seen);
	CHECKF(rc == 0, "veo_read_mem of int_widths_seen returned %d", rc);
	if (rc == 0) {
		CHECK_EQ_I64(seen[0], -7);
		CHECK_EQ_I64(seen[1], 250);
		CHECK_EQ_I64(seen[2], -30000);
		CHECK_EQ_I64(seen[3], 60000);
		CHECK_EQ_I64(seen[4], -2000000000);
		CHECK_EQ_I64(seen[5], 4000000000ll);
		CHECK_EQ_I64(seen[6], -9000000000000000000ll);
		CHECK_EQ_U64((uint64_t)seen[7], 18000000000000000000ull);
	}

	/* Bad argument numbers. */
	veo_set_error_print(0);
	CHECK(veo_args_set_i64(args, -1, 1) < 0);
	CHECK(veo_args_set_i64(args, VEO_MAX_NUM_ARGS, 1) < 0);
	CHECK(veo_args_set_u64(args, -1, 1) < 0);
	CHECK(veo_args_set_u64(args, 256, 1) < 0);
	CHECK(veo_args_set_i32(args, -1, 1) < 0);
	CHECK(veo_args_set_i32(args, 256, 1) < 0);
	CHECK(veo_args_set_u32(args, 256, 1) < 0);
	CHECK(veo_args_set_i16(args, 256, 1) < 0);
	CHECK(veo_args_set_u16(args, -1, 1) < 0);
	CHECK(veo_args_set_i8(args, 256, 1) < 0);
	CHECK(veo_args_set_u8(args, -1, 1) < 0);
	CHECK(veo_args_set_double(args, 256, 1.0) < 0);
	CHECK(veo_args_set_float(args, -1, 1.0f) < 0);
	CHECK(veo_args_set_i64(args, INT_MAX, 1) < 0);
	CHECK(veo_args_set_i64(args, INT_MIN, 1) < 0);
	veo_set_error_print(1);
	CHECK_EQ_I64(veo_args_set_i64(args, VEO_MAX_NUM_ARGS - 1, 1), 0);

	/* Unset arguments below the highest set one are 0. */
	veo_args_clear(args);
	veo_args_set_u64(args, 2, 7);
	CHECK_EQ_U64(call_with("three_args", args), 7);
	veo_args_clear(args);
	veo_args_set_u64(args, 0, 5);
	veo_args_set_u64(args, 2, 9);
	CHECK_EQ_U64(call_with("three_args", args), 5000009);
	/* Setting an argument again replaces it. */
	veo_args_set_u64(args, 1, 3);
	veo_args_set_u64(args, 1, 4);
	CHECK_EQ_U64(call_with("three_args", args), 5004009);

	/* The arguments are copied at submission: change or free args at once. */
	uint64_t echo = test_sym(proc, lib, "echo_u64");
	veo_args_clear(args);
	veo_args_set_u64(args, 0, 111);
	uint64_t id1 = veo_call_async(ctx, echo, args);
	veo_args_set_u64(args, 0, 222);
	uint64_t id2 = veo_call_async(ctx, echo, args);
	veo_args_free(args);
	REQUIRE(id1 != VEO_REQUEST_ID_INVALID && id2 != VEO_REQUEST_ID_INVALID);
	CHECK(id1 != id2);
	uint64_t r1 = 0, r2 = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id2, &r2), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id1, &r1), VEO_COMMAND_OK);
	CHECK_EQ_U64(r1, 111);
	CHECK_EQ_U64(r2, 222);

	/* veo_args_clear forgets stack arguments too: after clearing, an OUT
	 * buffer set before is not written. */
	args = test_args();
	int32_t out[4] = { -1, -1, -1, -1 };
	veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)out, sizeof out);
	veo_args_clear(args);
	veo_args_set_u64(args, 0, 77);
	CHECK_EQ_U64(test_call(ctx, echo, args), 77);
	CHECK(out[0] == -1 && out[3] == -1);
	veo_args_free(args);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
