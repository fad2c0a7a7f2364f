/*
 * mkstatic.h: what the static worker tests (static_*.c) share: a private
 * temporary directory, writing kernel sources into it, compiling them and
 * running mk_veorun_static, each from an argument list (no shell), with
 * the output of the tool kept for the test to check.
 *
 * Compilers: $CC (C), $CXX (C++), $FC (Fortran), as tests/meson.build sets
 * them; split at blanks. Run by hand without them: cc, c++, gfortran.
 */
#ifndef OPENVEO_MKSTATIC_H
#define OPENVEO_MKSTATIC_H

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"

static char mk_dir[] = "/tmp/openveo-static-XXXXXX";

static int mk_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void mk_remove_dir(void)
{
	if (nftw(mk_dir, mk_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "could not remove %s\n", mk_dir);
}

/* Creates the test's directory, removed however the test ends. */
static inline void mk_init(void)
{
	REQUIREF(mkdtemp(mk_dir) != NULL, "mkdtemp: %s", strerror(errno));
	atexit(mk_remove_dir);
	const char *mk = test_mk_veorun_static();
	REQUIREF(access(mk, X_OK) == 0, "mk_veorun_static not found at %s "
	         "(set OPENVEO_MK_VEORUN_STATIC)", mk);
	/* The tool runs in mk_dir: a relative path would not reach it. */
	char abs[PATH_MAX];
	REQUIRE(realpath(mk, abs) != NULL);
	setenv("OPENVEO_MK_VEORUN_STATIC", abs, 1);
}

/* mk_dir/name, in one of a few rotating buffers. */
static inline const char *mk_path(const char *name)
{
	static char bufs[16][PATH_MAX];
	static int next;
	return test_join(bufs[next++ % 16], PATH_MAX, mk_dir, name);
}

/* Writes text to mk_dir/name; returns the path. */
static inline const char *mk_write(const char *name, const char *text)
{
	const char *path = mk_path(name);
	FILE *f = fopen(path, "w");
	REQUIREF(f != NULL, "cannot create %s: %s", path, strerror(errno));
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
	return path;
}

/* The output of the last mk_run, stdout and stderr together. */
static char mk_output[1 << 16];

/*
 * Runs argv (NULL-terminated; argv[0] is looked up on PATH) with `env`
 * (NAME=VALUE, or NULL) added to the environment, in mk_dir. Keeps its
 * output in mk_output and returns its exit status (-1 if it did not exit).
 */
static inline int mk_run_env(const char *const *argv, const char *env)
{
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	printf("+");
	for (int i = 0; argv[i]; i++)
		printf(" %s", argv[i]);
	printf("\n");
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		if (chdir(mk_dir) != 0)
			_exit(126);
		if (env)
			putenv((char *)env);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t n;
	while ((n = read(fds[0], mk_output + got, sizeof mk_output - 1 - got)) > 0 ||
	       (n < 0 && errno == EINTR))
		got += n > 0 ? (size_t)n : 0;
	mk_output[got] = '\0';
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		REQUIRE(errno == EINTR);
	if (got)
		printf("%s%s", mk_output, mk_output[got - 1] == '\n' ? "" : "\n");
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int mk_run(const char *const *argv)
{
	return mk_run_env(argv, NULL);
}

/* Runs mk_veorun_static with the arguments given (NULL-terminated). */
#define MK_VEORUN_STATIC(...) \
	mk_run((const char *const[]){ test_mk_veorun_static(), __VA_ARGS__, NULL })

/*
 * The compiler of a language: $var split at blanks, else `fallback`.
 * *from_env says which. Fills argv (room entries with the NULL) and
 * returns the number of words.
 */
static inline int mk_compiler(const char *var, const char *fallback, char **argv, int room,
                              int *from_env)
{
	static char words[4][1024];
	static int next;
	const char *env = getenv(var);
	char *buf = words[next++ % 4];
	int n = 0;
	*from_env = env && env[0];
	snprintf(buf, sizeof words[0], "%s", *from_env ? env : fallback);
	for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w && n < room - 1;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return n;
}

/*
 * Compiles mk_dir/src into mk_dir/obj (-c -fpic -O2 and the NULL-terminated
 * flags) with the compiler of $var (else fallback). Returns the exit status;
 * 77 when the compiler is not from the environment and does not run (the
 * language is not installed: the caller skips that part).
 */
static inline int mk_compile(const char *var, const char *fallback, const char *src,
                             const char *obj, const char *const *flags)
{
	char *argv[32];
	int from_env;
	int n = mk_compiler(var, fallback, argv, 16, &from_env);
	const char *fixed[] = { "-c", "-fpic", "-O2", "-o", obj, src };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		argv[n++] = (char *)fixed[i];
	for (int i = 0; flags && flags[i] && n < 31; i++)
		argv[n++] = (char *)flags[i];
	argv[n] = NULL;
	int st = mk_run((const char *const *)argv);
	if (st != 0 && !from_env && (st == 127 || access(mk_path(obj), F_OK) != 0)) {
		printf("(%s not usable: that part is skipped)\n", fallback);
		return TEST_SKIP_STATUS;
	}
	return st;
}

/* Compiles C source `text` (written as name.c) into name.o; stops the test
 * if that fails. Returns the object's name (relative to mk_dir). */
static inline const char *mk_c_object(const char *name, const char *text)
{
	static char objs[8][256];
	static int next;
	char src[256];
	char *obj = objs[next++ % 8];
	snprintf(src, sizeof src, "%s.c", name);
	snprintf(obj, sizeof objs[0], "%s.o", name);
	mk_write(src, text);
	REQUIREF(mk_compile("CC", "cc", src, obj, NULL) == 0, "cannot compile %s", src);
	return obj;
}

/* ar rcs mk_dir/name members...; stops the test if that fails. */
#define MK_ARCHIVE(name, ...)                                                    \
	REQUIREF(mk_run((const char *const[]){ "ar", "rcs", name, __VA_ARGS__, NULL }) == 0, \
	         "ar rcs %s failed", name)

/* Whether mk_dir/name exists. */
static inline int mk_exists(const char *name)
{
	return access(mk_path(name), F_OK) == 0;
}

/* Starts the static worker mk_dir/name; stops the test if it cannot. */
static inline struct veo_proc_handle *mk_start(const char *name)
{
	const char *path = mk_path(name);
	struct veo_proc_handle *proc = veo_proc_create_static(0, (char *)path);
	REQUIREF(proc != NULL, "veo_proc_create_static(%s) failed", path);
	return proc;
}

/* Calls the kernel `name` of a static worker with up to two int64_t
 * arguments (nargs of them); the test stops if it is not found. */
static inline int64_t mk_call2(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                               const char *name, int nargs, int64_t a, int64_t b)
{
	uint64_t addr = veo_get_sym(proc, 0, name);
	REQUIREF(addr != 0, "veo_get_sym(proc, 0, \"%s\") found nothing", name);
	struct veo_args *args = test_args();
	if (nargs > 0)
		veo_args_set_i64(args, 0, a);
	if (nargs > 1)
		veo_args_set_i64(args, 1, b);
	int64_t r = (int64_t)test_call(ctx, addr, args);
	veo_args_free(args);
	return r;
}

#endif
