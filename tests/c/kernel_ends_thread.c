/*
 * kernel_ends_thread.c: a kernel that calls pthread_exit() ends its
 * context's thread in the middle of a request. The request is answered
 * with VEO_COMMAND_ERROR naming the kernel, the requests queued behind it
 * run, and the context goes on in a new thread: later calls work, and the
 * proc lives.
 */
#include "testlib.h"

int main(void)
{
	test_init("kernel_ends_thread");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t crash = test_load(proc, TK_LIB_CRASH), lib = test_load(proc, TK_LIB_MAIN);
	uint64_t end = test_sym(proc, crash, "end_thread"), echo = test_sym(proc, lib, "echo_u64");
	uint64_t r = 0;

	for (int round = 0; round < 3; round++) {
		uint64_t id = test_submit1(ctx, end, 0);
		uint64_t next = test_submit1(ctx, echo, 100 + round); /* queued behind it */
		veo_set_error_print(0);
		CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
		CHECK_CONTAINS(veo_last_error(), "kernel end_thread ended its thread");
		veo_set_error_print(1);
		CHECK_EQ_I64(veo_call_wait_result(ctx, next, &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, 100 + round);
	}
	CHECK_EQ_U64(test_call1(ctx, echo, 7), 7);
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
