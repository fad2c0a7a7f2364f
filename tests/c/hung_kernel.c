/*
 * hung_kernel.c: kernels that never return. A timed wait gives up on them
 * (VEO_COMMAND_UNFINISHED, the request still pending), and destroying
 * their proc takes well under a second: the worker is told to exit by its
 * control thread, which no kernel holds, and is killed if it does not.
 * Here three contexts are stuck (a busy loop, a sleep, a wait for a flag
 * never set) with more requests queued.
 */
#include <sys/wait.h>

#include "testlib.h"

static void destroy_hung(void)
{
	printf("-- destroying a proc whose kernels never return\n");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t spin = test_sym(proc, lib, "spin_forever");
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t wait_flag = test_sym(proc, lib, "wait_flag");
	uint64_t flags = test_flag_words(proc);
	struct veo_thr_ctxt *ctx[3];
	for (int i = 0; i < 3; i++)
		ctx[i] = test_ctx_open(proc);

	struct veo_args *args = test_args();
	uint64_t id_spin = veo_call_async(ctx[0], spin, args);
	uint64_t id_sleep = test_submit1(ctx[1], sleep_us, 3600ull * 1000000);
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	uint64_t id_flag = veo_call_async(ctx[2], wait_flag, args);
	REQUIRE(id_spin != VEO_REQUEST_ID_INVALID && id_flag != VEO_REQUEST_ID_INVALID);
	test_submit1(ctx[0], sleep_us, 1); /* queued behind */
	uint64_t started = 0;
	while (started < 1)
		REQUIRE(veo_read_mem(proc, &started, flags + 8, sizeof started) == 0);

	/* A timed wait gives up and leaves the request pending. */
	uint64_t r = 0;
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx[0], id_spin, &r, 50000),
	             VEO_COMMAND_UNFINISHED);
	double dt = test_now() - t0;
	CHECKF(dt >= 0.045 && dt < 1.0, "a 50 ms timed wait took %.3f s", dt);
	CHECK_EQ_I64(veo_call_peek_result(ctx[1], id_sleep, &r), VEO_COMMAND_UNFINISHED);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx[2], id_flag, &r, 0),
	             VEO_COMMAND_UNFINISHED);

	pid_t pid = veo_proc_pid(proc);
	t0 = test_now();
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	dt = test_now() - t0;
	printf("   veo_proc_destroy took %.2f ms\n", dt * 1e3);
	CHECKF(dt < 1.0, "veo_proc_destroy took %.3f s", dt);
	/* The worker is gone and reaped. */
	CHECK(kill(pid, 0) != 0 && errno == ESRCH);
	CHECK(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);
	veo_args_free(args);
}

int main(void)
{
	test_init("hung_kernel");
	destroy_hung();

	/* A caller that gives up waiting, then destroys. */
	printf("-- a hung kernel in veo_call_wait_result_timeout, then destroy\n");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "spin_forever"), args), r;
	for (int i = 0; i < 3; i++)
		CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 10000),
		             VEO_COMMAND_UNFINISHED);
	double t0 = test_now();
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	printf("   veo_proc_destroy took %.2f ms\n", (test_now() - t0) * 1e3);
	CHECK(test_now() - t0 < 1.0);
	veo_args_free(args);

	/* A new proc works. */
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
