/*
 * output_at_exit.c: veo_proc_destroy ends the VE process the normal way,
 * through exit(): what the kernel libraries print on the way out arrives
 * before veo_proc_destroy returns, with the host's stdout and stderr on
 * files or pipes. A C library's atexit handler and destructor, a C++
 * static destructor, and gfortran's runtime writing out its units when
 * they are buffered (VE_GFORTRAN_UNBUFFERED_PRECONNECTED=n, the user's
 * setting, which libveo keeps).
 */
#include "capture.h"

static void host_says(const char *line)
{
	printf("host: %s\n", line);
	fprintf(stderr, "host: %s\n", line);
}

static int child(void)
{
	host_says("before veo_proc_create");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	CHECK_EQ_I64(test_call0(ctx, test_sym(proc, test_load(proc, TK_LIB_OUTPUT),
	                                      "arm_exit_handlers")), 0);
	if (kernel_exists(TK_LIB_CXX))
		test_call0(ctx, test_sym(proc, test_load(proc, TK_LIB_CXX),
		                         "cxx_arm_static_destructor"));
	host_says("calling veo_proc_destroy");
	REQUIRE(veo_proc_destroy(proc) == 0);
	host_says("veo_proc_destroy returned");

	if (kernel_exists(TK_LIB_FORTRAN)) {
		REQUIRE(setenv("VE_GFORTRAN_UNBUFFERED_PRECONNECTED", "n", 1) == 0);
		proc = test_proc_create();
		ctx = test_ctx_open(proc);
		struct veo_args *args = test_args();
		veo_args_set_i32(args, 0, 4);
		host_says("calling the Fortran kernel, its units buffered");
		test_call(ctx, test_sym(proc, test_load(proc, TK_LIB_FORTRAN), "fortran_print"),
		          args);
		veo_args_free(args);
		REQUIRE(veo_proc_destroy(proc) == 0);
		host_says("veo_proc_destroy returned");
	}
	return test_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	static char want_out[CAPTURE_MAX], want_err[CAPTURE_MAX];
	static struct capture c;

	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		capture_child_init();
		return child();
	}
	test_init("output_at_exit");

	/* Exit handlers run in the reverse order of their registration: the
	 * C++ object's (made after the atexit call) first; library
	 * destructors after them all, then stdio is written out. */
	snprintf(want_out, sizeof want_out, "host: before veo_proc_create\n"
	         "host: calling veo_proc_destroy\n%s"
	         "C kernel: atexit handler\n"
	         "C kernel: library destructor\n"
	         "host: veo_proc_destroy returned\n",
	         kernel_exists(TK_LIB_CXX) ? "C++ kernel: static destructor\n" : "");
	snprintf(want_err, sizeof want_err, "host: before veo_proc_create\n"
	         "host: calling veo_proc_destroy\n"
	         "C kernel: atexit handler (stderr)\n"
	         "host: veo_proc_destroy returned\n");
	if (kernel_exists(TK_LIB_FORTRAN)) {
		strcat(want_out, "host: calling the Fortran kernel, its units buffered\n"
		                 "Fortran kernel: WRITE(6) line 4\n"
		                 "host: veo_proc_destroy returned\n");
		strcat(want_err, "host: calling the Fortran kernel, its units buffered\n"
		                 "Fortran kernel: WRITE(0) line 4\n"
		                 "host: veo_proc_destroy returned\n");
	}
	if (!kernel_exists(TK_LIB_CXX))
		printf("(no C++ kernels built: C++ static destructors not checked)\n");
	if (!kernel_exists(TK_LIB_FORTRAN))
		printf("(no Fortran kernels built: gfortran's units not checked)\n");

	for (enum capture_mode m = CAPTURE_FILES; m <= CAPTURE_PIPES; m++) {
		printf("-- stdout and stderr on %s\n", capture_mode_name(m));
		capture_run("exit", m, &c);
		CHECK_CHILD_OK("exit", m, &c);
		CHECK_OUTPUT("exit", m, "stdout", c.out, want_out);
		CHECK_OUTPUT("exit", m, "stderr", c.err, want_err);
	}
	return test_done();
}
