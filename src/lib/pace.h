/*
 * pace.h: waiting for a kernel that runs long, without spinning through it.
 *
 * A host thread that waits for an answer spins (wait.h): a partner on
 * another core answers a short request in a fraction of a microsecond, and
 * a sleep costs more than that just to wake up: on a VM, waking a thread
 * that sleeps on a futex takes 25-60 us, and a timed sleep ends 20-40 us
 * after its deadline (measured on the 2-CPU KVM guest these figures come
 * from, with the timer slack at 1 ns; 80 us with Linux's default 50 us).
 * So spinning is right for a kernel that runs microseconds and wrong for
 * one that runs milliseconds: the spinning core is taken from the kernel's
 * OpenMP team, and a spin given up after VEO_SPIN_US leaves the thread
 * asleep when the answer comes, a wake-up late.
 *
 * So each context learns how long each kernel (function address) runs and
 * waits accordingly:
 *
 *   - the worker times a call when the host asks it to (VP_REC_TIMED in
 *     the record): it publishes when the call started (vp_slot's
 *     run_start_ns) and, at its end, how long it ran (timed_ns). A call is
 *     timed when its function is new to the context, known to run long
 *     enough to be slept through, one call in PACE_LEARN_EVERY of one
 *     known to run long, one in PACE_RETIME of any, and once a wait for
 *     it spun out: the others cost the worker no clock read, and the host
 *     no read of the line the worker wrote the time in;
 *   - an estimate per function, a moving average of the run times and of
 *     their deviation;
 *   - a waiter for a timed call to a kernel expected to run long sleeps
 *     until shortly before the expected end, on the futex the answer
 *     wakes (so an early end wakes it), then spins across the expected
 *     end, and past it for as long as a short wait would (VEO_SPIN_US),
 *     before it falls back to sleeping;
 *   - "shortly before" is the expected end less the late-wake margin (how
 *     late this process's timed sleeps of that length have ended, learnt
 *     from each of them; the thread's timer slack is 1 ns meanwhile, then
 *     restored) and half the deviations; no sleep is shorter than 40 us,
 *     since on this VM a sleep costs the thread 17-21 us of CPU time;
 *   - on the worker's CPU (the scheduler put both threads there, or a
 *     user's affinity), the waiter yields the CPU to the kernel until the
 *     answer instead, unless its yields come straight back (the kernel
 *     sleeps or runs elsewhere).
 *
 * What is learnt is a hint: a wrong estimate costs time or CPU, never a
 * lost answer, since every sleep is on the word the answer changes.
 * VEO_SPIN_US stays the spin of short waits and of the fall-back;
 * VEO_PACE=0 turns the prediction off (every wait spins, then sleeps).
 */
#ifndef OPENVEO_PACE_H
#define OPENVEO_PACE_H

#include <stdint.h>

#include "ring.h"

/* Functions a context keeps estimates for: PACE_SETS sets of PACE_WAYS,
 * a set chosen by the address; a newcomer takes the place of the set's
 * oldest entry. A time step of 30 kernels fits. */
#define PACE_SETS 32
#define PACE_WAYS 4
#define PACE_FNS (PACE_SETS * PACE_WAYS)
/* A function estimated to run at least this long gets a plan for its
 * waits: even a wait too short to sleep through then spins across the
 * expected end, where a plain one gives up after VEO_SPIN_US (a 50 us
 * kernel paid a 45 us wake-up for one in three calls that way). */
#define PACE_TIMED_NS 10000u
/* A kernel expected to run this long may be slept through (a sleep of
 * PACE_MIN_SLEEP_NS and the late-wake margin): every call is timed, since
 * its wait reads when it started. A shorter one's wait spins across its
 * expected end reading nothing the worker writes meanwhile, and one run
 * in PACE_LEARN_EVERY is timed and learnt: timing a call costs the worker
 * two clock reads, and reading the time the host a cache-line transfer (a
 * fifth of a microsecond a call at 20 us kernels, when every one was). */
#define PACE_SLEEPY_NS 60000u
#define PACE_LEARN_EVERY 16u
/* A short function's calls are timed again every so many calls (a call
 * whose request seq is a multiple of it). */
#define PACE_RETIME 256u
_Static_assert((PACE_RETIME & (PACE_RETIME - 1)) == 0 && PACE_RETIME % PACE_LEARN_EVERY == 0 &&
               (PACE_LEARN_EVERY & (PACE_LEARN_EVERY - 1)) == 0,
               "pace_submit's fast path masks seq");

struct pace_fn {
	uint64_t fn;          /* function address; 0: a free entry */
	uint32_t est_ns;      /* run time, moving average; 0: not timed yet */
	uint32_t dev_ns;      /* moving average of |run time - est_ns| */
	uint32_t retime;      /* time its next call (new, or a wait spun out) */
};

/* A context's estimates; under the context's lock. The function of the
 * last call is remembered apart, so that a loop calling one kernel that is
 * not slept through reads three words and writes none. */
struct pace {
	uint64_t last_fn;          /* the function of the last call */
	uint8_t last;              /* its entry, index + 1; 0: none */
	uint16_t last_every;       /* its calls are timed every last_every-th
	                            * (PACE_RETIME or PACE_LEARN_EVERY); 0: each
	                            * goes through pace_submit_slow */
	uint8_t next[PACE_SETS];   /* the way a set's next newcomer takes */
	struct pace_fn fns[PACE_FNS];
};

/* What a waiter needs of its request's function, read under the lock:
 * est 0 means spin as usual. */
struct pace_plan {
	uint32_t est_ns;
	uint32_t dev_ns;
};

/* Whether the prediction is on (VEO_PACE, read once). */
int pace_enabled(void);

static inline unsigned pace_set(uint64_t fn)
{
	return (unsigned)((fn * 0x9e3779b97f4a7c15ull) >> 59); /* 5 bits: PACE_SETS */
}

/* pace_submit for any but a short function called again. */
uint8_t pace_submit_slow(struct pace *pc, uint64_t fn, uint64_t seq, int *timed);

/*
 * At the submission of a call to fn as request seq, lock held: its entry
 * (index + 1, kept in the request) and whether the worker is to time it
 * (*timed; see above). Inline, since every call runs it: a loop calling
 * one kernel that is not slept through costs three compares.
 */
static inline uint8_t pace_submit(struct pace *pc, uint64_t fn, uint64_t seq, int *timed)
{
	if (__builtin_expect(fn == pc->last_fn && pc->last_every &&
	                     (seq & (pc->last_every - 1u)), 1)) {
		*timed = 0;
		return pc->last;
	}
	return pace_submit_slow(pc, fn, seq, timed);
}

/* The estimate of entry `idx` (pace_submit's) for a waiter of a call
 * (timed or not), lock held. A sleep through the call needs its start:
 * a call submitted untimed before its function was found to run that long
 * is waited for as a shorter one. */
static inline struct pace_plan pace_plan_of(const struct pace *pc, uint8_t idx, int timed)
{
	const struct pace_fn *e = &pc->fns[idx - 1];

	if (e->est_ns < PACE_TIMED_NS || (e->est_ns >= PACE_SLEEPY_NS && !timed) ||
	    !pace_enabled())
		return (struct pace_plan){ 0, 0 };
	return (struct pace_plan){ e->est_ns, e->dev_ns };
}

/* A timed call of entry idx ended, lock held: learns its run time from the
 * slot's `timed` word if that is still this request's (reqid). */
void pace_learn(struct pace *pc, uint8_t idx, const struct vp_slot *s, uint64_t reqid);

/* Entry idx's next call is to be timed (a wait for an untimed call spun
 * out). */
static inline void pace_time_next(struct pace *pc, uint8_t idx)
{
	pc->fns[idx - 1].retime = 1;
	if (pc->last == idx)
		pc->last_every = 0;
}


/*
 * Sleeps, lock not held, until shortly before the expected end of request
 * reqid (plan's estimate, from its start as the worker published it) and
 * at most until `until` (absolute, vp_now_ns), on the SQ head the answer
 * moves (head: as read before the answer, at stamp, was last looked at).
 * Does not sleep when the expected end is too near; on the worker's CPU,
 * yields it to the kernel instead. Returns how long the caller should
 * spin next: across the expected end and VEO_SPIN_US past it (0 once
 * `until` has passed or the answer is there).
 */
uint64_t pace_sleep(struct vp_slot *s, const _Atomic uint32_t *stamp, uint64_t reqid,
                    uint32_t head, struct pace_plan plan, uint64_t until);

/*
 * One timed sleep on a futex word (vp_sleep_until) with the timer slack
 * at 1 ns, which learns how late sleeps end: 0 if the word changed, -1
 * otherwise. veo_proc_create waits for its worker
 * with it, so the first long wait of a process knows the margin already.
 */
int pace_sleep_until(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleepers,
                     uint64_t deadline);

#endif
