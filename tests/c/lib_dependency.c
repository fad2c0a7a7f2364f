/*
 * lib_dependency.c: a kernel library that needs another library
 * (libuseshelper.so -> libkhelper.so) loads, and its kernel calls into the
 * other library. Also a kernel using libm.
 */
#include <math.h>

#include "testlib.h"

int main(void)
{
	test_init("lib_dependency");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	uint64_t lib = test_load(proc, TK_LIB_USESLIB);
	uint64_t fn = test_sym(proc, lib, "call_helper");
	struct veo_args *args = test_args();
	veo_args_set_i64(args, 0, -14);
	CHECK_EQ_I64((int64_t)test_call(ctx, fn, args), 3 * -14 + 1);

	/* The helper library's own symbol is reachable through the handle of
	 * the library that depends on it (dlsym searches dependencies). */
	CHECK(veo_get_sym(proc, lib, "helper_triple") != 0);

	uint64_t main_lib = test_load(proc, TK_LIB_MAIN);
	uint64_t k_cbrt = test_sym(proc, main_lib, "k_cbrt");
	veo_args_clear(args);
	veo_args_set_double(args, 0, 27.0);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	uint64_t r = test_call(ctx, k_cbrt, args);
	/* volatile: the host's cbrt must be libm's at run time, as in the
	 * kernel, not the compiler's exactly rounded constant. */
	volatile double x = 27.0;
	CHECK_EQ_U64(r, tk_double_bits(cbrt(x)));

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
