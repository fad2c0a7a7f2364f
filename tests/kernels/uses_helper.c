/*
 * uses_helper.c: libuseshelper.so, a kernel that calls a function from
 * another library (libkhelper.so).
 */
#include <stdint.h>

int64_t helper_triple(int64_t x);

int64_t call_helper(int64_t x)
{
	return helper_triple(x) + 1;
}
