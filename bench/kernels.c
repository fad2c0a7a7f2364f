/*
 * kernels.c: the kernels the benchmarks offload. They are built into one
 * library (libbench_kernels.so) that veo_bench and py_bench load into the
 * worker, and that both also dlopen in-process as the reference.
 */
#include <stdint.h>
#include <time.h>

/* Does nothing: the time of a call is the offloading overhead alone. */
uint64_t empty(void)
{
	return 0;
}

/* The Python benchmark's kernel: an int in, an int out. */
int increment(int i)
{
	return i + 1;
}

/* Compute-bound work: `iters` rounds of dependent integer arithmetic
 * (about 1 ns each), so the kernel holds a core and nothing else. The
 * benchmark calibrates iters in-process to last the time it wants. */
uint64_t compute(uint64_t iters)
{
	uint64_t x = 88172645463325252ull;

	for (uint64_t i = 0; i < iters; i++) {
		x ^= x << 13; /* xorshift: the compiler cannot shorten the loop */
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

/* Sleeps for `us` microseconds without using the CPU: the kernel of the
 * idle-waiter measurement. */
uint64_t sleep_us(uint64_t us)
{
	struct timespec ts = { .tv_sec = (time_t)(us / 1000000),
	                       .tv_nsec = (long)(us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) != 0)
		;
	return us;
}
