/*
 * test_look.c: unit test of the learnt pause before the first look after
 * a hand-off (src/common/wait.h, vp_look_learn). Against a partner whose
 * answer comes a fixed number of pauses after the hand-off, the pause
 * settles just at or after the answer, and moves with it when it changes;
 * against answers that come late (a long kernel, a CPU shared with the
 * partner) it shrinks to nothing; it never passes VP_LOOK_MAX.
 */
#include "wait.h"

#include <limits.h>
#include <stdio.h>

#include "check.h"

/* n hand-offs whose answer comes `arrives` pauses after each: returns how
 * many were there at the first look; *lo and *hi get the range of the
 * pause over the last half. */
static int run(uint8_t *pauses, unsigned arrives, int n, unsigned *lo, unsigned *hi)
{
	int at_first = 0;

	*lo = UINT_MAX;
	*hi = 0;
	for (int i = 0; i < n; i++) {
		int there = *pauses >= arrives;

		at_first += there;
		vp_look_learn(pauses, there, there ? 0 : arrives - *pauses - 1);
		UNIT_CHECK(*pauses <= VP_LOOK_MAX + VP_LOOK_UP, "pause %u past the cap", *pauses);
		if (i >= n / 2) {
			*lo = *pauses < *lo ? *pauses : *lo;
			*hi = *pauses > *hi ? *pauses : *hi;
		}
	}
	return at_first;
}

int main(void)
{
	uint8_t pauses = 0;
	unsigned lo, hi;
	int there;

	/* An answer 8 pauses after the hand-off: the pause settles around it,
	 * the answer there at the first look most of the time. */
	there = run(&pauses, 8, 1000, &lo, &hi);
	UNIT_CHECK(lo + 1 >= 8 && hi <= 8 + VP_LOOK_UP, "answer at 8: pause %u..%u", lo, hi);
	UNIT_CHECK(there > 600, "answer at 8: there at the first look %d times in 1000", there);

	/* It comes later now (another placement): the pause follows. */
	run(&pauses, 20, 1000, &lo, &hi);
	UNIT_CHECK(lo + 1 >= 20 && hi <= 20 + VP_LOOK_UP, "answer at 20: pause %u..%u", lo, hi);

	/* And sooner. */
	run(&pauses, 3, 1000, &lo, &hi);
	UNIT_CHECK(lo + 1 >= 3 && hi <= 3 + VP_LOOK_UP, "answer at 3: pause %u..%u", lo, hi);

	/* Long kernels (or a partner on our CPU): nothing is learnt but to
	 * stop pausing. */
	for (int i = 0; i < 100; i++)
		vp_look_learn(&pauses, 0, UINT_MAX);
	UNIT_CHECK(pauses == 0, "after 100 late answers the pause is %u", pauses);

	/* An answer later than the cap allows: the pause stays at the cap. */
	for (int i = 0; i < 1000; i++)
		vp_look_learn(&pauses, 0, 0);
	UNIT_CHECK(pauses >= VP_LOOK_MAX && pauses <= VP_LOOK_MAX + VP_LOOK_UP,
	           "answers always just missed: pause %u", pauses);
	printf("look: ok\n");
	return 0;
}
