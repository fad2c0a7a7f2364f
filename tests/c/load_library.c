/*
 * load_library.c: veo_load_library / veo_unload_library. A loaded library
 * gets a non-zero handle; unloading it twice is an error; a path the
 * dynamic loader cannot load returns 0 with the loader's message in
 * veo_last_error(); the proc keeps working after each failure.
 */
#include "testlib.h"

int main(void)
{
	test_init("load_library");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	uint64_t lib = veo_load_library(proc, kernel_path(TK_LIB_MAIN));
	REQUIRE(lib != 0);
	uint64_t empty = test_sym(proc, lib, "empty");
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	/* A second library gets a handle of its own. */
	uint64_t lib2 = veo_load_library(proc, kernel_path(TK_LIB_CRASH));
	CHECK(lib2 != 0);
	CHECK(lib2 != lib);

	/* Unload: once succeeds, twice is an error, and its symbols are gone. */
	CHECK_EQ_I64(veo_unload_library(proc, lib), 0);
	veo_set_error_print(0);
	CHECK(veo_unload_library(proc, lib) < 0);
	CHECK_EQ_U64(veo_get_sym(proc, lib, "empty"), 0);
	CHECK(veo_unload_library(proc, 0) < 0);
	CHECK(veo_unload_library(proc, 0x12345678) < 0);
	veo_set_error_print(1);

	/* Loading it again works. */
	lib = veo_load_library(proc, kernel_path(TK_LIB_MAIN));
	REQUIRE(lib != 0);
	empty = test_sym(proc, lib, "empty");
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	/* Paths that cannot be loaded. */
	veo_set_error_print(0);
	uint64_t bad = veo_load_library(proc, "/nonexistent/dir/libnothere.so");
	CHECK_EQ_U64(bad, 0);
	CHECK(veo_last_error()[0] != '\0');
	CHECK_CONTAINS(veo_last_error(), "libnothere.so");

	/* A file that is not a shared object. */
	char notlib[] = "/tmp/openveo-notlib-XXXXXX";
	int fd = mkstemp(notlib);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, "not an ELF file\n", 16) == 16);
	close(fd);
	CHECK_EQ_U64(veo_load_library(proc, notlib), 0);
	CHECK(veo_last_error()[0] != '\0');
	unlink(notlib);

	CHECK_EQ_U64(veo_load_library(proc, NULL), 0);
	CHECK_EQ_U64(veo_load_library(proc, ""), 0);
	veo_set_error_print(1);

	/* The proc survived all of it. */
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	CHECK_EQ_I64(veo_unload_library(proc, lib2), 0);
	CHECK_EQ_I64(veo_unload_library(proc, lib), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
