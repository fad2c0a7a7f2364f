/*
 * output_order.c: what kernels print arrives, in order with what the host
 * prints, when the host's stdout and stderr are files or pipes (fully
 * buffered, unlike a terminal): a C kernel's printf and fprintf(stderr),
 * a C++ kernel's std::cout and std::cerr, a Fortran kernel's WRITE to
 * units 6 and 0, none of them flushed. The host prints a line before each
 * call and one after its wait, without flushing either; each kernel's
 * lines must land between the two.
 */
#include "capture.h"

/* A line of the host's, to stdout and to stderr, not flushed. */
static void host_says(const char *line)
{
	printf("host: %s\n", line);
	fprintf(stderr, "host: %s\n", line);
}

static void call_print(struct veo_thr_ctxt *ctx, uint64_t fn, int n, const char *which)
{
	char line[128];
	struct veo_args *args = test_args();

	veo_args_set_i32(args, 0, n);
	snprintf(line, sizeof line, "calling the %s kernel", which);
	host_says(line);
	test_call(ctx, fn, args);
	snprintf(line, sizeof line, "the %s kernel returned", which);
	host_says(line);
	veo_args_free(args);
}

static int child(void)
{
	host_says("before veo_proc_create");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t c = test_load(proc, TK_LIB_OUTPUT);

	call_print(ctx, test_sym(proc, c, "print_lines"), 1, "C");
	if (kernel_exists(TK_LIB_CXX)) {
		uint64_t cxx = test_load(proc, TK_LIB_CXX);

		call_print(ctx, test_sym(proc, cxx, "cxx_print"), 2, "C++");
	}
	if (kernel_exists(TK_LIB_FORTRAN)) {
		uint64_t f = test_load(proc, TK_LIB_FORTRAN);

		call_print(ctx, test_sym(proc, f, "fortran_print"), 3, "Fortran");
	}
	REQUIRE(veo_proc_destroy(proc) == 0);
	host_says("veo_proc_destroy returned");
	return 0; /* exit() writes out the host's last lines */
}

/* The lines of one kernel call, in want_out / want_err. */
static void expect_call(char *out, char *err, const char *which, const char *out_line,
                        const char *err_line)
{
	char *w[2] = { out, err };
	const char *k[2] = { out_line, err_line };

	for (int i = 0; i < 2; i++) {
		size_t n = strlen(w[i]);

		snprintf(w[i] + n, CAPTURE_MAX - n, "host: calling the %s kernel\n%s\n"
		         "host: the %s kernel returned\n", which, k[i], which);
	}
}

int main(int argc, char **argv)
{
	static char want_out[CAPTURE_MAX], want_err[CAPTURE_MAX];
	static struct capture c;

	if (argc == 3 && strcmp(argv[1], "--child") == 0) {
		capture_child_init();
		return child();
	}
	test_init("output_order");

	snprintf(want_out, sizeof want_out, "host: before veo_proc_create\n");
	snprintf(want_err, sizeof want_err, "host: before veo_proc_create\n");
	expect_call(want_out, want_err, "C", "C kernel: printf line 1",
	            "C kernel: fprintf(stderr) line 1");
	if (kernel_exists(TK_LIB_CXX))
		expect_call(want_out, want_err, "C++", "C++ kernel: std::cout line 2",
		            "C++ kernel: std::cerr line 2");
	else
		printf("(no C++ kernels built: C++ output not checked)\n");
	if (kernel_exists(TK_LIB_FORTRAN))
		expect_call(want_out, want_err, "Fortran", "Fortran kernel: WRITE(6) line 3",
		            "Fortran kernel: WRITE(0) line 3");
	else
		printf("(no Fortran kernels built: Fortran output not checked)\n");
	strcat(want_out, "host: veo_proc_destroy returned\n");
	strcat(want_err, "host: veo_proc_destroy returned\n");

	for (enum capture_mode m = CAPTURE_FILES; m <= CAPTURE_PIPES; m++) {
		printf("-- stdout and stderr on %s\n", capture_mode_name(m));
		capture_run("kernels", m, &c);
		CHECK_CHILD_OK("kernels", m, &c);
		CHECK_OUTPUT("kernels", m, "stdout", c.out, want_out);
		CHECK_OUTPUT("kernels", m, "stderr", c.err, want_err);
	}
	return test_done();
}
