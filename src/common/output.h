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
 * This is on the call path of both sides. __fpending reads two pointers
 * of the FILE without its lock; only when something is pending does
 * fflush, with the lock, write it out. A stream some other thread is
 * writing to just then may be seen as empty: its output is that thread's,
 * not ordered with the call.
 */
#ifndef OPENVEO_OUTPUT_H
#define OPENVEO_OUTPUT_H

#include <stdio.h>
#include <stdio_ext.h>

static inline void vp_output_flush(void)
{
	if (__builtin_expect(__fpending(stdout) != 0, 0))
		fflush(stdout);
	if (__builtin_expect(__fpending(stderr) != 0, 0))
		fflush(stderr);
}

#endif
