/*
 * static_options.c: the command line of mk_veorun_static, as NEC's takes it
 * and VE Makefiles use it: where the output is named (-o OUT, -oOUT, after
 * the kernels, or first), "--", -v, --help, libraries (-l, -L in both
 * forms, a shared one with -Wl,-rpath), linker options (-Wl, -Xlinker),
 * NEC's -ftrace and -traceback, a $CC of several words, and file names no
 * shell would survive.
 */
#include "mkstatic.h"

static const char opt_kernel[] =
	"#include <stdint.h>\n"
	"int64_t opt_k(int64_t x) { return x + 100; }\n";

/* Uses a static and a shared library built below. */
static const char lib_kernel[] =
	"#include <stdint.h>\n"
	"int64_t scale_by_ten(int64_t x);\n"
	"int64_t shift_by_one(int64_t x);\n"
	"int64_t lib_k(int64_t x) { return shift_by_one(scale_by_ten(x)); }\n";

static const char scale_src[] =
	"#include <stdint.h>\n"
	"int64_t scale_by_ten(int64_t x) { return 10 * x; }\n";

static const char shift_src[] =
	"#include <stdint.h>\n"
	"int64_t shift_by_one(int64_t x) { return x + 1; }\n";

/* Starts worker `name`, checks that `kernel`(x) == want, and stops it. */
static void check_kernel(const char *name, const char *kernel, int64_t x, int64_t want)
{
	if (!mk_exists(name)) {
		CHECKF(0, "worker %s was not created", name);
		return;
	}
	struct veo_proc_handle *proc = mk_start(name);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	CHECK_EQ_I64(mk_call2(proc, ctx, kernel, 1, x, 0), want);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("static_options");
	mk_init();
	const char *k = mk_c_object("opt_kernel", opt_kernel);

	/* Where the output is named. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_dash_o", k), 0);
	check_kernel("w_dash_o", "opt_k", 1, 101);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-ow_joined", k), 0);
	check_kernel("w_joined", "opt_k", 2, 102);
	CHECK_EQ_I64(MK_VEORUN_STATIC(k, "-o", "w_after"), 0);
	check_kernel("w_after", "opt_k", 3, 103);
	CHECK_EQ_I64(MK_VEORUN_STATIC("w_first", k), 0);
	check_kernel("w_first", "opt_k", 4, 104);

	/* After "--" a name that begins with '-' is a kernel. */
	REQUIRE(rename(mk_path(k), mk_path("-dash.o")) == 0);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_dashdash", "--", "-dash.o"), 0);
	check_kernel("w_dashdash", "opt_k", 5, 105);
	REQUIRE(rename(mk_path("-dash.o"), mk_path(k)) == 0);

	/* -v prints the command it runs; the compiler runs with -v too. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-v", "-o", "w_verbose", k), 0);
	CHECK_CONTAINS(mk_output, "mk_veorun_static: running: ");
	CHECK_CONTAINS(mk_output, " -rdynamic");
	CHECK_CONTAINS(mk_output, "mk_veorun_static: created w_verbose");
	check_kernel("w_verbose", "opt_k", 6, 106);

	/* --help and -h: the usage text, on stdout, exit 0. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("--help"), 0);
	CHECK_CONTAINS(mk_output, "usage: mk_veorun_static -o OUTPUT KERNEL...");
	CHECK_CONTAINS(mk_output, "--link-nosym=");
	CHECK_CONTAINS(mk_output, "-fopenmp");
	CHECK_EQ_I64(MK_VEORUN_STATIC("-h"), 0);
	CHECK_CONTAINS(mk_output, "usage: mk_veorun_static");

	/* Libraries the kernel needs: libscale.a and libshift.so in libs/. */
	REQUIRE(mkdir(mk_path("libs"), 0700) == 0);
	mk_write("libs/scale.c", scale_src);
	mk_write("libs/shift.c", shift_src);
	REQUIRE(mk_compile("CC", "cc", "libs/scale.c", "libs/scale.o", NULL) == 0);
	MK_ARCHIVE("libs/libscale.a", "libs/scale.o");
	char *ccv[20];
	int from_env, n = mk_compiler("CC", "cc", ccv, 12, &from_env);
	const char *so_args[] = { "-shared", "-fpic", "-o", "libs/libshift.so", "libs/shift.c" };
	for (int i = 0; i < 5; i++)
		ccv[n++] = (char *)so_args[i];
	ccv[n] = NULL;
	REQUIRE(mk_run((const char *const *)ccv) == 0);
	const char *lk = mk_c_object("lib_kernel", lib_kernel);
	char rpath[PATH_MAX + 16];
	snprintf(rpath, sizeof rpath, "-Wl,-rpath,%s", mk_path("libs"));

	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_libs_split", lk, "-L", "libs", "-l", "scale",
	                              "-lshift", rpath, "-lm"), 0);
	check_kernel("w_libs_split", "lib_k", 4, 41);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_libs_joined", lk, "-Llibs", "-lscale", "-lshift",
	                              rpath), 0);
	check_kernel("w_libs_joined", "lib_k", 5, 51);

	/* Linker options reach the linker: aliases it defines are found. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_linker_opts", k, "-Wl,--defsym=opt_alias=opt_k",
	                              "-Xlinker", "--defsym", "-Xlinker", "opt_alias2=opt_k",
	                              "-pthread"), 0);
	check_kernel("w_linker_opts", "opt_alias", 7, 107);
	check_kernel("w_linker_opts", "opt_alias2", 8, 108);

	/* NEC's -ftrace (its profiler) and -traceback: accepted, no effect. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-ftrace", "-o", "w_ftrace", k, "-traceback=verbose"), 0);
	CHECK_CONTAINS(mk_output, "-ftrace ignored");
	check_kernel("w_ftrace", "opt_k", 9, 109);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_traceback", k, "-traceback"), 0);
	check_kernel("w_traceback", "opt_k", 10, 110);

	/* $CC of several words, one of them quoted: split like a command line. */
	static char cc_env[1200];
	snprintf(cc_env, sizeof cc_env, "CC=env 'OPENVEO_UNUSED=a b' %s",
	         getenv("CC") && getenv("CC")[0] ? getenv("CC") : "cc");
	CHECK_EQ_I64(mk_run_env((const char *const[]){ test_mk_veorun_static(), "-o",
	                                               "w_cc_words", k, NULL }, cc_env), 0);
	check_kernel("w_cc_words", "opt_k", 11, 111);

	/* Names a shell would split or run: no shell sees them. */
	const char *odd_obj = "odd name;$(touch pwned).o";
	const char *odd_out = "w odd 'quoted' `touch pwned2`";
	REQUIRE(rename(mk_path(k), mk_path(odd_obj)) == 0);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", odd_out, odd_obj), 0);
	check_kernel(odd_out, "opt_k", 12, 112);
	CHECK(!mk_exists("pwned"));
	CHECK(!mk_exists("pwned2"));

	return test_done();
}
