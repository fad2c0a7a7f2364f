/*
 * completion_notify.c: the descriptor an event loop watches
 * (veo_proc_completion_fd). With a context's notifications on, it turns
 * readable when one of its requests completes, and
 * veo_proc_completion_ack clears it; with them off it stays quiet; when
 * the worker crashes it turns readable too, so that nobody waits for ever.
 */
#include <poll.h>

#include "testlib.h"

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	test_init("completion_notify");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc), *quiet = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t sleep_us = test_sym(proc, lib, "sleep_us");
	uint64_t r = 0;
	int fd = veo_proc_completion_fd(proc);

	REQUIRE(fd >= 0);
	CHECK_EQ_I64(veo_proc_completion_fd(proc), fd); /* the same one each time */
	CHECK(!readable(fd, 0));

	printf("-- notifications on: a completion makes it readable\n");
	CHECK_EQ_I64(veo_context_notify(ctx, 1), 0);
	uint64_t id = test_submit1(ctx, sleep_us, 100000);
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_UNFINISHED);
	CHECKF(readable(fd, 20000), "no notification within 20 s of a 0.1 s kernel");
	CHECK_EQ_I64(veo_proc_completion_ack(proc), 0);
	CHECK(!readable(fd, 0));
	CHECK_EQ_I64(veo_call_peek_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(r, 100000);

	printf("-- notifications off (the other context, and this one again): quiet\n");
	CHECK_EQ_U64(test_call1(quiet, sleep_us, 1000), 1000);
	CHECK_EQ_I64(veo_context_notify(ctx, 0), 0);
	CHECK_EQ_U64(test_call1(ctx, sleep_us, 1000), 1000);
	CHECK(!readable(fd, 100));

	printf("-- a crash makes it readable\n");
	CHECK_EQ_I64(veo_context_notify(ctx, 1), 0);
	uint64_t crash = test_load(proc, TK_LIB_CRASH);
	struct veo_args *none = veo_args_alloc();
	id = veo_call_async(ctx, test_sym(proc, crash, "crash_segv"), none);
	CHECKF(readable(fd, 20000), "no notification within 20 s of a crash");
	veo_set_error_print(0);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_EXCEPTION);

	printf("-- bad handles\n");
	CHECK_EQ_I64(veo_proc_completion_fd(NULL), -1);
	CHECK_EQ_I64(veo_proc_completion_ack(NULL), -1);
	CHECK_EQ_I64(veo_context_notify(NULL, 1), -1);
	veo_set_error_print(1);

	veo_args_free(none);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
