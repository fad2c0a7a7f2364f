/*
 * wait_pace.c: waiting by a kernel's learnt run time (src/lib/pace.h).
 * A host thread that waits for a kernel known to run long sleeps through
 * most of it; whatever the estimate says, an answer is never missed: a
 * kernel that becomes shorter or longer, one that crashes during the
 * predicted sleep, and a batch of long calls all end as they should, and
 * the waiting thread's timer slack is left as it was. On the worker's CPU
 * the waiter yields it to the kernel, but not to a kernel that sleeps.
 */
#include <sched.h>
#include <sys/prctl.h>

#include "testlib.h"

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A call of sleep_us(us) and its wait; returns the wait's seconds. */
static double sleep_call(struct veo_thr_ctxt *ctx, uint64_t fn, uint64_t us)
{
	uint64_t r = 0;
	double t0 = test_now();
	uint64_t id = test_submit1(ctx, fn, us);

	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, us);
	return test_now() - t0;
}

/* n calls of sleep_us, of us[i % nus] us each: the waiting thread uses
 * well under a fifth of their time (a sleep and a spin across each end),
 * where spinning or yielding through would use all of it. */
static void waits_without_spinning(struct veo_thr_ctxt *ctx, uint64_t fn, int n,
                                   const uint64_t *us, int nus)
{
	double c0 = thread_cpu(), t0 = test_now();

	for (int i = 0; i < n; i++)
		sleep_call(ctx, fn, us[i % nus]);
	double cpu = thread_cpu() - c0, wall = test_now() - t0;
	printf("   %d calls: %.1f ms, the waiting thread used %.2f ms of CPU\n", n, wall * 1e3,
	       cpu * 1e3);
	CHECKF(cpu < 0.2 * wall, "the waiting thread used %.1f ms of CPU in %.1f ms", cpu * 1e3,
	       wall * 1e3);
}

/* Ten calls of a 20 ms kernel, once it is learnt. */
static void waits_for_20ms(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	static const uint64_t us[] = { 20000 };

	for (int i = 0; i < 4; i++) /* learnt */
		sleep_call(ctx, fn, us[0]);
	waits_without_spinning(ctx, fn, 10, us, 1);
}

static void sleeps_through(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	printf("-- a wait for a kernel known to run 20 ms does not spin through it\n");
	waits_for_20ms(ctx, fn);
}

static void estimate_wrong(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	static const uint64_t us[] = { 30000, 30000, 30000, 10, 30000, 1, 0, 80000, 30000, 5,
	                               200000, 30000, 30000, 2 };

	printf("-- the run time changes under the estimate: every answer comes\n");
	for (size_t i = 0; i < sizeof us / sizeof us[0]; i++) {
		double dt = sleep_call(ctx, fn, us[i]);

		/* Not a timing test: a lost wake-up would wait for the next
		 * liveness check, a second or more. */
		CHECKF(dt < us[i] * 1e-6 + 0.5, "a %llu us kernel took %.3f s to answer",
		       (unsigned long long)us[i], dt);
	}
}

static void scattered(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	static const uint64_t us[] = { 15000, 1 };

	printf("-- a kernel whose run times scatter (1 us, 15 ms) is not spun through\n");
	/* A margin as wide as the scatter, spun through, would use most of it. */
	waits_without_spinning(ctx, fn, 12, us, 2);
}

static void batch(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	uint64_t ids[8], r;

	printf("-- a batch of long calls, waited for from the last\n");
	for (int i = 0; i < 8; i++)
		ids[i] = test_submit1(ctx, fn, 5000 + 1000 * (uint64_t)i);
	for (int i = 7; i >= 0; i--) {
		CHECK_EQ_I64(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, 5000 + 1000 * (uint64_t)i);
	}
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, ids[0], &r), VEO_COMMAND_ERROR); /* collected */
	veo_set_error_print(1);
}

static void slack_kept(struct veo_thr_ctxt *ctx, uint64_t fn)
{
	printf("-- the waiting thread's timer slack is as it was\n");
	REQUIRE(prctl(PR_SET_TIMERSLACK, 123456, 0, 0, 0) == 0);
	for (int i = 0; i < 5; i++)
		sleep_call(ctx, fn, 10000);
	CHECK_EQ_I64(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), 123456);
}

static void same_cpu(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t fn)
{
	cpu_set_t all, one;

	printf("-- on the worker's CPU, a kernel that sleeps is not spun through\n");
	REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all)) {
			CPU_SET(i, &one);
			break;
		}
	REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
	test_pin_process(veo_proc_pid(proc), &one);
	/* Yielding a CPU nobody else wants returns at once. */
	waits_for_20ms(ctx, fn);
	test_pin_process(veo_proc_pid(proc), &all);
	REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
}

static void crash_in_sleep(void)
{
	printf("-- a kernel learnt to run 300 ms crashes at once: the crash is reported at once\n");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	uint64_t fn = test_sym(proc, lib, "sleep_or_crash");
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	struct veo_args *args = test_args();
	uint64_t r;

	veo_args_set_u64(args, 0, 300000);
	veo_args_set_i32(args, 1, 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_I64(veo_call_wait_result(ctx, veo_call_async(ctx, fn, args), &r),
		             VEO_COMMAND_OK);
	veo_args_set_i32(args, 1, 1);
	veo_set_error_print(0);
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result(ctx, veo_call_async(ctx, fn, args), &r),
	             VEO_COMMAND_EXCEPTION);
	double dt = test_now() - t0;
	veo_set_error_print(1);
	printf("   the crash was reported after %.1f ms\n", dt * 1e3);
	/* The estimate says 300 ms; the worker's death ends the sleep. */
	CHECKF(dt < 0.15, "the crash was reported after %.3f s", dt);
	veo_args_free(args);
	veo_proc_destroy(proc);
}

int main(void)
{
	test_init("wait_pace");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fn = test_sym(proc, lib, "sleep_us");
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	sleeps_through(ctx, fn);
	estimate_wrong(ctx, fn);
	scattered(ctx, fn);
	batch(ctx, fn);
	slack_kept(ctx, fn);
	same_cpu(proc, ctx, fn);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	crash_in_sleep();
	return test_done();
}
