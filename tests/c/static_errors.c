/*
 * static_errors.c: what mk_veorun_static says when it cannot make a worker.
 * Each message names what was wrong: a missing kernel, an "archive" that
 * is none, text named .o, a directory, an object compiled for the VE (ncc)
 * or another machine, a command line without kernels, a compiler that does
 * not exist; a failed link shows the linker's own message. No worker is
 * left behind, and a kernel is never overwritten.
 */
#include <elf.h>

#include "mkstatic.h"

static const char good_src[] =
	"#include <stdint.h>\n"
	"int64_t good_k(int64_t x) { return x; }\n";

static const char undefined_src[] =
	"#include <stdint.h>\n"
	"int64_t no_such_function(int64_t x);\n"
	"int64_t bad_k(int64_t x) { return no_such_function(x); }\n";

/* Writes the 64-byte header of a 64-bit little-endian relocatable ELF
 * object for `machine` (nothing else: the tool reads only the header). */
static void write_elf_header(const char *name, unsigned machine)
{
	Elf64_Ehdr h;
	memset(&h, 0, sizeof h);
	memcpy(h.e_ident, ELFMAG, SELFMAG);
	h.e_ident[EI_CLASS] = ELFCLASS64;
	h.e_ident[EI_DATA] = ELFDATA2LSB;
	h.e_ident[EI_VERSION] = EV_CURRENT;
	h.e_type = ET_REL;
	h.e_machine = (Elf64_Half)machine; /* this test runs on little-endian hosts */
	h.e_version = EV_CURRENT;
	h.e_ehsize = sizeof h;
	const char *path = mk_path(name);
	FILE *f = fopen(path, "wb");
	REQUIRE(f != NULL);
	REQUIRE(fwrite(&h, sizeof h, 1, f) == 1);
	REQUIRE(fclose(f) == 0);
}

/* mk_veorun_static -o w ARGS... fails with `status`, says `what`, and
 * leaves no w. */
#define CHECK_REFUSED(status, what, ...)                                         \
	do {                                                                     \
		CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w", __VA_ARGS__), status);  \
		CHECK_CONTAINS(mk_output, what);                                 \
		CHECK(!mk_exists("w"));                                          \
	} while (0)

int main(void)
{
	test_init("static_errors");
	mk_init();
	const char *good = mk_c_object("good", good_src);

	/* Inputs that are not there or not what their names say. */
	CHECK_REFUSED(1, "mk_veorun_static: cannot open kernel 'missing.o': "
	              "No such file or directory", good, "missing.o");
	mk_write("libfake.a", "these are not the members you are looking for\n");
	CHECK_REFUSED(1, "kernel 'libfake.a' is not an archive", good, "libfake.a");
	mk_write("text.o", "int x;\n");
	CHECK_REFUSED(1, "kernel 'text.o' is not an object file: it has no ELF header",
	              "text.o");
	REQUIRE(mkdir(mk_path("dir.o"), 0700) == 0);
	CHECK_REFUSED(1, "kernel 'dir.o' is a directory", "dir.o");
	write_elf_header("ve.o", 251); /* EM_VE: what ncc makes */
	CHECK_REFUSED(1, "kernel 've.o' was compiled for the NEC Vector Engine", "ve.o");
	write_elf_header("sparc.o", EM_SPARCV9);
	CHECK_REFUSED(1, "kernel 'sparc.o' is for another machine", "sparc.o");
	CHECK_REFUSED(1, "cannot open --link-nosym file 'nolib.a'", good,
	              "--link-nosym=nolib.a");

	/* A link that fails: the linker's message, then which link it was. */
	const char *undefined = mk_c_object("undefined", undefined_src);
	CHECK_REFUSED(1, "no_such_function", undefined);
	CHECK_CONTAINS(mk_output, "mk_veorun_static: linking w failed: ");
	CHECK_REFUSED(1, "no_such_lib_openveo", good, "-lno_such_lib_openveo");
	CHECK_CONTAINS(mk_output, "mk_veorun_static: linking w failed: ");

	/* Command lines without what is needed: status 2 and the usage. */
	CHECK_EQ_I64(mk_run((const char *const[]){ test_mk_veorun_static(), NULL }), 2);
	CHECK_CONTAINS(mk_output, "no output and no kernels given");
	CHECK_CONTAINS(mk_output, "usage: mk_veorun_static");
	CHECK_REFUSED(2, "no kernels given", "-lm");
	CHECK_EQ_I64(MK_VEORUN_STATIC("only_one"), 2);
	CHECK_CONTAINS(mk_output, "no kernels given");
	CHECK_EQ_I64(MK_VEORUN_STATIC(good, "-o"), 2);
	CHECK_CONTAINS(mk_output, "-o needs an argument");
	CHECK_REFUSED(2, "-o given twice", "-o", "w2", good);
	CHECK_REFUSED(2, "-L needs an argument", good, "-L");

	/* The worker would overwrite its own kernel. */
	struct stat before, after;
	REQUIRE(stat(mk_path(good), &before) == 0);
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", good, good), 1);
	CHECK_CONTAINS(mk_output, "the output 'good.o' is the kernel 'good.o'");
	REQUIRE(stat(mk_path(good), &after) == 0);
	CHECK_EQ_I64(after.st_size, before.st_size);
	CHECK_EQ_I64(after.st_mtime, before.st_mtime);

	/* A compiler that does not exist. */
	CHECK_EQ_I64(mk_run_env((const char *const[]){ test_mk_veorun_static(), "-o", "w",
	                                               good, NULL },
	                        "CC=no-such-compiler-openveo"), 1);
	CHECK_CONTAINS(mk_output, "cannot run the compiler no-such-compiler-openveo");
	CHECK(!mk_exists("w"));

	/* And the same kernel still links. */
	CHECK_EQ_I64(MK_VEORUN_STATIC("-o", "w", good), 0);
	CHECK(mk_exists("w"));

	return test_done();
}
