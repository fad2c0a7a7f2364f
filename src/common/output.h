/*
 * output.h: output that stdio still holds in a buffer, written out at the
 * points where the other process may print next. A kernel's printf goes
 * to the worker's stdout, a FILE of its own (fully buffered when stdout
 * is a file or a pipe) on the same open file as the host's stdout; what
 * one process keeps in its buffer is overtaken by what the other writes.
 * So the host writes its pending output before it submits a call or a
 * control request (what it printed before the call comes first), and the
 * worker writes the kernel's after the call, before answering (it comes
 * before what the host prints once the wait returns).
 *
 * This is on the call path of both sides, so the test is a few loads, no
 * call: glibc's FILE is public (its putc_unlocked reads the same fields),
 * and a narrow stream holds output when its put pointer is past the start
 * of its put area. A wide-oriented stream (wprintf), and other C
 * libraries, ask __fpending. Only when something is pending does fflush,
 * with the stream's lock, write it out. The test reads without the lock:
 * a stream another thread is writing to just then may look empty, and
 * that thread's output is not ordered with the call anyway.
 */
#ifndef OPENVEO_OUTPUT_H
#define OPENVEO_OUTPUT_H

#include <stdio.h>
#include <stdio_ext.h>

/* Whether f may hold output not yet written (no false "no"). */
static inline int vp_output_maybe_pending(FILE *f)
{
#ifdef __GLIBC__
	return f->_IO_write_ptr != f->_IO_write_base || f->_mode > 0;
#else
	return __fpending(f) != 0;
#endif
}

/* Out of line, so that the call path holds only the test. */
static __attribute__((noinline, cold, unused)) void vp_output_flush_pending(void)
{
	if (__fpending(stdout))
		fflush(stdout);
	if (__fpending(stderr))
		fflush(stderr);
}

static inline void vp_output_flush(void)
{
	if (__builtin_expect(vp_output_maybe_pending(stdout) |
	                     vp_output_maybe_pending(stderr), 0))
		vp_output_flush_pending();
}

#endif
