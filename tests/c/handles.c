/*
 * handles.c: every function checks its handles. NULL, closed (a closed
 * context, a destroyed proc) and foreign handles (memory that is no handle
 * at all) give an error return: 0, NULL, a negative value,
 * VEO_REQUEST_ID_INVALID, VEO_STATE_UNKNOWN; never a crash. The real
 * handles keep working afterwards.
 */
#include "testlib.h"

static uint64_t vh_func(void *arg)
{
	(void)arg;
	return 0;
}

/* Memory that is not a handle of any kind (big enough that reading a
 * header from it stays inside it). */
static union {
	char bytes[4096];
	uint64_t align;
} junk;

static void null_proc(struct veo_thr_ctxt_attr *attr, struct veo_args *args)
{
	uint64_t a = 0, r = 0;
	char buf[8] = { 0 };
	CHECK(veo_proc_destroy(NULL) < 0);
	CHECK_EQ_I64(veo_proc_identifier(NULL), -1);
	CHECK_EQ_I64(veo_proc_pid(NULL), -1);
	CHECK_EQ_U64(veo_load_library(NULL, kernel_path(TK_LIB_MAIN)), 0);
	CHECK(veo_unload_library(NULL, 1) < 0);
	CHECK_EQ_U64(veo_get_sym(NULL, 0, "empty"), 0);
	CHECK(veo_alloc_mem(NULL, &a, 64) < 0);
	CHECK(veo_free_mem(NULL, 0x1000) < 0);
	CHECK(veo_read_mem(NULL, buf, 0x1000, sizeof buf) < 0);
	CHECK(veo_write_mem(NULL, 0x1000, buf, sizeof buf) < 0);
	CHECK(veo_num_contexts(NULL) < 0);
	CHECK(veo_get_context(NULL, 0) == NULL);
	CHECK(veo_context_open(NULL) == NULL);
	CHECK(veo_context_open_with_attr(NULL, attr) == NULL);
	CHECK_EQ_I64(veo_call_sync(NULL, 0x1000, args, &r), -1);
}

static void null_ctx(uint64_t lib, uint64_t fn, struct veo_args *args)
{
	uint64_t r = 0;
	char buf[8];
	CHECK(veo_context_close(NULL) < 0);
	CHECK_EQ_I64(veo_get_context_state(NULL), VEO_STATE_UNKNOWN);
	veo_context_sync(NULL);
	veo_req_block_begin(NULL);
	veo_req_block_end(NULL);
	CHECK_EQ_U64(veo_call_async(NULL, fn, args), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_by_name(NULL, lib, "empty", args), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_vh(NULL, vh_func, NULL), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_peek_result(NULL, 1, &r), -1);
	CHECK_EQ_I64(veo_call_wait_result(NULL, 1, &r), -1);
	CHECK_EQ_I64(veo_call_wait_result_timeout(NULL, 1, &r, 1000), -1);
	CHECK_EQ_U64(veo_alloc_mem_async(NULL, 64), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_free_mem_async(NULL, 0x1000), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_async_read_mem(NULL, buf, 0x1000, sizeof buf), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_async_write_mem(NULL, 0x1000, buf, sizeof buf),
	             VEO_REQUEST_ID_INVALID);
}

static void null_args(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                      uint64_t lib, uint64_t fn)
{
	uint64_t r = 0;
	char buf[8];
	CHECK_EQ_U64(veo_call_async(ctx, fn, NULL), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_by_name(ctx, lib, "empty", NULL), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_sync(proc, fn, NULL, &r), -1);
	CHECK(veo_args_set_i64(NULL, 0, 1) < 0);
	CHECK(veo_args_set_u64(NULL, 0, 1) < 0);
	CHECK(veo_args_set_i32(NULL, 0, 1) < 0);
	CHECK(veo_args_set_u32(NULL, 0, 1) < 0);
	CHECK(veo_args_set_i16(NULL, 0, 1) < 0);
	CHECK(veo_args_set_u16(NULL, 0, 1) < 0);
	CHECK(veo_args_set_i8(NULL, 0, 1) < 0);
	CHECK(veo_args_set_u8(NULL, 0, 1) < 0);
	CHECK(veo_args_set_double(NULL, 0, 1.0) < 0);
	CHECK(veo_args_set_float(NULL, 0, 1.0f) < 0);
	CHECK(veo_args_set_stack(NULL, VEO_INTENT_IN, 0, buf, sizeof buf) < 0);
	CHECK(veo_args_set_result_type(NULL, VEO_RESULT_DOUBLE) < 0);
	veo_args_clear(NULL);
	veo_args_free(NULL);
}

static void closed_ctx(struct veo_proc_handle *proc, uint64_t lib, uint64_t fn,
                       struct veo_args *args)
{
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t id = veo_call_async(ctx, fn, args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	uint64_t r = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_context_close(ctx), 0);

	CHECK(veo_context_close(ctx) < 0);
	CHECK(veo_get_context_state(ctx) != VEO_STATE_RUNNING);
	CHECK_EQ_U64(veo_call_async(ctx, fn, args), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_by_name(ctx, lib, "empty", args), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_call_async_vh(ctx, vh_func, NULL), VEO_REQUEST_ID_INVALID);
	CHECK_EQ_U64(veo_alloc_mem_async(ctx, 64), VEO_REQUEST_ID_INVALID);
	CHECK(veo_call_wait_result(ctx, id, &r) != VEO_COMMAND_OK);
	veo_context_sync(ctx);
}

static void destroyed_proc(struct veo_args *args)
{
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t fn = test_sym(proc, lib, "empty");
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);

	uint64_t a = 0, r = 0;
	CHECK(veo_proc_destroy(proc) < 0);
	CHECK_EQ_I64(veo_proc_identifier(proc), -1);
	CHECK_EQ_I64(veo_proc_pid(proc), -1);
	CHECK_EQ_U64(veo_load_library(proc, kernel_path(TK_LIB_MAIN)), 0);
	CHECK_EQ_U64(veo_get_sym(proc, lib, "empty"), 0);
	CHECK(veo_alloc_mem(proc, &a, 64) < 0);
	CHECK(veo_context_open(proc) == NULL);
	CHECK(veo_num_contexts(proc) < 0);
	CHECK_EQ_I64(veo_call_sync(proc, fn, args, &r), -1);
	/* Its context went with it. */
	CHECK_EQ_U64(veo_call_async(ctx, fn, args), VEO_REQUEST_ID_INVALID);
	CHECK(veo_context_close(ctx) < 0);
	CHECK(veo_get_context_state(ctx) != VEO_STATE_RUNNING);
}

static void foreign(uint64_t fn)
{
	memset(junk.bytes, 0x5a, sizeof junk.bytes);
	struct veo_proc_handle *p = (struct veo_proc_handle *)(void *)junk.bytes;
	struct veo_thr_ctxt *c = (struct veo_thr_ctxt *)(void *)junk.bytes;
	struct veo_args *a = (struct veo_args *)(void *)junk.bytes;
	uint64_t addr = 0;

	CHECK_EQ_I64(veo_proc_identifier(p), -1);
	CHECK(veo_num_contexts(p) < 0);
	CHECK(veo_alloc_mem(p, &addr, 64) < 0);
	CHECK_EQ_U64(veo_load_library(p, kernel_path(TK_LIB_MAIN)), 0);
	CHECK(veo_proc_destroy(p) < 0);
	CHECK(veo_context_close(c) < 0);
	CHECK_EQ_I64(veo_get_context_state(c), VEO_STATE_UNKNOWN);
	CHECK_EQ_U64(veo_call_async(c, fn, NULL), VEO_REQUEST_ID_INVALID);
	CHECK(veo_args_set_u64(a, 0, 1) < 0);
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

	veo_set_error_print(0);
	null_proc(attr, args);
	null_ctx(lib, fn, args);
	null_args(proc, ctx, lib, fn);
	closed_ctx(proc, lib, fn, args);
	destroyed_proc(args);
	foreign(fn);
	veo_set_error_print(1);

	/* The error message names the problem. */
	veo_set_error_print(0);
	CHECK_EQ_U64(veo_call_async(NULL, fn, args), VEO_REQUEST_ID_INVALID);
	CHECK(veo_last_error()[0] != '\0');
	veo_set_error_print(1);

	/* The real handles still work. */
	CHECK_EQ_U64(test_call(ctx, fn, args), TK_EMPTY_RESULT);
	CHECK_EQ_I64(veo_num_contexts(proc), 1);

	CHECK_EQ_I64(veo_free_thr_ctxt_attr(attr), 0);
	veo_args_free(args);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
