/*
 * call_async_vh.c: veo_call_async_vh runs a host function in the context's
 * order: after the kernel queued before it has finished and before the
 * kernel queued after it starts. CLOCK_MONOTONIC is the same clock in the
 * host and the worker, so the kernels and the host function stamp times
 * that can be compared. The host function's return value is the result.
 */
#include <stdatomic.h>

#include "testlib.h"

struct vh_record {
	atomic_int calls;
	int seq;             /* value of next_seq when it ran */
	uint64_t when_ns;    /* when it ran */
	uint64_t ret;        /* what it returns */
};

static atomic_int next_seq;

static uint64_t vh_func(void *arg)
{
	struct vh_record *rec = arg;
	rec->when_ns = test_now_ns();
	rec->seq = atomic_fetch_add(&next_seq, 1);
	atomic_fetch_add(&rec->calls, 1);
	return rec->ret;
}

int main(void)
{
	test_init("call_async_vh");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_then_now = test_sym(proc, lib, "sleep_then_now_ns");
	uint64_t r;

	/* kernel (sleeps 0.3 s, returns when it finished), host function,
	 * kernel (returns when it started), all queued before any wait. */
	struct vh_record rec1 = { .ret = 0xfeedface12345678ull };
	uint64_t t_submit = test_now_ns();
	uint64_t k1 = test_submit1(ctx, sleep_then_now, 300000);
	uint64_t vh = veo_call_async_vh(ctx, vh_func, &rec1);
	REQUIRE(vh != VEO_REQUEST_ID_INVALID);
	uint64_t k2 = test_submit1(ctx, sleep_then_now, 0);

	/* Waiting for the last one first: the host function must still run
	 * between the two kernels. */
	uint64_t k2_end = 0, k1_end = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, k2, &k2_end), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_call_wait_result(ctx, vh, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 0xfeedface12345678ull);
	CHECK_EQ_I64(veo_call_wait_result(ctx, k1, &k1_end), VEO_COMMAND_OK);

	CHECK_EQ_I64(atomic_load(&rec1.calls), 1);
	CHECKF(k1_end >= t_submit + 250000000ull, "the first kernel did not sleep");
	CHECKF(rec1.when_ns >= k1_end, "the host function ran %.3f ms before the kernel "
	       "queued before it finished", (double)(k1_end - rec1.when_ns) / 1e6);
	CHECKF(k2_end >= rec1.when_ns, "the kernel queued after the host function "
	       "finished %.3f ms before it ran", (double)(rec1.when_ns - k2_end) / 1e6);

	/* Several host functions in a row run once each, in order. */
	struct vh_record recs[5];
	uint64_t ids[5];
	memset(recs, 0, sizeof recs);
	for (int i = 0; i < 5; i++) {
		recs[i].ret = (uint64_t)i * 11;
		ids[i] = veo_call_async_vh(ctx, vh_func, &recs[i]);
		REQUIRE(ids[i] != VEO_REQUEST_ID_INVALID);
	}
	for (int i = 4; i >= 0; i--) {
		CHECK_EQ_I64(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, (uint64_t)i * 11);
	}
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_I64(atomic_load(&recs[i].calls), 1);
		if (i > 0)
			CHECKF(recs[i].seq > recs[i - 1].seq, "host function %d ran before %d",
			       i, i - 1);
	}

	/* Picked up by veo_context_sync too. */
	struct vh_record rec2 = { .ret = 5 };
	uint64_t id = veo_call_async_vh(ctx, vh_func, &rec2);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	veo_context_sync(ctx);
	CHECK_EQ_I64(atomic_load(&rec2.calls), 1);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 5);

	veo_set_error_print(0);
	CHECK_EQ_U64(veo_call_async_vh(ctx, NULL, NULL), VEO_REQUEST_ID_INVALID);
	veo_set_error_print(1);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
