/*
 * static_worker.c: kernels linked into a worker of one's own. The test
 * compiles two kernel objects ($CC, else cc), links them with
 * mk_veorun_static in both command forms in use (`-o OUT OBJS...` and
 * `OUT OBJS...`), starts each worker with veo_proc_create_static and finds
 * the kernels with veo_get_sym(proc, 0, name). A static worker still loads
 * libraries.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"

static const char kernel_a[] =
	"#include <stdint.h>\n"
	"int static_value = 1234;\n"
	"int64_t static_add(int64_t a, int64_t b) { return a + b + static_value; }\n";

static const char kernel_b[] =
	"#include <stdint.h>\n"
	"int64_t static_mul(int64_t a, int64_t b) { return a * b; }\n";

static char tmpdir[] = "/tmp/openveo-static-XXXXXX";

/* Removes the temporary directory however the test ends. */
static void remove_tmpdir(void)
{
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	REQUIREF(f != NULL, "cannot create %s: %s", path, strerror(errno));
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
}

/* Runs a shell command; its exit status (-1 if it did not exit). */
static int run(const char *cmd)
{
	printf("+ %s\n", cmd);
	int st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Starts the static worker at bin and checks its kernels. */
static void check_worker(const char *bin)
{
	struct stat st;
	REQUIREF(stat(bin, &st) == 0, "%s was not created", bin);
	CHECKF(st.st_mode & S_IXUSR, "%s is not executable", bin);

	struct veo_proc_handle *proc = veo_proc_create_static(0, (char *)bin);
	REQUIREF(proc != NULL, "veo_proc_create_static(%s) failed", bin);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	/* Handle 0: the worker executable itself. */
	uint64_t add = veo_get_sym(proc, 0, "static_add");
	uint64_t mul = veo_get_sym(proc, 0, "static_mul");
	uint64_t value = veo_get_sym(proc, 0, "static_value");
	CHECK(add != 0);
	CHECK(mul != 0);
	CHECK(value != 0);
	veo_set_error_print(0);
	CHECK_EQ_U64(veo_get_sym(proc, 0, "no_such_static_symbol"), 0);
	veo_set_error_print(1);

	struct veo_args *args = test_args();
	if (add) {
		veo_args_set_i64(args, 0, 2);
		veo_args_set_i64(args, 1, -5);
		CHECK_EQ_I64((int64_t)test_call(ctx, add, args), 2 - 5 + 1234);
	}
	if (mul) {
		veo_args_set_i64(args, 0, 6);
		veo_args_set_i64(args, 1, -7);
		CHECK_EQ_I64((int64_t)test_call(ctx, mul, args), -42);
		/* veo_call_sync needs no context. */
		uint64_t r = 0;
		CHECK_EQ_I64(veo_call_sync(proc, mul, args, &r), VEO_COMMAND_OK);
		CHECK_EQ_I64((int64_t)r, -42);
	}
	if (value && add) {
		int v = 0;
		CHECK_EQ_I64(veo_read_mem(proc, &v, value, sizeof v), 0);
		CHECK_EQ_I64(v, 1234);
		v = 1000;
		CHECK_EQ_I64(veo_write_mem(proc, value, &v, sizeof v), 0);
		veo_args_set_i64(args, 0, 1);
		veo_args_set_i64(args, 1, 2);
		CHECK_EQ_I64((int64_t)test_call(ctx, add, args), 1003);
	}

	/* A static worker loads libraries like any other. */
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);

	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("static_worker");
	REQUIRE(mkdtemp(tmpdir) != NULL);
	atexit(remove_tmpdir);

	const char *cc = getenv("CC");
	if (!cc || !cc[0])
		cc = "cc";
	const char *mk = test_mk_veorun_static();
	REQUIREF(access(mk, X_OK) == 0, "mk_veorun_static not found at %s "
	         "(set OPENVEO_MK_VEORUN_STATIC)", mk);

	char src_a[PATH_MAX], src_b[PATH_MAX], obj_a[PATH_MAX], obj_b[PATH_MAX];
	char out1[PATH_MAX], out2[PATH_MAX], cmd[4 * PATH_MAX + 256];
	snprintf(src_a, sizeof src_a, "%s/kernel_a.c", tmpdir);
	snprintf(src_b, sizeof src_b, "%s/kernel_b.c", tmpdir);
	snprintf(obj_a, sizeof obj_a, "%s/kernel_a.o", tmpdir);
	snprintf(obj_b, sizeof obj_b, "%s/kernel_b.o", tmpdir);
	snprintf(out1, sizeof out1, "%s/veorun_dash_o", tmpdir);
	snprintf(out2, sizeof out2, "%s/veorun_positional", tmpdir);
	write_file(src_a, kernel_a);
	write_file(src_b, kernel_b);

	snprintf(cmd, sizeof cmd, "%s -c -fpic -O2 -o '%s' '%s'", cc, obj_a, src_a);
	REQUIRE(run(cmd) == 0);
	snprintf(cmd, sizeof cmd, "%s -c -fpic -O2 -o '%s' '%s'", cc, obj_b, src_b);
	REQUIRE(run(cmd) == 0);

	/* VEO's documented form. */
	snprintf(cmd, sizeof cmd, "'%s' -o '%s' '%s' '%s'", mk, out1, obj_a, obj_b);
	CHECK(run(cmd) == 0);
	check_worker(out1);

	/* AVEO's and py-veo's form. */
	snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", mk, out2, obj_a, obj_b);
	CHECK(run(cmd) == 0);
	check_worker(out2);

	/* A worker binary that does not exist. */
	char missing[PATH_MAX];
	snprintf(missing, sizeof missing, "%s/no-such-veorun", tmpdir);
	veo_set_error_print(0);
	struct veo_proc_handle *none = veo_proc_create_static(0, missing);
	CHECK(none == NULL);
	CHECK(veo_last_error()[0] != '\0');
	if (none)
		veo_proc_destroy(none);

	return test_done();
}
