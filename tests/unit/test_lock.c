/*
 * test_lock.c: unit test of the context lock (src/lib/lock.h): the bias
 * to the first thread, mutual exclusion before, during and after another
 * thread revokes it, and a lock that comes back unbiased when re-made.
 *
 * Exclusion is checked with a counter that each critical section reads,
 * lets other threads run against (pauses), and writes back incremented:
 * any overlap of two sections loses an increment, which the final count
 * shows. The program exits 0 when every check holds.
 */
#include "lock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "wait.h"

static struct vlock lock;
static volatile unsigned long counter; /* only ever touched under the lock */
static volatile int inside;            /* a thread is in a critical section */
static int can_bias;                   /* membarrier here, no ThreadSanitizer */

/* One critical section: the increment is spread over pauses so that a
 * second thread inside at the same time is caught. */
static void section(void)
{
	unsigned long v;

	vlock_take(&lock);
	UNIT_CHECK(!inside, "two threads inside the lock at once");
	inside = 1;
	v = counter;
	for (int i = 0; i < 8; i++)
		vp_cpu_relax();
	counter = v + 1;
	inside = 0;
	vlock_give(&lock);
}

struct worker {
	pthread_t t;
	long n;
	_Atomic int *go;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(w->go))
		vp_cpu_relax();
	for (long i = 0; i < w->n; i++)
		section();
	return NULL;
}

/* The first thread to take a fresh lock owns it, and keeps it without a
 * revocation however often it takes it. */
static void test_bias_to_first_thread(void)
{
	vlock_init(&lock);
	counter = 0;
	for (int i = 0; i < 100000; i++)
		section();
	UNIT_CHECK(counter == 100000, "counter %lu", counter);
	can_bias = !atomic_load(&lock.revoked);
	if (!can_bias) {
		printf("lock: no biasing here (no membarrier, or ThreadSanitizer): "
		       "checking exclusion only\n");
		UNIT_CHECK(atomic_load(&lock.bias) == 0,
		           "biased, yet revoked from the start");
	}
	UNIT_CHECK(!can_bias || atomic_load(&lock.bias) == vlock_self(),
	           "bias %#lx (self %#lx), revoked %u",
	           (unsigned long)atomic_load(&lock.bias), (unsigned long)vlock_self(),
	           atomic_load(&lock.revoked));
	UNIT_CHECK(!atomic_load(&lock.owner_in) && atomic_load(&lock.word) == 0,
	           "released lock: owner_in %u, word %u", atomic_load(&lock.owner_in),
	           atomic_load(&lock.word));
}

/* The owner and three other threads take it at once: the first of the
 * others revokes the bias while the owner keeps going. No increment is
 * lost, and afterwards the lock is unbiased. */
static void test_revocation_under_load(void)
{
	_Atomic int go = 0;
	struct worker w[3];
	const long n = 200000;

	vlock_init(&lock);
	counter = 0;
	section(); /* biased to us */
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){ .n = n, .go = &go };
		UNIT_CHECK(pthread_create(&w[i].t, NULL, hammer, &w[i]) == 0,
		           "pthread_create");
	}
	atomic_store(&go, 1);
	for (long i = 0; i < n; i++)
		section();
	for (int i = 0; i < 3; i++)
		pthread_join(w[i].t, NULL);
	UNIT_CHECK(counter == 4 * n + 1, "counter %lu, want %ld: sections overlapped",
	           counter, 4 * n + 1);
	UNIT_CHECK(atomic_load(&lock.revoked) == 1, "the bias was not revoked");
	UNIT_CHECK(!atomic_load(&lock.owner_in) && atomic_load(&lock.word) == 0,
	           "released lock: owner_in %u, word %u", atomic_load(&lock.owner_in),
	           atomic_load(&lock.word));
}

/* A revoker waits for the owner to leave a long critical section. */
static _Atomic int owner_inside;

static void *take_once(void *arg)
{
	(void)arg;
	while (!atomic_load(&owner_inside))
		vp_cpu_relax();
	vlock_take(&lock);
	UNIT_CHECK(atomic_load(&owner_inside) == 2, "took the lock while its owner held it");
	vlock_give(&lock);
	return NULL;
}

static void test_revoker_waits_for_owner(void)
{
	pthread_t t;

	vlock_init(&lock);
	vlock_take(&lock); /* biased to us, held */
	UNIT_CHECK(pthread_create(&t, NULL, take_once, NULL) == 0, "pthread_create");
	atomic_store(&owner_inside, 1);
	/* Give the other thread time to start revoking; it must not get in
	 * however long this takes. */
	for (int i = 0; i < 200000; i++)
		vp_cpu_relax();
	atomic_store(&owner_inside, 2);
	vlock_give(&lock);
	pthread_join(t, NULL);
	UNIT_CHECK(atomic_load(&lock.revoked) == 1, "the bias was not revoked");
	/* The former owner takes it the shared way now. */
	vlock_take(&lock);
	UNIT_CHECK(atomic_load(&lock.word) != 0 && !atomic_load(&lock.owner_in),
	           "word %u, owner_in %u", atomic_load(&lock.word),
	           atomic_load(&lock.owner_in));
	vlock_give(&lock);
	UNIT_CHECK(atomic_load(&lock.word) == 0, "word %u after release",
	           atomic_load(&lock.word));
}

/* A lock made anew (a context opened again) is biased to its first user. */
static void *first_user(void *arg)
{
	(void)arg;
	section();
	UNIT_CHECK(!can_bias || atomic_load(&lock.bias) == vlock_self(),
	           "not biased to its first user");
	return NULL;
}

static void test_reinit(void)
{
	pthread_t t;

	vlock_init(&lock);
	UNIT_CHECK(pthread_create(&t, NULL, first_user, NULL) == 0, "pthread_create");
	pthread_join(t, NULL);
}

int main(void)
{
	test_bias_to_first_thread();
	test_revocation_under_load();
	test_revoker_waits_for_owner();
	test_reinit();
	printf("lock: all checks passed\n");
	return 0;
}
