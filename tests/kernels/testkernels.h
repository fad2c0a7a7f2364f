/*
 * testkernels.h: what the test kernels and the tests that call them agree
 * on: the constants a kernel returns and the checksum formulas a kernel and
 * the host compute independently. Included by the kernels in tests/kernels
 * and the programs in tests/c; it must not depend on ve_offload.h.
 */
#ifndef OPENVEO_TESTKERNELS_H
#define OPENVEO_TESTKERNELS_H

#include <stdint.h>
#include <string.h>

/* Library file names, relative to $OPENVEO_TEST_KERNELS. */
#define TK_LIB_MAIN    "libtestkernels.so"
#define TK_LIB_CRASH   "libcrashkernels.so"
#define TK_LIB_OMP     "libompkernels.so"
#define TK_LIB_CXX     "libcxxkernels.so"
#define TK_LIB_FORTRAN "libfortrankernels.so"
#define TK_LIB_USESLIB "libuseshelper.so"
#define TK_LIB_CRASHCTOR "libcrashctor.so"
#define TK_LIB_HMEM     "libhmemkernels.so"
#define TK_LIB_RUNTIME  "libruntimekernels.so"
#define TK_LIB_GLOBAL_A "libglobala.so"
#define TK_LIB_GLOBAL_B "libglobalb.so"
#define TK_LIB_OUTPUT  "liboutputkernels.so"

/* What empty() returns. */
#define TK_EMPTY_RESULT 42u

/* Constants returned by the ret_* kernels. */
#define TK_RET_FLOAT   1.5f
#define TK_RET_DOUBLE  (-2.75)
#define TK_RET_I8      ((int8_t)-3)
#define TK_RET_U8      ((uint8_t)200)
#define TK_RET_I16     ((int16_t)-300)
#define TK_RET_U16     ((uint16_t)0xBEEF)
#define TK_RET_I32     ((int32_t)-123456)
#define TK_RET_U32     ((uint32_t)0xFFFFFFF0u)
#define TK_RET_I64     ((int64_t)-5)

/* Initial values of the library globals `counter` and `table`. */
#define TK_COUNTER_INIT 42
#define TK_TABLE_LEN    16
static inline double tk_table_init(int i) { return 0.5 * i; }

/* Capacity of the `tag_log` array written by append_tag(). */
#define TK_TAG_LOG_LEN 4096

/* Pattern of the buffers k_malloc() fills. */
static inline uint8_t tk_malloc_pattern(uint64_t i) { return (uint8_t)(i * 7 + 3); }

/* int_widths(): the checksum of its eight arguments. Each value is mixed in
 * after conversion to 64 bits, so a sign or zero extension gone wrong
 * changes the result. */
static inline uint64_t tk_widths_checksum(int8_t a, uint8_t b, int16_t c, uint16_t d,
                                          int32_t e, uint32_t f, int64_t g, uint64_t h)
{
	uint64_t v[8] = { (uint64_t)(int64_t)a, (uint64_t)b, (uint64_t)(int64_t)c,
	                  (uint64_t)d, (uint64_t)(int64_t)e, (uint64_t)f,
	                  (uint64_t)g, h };
	uint64_t s = 0;
	for (int i = 0; i < 8; i++)
		s = s * 1000003u + v[i];
	return s;
}

/* args256(): argument i has type tk_args256_type(i); the kernel stores the
 * 64-bit pattern of each argument in args256_seen[i] (a double's bits, a
 * float's bits in the low 32 bits, an integer sign-extended) and returns
 * tk_args256_sum(args256_seen). */
enum tk_argtype { TK_T_I64, TK_T_DOUBLE, TK_T_FLOAT, TK_T_I32, TK_T_U8 };
static inline enum tk_argtype tk_args256_type(int i)
{
	switch (i & 0xf) {
	case 0x1: case 0x5: case 0x9: case 0xd: return TK_T_DOUBLE;
	case 0x3: case 0xb: return TK_T_FLOAT;
	case 0x6: case 0xe: return TK_T_I32;
	case 0x7: return TK_T_U8;
	default: return TK_T_I64;
	}
}
static inline uint64_t tk_args256_sum(const uint64_t *seen)
{
	uint64_t s = 0;
	for (int i = 0; i < 256; i++)
		s = s * 31u + seen[i];
	return s;
}

/* mixed_args(): the kernel converts each of its 20 arguments to double, in
 * parameter order, stores them in mixed_seen[] and returns
 * tk_mixed_sum(mixed_seen). Test values are small, so the sum is exact. */
#define TK_MIXED_NARGS 20
static inline double tk_mixed_sum(const double *v)
{
	double s = 0;
	for (int i = 0; i < TK_MIXED_NARGS; i++)
		s += v[i] * (i + 1);
	return s;
}

static inline uint64_t tk_double_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static inline uint32_t tk_float_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

#endif
