/*
 * static_languages.c: kernels that need a runtime, linked into a worker of
 * one's own: OpenMP (-fopenmp, and NEC's -mparallel), C++ (libstdc++:
 * static constructors, exceptions, the standard library) and Fortran
 * (libgfortran: an internal WRITE; a subroutine called as sub1_ with stack
 * arguments, as VEO's documentation does). mk_veorun_static links with the
 * C compiler ($CC) and finds the C++ and Fortran runtimes itself; a worker
 * of C kernels depends on neither. The C++ and Fortran parts are skipped
 * when the compiler is missing.
 */
#include "mkstatic.h"

static const char omp_src[] =
	"#include <omp.h>\n"
	"#include <stdint.h>\n"
	"int64_t omp_team_size(void)\n"
	"{\n"
	"	int n = 0;\n"
	"#pragma omp parallel\n"
	"	{\n"
	"#pragma omp single\n"
	"		n = omp_get_num_threads();\n"
	"	}\n"
	"	return n;\n"
	"}\n"
	"int64_t omp_sum(int64_t n)\n"
	"{\n"
	"	int64_t s = 0;\n"
	"#pragma omp parallel for reduction(+ : s)\n"
	"	for (int64_t i = 1; i <= n; i++)\n"
	"		s += i;\n"
	"	return s;\n"
	"}\n";

static const char cxx_src[] =
	"#include <algorithm>\n"
	"#include <cstdint>\n"
	"#include <stdexcept>\n"
	"#include <string>\n"
	"#include <vector>\n"
	"static const std::string greeting(\"hello from a static worker\");\n"
	"extern \"C\" int64_t cxx_static_len() { return (int64_t)greeting.size(); }\n"
	"extern \"C\" int64_t cxx_throw_catch(int64_t x)\n"
	"{\n"
	"	try {\n"
	"		throw std::runtime_error(std::to_string(x));\n"
	"	} catch (const std::exception &e) {\n"
	"		return 2 * std::stoll(e.what());\n"
	"	}\n"
	"}\n"
	"extern \"C\" int64_t cxx_median(int64_t a, int64_t b)\n"
	"{\n"
	"	std::vector<int64_t> v{a, b, 7};\n"
	"	std::sort(v.begin(), v.end());\n"
	"	return v[1];\n"
	"}\n";

static const char fortran_src[] =
	"integer(8) function ftn_digits(x) bind(c, name=\"ftn_digits\")\n"
	"  integer(8), value :: x\n"
	"  character(len=32) :: s\n"
	"  write(s, '(i0)') x\n"
	"  ftn_digits = len_trim(s)\n"
	"end function ftn_digits\n"
	"subroutine sub1(x, ret)\n"
	"  integer(8), intent(in) :: x\n"
	"  integer(8), intent(out) :: ret\n"
	"  ret = x + 1\n"
	"end subroutine sub1\n";

/* Whether the worker process has library `lib` mapped. */
static int worker_maps(struct veo_proc_handle *proc, const char *lib)
{
	char path[64], line[PATH_MAX + 128];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)veo_proc_pid(proc));
	FILE *f = fopen(path, "r");
	REQUIREF(f != NULL, "cannot read %s: %s", path, strerror(errno));
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, lib) != NULL;
	fclose(f);
	return found;
}

static void stop(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

static void check_openmp(const char *worker)
{
	struct veo_proc_handle *proc = mk_start(worker);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	CHECK_EQ_I64(mk_call2(proc, ctx, "omp_team_size", 0, 0, 0), 3);
	CHECK_EQ_I64(mk_call2(proc, ctx, "omp_sum", 1, 1000, 0), 1000 * 1001 / 2);
	/* C kernels only: neither the C++ nor the Fortran runtime (unless a
	 * sanitizer runtime of a sanitized build brings libstdc++). */
	if (!worker_maps(proc, "san.so"))
		CHECK(!worker_maps(proc, "libstdc++"));
	CHECK(!worker_maps(proc, "libgfortran"));
	stop(proc, ctx);
}

int main(void)
{
	test_init("static_languages");
	mk_init();
	/* The worker's OpenMP runtime reads OMP_NUM_THREADS=3. */
	setenv("VE_OMP_NUM_THREADS", "3", 1);

	/* OpenMP: -fopenmp, as VEO's documentation links it; -mparallel. */
	mk_write("omp.c", omp_src);
	REQUIRE(mk_compile("CC", "cc", "omp.c", "omp.o", (const char *[]){ "-fopenmp", NULL }) ==
	        0);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_openmp", "omp.o", "-fopenmp"), 0);
	check_openmp("w_openmp");
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_mparallel", "omp.o", "-mparallel"), 0);
	check_openmp("w_mparallel");

	/* C++, compiled with $CXX and linked by the C compiler. */
	mk_write("cxx.cpp", cxx_src);
	int st = mk_compile("CXX", "c++", "cxx.cpp", "cxx.o", NULL);
	CHECK(st == 0 || st == TEST_SKIP_STATUS);
	if (st == 0) {
		CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_cxx", "cxx.o"), 0);
		struct veo_proc_handle *proc = mk_start("w_cxx");
		struct veo_thr_ctxt *ctx = test_ctx_open(proc);
		CHECK_EQ_I64(mk_call2(proc, ctx, "cxx_static_len", 0, 0, 0),
		             strlen("hello from a static worker"));
		CHECK_EQ_I64(mk_call2(proc, ctx, "cxx_throw_catch", 1, 21, 0), 42);
		CHECK_EQ_I64(mk_call2(proc, ctx, "cxx_median", 2, 100, -4), 7);
		CHECK(worker_maps(proc, "libstdc++"));
		stop(proc, ctx);
	}

	/* Fortran, compiled with $FC and linked by the C compiler. */
	mk_write("ftn.f90", fortran_src);
	st = mk_compile("FC", "gfortran", "ftn.f90", "ftn.o", NULL);
	CHECK(st == 0 || st == TEST_SKIP_STATUS);
	if (st == 0) {
		CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_fortran", "ftn.o"), 0);
		struct veo_proc_handle *proc = mk_start("w_fortran");
		struct veo_thr_ctxt *ctx = test_ctx_open(proc);
		CHECK_EQ_I64(mk_call2(proc, ctx, "ftn_digits", 1, -12345, 0), 6);

		int64_t x = 42, y = 0;
		uint64_t sub1 = veo_get_sym(proc, 0, "sub1_");
		CHECK(sub1 != 0);
		if (sub1) {
			struct veo_args *args = test_args();
			veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)&x, sizeof x);
			veo_args_set_stack(args, VEO_INTENT_OUT, 1, (char *)&y, sizeof y);
			test_call(ctx, sub1, args);
			CHECK_EQ_I64(y, 43);
			veo_args_free(args);
		}
		CHECK(worker_maps(proc, "libgfortran"));
		stop(proc, ctx);
	}

	return test_done();
}
