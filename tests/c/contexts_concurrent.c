/*
 * contexts_concurrent.c: contexts of one proc run at the same time and
 * share the proc's memory. Kernels that sleep 1 s on N contexts finish in
 * about 1 s, not N s (bounds are generous; sleeping kernels need no CPU, so
 * a busy machine hardly matters).
 */
#include "testlib.h"

#define NCTX 4
#define SLEEP_US 1000000

int main(void)
{
	test_init("contexts_concurrent");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t sleep_then_now = test_sym(proc, lib, "sleep_then_now_ns");

	struct veo_thr_ctxt *ctx[NCTX];
	for (int i = 0; i < NCTX; i++)
		ctx[i] = test_ctx_open(proc);

	/* Two contexts. */
	uint64_t r = 0;
	double t0 = test_now();
	uint64_t a = test_submit1(ctx[0], sleep_us, SLEEP_US);
	uint64_t b = test_submit1(ctx[1], sleep_us, SLEEP_US);
	CHECK_EQ_I64(veo_call_wait_result(ctx[0], a, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx[1], b, &r), VEO_COMMAND_OK);
	double dt = test_now() - t0;
	CHECKF(dt >= 0.95, "two 1 s kernels finished after %.3f s", dt);
	CHECKF(dt < 1.7, "two 1 s kernels on two contexts took %.3f s: they did not "
	       "run concurrently", dt);

	/* All four; the kernels report when they finished. */
	uint64_t ids[NCTX], ends[NCTX];
	t0 = test_now();
	uint64_t t0_ns = test_now_ns();
	for (int i = 0; i < NCTX; i++)
		ids[i] = test_submit1(ctx[i], sleep_then_now, SLEEP_US);
	for (int i = 0; i < NCTX; i++)
		CHECK_EQ_I64(veo_call_wait_result(ctx[i], ids[i], &ends[i]), VEO_COMMAND_OK);
	dt = test_now() - t0;
	CHECKF(dt < 1.9, "%d 1 s kernels on %d contexts took %.3f s", NCTX, NCTX, dt);
	for (int i = 0; i < NCTX; i++)
		CHECKF(ends[i] - t0_ns < 1900000000ull, "context %d finished after %.3f s",
		       i, (double)(ends[i] - t0_ns) / 1e9);

	/* Shared memory: what a kernel on one context did, another sees. */
	uint64_t inc = test_sym(proc, lib, "inc_counter");
	uint64_t get = test_sym(proc, lib, "get_counter");
	CHECK_EQ_I64((int)test_call0(ctx[0], inc), TK_COUNTER_INIT + 1);
	CHECK_EQ_I64((int)test_call0(ctx[3], inc), TK_COUNTER_INIT + 2);
	CHECK_EQ_I64((int)test_call0(ctx[2], get), TK_COUNTER_INIT + 2);

	/* A request queued behind a long one on the same context waits for
	 * it; the same request on another context does not. */
	t0 = test_now();
	uint64_t long_id = test_submit1(ctx[0], sleep_us, SLEEP_US);
	uint64_t behind = test_submit1(ctx[0], sleep_us, 0);
	uint64_t beside = test_submit1(ctx[1], sleep_us, 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx[1], beside, &r), VEO_COMMAND_OK);
	dt = test_now() - t0;
	CHECKF(dt < 0.8, "a short kernel on a free context waited %.3f s", dt);
	CHECK_EQ_I64(veo_call_wait_result(ctx[0], behind, &r), VEO_COMMAND_OK);
	dt = test_now() - t0;
	CHECKF(dt >= 0.95, "a kernel queued behind a 1 s kernel finished after %.3f s", dt);
	CHECK_EQ_I64(veo_call_wait_result(ctx[0], long_id, &r), VEO_COMMAND_OK);

	for (int i = 0; i < NCTX; i++)
		CHECK_EQ_I64(veo_context_close(ctx[i]), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
