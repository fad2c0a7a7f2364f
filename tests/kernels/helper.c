/*
 * helper.c: libkhelper.so, an ordinary shared library that a kernel library
 * (uses_helper.c) links against: the worker's loader must find it.
 */
#include <stdint.h>

int64_t helper_triple(int64_t x)
{
	return 3 * x;
}
