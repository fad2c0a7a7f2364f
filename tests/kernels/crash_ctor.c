/*
 * crash_ctor.c: a library whose constructor crashes (libcrashctor.so).
 * Loading it kills the worker in its control thread, not in a kernel: the
 * host must get an error from veo_load_library naming SIGSEGV, and survive.
 */
#include <stdint.h>

static volatile uintptr_t where = 16;

__attribute__((constructor)) static void crash_on_load(void)
{
	*(volatile int *)where = 1;
}

int never_called(void)
{
	return 0;
}
