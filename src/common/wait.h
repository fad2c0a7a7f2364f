/*
 * wait.h: how one side of a ring waits for the other. A waiter spins for a
 * short while (a busy partner answers in well under a microsecond), then
 * sleeps on a futex so that an idle side costs no CPU.
 *
 * The futex words live in the shared memfd, so the futexes are the shared
 * (not FUTEX_PRIVATE) kind. A waker only makes the futex_wake system call
 * when the sleepers counter says someone sleeps. Two ways to wake:
 *
 * vp_wake, for rare events, pairs two seq_cst operations so that no
 * wake-up is lost:
 *
 *   waker:   store word (release); fence(seq_cst); load sleepers
 *   sleeper: fetch_add sleepers (seq_cst); load word; futex_wait(word, old)
 *
 * Either the waker sees sleepers > 0 and wakes, or the sleeper sees the new
 * word and does not sleep (and futex_wait itself re-checks the word).
 *
 * vp_wake_lazy, on the rings' hot paths, has no fence: a full fence waits
 * for the store buffer to drain, a cache-line transfer when the partner
 * reads the line, and costs a pipelined call a third of its time. Its load
 * of sleepers may then be served before its own store is visible, so a
 * sleeper that checked the word just before the store became visible can
 * miss the wake-up. That window only exists while the sleeper is going to
 * sleep, so vp_wait_change bounds its first sleep to VP_SETTLE_NS and looks
 * again: by then the store, which leaves the store buffer within
 * nanoseconds, is visible, and any later waker sees sleepers > 0. The cost
 * of the race, when it happens, is that first sleep.
 */
#ifndef OPENVEO_WAIT_H
#define OPENVEO_WAIT_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t vp_now_ns(void);

/* How long a waiter spins before it sleeps, in ns (VEO_SPIN_US overrides;
 * read once). */
uint64_t vp_spin_ns(void);

/* One pause of a spin loop. */
static inline void vp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	atomic_signal_fence(memory_order_seq_cst);
#endif
}

/* Wakes every thread sleeping on word. Call after storing the new value. */
void vp_futex_wake_all(_Atomic uint32_t *word);

static inline void vp_wake(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(sleepers, memory_order_relaxed))
		vp_futex_wake_all(word);
}

/* The first sleep of a wait, the longest a lazy wake-up can be missed. */
#define VP_SETTLE_NS 100000ull

static inline void vp_wake_lazy(_Atomic uint32_t *word, _Atomic uint32_t *sleepers)
{
	if (atomic_load_explicit(sleepers, memory_order_relaxed))
		vp_futex_wake_all(word);
}

/*
 * Waits until *word != old: spins first when `spin` is set, then sleeps
 * until a wake-up or until the monotonic clock passes deadline_ns (0: no
 * deadline); the first VP_SETTLE_NS of the sleep are a sleep of their own,
 * after which the word is looked at again (see vp_wake_lazy). Returns 0
 * when the word changed, -1 otherwise (time-out or a wake-up that changed
 * nothing, such as a dying partner's). Callers loop, checking what else
 * they wait for between calls.
 */
int vp_wait_change(_Atomic uint32_t *word, uint32_t old,
                   _Atomic uint32_t *sleepers, uint64_t deadline_ns, int spin);

/*
 * One sleep until *word != old or until deadline_ns (absolute; 0: none):
 * the sleep vp_wait_change is made of, without its first short one, for a
 * caller whose
 * deadline is near enough to bound a wake-up missed to vp_wake_lazy's
 * race (pace.c: the end of a kernel's expected run). A sleep costs the
 * sleeper a timer and a wake-up, 17-21 us of its CPU time on the VM these
 * figures come from, so a wait that knows how long it will be sleeps
 * once. 0 when the word changed, -1 otherwise.
 */
int vp_sleep_until(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleepers,
                   uint64_t deadline_ns);

/*
 * The two spins of the rings' hot paths. A spinner and its partner on one
 * CPU (a 1-core machine, or the scheduler put them there) would take turns
 * only when a spin gives up its CPU, after VP_PURE_SPIN_NS: a call and
 * wait took 8 us so. So each side publishes the CPU it spins on
 * (vp_cpu_publish, before its spin) and a spinner that finds its partner's
 * CPU to be its own yields at once. partner_cpu may be NULL.
 */
static inline void vp_cpu_publish(_Atomic uint32_t *mine)
{
	int cpu = sched_getcpu(); /* -1 where it cannot tell: UINT32_MAX, none */

	if (atomic_load_explicit(mine, memory_order_relaxed) != (uint32_t)cpu)
		atomic_store_explicit(mine, (uint32_t)cpu, memory_order_relaxed);
}

/* Whether the partner last spun (vp_cpu_publish) on the CPU we run on; no
 * if either is unknown or partner_cpu is NULL. */
int vp_partner_here(const _Atomic uint32_t *partner_cpu);

/* Spins until (*word & mask) == want (0), or *watch is no longer watch_old
 * (1): a waiter for one answer that must not miss its partner's death; at
 * most limit_ns (-1). It never sleeps: a caller that gives up sleeps on a
 * futex word with vp_wait_change. */
int vp_spin_until_or(_Atomic uint32_t *word, uint32_t mask, uint32_t want,
                     _Atomic uint32_t *watch, uint32_t watch_old, uint64_t limit_ns,
                     const _Atomic uint32_t *partner_cpu);
/* Spins the same way, with nothing to watch, until *word != old. */
int vp_spin_change(_Atomic uint32_t *word, uint32_t old, uint64_t limit_ns,
                   const _Atomic uint32_t *partner_cpu);

#endif
