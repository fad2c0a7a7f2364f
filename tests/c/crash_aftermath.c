/*
 * crash_aftermath.c: what a crash does to the rest of its proc, and what it
 * does not do to other procs.
 *
 * Proc A has three contexts with requests running and queued, a thread in
 * veo_call_sync, and a context whose kernel crashes. When it does:
 *  - the crashed request gets VEO_COMMAND_EXCEPTION with the report;
 *  - every other pending request of A, on every context (running, queued,
 *    never waited for, host calls, memory requests) completes with
 *    VEO_COMMAND_ERROR, "request not run: <why>";
 *  - every later call on A fails at once with a one-line message naming
 *    the signal;
 *  - proc B, busy at the time, finishes its request and goes on working.
 * Kernels hold their contexts with wait_flag (they wait for a flag in VE
 * memory), so nothing here depends on timing.
 */
#include <pthread.h>

#include "testlib.h"

struct procs {
	struct veo_proc_handle *a, *b;
	uint64_t lib_a, lib_b, crashlib;
	uint64_t wait_flag_a, wait_flag_b;
	uint64_t flags_a, flags_b; /* VE memory: [0] release, [1] started */
};

static uint64_t vh_func(void *arg)
{
	(void)arg;
	return 7;
}

/* wait_flag(flags, flags + 8) on ctx. */
static uint64_t submit_wait_flag(struct veo_thr_ctxt *ctx, uint64_t fn, uint64_t flags)
{
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	uint64_t id = veo_call_async(ctx, fn, args);
	veo_args_free(args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	return id;
}

/* Waits until n wait_flag kernels run on proc (reads the counter). */
static void wait_started(struct veo_proc_handle *proc, uint64_t flags, uint64_t n)
{
	uint64_t started = 0;
	double t0 = test_now();
	while (started < n) {
		REQUIRE(veo_read_mem(proc, &started, flags + 8, sizeof started) == 0);
		REQUIREF(test_now() - t0 < 30, "only %" PRIu64 " of %" PRIu64 " kernels started",
		         started, n);
		sched_yield();
	}
}

struct sync_call {
	struct procs *pr;
	int rc;
	char err[1024];
};

static void *call_sync_thread(void *arg)
{
	struct sync_call *s = arg;
	struct veo_args *args = veo_args_alloc();
	uint64_t r = 0;
	veo_args_set_u64(args, 0, s->pr->flags_a);
	veo_args_set_u64(args, 1, s->pr->flags_a + 8);
	s->rc = veo_call_sync(s->pr->a, s->pr->wait_flag_a, args, &r);
	snprintf(s->err, sizeof s->err, "%s", veo_last_error());
	veo_args_free(args);
	return NULL;
}

static void check_not_run(struct veo_thr_ctxt *ctx, uint64_t id, const char *what)
{
	uint64_t r = 0;
	int rc = veo_call_wait_result(ctx, id, &r);
	CHECKF(rc == VEO_COMMAND_ERROR, "%s: wait returned %d, want VEO_COMMAND_ERROR",
	       what, rc);
	CHECK_CONTAINS(veo_last_error(), "request not run");
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
}

/* Every call on the dead proc fails at once, saying why in one line. */
static void later_calls_fail(struct procs *pr, struct veo_thr_ctxt *ctx, uint64_t heap)
{
	struct veo_proc_handle *p = pr->a;
	struct veo_args *args = test_args();
	uint64_t a = 0, r = 0;
	char buf[64] = { 0 };
	double t0 = test_now();
	int n = 0;

#define FAILS(expr, bad)                                                              \
	do {                                                                          \
		CHECKF((expr) == (bad), "%s did not fail", #expr);                     \
		CHECK_CONTAINS(veo_last_error(), "SIGSEGV");                           \
		CHECKF(strchr(veo_last_error(), '\n') == NULL,                         \
		       "%s: the message has more than one line", #expr);               \
		n++;                                                                  \
	} while (0)

	FAILS(veo_load_library(p, kernel_path(TK_LIB_MAIN)), 0);
	FAILS(veo_unload_library(p, pr->lib_a), -1);
	FAILS(veo_get_sym(p, pr->lib_a, "wait_flag"), 0);  /* cached */
	FAILS(veo_get_sym(p, pr->lib_a, "empty"), 0);      /* not cached */
	FAILS(veo_alloc_mem(p, &a, 64), -1);
	FAILS(veo_free_mem(p, heap), -1);
	FAILS(veo_read_mem(p, buf, heap, sizeof buf), -1);
	FAILS(veo_write_mem(p, heap, buf, sizeof buf), -1);
	FAILS(veo_context_open(p) == NULL, 1);
	FAILS(veo_call_async(ctx, pr->wait_flag_a, args), VEO_REQUEST_ID_INVALID);
	FAILS(veo_call_async_by_name(ctx, pr->lib_a, "empty", args), VEO_REQUEST_ID_INVALID);
	FAILS(veo_call_async_vh(ctx, vh_func, NULL), VEO_REQUEST_ID_INVALID);
	FAILS(veo_call_sync(p, pr->wait_flag_a, args, &r) == VEO_COMMAND_OK, 0);
	FAILS(veo_alloc_mem_async(ctx, 64), VEO_REQUEST_ID_INVALID);
	FAILS(veo_free_mem_async(ctx, heap), VEO_REQUEST_ID_INVALID);
	FAILS(veo_async_read_mem(ctx, buf, heap, sizeof buf), VEO_REQUEST_ID_INVALID);
	FAILS(veo_async_write_mem(ctx, heap, buf, sizeof buf), VEO_REQUEST_ID_INVALID);
#undef FAILS
	double dt = test_now() - t0;
	printf("%d calls on the dead proc failed in %.3f ms\n", n, dt * 1e3);
	CHECKF(dt < 1.0, "%d failing calls took %.3f s", n, dt);

	/* What still works: the bookkeeping, and it says the proc is gone. */
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);
	CHECK_EQ_I64(veo_num_contexts(p), 3);
	CHECK(veo_proc_pid(p) > 0);
	veo_context_sync(ctx); /* returns */
	veo_args_free(args);
}

int main(void)
{
	test_init("crash_aftermath");
	struct procs pr;
	struct veo_thr_ctxt *ctx[3], *ctx_b;

	pr.a = test_proc_create();
	pr.b = test_proc_create();
	pr.lib_a = test_load(pr.a, TK_LIB_MAIN);
	pr.lib_b = test_load(pr.b, TK_LIB_MAIN);
	pr.crashlib = test_load(pr.a, TK_LIB_CRASH);
	pr.wait_flag_a = test_sym(pr.a, pr.lib_a, "wait_flag");
	pr.wait_flag_b = test_sym(pr.b, pr.lib_b, "wait_flag");
	REQUIRE(veo_alloc_mem(pr.a, &pr.flags_a, 16) == 0);
	REQUIRE(veo_alloc_mem(pr.b, &pr.flags_b, 16) == 0);
	uint64_t zero[2] = { 0, 0 };
	REQUIRE(veo_write_mem(pr.a, pr.flags_a, zero, sizeof zero) == 0);
	REQUIRE(veo_write_mem(pr.b, pr.flags_b, zero, sizeof zero) == 0);
	for (int i = 0; i < 3; i++)
		ctx[i] = test_ctx_open(pr.a);
	ctx_b = test_ctx_open(pr.b);

	/* B: a request that runs through A's crash. */
	uint64_t b_id = submit_wait_flag(ctx_b, pr.wait_flag_b, pr.flags_b);

	/* A, context 0: running, with requests of every kind queued behind. */
	uint64_t run0 = submit_wait_flag(ctx[0], pr.wait_flag_a, pr.flags_a);
	char host[64];
	uint64_t q_call = test_submit1(ctx[0], test_sym(pr.a, pr.lib_a, "sleep_us"), 1);
	uint64_t q_vh = veo_call_async_vh(ctx[0], vh_func, NULL);
	uint64_t q_read = veo_async_read_mem(ctx[0], host, pr.flags_a, 16);
	uint64_t q_alloc = veo_alloc_mem_async(ctx[0], 128);
	REQUIRE(q_vh != VEO_REQUEST_ID_INVALID && q_read != VEO_REQUEST_ID_INVALID &&
	        q_alloc != VEO_REQUEST_ID_INVALID);
	/* Context 1: running, never waited for before the crash. */
	uint64_t run1 = submit_wait_flag(ctx[1], pr.wait_flag_a, pr.flags_a);
	/* The hidden context of veo_call_sync, from another thread. */
	struct sync_call sc = { .pr = &pr };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, call_sync_thread, &sc) == 0);
	wait_started(pr.a, pr.flags_a, 3);
	wait_started(pr.b, pr.flags_b, 1);

	/* Context 2: the crash, and a request behind it. */
	veo_set_error_print(0);
	struct veo_args *args = test_args();
	uint64_t crash_segv = test_sym(pr.a, pr.crashlib, "crash_segv");
	uint64_t sleep_us = test_sym(pr.a, pr.lib_a, "sleep_us");
	uint64_t crash = veo_call_async(ctx[2], crash_segv, args);
	REQUIRE(crash != VEO_REQUEST_ID_INVALID);
	/* (queued behind the crash if it comes in time; refused if not) */
	uint64_t behind = veo_call_async(ctx[2], sleep_us, args);
	uint64_t r = 0;
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result(ctx[2], crash, &r), VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(veo_last_error(), "crash_segv");
	CHECK_CONTAINS(veo_last_error(), "backtrace:");

	if (behind != VEO_REQUEST_ID_INVALID)
		check_not_run(ctx[2], behind, "request behind the crash");
	check_not_run(ctx[0], run0, "running request of another context");
	check_not_run(ctx[0], q_call, "queued call");
	check_not_run(ctx[0], q_vh, "queued host call");
	check_not_run(ctx[0], q_read, "queued async read");
	check_not_run(ctx[0], q_alloc, "queued async alloc");
	check_not_run(ctx[1], run1, "request never waited for");
	pthread_join(t, NULL);
	/* AVEO's convention: any failure is negative. */
	CHECKF(sc.rc == -1, "veo_call_sync returned %d", sc.rc);
	CHECK_CONTAINS(sc.err, "SIGSEGV");
	double dt = test_now() - t0;
	printf("the crash and 8 other requests ended in %.3f ms\n", dt * 1e3);
	CHECKF(dt < 1.0, "ending the requests took %.3f s", dt);

	later_calls_fail(&pr, ctx[0], pr.flags_a);
	veo_set_error_print(1);

	/* B did not notice: its request finishes when released, and it works. */
	CHECK_EQ_I64(veo_call_peek_result(ctx_b, b_id, &r), VEO_COMMAND_UNFINISHED);
	uint64_t release[1] = { 5 };
	CHECK_EQ_I64(veo_write_mem(pr.b, pr.flags_b, release, sizeof release), 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx_b, b_id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 5);
	CHECK_EQ_U64(test_call0(ctx_b, test_sym(pr.b, pr.lib_b, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_get_context_state(ctx_b), VEO_STATE_RUNNING);

	veo_args_free(args);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_I64(veo_context_close(ctx[i]), 0);
	CHECK_EQ_I64(veo_proc_destroy(pr.a), 0);
	CHECK_EQ_I64(veo_context_close(ctx_b), 0);
	CHECK_EQ_I64(veo_free_mem(pr.b, pr.flags_b), 0);
	CHECK_EQ_I64(veo_proc_destroy(pr.b), 0);
	return test_done();
}
