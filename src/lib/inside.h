/*
 * inside.h: how many threads are inside libveo on a handle, so that
 * veo_proc_destroy and veo_context_close unmap and free a proc's or a
 * context's memory only once every other thread working on it has left.
 *
 * Every API call that takes a proc or context handle counts itself in
 * the handle's count before checking the handle (INSIDE), and out when it
 * returns (a cleanup attribute, so no return path forgets); all but the
 * hot path's calls, veo_call_async and the waits for a result, which are
 * kept safe by the context's lock instead (request.h, "Late callers"):
 * a count cost them a fifth of their instructions. The count is
 * biased, like the context lock (lock.h): the first thread to use a handle
 * owns the count and counts with plain loads and stores on its own word,
 * no locked instruction and no fence; any other thread uses an atomic add
 * on a second word. A count lives as long as the pool slot of its handle
 * and is never reset: it is balanced whenever nobody is inside, and a
 * thread that reuses an exited owner's thread pointer owns it harmlessly.
 *
 * The closing thread first makes the handle invalid (its magic cleared),
 * then runs membarrier(), which orders every other
 * thread's counting store before its own look at the words: a thread that
 * counted itself before is seen and waited for, one that counts after
 * finds the handle invalid at its check and leaves. Where membarrier is
 * not available (or under ThreadSanitizer, which does not know it), no
 * thread owns a count: everyone takes the atomic add.
 */
#ifndef OPENVEO_INSIDE_H
#define OPENVEO_INSIDE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"

struct inside_count {
	_Atomic uintptr_t owner;        /* the owning thread (vlock_self), 0: none yet */
	_Atomic uint32_t owner_depth;   /* the owner's calls inside; written by it only */
	_Atomic uint32_t others;        /* everyone else's */
};

extern int inside_fenceless;   /* membarrier orders the owner's store */
void inside_init(void);        /* once, before the first count is used */

/* What a call undoes when it leaves (NULL: it counted nothing). */
struct inside_mark {
	struct inside_count *count;
	int owner;
};

static inline struct inside_mark inside_enter(struct inside_count *n)
{
	struct inside_mark m = { n, 0 };
	uintptr_t self = vlock_self(), owner;

	if (!n)
		return m;
	owner = atomic_load_explicit(&n->owner, memory_order_relaxed);
	/* The first thread owns the count, where membarrier can order its
	 * stores (else nobody does, and everyone takes the ordered path). */
	if (__builtin_expect(owner != self, 0) &&
	    !(owner == 0 && inside_fenceless &&
	      atomic_compare_exchange_strong(&n->owner, &owner, self))) {
		atomic_fetch_add_explicit(&n->others, 1, memory_order_seq_cst);
		return m;
	}
	m.owner = 1;
	atomic_store_explicit(&n->owner_depth,
	                      atomic_load_explicit(&n->owner_depth, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst); /* membarrier orders it */
	return m;
}

/* Release: what the call did with the handle happens before the closing
 * thread, which reads the words with acquire, frees its memory. */
static inline void inside_leave(struct inside_mark *m)
{
	struct inside_count *n = m->count;

	if (!n)
		return;
	if (m->owner)
		atomic_store_explicit(&n->owner_depth,
		                      atomic_load_explicit(&n->owner_depth, memory_order_relaxed) - 1,
		                      memory_order_release);
	else
		atomic_fetch_sub_explicit(&n->others, 1, memory_order_release);
}

/* Counts the calling scope in n (NULL: nothing). */
#define INSIDE(n) \
	struct inside_mark inside_mark_ __attribute__((cleanup(inside_leave))) = \
		inside_enter(n)

/* For the closing thread, once the handle is invalid for new calls: waits
 * until no thread but itself (mine: the calls it is inside n itself, 0 or
 * more) is counted in n. */
void inside_wait(struct inside_count *n, uint32_t mine);

#endif
