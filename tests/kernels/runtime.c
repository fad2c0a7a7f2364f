/*
 * runtime.c: a kernel library built as a real CFD code's generated kernels
 * are: `cc -shared -fopenmp` and no -lm (libruntimekernels.so). It calls
 * sqrt and an OpenMP loop; on the VE the math library and the OpenMP
 * runtime are in every process, so it loads there, and must load here.
 */
#include <math.h>
#include <stdint.h>

double norm2(const double *v, int n)
{
	double s = 0;

#pragma omp parallel for reduction(+ : s)
	for (int i = 0; i < n; i++)
		s += v[i] * v[i];
	return sqrt(s);
}
