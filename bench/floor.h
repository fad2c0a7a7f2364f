/*
 * floor.h: the clock, medians, the round-trip floor, the same-CPU futex
 * round trip, pinning threads to CPUs and calibrating the compute kernel
 * (floor.c), shared by veo_bench, veo_ab and veo_medium.
 */
#ifndef OPENVEO_BENCH_FLOOR_H
#define OPENVEO_BENCH_FLOOR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* cpu_set_t */
#endif
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

double now_ns(void);              /* CLOCK_MONOTONIC */
void sleep_ns(double ns);
double median(double *v, size_t n); /* of v[0..n), which it sorts; NAN if n == 0 */

/* The floor's child process, forked once: 0, or -1 with errno. It sleeps
 * between trials and is reaped by floor_close. */
int floor_open(void);
/* ns per round trip over m round trips, after a rest for openveo's
 * spinning waiters to fall asleep (floor_quiet_ns); NAN once the child is
 * gone. */
double floor_trial(long m);
#define FLOOR_PAIRED 4000L /* round trips of a trial paired with a call trial */
/* The rest before a floor trial: long enough for openveo's spinning
 * waiters to fall asleep (twice VEO_SPIN_US and 100 us, at most 2 ms). */
double floor_quiet_ns(void);
void floor_close(void);
/* The child's process id (0 before floor_open), to place it on a CPU. */
int floor_pid(void);

/* Pins every thread of process pid to cpu (a thread gone meanwhile is
 * skipped): 0, or -1 if its threads cannot be listed. */
int pin_threads(int pid, int cpu);
/* Gives every thread of process pid back the CPUs this process's calling
 * thread could run on when pin_threads or unpin_threads was first called
 * (the mask it started with): 0, or -1 as pin_threads. */
int unpin_threads(int pid);
/* Moves the calling thread to cpu alone for a while, its mask kept in
 * *was for unpin_self: 0, or -1 (cpu out of range, or refused) with the
 * thread where it was. */
int pin_self(int cpu, cpu_set_t *was);
void unpin_self(const cpu_set_t *was);

/*
 * The same-CPU futex round trip: the least a request/response between two
 * threads that share one CPU can cost (each side wakes the other with
 * FUTEX_WAKE and sleeps in FUTEX_WAIT: two wake-ups and two context
 * switches). futex_rt_open starts the partner thread, asleep between
 * trials: 0, or -1 with errno. futex_rt_trial pins the calling thread and
 * the partner to cpu, times m round trips after a warm-up, gives both back
 * the CPUs they had, and returns ns per round trip (NAN if the partner
 * stopped answering). futex_rt_close stops and joins the partner.
 */
int futex_rt_open(void);
double futex_rt_trial(int cpu, long m);
#define FUTEX_RT_PAIRED 200L /* round trips of a trial paired with a call trial */
void futex_rt_close(void);
/* The CPU time a thread spends on one timed sleep of ns (a futex wait
 * with a deadline, the timer slack at 1 ns, as a predicted wait sleeps):
 * its timer and its wake-up, the least a wait that sleeps uses. The
 * median of n sleeps, in ns of the thread's CPU clock. */
double sleep_cpu_ns(double ns, int n);
/* Iterations of compute (bench/kernels.c's) that take about target_ns in
 * this process; *measured (if not NULL) is their median time then. */
uint64_t compute_iters(uint64_t (*compute)(uint64_t), double target_ns, double *measured);

#endif
