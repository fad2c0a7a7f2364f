/*
 * worker_killed.c: a worker killed from outside (SIGKILL), idle or in the
 * middle of calls, is noticed quickly: every wait, peek, sync and
 * veo_call_sync on it returns an error well within 100 ms of the kill (the
 * design gives about 20 ms; the checks allow 1 s so that a loaded machine
 * does not fail the test, and the measured times are printed). The host
 * keeps SIGPIPE's default action here: no SIGPIPE may reach it, before or
 * after the worker's death, through any call or the destroy.
 */
#include <pthread.h>

#include "testlib.h"

#define LIMIT_S 1.0

struct waiter {
	struct veo_thr_ctxt *ctx;
	uint64_t id;
	int peek;                  /* peek in a loop instead of waiting */
	struct veo_proc_handle *sync_proc; /* veo_call_sync instead */
	uint64_t fn, flags;
	int rc;
	double done_at;
	char err[512];
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t r = 0;

	if (w->sync_proc) {
		struct veo_args *args = veo_args_alloc();
		veo_args_set_u64(args, 0, w->flags);
		veo_args_set_u64(args, 1, w->flags + 8);
		w->rc = veo_call_sync(w->sync_proc, w->fn, args, &r);
		veo_args_free(args);
	} else if (w->peek) {
		while ((w->rc = veo_call_peek_result(w->ctx, w->id, &r)) == VEO_COMMAND_UNFINISHED)
			sched_yield();
	} else {
		w->rc = veo_call_wait_result(w->ctx, w->id, &r);
	}
	w->done_at = test_now();
	snprintf(w->err, sizeof w->err, "%s", veo_last_error());
	return NULL;
}

static void check_waiter(struct waiter *w, double killed_at, const char *what)
{
	double dt = w->done_at - killed_at;
	printf("   %-34s returned %d after %6.2f ms: %s\n", what, w->rc, dt * 1e3, w->err);
	/* veo_call_sync: negative, as AVEO; the others: the command state. */
	int want = w->sync_proc ? -1 : VEO_COMMAND_ERROR;
	CHECKF(w->rc == want, "%s returned %d, want %d", what, w->rc, want);
	CHECKF(dt < LIMIT_S, "%s took %.3f s after the kill", what, dt);
	CHECK_CONTAINS(w->err, "killed by signal 9");
}

/* Calls in flight on three contexts and the sync context, each waited for
 * by a thread of its own, one of them only peeking. */
static void killed_mid_call(void)
{
	printf("-- killed while kernels run\n");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t flags = test_flag_words(proc);
	struct veo_thr_ctxt *ctx[3];
	for (int i = 0; i < 3; i++)
		ctx[i] = test_ctx_open(proc);

	struct waiter w[5];
	memset(w, 0, sizeof w);
	w[0] = (struct waiter){ .ctx = ctx[0], .id = test_submit1(ctx[0], sleep_us, 60000000) };
	w[1] = (struct waiter){ .ctx = ctx[0], .id = test_submit1(ctx[0], sleep_us, 1) };
	w[2] = (struct waiter){ .ctx = ctx[1], .id = test_submit1(ctx[1], sleep_us, 60000000),
	                        .peek = 1 };
	/* Context 2 and the sync context are held by a kernel the test can
	 * see running. */
	uint64_t wait_flag = test_sym(proc, lib, "wait_flag");
	w[3] = (struct waiter){ .sync_proc = proc, .fn = wait_flag, .flags = flags };
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	w[4] = (struct waiter){ .ctx = ctx[2], .id = veo_call_async(ctx[2], wait_flag, args) };
	veo_args_free(args);

	pthread_t t[5];
	for (int i = 0; i < 5; i++)
		REQUIRE(pthread_create(&t[i], NULL, waiter_thread, &w[i]) == 0);
	uint64_t started = 0;
	while (started < 2)
		REQUIRE(veo_read_mem(proc, &started, flags + 8, sizeof started) == 0);
	uint64_t r = 0;
	CHECK_EQ_I64(veo_call_peek_result(ctx[0], w[0].id, &r), VEO_COMMAND_UNFINISHED);

	veo_set_error_print(0);
	pid_t pid = veo_proc_pid(proc);
	double killed_at = test_now();
	REQUIRE(kill(pid, SIGKILL) == 0);
	/* And a context_sync of the main thread. */
	veo_context_sync(ctx[2]);
	double sync_dt = test_now() - killed_at;
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	check_waiter(&w[0], killed_at, "wait on the running request");
	check_waiter(&w[1], killed_at, "wait on a queued request");
	check_waiter(&w[2], killed_at, "peek loop on a running request");
	check_waiter(&w[3], killed_at, "veo_call_sync");
	check_waiter(&w[4], killed_at, "wait on wait_flag");
	printf("   %-34s returned after %6.2f ms\n", "veo_context_sync", sync_dt * 1e3);
	CHECKF(sync_dt < LIMIT_S, "veo_context_sync took %.3f s", sync_dt);

	/* The report says which kernel ran. */
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 1);
	CHECK_EQ_I64(info.cause, VEO_DEATH_KILLED);
	CHECK_EQ_I64(info.signo, SIGKILL);
	CHECK(strcmp(info.signame, "SIGKILL") == 0);
	CHECK_CONTAINS(info.report, "while running kernel ");
	printf("   report: %s\n", info.report);
	/* Later calls fail at once. */
	CHECK_EQ_U64(veo_call_async(ctx[0], sleep_us, NULL), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_load_library(proc, kernel_path(TK_LIB_MAIN)), 0);
	CHECK_CONTAINS(veo_last_error(), "killed by signal 9");
	veo_set_error_print(1);

	for (int i = 0; i < 3; i++)
		CHECK_EQ_I64(veo_context_close(ctx[i]), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

/* Nothing running: the first call after the kill fails, or its wait or
 * peek does, quickly. */
static void killed_idle(int use_peek)
{
	printf("-- killed while idle, then a call and a %s\n", use_peek ? "peek" : "wait");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t empty = test_sym(proc, lib, "empty");
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	veo_set_error_print(0);
	struct veo_args *args = test_args();
	double killed_at = test_now();
	REQUIRE(kill(veo_proc_pid(proc), SIGKILL) == 0);
	uint64_t id = veo_call_async(ctx, empty, args), r = 0;
	int rc = VEO_COMMAND_ERROR;
	if (id != VEO_REQUEST_ID_INVALID) {
		if (use_peek)
			while ((rc = veo_call_peek_result(ctx, id, &r)) == VEO_COMMAND_UNFINISHED)
				sched_yield();
		else
			rc = veo_call_wait_result(ctx, id, &r);
	}
	double dt = test_now() - killed_at;
	/* The kernel may have run before the kill took effect: then OK. */
	printf("   call %s, %s returned %d after %.2f ms: %s\n",
	       id == VEO_REQUEST_ID_INVALID ? "refused" : "queued", use_peek ? "peek" : "wait",
	       rc, dt * 1e3, veo_last_error());
	CHECKF(rc == VEO_COMMAND_ERROR || rc == VEO_COMMAND_OK, "rc %d", rc);
	CHECKF(dt < LIMIT_S, "took %.3f s", dt);

	/* Whatever happened to that one, the death is noticed by now... */
	id = veo_call_async(ctx, empty, args);
	if (id != VEO_REQUEST_ID_INVALID) /* (submitted before a check) */
		CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	dt = test_now() - killed_at;
	CHECKF(dt < LIMIT_S, "the second call ended %.3f s after the kill", dt);
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);
	uint64_t a = 0;
	CHECK(veo_alloc_mem(proc, &a, 64) < 0);
	CHECK_CONTAINS(veo_last_error(), "killed by signal 9");
	veo_set_error_print(1);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("worker_killed");
	/* A SIGPIPE would end this test with that signal. */
	signal(SIGPIPE, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	killed_idle(0);
	killed_idle(1);
	killed_mid_call();

	/* After all that, a new proc works. */
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
