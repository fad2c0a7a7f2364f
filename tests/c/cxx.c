/*
 * cxx.c: calling C++ kernels through their extern "C" entry points. The
 * kernels use the C++ standard library, throw and catch exceptions inside
 * the worker, and rely on static constructors having run at load time.
 * Skipped when no C++ compiler built the kernel library.
 */
#include "testlib.h"

int main(void)
{
	test_init("cxx");
	if (!kernel_exists(TK_LIB_CXX))
		TEST_SKIP("%s not built (no C++ compiler)", TK_LIB_CXX);

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_CXX);
	struct veo_args *args = test_args();

	/* int64_t cxx_sort_sum(int64_t *a, int n): sorts in place. */
	int64_t a[9] = { 5, -3, 99, 0, 7, -100, 42, 42, 1 };
	const int64_t sorted[9] = { -100, -3, 0, 1, 5, 7, 42, 42, 99 };
	veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)a, sizeof a);
	veo_args_set_i32(args, 1, 9);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "cxx_sort_sum"), args), 93);
	for (int i = 0; i < 9; i++)
		CHECKF(a[i] == sorted[i], "a[%d] = %" PRId64 ", want %" PRId64, i, a[i],
		       sorted[i]);

	/* int cxx_throw_catch(int x): 2 * x if the exception came through. */
	veo_args_clear(args);
	veo_args_set_i32(args, 0, 21);
	veo_args_set_result_type(args, VEO_RESULT_I32);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "cxx_throw_catch"), args),
	             42);

	/* The library's static std::string was constructed when it was loaded. */
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "cxx_static_len")),
	             strlen("hello from openveo"));

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
