/*
 * kernel_forks.c: a kernel that forks a helper process. The helper inherits
 * the worker's crash handlers and exit hook; its exit, crash or _exit is
 * its own, not the worker's: the kernel's result arrives, the proc lives on
 * and answers the next call.
 */
#include <sys/wait.h>

#include "testlib.h"

int main(void)
{
	test_init("kernel_forks");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t crash = test_load(proc, TK_LIB_CRASH), lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fork_helper = test_sym(proc, crash, "fork_helper");
	uint64_t empty = test_sym(proc, lib, "empty");
	struct veo_death_info info;

	int st = (int)test_call1(ctx, fork_helper, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
	st = (int)test_call1(ctx, fork_helper, 1);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	st = (int)test_call1(ctx, fork_helper, 2);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6);

	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
