/*
 * get_sym.c: veo_get_sym finds functions and variables of a loaded library
 * (their worker addresses), searches only the library it is given, and
 * returns 0 for a missing or malformed name.
 */
#include "testlib.h"

int main(void)
{
	test_init("get_sym");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t crashlib = test_load(proc, TK_LIB_CRASH);

	uint64_t empty = veo_get_sym(proc, lib, "empty");
	uint64_t inc = veo_get_sym(proc, lib, "inc_counter");
	uint64_t counter = veo_get_sym(proc, lib, "counter");
	CHECK(empty != 0);
	CHECK(inc != 0);
	CHECK(counter != 0);
	CHECK(empty != inc && empty != counter && inc != counter);
	/* Looking a name up twice gives the same address. */
	CHECK_EQ_U64(veo_get_sym(proc, lib, "empty"), empty);

	/* The addresses are what the worker calls and reads. */
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);
	int c = 0;
	CHECK_EQ_I64(veo_read_mem(proc, &c, counter, sizeof c), 0);
	CHECK_EQ_I64(c, TK_COUNTER_INIT);
	CHECK_EQ_I64((int)test_call0(ctx, inc), TK_COUNTER_INIT + 1);
	CHECK_EQ_I64(veo_read_mem(proc, &c, counter, sizeof c), 0);
	CHECK_EQ_I64(c, TK_COUNTER_INIT + 1);

	veo_set_error_print(0);
	/* Missing names. */
	CHECK_EQ_U64(veo_get_sym(proc, lib, "no_such_symbol"), 0);
	CHECK(veo_last_error()[0] != '\0');
	CHECK_EQ_U64(veo_get_sym(proc, lib, ""), 0);
	CHECK_EQ_U64(veo_get_sym(proc, lib, NULL), 0);
	/* The handle scopes the search: empty is not in the crash library. */
	CHECK_EQ_U64(veo_get_sym(proc, crashlib, "empty"), 0);
	CHECK(veo_get_sym(proc, crashlib, "crash_segv") != 0);
	/* A name longer than VEO_SYMNAME_LEN_MAX. */
	char longname[VEO_SYMNAME_LEN_MAX + 2];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_EQ_U64(veo_get_sym(proc, lib, longname), 0);
	/* An unknown handle. */
	CHECK_EQ_U64(veo_get_sym(proc, 0x7777, "empty"), 0);
	veo_set_error_print(1);

	/* Still fine after the failures. */
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
