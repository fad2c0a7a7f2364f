/*
 * static_archive.c: static archives linked into a worker of one's own. As
 * with NEC's mk_veorun_static, every global function and variable of every
 * member of an archive given as a kernel is found by veo_get_sym(proc, 0,
 * name), also of a member nothing references. A library given with
 * --link-nosym is linked as usual: only the members the kernels use.
 * The archives are built here with ar.
 */
#include "mkstatic.h"

/* Two members: the test's other kernel calls arch_triple; nothing calls
 * arch_sub or uses arch_value. */
static const char member_used[] =
	"#include <stdint.h>\n"
	"int64_t arch_triple(int64_t x) { return 3 * x; }\n";

static const char member_unused[] =
	"#include <stdint.h>\n"
	"int64_t arch_value = 77;\n"
	"static int64_t arch_private(int64_t a) { return a; }\n"
	"int64_t arch_sub(int64_t a, int64_t b) { return arch_private(a) - b + arch_value; }\n";

static const char uses_archive[] =
	"#include <stdint.h>\n"
	"int64_t arch_triple(int64_t x);\n"
	"int64_t arch_main(int64_t x) { return arch_triple(x) + 1; }\n";

/* A helper library for --link-nosym: the kernel uses only helper_twice. */
static const char helper_used[] =
	"#include <stdint.h>\n"
	"int64_t helper_twice(int64_t x) { return 2 * x; }\n";

static const char helper_unused[] =
	"#include <stdint.h>\n"
	"int64_t helper_unused(int64_t x) { return x; }\n";

static const char uses_helper[] =
	"#include <stdint.h>\n"
	"int64_t helper_twice(int64_t x);\n"
	"int64_t nosym_kernel(int64_t x) { return helper_twice(x) + 5; }\n";

/* Both members of libarch.a are in the worker: found and callable. */
static void check_both_members(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	CHECK_EQ_I64(mk_call2(proc, ctx, "arch_triple", 1, 14, 0), 42);
	CHECK_EQ_I64(mk_call2(proc, ctx, "arch_sub", 2, 10, 3), 10 - 3 + 77);

	uint64_t value = veo_get_sym(proc, 0, "arch_value");
	CHECK(value != 0);
	if (value) {
		int64_t v = 0;
		CHECK_EQ_I64(veo_read_mem(proc, &v, value, sizeof v), 0);
		CHECK_EQ_I64(v, 77);
	}
	/* A static function is no global symbol. */
	veo_set_error_print(0);
	CHECK_EQ_U64(veo_get_sym(proc, 0, "arch_private"), 0);
	veo_set_error_print(1);
}

static void stop(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("static_archive");
	mk_init();

	const char *used = mk_c_object("member_used", member_used);
	const char *unused = mk_c_object("member_unused", member_unused);
	const char *main_k = mk_c_object("uses_archive", uses_archive);
	MK_ARCHIVE("libarch.a", used, unused);

	/* The archive alone: `mk_veorun_static -o w libarch.a`. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_archive", "libarch.a"), 0);
	struct veo_proc_handle *proc = mk_start("w_archive");
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	check_both_members(proc, ctx);
	stop(proc, ctx);

	/* An object that uses one member, then the archive. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("w_object_archive", main_k, "libarch.a"), 0);
	proc = mk_start("w_object_archive");
	ctx = test_ctx_open(proc);
	CHECK_EQ_I64(mk_call2(proc, ctx, "arch_main", 1, 5, 0), 16);
	check_both_members(proc, ctx);
	stop(proc, ctx);

	/* A thin archive (ar T) is linked whole as well. */
	REQUIRE(mk_run((const char *const[]){ "ar", "rcsT", "libthin.a", used, unused,
	                                      NULL }) == 0);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_thin", "libthin.a"), 0);
	proc = mk_start("w_thin");
	ctx = test_ctx_open(proc);
	check_both_members(proc, ctx);
	stop(proc, ctx);

	/* --link-nosym=LIB: the kernel's helper is linked, the other member is
	 * not (as with -l). */
	const char *h1 = mk_c_object("helper_used", helper_used);
	const char *h2 = mk_c_object("helper_unused", helper_unused);
	const char *nosym_k = mk_c_object("uses_helper", uses_helper);
	MK_ARCHIVE("libhelper.a", h1, h2);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w_nosym", nosym_k, "--link-nosym=libhelper.a"), 0);
	proc = mk_start("w_nosym");
	ctx = test_ctx_open(proc);
	CHECK_EQ_I64(mk_call2(proc, ctx, "nosym_kernel", 1, 20, 0), 45);
	veo_set_error_print(0);
	CHECK_EQ_U64(veo_get_sym(proc, 0, "helper_unused"), 0);
	veo_set_error_print(1);
	stop(proc, ctx);

	return test_done();
}
