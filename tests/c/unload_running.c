/*
 * unload_running.c: unloading a library while one of its kernels runs
 * would unmap the running code and kill the VE process. It is refused,
 * saying why; once the call has returned the library unloads, and calls
 * into it then fail cleanly. Another library of the proc unloads while a
 * kernel of the first runs.
 */
#include "testlib.h"

int main(void)
{
	test_init("unload_running");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN), other = test_load(proc, TK_LIB_GLOBAL_A);
	uint64_t flags = test_flag_words(proc), empty = test_sym(proc, lib, "empty"), r = 0;
	struct veo_args *args = test_args();

	/* wait_flag runs until the flag is set; its second word says it started. */
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "wait_flag"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	for (uint64_t started = 0; !started;) {
		REQUIRE(veo_read_mem(proc, &started, flags + 8, sizeof started) == 0);
		sched_yield();
	}

	veo_set_error_print(0);
	CHECK_FAILS(veo_unload_library(proc, lib), -1, "library in use by a running call");
	veo_set_error_print(1);
	/* Another library goes while the kernel runs. */
	CHECK_EQ_I64(veo_unload_library(proc, other), 0);

	uint64_t one = 1;
	REQUIRE(veo_write_mem(proc, flags, &one, sizeof one) == 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1);
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	/* Now it unloads; its functions are no code any more. */
	CHECK_EQ_I64(veo_unload_library(proc, lib), 0);
	veo_args_clear(args);
	id = veo_call_async(ctx, empty, args);
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), "is not code of a loaded library");
	veo_set_error_print(1);
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);

	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
