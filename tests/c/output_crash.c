/*
 * output_crash.c: what a kernel printed just before it died still arrives
 * when the host's stdout and stderr are files or pipes, and before what
 * the host prints once it learned of the death: a kernel that prints
 * (printf and fprintf(stderr), not flushed) and then dies of SIGSEGV,
 * of abort(), or calls exit(3).
 */
#include "capture.h"

static void host_says(const char *line)
{
	printf("host: %s\n", line);
	fprintf(stderr, "host: %s\n", line);
}

struct death {
	const char *role;   /* the child's */
	const char *kernel; /* in libcrashkernels.so */
	const char *how;    /* what the kernel's lines name */
};

static const struct death deaths[] = {
	{ "segv", "crash_print_segv", "SIGSEGV" },
	{ "abort", "crash_print_abort", "abort()" },
	{ "exit", "crash_print_exit", "exit()" },
};

static int child(const char *role)
{
	const struct death *d = NULL;

	for (size_t i = 0; i < sizeof deaths / sizeof deaths[0]; i++)
		if (strcmp(role, deaths[i].role) == 0)
			d = &deaths[i];
	REQUIRE(d != NULL);
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t fn = test_sym(proc, test_load(proc, TK_LIB_CRASH), d->kernel);
	struct veo_args *args = test_args();
	uint64_t r = 0;

	veo_args_set_i32(args, 0, 3); /* the exit status, for crash_print_exit */
	host_says("calling a kernel that prints, then dies");
	veo_set_error_print(0); /* the report would go to our stderr */
	uint64_t id = veo_call_async(ctx, fn, args);
	int rc = veo_call_wait_result(ctx, id, &r);
	host_says(rc == VEO_COMMAND_EXCEPTION ? "the call ended with VEO_COMMAND_EXCEPTION"
	                                      : "the call did not end with an exception");
	veo_args_free(args);
	veo_proc_destroy(proc);
	host_says("veo_proc_destroy returned");
	return rc == VEO_COMMAND_EXCEPTION ? 0 : 3;
}

int main(int argc, char **argv)
{
	static struct capture c;

	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		capture_child_init();
		return child(argv[2]);
	}
	test_init("output_crash");
	if (!kernel_exists(TK_LIB_CRASH))
		TEST_SKIP("%s not built", TK_LIB_CRASH);

	for (size_t i = 0; i < sizeof deaths / sizeof deaths[0]; i++) {
		const struct death *d = &deaths[i];
		char want_out[512], want_err[512];
		static const char *const fmt =
			"host: calling a kernel that prints, then dies\n"
			"crashing kernel: %s before %s\n"
			"host: the call ended with VEO_COMMAND_EXCEPTION\n"
			"host: veo_proc_destroy returned\n";

		snprintf(want_out, sizeof want_out, fmt, "printf", d->how);
		snprintf(want_err, sizeof want_err, fmt, "fprintf(stderr)", d->how);
		for (enum capture_mode m = CAPTURE_FILES; m <= CAPTURE_PIPES; m++) {
			printf("-- %s, stdout and stderr on %s\n", d->kernel, capture_mode_name(m));
			capture_run(d->role, m, &c);
			CHECK_CHILD_OK(d->role, m, &c);
			CHECK_OUTPUT(d->role, m, "stdout", c.out, want_out);
			CHECK_OUTPUT(d->role, m, "stderr", c.err, want_err);
		}
	}
	return test_done();
}
