/*
 * omp_kernels.c: the OpenMP kernels of veo_omp (libbench_omp.so), built
 * with -fopenmp as a VE user's Makefile builds them. veo_omp loads the
 * library into the worker and dlopens it in-process as the reference, so
 * both sides run the same machine code with the same libgomp.
 *
 * `threads` arguments: the team size of the parallel region, or 0 for the
 * runtime's default (OMP_NUM_THREADS, else every CPU the process may use).
 */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static int team(int64_t threads)
{
	return threads > 0 ? (int)threads : omp_get_max_threads();
}

/* The size of the team a parallel region gets with `threads`. */
int64_t omp_team(int64_t threads)
{
	int64_t n = 0;

#pragma omp parallel num_threads(team(threads))
	{
#pragma omp single
		n = omp_get_num_threads();
	}
	return n;
}

/* Memory-bound: a[i] = b[i] + 3 c[i] over n doubles (STREAM's triad),
 * statically split over the team. Returns n. */
uint64_t omp_triad(double *a, const double *b, const double *c, uint64_t n, int64_t threads)
{
#pragma omp parallel for schedule(static) num_threads(team(threads))
	for (uint64_t i = 0; i < n; i++)
		a[i] = b[i] + 3.0 * c[i];
	return n;
}

/* Fills p[0..n) with the value v, with the same static split as omp_triad
 * (first touch by the thread that later works on the page). */
uint64_t omp_fill(double *p, uint64_t n, uint64_t v, int64_t threads)
{
#pragma omp parallel for schedule(static) num_threads(team(threads))
	for (uint64_t i = 0; i < n; i++)
		p[i] = (double)v;
	return n;
}

/* Compute-bound: `iters` rounds of xorshift in all, split over the team
 * (each thread a dependent chain of iters / team rounds of about 1 ns), so
 * a team of two halves the time and the memory is never touched. */
uint64_t omp_compute(uint64_t iters, int64_t threads)
{
	uint64_t acc = 0;

#pragma omp parallel num_threads(team(threads)) reduction(^ : acc)
	{
		int nt = omp_get_num_threads(), id = omp_get_thread_num();
		uint64_t x = 88172645463325252ull + (uint64_t)id;
		uint64_t mine = iters / (uint64_t)nt + ((uint64_t)id < iters % (uint64_t)nt);

		for (uint64_t i = 0; i < mine; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		acc = x;
	}
	return acc;
}

/* ---- VE heap against malloc, inside the worker (veo_omp -H) ---- */

static double *own[3]; /* three arrays this library malloc'ed */

/* Mallocs three arrays of n doubles and fills them; returns the address of
 * the first (the others follow in own_array), or 0 if malloc failed. */
uint64_t own_arrays(uint64_t n)
{
	for (int i = 0; i < 3; i++) {
		own[i] = malloc(n * sizeof(double));
		if (!own[i])
			return 0;
		for (uint64_t j = 0; j < n; j++)
			own[i][j] = 1.0 + i;
	}
	return (uint64_t)(uintptr_t)own[0];
}

/* Address of own array i (0, 1, 2). */
uint64_t own_array(int64_t i)
{
	return (uint64_t)(uintptr_t)own[i];
}

void own_free(void)
{
	for (int i = 0; i < 3; i++)
		free(own[i]), own[i] = NULL;
}

/* Nanoseconds of one single-threaded triad over n doubles, timed here in
 * the VE process: no call overhead in the figure. */
uint64_t triad_ns(double *a, const double *b, const double *c, uint64_t n)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < n; i++)
		a[i] = b[i] + 3.0 * c[i];
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec));
}
