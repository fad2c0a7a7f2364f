/*
 * lock.h: the lock of a context's host state. Every call takes it two or
 * three times between its submission and its wait, so its cost is in
 * every offload. Uncontended, one compare-and-swap takes it and a plain
 * store releases it, inline; a pthread mutex is a library call, several
 * times the instructions, and its release is a locked instruction, which
 * waits for the store buffer to drain: after writing a record into the
 * ring that the worker is reading, a cache-line transfer, a quarter of a
 * pipelined call.
 *
 * The word is 0 (free), 1 (taken) or 2 (taken, and someone may sleep), as
 * in U. Drepper's "Futexes Are Tricky". A releaser that finds 1 stores 0
 * without a locked instruction; one that finds 2 exchanges and wakes a
 * sleeper. A taker that finds it taken spins briefly, then marks it 2 and
 * sleeps on the futex. Between the releaser's load of 1 and its store of 0
 * a taker may mark 2 and go to sleep unwoken; so a sleep lasts at most
 * VLOCK_NAP_NS, after which the taker tries again: the race costs it that
 * nap, and it can only happen while the lock is contended. The memory is
 * the host's own, so the futexes are private.
 */
#ifndef OPENVEO_LOCK_H
#define OPENVEO_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#define VLOCK_NAP_NS 100000

struct vlock {
	_Atomic uint32_t word;
};

void vlock_take_slow(struct vlock *l);
void vlock_wake_one(struct vlock *l);

static inline void vlock_take(struct vlock *l)
{
	uint32_t free_ = 0;

	if (!atomic_compare_exchange_strong_explicit(&l->word, &free_, 1, memory_order_acquire,
	                                             memory_order_relaxed))
		vlock_take_slow(l);
}

static inline void vlock_give(struct vlock *l)
{
	if (atomic_load_explicit(&l->word, memory_order_relaxed) == 1)
		atomic_store_explicit(&l->word, 0, memory_order_release);
	else if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		vlock_wake_one(l);
}

#endif
