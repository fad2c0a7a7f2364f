/*
 * full_ring.c: more calls in flight than a context's ring holds (64 KiB,
 * about 2000 calls without arguments), so that each submission past that
 * waits for room (request.c, req_submit_wait_room). The calls run in order
 * and every result comes back: inc_counter returns the counter's next
 * value, in the order the worker ran them. Then the same with a 30 ms
 * kernel in the middle, during which the waiting submission spins out and
 * sleeps, and must be woken by the answers after it (a hang or a lost
 * wake-up per wait shows as seconds); then a wait for each call alone
 * still works (the learnt first look, wait.h).
 */
#include "testlib.h"

#define NCALLS 20000

static uint64_t ids[NCALLS + 1];

/* Submits n calls of inc_counter, a 30 ms sleep_us before call `sleep_at`
 * (n: none), then waits for them in order; their results must count up
 * from first. Returns the value after the last. */
static uint32_t batch(struct veo_thr_ctxt *ctx, uint64_t inc, uint64_t sleep_us, int n,
                      int sleep_at, uint32_t first)
{
	struct veo_args *none = test_args();
	uint64_t sleep_id = VEO_REQUEST_ID_INVALID, r;
	uint32_t want = first;
	int bad = 0;

	for (int i = 0; i < n; i++) {
		if (i == sleep_at)
			sleep_id = test_submit1(ctx, sleep_us, 30000);
		ids[i] = veo_call_async(ctx, inc, none);
		REQUIRE(ids[i] != VEO_REQUEST_ID_INVALID);
	}
	for (int i = 0; i < n; i++) {
		if (i == sleep_at) {
			CHECK_EQ_I64(veo_call_wait_result(ctx, sleep_id, &r), VEO_COMMAND_OK);
			CHECK_EQ_U64(r, 30000);
		}
		CHECK_EQ_I64(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
		if ((uint32_t)r != want && bad++ < 3)
			CHECKF(0, "call %d of %d returned %u, want %u", i, n, (uint32_t)r, want);
		want++;
	}
	veo_args_free(none);
	return want;
}

int main(void)
{
	test_init("full_ring");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t inc = test_sym(proc, lib, "inc_counter");
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	struct veo_args *none = test_args();
	/* The counter starts where the library's initializer put it. */
	uint32_t next = (uint32_t)test_call(ctx, test_sym(proc, lib, "get_counter"), none) + 1;
	double t0;

	printf("-- %d calls in flight, in order\n", NCALLS);
	t0 = test_now();
	next = batch(ctx, inc, sleep_us, NCALLS, NCALLS, next);
	printf("   %.1f ms\n", (test_now() - t0) * 1e3);

	printf("-- %d calls with a 30 ms kernel after the first 3000\n", NCALLS);
	t0 = test_now();
	next = batch(ctx, inc, sleep_us, NCALLS, 3000, next);
	double took = test_now() - t0;
	printf("   %.1f ms\n", took * 1e3);
	/* The sleep is 30 ms; a lost wake-up would leave the submission asleep
	 * for a slice (20 ms) per wait, hundreds of them. */
	CHECKF(took < 10.0, "%d calls around a 30 ms kernel took %.1f s", NCALLS, took);

	printf("-- a call and its wait, 1000 times\n");
	for (int i = 0; i < 1000; i++) {
		uint64_t r = 0;

		CHECK_EQ_I64(veo_call_wait_result(ctx, veo_call_async(ctx, inc, none), &r),
		             VEO_COMMAND_OK);
		if ((uint32_t)r != next) {
			CHECKF(0, "call %d returned %u, want %u", i, (uint32_t)r, next);
			break;
		}
		next++;
	}
	veo_args_free(none);
	veo_context_close(ctx);
	veo_proc_destroy(proc);
	return test_done();
}
