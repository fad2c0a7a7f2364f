/*
 * average.c: the kernel of the average example. It runs in the worker (the
 * "vector engine"); build it as a shared library:
 *
 *     cc -O3 -fpic -shared -o libaverage.so average.c
 */

/* The mean of a[0..n); 0 for n <= 0. */
double average(double *a, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += a[i];
	return n > 0 ? sum / n : 0.0;
}
