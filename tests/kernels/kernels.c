/*
 * kernels.c: the kernels most C tests call (libtestkernels.so).
 *
 * Each kernel is ordinary C built for the host; the worker (veorun) loads
 * this library and calls the kernels through libffi. They exercise argument
 * passing (every integer width, floats, stack arguments, 256 arguments),
 * result types, memory shared with the host, library globals and timing.
 * Constants and checksum formulas shared with the tests are in testkernels.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, nanosleep, mmap with -std=c11 */
#endif
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testkernels.h"

/* ---- globals the host reads and writes (veo_get_sym + veo_read_mem) ---- */
int counter = TK_COUNTER_INIT;
double table[TK_TABLE_LEN] = { 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5,
                               4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5 };
int64_t int_widths_seen[8];
double mixed_seen[TK_MIXED_NARGS];
uint64_t args256_seen[256];
int void_calls;
int tag_log[TK_TAG_LOG_LEN];
int tag_log_len;

/* ---- the simplest call ---- */
uint64_t empty(void)
{
	return TK_EMPTY_RESULT;
}

/* ---- integer widths: each echo widens its argument to 64 bits ---- */
int64_t echo_i8(int8_t x) { return x; }
uint64_t echo_u8(uint8_t x) { return x; }
int64_t echo_i16(int16_t x) { return x; }
uint64_t echo_u16(uint16_t x) { return x; }
int64_t echo_i32(int32_t x) { return x; }
uint64_t echo_u32(uint32_t x) { return x; }
int64_t echo_i64(int64_t x) { return x; }
uint64_t echo_u64(uint64_t x) { return x; }
double echo_double(double x) { return x; }
float echo_float(float x) { return x; }

/* All widths in one call; stores what arrived and returns a checksum. */
uint64_t int_widths(int8_t a, uint8_t b, int16_t c, uint16_t d,
                    int32_t e, uint32_t f, int64_t g, uint64_t h)
{
	int_widths_seen[0] = a;
	int_widths_seen[1] = b;
	int_widths_seen[2] = c;
	int_widths_seen[3] = d;
	int_widths_seen[4] = e;
	int_widths_seen[5] = f;
	int_widths_seen[6] = g;
	int_widths_seen[7] = (int64_t)h;
	return tk_widths_checksum(a, b, c, d, e, f, g, h);
}

/* Twelve floating-point and eight integer arguments, interleaved: on
 * x86-64 the floating ones after the eighth and the integer ones after the
 * sixth go on the stack. */
double mixed_args(int32_t i0, double d0, float f0, int64_t i1, double d1,
                  int8_t i2, float f1, double d2, uint16_t i3, double d3,
                  float f2, int64_t i4, double d4, double d5, uint32_t i5,
                  float f3, int64_t i6, double d6, int16_t i7, double d7)
{
	double v[TK_MIXED_NARGS] = { i0, d0, f0, (double)i1, d1, i2, f1, d2, i3, d3,
	                             f2, (double)i4, d4, d5, i5, f3, (double)i6, d6,
	                             i7, d7 };
	memcpy(mixed_seen, v, sizeof v);
	return tk_mixed_sum(mixed_seen);
}

/* Unset arguments below the highest set one arrive as 0. */
uint64_t three_args(uint64_t a, uint64_t b, uint64_t c)
{
	return a * 1000000 + b * 1000 + c;
}

/* ---- 256 arguments; the type of argument i is tk_args256_type(i) ---- */
#define T0 int64_t
#define T1 double
#define T2 int64_t
#define T3 float
#define T4 int64_t
#define T5 double
#define T6 int32_t
#define T7 uint8_t
#define T8 int64_t
#define T9 double
#define Ta int64_t
#define Tb float
#define Tc int64_t
#define Td double
#define Te int32_t
#define Tf int64_t

static uint64_t bits_i(int64_t v) { return (uint64_t)v; }
static uint64_t bits_d(double v) { return tk_double_bits(v); }
static uint64_t bits_f(float v) { return tk_float_bits(v); }
#define B0 bits_i
#define B1 bits_d
#define B2 bits_i
#define B3 bits_f
#define B4 bits_i
#define B5 bits_d
#define B6 bits_i
#define B7 bits_i
#define B8 bits_i
#define B9 bits_d
#define Ba bits_i
#define Bb bits_f
#define Bc bits_i
#define Bd bits_d
#define Be bits_i
#define Bf bits_i

#define P(h, l) T##l a##h##l
#define P16(h) P(h,0), P(h,1), P(h,2), P(h,3), P(h,4), P(h,5), P(h,6), P(h,7), \
               P(h,8), P(h,9), P(h,a), P(h,b), P(h,c), P(h,d), P(h,e), P(h,f)
#define S(h, l) args256_seen[0x##h##l] = B##l(a##h##l);
#define S16(h) S(h,0) S(h,1) S(h,2) S(h,3) S(h,4) S(h,5) S(h,6) S(h,7) \
               S(h,8) S(h,9) S(h,a) S(h,b) S(h,c) S(h,d) S(h,e) S(h,f)

uint64_t args256(P16(0), P16(1), P16(2), P16(3), P16(4), P16(5), P16(6), P16(7),
                 P16(8), P16(9), P16(a), P16(b), P16(c), P16(d), P16(e), P16(f))
{
	S16(0) S16(1) S16(2) S16(3) S16(4) S16(5) S16(6) S16(7)
	S16(8) S16(9) S16(a) S16(b) S16(c) S16(d) S16(e) S16(f)
	return tk_args256_sum(args256_seen);
}

/* ---- result types ---- */
float ret_float(void) { return TK_RET_FLOAT; }
double ret_double(void) { return TK_RET_DOUBLE; }
int8_t ret_i8(void) { return TK_RET_I8; }
uint8_t ret_u8(void) { return TK_RET_U8; }
int16_t ret_i16(void) { return TK_RET_I16; }
uint16_t ret_u16(void) { return TK_RET_U16; }
int32_t ret_i32(void) { return TK_RET_I32; }
uint32_t ret_u32(void) { return TK_RET_U32; }
int64_t ret_i64(void) { return TK_RET_I64; }
void ret_void(void) { void_calls++; }
float half_float(float x) { return x / 2; }
double twice_double(double x) { return x * 2; }

/* Uses libm, a library the kernel library depends on. */
double k_cbrt(double x) { return cbrt(x); }

/* ---- pointers: stack arguments and VE memory ---- */
double average(double *a, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += a[i];
	return n > 0 ? s / n : 0.0;
}

int64_t sum_i64(const int64_t *a, int n)
{
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		s += a[i];
	return s;
}

/* OUT: writes out[i] = start + i. Returns n. */
int fill_i32(int32_t *out, int n, int32_t start)
{
	for (int i = 0; i < n; i++)
		out[i] = start + i;
	return n;
}

/* INOUT: a[i] *= f. */
void scale_f64(double *a, int n, double f)
{
	for (int i = 0; i < n; i++)
		a[i] *= f;
}

/* Byte sum of p[0..n): large IN buffers and memory a kernel allocated. */
uint64_t sum_bytes(const uint8_t *p, uint64_t n)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

/* Adds 1 to every byte; returns the new byte sum. */
uint64_t inc_bytes(uint8_t *p, uint64_t n)
{
	uint64_t s = 0;
	for (uint64_t i = 0; i < n; i++) {
		p[i]++;
		s += p[i];
	}
	return s;
}

/* Adds 1 to every element of a u64 array (async memory ordering tests). */
uint64_t inc_u64_array(uint64_t *a, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		a[i]++;
	return n;
}

/* Writes the pair (a, b) through a pointer. */
void store_pair(int64_t *out, int64_t a, int64_t b)
{
	out[0] = a;
	out[1] = b;
}

/* Memory a kernel owns: filled with tk_malloc_pattern(). */
uint64_t k_malloc(uint64_t n)
{
	uint8_t *p = malloc(n);
	if (!p)
		return 0;
	for (uint64_t i = 0; i < n; i++)
		p[i] = tk_malloc_pattern(i);
	return (uint64_t)(uintptr_t)p;
}

void k_free(void *p)
{
	free(p);
}

/* ---- the library globals ---- */
int get_counter(void) { return counter; }
int inc_counter(void) { return ++counter; }
double table_sum(void)
{
	double s = 0;
	for (int i = 0; i < TK_TABLE_LEN; i++)
		s += table[i];
	return s;
}

/* Appends tag to tag_log; returns its index. Requests of one context run
 * one at a time, so no lock is needed for calls from one context. */
int append_tag(int tag)
{
	if (tag_log_len >= TK_TAG_LOG_LEN)
		return -1;
	tag_log[tag_log_len] = tag;
	return tag_log_len++;
}

/* ---- time: CLOCK_MONOTONIC is system-wide, so host and worker agree ---- */
static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ns(void)
{
	return mono_ns();
}

/* Sleeps us microseconds; returns us. */
uint64_t sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return us;
}

/* Sleeps us microseconds; returns the time it finished. */
uint64_t sleep_then_now_ns(uint64_t us)
{
	sleep_us(us);
	return mono_ns();
}

/* Busy-waits us microseconds; returns the number of loop iterations. */
uint64_t spin_us(uint64_t us)
{
	uint64_t end = mono_ns() + us * 1000, n = 0;
	while (mono_ns() < end)
		n++;
	return n;
}

/* Uses `bytes` of stack (for a context opened with a larger stack size):
 * writes (uint8_t)(i / 4096) at each page offset i and returns their sum. */
uint64_t use_stack(uint64_t bytes)
{
	volatile uint8_t buf[bytes];
	uint64_t s = 0;
	for (uint64_t i = 0; i < bytes; i += 4096)
		buf[i] = (uint8_t)(i / 4096);
	for (uint64_t i = 0; i < bytes; i += 4096)
		s += buf[i];
	return s;
}

/* Copies the worker's value of environment variable `name` into out
 * (NUL-terminated, at most len bytes); returns its length, -1 if unset. */
int64_t env_copy(const char *name, char *out, int64_t len)
{
	const char *v = getenv(name);
	if (!v)
		return -1;
	size_t n = strlen(v);
	if (len > 0) {
		size_t c = n < (size_t)len - 1 ? n : (size_t)len - 1;
		memcpy(out, v, c);
		out[c] = '\0';
	}
	return (int64_t)n;
}

/* A mix for the multi-threaded submission test. */
uint64_t mix_u64(uint64_t a, uint64_t b)
{
	return a * 1000003u + b;
}

/* Never returns: a kernel that hangs, busy (destroying its proc must not
 * wait for it). */
uint64_t spin_forever(void)
{
	volatile uint64_t n = 0;
	for (;;)
		n++;
	return n;
}

/* Counts itself in *started (so the host can see it is running), then
 * waits until the host sets *flag (veo_write_mem) and returns its value.
 * Lets a test hold a context at a known point without sleeping. */
uint64_t wait_flag(const volatile uint64_t *flag, uint64_t *started)
{
	struct timespec ts = { 0, 100000 };
	__atomic_fetch_add(started, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == 0)
		nanosleep(&ts, NULL);
	return *flag;
}

/* What daemonising code does: close descriptors lo..hi (a kernel has no
 * business with the VE process's own), then keep running for ms
 * milliseconds, while the worker's watchdog looks at its descriptors.
 * Returns how many were open. */
int close_fds(int lo, int hi, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	int closed = 0;

	for (int fd = lo; fd <= hi; fd++)
		closed += close(fd) == 0;
	nanosleep(&ts, NULL);
	return closed;
}
