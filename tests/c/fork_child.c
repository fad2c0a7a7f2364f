/*
 * fork_child.c: a forked child never harms the parent's procs. In the
 * child every call on an inherited proc or context fails at once, saying
 * whose it is; destroying or closing them releases the child's copies and
 * leaves the parent's worker running; the child can create procs of its
 * own. The parent's proc answers afterwards as before, also after a child
 * that just exits. Run under ASan by tests/tools/extra-checks.
 */
#include <sys/wait.h>

#include "testlib.h"

/* The child's checks; its exit status is the number of failed ones. */
static int in_child(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t fn,
                    uint64_t id, uint64_t addr)
{
	char want[128];
	uint64_t r = 0, a = 0;
	char buf[8];

	snprintf(want, sizeof want, "belongs to process %d (inherited across fork)",
	         (int)getppid());
	veo_set_error_print(0);
	struct veo_args *args = test_args();
	CHECK_FAILS(veo_call_async(ctx, fn, args), VEO_REQUEST_ID_INVALID, want);
	CHECK_FAILS(veo_call_wait_result(ctx, id, &r), -1, want);
	CHECK_FAILS(veo_call_peek_result(ctx, id, &r), -1, want);
	CHECK_FAILS(veo_call_sync(proc, fn, args, &r), -1, want);
	CHECK_FAILS(veo_alloc_mem(proc, &a, 64), -1, want);
	CHECK_FAILS(veo_read_mem(proc, buf, addr, sizeof buf), -1, want);
	CHECK_FAILS(veo_write_mem(proc, addr, buf, sizeof buf), -1, want);
	CHECK_FAILS(veo_async_read_mem(ctx, buf, addr, sizeof buf), VEO_REQUEST_ID_INVALID, want);
	CHECK_FAILS(veo_load_library(proc, kernel_path(TK_LIB_MAIN)), 0, want);
	CHECK_FAILS(veo_context_open(proc) == NULL, 1, want);
	/* Its copies are released; the parent's worker is not touched. */
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	CHECK_FAILS(veo_proc_destroy(proc), -1, "bad proc handle");
	veo_set_error_print(1);
	/* A proc of its own works. */
	struct veo_proc_handle *mine = test_proc_create();
	struct veo_thr_ctxt *mctx = test_ctx_open(mine);
	uint64_t lib = test_load(mine, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(mctx, test_sym(mine, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_proc_destroy(mine), 0);
	veo_args_free(args);
	return test_failures;
}

static void parent_still_works(struct veo_thr_ctxt *ctx, uint64_t fn, pid_t worker,
                               struct veo_proc_handle *proc)
{
	CHECK_EQ_U64(test_call0(ctx, fn), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_proc_pid(proc), worker);
	CHECK_EQ_I64(kill(worker, 0), 0);
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);
}

int main(void)
{
	test_init("fork_child");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN), addr, r = 0;
	uint64_t fn = test_sym(proc, lib, "empty");
	pid_t worker = veo_proc_pid(proc);

	REQUIRE(veo_alloc_mem(proc, &addr, 64) == 0);
	CHECK_EQ_U64(test_call0(ctx, fn), TK_EMPTY_RESULT);
	/* A request the parent has in flight when it forks. */
	uint64_t id = test_submit1(ctx, test_sym(proc, lib, "sleep_us"), 1000);

	fflush(NULL);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0)
		_exit(in_child(proc, ctx, fn, id, addr) ? 1 : 0);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The parent's request and proc are as they were. */
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	parent_still_works(ctx, fn, worker, proc);

	/* A child that only exits (or dies) does no harm either. */
	fflush(NULL);
	child = fork();
	REQUIRE(child >= 0);
	if (child == 0)
		exit(0);
	REQUIRE(waitpid(child, &status, 0) == child);
	parent_still_works(ctx, fn, worker, proc);

	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
