/*
 * host_view.c: veo_host_view, an openveo extension: the VE heap is mapped
 * by host and worker alike, so the host reads and writes a kernel's data
 * in place, with no copy. What a kernel writes the view shows at once, and
 * what the host writes through it the kernel reads. Memory outside the heap
 * or a range that leaves its block is NULL with a message.
 */
#include "testlib.h"

int main(void)
{
	test_init("host_view");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_HMEM);
	uint64_t fill = test_sym(proc, lib, "hmem_fill");
	uint64_t addr;

	REQUIRE(veo_alloc_mem(proc, &addr, 100 * sizeof(int)) == 0);
	int *view = veo_host_view(proc, addr, 100 * sizeof(int));
	REQUIRE(view != NULL);

	/* The kernel writes (through an hmem pointer of this block), the view
	 * shows it, no copy in between. */
	void *hmem = veo_set_proc_identifier((void *)(uintptr_t)addr, veo_proc_identifier(proc));
	struct veo_args *args = test_args();
	veo_args_set_hmem(args, 0, hmem);
	veo_args_set_i32(args, 1, 5);
	veo_args_set_i32(args, 2, 100);
	test_call(ctx, fill, args);
	for (int i = 0; i < 100; i++)
		CHECKF(view[i] == 5 + i, "view[%d] = %d", i, view[i]);

	/* The host writes through the view; veo_read_mem sees the same bytes. */
	view[42] = -1;
	int x = 0;
	REQUIRE(veo_read_mem(proc, &x, addr + 42 * sizeof(int), sizeof x) == 0);
	CHECK_EQ_I64(x, -1);
	/* An hmem pointer of the proc gives the same view; part of a block too. */
	CHECK(veo_host_view(proc, (uint64_t)(uintptr_t)hmem, 4) == view);
	CHECK(veo_host_view(proc, addr + 40, 8) == (char *)view + 40);

	/* Outside one allocated block: NULL and a message. */
	veo_set_error_print(0);
	CHECK(veo_host_view(proc, addr, 1 << 20) == NULL); /* more than the block, rounded */
	CHECK_CONTAINS(veo_last_error(), "is not inside VE memory from veo_alloc_mem");
	CHECK(veo_host_view(proc, test_sym(proc, lib, "return_arg"), 8) == NULL);
	CHECK(veo_host_view(proc, 0x1000, 8) == NULL);
	CHECK(veo_host_view(NULL, addr, 8) == NULL);
	CHECK_CONTAINS(veo_last_error(), "bad proc handle");
	void *foreign = veo_set_proc_identifier((void *)(uintptr_t)addr, 15);
	CHECK(veo_host_view(proc, (uint64_t)(uintptr_t)foreign, 8) == NULL);
	CHECK_CONTAINS(veo_last_error(), "not this proc's");
	REQUIRE(veo_free_mem(proc, addr) == 0);
	CHECK(veo_host_view(proc, addr, 8) == NULL);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
