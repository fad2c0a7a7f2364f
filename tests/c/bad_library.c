/*
 * bad_library.c: libraries and symbols that are not there. Loading a path
 * that does not exist, a text file, a directory, an executable or an empty
 * path fails with the dynamic loader's reason; unloading twice or a
 * made-up handle fails; a symbol that is missing, of an unloaded library or
 * with a bad name fails; calling a function of a library that was unloaded
 * is an error, not a crash of the worker. The proc keeps working.
 */
#include <sys/stat.h>

#include "testlib.h"

int main(void)
{
	test_init("bad_library");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	veo_set_error_print(0);

	/* A private directory with a text file and a directory in it. */
	char dir[] = "/tmp/openveo-bad-library-XXXXXX", text[PATH_MAX], sub[PATH_MAX];
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(text, sizeof text, "%s/not_a_library.so", dir);
	snprintf(sub, sizeof sub, "%s/a_directory.so", dir);
	FILE *f = fopen(text, "w");
	REQUIRE(f != NULL);
	for (int i = 0; i < 100; i++)
		fprintf(f, "this is a text file, line %d, not a shared object\n", i);
	fclose(f);
	REQUIRE(mkdir(sub, 0700) == 0);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	REQUIRE(n > 0);
	self[n] = '\0';
	static char too_long[PATH_MAX + 10];
	memset(too_long, 'a', sizeof too_long - 1);
	too_long[0] = '/';

	printf("-- paths that are not shared objects\n");
	CHECK_FAILS(veo_load_library(proc, "/nonexistent/libnothing.so"), 0,
	      "No such file or directory");
	CHECK_FAILS(veo_load_library(proc, text), 0, "invalid ELF header");
	CHECK_FAILS(veo_load_library(proc, sub), 0, "Is a directory");
	CHECK_CONTAINS(veo_last_error(), "a_directory.so");
	CHECK_FAILS(veo_load_library(proc, self), 0, "veo_load_library");  /* an executable */
	printf("   %s\n", veo_last_error());
	CHECK_FAILS(veo_load_library(proc, ""), 0, "no path given");
	CHECK_FAILS(veo_load_library(proc, NULL), 0, "no path given");
	CHECK_FAILS(veo_load_library(proc, too_long), 0, "path too long");

	printf("-- unloading twice, made-up handles\n");
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(veo_load_library(proc, kernel_path(TK_LIB_MAIN)), lib); /* same one */
	uint64_t empty = test_sym(proc, lib, "empty");
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_unload_library(proc, lib), 0);
	CHECK_FAILS(veo_unload_library(proc, lib), -1, "is not loaded");
	CHECK_FAILS(veo_unload_library(proc, 0), -1, "is not loaded");
	CHECK_FAILS(veo_unload_library(proc, 0xdeadbeef), -1, "is not loaded");
	CHECK_FAILS(veo_unload_library(proc, empty), -1, "is not loaded"); /* an address */

	printf("-- symbols\n");
	CHECK_FAILS(veo_get_sym(proc, lib, "empty"), 0, "is not loaded");  /* unloaded */
	uint64_t lib2 = test_load(proc, TK_LIB_MAIN);
	CHECK(lib2 != lib); /* a new handle, even if dlopen reuses the address */
	CHECK_FAILS(veo_unload_library(proc, lib), -1, "is not loaded");
	CHECK_FAILS(veo_get_sym(proc, lib2, "no_such_symbol"), 0, "symbol no_such_symbol not found");
	CHECK_FAILS(veo_get_sym(proc, 0xdeadbeef, "empty"), 0, "is not loaded");
	CHECK_FAILS(veo_get_sym(proc, lib2, ""), 0, "no symbol name given");
	CHECK_FAILS(veo_get_sym(proc, lib2, NULL), 0, "no symbol name given");
	char long_name[300];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	CHECK_FAILS(veo_get_sym(proc, lib2, long_name), 0, "longer than 255");
	struct veo_args *args = test_args();
	CHECK_FAILS(veo_call_async_by_name(ctx, lib2, "no_such_symbol", args), VEO_REQUEST_ID_INVALID,
	      "not found");

	printf("-- a function of an unloaded library\n");
	uint64_t empty2 = test_sym(proc, lib2, "empty");
	CHECK_EQ_U64(test_call0(ctx, empty2), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_unload_library(proc, lib2), 0);
	uint64_t id = veo_call_async(ctx, empty2, args), r = 0;
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), "is not code of a loaded library");
	veo_set_error_print(1);

	/* The proc works. */
	uint64_t lib3 = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib3, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_get_context_state(ctx), VEO_STATE_RUNNING);

	veo_args_free(args);
	remove(text);
	rmdir(sub);
	rmdir(dir);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
