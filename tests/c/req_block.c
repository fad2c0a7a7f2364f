/*
 * req_block.c: between veo_req_block_begin and veo_req_block_end only the
 * calling thread submits to the context, so a batch from one thread runs
 * contiguously. Two host threads submit batches of append_tag() calls to
 * one context at the same time; the worker's tag log must show each batch
 * in one piece.
 */
#include <pthread.h>

#include "testlib.h"

#define NTHREADS 2
#define BATCH 100
#define ROUNDS 3

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;
static uint64_t append_tag;
static pthread_barrier_t barrier;

static void *submitter(void *arg)
{
	int t = (int)(intptr_t)arg;
	long bad = 0;
	struct veo_args *args = veo_args_alloc();
	uint64_t ids[BATCH];
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_wait(&barrier);
		veo_req_block_begin(ctx);
		for (int i = 0; i < BATCH; i++) {
			veo_args_set_i32(args, 0, (t + 1) * 100000 + round * 1000 + i);
			ids[i] = veo_call_async(ctx, append_tag, args);
		}
		veo_req_block_end(ctx);
		for (int i = 0; i < BATCH; i++) {
			uint64_t r;
			if (ids[i] == VEO_REQUEST_ID_INVALID ||
			    veo_call_wait_result(ctx, ids[i], &r) != VEO_COMMAND_OK)
				bad++;
		}
	}
	veo_args_free(args);
	return (void *)bad;
}

int main(void)
{
	test_init("req_block");
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	append_tag = test_sym(proc, lib, "append_tag");

	pthread_barrier_init(&barrier, NULL, NTHREADS);
	pthread_t th[NTHREADS];
	for (intptr_t t = 0; t < NTHREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, submitter, (void *)t) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *bad;
		pthread_join(th[t], &bad);
		CHECKF(bad == NULL, "thread %d: %ld requests failed", t, (long)(intptr_t)bad);
	}

	const int total = NTHREADS * ROUNDS * BATCH;
	int len = test_read_int_global(proc, lib, "tag_log_len");
	CHECK_EQ_I64(len, total);
	static int log[TK_TAG_LOG_LEN];
	REQUIRE(veo_read_mem(proc, log, test_sym(proc, lib, "tag_log"), sizeof log) == 0);

	/* The log is a sequence of whole batches: each starts at a multiple of
	 * BATCH with element 0 of some thread's round and continues with that
	 * batch's elements in order. */
	for (int start = 0; start + BATCH <= len && start < total; start += BATCH) {
		int first = log[start];
		CHECKF(first % 1000 == 0, "position %d: tag %d does not start a batch",
		       start, first);
		for (int i = 1; i < BATCH; i++) {
			if (log[start + i] != first + i) {
				CHECKF(0, "batch starting at %d with tag %d broken at +%d by tag %d",
				       start, first, i, log[start + i]);
				break;
			}
		}
	}

	pthread_barrier_destroy(&barrier);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
