/*
 * lock.h: the lock of a context's host state. Every call takes it two or
 * three times between its submission and its wait, so its cost is in
 * every offload: uncontended, one compare-and-swap takes it and one
 * exchange releases it, inline, where a pthread mutex is a library call
 * and several times the instructions. Contended, a taker spins briefly,
 * then sleeps on the word with a futex: the three-state mutex of
 * U. Drepper's "Futexes Are Tricky" (0 free, 1 taken, 2 taken and someone
 * may sleep). The memory is the host's own, so the futexes are private.
 */
#ifndef OPENVEO_LOCK_H
#define OPENVEO_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

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
	if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		vlock_wake_one(l);
}

#endif
