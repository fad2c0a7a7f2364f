/*
 * context_attr.c: thread context attributes. The stack size set with
 * veo_set_thr_ctxt_stacksize reads back with veo_get_thr_ctxt_stacksize,
 * and a context opened with it runs a kernel that needs that much stack
 * (32 MiB, four times the default).
 */
#include "testlib.h"

#define MiB (1024ul * 1024ul)

/* What use_stack(bytes) returns. */
static uint64_t use_stack_sum(uint64_t bytes)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < bytes; i += 4096)
		s += (uint8_t)(i / 4096);
	return s;
}

int main(void)
{
	test_init("context_attr");

	struct veo_thr_ctxt_attr *attr = veo_alloc_thr_ctxt_attr();
	REQUIRE(attr != NULL);
	size_t size = 12345;
	CHECK_EQ_I64(veo_get_thr_ctxt_stacksize(attr, &size), 0);
	CHECKF(size == 0 || size == 8 * MiB, "initial stack size %zu, want 0 (default) "
	       "or 8 MiB", size);

	CHECK_EQ_I64(veo_set_thr_ctxt_stacksize(attr, 16 * MiB), 0);
	CHECK_EQ_I64(veo_get_thr_ctxt_stacksize(attr, &size), 0);
	CHECK_EQ_U64(size, 16 * MiB);
	CHECK_EQ_I64(veo_set_thr_ctxt_stacksize(attr, 64 * MiB), 0);
	CHECK_EQ_I64(veo_get_thr_ctxt_stacksize(attr, &size), 0);
	CHECK_EQ_U64(size, 64 * MiB);

	veo_set_error_print(0);
	CHECK(veo_set_thr_ctxt_stacksize(NULL, MiB) < 0);
	CHECK(veo_get_thr_ctxt_stacksize(NULL, &size) < 0);
	CHECK(veo_get_thr_ctxt_stacksize(attr, NULL) < 0);
	CHECK(veo_free_thr_ctxt_attr(NULL) < 0);
	veo_set_error_print(1);

	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t use_stack = test_sym(proc, lib, "use_stack");

	struct veo_thr_ctxt *big = veo_context_open_with_attr(proc, attr);
	REQUIRE(big != NULL);
	/* The attribute object is not needed once the context is open. */
	CHECK_EQ_I64(veo_free_thr_ctxt_attr(attr), 0);
	CHECK_EQ_I64(veo_get_context_state(big), VEO_STATE_RUNNING);
	CHECK_EQ_I64(veo_num_contexts(proc), 1);
	CHECK_EQ_U64(test_call1(big, use_stack, 32 * MiB), use_stack_sum(32 * MiB));

	/* A default context beside it runs kernels that fit in 8 MiB. */
	struct veo_thr_ctxt *dflt = test_ctx_open(proc);
	CHECK_EQ_U64(test_call1(dflt, use_stack, 2 * MiB), use_stack_sum(2 * MiB));
	CHECK_EQ_I64(veo_num_contexts(proc), 2);

	CHECK_EQ_I64(veo_context_close(big), 0);
	CHECK_EQ_I64(veo_context_close(dflt), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
