/*
 * floor.h: the clock, medians, and the round-trip floor (floor.c), shared
 * by veo_bench and veo_ab.
 */
#ifndef OPENVEO_BENCH_FLOOR_H
#define OPENVEO_BENCH_FLOOR_H

#include <stddef.h>

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

#endif
