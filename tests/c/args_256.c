/*
 * args_256.c: a call with VEO_MAX_NUM_ARGS (256) arguments of mixed types
 * (int64, double, float, int32, uint8; see tk_args256_type); the kernel
 * records what each argument arrived as.
 */
#include "testlib.h"

/* The value of argument i, and the 64-bit pattern the kernel records. */
static int64_t ival(int i) { return (i % 2 ? -1 : 1) * (int64_t)i * 0x10000000001ll; }
static double dval(int i) { return i + 0.25; }
static float fval(int i) { return -(float)i - 0.5f; }
static int32_t i32val(int i) { return -i * 1000 - 7; }
static uint8_t u8val(int i) { return (uint8_t)(i + 100); }

static uint64_t expected_bits(int i)
{
	switch (tk_args256_type(i)) {
	case TK_T_DOUBLE: return tk_double_bits(dval(i));
	case TK_T_FLOAT: return tk_float_bits(fval(i));
	case TK_T_I32: return (uint64_t)(int64_t)i32val(i);
	case TK_T_U8: return u8val(i);
	default: return (uint64_t)ival(i);
	}
}

static void set_arg(struct veo_args *args, int i)
{
	int rc;
	switch (tk_args256_type(i)) {
	case TK_T_DOUBLE: rc = veo_args_set_double(args, i, dval(i)); break;
	case TK_T_FLOAT: rc = veo_args_set_float(args, i, fval(i)); break;
	case TK_T_I32: rc = veo_args_set_i32(args, i, i32val(i)); break;
	case TK_T_U8: rc = veo_args_set_u8(args, i, u8val(i)); break;
	default: rc = veo_args_set_i64(args, i, ival(i)); break;
	}
	CHECKF(rc == 0, "setting argument %d returned %d", i, rc);
}

int main(void)
{
	test_init("args_256");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fn = test_sym(proc, lib, "args256");
	uint64_t seen_addr = test_sym(proc, lib, "args256_seen");

	uint64_t want[256];
	for (int i = 0; i < 256; i++)
		want[i] = expected_bits(i);

	/* Set in order, and again in reverse order (the order of the setter
	 * calls does not matter). */
	for (int pass = 0; pass < 2; pass++) {
		struct veo_args *args = test_args();
		for (int k = 0; k < 256; k++)
			set_arg(args, pass == 0 ? k : 255 - k);
		uint64_t r = test_call(ctx, fn, args);
		veo_args_free(args);

		uint64_t seen[256];
		memset(seen, 0, sizeof seen);
		REQUIRE(veo_read_mem(proc, seen, seen_addr, sizeof seen) == 0);
		int bad = 0;
		for (int i = 0; i < 256; i++) {
			if (seen[i] != want[i] && bad++ < 10)
				test_fail(__FILE__, __LINE__, "pass %d: argument %d arrived as "
				          "0x%" PRIx64 ", want 0x%" PRIx64, pass, i, seen[i],
				          want[i]);
		}
		CHECK_EQ_U64(r, tk_args256_sum(want));

		/* Clear the record for the next pass. */
		memset(seen, 0, sizeof seen);
		REQUIRE(veo_write_mem(proc, seen_addr, seen, sizeof seen) == 0);
	}

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
