/*
 * omp.c: OpenMP kernels (libompkernels.so, built with -fopenmp). The worker
 * gets OMP_NUM_THREADS from the host's VE_OMP_NUM_THREADS.
 */
#include <omp.h>
#include <stdint.h>

/* What the OpenMP runtime would use for the next parallel region. */
int omp_max_threads(void)
{
	return omp_get_max_threads();
}

/* Runs a parallel region; returns how many threads took part. */
int omp_team_size(void)
{
	int n = 0;
#pragma omp parallel
	{
#pragma omp atomic
		n++;
	}
	return n;
}

/* Sum of 0..n-1 computed by a parallel reduction. */
int64_t omp_sum_to(int64_t n)
{
	int64_t s = 0;
#pragma omp parallel for reduction(+ : s)
	for (int64_t i = 0; i < n; i++)
		s += i;
	return s;
}

/* A parallel region in which only thread 1 (not the thread that called the
 * kernel) writes through a null pointer. Returns the team size if no
 * thread crashed (a team of one). */
int omp_crash_in_thread(void)
{
	int n = 0;
#pragma omp parallel
	{
		if (omp_get_thread_num() == 1) {
			volatile int *p = 0;
			*p = 1;
		}
#pragma omp atomic
		n++;
	}
	return n;
}
