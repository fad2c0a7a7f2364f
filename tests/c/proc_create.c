/*
 * proc_create.c: the life cycle of procs. Several procs live at once, each
 * its own worker process with its own address space; a proc can be created
 * after another was destroyed (the original VEO could do neither);
 * destroying a proc ends its worker; venode -1 means $VE_NODE_NUMBER.
 */
#include <sys/types.h>

#include "testlib.h"

/* A proc of its own: inc_counter() sees the library's initial counter. */
static void check_private_counter(struct veo_proc_handle *proc)
{
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t inc = test_sym(proc, lib, "inc_counter");
	CHECK_EQ_I64((int)test_call0(ctx, inc), TK_COUNTER_INIT + 1);
	CHECK_EQ_I64((int)test_call0(ctx, inc), TK_COUNTER_INIT + 2);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
}

/* Waits (up to 10 s) until process pid no longer exists. */
static int process_gone(pid_t pid)
{
	double end = test_now() + 10;
	while (test_now() < end) {
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 1;
		test_sleep_ms(10);
	}
	return 0;
}

int main(void)
{
	test_init("proc_create");

	/* One proc: a live worker process other than ourselves. */
	struct veo_proc_handle *p1 = test_proc_create();
	pid_t pid1 = veo_proc_pid(p1);
	CHECK(pid1 > 0);
	CHECK(pid1 != getpid());
	CHECK(kill(pid1, 0) == 0);
	check_private_counter(p1);

	/* Two more at the same time: separate processes, separate memory (each
	 * counter starts from the initial value). */
	struct veo_proc_handle *p2 = test_proc_create();
	struct veo_proc_handle *p3 = test_proc_create();
	CHECK(p2 != p1 && p3 != p1 && p2 != p3);
	pid_t pid2 = veo_proc_pid(p2), pid3 = veo_proc_pid(p3);
	CHECK(pid2 > 0 && pid3 > 0);
	CHECK(pid2 != pid1 && pid3 != pid1 && pid2 != pid3);
	check_private_counter(p2);
	check_private_counter(p3);

	/* Destroying one ends its worker and leaves the others working. */
	CHECK_EQ_I64(veo_proc_destroy(p2), 0);
	CHECKF(process_gone(pid2), "worker %d still exists 10 s after veo_proc_destroy",
	       (int)pid2);
	CHECK(kill(pid1, 0) == 0);
	CHECK(kill(pid3, 0) == 0);

	/* A new proc after destroying one. */
	struct veo_proc_handle *p4 = test_proc_create();
	CHECK(veo_proc_pid(p4) > 0);
	check_private_counter(p4);

	CHECK_EQ_I64(veo_proc_destroy(p1), 0);
	CHECK_EQ_I64(veo_proc_destroy(p3), 0);
	CHECK_EQ_I64(veo_proc_destroy(p4), 0);
	CHECK(process_gone(pid1));
	CHECK(process_gone(pid3));

	/* Destroy and create in a loop: nothing accumulates. */
	for (int i = 0; i < 5; i++) {
		struct veo_proc_handle *p = veo_proc_create(0);
		CHECKF(p != NULL, "round %d: veo_proc_create failed", i);
		if (p)
			CHECK_EQ_I64(veo_proc_destroy(p), 0);
	}

	/* Every node 0..7 works. */
	for (int node = 0; node < 8; node++) {
		struct veo_proc_handle *p = veo_proc_create(node);
		CHECKF(p != NULL, "veo_proc_create(%d) failed", node);
		if (p)
			CHECK_EQ_I64(veo_proc_destroy(p), 0);
	}

	/* venode -1: the node in VE_NODE_NUMBER, else node 0. A node that does
	 * not exist (8) fails, so -1 with VE_NODE_NUMBER=8 must fail too. */
	veo_set_error_print(0);
	struct veo_proc_handle *bad = veo_proc_create(8);
	CHECK(bad == NULL);
	CHECK(veo_last_error()[0] != '\0');
	if (bad)
		veo_proc_destroy(bad);

	unsetenv("VE_NODE_NUMBER");
	struct veo_proc_handle *pd = veo_proc_create(-1);
	CHECKF(pd != NULL, "veo_proc_create(-1) without VE_NODE_NUMBER failed");
	if (pd)
		CHECK_EQ_I64(veo_proc_destroy(pd), 0);

	setenv("VE_NODE_NUMBER", "3", 1);
	struct veo_proc_handle *p5 = veo_proc_create(-1);
	CHECKF(p5 != NULL, "veo_proc_create(-1) with VE_NODE_NUMBER=3 failed");
	if (p5) {
		check_private_counter(p5);
		CHECK_EQ_I64(veo_proc_destroy(p5), 0);
	}

	setenv("VE_NODE_NUMBER", "8", 1);
	struct veo_proc_handle *p6 = veo_proc_create(-1);
	CHECKF(p6 == NULL, "veo_proc_create(-1) with VE_NODE_NUMBER=8 succeeded: "
	       "-1 does not read VE_NODE_NUMBER");
	if (p6)
		veo_proc_destroy(p6);
	unsetenv("VE_NODE_NUMBER");

	return test_done();
}
