/*
 * floor.c: what veo_bench, veo_ab and veo_medium share: the clock, medians,
 * the floor (a round trip over one shared cache line between two
 * processes), the same-CPU futex round trip (two threads of one process on
 * one CPU), pinning threads to a CPU and back, and calibrating the compute
 * kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "floor.h"

#include <dirent.h>
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wait.h" /* vp_cpu_relax: the floor spins exactly as openveo does */

double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

void sleep_ns(double ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1e9),
	                       .tv_nsec = (long)fmod(ns, 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

double sleep_cpu_ns(double ns, int n)
{
	double v[64];
	uint32_t word = 0;
	int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (n > 64)
		n = 64;
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
	for (int i = 0; i < n; i++) {
		struct timespec c0, c1, dl;
		double end;

		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
		end = now_ns() + ns;
		dl.tv_sec = (time_t)(end / 1e9);
		dl.tv_nsec = (long)fmod(end, 1e9);
		syscall(SYS_futex, &word, FUTEX_WAIT_BITSET, 0, &dl, NULL, FUTEX_BITSET_MATCH_ANY);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
		v[i] = (c1.tv_sec - c0.tv_sec) * 1e9 + (c1.tv_nsec - c0.tv_nsec);
	}
	if (old > 0)
		prctl(PR_SET_TIMERSLACK, old, 0, 0, 0);
	return median(v, (size_t)n);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the floor ---------------------------------------------------------- */

/*
 * The parent stores an odd number into a shared word, the child answers
 * with the next even number, m times; both spin with vp_cpu_relax, as
 * openveo's waiters do. The word is the only thing the two share, so a
 * round trip is two cache-line transfers: the least any cross-process
 * request/response can cost here.
 *
 * This machine's speed changes by up to 8x for minutes at a time, so a
 * floor measured once and a call measured a minute later make a
 * meaningless ratio. The child therefore lives through the calls section
 * and a floor trial runs right before every call trial (bench_calls). In
 * between it sleeps on a futex: spinning, it would take one of the two
 * cores from openveo's worker. A session: the parent bumps `session` and
 * wakes the child, pings, then stores FLOOR_REST in the word; the child
 * answers FLOOR_ASLEEP and waits on `session` again. Deadlines and
 * time-outs bound every spin and every sleep on both sides.
 */
#define FLOOR_REST   (UINT64_MAX - 1) /* parent: stop answering, sleep */
#define FLOOR_ASLEEP (UINT64_MAX - 3) /* child: going to sleep (both even) */
#define FLOOR_QUIT   UINT32_MAX       /* session: exit */
#define FLOOR_WARMUP 500L             /* round trips before each timed trial */

struct pingpong {
	_Alignas(64) _Atomic uint64_t word;
	_Alignas(64) _Atomic uint32_t session; /* futex word */
};

static struct {
	struct pingpong *pp;
	pid_t child;
	uint64_t v;      /* the word's value after the last round trip (even) */
	double quiet_ns; /* pause before a trial, for openveo's spinners to sleep */
	int broken;      /* the child stopped answering: no more trials */
} fl;

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* The parent's spin: 0 when *w == want, -1 past the deadline or when the
 * child is gone (looked at only after 64Ki pauses: never in a normal
 * round trip). */
static int spin_until(_Atomic uint64_t *w, uint64_t want, double deadline)
{
	for (unsigned i = 1; atomic_load_explicit(w, memory_order_acquire) != want; i++) {
		vp_cpu_relax();
		if ((i & 0xffff) == 0 &&
		    (now_ns() > deadline || waitpid(fl.child, NULL, WNOHANG) != 0))
			return -1;
	}
	return 0;
}

/* The child's side of one session: answers odd values until told to rest
 * (0), or gives up after 60 s (-1). */
static int floor_answer(struct pingpong *pp, uint64_t *last)
{
	double deadline = now_ns() + 60e9;

	for (unsigned i = 1;; i++) {
		uint64_t w = atomic_load_explicit(&pp->word, memory_order_acquire);

		if (w == FLOOR_REST) {
			atomic_store_explicit(&pp->word, FLOOR_ASLEEP, memory_order_release);
			return 0;
		}
		if ((w & 1) && w != *last) {
			*last = w;
			atomic_store_explicit(&pp->word, w + 1, memory_order_release);
		}
		vp_cpu_relax();
		if ((i & 0xfffff) == 0 && now_ns() > deadline)
			return -1;
	}
}

/* The child: sleeps until a session starts, answers it, sleeps again;
 * exits when told to quit, when a session hangs, or when the parent is
 * gone (PR_SET_PDEATHSIG, and getppid at every 1 s time-out). */
static _Noreturn void floor_child(struct pingpong *pp, pid_t parent)
{
	uint32_t seen = 0, s;
	uint64_t last = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		s = atomic_load_explicit(&pp->session, memory_order_acquire);
		while (s == seen && getppid() == parent) {
			futex(&pp->session, FUTEX_WAIT, seen, &(struct timespec){ 1, 0 });
			s = atomic_load_explicit(&pp->session, memory_order_acquire);
		}
		if (s == seen || s == FLOOR_QUIT || floor_answer(pp, &last) != 0)
			_exit(0);
		seen = s;
	}
}

/* openveo's waiters spin VEO_SPIN_US after their last request; twice
 * that and 100 us more lets them fall asleep, within reason. */
double floor_quiet_ns(void)
{
	if (fl.quiet_ns == 0) {
		double quiet = 2.0 * vp_spin_ns() + 100e3;

		fl.quiet_ns = quiet > 2e6 ? 2e6 : quiet;
	}
	return fl.quiet_ns;
}

int floor_open(void)
{
	pid_t parent = getpid();

	floor_quiet_ns();
	fl.pp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fl.pp == MAP_FAILED) {
		fl.pp = NULL;
		return -1;
	}
	fl.child = fork();
	if (fl.child < 0) {
		munmap(fl.pp, 4096);
		fl.pp = NULL;
		return -1;
	}
	if (fl.child == 0)
		floor_child(fl.pp, parent);
	return 0;
}

/* Returns once the child sleeps in the kernel (its state in /proc is S),
 * or after 2 ms. It said it goes to sleep, but until it is there it holds
 * the other core, and a call trial starting then wakes openveo's worker
 * thread onto ours: measured, that makes pipelined calls twice as slow for
 * the whole trial, a cost of the floor's child, not of openveo. */
static void child_asleep(void)
{
	char path[64], buf[256];

	snprintf(path, sizeof path, "/proc/%d/stat", (int)fl.child);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");
		const char *st = NULL;

		if (f) {
			if (fgets(buf, sizeof buf, f))
				st = strrchr(buf, ')'); /* the name may hold spaces */
			fclose(f);
		}
		if (!st || (st[1] == ' ' && st[2] == 'S'))
			return;
		sleep_ns(10e3);
	}
}

/* m round trips from fl.v; 0, or -1 when the deadline passed. */
static int floor_ping(long m, double deadline)
{
	for (long i = 0; i < m; i++) {
		atomic_store_explicit(&fl.pp->word, fl.v + 1, memory_order_release);
		if (spin_until(&fl.pp->word, fl.v + 2, deadline) != 0)
			return -1;
		fl.v += 2;
	}
	return 0;
}

/*
 * One floor trial: ns per round trip over m round trips, after a pause for
 * openveo's spinning waiters to sleep, and the child's wake-up and a warm-up
 * untimed. The child is asleep again when it returns. NAN once the child
 * is gone or has failed to answer within 20 s (then it is not asked again).
 */
double floor_trial(long m)
{
	double deadline, t0, t = NAN;
	int ok;

	if (fl.broken || !fl.pp)
		return NAN;
	if (waitpid(fl.child, NULL, WNOHANG) != 0) { /* a dead child answers nothing */
		fl.broken = 1;
		printf("the floor's child process is gone: no more floor trials\n");
		return NAN;
	}
	sleep_ns(fl.quiet_ns);
	atomic_store_explicit(&fl.pp->word, fl.v, memory_order_relaxed);
	atomic_fetch_add_explicit(&fl.pp->session, 1, memory_order_release);
	futex(&fl.pp->session, FUTEX_WAKE, 1, NULL);
	deadline = now_ns() + 20e9;
	ok = floor_ping(FLOOR_WARMUP, deadline) == 0;
	t0 = now_ns();
	if (ok && (ok = floor_ping(m, deadline) == 0))
		t = (now_ns() - t0) / m;
	atomic_store_explicit(&fl.pp->word, FLOOR_REST, memory_order_release);
	if (!ok || spin_until(&fl.pp->word, FLOOR_ASLEEP, now_ns() + 2e9) != 0) {
		fl.broken = 1;
		printf("the floor's child process stopped answering: no more floor trials\n");
		return NAN;
	}
	child_asleep();
	return t;
}

/* Tells the child to quit and reaps it; kills it after 2 s. */
void floor_close(void)
{
	if (!fl.pp)
		return;
	atomic_store_explicit(&fl.pp->word, FLOOR_REST, memory_order_release);
	atomic_store_explicit(&fl.pp->session, FLOOR_QUIT, memory_order_release);
	futex(&fl.pp->session, FUTEX_WAKE, 1, NULL);
	for (int i = 0; waitpid(fl.child, NULL, WNOHANG) == 0; i++) {
		if (i == 2000) {
			kill(fl.child, SIGKILL);
			waitpid(fl.child, NULL, 0);
			break;
		}
		sleep_ns(1e6);
	}
	munmap(fl.pp, 4096);
	fl.pp = NULL;
}

int floor_pid(void)
{
	return (int)fl.child;
}

/* The CPUs the calling thread could use the first time it asked: the mask
 * unpin_threads gives back (all CPUs, unless the benchmark was started
 * under taskset or in a cpuset). */
static const cpu_set_t *start_mask(void)
{
	static cpu_set_t mask;
	static int saved;

	if (!saved) {
		if (sched_getaffinity(0, sizeof mask, &mask) != 0) {
			CPU_ZERO(&mask);
			for (long c = 0; c < sysconf(_SC_NPROCESSORS_CONF) && c < CPU_SETSIZE; c++)
				CPU_SET((int)c, &mask);
		}
		saved = 1;
	}
	return &mask;
}

/* Sets the affinity of every thread of process pid to set. */
static int set_threads(int pid, const cpu_set_t *set)
{
	char dir[64];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%d/task", pid);
	if (!(d = opendir(dir)))
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			sched_setaffinity(atoi(e->d_name), sizeof *set, set);
	closedir(d);
	return 0;
}

int pin_threads(int pid, int cpu)
{
	cpu_set_t set;

	start_mask(); /* before the caller's own mask is narrowed */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return set_threads(pid, &set);
}

int unpin_threads(int pid)
{
	return set_threads(pid, start_mask());
}

int pin_self(int cpu, cpu_set_t *was)
{
	cpu_set_t one;

	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof *was, was) != 0)
		return -1;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof one, &one) == 0 ? 0 : -1;
}

void unpin_self(const cpu_set_t *was)
{
	sched_setaffinity(0, sizeof *was, was);
}

/* ---- the same-CPU futex round trip --------------------------------------- */

/*
 * One word, two threads: the caller stores an odd value and wakes the
 * partner, which answers with the next even value and wakes the caller;
 * each sleeps in FUTEX_WAIT while the word holds its own last value. Both
 * on one CPU, a round trip is two wake-ups and two context switches: what
 * any request/response between two threads sharing a CPU pays, and so
 * the reference for openveo's calls when the host thread and the worker
 * are pinned to one CPU. FUTEX_RT_QUIT (odd) tells the partner to exit.
 */
#define FUTEX_RT_QUIT UINT32_MAX

static struct {
	_Alignas(64) _Atomic uint32_t word;
	pthread_t partner;
	int open, broken;
} frt;

static void *futex_rt_partner(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t w = atomic_load_explicit(&frt.word, memory_order_acquire);

		if (w == FUTEX_RT_QUIT)
			return NULL;
		if (w & 1) {
			atomic_store_explicit(&frt.word, w + 1, memory_order_release);
			futex(&frt.word, FUTEX_WAKE_PRIVATE, 1, NULL);
			continue;
		}
		/* Even: our own answer, or the start value. The time-out only
		 * bounds a sleep should a wake-up ever be missed. */
		futex(&frt.word, FUTEX_WAIT_PRIVATE, w, &(struct timespec){ 1, 0 });
	}
}

int futex_rt_open(void)
{
	int e;

	if (frt.open)
		return 0;
	atomic_store(&frt.word, 0);
	if ((e = pthread_create(&frt.partner, NULL, futex_rt_partner, NULL)) != 0) {
		errno = e;
		return -1;
	}
	frt.open = 1;
	return 0;
}

/* m round trips: 0, or -1 when the partner did not answer within 2 s. */
static int futex_rt_ping(long m)
{
	uint32_t v = atomic_load_explicit(&frt.word, memory_order_acquire);
	double deadline = now_ns() + 2e9;

	for (long i = 0; i < m; i++) {
		uint32_t asked = v + 1, w;

		atomic_store_explicit(&frt.word, asked, memory_order_release);
		futex(&frt.word, FUTEX_WAKE_PRIVATE, 1, NULL);
		while ((w = atomic_load_explicit(&frt.word, memory_order_acquire)) == asked) {
			futex(&frt.word, FUTEX_WAIT_PRIVATE, asked, &(struct timespec){ 0, 100000000 });
			if (now_ns() > deadline)
				return -1;
		}
		v = w;
	}
	return 0;
}

double futex_rt_trial(int cpu, long m)
{
	cpu_set_t one, mine, theirs;
	double t0, t = NAN;
	int moved;

	if (!frt.open || frt.broken)
		return NAN;
	/* The word never reaches FUTEX_RT_QUIT: start again from 0 (the
	 * partner is asleep on an even value, or about to be). */
	if (atomic_load(&frt.word) > UINT32_MAX / 2)
		atomic_store(&frt.word, 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_getaffinity_np(frt.partner, sizeof theirs, &theirs);
	moved = pin_self(cpu, &mine) == 0;
	pthread_setaffinity_np(frt.partner, sizeof one, &one);
	if (futex_rt_ping(50) == 0) { /* warm-up: both on the CPU, caches warm */
		t0 = now_ns();
		if (futex_rt_ping(m) == 0)
			t = (now_ns() - t0) / m;
	}
	if (moved)
		unpin_self(&mine);
	pthread_setaffinity_np(frt.partner, sizeof theirs, &theirs);
	if (!isfinite(t)) {
		frt.broken = 1;
		printf("the futex round trip's partner thread stopped answering: no more trials\n");
	}
	return t;
}

void futex_rt_close(void)
{
	if (!frt.open)
		return;
	atomic_store_explicit(&frt.word, FUTEX_RT_QUIT, memory_order_release);
	futex(&frt.word, FUTEX_WAKE_PRIVATE, 1, NULL);
	pthread_join(frt.partner, NULL);
	frt.open = 0;
}

/* The median of 9 runs of compute(iters), in ns. */
static double compute_time(uint64_t (*compute)(uint64_t), uint64_t iters)
{
	double t[9];

	for (int k = 0; k < 9; k++) {
		double t0 = now_ns();
		volatile uint64_t x = compute(iters);

		(void)x;
		t[k] = now_ns() - t0;
	}
	return median(t, 9);
}

uint64_t compute_iters(uint64_t (*compute)(uint64_t), double target_ns, double *measured)
{
	uint64_t iters = 10000;

	for (int round = 0; round < 3; round++) {
		iters = (uint64_t)(iters * target_ns / compute_time(compute, iters));
		if (iters < 1)
			iters = 1;
	}
	if (measured)
		*measured = compute_time(compute, iters);
	return iters;
}
