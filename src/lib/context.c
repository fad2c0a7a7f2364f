/*
 * context.c: opening, closing and listing a proc's contexts, and context
 * attributes. A context is a slot of the proc (context.h): opening one
 * resets its rings and request table (request.c) and asks the worker, on
 * the control slot, to start a thread serving it; closing one queues a
 * close behind everything submitted and waits for it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "control.h"
#include "death.h"
#include "error.h"
#include "handle.h"
#include "inside.h"
#include "proc.h"
#include "request.h"
#include "wait.h"

static struct veo_thr_ctxt_attr *attr_check(struct veo_thr_ctxt_attr *a);

/* Opens the context of slot idx. Called with p->lock NOT held. */
static struct veo_thr_ctxt *open_slot(struct veo_proc_handle *p, unsigned idx,
                                      size_t stack_size)
{
	struct veo_thr_ctxt *c = &p->ctx_store[idx];
	struct vp_open_ctx rec = { .rec = { .len = sizeof rec, .op = VP_OP_OPEN_CTX },
	                           .slot = idx, .stack_size = stack_size };
	char msg[VP_MSG_MAX];
	uint64_t r;

	if (req_ctx_init(p, c, idx) != 0)
		return NULL;
	if (control_call(p, &rec.rec, sizeof rec, &r, msg, sizeof msg) != VP_ST_OK) {
		req_ctx_release(c);
		error_set("cannot open a context: %s", msg);
		return NULL;
	}
	/* Read by late callers of a closed context too (ctx_inside): atomic,
	 * and never cleared, not even when the proc is torn down. */
	__atomic_store_n(&c->inside, &ctx_counts[p - proc_pool][idx], __ATOMIC_RELAXED);
	req_ctx_live(c);
	__atomic_store_n(&c->self, c, __ATOMIC_RELAXED);
	__atomic_store_n(&c->magic, CTX_MAGIC, __ATOMIC_RELEASE);
	return c;
}

static unsigned free_slot(struct veo_proc_handle *p)
{
	for (unsigned i = VP_SLOT_SYNC + 1; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = proc_slot(p, i);

		/* A slot whose old thread has not finished yet is not reused. */
		if (!p->ctx_store[i].in_use && atomic_load(&s->state) != VP_SLOT_RUNNING)
			return i;
	}
	return 0;
}

struct veo_thr_ctxt *veo_context_open_with_attr(struct veo_proc_handle *p,
                                                struct veo_thr_ctxt_attr *attr)
{
	struct veo_thr_ctxt *c;
	size_t stack = 0;
	unsigned idx;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return NULL;
	if (attr) {
		if (!attr_check(attr))
			return NULL;
		stack = attr->stack_size;
	}
	if (death_check(p, 1)) {
		error_set("veo_context_open: %s", death_msg(p));
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	idx = free_slot(p);
	if (idx)
		p->ctx_store[idx].in_use = 1;
	pthread_mutex_unlock(&p->lock);
	if (!idx) {
		error_set("too many contexts (at most %d per proc)", VP_MAX_SLOTS - 2);
		return NULL;
	}
	c = open_slot(p, idx, stack);
	if (!c) {
		pthread_mutex_lock(&p->lock);
		p->ctx_store[idx].in_use = 0;
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	p->order[p->nctx_open++] = c;
	pthread_mutex_unlock(&p->lock);
	return c;
}

struct veo_thr_ctxt *veo_context_open(struct veo_proc_handle *p)
{
	return veo_context_open_with_attr(p, NULL);
}

struct veo_thr_ctxt *ctx_sync_context(struct veo_proc_handle *p)
{
	struct veo_thr_ctxt *c = &p->ctx_store[VP_SLOT_SYNC];
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;

	/* Open already (every veo_call_sync after the first): no lock. The
	 * acquire pairs with the release store of magic in open_slot. */
	if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) == CTX_MAGIC)
		return c;
	pthread_mutex_lock(&once);
	if (__atomic_load_n(&c->magic, __ATOMIC_RELAXED) != CTX_MAGIC)
		c = open_slot(p, VP_SLOT_SYNC, 0);
	pthread_mutex_unlock(&once);
	return c;
}

/* Other threads may be inside the context while it closes: the handle goes
 * invalid first (new calls fail at their check); the close runs after what
 * was queued, and then whatever is still pending (submitted after it)
 * fails with "its context was closed"; the tables are freed only once
 * every other thread inside has left (inside.h). */
int veo_context_close(struct veo_thr_ctxt *c)
{
	struct veo_proc_handle *p;
	struct vp_rec rec = { .len = sizeof rec, .op = VP_OP_CLOSE };
	uint32_t live = CTX_MAGIC, inherited = CTX_INHERITED;

	INSIDE(ctx_inside(c));
	if (ctx_inside(c) && __atomic_compare_exchange_n(&c->magic, &inherited, 0, 0,
	                                                 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		/* A forked child closes its copy: the parent's worker goes on. */
		req_ctx_forget(c);
		c->in_use = 0;
		return 0;
	}
	if (!ctx_check(c))
		return -1;
	/* One thread closes; another racing it finds a bad handle. */
	if (!__atomic_compare_exchange_n(&c->magic, &live, 0, 0, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_SEQ_CST)) {
		ctx_check_fail(c);
		return -1;
	}
	p = c->proc;
	if (!death_check(p, 0)) {
		/* Runs after everything queued; if the worker dies meanwhile the
		 * context is closed all the same. */
		uint64_t id = req_submit(c, REQ_CLOSE, NULL, &rec, sizeof rec), r;

		if (id != VEO_REQUEST_ID_INVALID)
			req_wait(c, id, &r, -1, 0);
	}
	/* The worker's thread is gone: nothing more is answered. */
	atomic_store(&c->closed, 1);
	vp_futex_wake_all(&c->slot->sq.head);
	vp_futex_wake_all(&c->block_gen);
	req_ctx_retire(c, "the context was closed (veo_context_close)");
	inside_wait(ctx_inside(c), 1); /* but for this call itself */
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->nctx_open; i++) {
		if (p->order[i] == c) {
			memmove(&p->order[i], &p->order[i + 1],
			        (size_t)(p->nctx_open - i - 1) * sizeof c);
			p->nctx_open--;
			break;
		}
	}
	req_ctx_release(c);
	c->in_use = 0;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int veo_num_contexts(struct veo_proc_handle *p)
{
	int n;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	pthread_mutex_lock(&p->lock);
	n = p->nctx_open;
	pthread_mutex_unlock(&p->lock);
	return n;
}

struct veo_thr_ctxt *veo_get_context(struct veo_proc_handle *p, int idx)
{
	struct veo_thr_ctxt *c = NULL;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (idx >= 0 && idx < p->nctx_open)
		c = p->order[idx];
	pthread_mutex_unlock(&p->lock);
	if (!c)
		error_set("veo_get_context: no context number %d", idx);
	return c;
}

int veo_get_context_state(struct veo_thr_ctxt *c)
{
	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return VEO_STATE_UNKNOWN;
	return death_check(c->proc, 1) ? VEO_STATE_EXIT : VEO_STATE_RUNNING;
}

/* A live attribute handle (see handle_live in handle.h), or NULL with a
 * message. */
static struct veo_thr_ctxt_attr *attr_check(struct veo_thr_ctxt_attr *a)
{
	if (!handle_live(a) || a->magic != ATTR_MAGIC) {
		error_set("bad context attribute handle %p (NULL, freed or not from "
		         "veo_alloc_thr_ctxt_attr)", (void *)a);
		return NULL;
	}
	return a;
}

struct veo_thr_ctxt_attr *veo_alloc_thr_ctxt_attr(void)
{
	struct veo_thr_ctxt_attr *a = calloc(1, sizeof *a);

	if (!a || handle_register(a) != 0) {
		free(a);
		error_set("out of memory");
		return NULL;
	}
	a->magic = ATTR_MAGIC;
	return a;
}

int veo_free_thr_ctxt_attr(struct veo_thr_ctxt_attr *a)
{
	if (!attr_check(a) || handle_unregister(a) != 0)
		return -1;
	a->magic = 0;
	free(a);
	return 0;
}

int veo_set_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *a, size_t size)
{
	if (!attr_check(a))
		return -1;
	if (size > (1ull << 36))
		return error_set("stack size %zu is too large", size);
	a->stack_size = size;
	return 0;
}

int veo_get_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *a, size_t *size)
{
	if (!attr_check(a))
		return -1;
	if (!size)
		return error_set("veo_get_thr_ctxt_stacksize: NULL result pointer");
	*size = a->stack_size;
	return 0;
}
