/*
 * handle.h: the registry of live malloc'ed handles (veo_args and context
 * attributes), so that a freed or made-up one is recognised without being
 * read. Procs and contexts are slots of a static pool instead (proc.h).
 */
#ifndef OPENVEO_HANDLE_H
#define OPENVEO_HANDLE_H

#include <stdatomic.h>
#include <stdint.h>

/* Register on allocation, unregister (0, or -1 if not registered) before
 * freeing; handle_live tells whether p may be dereferenced. It is on every
 * call's path, so its common case is inline: the handle this thread found
 * live last, while no handle has been unregistered since (handle_frees
 * counts unregistrations). */
struct handle_memo {
	const void *live;        /* the handle this thread found live last */
	uint64_t frees;          /* handle_frees then */
};
extern _Thread_local struct handle_memo handle_memo;
extern _Atomic uint64_t handle_frees;
int handle_register(const void *p);
int handle_unregister(const void *p);
int handle_live_lookup(const void *p);
static inline int handle_live(const void *p)
{
	const struct handle_memo *m = &handle_memo;

	if (p && p == m->live &&
	    atomic_load_explicit(&handle_frees, memory_order_relaxed) == m->frees)
		return 1;
	return handle_live_lookup(p);
}

#endif
