/*
 * worker_signals.c: the signals meant for the host do not reach its
 * workers. A terminal's Ctrl-C (SIGINT), Ctrl-\ (SIGQUIT), Ctrl-Z (SIGTSTP)
 * and hang-up (SIGHUP), and a notebook's interrupt, go to the host's whole
 * process group; each worker has a process group of its own (in the
 * host's session, whose scheduler autogroup it shares), so every proc,
 * idle or busy, still answers afterwards. The host's death is still
 * noticed (host_death tests that).
 */
#include <sys/wait.h>

#include "testlib.h"

int main(void)
{
	test_init("worker_signals");
	/* A process group of our own: the signals below are for it alone, not
	 * for a shell or test runner that started us (a test runner may have
	 * made us a session leader already, which leads its group). */
	if (getpgrp() != getpid())
		REQUIRE(setpgid(0, 0) == 0);
	struct veo_proc_handle *idle = test_proc_create();
	struct veo_proc_handle *busy = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(busy);
	struct veo_thr_ctxt *ictx = test_ctx_open(idle);
	uint64_t lib = test_load(busy, TK_LIB_MAIN), ilib = test_load(idle, TK_LIB_MAIN);
	pid_t w = veo_proc_pid(busy);

	/* Not in our process group, but in our session: a session of its own
	 * would put it in another scheduler autogroup (proc.c). */
	CHECK(getpgid(w) == w);
	CHECK(getpgid(w) != getpgrp());
	CHECK(getsid(w) == getsid(0));

	/* The host ignores them itself, as a shell or ipykernel handles them;
	 * then they go to the whole group, while a kernel runs in busy. */
	static const int sigs[] = { SIGINT, SIGQUIT, SIGTSTP, SIGHUP };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_IGN);
	uint64_t id = test_submit1(ctx, test_sym(busy, lib, "sleep_us"), 200000);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		CHECK_EQ_I64(kill(0, sigs[i]), 0);

	uint64_t r = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_U64(test_call0(ctx, test_sym(busy, lib, "empty")), TK_EMPTY_RESULT);
	CHECK_EQ_U64(test_call0(ictx, test_sym(idle, ilib, "empty")), TK_EMPTY_RESULT);
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(busy, &info), 0);
	CHECK_EQ_I64(veo_proc_death_info(idle, &info), 0);

	CHECK_EQ_I64(veo_proc_destroy(busy), 0);
	CHECK_EQ_I64(veo_proc_destroy(idle), 0);
	return test_done();
}
