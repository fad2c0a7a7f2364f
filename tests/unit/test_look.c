/*
 * test_look.c: unit test of the learnt pause before the first look after
 * a hand-off (src/common/wait.h, vp_look_learn), against two kinds of
 * partner. One is slowed by looks that come before its answer is ready
 * (each early look steals the line it writes): the pause climbs to where
 * the answer is, and follows it when it moves. The other answers at the
 * same time whatever we do: a pause then only delays the look, and the
 * pause stays short of the answer. Answers that come late (a long kernel,
 * a CPU shared with the partner) shrink it to nothing; it never passes
 * VP_LOOK_MAX.
 */
#include "wait.h"

#include <limits.h>
#include <stdio.h>

#include "check.h"

/* When the answer comes, in pauses after the hand-off, to a first look
 * after `pause`: at `ready`, plus, for a partner slowed by early looks,
 * half the pauses the look came early. */
static unsigned arrival(unsigned pause, unsigned ready, int slowed)
{
	return slowed && pause < ready ? ready + (ready - pause) / 2 : ready;
}

/* n hand-offs: returns the mean number of pauses from the hand-off to the
 * answer seen over the last half, and *lo, *hi the learnt pause's range
 * there. */
static double run(struct vp_look *l, unsigned ready, int slowed, int n, unsigned *lo,
                  unsigned *hi)
{
	unsigned long seen = 0;

	*lo = UINT_MAX;
	*hi = 0;
	for (int i = 0; i < n; i++) {
		unsigned pause = vp_look_probe(l), at = arrival(pause, ready, slowed);
		int there = at <= pause;

		vp_look_learn(l, there, there ? 0 : at - pause);
		UNIT_CHECK(l->pauses <= VP_LOOK_MAX, "pause %u past the cap", l->pauses);
		if (i >= n / 2) {
			seen += there ? pause : at;
			*lo = l->pauses < *lo ? l->pauses : *lo;
			*hi = l->pauses > *hi ? l->pauses : *hi;
		}
	}
	return (double)seen / (n - n / 2);
}

int main(void)
{
	struct vp_look l = { 0, 0, 0 };
	unsigned lo, hi;
	double seen;

	/* A partner slowed by early looks, ready 8 pauses after the
	 * hand-off: the pause climbs to it, and the answer is seen about
	 * then (looking at once, it would be seen at 12). */
	seen = run(&l, 8, 1, 4000, &lo, &hi);
	UNIT_CHECK(lo + VP_LOOK_STEP >= 8 && hi <= 8 + VP_LOOK_STEP, "ready at 8: pause %u..%u",
	           lo, hi);
	UNIT_CHECK(seen <= 8 + VP_LOOK_STEP, "ready at 8: seen after %.1f pauses", seen);

	/* It is ready later now (another placement): the pause follows. */
	run(&l, 20, 1, 4000, &lo, &hi);
	UNIT_CHECK(lo + VP_LOOK_STEP >= 20 && hi <= 20 + VP_LOOK_STEP,
	           "ready at 20: pause %u..%u", lo, hi);

	/* And sooner. */
	run(&l, 3, 1, 4000, &lo, &hi);
	UNIT_CHECK(hi <= 3 + VP_LOOK_STEP, "ready at 3: pause %u..%u", lo, hi);

	/* A partner that answers at 10 whatever we do: the pause stays short
	 * of it, and the answer is seen when it comes (the rule of session 7,
	 * +3 for an answer just after the first look and -1 for one there at
	 * it, settled at 9-12 pauses and saw it after 10.75 on average). */
	seen = run(&l, 10, 0, 4000, &lo, &hi);
	UNIT_CHECK(hi + VP_LOOK_STEP <= 10, "ready at 10, not slowed: pause %u..%u", lo, hi);
	UNIT_CHECK(seen <= 10.01, "ready at 10, not slowed: seen after %.2f pauses", seen);
	/* Climbing there first, it comes back down. */
	run(&l, 16, 1, 4000, &lo, &hi);
	UNIT_CHECK(lo + VP_LOOK_STEP >= 16, "ready at 16: pause %u..%u", lo, hi);
	seen = run(&l, 6, 0, 4000, &lo, &hi);
	UNIT_CHECK(hi <= 6 && seen <= 6 + VP_LOOK_STEP / 2.0,
	           "ready at 6, not slowed: pause %u..%u, seen after %.2f", lo, hi, seen);

	/* Long kernels (or a partner on our CPU): nothing is learnt but to
	 * stop pausing. */
	run(&l, 16, 1, 4000, &lo, &hi);
	for (int i = 0; i < 100; i++)
		vp_look_learn(&l, 0, UINT_MAX);
	UNIT_CHECK(l.pauses == 0, "after 100 late answers the pause is %u", l.pauses);

	/* Ready later than the cap allows (but not so late that the answer
	 * counts as late): the pause stays at the cap. */
	run(&l, 40, 1, 8000, &lo, &hi);
	UNIT_CHECK(lo >= VP_LOOK_MAX - VP_LOOK_STEP && hi == VP_LOOK_MAX,
	           "ready at 40: pause %u..%u", lo, hi);
	printf("look: ok\n");
	return 0;
}
