/*
 * test_pace.c: unit test of which calls the worker is asked to time and
 * which waits get a plan (src/lib/pace.h): a kernel new to the context is
 * timed once; a short one again every PACE_RETIME calls; one learnt to
 * run 10-60 us one call in PACE_LEARN_EVERY, its waits planned whether
 * the call is timed or not; one long enough to be slept through every
 * call, planned only when timed (the sleep needs its start); and a wait
 * that spun out gets the next call timed. The worker's side is the
 * slot's `timed` word, written here as the worker would.
 */
#include "pace.h"

#include <stdio.h>

#include "check.h"

static struct vp_slot slot;
static struct pace pc;
static uint64_t seq = 1;

/* n calls of fn as if each ran ns: the timed ones are learnt, as
 * req_finish does. Returns how many were timed; those whose seq is a
 * multiple of `every` are counted in *expected (0: none). */
static int run(uint64_t fn, int n, uint64_t ns, unsigned every, int *expected, uint8_t *idx)
{
	int count = 0;

	*expected = 0;
	for (int i = 0; i < n; i++, seq++) {
		int timed;

		*idx = pace_submit(&pc, fn, seq, &timed);
		if (every && seq % every == 0)
			(*expected)++;
		if (!timed)
			continue;
		count++;
		atomic_store(&slot.timed, VP_TIMED(seq, ns));
		pace_learn(&pc, *idx, &slot, seq);
	}
	return count;
}

int main(void)
{
	const uint64_t fn_short = 0x401000, fn_mid = 0x402000, fn_long = 0x403000;
	int timed, expected;
	uint8_t idx;
	struct pace_plan plan;

	UNIT_CHECK(pace_enabled(), "VEO_PACE is set in the environment");

	/* A short kernel: its first call, then one in PACE_RETIME. */
	timed = run(fn_short, 1, 1000, 0, &expected, &idx);
	UNIT_CHECK(timed == 1, "a new kernel's first call was not timed");
	timed = run(fn_short, 4096, 1000, PACE_RETIME, &expected, &idx);
	UNIT_CHECK(timed == expected, "short kernel: %d of 4096 calls timed, want %d", timed,
	           expected);
	plan = pace_plan_of(&pc, idx, 1);
	UNIT_CHECK(plan.est_ns == 0, "a 1 us kernel's wait got a plan (%u ns)", plan.est_ns);

	/* A 20 us kernel: one call in PACE_LEARN_EVERY once learnt, and a
	 * plan for every wait. */
	run(fn_mid, 1, 20000, 0, &expected, &idx);
	timed = run(fn_mid, 1600, 20000, PACE_LEARN_EVERY, &expected, &idx);
	UNIT_CHECK(timed == expected, "20 us kernel: %d of 1600 calls timed, want %d", timed,
	           expected);
	plan = pace_plan_of(&pc, idx, 0);
	UNIT_CHECK(plan.est_ns > 19000 && plan.est_ns < 21000,
	           "an untimed call of a 20 us kernel: plan of %u ns", plan.est_ns);

	/* A wait for an untimed call that spun out: the next call is timed. */
	pace_time_next(&pc, idx);
	while (seq % PACE_LEARN_EVERY == 0)
		seq++;
	pace_submit(&pc, fn_mid, seq++, &timed);
	UNIT_CHECK(timed, "the call after a spun-out wait was not timed");

	/* A 100 us kernel: every call timed; a plan only for a timed call. */
	run(fn_long, 1, 100000, 0, &expected, &idx);
	timed = run(fn_long, 500, 100000, 0, &expected, &idx);
	UNIT_CHECK(timed == 500, "100 us kernel: %d of 500 calls timed, want all", timed);
	plan = pace_plan_of(&pc, idx, 1);
	UNIT_CHECK(plan.est_ns > 95000 && plan.est_ns < 105000,
	           "a timed call of a 100 us kernel: plan of %u ns", plan.est_ns);
	plan = pace_plan_of(&pc, idx, 0);
	UNIT_CHECK(plan.est_ns == 0, "an untimed call of a 100 us kernel got a plan");

	/* Back to the short kernel, still known: its fast path again. */
	timed = run(fn_short, 1024, 1000, PACE_RETIME, &expected, &idx);
	UNIT_CHECK(timed <= expected + 1, "short kernel again: %d of 1024 calls timed", timed);
	printf("pace: ok\n");
	return 0;
}
