/*
 * testlib.h: the little every C test needs: checks that print file:line and
 * the failed expression, where the kernel libraries are, and short-hands
 * for "create a proc, load a library, call a kernel and check it ran".
 *
 * A test calls test_init(), checks with CHECK* (continue after a failure)
 * or REQUIRE* (stop the test), and returns test_done(). Exit status: 0 pass,
 * 1 fail, 77 skip (meson's convention). Every test is one .c file, so the
 * static state below is the test's own.
 */
#ifndef OPENVEO_TESTLIB_H
#define OPENVEO_TESTLIB_H

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ve_offload.h>

#include "../kernels/testkernels.h"

#define TEST_SKIP_STATUS 77

/* Seconds a test may run before it is declared hung. */
#define TEST_TIME_LIMIT 60

static int test_failures;
static const char *test_name = "test";

static inline void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: FAILED: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* The library's last message, when it is new since the last failure
	 * printed (an old one would only mislead). */
	static char shown[1024];
	const char *err = veo_last_error();
	if (err && err[0] && strncmp(err, shown, sizeof shown - 1) != 0) {
		fprintf(stderr, "\n    (veo_last_error: %s)", err);
		snprintf(shown, sizeof shown, "%s", err);
	}
	fputc('\n', stderr);
	test_failures++;
}

static inline void test_stop(void)
{
	fprintf(stderr, "%s: FAIL (stopped after %d failed check%s)\n", test_name,
	        test_failures, test_failures == 1 ? "" : "s");
	exit(1);
}

/* Non-fatal checks: record the failure and go on. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			test_fail(__FILE__, __LINE__, "%s", #cond);            \
	} while (0)

#define CHECKF(cond, ...)                                                      \
	do {                                                                   \
		if (!(cond))                                                   \
			test_fail(__FILE__, __LINE__, __VA_ARGS__);            \
	} while (0)

#define CHECK_EQ_U64(got, want)                                                \
	do {                                                                   \
		uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);          \
		if (g_ != w_)                                                  \
			test_fail(__FILE__, __LINE__,                          \
			          "%s == %s: got 0x%" PRIx64 " (%" PRIu64      \
			          "), want 0x%" PRIx64 " (%" PRIu64 ")",       \
			          #got, #want, g_, g_, w_, w_);                \
	} while (0)

#define CHECK_EQ_I64(got, want)                                                \
	do {                                                                   \
		int64_t g_ = (int64_t)(got), w_ = (int64_t)(want);             \
		if (g_ != w_)                                                  \
			test_fail(__FILE__, __LINE__,                          \
			          "%s == %s: got %" PRId64 ", want %" PRId64,  \
			          #got, #want, g_, w_);                        \
	} while (0)

#define CHECK_EQ_DBL(got, want)                                                \
	do {                                                                   \
		double g_ = (got), w_ = (want);                                \
		if (tk_double_bits(g_) != tk_double_bits(w_))                  \
			test_fail(__FILE__, __LINE__,                          \
			          "%s == %s: got %.17g, want %.17g", #got,     \
			          #want, g_, w_);                              \
	} while (0)

/* s contains sub (s may be NULL). */
#define CHECK_CONTAINS(s, sub)                                                 \
	do {                                                                   \
		const char *s_ = (s), *sub_ = (sub);                           \
		if (!s_ || !strstr(s_, sub_))                                  \
			test_fail(__FILE__, __LINE__,                          \
			          "%s contains \"%s\": got \"%s\"", #s, sub_,  \
			          s_ ? s_ : "(null)");                         \
	} while (0)

/* Fatal checks: the rest of the test depends on them. */
/* expr returns the failure value `bad` and veo_last_error() says `what`.
 * The last error is first set to something no check looks for, so a
 * message left over from an earlier failure cannot pass. */
#define CHECK_FAILS(expr, bad, what)                                           \
	do {                                                                   \
		veo_get_ve_arch(-12345);                                       \
		CHECK_EQ_I64((int64_t)(expr), (int64_t)(bad));                 \
		CHECK_CONTAINS(veo_last_error(), what);                        \
	} while (0)

#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			test_fail(__FILE__, __LINE__, "%s", #cond);            \
			test_stop();                                           \
		}                                                              \
	} while (0)

#define REQUIREF(cond, ...)                                                    \
	do {                                                                   \
		if (!(cond)) {                                                 \
			test_fail(__FILE__, __LINE__, __VA_ARGS__);            \
			test_stop();                                           \
		}                                                              \
	} while (0)

#define TEST_SKIP(...)                                                         \
	do {                                                                   \
		fprintf(stderr, "%s: SKIP: ", test_name);                     \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		exit(TEST_SKIP_STATUS);                                        \
	} while (0)

static inline void test_on_alarm(int sig)
{
	static const char msg[] = "test: FAIL: time limit exceeded (hung?)\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

/* Names the test and arms a time limit, so a hang fails instead of
 * blocking the test run. */
static inline void test_init(const char *name)
{
	test_name = name;
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGALRM, test_on_alarm);
	alarm(TEST_TIME_LIMIT);
}

/* The exit status of the test: prints PASS or the number of failures. */
static inline int test_done(void)
{
	if (test_failures) {
		fprintf(stderr, "%s: FAIL (%d failed check%s)\n", test_name,
		        test_failures, test_failures == 1 ? "" : "s");
		return 1;
	}
	printf("%s: PASS\n", test_name);
	return 0;
}

/* ---- time ---- */
static inline uint64_t test_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double test_now(void)
{
	return (double)test_now_ns() / 1e9;
}

static inline void test_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- where things are ---- */

/* The directory of this test executable (for running a test by hand from
 * the build tree when the environment variables are not set). */
static inline const char *test_exe_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		if (n <= 0)
			return ".";
		dir[n] = '\0';
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
	}
	return dir;
}

/* buf = dir/name; stops the test if it does not fit. */
static inline char *test_join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	REQUIREF(n >= 0 && (size_t)n < size, "path too long: %s/%s", dir, name);
	return buf;
}

/* The first of `dir/rel` for rel in rels[] that exists, in buf; the last
 * candidate if none does (so that the error names a plausible path). */
static inline const char *test_find_near_exe(char *buf, size_t size,
                                             const char *const *rels, int n)
{
	for (int i = 0; i < n; i++) {
		test_join(buf, size, test_exe_dir(), rels[i]);
		if (access(buf, F_OK) == 0)
			break;
	}
	return buf;
}

/* Directory of the kernel libraries: $OPENVEO_TEST_KERNELS, else the
 * kernels/ directory of the build tree next to the test executable. */
static inline const char *test_kernel_dir(void)
{
	static char dir[PATH_MAX];
	static const char *const rels[] = { "kernels", "../kernels" };
	const char *env = getenv("OPENVEO_TEST_KERNELS");
	if (env && env[0])
		return env;
	if (!dir[0])
		test_find_near_exe(dir, sizeof dir, rels, 2);
	return dir;
}

/* mk_veorun_static: $OPENVEO_MK_VEORUN_STATIC, else the one in the build
 * tree (build/tools). */
static inline const char *test_mk_veorun_static(void)
{
	static char path[PATH_MAX];
	static const char *const rels[] = { "../tools/mk_veorun_static",
	                                    "../../tools/mk_veorun_static" };
	const char *env = getenv("OPENVEO_MK_VEORUN_STATIC");
	if (env && env[0])
		return env;
	if (!path[0])
		test_find_near_exe(path, sizeof path, rels, 2);
	return path;
}

/* Full path of a kernel library (a few results may be alive at once). */
static inline const char *kernel_path(const char *file)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	return test_join(b, PATH_MAX, test_kernel_dir(), file);
}

static inline int kernel_exists(const char *file)
{
	return access(kernel_path(file), R_OK) == 0;
}

/* ---- short-hands; each stops the test when the step fails ---- */

/* Sets the CPU affinity of every thread of process pid (a worker), as
 * far as the threads allow. */
static inline void test_pin_process(pid_t pid, const cpu_set_t *mask)
{
	char dir[64];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	REQUIRE((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL)
		if (atoi(e->d_name) > 0)
			sched_setaffinity(atoi(e->d_name), sizeof *mask, mask);
	closedir(d);
}

static inline struct veo_proc_handle *test_proc_create(void)
{
	struct veo_proc_handle *proc = veo_proc_create(0);
	REQUIREF(proc != NULL, "veo_proc_create(0) returned NULL");
	return proc;
}

static inline uint64_t test_load(struct veo_proc_handle *proc, const char *file)
{
	const char *path = kernel_path(file);
	uint64_t lib = veo_load_library(proc, path);
	REQUIREF(lib != 0, "veo_load_library(%s) returned 0", path);
	return lib;
}

static inline uint64_t test_sym(struct veo_proc_handle *proc, uint64_t lib, const char *name)
{
	uint64_t addr = veo_get_sym(proc, lib, name);
	REQUIREF(addr != 0, "veo_get_sym(%s) returned 0", name);
	return addr;
}

static inline struct veo_thr_ctxt *test_ctx_open(struct veo_proc_handle *proc)
{
	struct veo_thr_ctxt *ctx = veo_context_open(proc);
	REQUIREF(ctx != NULL, "veo_context_open returned NULL");
	return ctx;
}

/* Two zeroed 64-bit words of VE memory for the wait_flag kernel: it holds
 * a context until the test writes the first word (the second counts the
 * kernels that started). Returns their VE address. */
static inline uint64_t test_flag_words(struct veo_proc_handle *proc)
{
	uint64_t flags, zero[2] = { 0, 0 };
	REQUIRE(veo_alloc_mem(proc, &flags, sizeof zero) == 0);
	REQUIRE(veo_write_mem(proc, flags, zero, sizeof zero) == 0);
	return flags;
}

static inline struct veo_args *test_args(void)
{
	struct veo_args *args = veo_args_alloc();
	REQUIREF(args != NULL, "veo_args_alloc returned NULL");
	return args;
}

/* Submits a call and waits for it; requires VEO_COMMAND_OK. */
static inline uint64_t test_call_at(const char *file, int line, struct veo_thr_ctxt *ctx,
                                    uint64_t addr, struct veo_args *args)
{
	uint64_t result = 0;
	uint64_t id = veo_call_async(ctx, addr, args);
	if (id == VEO_REQUEST_ID_INVALID) {
		test_fail(file, line, "veo_call_async returned VEO_REQUEST_ID_INVALID");
		test_stop();
	}
	int rc = veo_call_wait_result(ctx, id, &result);
	if (rc != VEO_COMMAND_OK) {
		test_fail(file, line, "veo_call_wait_result returned %d, want VEO_COMMAND_OK", rc);
		test_stop();
	}
	return result;
}
#define test_call(ctx, addr, args) test_call_at(__FILE__, __LINE__, ctx, addr, args)

/* Calls a kernel taking no arguments. */
static inline uint64_t test_call0_at(const char *file, int line, struct veo_thr_ctxt *ctx,
                                     uint64_t addr)
{
	struct veo_args *args = test_args();
	uint64_t r = test_call_at(file, line, ctx, addr, args);
	veo_args_free(args);
	return r;
}
#define test_call0(ctx, addr) test_call0_at(__FILE__, __LINE__, ctx, addr)

/* Calls a kernel taking one uint64_t. */
static inline uint64_t test_call1_at(const char *file, int line, struct veo_thr_ctxt *ctx,
                                     uint64_t addr, uint64_t a0)
{
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, a0);
	uint64_t r = test_call_at(file, line, ctx, addr, args);
	veo_args_free(args);
	return r;
}
#define test_call1(ctx, addr, a0) test_call1_at(__FILE__, __LINE__, ctx, addr, a0)

/* Submits a call of a kernel taking one uint64_t; returns the request id. */
static inline uint64_t test_submit1_at(const char *file, int line, struct veo_thr_ctxt *ctx,
                                       uint64_t addr, uint64_t a0)
{
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, a0);
	uint64_t id = veo_call_async(ctx, addr, args);
	veo_args_free(args);
	if (id == VEO_REQUEST_ID_INVALID) {
		test_fail(file, line, "veo_call_async returned VEO_REQUEST_ID_INVALID");
		test_stop();
	}
	return id;
}
#define test_submit1(ctx, addr, a0) test_submit1_at(__FILE__, __LINE__, ctx, addr, a0)

/* Reads an int library global through veo_get_sym + veo_read_mem. */
static inline int test_read_int_global(struct veo_proc_handle *proc, uint64_t lib,
                                       const char *name)
{
	int v = 0;
	uint64_t addr = test_sym(proc, lib, name);
	REQUIREF(veo_read_mem(proc, &v, addr, sizeof v) == 0, "veo_read_mem(%s) failed", name);
	return v;
}

#endif
