/*
 * crash_signals.c: a kernel that crashes kills its worker, never the host.
 * For each way to crash (SIGSEGV, SIGFPE, SIGILL, SIGBUS, SIGABRT, a stack
 * overflow) the request ends with VEO_COMMAND_EXCEPTION, veo_last_error()
 * names the signal and the kernel, the context reports VEO_STATE_EXIT,
 * further requests fail instead of hanging, and a new proc works.
 */
#include "testlib.h"

struct crash_case {
	const char *kernel;
	const char *signame;
};

static const struct crash_case cases[] = {
	{ "crash_segv", "SIGSEGV" },
	{ "crash_fpe", "SIGFPE" },
#if defined(__x86_64__) || defined(__i386__)
	{ "crash_ill", "SIGILL" },   /* __builtin_trap is ud2 here */
#endif
	{ "crash_bus", "SIGBUS" },
	{ "crash_abort", "SIGABRT" },
	{ "crash_stack_overflow", "SIGSEGV" },
};

static void crash_in_context(const struct crash_case *c)
{
	printf("-- %s\n", c->kernel);
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	uint64_t fn = test_sym(proc, lib, c->kernel);
	struct veo_args *args = test_args();
	veo_args_set_i32(args, 0, 1);
	uint64_t r = 0;

	veo_set_error_print(0);
	uint64_t crash_id = veo_call_async(ctx, fn, args);
	REQUIRE(crash_id != VEO_REQUEST_ID_INVALID);
	int rc = veo_call_wait_result(ctx, crash_id, &r);
	CHECKF(rc == VEO_COMMAND_EXCEPTION, "%s: wait returned %d, want "
	       "VEO_COMMAND_EXCEPTION (%d)", c->kernel, rc, VEO_COMMAND_EXCEPTION);
	const char *err = veo_last_error();
	CHECK_CONTAINS(err, c->signame);
	CHECK_CONTAINS(err, c->kernel);
	printf("   veo_last_error: %s\n", err);

	/* The worker is gone; the context says so. */
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);
	/* A new request fails, at submission or when collected, without
	 * hanging. */
	uint64_t id = veo_call_async(ctx, fn, args);
	if (id != VEO_REQUEST_ID_INVALID)
		CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	/* The crashed request's result was collected once. */
	CHECK_EQ_I64(veo_call_wait_result(ctx, crash_id, &r), VEO_COMMAND_ERROR);
	veo_set_error_print(1);

	veo_args_free(args);
	/* Closing and destroying a dead proc release it (whatever they return). */
	veo_context_close(ctx);
	veo_proc_destroy(proc);
}

/* veo_call_sync reports the crash the same way. */
static void crash_in_call_sync(void)
{
	printf("-- crash_segv through veo_call_sync\n");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	struct veo_args *args = test_args();
	uint64_t r = 0;
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "crash_segv"), args, &r),
	             VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
	CHECK_CONTAINS(veo_last_error(), "crash_segv");
	veo_set_error_print(1);
	veo_args_free(args);
	veo_proc_destroy(proc);
}

int main(void)
{
	test_init("crash_signals");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		crash_in_context(&cases[i]);
	crash_in_call_sync();

	/* After all that, a new proc works. */
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
