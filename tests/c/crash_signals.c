/*
 * crash_signals.c: a kernel that crashes kills its worker, never the host.
 * For each way to crash (SIGSEGV, SIGFPE, SIGILL, SIGBUS, SIGABRT, a stack
 * overflow) the request ends with VEO_COMMAND_EXCEPTION and the report
 * says what happened: veo_last_error() names the kernel, the signal and the
 * fault address on its first line, then gives a backtrace that starts in
 * the kernel; veo_proc_death_info() has the same pieces as fields (the
 * kernel's library and every frame too). The context reports
 * VEO_STATE_EXIT, further requests fail instead of hanging, and a new proc
 * works.
 */
#include "testlib.h"

#define ADDR_ANY_NONZERO UINT64_MAX  /* the fault address is some code address */
#define SEGV_ADDR 0xdead0000ull      /* where crash_segv_at writes */

struct crash_case {
	const char *kernel;
	const char *signame;
	int signo;
	uint64_t fault_addr;   /* expected, or ADDR_ANY_NONZERO */
	const char *in_backtrace;
};

static const struct crash_case cases[] = {
	{ "crash_segv", "SIGSEGV", SIGSEGV, 0, "crash_segv" },
	{ "crash_segv_at", "SIGSEGV", SIGSEGV, SEGV_ADDR, "crash_segv_at" },
	{ "crash_fpe", "SIGFPE", SIGFPE, ADDR_ANY_NONZERO, "crash_fpe" },
#if defined(__x86_64__) || defined(__i386__)
	{ "crash_ill", "SIGILL", SIGILL, ADDR_ANY_NONZERO, "crash_ill" },   /* ud2 here */
#endif
	{ "crash_bus", "SIGBUS", SIGBUS, ADDR_ANY_NONZERO, "crash_bus" },
	{ "crash_abort", "SIGABRT", SIGABRT, 0, "crash_abort" },
	{ "crash_stack_overflow", "SIGSEGV", SIGSEGV, ADDR_ANY_NONZERO, "libcrashkernels.so" },
};

/* The report, as veo_last_error() gave it: first line, then the frames. */
static void check_report(const struct crash_case *c, const char *err)
{
	char first[512];
	size_t n = strcspn(err, "\n");
	snprintf(first, sizeof first, "%.*s", (int)n, err);

	CHECK_CONTAINS(first, c->kernel);
	CHECK_CONTAINS(first, c->signame);
	if (c->fault_addr != ADDR_ANY_NONZERO && c->signo != SIGABRT) {
		char at[64];
		snprintf(at, sizeof at, "at address 0x%" PRIx64, c->fault_addr);
		CHECK_CONTAINS(first, at);
	} else if (c->signo != SIGABRT) {
		CHECK_CONTAINS(first, "at address 0x");
	}
	/* A backtrace with numbered frames that goes through the kernel. */
	const char *bt = strstr(err, "\nbacktrace:");
	CHECKF(bt != NULL, "%s: no backtrace in the report", c->kernel);
	if (bt) {
		CHECK_CONTAINS(bt, "\n  #0 0x");
		CHECK_CONTAINS(bt, "\n  #1 0x");
		CHECK_CONTAINS(bt, c->in_backtrace);
	}
}

/* The same report, taken apart by veo_proc_death_info. */
static void check_death_info(const struct crash_case *c, struct veo_proc_handle *proc,
                             const char *err)
{
	struct veo_death_info info;
	memset(&info, 0x5a, sizeof info);
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 1);
	CHECK_EQ_I64(info.cause, VEO_DEATH_SIGNAL);
	CHECK_EQ_I64(info.signo, c->signo);
	CHECKF(strcmp(info.signame, c->signame) == 0, "signame %s, want %s", info.signame,
	       c->signame);
	CHECKF(strcmp(info.kernel, c->kernel) == 0, "kernel \"%s\", want %s", info.kernel,
	       c->kernel);
	if (c->fault_addr == ADDR_ANY_NONZERO)
		CHECK(info.fault_addr != 0);
	else if (c->signo != SIGABRT)
		CHECK_EQ_U64(info.fault_addr, c->fault_addr);
	CHECK_EQ_I64(info.exit_status, 0);
	CHECKF(strcmp(info.report, err) == 0, "the report differs from veo_last_error:\n%s",
	       info.report);
	/* The kernel's library and the backtrace as fields, the frames in the
	 * report's order: one of them is the kernel, in its library. */
	CHECKF(strcmp(info.library, "libcrashkernels.so") == 0, "library \"%s\"", info.library);
	CHECK(info.nframes >= 2 && info.nframes <= VEO_DEATH_FRAMES_MAX);
	int in_kernel = 0;
	for (int i = 0; i < info.nframes && i < VEO_DEATH_FRAMES_MAX; i++) {
		char line[64];
		snprintf(line, sizeof line, "\n  #%d 0x%" PRIx64 " ", i, info.frames[i].pc);
		CHECK_CONTAINS(info.report, line);
		in_kernel |= strcmp(info.frames[i].library, "libcrashkernels.so") == 0;
	}
	CHECKF(in_kernel, "%s: no frame in libcrashkernels.so", c->kernel);
	if (strcmp(c->in_backtrace, c->kernel) == 0 && c->signo != SIGABRT) /* #0 in libc */
		CHECKF(strcmp(info.frames[0].symbol, c->kernel) == 0, "frame #0 is \"%s\", want %s",
		       info.frames[0].symbol, c->kernel);
}

static void crash_in_context(const struct crash_case *c)
{
	printf("-- %s\n", c->kernel);
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	uint64_t fn = test_sym(proc, lib, c->kernel);
	struct veo_args *args = test_args();
	if (c->fault_addr != ADDR_ANY_NONZERO && c->fault_addr != 0)
		veo_args_set_u64(args, 0, c->fault_addr);
	else
		veo_args_set_i32(args, 0, 1);
	uint64_t r = 0;

	/* Alive: no report yet. */
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 0);
	CHECK_EQ_I64(info.cause, VEO_DEATH_NONE);
	CHECK_EQ_I64(info.report[0], 0);

	veo_set_error_print(0);
	uint64_t crash_id = veo_call_async(ctx, fn, args);
	REQUIRE(crash_id != VEO_REQUEST_ID_INVALID);
	int rc = veo_call_wait_result(ctx, crash_id, &r);
	CHECKF(rc == VEO_COMMAND_EXCEPTION, "%s: wait returned %d, want "
	       "VEO_COMMAND_EXCEPTION (%d)", c->kernel, rc, VEO_COMMAND_EXCEPTION);
	char err[4096];
	snprintf(err, sizeof err, "%s", veo_last_error());
	printf("   veo_last_error: %s\n", err);
	check_report(c, err);
	check_death_info(c, proc, err);

	/* The worker is gone; the context says so. */
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_EXIT);
	/* A new request fails at once, saying why in one line. */
	CHECK_EQ_U64(veo_call_async(ctx, fn, args), VEO_REQUEST_ID_INVALID);
	CHECK_CONTAINS(veo_last_error(), c->signame);
	CHECK(strchr(veo_last_error(), '\n') == NULL);
	/* The crashed request's result was collected once. */
	CHECK_EQ_I64(veo_call_wait_result(ctx, crash_id, &r), VEO_COMMAND_ERROR);
	veo_set_error_print(1);

	veo_args_free(args);
	/* Closing and destroying a dead proc release it. */
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

/* veo_call_sync reports the crash the same way, with AVEO's return
 * convention: negative for any failure, a crash included; the host carries
 * on and the report says what happened. */
static void crash_in_call_sync(void)
{
	printf("-- crash_segv through veo_call_sync\n");
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_CRASH);
	struct veo_args *args = test_args();
	uint64_t r = 0;
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_sync(proc, test_sym(proc, lib, "crash_segv"), args, &r), -1);
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
	CHECK_CONTAINS(veo_last_error(), "crash_segv");
	CHECK_CONTAINS(veo_last_error(), "backtrace:");
	veo_set_error_print(1);
	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

/* A library whose constructor crashes: the worker's control thread dies,
 * not a kernel. veo_load_library fails naming the signal. */
static void crash_in_constructor(void)
{
	printf("-- a library constructor crashes\n");
	struct veo_proc_handle *proc = test_proc_create();
	veo_set_error_print(0);
	CHECK_EQ_U64(veo_load_library(proc, kernel_path(TK_LIB_CRASHCTOR)), 0);
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
	CHECK_CONTAINS(veo_last_error(), "control thread");
	printf("   veo_last_error: %s\n", veo_last_error());
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 1);
	CHECK_EQ_I64(info.cause, VEO_DEATH_SIGNAL);
	CHECK_EQ_I64(info.signo, SIGSEGV);
	CHECK_EQ_U64(info.fault_addr, 16);
	CHECK_EQ_I64(info.kernel[0], 0);
	CHECK_CONTAINS(info.report, "libcrashctor.so");  /* the backtrace */
	veo_set_error_print(1);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("crash_signals");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		crash_in_context(&cases[i]);
	crash_in_call_sync();
	crash_in_constructor();

	/* Bad arguments of veo_proc_death_info. */
	veo_set_error_print(0);
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(NULL, &info), -1);
	CHECK_CONTAINS(veo_last_error(), "bad proc handle");

	/* After all that, a new proc works. */
	struct veo_proc_handle *proc = test_proc_create();
	CHECK_EQ_I64(veo_proc_death_info(proc, NULL), -1);
	CHECK_CONTAINS(veo_last_error(), "NULL");
	veo_set_error_print(1);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
