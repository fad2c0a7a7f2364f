/*
 * fortran.c: calling Fortran kernels (gfortran). Fortran takes arguments by
 * reference, so scalars go as stack arguments (or VE addresses) and names
 * carry gfortran's trailing underscore; `value` arguments are passed as C
 * scalars. Skipped when no Fortran compiler built the kernel library.
 */
#include "testlib.h"

int main(void)
{
	test_init("fortran");
	if (!kernel_exists(TK_LIB_FORTRAN))
		TEST_SKIP("%s not built (no Fortran compiler)", TK_LIB_FORTRAN);

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_FORTRAN);
	struct veo_args *args = test_args();

	/* subroutine sub1(a, n): a = 2 * a + 1, array INOUT, n IN. */
	double a[7];
	int32_t n = 7;
	for (int i = 0; i < n; i++)
		a[i] = i - 3.25;
	veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)a, sizeof a);
	veo_args_set_stack(args, VEO_INTENT_IN, 1, (char *)&n, sizeof n);
	veo_args_set_result_type(args, VEO_RESULT_VOID);
	test_call(ctx, test_sym(proc, lib, "sub1_"), args);
	for (int i = 0; i < n; i++)
		CHECKF(a[i] == 2 * (i - 3.25) + 1, "a(%d) = %g, want %g", i + 1, a[i],
		       2 * (i - 3.25) + 1);

	/* The same with the array in VE memory (passed by its address). */
	uint64_t va = 0;
	REQUIRE(veo_alloc_mem(proc, &va, sizeof a) == 0);
	for (int i = 0; i < n; i++)
		a[i] = i;
	CHECK_EQ_I64(veo_write_mem(proc, va, a, sizeof a), 0);
	veo_args_clear(args);
	veo_args_set_u64(args, 0, va);
	veo_args_set_stack(args, VEO_INTENT_IN, 1, (char *)&n, sizeof n);
	test_call(ctx, test_sym(proc, lib, "sub1_"), args);
	CHECK_EQ_I64(veo_read_mem(proc, a, va, sizeof a), 0);
	for (int i = 0; i < n; i++)
		CHECKF(a[i] == 2 * i + 1, "a(%d) = %g, want %d", i + 1, a[i], 2 * i + 1);
	CHECK_EQ_I64(veo_free_mem(proc, va), 0);

	/* integer function addv(x, y), x by reference, y by value. */
	int32_t x = 7;
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)&x, sizeof x);
	veo_args_set_i32(args, 1, -5);
	veo_args_set_result_type(args, VEO_RESULT_I32);
	CHECK_EQ_I64((int64_t)test_call(ctx, test_sym(proc, lib, "addv_"), args), 695);

	/* real(8) function fsum(a, n) over an integer array. */
	int32_t ia[5] = { 1, -2, 30, 400, -5000 };
	int32_t in = 5;
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)ia, sizeof ia);
	veo_args_set_stack(args, VEO_INTENT_IN, 1, (char *)&in, sizeof in);
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "fsum_"), args),
	             tk_double_bits(-4571.0));

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
