/*
 * destroy_race.c: a proc destroyed, or a context closed, while other
 * threads are inside libveo on it. A thread waiting for a kernel that never
 * ends returns VEO_COMMAND_ERROR saying the proc was destroyed; threads
 * calling in a loop get error returns (never a crash: the memory is
 * unmapped and freed only once they have all left); the same for a
 * context closed under threads calling on it. Run under ASan and TSan by
 * tests/tools/extra-checks.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "testlib.h"

struct looper {
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	uint64_t fn;
	int peek;
	_Atomic int calls, started;
	int last_rc;
};

/* Calls fn and waits (or peeks) until a call fails. */
static void *loop_calls(void *arg)
{
	struct looper *l = arg;
	struct veo_args *args = veo_args_alloc();

	for (;;) {
		uint64_t r = 0, id = veo_call_async(l->ctx, l->fn, args);
		int rc;

		if (id == VEO_REQUEST_ID_INVALID) {
			l->last_rc = -100;
			break;
		}
		if (l->peek)
			while ((rc = veo_call_peek_result(l->ctx, id, &r)) == VEO_COMMAND_UNFINISHED)
				sched_yield();
		else
			rc = veo_call_wait_result(l->ctx, id, &r);
		if (rc != VEO_COMMAND_OK) {
			l->last_rc = rc;
			break;
		}
		atomic_fetch_add(&l->calls, 1);
		atomic_store(&l->started, 1);
	}
	veo_args_free(args);
	return NULL;
}

struct waiter {
	struct veo_thr_ctxt *ctx;
	uint64_t id;
	_Atomic pid_t tid;
	int rc;
	char msg[512];
};

static void *wait_one(void *arg)
{
	struct waiter *w = arg;
	uint64_t r = 0;

	atomic_store(&w->tid, (pid_t)syscall(SYS_gettid));
	w->rc = veo_call_wait_result(w->ctx, w->id, &r);
	snprintf(w->msg, sizeof w->msg, "%s", veo_last_error());
	return NULL;
}

/* Waits until thread tid sleeps: the waiter sleeps only in its wait, on the
 * answer's futex, after spinning for 50 us. */
static void until_asleep(_Atomic pid_t *tid)
{
	for (int tries = 0; tries < 100000; tries++) {
		char path[64], stat[256];
		pid_t t = atomic_load(tid);
		FILE *f;

		if (t) {
			snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)t);
			f = fopen(path, "r");
			if (f) {
				size_t n = fread(stat, 1, sizeof stat - 1, f);
				fclose(f);
				stat[n] = '\0';
				const char *end = strrchr(stat, ')');
				if (end && end[1] == ' ' && end[2] == 'S')
					return;
			}
		}
		test_sleep_ms(1);
	}
	test_fail(__FILE__, __LINE__, "the waiter never went to sleep");
}

/* Waits until every looper has made a call. */
static void until_started(struct looper *l, int n)
{
	for (int i = 0; i < n; i++)
		while (!atomic_load(&l[i].started))
			sched_yield();
}

/* A waiter on a kernel that never returns, and loopers on two contexts,
 * one of them peeking; then the proc is destroyed under them. */
static void destroy_under_threads(void)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *c1 = test_ctx_open(proc), *c2 = test_ctx_open(proc);
	struct veo_thr_ctxt *hung = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN), flags = test_flag_words(proc);
	uint64_t empty = test_sym(proc, lib, "empty");
	struct veo_args *args = test_args();
	struct looper l[3] = {
		{ .proc = proc, .ctx = c1, .fn = empty },
		{ .proc = proc, .ctx = c1, .fn = empty },
		{ .proc = proc, .ctx = c2, .fn = empty, .peek = 1 },
	};
	struct waiter w = { .ctx = hung };
	pthread_t t[4];

	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	w.id = veo_call_async(hung, test_sym(proc, lib, "wait_flag"), args);
	REQUIRE(w.id != VEO_REQUEST_ID_INVALID);
	veo_args_free(args);
	REQUIRE(pthread_create(&t[0], NULL, wait_one, &w) == 0);
	for (int i = 0; i < 3; i++)
		REQUIRE(pthread_create(&t[i + 1], NULL, loop_calls, &l[i]) == 0);
	until_started(l, 3);
	until_asleep(&w.tid);

	veo_set_error_print(0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	veo_set_error_print(1);

	CHECK_EQ_I64(w.rc, VEO_COMMAND_ERROR);
	CHECK_CONTAINS(w.msg, "the proc was destroyed");
	for (int i = 0; i < 3; i++) {
		printf("   looper %d: %d calls, then %d\n", i, atomic_load(&l[i].calls), l[i].last_rc);
		CHECK(l[i].calls > 0);
		CHECK(l[i].last_rc == VEO_COMMAND_ERROR || l[i].last_rc == -1 ||
		      l[i].last_rc == -100);
	}
	/* The handle is gone for everyone. */
	veo_set_error_print(0);
	CHECK_FAILS(veo_proc_destroy(proc), -1, "bad proc handle");
	veo_set_error_print(1);
}

/* Loopers on a context closed under them; the proc goes on. */
static void close_under_threads(void)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t empty = test_sym(proc, lib, "empty");
	struct looper l[3] = {
		{ .proc = proc, .ctx = ctx, .fn = empty },
		{ .proc = proc, .ctx = ctx, .fn = empty },
		{ .proc = proc, .ctx = ctx, .fn = empty, .peek = 1 },
	};
	pthread_t t[3];

	for (int i = 0; i < 3; i++)
		REQUIRE(pthread_create(&t[i], NULL, loop_calls, &l[i]) == 0);
	until_started(l, 3);
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK_FAILS(veo_context_close(ctx), -1, "bad context handle");
	veo_set_error_print(1);
	for (int i = 0; i < 3; i++) {
		printf("   closed: looper %d: %d calls, then %d\n", i, atomic_load(&l[i].calls),
		       l[i].last_rc);
		CHECK(l[i].last_rc == VEO_COMMAND_ERROR || l[i].last_rc == -1 ||
		      l[i].last_rc == -100);
	}
	/* The proc is fine: a new context works. */
	struct veo_thr_ctxt *again = test_ctx_open(proc);
	CHECK_EQ_U64(test_call0(again, empty), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("destroy_race");
	for (int round = 0; round < 5; round++) {
		destroy_under_threads();
		close_under_threads();
	}
	return test_done();
}
