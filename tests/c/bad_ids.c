/*
 * bad_ids.c: request ids that are not the context's own. An id of another
 * context (of the same proc or of another proc), of an earlier opening of
 * the same context slot, 0, VEO_REQUEST_ID_INVALID, an id never issued or
 * already collected: waits, timed waits and peeks return VEO_COMMAND_ERROR
 * at once with a message, and never collect another request's result.
 */
#include "testlib.h"

static void check_foreign(struct veo_thr_ctxt *ctx, uint64_t id, const char *what)
{
	uint64_t r = 0;
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), what);
	CHECK_EQ_I64(veo_call_wait_result_timeout(ctx, id, &r, 1000000), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), what);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), what);
	CHECKF(test_now() - t0 < 0.5, "refusing id 0x%" PRIx64 " took %.3f s", id,
	       test_now() - t0);
}

int main(void)
{
	test_init("bad_ids");
	struct veo_proc_handle *proc = test_proc_create(), *other = test_proc_create();
	struct veo_thr_ctxt *a = test_ctx_open(proc), *b = test_ctx_open(proc);
	struct veo_thr_ctxt *c = test_ctx_open(other);
	uint64_t lib = test_load(proc, TK_LIB_MAIN), olib = test_load(other, TK_LIB_MAIN);
	uint64_t echo = test_sym(proc, lib, "echo_u64"), oecho = test_sym(other, olib, "echo_u64");
	uint64_t r = 0;
	veo_set_error_print(0);

	/* The same number of requests on each: equal sequence numbers. */
	uint64_t ida = test_submit1(a, echo, 1);
	uint64_t idb = test_submit1(b, echo, 2);
	uint64_t idc = test_submit1(c, oecho, 3);
	veo_context_sync(a);
	veo_context_sync(b);
	veo_context_sync(c);
	CHECK(ida != idb && ida != idc && idb != idc);

	printf("-- ids of other contexts\n");
	check_foreign(b, ida, "was not issued by this context");
	check_foreign(a, idb, "was not issued by this context");
	check_foreign(a, idc, "was not issued by this context");
	check_foreign(c, ida, "was not issued by this context");
	/* Their own results are still there, once each. */
	CHECK_EQ_I64(veo_call_wait_result(a, ida, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1);
	CHECK_EQ_I64(veo_call_wait_result(b, idb, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 2);
	CHECK_EQ_I64(veo_call_peek_result(c, idc, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 3);

	printf("-- ids of an earlier opening of the same slot\n");
	uint64_t old = test_submit1(b, echo, 4);
	CHECK_EQ_I64(veo_context_close(b), 0);
	b = test_ctx_open(proc); /* likely the same slot */
	uint64_t fresh = test_submit1(b, echo, 5);
	CHECK(fresh != old);
	check_foreign(b, old, "was not issued by this context");
	CHECK_EQ_I64(veo_call_wait_result(b, fresh, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 5);

	printf("-- ids that were never issued\n");
	check_foreign(a, VEO_REQUEST_ID_INVALID, "VEO_REQUEST_ID_INVALID");
	check_foreign(a, 0, "was not issued by this context");
	check_foreign(a, 1, "was not issued by this context");
	check_foreign(a, ida + 1000, "is unknown or already collected");
	printf("-- ids already collected\n");
	check_foreign(a, ida, "is unknown or already collected");
	veo_set_error_print(1);

	CHECK_EQ_U64(test_call1(a, echo, 6), 6);
	CHECK_EQ_I64(veo_context_close(a), 0);
	CHECK_EQ_I64(veo_context_close(b), 0);
	CHECK_EQ_I64(veo_context_close(c), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	CHECK_EQ_I64(veo_proc_destroy(other), 0);
	return test_done();
}
