/*
 * proc_identifier.c: veo_proc_identifier() gives each live proc a small
 * integer of its own (hmem pointers carry it in their top bits); -1 for a
 * bad handle. Numbers of destroyed procs may be reused, never shared by
 * two live procs.
 */
#include "testlib.h"

#define NPROCS 4

static int distinct(const int *ids, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (ids[i] == ids[j])
				return 0;
	return 1;
}

int main(void)
{
	test_init("proc_identifier");

	struct veo_proc_handle *procs[NPROCS];
	int ids[NPROCS];
	for (int i = 0; i < NPROCS; i++) {
		procs[i] = test_proc_create();
		ids[i] = veo_proc_identifier(procs[i]);
		CHECKF(ids[i] >= 0 && ids[i] < 64, "identifier %d of proc %d is not small",
		       ids[i], i);
		/* Stable while the proc lives. */
		CHECK_EQ_I64(veo_proc_identifier(procs[i]), ids[i]);
	}
	CHECK(distinct(ids, NPROCS));

	/* Replace the second proc: the new one's number differs from the
	 * numbers of the procs still alive. */
	CHECK_EQ_I64(veo_proc_destroy(procs[1]), 0);
	procs[1] = test_proc_create();
	ids[1] = veo_proc_identifier(procs[1]);
	CHECK(ids[1] >= 0 && ids[1] < 64);
	CHECK(distinct(ids, NPROCS));

	veo_set_error_print(0);
	CHECK_EQ_I64(veo_proc_identifier(NULL), -1);

	for (int i = 0; i < NPROCS; i++)
		CHECK_EQ_I64(veo_proc_destroy(procs[i]), 0);
	return test_done();
}
