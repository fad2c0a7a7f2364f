/*
 * threads_one_context.c: several host threads submit to one context and
 * collect their own results concurrently; every request runs exactly once
 * and each thread gets its own results.
 */
#include <pthread.h>

#include "testlib.h"

#define NTHREADS 4
#define NCALLS 300
#define WINDOW 16

static struct veo_thr_ctxt *ctx;
static uint64_t mix, inc;

static void *worker(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg;
	long bad = 0;
	struct veo_args *args = veo_args_alloc();
	struct veo_args *none = veo_args_alloc();
	uint64_t ids[WINDOW];
	/* Submit WINDOW requests, then collect them, NCALLS in all; an
	 * inc_counter call with each batch. */
	for (int base = 0; base < NCALLS; base += WINDOW) {
		int n = NCALLS - base < WINDOW ? NCALLS - base : WINDOW;
		for (int i = 0; i < n; i++) {
			veo_args_set_u64(args, 0, t);
			veo_args_set_u64(args, 1, (uint64_t)(base + i));
			ids[i] = veo_call_async(ctx, mix, args);
		}
		uint64_t inc_id = veo_call_async(ctx, inc, none);
		for (int i = 0; i < n; i++) {
			uint64_t r = 0;
			if (ids[i] == VEO_REQUEST_ID_INVALID ||
			    veo_call_wait_result(ctx, ids[i], &r) != VEO_COMMAND_OK ||
			    r != t * 1000003u + (uint64_t)(base + i))
				bad++;
		}
		uint64_t r;
		if (inc_id == VEO_REQUEST_ID_INVALID ||
		    veo_call_wait_result(ctx, inc_id, &r) != VEO_COMMAND_OK)
			bad++;
	}
	veo_args_free(args);
	veo_args_free(none);
	return (void *)bad;
}

int main(void)
{
	test_init("threads_one_context");
	struct veo_proc_handle *proc = test_proc_create();
	ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	mix = test_sym(proc, lib, "mix_u64");
	inc = test_sym(proc, lib, "inc_counter");

	pthread_t th[NTHREADS];
	for (uintptr_t t = 0; t < NTHREADS; t++)
		REQUIRE(pthread_create(&th[t], NULL, worker, (void *)(t + 1)) == 0);
	for (int t = 0; t < NTHREADS; t++) {
		void *bad;
		pthread_join(th[t], &bad);
		CHECKF(bad == NULL, "thread %d: %ld requests failed or returned another "
		       "thread's result", t, (long)(intptr_t)bad);
	}

	/* Each inc_counter ran exactly once. */
	const int batches = (NCALLS + WINDOW - 1) / WINDOW;
	CHECK_EQ_I64(test_read_int_global(proc, lib, "counter"),
	             TK_COUNTER_INIT + NTHREADS * batches);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
