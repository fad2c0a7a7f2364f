/*
 * request_ids.c: request ids are never issued twice in the life of a
 * process. A context's ids carry a tag of 16 bits, and tags come round
 * again after 65,534 openings; the sequence numbers of a tag go on where
 * its last holder stopped, so an id of the first opening is still refused
 * (not mistaken for a new request) when its tag comes back.
 */
#include "testlib.h"

#define TAGS 0xfffe

int main(void)
{
	test_init("request_ids");
	alarm(600); /* 65,534 openings: several seconds, more under a sanitizer */
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t echo = test_sym(proc, lib, "echo_u64"), r = 0;

	/* The first opening: a request, collected; its id kept. */
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t first_id = test_submit1(ctx, echo, 1111);
	CHECK_EQ_I64(veo_call_wait_result(ctx, first_id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 1111);
	CHECK_EQ_I64(veo_context_close(ctx), 0);

	/* Every other tag once (the hidden context of veo_call_sync holds none
	 * here: it was never opened). */
	for (int i = 1; i < TAGS; i++) {
		struct veo_thr_ctxt *c = veo_context_open(proc);
		REQUIREF(c != NULL, "opening %d failed", i);
		REQUIRE(veo_context_close(c) == 0);
	}

	/* The first tag again: its first request has a new id, and the old id
	 * is refused instead of collecting that request's result. */
	ctx = test_ctx_open(proc);
	uint64_t id = test_submit1(ctx, echo, 2222);
	CHECK(id != first_id);
	CHECK_EQ_U64(id >> 48, first_id >> 48); /* the same tag came round */
	veo_set_error_print(0);
	CHECK_FAILS(veo_call_wait_result(ctx, first_id, &r), VEO_COMMAND_ERROR,
	            "was not issued by this context");
	CHECK_FAILS(veo_call_peek_result(ctx, first_id, &r), VEO_COMMAND_ERROR,
	            "was not issued by this context");
	veo_set_error_print(1);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 2222);

	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
