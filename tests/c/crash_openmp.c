/*
 * crash_openmp.c: a kernel whose OpenMP thread (not the context's own
 * thread) crashes. The report is charged to the kernel that started the
 * parallel region: VEO_COMMAND_EXCEPTION, the kernel's name, SIGSEGV, the
 * fault address, a note that the fault was in a thread the kernel started,
 * and a backtrace through the kernel library.
 */
#include "testlib.h"

int main(void)
{
	test_init("crash_openmp");
	if (!kernel_exists(TK_LIB_OMP))
		TEST_SKIP("%s was not built (no OpenMP)", TK_LIB_OMP);
	/* Four threads whatever the machine: thread 1 exists. */
	setenv("VE_OMP_NUM_THREADS", "4", 1);

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_OMP);
	CHECK_EQ_I64((int)test_call0(ctx, test_sym(proc, lib, "omp_team_size")), 4);

	uint64_t fn = test_sym(proc, lib, "omp_crash_in_thread");
	struct veo_args *args = test_args();
	uint64_t r = 0;
	veo_set_error_print(0);
	uint64_t id = veo_call_async(ctx, fn, args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_EXCEPTION);
	const char *err = veo_last_error();
	printf("veo_last_error: %s\n", err);
	CHECK_CONTAINS(err, "kernel omp_crash_in_thread");
	CHECK_CONTAINS(err, "SIGSEGV");
	CHECK_CONTAINS(err, "at address 0x0");
	CHECK_CONTAINS(err, "in a thread the kernel started");
	CHECK_CONTAINS(err, "backtrace:");
	CHECK_CONTAINS(strstr(err, "backtrace:"), "libompkernels.so");

	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 1);
	CHECK_EQ_I64(info.cause, VEO_DEATH_SIGNAL);
	CHECK_EQ_I64(info.signo, SIGSEGV);
	CHECK_EQ_U64(info.fault_addr, 0);
	CHECKF(strcmp(info.kernel, "omp_crash_in_thread") == 0, "kernel \"%s\"", info.kernel);
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
