/*
 * wait.c: spin-then-sleep waiting on shared futex words (see wait.h).
 */
#include "wait.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t vp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spinning without yielding: a partner on another core answers an empty
 * request well within this. Past it, a spinner whose partner is not known
 * to share its CPU yields once every VP_YIELD_EVERY turns: a partner moved
 * to our CPU in the middle of a kernel (it publishes its CPU only when it
 * spins) gets the CPU within some 10 us, and a partner on another core
 * seldom answers while we are in the system call (a sched_yield costs
 * 250 ns here; one every 16 turns added 70-80 ns to the hand-off of a
 * 20 us kernel). */
#define VP_PURE_SPIN_NS 2000
#define VP_YIELD_EVERY 256

uint64_t vp_spin_ns(void)
{
	static _Atomic uint64_t cached; /* 0: not read yet; stores ns + 1 */
	uint64_t v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v == 0) {
		const char *s = getenv("VEO_SPIN_US");
		uint64_t us = 50;

		if (s && *s) {
			char *end;
			unsigned long long x = strtoull(s, &end, 10);

			if (*end == '\0' && x <= 1000000)
				us = x;
		}
		v = us * 1000 + 1;
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v - 1;
}

void vp_futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void futex_wait_until(_Atomic uint32_t *word, uint32_t old,
                             uint64_t deadline_ns)
{
	struct timespec ts, *tsp = NULL;

	if (deadline_ns) {
		/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
		ts.tv_sec = (time_t)(deadline_ns / 1000000000ull);
		ts.tv_nsec = (long)(deadline_ns % 1000000000ull);
		tsp = &ts;
	}
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, old, tsp, NULL,
	        FUTEX_BITSET_MATCH_ANY);
}

int vp_partner_here(const _Atomic uint32_t *partner_cpu)
{
	int cpu;

	if (!partner_cpu || (cpu = sched_getcpu()) < 0)
		return 0;
	return atomic_load_explicit(partner_cpu, memory_order_relaxed) == (uint32_t)cpu;
}

/* The spin phase shared by the waits: until ((*word & mask) == v) == equal,
 * or until *watch (if not NULL) is no longer watch_old. The clock (some
 * 20 ns a read under a hypervisor) is read once every 16 pauses, the first
 * time after 16: a partner that answers within those costs no clock read
 * at all, and the time counted starts there. A partner on our CPU gets it
 * at every turn (sched_yield instead of a pause); where it is is looked at
 * again with the clock. 0, 1 (watch changed) or -1. *turns (if not NULL)
 * gets the pauses it took to see the word change, UINT_MAX if it yielded
 * to a partner on our CPU. */
static int spin(_Atomic uint32_t *word, uint32_t mask, uint32_t v, int equal,
                _Atomic uint32_t *watch, uint32_t watch_old, uint64_t limit,
                const _Atomic uint32_t *partner_cpu, unsigned *turns)
{
	uint64_t start = 0, now;
	int shared = vp_partner_here(partner_cpu), yielded = shared;

	for (unsigned i = 1;; i++) {
		if (((atomic_load_explicit(word, memory_order_acquire) & mask) == v) == equal) {
			if (turns)
				*turns = yielded ? UINT_MAX : i - 1;
			return 0;
		}
		if (watch && atomic_load_explicit(watch, memory_order_acquire) != watch_old)
			return 1;
		if (limit == 0)
			return -1;
		if (shared)
			sched_yield();
		else
			vp_cpu_relax();
		if ((i & 15) == 0) {
			now = vp_now_ns();
			if (i == 16)
				start = now;
			if (now - start >= limit)
				return -1;
			shared = vp_partner_here(partner_cpu);
			yielded |= shared;
			/* Past the first microseconds the partner is not answering
			 * from another core: maybe it waits for ours, so offer it
			 * now and then. */
			if (!shared && now - start >= VP_PURE_SPIN_NS && i % VP_YIELD_EVERY == 0)
				sched_yield();
		}
	}
}

int vp_spin_until_or(_Atomic uint32_t *word, uint32_t mask, uint32_t want,
                     _Atomic uint32_t *watch, uint32_t watch_old, uint64_t limit_ns,
                     const _Atomic uint32_t *partner_cpu, unsigned *turns)
{
	return spin(word, mask, want, 1, watch, watch_old, limit_ns, partner_cpu, turns);
}

int vp_spin_change(_Atomic uint32_t *word, uint32_t old, uint64_t limit_ns,
                   const _Atomic uint32_t *partner_cpu, unsigned *turns)
{
	return spin(word, ~0u, old, 0, NULL, 0, limit_ns, partner_cpu, turns);
}

int vp_wait_change(_Atomic uint32_t *word, uint32_t old,
                   _Atomic uint32_t *sleepers, uint64_t deadline_ns, int do_spin)
{
	if (atomic_load_explicit(word, memory_order_acquire) != old)
		return 0;

	if (do_spin) {
		uint64_t limit = vp_spin_ns();

		if (deadline_ns) {
			uint64_t now = vp_now_ns();

			if (deadline_ns <= now)
				limit = 0;
			else if (deadline_ns - now < limit)
				limit = deadline_ns - now;
		}
		if (spin(word, ~0u, old, 0, NULL, 0, limit, NULL, NULL) == 0)
			return 0;
	}

	/* The first sleep is bounded to VP_SETTLE_NS (wait.h), then one to
	 * the deadline if the word has not changed; each sleep counts itself
	 * in sleepers and looks at the word after that, so a wake-up between
	 * the two is not lost. */
	uint64_t settle = vp_now_ns() + VP_SETTLE_NS;

	if (deadline_ns && deadline_ns <= settle)
		return vp_sleep_until(word, old, sleepers, deadline_ns);
	if (vp_sleep_until(word, old, sleepers, settle) == 0)
		return 0;
	if (deadline_ns && vp_now_ns() >= deadline_ns)
		return -1;
	return vp_sleep_until(word, old, sleepers, deadline_ns);
}

int vp_sleep_until(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleepers,
                   uint64_t deadline_ns)
{
	atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
	if (atomic_load_explicit(word, memory_order_seq_cst) == old)
		futex_wait_until(word, old, deadline_ns);
	atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
	return atomic_load_explicit(word, memory_order_acquire) != old ? 0 : -1;
}
