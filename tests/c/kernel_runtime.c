/*
 * kernel_runtime.c: kernel libraries load as they do on the VE. There the
 * math library and the OpenMP runtime are part of every VE process, so a
 * kernel built with `cc -shared -fopenmp` and no -lm that calls sqrt loads
 * and runs; and libraries are loaded RTLD_GLOBAL (as AVEO loads them), so
 * one loaded earlier supplies symbols to a later one linked without it.
 */
#include <math.h>

#include "testlib.h"

int main(void)
{
	test_init("kernel_runtime");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	if (kernel_exists(TK_LIB_RUNTIME)) {
		uint64_t lib = test_load(proc, TK_LIB_RUNTIME);
		double v[1000], want = 0;
		for (int i = 0; i < 1000; i++) {
			v[i] = 0.25 * i;
			want += v[i] * v[i];
		}
		struct veo_args *args = test_args();
		veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)v, sizeof v);
		veo_args_set_i32(args, 1, 1000);
		veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
		uint64_t r = test_call(ctx, test_sym(proc, lib, "norm2"), args);
		double got;
		memcpy(&got, &r, sizeof got);
		CHECKF(fabs(got - sqrt(want)) < 1e-9 * sqrt(want), "norm2 = %.17g, want %.17g",
		       got, sqrt(want));
		veo_args_free(args);
	} else {
		printf("   (no OpenMP here: the sqrt/OpenMP kernel was not built)\n");
	}

	/* The second library finds the first's symbol in the global scope. */
	uint64_t a = test_load(proc, TK_LIB_GLOBAL_A);
	uint64_t b = test_load(proc, TK_LIB_GLOBAL_B);
	CHECK(a != b);
	CHECK_EQ_U64(test_call1(ctx, test_sym(proc, b, "global_b_calls_a"), 5), 116);

	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
