/*
 * stress.c: load. 8 host threads on 4 contexts of 2 procs (two threads per
 * context) run tens of thousands of mixed requests: calls with pipelined
 * waits, stack arguments IN and INOUT, async and sync transfers of heap
 * memory and of memory a kernel allocated (copied by the worker), async
 * allocations and frees, host calls in the context's order, each result
 * checked against what the host computes itself.
 * STRESS_ITERS sets the iterations per thread (default 4000), so slow
 * builds (ThreadSanitizer) can run fewer.
 */
#include <pthread.h>

#include "testlib.h"

#define NPROCS 2
#define NCTX_PER_PROC 2
#define NTHREADS 8
#define REGION 4096          /* bytes of VE memory per thread */
#define PIPE 8               /* requests in flight per pipelined batch */

struct shared {
	struct veo_proc_handle *proc[NPROCS];
	struct veo_thr_ctxt *ctx[NPROCS * NCTX_PER_PROC];
	uint64_t mix[NPROCS], sum_bytes[NPROCS], inc_bytes[NPROCS], k_malloc[NPROCS], k_free[NPROCS];
	uint64_t vemem[NPROCS];  /* NTHREADS regions of REGION bytes */
	long iters;
};

struct worker {
	struct shared *sh;
	int id;
	uint64_t kmem;           /* REGION bytes a kernel malloc'ed, on its proc */
	unsigned seed;
	long errors;
	long done;
	char first_error[256];
};

static void fail(struct worker *w, const char *what, uint64_t got, uint64_t want)
{
	if (w->errors++ == 0)
		snprintf(w->first_error, sizeof w->first_error,
		         "thread %d: %s: got %llu, want %llu (%s)", w->id, what,
		         (unsigned long long)got, (unsigned long long)want, veo_last_error());
}

static uint64_t host_mix(uint64_t a, uint64_t b)
{
	return a * 1000003u + b;
}

/* PIPE calls of mix_u64 in flight, then their results in order. */
static void pipelined_calls(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	struct veo_args *args = veo_args_alloc();
	uint64_t ids[PIPE], a[PIPE], b[PIPE], r;

	for (int i = 0; i < PIPE; i++) {
		a[i] = ((uint64_t)rand_r(&w->seed) << 32) | (uint64_t)rand_r(&w->seed);
		b[i] = (uint64_t)rand_r(&w->seed);
		veo_args_set_u64(args, 0, a[i]);
		veo_args_set_u64(args, 1, b[i]);
		ids[i] = veo_call_async(ctx, w->sh->mix[p], args);
	}
	for (int i = 0; i < PIPE; i++) {
		int rc = veo_call_wait_result(ctx, ids[i], &r);

		if (rc != VEO_COMMAND_OK)
			fail(w, "mix_u64 status", (uint64_t)rc, VEO_COMMAND_OK);
		else if (r != host_mix(a[i], b[i]))
			fail(w, "mix_u64 result", r, host_mix(a[i], b[i]));
	}
	veo_args_free(args);
}

/* Async write of a pattern, a kernel adding 1 to each byte, an async read:
 * all in the context's order. */
static void async_roundtrip(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	uint8_t out[REGION], in[REGION];
	uint64_t n = 1 + (uint64_t)rand_r(&w->seed) % REGION, ve, r, want = 0, id[3];
	struct veo_args *args = veo_args_alloc();
	int rc;

	ve = w->sh->vemem[p] + (uint64_t)w->id * REGION;
	for (uint64_t i = 0; i < n; i++) {
		out[i] = (uint8_t)rand_r(&w->seed);
		want += (uint8_t)(out[i] + 1);
	}
	veo_args_set_u64(args, 0, ve);
	veo_args_set_u64(args, 1, n);
	id[0] = veo_async_write_mem(ctx, ve, out, n);
	id[1] = veo_call_async(ctx, w->sh->inc_bytes[p], args);
	id[2] = veo_async_read_mem(ctx, in, ve, n);
	if ((rc = veo_call_wait_result(ctx, id[0], &r)) != VEO_COMMAND_OK)
		fail(w, "async write status", (uint64_t)rc, 0);
	if ((rc = veo_call_wait_result(ctx, id[1], &r)) != VEO_COMMAND_OK || r != want)
		fail(w, "inc_bytes after async write", r, want);
	if ((rc = veo_call_wait_result(ctx, id[2], &r)) != VEO_COMMAND_OK)
		fail(w, "async read status", (uint64_t)rc, 0);
	for (uint64_t i = 0; i < n; i++) {
		if (in[i] != (uint8_t)(out[i] + 1)) {
			fail(w, "byte read back", in[i], (uint8_t)(out[i] + 1));
			break;
		}
	}
	veo_args_free(args);
}

/* A stack argument INOUT: the kernel's change comes back into buf. */
static void stack_inout(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	uint8_t buf[512], orig[512];
	uint64_t n = 1 + (uint64_t)rand_r(&w->seed) % sizeof buf, r, want = 0;
	struct veo_args *args = veo_args_alloc();
	uint64_t id;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		orig[i] = buf[i] = (uint8_t)rand_r(&w->seed);
		want += (uint8_t)(buf[i] + 1);
	}
	veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)buf, n);
	veo_args_set_u64(args, 1, n);
	id = veo_call_async(ctx, w->sh->inc_bytes[p], args);
	rc = veo_call_wait_result(ctx, id, &r);
	if (rc != VEO_COMMAND_OK || r != want)
		fail(w, "inc_bytes on the stack", r, want);
	for (uint64_t i = 0; i < n; i++) {
		if (buf[i] != (uint8_t)(orig[i] + 1)) {
			fail(w, "stack byte copied back", buf[i], (uint8_t)(orig[i] + 1));
			break;
		}
	}
	veo_args_free(args);
}

/* Synchronous write and read of the thread's region, checked by a kernel. */
static void sync_roundtrip(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	uint8_t out[256], in[256];
	uint64_t ve = w->sh->vemem[p] + (uint64_t)w->id * REGION, r, want = 0;
	struct veo_args *args = veo_args_alloc();
	uint64_t id;

	for (size_t i = 0; i < sizeof out; i++) {
		out[i] = (uint8_t)rand_r(&w->seed);
		want += out[i];
	}
	if (veo_write_mem(w->sh->proc[p], ve, out, sizeof out) != 0)
		fail(w, "veo_write_mem", 1, 0);
	veo_args_set_u64(args, 0, ve);
	veo_args_set_u64(args, 1, sizeof out);
	id = veo_call_async(ctx, w->sh->sum_bytes[p], args);
	if (veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK || r != want)
		fail(w, "sum_bytes after veo_write_mem", r, want);
	if (veo_read_mem(w->sh->proc[p], in, ve, sizeof in) != 0 ||
	    memcmp(in, out, sizeof in) != 0)
		fail(w, "veo_read_mem", 1, 0);
	veo_args_free(args);
}

/* Memory a kernel allocated is not in the heap: the worker copies it.
 * A sync write, an async write of part of it, a kernel's sum, async and
 * sync reads back. */
static void foreign_roundtrip(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	uint8_t out[REGION], in[REGION], in2[REGION];
	uint64_t n = 1 + (uint64_t)rand_r(&w->seed) % REGION, half = n / 2, r, want = 0, id;
	struct veo_args *args = veo_args_alloc();

	for (uint64_t i = 0; i < n; i++) {
		out[i] = (uint8_t)rand_r(&w->seed);
		want += out[i];
	}
	if (veo_write_mem(w->sh->proc[p], w->kmem, out, half) != 0)
		fail(w, "veo_write_mem of kernel memory", 1, 0);
	id = veo_async_write_mem(ctx, w->kmem + half, out + half, n - half);
	if (veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK)
		fail(w, "async write of kernel memory", 1, 0);
	veo_args_set_u64(args, 0, w->kmem);
	veo_args_set_u64(args, 1, n);
	id = veo_call_async(ctx, w->sh->sum_bytes[p], args);
	if (veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK || r != want)
		fail(w, "sum_bytes of kernel memory", r, want);
	id = veo_async_read_mem(ctx, in, w->kmem, n);
	if (veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK || memcmp(in, out, n) != 0)
		fail(w, "async read of kernel memory", 1, 0);
	if (veo_read_mem(w->sh->proc[p], in2, w->kmem, n) != 0 || memcmp(in2, out, n) != 0)
		fail(w, "veo_read_mem of kernel memory", 1, 0);
	veo_args_free(args);
}

struct vh_arg {
	uint64_t value;
};

static uint64_t vh_double(void *arg)
{
	return ((struct vh_arg *)arg)->value * 2;
}

/* An async allocation, a write, a kernel, a host call and a read in the
 * context's order, then an async free. */
static void async_alloc_free(struct worker *w, struct veo_thr_ctxt *ctx, int p)
{
	uint64_t n = 8 + (uint64_t)rand_r(&w->seed) % 2048, ve, r, want = 0, id[5];
	uint8_t out[2056], in[2056];
	struct vh_arg va = { (uint64_t)rand_r(&w->seed) };
	struct veo_args *args = veo_args_alloc();
	int rc;

	id[0] = veo_alloc_mem_async(ctx, n);
	if ((rc = veo_call_wait_result(ctx, id[0], &ve)) != VEO_COMMAND_OK || ve == 0) {
		fail(w, "veo_alloc_mem_async", (uint64_t)rc, 0);
		veo_args_free(args);
		return;
	}
	for (uint64_t i = 0; i < n; i++) {
		out[i] = (uint8_t)rand_r(&w->seed);
		want += (uint8_t)(out[i] + 1);
	}
	veo_args_set_u64(args, 0, ve);
	veo_args_set_u64(args, 1, n);
	id[0] = veo_async_write_mem(ctx, ve, out, n);
	id[1] = veo_call_async(ctx, w->sh->inc_bytes[p], args);
	id[2] = veo_call_async_vh(ctx, vh_double, &va);
	id[3] = veo_async_read_mem(ctx, in, ve, n);
	id[4] = veo_free_mem_async(ctx, ve);
	if (veo_call_wait_result(ctx, id[0], &r) != VEO_COMMAND_OK)
		fail(w, "async write to async memory", 1, 0);
	if ((rc = veo_call_wait_result(ctx, id[1], &r)) != VEO_COMMAND_OK || r != want)
		fail(w, "inc_bytes of async memory", r, want);
	if (veo_call_wait_result(ctx, id[2], &r) != VEO_COMMAND_OK || r != va.value * 2)
		fail(w, "host call result", r, va.value * 2);
	if (veo_call_wait_result(ctx, id[3], &r) != VEO_COMMAND_OK)
		fail(w, "async read of async memory", 1, 0);
	for (uint64_t i = 0; i < n; i++) {
		if (in[i] != (uint8_t)(out[i] + 1)) {
			fail(w, "byte of async memory", in[i], (uint8_t)(out[i] + 1));
			break;
		}
	}
	if ((rc = veo_call_wait_result(ctx, id[4], &r)) != VEO_COMMAND_OK)
		fail(w, "veo_free_mem_async", (uint64_t)rc, 0);
	veo_args_free(args);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int c = w->id % (NPROCS * NCTX_PER_PROC);
	int p = c / NCTX_PER_PROC;
	struct veo_thr_ctxt *ctx = w->sh->ctx[c];
	struct veo_args *args = veo_args_alloc();
	uint64_t r = 0, id;

	/* This thread's kernel-owned memory. */
	veo_args_set_u64(args, 0, REGION);
	id = veo_call_async(ctx, w->sh->k_malloc[p], args);
	if (veo_call_wait_result(ctx, id, &w->kmem) != VEO_COMMAND_OK || w->kmem == 0) {
		fail(w, "k_malloc", 0, 1);
		veo_args_free(args);
		return NULL;
	}
	for (long i = 0; i < w->sh->iters; i++) {
		switch (rand_r(&w->seed) % 6) {
		case 0: pipelined_calls(w, ctx, p); break;
		case 1: async_roundtrip(w, ctx, p); break;
		case 2: stack_inout(w, ctx, p); break;
		case 3: foreign_roundtrip(w, ctx, p); break;
		case 4: async_alloc_free(w, ctx, p); break;
		default: sync_roundtrip(w, ctx, p); break;
		}
		w->done++;
	}
	veo_args_clear(args);
	veo_args_set_u64(args, 0, w->kmem);
	id = veo_call_async(ctx, w->sh->k_free[p], args);
	if (veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK)
		fail(w, "k_free", 0, 1);
	veo_args_free(args);
	return NULL;
}

int main(void)
{
	struct shared sh = { .iters = 4000 };
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	const char *env = getenv("STRESS_ITERS");
	long total = 0, errors = 0;
	double t0;

	test_init("stress");
	if (env && atol(env) > 0)
		sh.iters = atol(env);
	for (int p = 0; p < NPROCS; p++) {
		sh.proc[p] = test_proc_create();
		uint64_t lib = test_load(sh.proc[p], TK_LIB_MAIN);
		sh.mix[p] = test_sym(sh.proc[p], lib, "mix_u64");
		sh.sum_bytes[p] = test_sym(sh.proc[p], lib, "sum_bytes");
		sh.inc_bytes[p] = test_sym(sh.proc[p], lib, "inc_bytes");
		sh.k_malloc[p] = test_sym(sh.proc[p], lib, "k_malloc");
		sh.k_free[p] = test_sym(sh.proc[p], lib, "k_free");
		REQUIRE(veo_alloc_mem(sh.proc[p], &sh.vemem[p], NTHREADS * REGION) == 0);
		for (int c = 0; c < NCTX_PER_PROC; c++)
			sh.ctx[p * NCTX_PER_PROC + c] = test_ctx_open(sh.proc[p]);
	}

	t0 = test_now();
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i, .seed = 1234u + (unsigned)i };
		REQUIRE(pthread_create(&t[i], NULL, run, &w[i]) == 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		total += w[i].done;
		errors += w[i].errors;
		if (w[i].errors)
			printf("%s (and %ld more errors)\n", w[i].first_error, w[i].errors - 1);
	}
	printf("%ld mixed operations on %d threads in %.2f s, %ld errors\n", total,
	       NTHREADS, test_now() - t0, errors);
	CHECK_EQ_I64(errors, 0);
	CHECK_EQ_I64(total, NTHREADS * sh.iters);

	for (int p = 0; p < NPROCS; p++) {
		CHECK_EQ_I64(veo_free_mem(sh.proc[p], sh.vemem[p]), 0);
		CHECK_EQ_I64(veo_proc_destroy(sh.proc[p]), 0);
	}
	return test_done();
}
