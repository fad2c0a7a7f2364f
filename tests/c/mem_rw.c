/*
 * mem_rw.c: veo_read_mem / veo_write_mem on the three kinds of VE memory a
 * host program meets: blocks from veo_alloc_mem, library variables found
 * with veo_get_sym, and memory a kernel malloc'ed. Kernels see what the
 * host wrote and the host sees what kernels wrote. An address the worker
 * does not own is an error, and both sides survive it.
 */
#include "testlib.h"

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;
static uint64_t lib;

static uint64_t call2(const char *kernel, uint64_t a0, uint64_t a1)
{
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, a0);
	veo_args_set_u64(args, 1, a1);
	uint64_t r = test_call(ctx, test_sym(proc, lib, kernel), args);
	veo_args_free(args);
	return r;
}

static void heap_memory(void)
{
	enum { N = 8192 };
	uint8_t in[N], out[N];
	uint64_t addr = 0;
	REQUIRE(veo_alloc_mem(proc, &addr, N) == 0);

	uint64_t sum = 0;
	for (int i = 0; i < N; i++) {
		in[i] = (uint8_t)(i * 31 + 7);
		sum += in[i];
	}
	CHECK_EQ_I64(veo_write_mem(proc, addr, in, N), 0);
	memset(out, 0, N);
	CHECK_EQ_I64(veo_read_mem(proc, out, addr, N), 0);
	CHECK(memcmp(in, out, N) == 0);

	/* A part in the middle. */
	uint8_t part[100];
	memset(part, 0xee, sizeof part);
	CHECK_EQ_I64(veo_write_mem(proc, addr + 1000, part, sizeof part), 0);
	memcpy(in + 1000, part, sizeof part);
	CHECK_EQ_I64(veo_read_mem(proc, out, addr, N), 0);
	CHECK(memcmp(in, out, N) == 0);
	uint8_t few[3];
	CHECK_EQ_I64(veo_read_mem(proc, few, addr + 999, 3), 0);
	CHECK(few[0] == in[999] && few[1] == 0xee && few[2] == 0xee);

	/* The kernel reads it, writes it, and the host sees the writes. */
	sum = 0;
	for (int i = 0; i < N; i++)
		sum += in[i];
	CHECK_EQ_U64(call2("sum_bytes", addr, N), sum);
	call2("inc_bytes", addr, N);
	CHECK_EQ_I64(veo_read_mem(proc, out, addr, N), 0);
	int ok = 1;
	for (int i = 0; i < N; i++)
		ok &= out[i] == (uint8_t)(in[i] + 1);
	CHECKF(ok, "the host does not see what inc_bytes wrote to heap memory");

	CHECK_EQ_I64(veo_free_mem(proc, addr), 0);
}

static void library_globals(void)
{
	uint64_t counter = test_sym(proc, lib, "counter");
	uint64_t table = test_sym(proc, lib, "table");

	int c = 0;
	CHECK_EQ_I64(veo_read_mem(proc, &c, counter, sizeof c), 0);
	CHECK_EQ_I64(c, TK_COUNTER_INIT);
	c = 7;
	CHECK_EQ_I64(veo_write_mem(proc, counter, &c, sizeof c), 0);
	CHECK_EQ_I64((int)test_call0(ctx, test_sym(proc, lib, "get_counter")), 7);
	CHECK_EQ_I64((int)test_call0(ctx, test_sym(proc, lib, "inc_counter")), 8);
	CHECK_EQ_I64(veo_read_mem(proc, &c, counter, sizeof c), 0);
	CHECK_EQ_I64(c, 8);

	double t[TK_TABLE_LEN];
	CHECK_EQ_I64(veo_read_mem(proc, t, table, sizeof t), 0);
	for (int i = 0; i < TK_TABLE_LEN; i++)
		CHECKF(t[i] == tk_table_init(i), "table[%d] = %g, want %g", i, t[i],
		       tk_table_init(i));
	double sum = 0;
	for (int i = 0; i < TK_TABLE_LEN; i++) {
		t[i] = i * i + 0.25;
		sum += t[i];
	}
	CHECK_EQ_I64(veo_write_mem(proc, table, t, sizeof t), 0);
	struct veo_args *args = test_args();
	veo_args_set_result_type(args, VEO_RESULT_DOUBLE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "table_sum"), args),
	             tk_double_bits(sum));
	veo_args_free(args);

	/* One element in the middle of the table. */
	double x = -1.0;
	CHECK_EQ_I64(veo_write_mem(proc, table + 5 * sizeof(double), &x, sizeof x), 0);
	CHECK_EQ_I64(veo_read_mem(proc, t, table, sizeof t), 0);
	CHECK(t[4] == 16.25 && t[5] == -1.0 && t[6] == 36.25);
}

static void kernel_malloc(void)
{
	enum { N = 10000 };
	uint64_t p = test_call1(ctx, test_sym(proc, lib, "k_malloc"), N);
	REQUIRE(p != 0);

	uint8_t buf[N];
	CHECK_EQ_I64(veo_read_mem(proc, buf, p, N), 0);
	int ok = 1;
	for (int i = 0; i < N; i++)
		ok &= buf[i] == tk_malloc_pattern((uint64_t)i);
	CHECKF(ok, "memory a kernel filled reads back wrong");

	uint64_t sum = 0;
	for (int i = 0; i < N; i++) {
		buf[i] = (uint8_t)(i ^ 0x55);
		sum += buf[i];
	}
	CHECK_EQ_I64(veo_write_mem(proc, p, buf, N), 0);
	CHECK_EQ_U64(call2("sum_bytes", p, N), sum);

	test_call1(ctx, test_sym(proc, lib, "k_free"), p);
}

static void not_owned(void)
{
	uint8_t buf[64];
	memset(buf, 0, sizeof buf);
	veo_set_error_print(0);
	CHECK(veo_read_mem(proc, buf, 0, sizeof buf) < 0);
	CHECK(veo_last_error()[0] != '\0');
	CHECK(veo_write_mem(proc, 0, buf, sizeof buf) < 0);
	CHECK(veo_read_mem(proc, buf, 16, sizeof buf) < 0);
	CHECK(veo_write_mem(proc, 4096, buf, sizeof buf) < 0);
	CHECK(veo_read_mem(proc, buf, 0x8000000000000000ull, sizeof buf) < 0);
	CHECK(veo_write_mem(proc, 0xffffffffffff0000ull, buf, sizeof buf) < 0);
	CHECK(veo_read_mem(proc, NULL, 0, sizeof buf) < 0);
	veo_set_error_print(1);

	/* Both sides are fine. */
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	uint64_t addr = 0;
	CHECK_EQ_I64(veo_alloc_mem(proc, &addr, 64), 0);
	CHECK_EQ_I64(veo_write_mem(proc, addr, buf, sizeof buf), 0);
	CHECK_EQ_I64(veo_free_mem(proc, addr), 0);
}

int main(void)
{
	test_init("mem_rw");
	proc = test_proc_create();
	ctx = test_ctx_open(proc);
	lib = test_load(proc, TK_LIB_MAIN);

	heap_memory();
	library_globals();
	kernel_malloc();
	not_owned();

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
