/*
 * lock.c: the slow paths of lock.h.
 */
#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wait.h"

/* Pauses to spin before sleeping: the lock is held for well under a
 * microsecond, unless its holder lost its core. */
#define SPINS 64

void vlock_take_slow(struct vlock *l)
{
	uint32_t v;

	for (int i = 0; i < SPINS; i++) {
		vp_cpu_relax();
		v = atomic_load_explicit(&l->word, memory_order_relaxed);
		if (v == 0 && atomic_compare_exchange_weak_explicit(&l->word, &v, 1,
		                                                    memory_order_acquire,
		                                                    memory_order_relaxed))
			return;
	}
	/* Mark it "someone may sleep", then sleep until it is free, a nap at
	 * a time (lock.h). Taken this way the lock stays in state 2, so our
	 * release wakes the next sleeper (if none is left, one futex_wake is
	 * wasted). */
	while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0) {
		struct timespec nap = { 0, VLOCK_NAP_NS };

		syscall(SYS_futex, (uint32_t *)&l->word, FUTEX_WAIT_PRIVATE, 2, &nap, NULL, 0);
	}
}

void vlock_wake_one(struct vlock *l)
{
	syscall(SYS_futex, (uint32_t *)&l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
