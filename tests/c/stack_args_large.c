/*
 * stack_args_large.c: stack arguments of 64 MiB, IN and INOUT, arrive and
 * come back intact.
 */
#include "testlib.h"

#define SIZE (64ul * 1024 * 1024)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + (i >> 20));
}

int main(void)
{
	test_init("stack_args_large");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();

	uint8_t *buf = malloc(SIZE);
	REQUIRE(buf != NULL);
	uint64_t sum = 0, new_sum = 0;
	for (size_t i = 0; i < SIZE; i++) {
		buf[i] = pattern(i);
		sum += buf[i];
		new_sum += (uint8_t)(buf[i] + 1);
	}

	/* IN: the kernel sums it. */
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)buf, SIZE), 0);
	veo_args_set_u64(args, 1, SIZE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "sum_bytes"), args), sum);

	/* INOUT: the kernel adds 1 to every byte; all of it comes back. */
	veo_args_clear(args);
	CHECK_EQ_I64(veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)buf, SIZE), 0);
	veo_args_set_u64(args, 1, SIZE);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "inc_bytes"), args), new_sum);
	size_t bad = 0, first_bad = 0;
	for (size_t i = 0; i < SIZE; i++) {
		if (buf[i] != (uint8_t)(pattern(i) + 1) && bad++ == 0)
			first_bad = i;
	}
	CHECKF(bad == 0, "%zu of %lu bytes wrong after INOUT, the first at %zu", bad,
	       SIZE, first_bad);

	free(buf);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
