/*
 * pace.c: the estimates of kernels' run times and the sleep that uses them
 * (see pace.h).
 */
#include "pace.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "wait.h"

int pace_enabled(void)
{
	static _Atomic int cached; /* 0: not read yet, else 1 + on */
	int v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v == 0) {
		const char *s = getenv("VEO_PACE");

		v = 1 + !(s && s[0] == '0' && s[1] == '\0');
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v - 1;
}

/* A function not in its set takes the place of the set's oldest entry.
 * Entries do not move, so a pending request's index stays its function's
 * until a newcomer takes the place (then one sample goes to the wrong
 * function, which the next ones outweigh). */
uint8_t pace_submit_slow(struct pace *pc, uint64_t fn, uint64_t seq, int *timed)
{
	unsigned set = pace_set(fn), i = set * PACE_WAYS, end = i + PACE_WAYS;
	struct pace_fn *e;

	while (i < end && pc->fns[i].fn != fn)
		i++;
	if (i == end) {
		i = set * PACE_WAYS + pc->next[set];
		pc->next[set] = (uint8_t)((pc->next[set] + 1) % PACE_WAYS);
		pc->fns[i] = (struct pace_fn){ .fn = fn, .retime = 1 };
	}
	e = &pc->fns[i];
	*timed = e->retime || e->est_ns >= PACE_SLEEPY_NS ||
	         (e->est_ns >= PACE_TIMED_NS && seq % PACE_LEARN_EVERY == 0) ||
	         seq % PACE_RETIME == 0;
	e->retime = 0;
	pc->last_fn = fn;
	pc->last = (uint8_t)(i + 1);
	pc->last_every = e->est_ns >= PACE_SLEEPY_NS ? 0
	                 : e->est_ns >= PACE_TIMED_NS ? PACE_LEARN_EVERY : PACE_RETIME;
	return (uint8_t)(i + 1);
}

/* A moving average and its deviation, by 1/2^shift of each sample. A
 * sample beyond four deviations counts as four: one preempted run or one
 * late wake-up on a loaded machine must not widen every later margin,
 * while a real change still moves the average within a few samples (the
 * deviation grows by half or more each time). */
static void average_in(uint32_t *est, uint32_t *dev, uint64_t x, unsigned shift)
{
	int64_t d;

	if (x > UINT32_MAX / 4)
		x = UINT32_MAX / 4;
	if (*est == 0) { /* the first sample */
		*est = (uint32_t)x;
		*dev = (uint32_t)(x / 8);
		return;
	}
	if (x > (uint64_t)*est + 4ull * *dev + 1000)
		x = (uint64_t)*est + 4ull * *dev + 1000;
	d = (int64_t)x - *est;
	*est = (uint32_t)(*est + d / (1 << shift));
	*dev = (uint32_t)(*dev + ((d < 0 ? -d : d) - (int64_t)*dev) / (1 << shift));
}

void pace_learn(struct pace *pc, uint8_t idx, const struct vp_slot *s, uint64_t reqid)
{
	struct pace_fn *e = &pc->fns[idx - 1];
	/* Ordered after the answer's stamp, which the worker stored after it
	 * (slot.c), by the stamp's acquire: relaxed is enough. Another timed
	 * call may have ended since (a batch drained at once): then this one's
	 * time is lost, and the word says so. */
	uint64_t t = atomic_load_explicit(&s->timed, memory_order_relaxed);

	if (!vp_timed_for(t, reqid))
		return;
	average_in(&e->est_ns, &e->dev_ns, vp_timed_ns(t), 2);
	/* Its estimate moved: the next call goes through pace_submit_slow,
	 * which sets how often its calls are timed. */
	if (pc->last == idx)
		pc->last_every = 0;
}

/*
 * How late this process's timed sleeps end, past their deadline: moving
 * averages shared by its threads (a racing update loses a sample, nothing
 * else), by the length of the sleep, which matters: on the VM these
 * figures come from, a 25 us sleep ends 19 us late on average, a 75 us
 * one 27 us, a 200 us one 40 us. The first samples come from
 * veo_proc_create's wait for its worker (proc.c); before them, a guess on
 * the late side.
 */
#define LATE_CLASSES 5
static struct {
	_Atomic uint32_t est, dev;
} late[LATE_CLASSES] = {
	{ 30000, 10000 }, { 40000, 10000 }, { 50000, 10000 }, { 50000, 10000 }, { 50000, 10000 },
};

static unsigned late_class(uint64_t ns)
{
	return ns < 40000 ? 0 : ns < 100000 ? 1 : ns < 300000 ? 2 : ns < 1000000 ? 3 : 4;
}

/* The thread's timer slack for a sleep: 1 ns, since Linux's default of
 * 50 us would end every sleep that much later, then what it was. */
static uint64_t slack_tighten(void)
{
	int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (old > 1)
		prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	return old > 1 ? (uint64_t)old : 0;
}

static void slack_restore(uint64_t old)
{
	if (old)
		prctl(PR_SET_TIMERSLACK, old, 0, 0, 0);
}

int pace_sleep_until(_Atomic uint32_t *word, uint32_t old, _Atomic uint32_t *sleepers,
                     uint64_t deadline)
{
	uint64_t now = vp_now_ns(), slack = slack_tighten();
	unsigned k = late_class(deadline > now ? deadline - now : 0);
	int changed = vp_sleep_until(word, old, sleepers, deadline) == 0;

	now = vp_now_ns();
	slack_restore(slack);
	/* How late it ended: a time-out, or an answer that came after the
	 * deadline, which tells that the timer was at least that late. */
	if (now >= deadline) {
		uint32_t e = atomic_load_explicit(&late[k].est, memory_order_relaxed);
		uint32_t d = atomic_load_explicit(&late[k].dev, memory_order_relaxed);

		average_in(&e, &d, now - deadline, 3);
		atomic_store_explicit(&late[k].est, e, memory_order_relaxed);
		atomic_store_explicit(&late[k].dev, d, memory_order_relaxed);
	}
	return changed ? 0 : -1;
}

/* How many of the deviations (the kernel's and the wake-up's) the margin
 * takes beyond the average lateness, in percent: each one wakes earlier,
 * spinning more, and late less often. */
#ifndef PACE_DEV_PCT
#define PACE_DEV_PCT 50
#endif

/* A sleep costs the thread 17-21 us of CPU time here (its timer and its
 * wake-up) and ends 20-30 us late give or take several: one shorter than
 * this saves too little spinning for the risk of waking after the end
 * (measured: 50 us kernels, sleeping 20 us of them, lost 1.2x; spinning
 * through, 1.02x). */
#define PACE_MIN_SLEEP_NS 40000u

/* The longest spin across an expected end. */
#define PACE_MAX_SPIN_NS 1000000ull

/* Yields the CPU until the answer to reqid is at stamp (0), or until
 * `until` or YIELD_FREE yields in a row that came back within
 * YIELD_FREE_NS (-1). */
#define YIELD_FREE 8
#define YIELD_FREE_NS 3000u

static int yield_until(const _Atomic uint32_t *stamp, uint64_t reqid, uint64_t until)
{
	unsigned free_yields = 0;
	uint64_t t = vp_now_ns(), t1;

	while (!vp_answer_for(atomic_load_explicit(stamp, memory_order_acquire), reqid)) {
		if (t >= until || free_yields >= YIELD_FREE)
			return -1;
		sched_yield();
		t1 = vp_now_ns();
		free_yields = t1 - t < YIELD_FREE_NS ? free_yields + 1 : 0;
		t = t1;
	}
	return 0;
}

uint64_t pace_sleep(struct vp_slot *s, const _Atomic uint32_t *stamp, uint64_t reqid,
                    uint32_t head, struct pace_plan plan, uint64_t until)
{
	uint64_t now = vp_now_ns(), start = now, end, wake, margin = 0;

	/* When it started, if it has: the worker stores the start before the
	 * id (release). Not started yet: it starts about now. */
	if (atomic_load_explicit(&s->running_reqid, memory_order_acquire) == reqid)
		start = atomic_load_explicit(&s->run_start_ns, memory_order_relaxed);
	end = start + plan.est_ns;
	/* On the worker's CPU, yield it to the kernel until the answer: a
	 * yield costs a fraction of a microsecond each time the kernel's
	 * thread gives the CPU back, less than any sleep (whose timer and
	 * wake-up alone cost 17-21 us here) or the futex wake-up a spin that
	 * ran out would wait for. Unless the yields come straight back:
	 * nothing else runs here (the kernel sleeps, or moved), so sleep as
	 * across CPUs. */
	if (vp_partner_here(&s->worker_cpu) && yield_until(stamp, reqid, until) == 0)
		return 0;
	now = vp_now_ns();
	/* Wake early by the kernel's deviation and by how late a sleep of
	 * that length ends: the length without the margin picks the class,
	 * then the length with it, which may be of a shorter class. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t len = end > now + margin ? end - now - margin : 0;
		unsigned k = late_class(len);

		margin = atomic_load_explicit(&late[k].est, memory_order_relaxed) +
		         (PACE_DEV_PCT * ((uint64_t)plan.dev_ns +
		                          atomic_load_explicit(&late[k].dev, memory_order_relaxed))) / 100;
	}
	wake = end > margin ? end - margin : 0;
	if (wake > until)
		wake = until;
	if (wake >= now + PACE_MIN_SLEEP_NS) {
		pace_sleep_until(&s->sq.head, head, &s->sq.head_sleepers, wake);
		now = vp_now_ns();
	}
	/* Spin across the expected end, then as long as any wait would; a
	 * kernel whose run times scatter widely (a wide margin) does not get
	 * a long spin for it: past PACE_MAX_SPIN_NS its answer wakes us. */
	if (now >= until)
		return 0;
	wake = (2 * margin < PACE_MAX_SPIN_NS ? 2 * margin : PACE_MAX_SPIN_NS) + vp_spin_ns();
	return wake < until - now ? wake : until - now;
}
