/*
 * lock.c: the slow paths of lock.h: waiting for word, biasing and revoking.
 */
#include "lock.h"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wait.h"

/* Pauses to spin before sleeping: the lock is held for well under a
 * microsecond, unless its holder lost its core. */
#define SPINS 64

#if defined(__SANITIZE_THREAD__)
#define VLOCK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VLOCK_TSAN 1
#endif
#endif

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

/* Whether this process may use MEMBARRIER_CMD_PRIVATE_EXPEDITED, which a
 * revocation needs: asked and registered once. */
static int can_bias;
static pthread_once_t can_bias_once = PTHREAD_ONCE_INIT;

static void can_bias_init(void)
{
#ifndef VLOCK_TSAN
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	can_bias = cmds >= 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	           syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

/* Waits, with word held, until the bias owner is out, spinning a little,
 * then yielding, then napping: it may be in a long critical section or
 * off its core. */
static void wait_owner_out(struct vlock *l)
{
	for (unsigned i = 0; atomic_load_explicit(&l->owner_in, memory_order_acquire); i++) {
		if (i < SPINS) {
			vp_cpu_relax();
		} else if (i < 2 * SPINS) {
			sched_yield();
		} else {
			struct timespec nap = { 0, 20000 };

			nanosleep(&nap, NULL);
		}
	}
}

/* With word held and the bias not revoked: biases a lock never taken
 * before to us (and holds it the owner's way from then on), or revokes
 * another thread's bias (and holds word). */
void vlock_settle(struct vlock *l)
{
	uintptr_t me = vlock_self(), owner = atomic_load_explicit(&l->bias, memory_order_relaxed);

	if (owner == 0) {
		pthread_once(&can_bias_once, can_bias_init);
		if (!can_bias) {
			atomic_store_explicit(&l->revoked, 1, memory_order_relaxed);
			return;
		}
		atomic_store_explicit(&l->bias, me, memory_order_relaxed);
		owner = me;
	}
	if (owner == me) {
		/* Held as the owner holds it; word goes back (release: a taker
		 * of word sees owner_in = 1 and waits for it). */
		atomic_store_explicit(&l->owner_in, 1, memory_order_relaxed);
		vlock_give_word(l);
		return;
	}
	atomic_store_explicit(&l->revoked, 1, memory_order_relaxed);
	/* The owner's fence (lock.h), registered for when the bias was made;
	 * the global kind, much slower, needs no registration. */
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
	wait_owner_out(l);
}
