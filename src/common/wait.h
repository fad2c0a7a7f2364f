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

/* Asks for the cache line of p, to be written soon. */
static inline void vp_prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
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
 * futex word with vp_wait_change. On 0, *turns (if not NULL) is the number
 * of pauses it took, UINT_MAX if it yielded to a partner on our CPU. */
int vp_spin_until_or(_Atomic uint32_t *word, uint32_t mask, uint32_t want,
                     _Atomic uint32_t *watch, uint32_t watch_old, uint64_t limit_ns,
                     const _Atomic uint32_t *partner_cpu, unsigned *turns);
/* Spins the same way, with nothing to watch, until *word != old; *turns as
 * above. */
int vp_spin_change(_Atomic uint32_t *word, uint32_t old, uint64_t limit_ns,
                   const _Atomic uint32_t *partner_cpu, unsigned *turns);

/*
 * The first look for an answer after a hand-off. A side that has just
 * written the request (or the answer) into a line and looks at that line
 * for the other's next word takes a copy of it back while the other works
 * on it; on some CPUs the other's store then waits for that copy to be
 * invalidated, a second transfer, and a pause before the first look pays
 * (Intel, session 7, veo_ab call and wait on two CPUs, both sides pausing:
 * 10-33% less time a call); on others a pause only delays the look (AMD
 * EPYC, session 8: the same pause cost 17%, 171 -> 207 ns). So each side
 * measures what its pause costs it: the pauses from the hand-off to the
 * word seen, `pause + turns` (a word there at the first look was seen at
 * `pause`). Hand-offs alternate between the learnt pause plus and minus
 * VP_LOOK_STEP; after VP_LOOK_ROUND of each, the pause moves one towards
 * the cheaper side (a finite difference, the pause where the word is seen
 * soonest). A word that came late (a long kernel, a busy caller, a CPU
 * shared with the partner, where nothing comes while we pause) says
 * nothing about hand-offs: the pause shrinks by one and the round starts
 * again.
 */
#define VP_LOOK_MAX 32
#define VP_LOOK_STEP 2
#define VP_LOOK_ROUND 32
#define VP_LOOK_LATE 64     /* turns past the first look: not a hand-off */

struct vp_look {
	uint8_t pauses;     /* the learnt pause */
	uint8_t n;          /* hand-offs of this round: odd above, even below */
	int16_t diff;       /* this round: pauses to the word above - below */
};

/* The pause of the next hand-off: the learnt one, plus or minus the step. */
static inline unsigned vp_look_probe(const struct vp_look *l)
{
	if (l->n & 1)
		return l->pauses + VP_LOOK_STEP;
	return l->pauses > VP_LOOK_STEP ? l->pauses - VP_LOOK_STEP : 0;
}

static inline void vp_look_pause(const struct vp_look *l)
{
	for (unsigned n = vp_look_probe(l); n > 0; n--)
		vp_cpu_relax();
}

/* After a hand-off that paused vp_look_pause: at_first, the word was there
 * at the first look; else turns as the spin that saw it said (UINT_MAX if
 * none did). */
static inline void vp_look_learn(struct vp_look *l, int at_first, unsigned turns)
{
	int cost = (int)vp_look_probe(l);

	if (!at_first) {
		if (turns > VP_LOOK_LATE) {
			if (l->pauses)
				l->pauses--;
			l->n = 0;
			l->diff = 0;
			return;
		}
		cost += (int)turns;
	}
	l->diff = (int16_t)(l->diff + (l->n & 1 ? cost : -cost));
	if (++l->n < 2 * VP_LOOK_ROUND)
		return;
	if (l->diff > 0 && l->pauses)
		l->pauses--;
	else if (l->diff < 0 && l->pauses < VP_LOOK_MAX)
		l->pauses++;
	l->n = 0;
	l->diff = 0;
}

#endif
