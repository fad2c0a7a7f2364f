/*
 * lock.h: the lock of a context's host state. Every call takes it twice
 * between its submission and its wait, so its cost is in every offload.
 *
 * Most contexts are only ever used by one thread, and for that thread the
 * lock costs no locked instruction at all: it is *biased* to the first
 * thread that takes it. A locked instruction (or a fence) waits for the
 * store buffer to drain, and after writing a record into the ring that the
 * worker is polling, that is a cache-line transfer: measured, a quarter of
 * a pipelined call and a tenth of a call and wait.
 *
 * The bias owner takes the lock by storing owner_in = 1, then checking
 * that the bias was not revoked, and releases it by storing owner_in = 0:
 * plain stores and loads. Any other thread first takes `word`, the lock
 * every thread uses once the bias is gone, then revokes the bias for good:
 * it sets `revoked`, makes the owner thread execute a full fence with the
 * membarrier system call, and waits until owner_in is 0. That fence is what
 * the owner's fast path leaves out: either the owner stored owner_in = 1
 * before it (and the revoker sees it and waits), or its check of `revoked`
 * comes after it (and sees 1, and it takes `word` like everyone else). A
 * revocation costs a system call and the owner's critical section, once in
 * a context's life. Where membarrier is missing, and under
 * ThreadSanitizer (which cannot see the fence), no lock is ever biased.
 *
 * `word` is 0 (free), 1 (taken) or 2 (taken, and someone may sleep), as in
 * U. Drepper's "Futexes Are Tricky". Uncontended, one compare-and-swap
 * takes it and a plain store releases it. A releaser that finds 1 stores 0
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

#if !defined(__x86_64__) && !defined(__aarch64__)
#include <pthread.h>
#endif

#define VLOCK_NAP_NS 100000

struct vlock {
	_Atomic uint32_t word;     /* the lock of everyone but the bias owner */
	_Atomic uint32_t owner_in; /* the bias owner holds it; written by the owner only */
	_Atomic uint32_t revoked;  /* the bias is gone: everyone takes word */
	_Atomic uintptr_t bias;    /* the owner (vlock_self), 0 before the first take */
};

/* The calling thread, as a number no other live thread has. A thread
 * created after the owner exited may get the owner's number, and with it
 * the bias: harmless, since a thread that exited holds no lock. */
static inline uintptr_t vlock_self(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
	return (uintptr_t)__builtin_thread_pointer();
#else
	return (uintptr_t)pthread_self();
#endif
}

/* A lock nobody holds, biased to no one yet. */
static inline void vlock_init(struct vlock *l)
{
	atomic_store(&l->word, 0);
	atomic_store(&l->owner_in, 0);
	atomic_store(&l->revoked, 0);
	atomic_store(&l->bias, 0);
}

void vlock_take_slow(struct vlock *l);
void vlock_settle(struct vlock *l);
void vlock_wake_one(struct vlock *l);

static inline void vlock_take(struct vlock *l)
{
	uint32_t free_ = 0;

	if (atomic_load_explicit(&l->bias, memory_order_relaxed) == vlock_self() &&
	    !atomic_load_explicit(&l->revoked, memory_order_relaxed)) {
		atomic_store_explicit(&l->owner_in, 1, memory_order_relaxed);
		/* No fence here: the revoker's membarrier is ours (above). */
		atomic_signal_fence(memory_order_seq_cst);
		if (!atomic_load_explicit(&l->revoked, memory_order_acquire))
			return;
		atomic_store_explicit(&l->owner_in, 0, memory_order_release);
	}
	if (!atomic_compare_exchange_strong_explicit(&l->word, &free_, 1, memory_order_acquire,
	                                             memory_order_relaxed))
		vlock_take_slow(l);
	/* Holding word: the first take biases the lock to us, a later one by
	 * another thread revokes the bias. */
	if (!atomic_load_explicit(&l->revoked, memory_order_relaxed))
		vlock_settle(l);
}

/* Releases word (the bias owner's fast path aside). */
static inline void vlock_give_word(struct vlock *l)
{
	if (atomic_load_explicit(&l->word, memory_order_relaxed) == 1)
		atomic_store_explicit(&l->word, 0, memory_order_release);
	else if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		vlock_wake_one(l);
}

static inline void vlock_give(struct vlock *l)
{
	/* owner_in is 1 only while its owner holds the lock the fast way. */
	if (atomic_load_explicit(&l->owner_in, memory_order_relaxed) &&
	    atomic_load_explicit(&l->bias, memory_order_relaxed) == vlock_self())
		atomic_store_explicit(&l->owner_in, 0, memory_order_release);
	else
		vlock_give_word(l);
}

#endif
