/*
 * kernel_closes_fds.c: kernels that close descriptors, as daemonising code
 * does (3..63), or every one (3..1023). A closed descriptor is not a dead
 * host: the worker's watchdog keeps its channels out of the usual range,
 * and when a kernel closes them anyway it says so on stderr and watches
 * the host's process id instead. The proc answers afterwards, also after
 * the watchdog had time to look (the kernel waits 1.2 s, two of its
 * periods, before it returns).
 */
#include "testlib.h"

static void closes(int lo, int hi)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_args *args = test_args();
	struct veo_death_info info;

	veo_args_set_i32(args, 0, lo);
	veo_args_set_i32(args, 1, hi);
	veo_args_set_i32(args, 2, 1200);
	uint64_t n = test_call(ctx, test_sym(proc, lib, "close_fds"), args);
	printf("   closing %d..%d: %d were open\n", lo, hi, (int)n);
	CHECK(n >= 1); /* the memfd at least (3) */
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);
	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("kernel_closes_fds");
	closes(3, 63);
	closes(3, 1023);
	return test_done();
}
