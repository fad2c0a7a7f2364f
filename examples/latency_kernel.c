/*
 * latency_kernel.c: the kernel latency.c calls: it does nothing, so the
 * time of a call is the offloading overhead alone.
 */
#include <stdint.h>

uint64_t empty(void)
{
	return 0;
}
