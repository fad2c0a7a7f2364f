/*
 * mem_alloc.c: veo_alloc_mem / veo_free_mem. Blocks are non-zero, disjoint
 * and usable by kernels; freeing twice, freeing an address that was never
 * allocated and an allocation larger than the machine are errors with a
 * message, and the proc goes on working.
 */
#include "testlib.h"

#define NBLOCKS 6

int main(void)
{
	test_init("mem_alloc");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);

	const size_t sizes[NBLOCKS] = { 1, 64, 4000, 4096, 1 << 20, 16 << 20 };
	uint64_t addr[NBLOCKS];
	for (int i = 0; i < NBLOCKS; i++) {
		addr[i] = 0;
		CHECK_EQ_I64(veo_alloc_mem(proc, &addr[i], sizes[i]), 0);
		CHECKF(addr[i] != 0, "block %d of %zu bytes at address 0", i, sizes[i]);
	}
	/* Disjoint. */
	for (int i = 0; i < NBLOCKS; i++)
		for (int j = 0; j < NBLOCKS; j++)
			if (i != j)
				CHECKF(addr[i] + sizes[i] <= addr[j] || addr[j] + sizes[j] <= addr[i],
				       "blocks %d and %d overlap", i, j);

	/* The kernel sees what the host wrote into each (the whole block). */
	for (int i = 0; i < NBLOCKS; i++) {
		uint8_t *buf = malloc(sizes[i]);
		REQUIRE(buf != NULL);
		uint64_t sum = 0;
		for (size_t k = 0; k < sizes[i]; k++) {
			buf[k] = (uint8_t)(k + i);
			sum += buf[k];
		}
		CHECK_EQ_I64(veo_write_mem(proc, addr[i], buf, sizes[i]), 0);
		struct veo_args *args = test_args();
		veo_args_set_u64(args, 0, addr[i]);
		veo_args_set_u64(args, 1, sizes[i]);
		CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "sum_bytes"), args), sum);
		veo_args_free(args);
		free(buf);
	}

	for (int i = 0; i < NBLOCKS; i++)
		CHECK_EQ_I64(veo_free_mem(proc, addr[i]), 0);

	veo_set_error_print(0);
	/* Twice. */
	CHECK(veo_free_mem(proc, addr[2]) < 0);
	CHECK(veo_last_error()[0] != '\0');
	/* Never allocated, or not the start of a block. */
	uint64_t a = 0;
	CHECK_EQ_I64(veo_alloc_mem(proc, &a, 4096), 0);
	CHECK(veo_free_mem(proc, a + 8) < 0);
	CHECK(veo_free_mem(proc, 0) < 0);
	CHECK(veo_free_mem(proc, 0x1234) < 0);
	/* More than there is. */
	uint64_t huge = 0;
	CHECK(veo_alloc_mem(proc, &huge, (size_t)1 << 50) < 0);
	CHECK(veo_last_error()[0] != '\0');
	CHECK(veo_alloc_mem(proc, NULL, 64) < 0);
	veo_set_error_print(1);

	/* Still works, and freed memory is reusable. */
	CHECK_EQ_I64(veo_free_mem(proc, a), 0);
	for (int round = 0; round < 100; round++) {
		uint64_t b = 0;
		if (veo_alloc_mem(proc, &b, 1 << 20) != 0 || b == 0 ||
		    veo_free_mem(proc, b) != 0) {
			CHECKF(0, "alloc/free round %d failed", round);
			break;
		}
	}
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
