/*
 * crash_unseen.c: deaths the worker cannot report itself. A kernel that
 * blocks every signal and then faults is killed by the system without the
 * crash handler; a kernel that calls _exit() skips the exit handlers. The
 * request that was running still gets VEO_COMMAND_EXCEPTION naming the
 * signal (or the status) and the kernel; the ones queued behind it "request
 * not run". And a host that reaps its own children (SIGCHLD ignored, or a
 * handler calling waitpid(-1)) learns what is known: the worker ended,
 * its status was collected elsewhere, and which kernel was running.
 */
#include <sys/wait.h>

#include "testlib.h"

struct dead_call {
	int running_rc, queued_rc;
	char running_msg[1024], queued_msg[1024];
	struct veo_death_info info;
};

/* Runs kernel(arg) with a second call queued behind it, collects both. */
static void run_dead(const char *kernel, uint64_t arg, struct dead_call *d)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t crash = test_load(proc, TK_LIB_CRASH), lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fn = test_sym(proc, crash, kernel), empty = test_sym(proc, lib, "empty");
	uint64_t id = test_submit1(ctx, fn, arg);
	uint64_t next = test_submit1(ctx, empty, 0), r = 0;

	veo_set_error_print(0);
	d->running_rc = veo_call_wait_result(ctx, id, &r);
	snprintf(d->running_msg, sizeof d->running_msg, "%s", veo_last_error());
	d->queued_rc = veo_call_wait_result(ctx, next, &r);
	snprintf(d->queued_msg, sizeof d->queued_msg, "%s", veo_last_error());
	veo_set_error_print(1);
	CHECK_EQ_I64(veo_proc_death_info(proc, &d->info), 1);
	printf("   %s: %s\n", kernel, d->running_msg);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

static void reaped(const char *how)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN), flags = test_flag_words(proc), r = 0;
	struct veo_args *args = test_args();

	/* wait_flag holds the context until the flag is set (never, here); the
	 * second word says it started. */
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "wait_flag"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	veo_args_free(args);
	for (uint64_t started = 0; !started;) {
		REQUIRE(veo_read_mem(proc, &started, flags + 8, sizeof started) == 0);
		sched_yield();
	}
	REQUIRE(kill(veo_proc_pid(proc), SIGKILL) == 0);
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	printf("   reaped (%s): %s\n", how, veo_last_error());
	CHECK_CONTAINS(veo_last_error(), "exit status was collected elsewhere");
	CHECK_CONTAINS(veo_last_error(), "while running kernel wait_flag");
	veo_set_error_print(1);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

static void reap_all(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	test_init("crash_unseen");
	struct dead_call d;

	run_dead("crash_segv_blocked", 0, &d);
	CHECK_EQ_I64(d.running_rc, VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(d.running_msg, "killed by signal 11 (SIGSEGV)");
	CHECK_CONTAINS(d.running_msg, "while running kernel crash_segv_blocked");
	CHECK_EQ_I64(d.queued_rc, VEO_COMMAND_ERROR);
	CHECK_CONTAINS(d.queued_msg, "request not run");
	CHECK_EQ_I64(d.info.cause, VEO_DEATH_SIGNAL);
	CHECK_EQ_I64(d.info.signo, SIGSEGV);
	CHECK(strcmp(d.info.kernel, "crash_segv_blocked") == 0);

	run_dead("crash_underscore_exit", 7, &d);
	CHECK_EQ_I64(d.running_rc, VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(d.running_msg, "kernel crash_underscore_exit ended the VE process");
	CHECK_CONTAINS(d.running_msg, "with status 7");
	CHECK_EQ_I64(d.queued_rc, VEO_COMMAND_ERROR);
	CHECK_CONTAINS(d.queued_msg, "request not run");
	CHECK_EQ_I64(d.info.cause, VEO_DEATH_EXIT);
	CHECK_EQ_I64(d.info.exit_status, 7);

	signal(SIGCHLD, SIG_IGN);
	reaped("SIGCHLD ignored");
	signal(SIGCHLD, reap_all);
	reaped("a SIGCHLD handler reaps");
	signal(SIGCHLD, SIG_DFL);
	return test_done();
}
