/*
 * reload_library.c: veo_load_library of a path whose file changed since it
 * was loaded (another inode, size or modification time) loads the new code
 * in the same proc under a new handle, and the old handle is unloaded
 * ("replaced by handle N"); an unchanged file is loaded once. The dynamic
 * loader is not allowed to answer with its object of the old file: not
 * when the old one was unmapped, and not when it stays mapped (-z
 * nodelete), where the worker loads a private copy whose functions call
 * their own helpers. A change while a kernel of the loaded version runs
 * is refused until that call has returned. A crash in a copy is reported
 * under the library's own name.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "testlib.h"

static char dir[64];

/* Puts a copy of the test kernel file at dir/name the way a linker (and
 * VeBuild) does: a new file renamed over the old, so a new inode. */
static const char *install(const char *kernel, const char *name)
{
	static char path[PATH_MAX];
	char tmp[PATH_MAX], buf[65536];
	int in = open(kernel_path(kernel), O_RDONLY), out;
	ssize_t r;

	REQUIREF(in >= 0, "cannot open %s", kernel_path(kernel));
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	REQUIRE(out >= 0);
	while ((r = read(in, buf, sizeof buf)) > 0)
		REQUIRE(write(out, buf, (size_t)r) == r);
	close(in);
	close(out);
	REQUIRE(rename(tmp, path) == 0);
	return path;
}

static int version_of(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t lib)
{
	return (int)test_call0(ctx, test_sym(proc, lib, "reload_version"));
}

/* Rebuilt files at one path, each loaded in turn. */
static void rebuilt(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	const char *path = install("libreloadv1.so", "libreload.so");
	char other_name[PATH_MAX];
	uint64_t h1 = veo_load_library(proc, path), h2, h3;

	REQUIRE(h1 != 0);
	CHECK_EQ_I64(version_of(proc, ctx, h1), 101);
	/* Unchanged, also by another spelling of the path: the same handle. */
	CHECK_EQ_U64(veo_load_library(proc, path), h1);
	snprintf(other_name, sizeof other_name, "%s/./libreload.so", dir);
	CHECK_EQ_U64(veo_load_library(proc, other_name), h1);
	CHECK_EQ_I64(test_call0(ctx, test_sym(proc, 0, "reload_version")), 101);

	uint64_t old_fn = test_sym(proc, h1, "reload_version");
	path = install("libreloadv2.so", "libreload.so");
	h2 = veo_load_library(proc, path);
	REQUIRE(h2 != 0);
	CHECK(h2 != h1);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* A call of the old version (queued before the reload, say) finds no
	 * code: the new version was loaded elsewhere, before the old went. */
	CHECK(test_sym(proc, h2, "reload_version") != old_fn);
	struct veo_args *none = test_args();
	uint64_t r, id = veo_call_async(ctx, old_fn, none);
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), "is not code of a loaded library");
	veo_set_error_print(1);
	veo_args_free(none);
#endif
	CHECK_EQ_I64(version_of(proc, ctx, h2), 202);
	/* The global lookup (handle 0) is not answered from a stale cache. */
	CHECK_EQ_I64(test_call0(ctx, test_sym(proc, 0, "reload_version")), 202);
	veo_set_error_print(0);
	CHECK_FAILS(veo_get_sym(proc, h1, "reload_version"), 0, "was replaced by handle");
	CHECK_FAILS(veo_unload_library(proc, h1), -1, "was replaced by handle");
	veo_set_error_print(1);

	/* Same inode and contents, a new modification time: changed too. */
	struct timespec times[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	REQUIRE(utimensat(AT_FDCWD, path, times, 0) == 0);
	h3 = veo_load_library(proc, path);
	CHECK(h3 != 0 && h3 != h2);
	CHECK_EQ_I64(version_of(proc, ctx, h3), 202);
	CHECK_EQ_I64(veo_unload_library(proc, h3), 0);

	/* Unloaded, rebuilt, loaded: the new file, as before. */
	path = install("libreloadv3.so", "libreload.so");
	uint64_t h4 = veo_load_library(proc, path);
	REQUIRE(h4 != 0);
	CHECK_EQ_I64(version_of(proc, ctx, h4), 303);
}

/* A kernel of the loaded version runs while its file changes: the load is
 * refused (its code cannot be unmapped under it); once the call returned,
 * the load goes through. */
static void changed_while_running(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	const char *path = install("libreloadv1.so", "libreload.so");
	uint64_t h = veo_load_library(proc, path), flag, r = 0;
	struct veo_args *args = test_args();
	int one = 1;

	REQUIRE(h != 0);
	CHECK_EQ_I64(version_of(proc, ctx, h), 101);
	int words[2] = { 0, 0 };
	REQUIRE(veo_alloc_mem(proc, &flag, sizeof words) == 0);
	REQUIRE(veo_write_mem(proc, flag, words, sizeof words) == 0);
	veo_args_set_u64(args, 0, flag);
	uint64_t id = veo_call_async(ctx, test_sym(proc, h, "reload_wait"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	/* Wait until it runs (it sets the second word). */
	double limit = test_now() + 30;
	while (words[1] == 0 && test_now() < limit) {
		test_sleep_ms(1);
		REQUIRE(veo_read_mem(proc, words, flag, sizeof words) == 0);
	}
	REQUIRE(words[1] == 1);

	path = install("libreloadv2.so", "libreload.so");
	veo_set_error_print(0);
	CHECK_FAILS(veo_load_library(proc, path), 0, "library in use by a running call");
	CHECK_CONTAINS(veo_last_error(), "changed since it was loaded");
	veo_set_error_print(1);
	REQUIRE(veo_write_mem(proc, flag, &one, sizeof one) == 0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64((int)r, 1);
	uint64_t h2 = veo_load_library(proc, path);
	REQUIRE(h2 != 0 && h2 != h);
	CHECK_EQ_I64(version_of(proc, ctx, h2), 202);
	/* Libraries with the same symbols interpose on each other (the global
	 * scope): unloaded before the next ones. */
	CHECK_EQ_I64(veo_unload_library(proc, h2), 0);
	veo_free_mem(proc, flag);
	veo_args_free(args);
}

/* Versions the dynamic loader never unmaps: the old one stays mapped under
 * the path's name, so the new one is a private copy. */
static void never_unmapped(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	const char *path = install("libreloadnd1.so", "libreloadnd.so");
	uint64_t h1 = veo_load_library(proc, path), h2, h3;

	REQUIRE(h1 != 0);
	CHECK_EQ_I64(version_of(proc, ctx, h1), 101);
	path = install("libreloadnd2.so", "libreloadnd.so");
	h2 = veo_load_library(proc, path);
	REQUIRE(h2 != 0 && h2 != h1);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* No RTLD_DEEPBIND under a sanitizer: the helper may be the old one. */
	int v = version_of(proc, ctx, h2);
	CHECKF(v == 202 || v == 102, "version %d", v);
#else
	/* Its own helper, not the old version's still in the global scope. */
	CHECK_EQ_I64(version_of(proc, ctx, h2), 202);
#endif
	CHECK_EQ_U64(veo_load_library(proc, path), h2);
	veo_set_error_print(0);
	CHECK_FAILS(veo_get_sym(proc, h1, "reload_version"), 0, "was replaced by handle");
	veo_set_error_print(1);

	/* Unloaded, and the file rebuilt once more: the object under the
	 * path's name is the first version still, so a copy again. */
	CHECK_EQ_I64(veo_unload_library(proc, h2), 0);
	path = install("libreloadv3.so", "libreloadnd.so");
	h3 = veo_load_library(proc, path);
	REQUIRE(h3 != 0);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	CHECK_EQ_I64(version_of(proc, ctx, h3), 303);
#endif
	CHECK_EQ_I64((int)test_call0(ctx, test_sym(proc, h3, "reload_helper")), 3);

	/* A crash in the copy names the library by its path's file name, not
	 * by the copy's /proc/self/fd/N. */
	struct veo_args *args = test_args();
	struct veo_death_info info;
	uint64_t r;
	veo_set_error_print(0);
	uint64_t id = veo_call_async(ctx, test_sym(proc, h3, "reload_crash"), args);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_EXCEPTION);
	veo_set_error_print(1);
	REQUIRE(veo_proc_death_info(proc, &info) == 1);
	CHECKF(strcmp(info.library, "libreloadnd.so") == 0, "library \"%s\"", info.library);
	CHECK_CONTAINS(info.report, "reload_crash (libreloadnd.so)");
	veo_args_free(args);
}

int main(void)
{
	test_init("reload_library");
	snprintf(dir, sizeof dir, "/tmp/openveo-reload-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	rebuilt(proc, ctx);
	changed_while_running(proc, ctx);
	never_unmapped(proc, ctx); /* ends with a crash */

	veo_context_close(ctx);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/libreload.so", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/libreloadnd.so", dir);
	unlink(p);
	rmdir(dir);
	return test_done();
}
