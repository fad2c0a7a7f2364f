/*
 * floor.h: the clock, medians, and the round-trip floor (floor.c), shared
 * by veo_bench and veo_ab.
 */
#ifndef OPENVEO_BENCH_FLOOR_H
#define OPENVEO_BENCH_FLOOR_H

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
double floor_quiet_ns(void);
void floor_close(void);
/* The child's process id (0 before floor_open), to place it on a CPU. */
int floor_pid(void);

/* Pins every thread of process pid to cpu (a thread gone meanwhile is
 * skipped): 0, or -1 if its threads cannot be listed. */
int pin_threads(int pid, int cpu);
/* Iterations of compute (bench/kernels.c's) that take about target_ns in
 * this process; *measured (if not NULL) is their median time then. */
uint64_t compute_iters(uint64_t (*compute)(uint64_t), double target_ns, double *measured);

#endif
