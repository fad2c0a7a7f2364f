/*
 * inside.h: which threads are inside libveo, and for which handle, so that
 * veo_proc_destroy and veo_context_close free a proc's or a context's
 * memory only once every other thread working on it has left.
 *
 * Every API call that takes a proc or context handle marks it in the
 * calling thread's record before checking the handle (INSIDE_PROC,
 * INSIDE_CTX), and unmarks it when it returns (a cleanup attribute, so no
 * return path forgets). That is two stores to the thread's own cache line
 * and no fence: the closing thread first makes the handle invalid (its
 * magic cleared), then runs membarrier(), which orders every other
 * thread's marking store before its own look at the records: a thread
 * that marked before is seen and waited for, one that marks after finds
 * the handle invalid at its check and leaves (the asymmetric Dekker the
 * context lock uses too, lock.h). Where membarrier is not available (or
 * under ThreadSanitizer, which does not know it) the marking store is
 * followed by a full fence instead.
 */
#ifndef OPENVEO_INSIDE_H
#define OPENVEO_INSIDE_H

#include <stdatomic.h>

struct veo_proc_handle;
struct veo_thr_ctxt;

/* A thread's record: the handle it is inside (a proc or a context), or
 * NULL. Records live for the process; a thread's is reused by a later
 * thread once it has ended. */
struct inside_rec {
	_Atomic(const void *) handle;
	_Atomic int free;              /* its thread has ended */
	struct inside_rec *next;       /* the list of all records */
};

extern _Thread_local struct inside_rec *inside_mine;
extern int inside_fenceless;     /* membarrier is there: no fence on entry */
struct inside_rec *inside_register(void);

/* What a call saves to restore when it leaves (calls nest: veo_call_sync
 * calls veo_call_async). */
struct inside_mark {
	struct inside_rec *rec;
	const void *prev;
};

static inline struct inside_mark inside_enter(const void *handle)
{
	struct inside_rec *r = inside_mine ? inside_mine : inside_register();
	struct inside_mark m = { r, NULL };

	if (r) {
		m.prev = atomic_load_explicit(&r->handle, memory_order_relaxed);
		atomic_store_explicit(&r->handle, handle, memory_order_relaxed);
		if (inside_fenceless)
			atomic_signal_fence(memory_order_seq_cst); /* membarrier orders it */
		else
			atomic_thread_fence(memory_order_seq_cst);
	}
	return m;
}

/* Release: what the call did with the handle happens before the closing
 * thread, which reads the record with acquire, frees it. */
static inline void inside_leave(struct inside_mark *m)
{
	if (m->rec)
		atomic_store_explicit(&m->rec->handle, m->prev, memory_order_release);
}

/* Marks the handle for the rest of the calling scope. */
#define INSIDE(h) \
	struct inside_mark inside_mark_ __attribute__((cleanup(inside_leave))) = \
		inside_enter(h)

/* For the closing thread, once the handle is invalid for new calls: waits
 * until no other thread is inside the proc (itself or any of its
 * contexts), or inside the context. */
void inside_wait_proc(const struct veo_proc_handle *p);
void inside_wait_ctx(const struct veo_thr_ctxt *c);

#endif
