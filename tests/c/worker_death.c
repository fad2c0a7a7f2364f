/*
 * worker_death.c: the worker dying in ways other than a signal in the
 * kernel being waited for. Pending requests of every context end (no
 * waiter hangs), the host survives, and the contexts report
 * VEO_STATE_EXIT:
 *  - a kernel calls exit();
 *  - the worker is killed from outside (SIGKILL) while a kernel sleeps;
 *  - a kernel crashes on one context while another context runs a long
 *    kernel and has more queued behind the crash.
 */
#include "testlib.h"

/* A request that cannot complete normally ends within `limit` seconds,
 * not OK. */
static void check_ends(struct veo_thr_ctxt *ctx, uint64_t id, double limit,
                       const char *what)
{
	uint64_t r = 0;
	double t0 = test_now();
	int rc = veo_call_wait_result(ctx, id, &r);
	double dt = test_now() - t0;
	CHECKF(rc == VEO_COMMAND_ERROR || rc == VEO_COMMAND_EXCEPTION,
	       "%s: wait returned %d, want VEO_COMMAND_ERROR or _EXCEPTION", what, rc);
	CHECKF(dt < limit, "%s: wait took %.3f s", what, dt);
}

static void kernel_exits(void)
{
	printf("-- a kernel calls exit(3)\n");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	struct veo_args *args = test_args();
	veo_args_set_i32(args, 0, 3);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "crash_exit"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	uint64_t r = 0;
	/* exit() in a kernel is reported like a crash, naming kernel and status. */
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(veo_last_error(), "crash_exit");
	CHECK_CONTAINS(veo_last_error(), "exit(3)");
	printf("   veo_last_error: %s\n", veo_last_error());
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);
	veo_args_free(args);
	veo_context_close(ctx);
	veo_proc_destroy(proc);
}

static void killed_from_outside(void)
{
	printf("-- the worker is killed with SIGKILL\n");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t r = 0;

	uint64_t running = test_submit1(ctx, sleep_us, 20000000);
	uint64_t queued = test_submit1(ctx, sleep_us, 1);
	CHECK_EQ_I64(veo_call_peek_result(ctx, running, &r), VEO_COMMAND_UNFINISHED);
	pid_t pid = veo_proc_pid(proc);
	REQUIRE(pid > 0);
	REQUIRE(kill(pid, SIGKILL) == 0);

	check_ends(ctx, running, 10, "running request of a killed worker");
	check_ends(ctx, queued, 10, "queued request of a killed worker");
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);

	/* New work is refused rather than lost. */
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, 1);
	uint64_t id = veo_call_async(ctx, sleep_us, args);
	if (id != VEO_REQUEST_ID_INVALID)
		check_ends(ctx, id, 10, "request submitted after the worker died");
	CHECK(veo_call_sync(proc, sleep_us, args, &r) != VEO_COMMAND_OK);
	CHECK(veo_load_library(proc, kernel_path(TK_LIB_CRASH)) == 0);
	veo_args_free(args);

	veo_context_close(ctx);
	veo_proc_destroy(proc);
}

static void crash_beside_other_contexts(void)
{
	printf("-- a crash on one context while another is busy\n");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *busy = test_ctx_open(proc);
	struct veo_thr_ctxt *crashing = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t crashlib = test_load(proc, TK_LIB_CRASH);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t r = 0;

	uint64_t long_id = test_submit1(busy, sleep_us, 20000000);
	struct veo_args *args = test_args();
	/* A first request holds the crash back until everything is queued. */
	uint64_t gate = test_submit1(crashing, sleep_us, 300000);
	uint64_t crash_id = veo_call_async(crashing, test_sym(proc, crashlib, "crash_segv"), args);
	REQUIRE(crash_id != VEO_REQUEST_ID_INVALID);
	uint64_t behind = test_submit1(crashing, sleep_us, 1);

	CHECK_EQ_I64(veo_call_wait_result(crashing, gate, &r), VEO_COMMAND_OK);
	int rc = veo_call_wait_result(crashing, crash_id, &r);
	CHECK_EQ_I64(rc, VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
	check_ends(crashing, behind, 10, "request queued behind the crash");
	check_ends(busy, long_id, 10, "long request on another context");
	CHECK_EQ_I64(veo_get_context_state(busy), VEO_STATE_EXIT);
	CHECK_EQ_I64(veo_get_context_state(crashing), VEO_STATE_EXIT);

	veo_args_free(args);
	veo_context_close(busy);
	veo_context_close(crashing);
	veo_proc_destroy(proc);
}

int main(void)
{
	test_init("worker_death");
	/* A proc that lives through the others' deaths. */
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t inc = test_sym(proc, lib, "inc_counter");
	CHECK_EQ_I64((int)test_call0(ctx, inc), TK_COUNTER_INIT + 1);

	veo_set_error_print(0);
	kernel_exits();
	killed_from_outside();
	crash_beside_other_contexts();
	veo_set_error_print(1);

	/* It is not affected, and a new proc works too. */
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_RUNNING);
	CHECK_EQ_I64((int)test_call0(ctx, inc), TK_COUNTER_INIT + 2);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);

	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
