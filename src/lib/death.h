/*
 * death.h: noticing that a proc's worker is gone, and saying why. The
 * worker may crash (it writes a crash record first, faults.c), be killed,
 * or exit; the first host thread to notice fills p->death once and every
 * call after fails with its first line.
 */
#ifndef OPENVEO_DEATH_H
#define OPENVEO_DEATH_H

#include <stdatomic.h>

#include "proc.h"

/* Checks whether the worker still lives; marks the proc dead if not.
 * `thorough` also asks the kernel (a system call). Returns 1 if dead. */
int death_check(struct veo_proc_handle *p, int thorough);
/* death_check, thorough when the last system call is older than
 * DEATH_RECHECK_NS: what every call that must not act on a dead worker
 * uses, so that a worker killed from outside is noticed within that. */
#define DEATH_RECHECK_NS 20000000ull
int death_recheck(struct veo_proc_handle *p);
/* death_check(p, 0) without a call while the worker is fine: for the
 * submission and wait paths. */
static inline int death_now(struct veo_proc_handle *p)
{
	if (!atomic_load_explicit(&p->dead, memory_order_acquire) &&
	    atomic_load_explicit(&p->hdr->worker_state, memory_order_relaxed) < VP_WORKER_CRASHED)
		return 0;
	return death_check(p, 0);
}
/* veo_proc_destroy: the proc ends for every thread still inside it, as if
 * its worker had died ("the proc was destroyed"), and each is woken. */
void death_destroyed(struct veo_proc_handle *p);
/* Why the proc died, in one line (for calls made after the death). */
const char *death_msg(struct veo_proc_handle *p);
/* The whole report: the line above, then the backtrace of a crash (for
 * the request that was running). */
const char *death_report(struct veo_proc_handle *p);

#endif
