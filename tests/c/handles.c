/*
 * handles.c: every function checks its handles. NULL, closed or destroyed
 * (a closed context, a destroyed proc, freed argument lists and context
 * attributes) and foreign handles (memory that is no handle at all) give an
 * error return (0, NULL, a negative value, VEO_REQUEST_ID_INVALID,
 * VEO_STATE_UNKNOWN) and a message that names the kind of handle; a handle
 * is never read after it was freed (argument lists and attributes are
 * looked up in a registry before they are touched). The real handles keep
 * working afterwards.
 */
#include "testlib.h"

static uint64_t vh_func(void *arg)
{
	(void)arg;
	return 0;
}

static void hook(void *payload, ...)
{
	(void)payload;
}

/* Memory that is not a handle of any kind (big enough that reading a
 * header from it stays inside it). */
static union {
	char bytes[65536];
	uint64_t align;
} junk;

/* expr returns bad, and veo_last_error() names the problem. */
#define BAD(expr, bad, what)                                                        \
	do {                                                                        \
		reset_last_error();                                      \
		CHECK_EQ_I64((int64_t)(expr), (int64_t)(bad));                      \
		CHECK_CONTAINS(veo_last_error(), what);                             \
	} while (0)

/* A void function: nothing to return, but the message is left. */
#define BAD_VOID(expr, what)                                                        \
	do {                                                                        \
		reset_last_error();                                      \
		expr;                                                               \
		CHECK_CONTAINS(veo_last_error(), what);                             \
	} while (0)

/* Makes sure the message checked next is the call's own: a failure that
 * leaves no message would show the one of an earlier call otherwise. */
static void reset_last_error(void)
{
	veo_get_ve_arch(-12345); /* a message none of the checks look for */
}

#define PROC_MSG "bad proc handle"
#define CTX_MSG "bad context handle"
#define ARGS_MSG "bad veo_args handle"
#define ATTR_MSG "bad context attribute handle"

/* Every function that takes a proc, given p. */
static void bad_proc(struct veo_proc_handle *p, struct veo_thr_ctxt_attr *attr,
                     struct veo_args *args)
{
	uint64_t a = 0, r = 0;
	char buf[8] = { 0 };
	struct veo_death_info info;
	BAD(veo_proc_destroy(p), -1, PROC_MSG);
	BAD(veo_proc_identifier(p), -1, PROC_MSG);
	BAD(veo_proc_pid(p), -1, PROC_MSG);
	BAD(veo_proc_death_info(p, &info), -1, PROC_MSG);
	BAD(veo_load_library(p, kernel_path(TK_LIB_MAIN)), 0, PROC_MSG);
	BAD(veo_unload_library(p, 1), -1, PROC_MSG);
	BAD(veo_get_sym(p, 0, "empty"), 0, PROC_MSG);
	BAD(veo_alloc_mem(p, &a, 64), -1, PROC_MSG);
	BAD(veo_free_mem(p, 0x1000), -1, PROC_MSG);
	BAD(veo_read_mem(p, buf, 0x1000, sizeof buf), -1, PROC_MSG);
	BAD(veo_write_mem(p, 0x1000, buf, sizeof buf), -1, PROC_MSG);
	BAD(veo_num_contexts(p), -1, PROC_MSG);
	BAD(veo_get_context(p, 0), NULL, PROC_MSG);
	BAD(veo_context_open(p), NULL, PROC_MSG);
	BAD(veo_context_open_with_attr(p, attr), NULL, PROC_MSG);
	BAD(veo_call_sync(p, 0x1000, args, &r), -1, PROC_MSG);
}

/* Every function that takes a context, given c. */
static void bad_ctx(struct veo_thr_ctxt *c, uint64_t lib, uint64_t fn, struct veo_args *args)
{
	uint64_t r = 0;
	char buf[8];
	BAD(veo_context_close(c), -1, CTX_MSG);
	BAD(veo_get_context_state(c), VEO_STATE_UNKNOWN, CTX_MSG);
	BAD_VOID(veo_context_sync(c), CTX_MSG);
	BAD(veo_context_sync_timeout(c, 1000), -1, CTX_MSG);
	BAD_VOID(veo_req_block_begin(c), CTX_MSG);
	BAD_VOID(veo_req_block_end(c), CTX_MSG);
	BAD(veo_call_async(c, fn, args), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_call_async_by_name(c, lib, "empty", args), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_call_async_vh(c, vh_func, NULL), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_call_peek_result(c, 1, &r), -1, CTX_MSG);
	BAD(veo_call_wait_result(c, 1, &r), -1, CTX_MSG);
	BAD(veo_call_wait_result_timeout(c, 1, &r, 1000), -1, CTX_MSG);
	BAD(veo_alloc_mem_async(c, 64), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_free_mem_async(c, 0x1000), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_async_read_mem(c, buf, 0x1000, sizeof buf), VEO_REQUEST_ID_INVALID, CTX_MSG);
	BAD(veo_async_write_mem(c, 0x1000, buf, sizeof buf), VEO_REQUEST_ID_INVALID, CTX_MSG);
}

/* Every function that takes an argument list, given a. */
static void bad_args(struct veo_args *a, struct veo_proc_handle *proc,
                     struct veo_thr_ctxt *ctx, uint64_t lib, uint64_t fn)
{
	uint64_t r = 0;
	char buf[8];
	BAD(veo_call_async(ctx, fn, a), VEO_REQUEST_ID_INVALID, ARGS_MSG);
	BAD(veo_call_async_by_name(ctx, lib, "empty", a), VEO_REQUEST_ID_INVALID, ARGS_MSG);
	BAD(veo_call_sync(proc, fn, a, &r), -1, ARGS_MSG);
	BAD(veo_args_set_i64(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_u64(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_i32(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_u32(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_i16(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_u16(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_i8(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_u8(a, 0, 1), -1, ARGS_MSG);
	BAD(veo_args_set_double(a, 0, 1.0), -1, ARGS_MSG);
	BAD(veo_args_set_float(a, 0, 1.0f), -1, ARGS_MSG);
	BAD(veo_args_set_stack(a, VEO_INTENT_IN, 0, buf, sizeof buf), -1, ARGS_MSG);
	BAD(veo_args_set_result_type(a, VEO_RESULT_DOUBLE), -1, ARGS_MSG);
	BAD_VOID(veo_args_clear(a), ARGS_MSG);
	BAD_VOID(veo_args_free(a), ARGS_MSG);
}

/* Every function that takes a context attribute, given a. */
static void bad_attr(struct veo_thr_ctxt_attr *a, struct veo_proc_handle *proc)
{
	size_t size = 0;
	BAD(veo_free_thr_ctxt_attr(a), -1, ATTR_MSG);
	BAD(veo_set_thr_ctxt_stacksize(a, 1 << 20), -1, ATTR_MSG);
	BAD(veo_get_thr_ctxt_stacksize(a, &size), -1, ATTR_MSG);
	if (a) /* NULL means "no attributes" here */
		BAD(veo_context_open_with_attr(proc, a), NULL, ATTR_MSG);
}

int main(void)
{
	test_init("handles");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fn = test_sym(proc, lib, "empty");
	struct veo_args *args = test_args();
	struct veo_thr_ctxt_attr *attr = veo_alloc_thr_ctxt_attr();
	REQUIRE(attr != NULL);
	memset(junk.bytes, 0x5a, sizeof junk.bytes);
	veo_set_error_print(0);

	printf("-- NULL handles\n");
	bad_proc(NULL, attr, args);
	bad_ctx(NULL, lib, fn, args);
	bad_args(NULL, proc, ctx, lib, fn);
	bad_attr(NULL, proc);
	BAD_VOID(veo_register_hook(NULL, hook, NULL), "NULL");
	BAD_VOID(veo_register_hook((void *)veo_alloc_mem, NULL, NULL), "NULL");
	CHECK(veo_get_hook(NULL) == NULL);
	veo_unregister_hook(NULL); /* nothing registered: nothing happens */

	printf("-- foreign handles (memory that is no handle)\n");
	bad_proc((struct veo_proc_handle *)(void *)junk.bytes, attr, args);
	bad_ctx((struct veo_thr_ctxt *)(void *)junk.bytes, lib, fn, args);
	bad_args((struct veo_args *)(void *)junk.bytes, proc, ctx, lib, fn);
	bad_attr((struct veo_thr_ctxt_attr *)(void *)junk.bytes, proc);
	/* A context handle given as a proc and the other way round. */
	bad_proc((struct veo_proc_handle *)(void *)ctx, attr, args);
	bad_ctx((struct veo_thr_ctxt *)(void *)proc, lib, fn, args);
	/* Inside a proc handle, not at its start. */
	bad_proc((struct veo_proc_handle *)((char *)proc + 8), attr, args);
	bad_ctx((struct veo_thr_ctxt *)((char *)ctx + 8), lib, fn, args);

	printf("-- a closed context\n");
	struct veo_thr_ctxt *closed = test_ctx_open(proc);
	uint64_t id = veo_call_async(closed, fn, args), r = 0;
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(closed, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_context_close(closed), 0);
	bad_ctx(closed, lib, fn, args);

	printf("-- a destroyed proc and its context\n");
	struct veo_proc_handle *gone = test_proc_create();
	struct veo_thr_ctxt *gone_ctx = test_ctx_open(gone);
	CHECK_EQ_I64(veo_proc_destroy(gone), 0);
	bad_proc(gone, attr, args);
	bad_ctx(gone_ctx, lib, fn, args);

	printf("-- a freed argument list and attribute\n");
	struct veo_args *freed_args = test_args();
	veo_args_free(freed_args);
	bad_args(freed_args, proc, ctx, lib, fn);
	struct veo_thr_ctxt_attr *freed_attr = veo_alloc_thr_ctxt_attr();
	REQUIRE(freed_attr != NULL);
	CHECK_EQ_I64(veo_free_thr_ctxt_attr(freed_attr), 0);
	bad_attr(freed_attr, proc);

	printf("-- other bad arguments of the handle functions\n");
	BAD(veo_proc_create(8), NULL, "node 8 does not exist");
	BAD(veo_proc_create(-2), NULL, "node -2 does not exist");
	BAD(veo_proc_create_static(0, NULL), NULL, "no worker program");
	BAD(veo_proc_create_static(0, "/nonexistent/veorun"), NULL, "not an executable");
	BAD(veo_get_ve_arch(8), -1, "does not exist");
	BAD(veo_get_context(proc, 1), NULL, "no context number 1");
	BAD(veo_get_context(proc, -1), NULL, "no context number -1");
	BAD(veo_get_thr_ctxt_stacksize(attr, NULL), -1, "NULL");
	BAD(veo_set_thr_ctxt_stacksize(attr, (size_t)1 << 40), -1, "too large");
	veo_set_error_print(1);

	/* The real handles still work. */
	CHECK_EQ_U64(test_call(ctx, fn, args), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_num_contexts(proc), 1);
	CHECK(veo_get_context(proc, 0) == ctx);

	CHECK_EQ_I64(veo_free_thr_ctxt_attr(attr), 0);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
