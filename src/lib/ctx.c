/*
 * ctx.c: contexts and the life of a request. Submitting writes a record
 * into the context's SQ; the worker runs records in order and answers each
 * in place (protocol.h), with a note in the CQ for a failure; a host thread
 * waiting for a call takes its answer straight from its record, and
 * whichever thread waits, peeks or syncs "drains" the other answers, in
 * order, into the request table, where the result waits to be collected
 * (once).
 *
 * The request table is a ring of struct req indexed by seq & (cap - 1):
 * sequence numbers are handed out in order, and every one that may still
 * be in use lies in [oldest, next_id), a span the table grows to cover.
 * The ids callers see carry the context's tag above the sequence number
 * (internal.h), so an id of another context is refused, not mistaken.
 *
 * Some requests need the host in the middle: heap copies of async
 * transfers (the host does the memcpy, so data is copied once) and
 * veo_call_async_vh. For those the worker answers VP_ST_ACTION and
 * waits; the draining thread does the work without holding the lock,
 * then releases the worker through slot->action_ack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ring.h"
#include "wait.h"

#define INITIAL_CAP 64
#define SLICE_NS PROC_RECHECK_NS  /* longest sleep between liveness checks */

/* ---- request ids (see internal.h) -------------------------------------- */

static _Atomic uint32_t tag_counter;

/* A tag for a context being opened: 1..0xfffe, in turn. */
static uint64_t tag_next(void)
{
	return ((uint64_t)(atomic_fetch_add(&tag_counter, 1) % 0xfffe) + 1) << REQ_TAG_SHIFT;
}

static uint64_t id_of(const struct veo_thr_ctxt *c, uint64_t seq)
{
	return c->tag | seq;
}

/* The seq of an id a caller gives, or 0 with a message when the id was not
 * issued by this context. */
static uint64_t seq_of(const struct veo_thr_ctxt *c, uint64_t id)
{
	if (id == VEO_REQUEST_ID_INVALID) {
		veo_fail("request id VEO_REQUEST_ID_INVALID: the submission had failed");
		return 0;
	}
	if ((id & ~REQ_SEQ_MASK) != c->tag || (id & REQ_SEQ_MASK) == 0) {
		veo_fail("request id %llu (0x%llx) was not issued by this context "
		         "(an id of another context, or a made-up one)",
		         (unsigned long long)id, (unsigned long long)id);
		return 0;
	}
	return id & REQ_SEQ_MASK;
}

/* ---- the request table ------------------------------------------------ */

static struct req *req_find(struct veo_thr_ctxt *c, uint64_t seq)
{
	struct req *r;

	if (seq < c->oldest || seq >= c->next_id)
		return NULL;
	r = &c->reqs[seq & (c->cap - 1)];
	return r->seq == (uint32_t)seq && r->state != REQ_UNUSED ? r : NULL;
}

static struct req_extra *extra_of(struct veo_thr_ctxt *c, const struct req *r)
{
	return &c->extra[r - c->reqs];
}

static int table_grow(struct veo_thr_ctxt *c)
{
	uint64_t cap = c->cap * 2;
	struct req *n = calloc(cap, sizeof *n);
	struct req_extra *x = calloc(cap, sizeof *x);

	if (!n || !x || cap > UINT32_MAX) {
		free(n);
		free(x);
		return veo_fail("out of memory for %llu outstanding requests",
		                (unsigned long long)c->cap);
	}
	/* Every entry in use has its seq in [oldest, next_id). An extra part
	 * is copied only where there is one: the new extra table stays
	 * untouched memory for plain calls, which never use it. */
	for (uint64_t seq = c->oldest; seq < c->next_id; seq++) {
		uint64_t i = seq & (c->cap - 1);

		n[seq & (cap - 1)] = c->reqs[i];
		if (c->reqs[i].has_extra)
			x[seq & (cap - 1)] = c->extra[i];
	}
	free(c->reqs);
	free(c->extra);
	c->reqs = n;
	c->extra = x;
	c->cap = cap;
	return 0;
}

/* Whether the table has an entry for the next seq (grows it if needed). */
OPENVEO_INLINE int req_room(struct veo_thr_ctxt *c)
{
	return c->next_id - c->oldest < c->cap || table_grow(c) == 0;
}

/* A new table entry of kind, state pending, for the next seq (req_room
 * said there is one), whose record is at pos; x, if not NULL, is its
 * extra part. */
OPENVEO_INLINE struct req *req_new(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                                   uint32_t pos)
{
	struct req *r = &c->reqs[c->next_id & (c->cap - 1)];

	*r = (struct req){ .seq = (uint32_t)c->next_id, .pos = pos, .state = REQ_PENDING,
	                   .kind = (uint8_t)kind, .has_extra = x != NULL };
	if (x)
		*extra_of(c, r) = *x;
	c->next_id++;
	return r;
}

/* The extra part of r, made empty if r had none. */
static struct req_extra *req_extra(struct veo_thr_ctxt *c, struct req *r)
{
	struct req_extra *x = extra_of(c, r);

	if (!r->has_extra) {
		memset(x, 0, sizeof *x);
		x->block = ~0ull;
		r->has_extra = 1;
	}
	return x;
}

static void extra_release(struct veo_thr_ctxt *c, struct req *r)
{
	struct req_extra *x = extra_of(c, r);

	free(x->msg);
	if (r->kind == REQ_CALL)
		free(x->u.call.outs);
	if (x->block != ~0ull)
		mem_heap_free(c->proc, x->block);
	r->has_extra = 0;
}

OPENVEO_INLINE void req_release(struct veo_thr_ctxt *c, struct req *r)
{
	if (r->has_extra)
		extra_release(c, r);
	r->state = REQ_UNUSED;
	while (c->oldest < c->next_id &&
	       c->reqs[c->oldest & (c->cap - 1)].state == REQ_UNUSED)
		c->oldest++;
}

static void req_finish(struct veo_thr_ctxt *c, struct req *r, int status,
                       uint64_t result, const char *msg)
{
	r->state = REQ_DONE;
	r->status = (int8_t)status;
	r->result = result;
	if (msg) {
		struct req_extra *x = req_extra(c, r);

		if (!x->msg)
			x->msg = strdup(msg);
	}
	c->npending--;
}

int ctx_init(struct veo_proc_handle *p, struct veo_thr_ctxt *c, unsigned idx,
             size_t stack_size)
{
	struct vp_slot *s = proc_slot(p, idx);

	(void)stack_size;
	c->reqs = calloc(INITIAL_CAP, sizeof *c->reqs);
	c->extra = calloc(INITIAL_CAP, sizeof *c->extra);
	if (!c->reqs || !c->extra) {
		free(c->reqs);
		free(c->extra);
		c->reqs = NULL;
		c->extra = NULL;
		return veo_fail("out of memory");
	}
	c->cap = INITIAL_CAP;
	c->tag = tag_next();
	c->proc = p;
	c->slot_idx = idx;
	c->slot = s;
	c->next_id = c->oldest = 1;
	c->npending = 0;
	c->last_sent = 0;
	c->block_held = 0;
	vlock_init(&c->lock);
	atomic_store(&c->block_gen, 0);
	atomic_store(&c->block_sleepers, 0);
	/* No worker thread serves this slot now: reset its rings (the SQ is
	 * zero past its tail, protocol.h). */
	atomic_store(&s->sq.tail, 0);
	atomic_store(&s->sq.head, 0);
	atomic_store(&s->host_cpu, UINT32_MAX); /* no CPU yet */
	atomic_store(&s->worker_cpu, UINT32_MAX);
	memset(s->sq_data, 0, sizeof s->sq_data);
	atomic_store(&s->cq.tail, 0);
	for (unsigned i = 0; i < VP_CQ_ENTRIES; i++) /* no stamp of a past life */
		atomic_store_explicit(&s->cq_data[i].stamp, 0, memory_order_relaxed);
	atomic_store(&s->cq.head, 0);
	atomic_store(&s->action_ack, 0);
	atomic_store(&s->running_reqid, 0);
	c->sq_tail = 0;
	c->sq_free = 0;
	c->drain_seq = 1;
	return 0;
}

void ctx_release(struct veo_thr_ctxt *c)
{
	if (!c->reqs)
		return;
	for (uint64_t i = 0; i < c->cap; i++)
		if (c->reqs[i].state != REQ_UNUSED)
			req_release(c, &c->reqs[i]);
	free(c->reqs);
	free(c->extra);
	c->reqs = NULL;
	c->extra = NULL;
}

/* ---- taking answers ------------------------------------------------------ */

/* Lets the worker go on after it stopped at request seq (HOST_ACTION). */
static void release_worker(struct veo_thr_ctxt *c, uint64_t seq)
{
	struct vp_slot *s = c->slot;

	atomic_store_explicit(&s->action_ack, (uint32_t)id_of(c, seq), memory_order_release);
	vp_wake(&s->action_ack, &s->action_sleepers);
	/* Threads waiting for this request sleep on the SQ head. */
	if (atomic_load(&s->sq.head_sleepers))
		vp_futex_wake_all(&s->sq.head);
}

/* The host's part of a request the worker stopped at. Called with the lock
 * held; drops it while working. */
static void run_action(struct veo_thr_ctxt *c, struct req *r, uint64_t seq)
{
	struct veo_proc_handle *p = c->proc;
	struct req_extra x = *extra_of(c, r); /* the table may grow while unlocked */
	int kind = r->kind;
	uint64_t result = 0;

	vlock_give(&c->lock);
	switch (kind) {
	case REQ_HEAP_READ:
		memcpy(x.u.xfer.host, p->heap_host + x.u.xfer.heap_off, x.u.xfer.len);
		break;
	case REQ_HEAP_WRITE:
		memcpy(p->heap_host + x.u.xfer.heap_off, x.u.xfer.host, x.u.xfer.len);
		break;
	case REQ_VH:
		result = x.u.vh.fn(x.u.vh.arg);
		break;
	default:
		break;
	}
	vlock_take(&c->lock);
	r = req_find(c, seq);
	if (r && r->state == REQ_PENDING)
		req_finish(c, r, VEO_COMMAND_OK, result, NULL);
	release_worker(c, seq);
}

/* An answer other than a plain success, or of a request with more to do
 * than store its result. msg (VP_CQE_MSG + 1 bytes) holds the note's
 * message, NUL-terminated. */
static void complete(struct veo_thr_ctxt *c, struct req *r, uint32_t vp_status,
                     uint64_t result, char *msg)
{
	struct veo_proc_handle *p = c->proc;
	int status;

	switch (vp_status) {
	case VP_ST_OK:
		status = VEO_COMMAND_OK;
		msg[0] = '\0';
		break;
	case VP_ST_EXCEPTION:
		status = VEO_COMMAND_EXCEPTION;
		break;
	default:
		status = VEO_COMMAND_ERROR;
		break;
	}
	if (status == VEO_COMMAND_OK && r->has_extra) {
		struct req_extra *x = extra_of(c, r);

		if (r->kind == REQ_BOUNCE_READ) {
			if (mem_host_copy(p->heap_host + x->u.xfer.heap_off, x->u.xfer.host,
			                  x->u.xfer.len, 1) != 0) {
				status = VEO_COMMAND_ERROR;
				snprintf(msg, VP_CQE_MSG + 1, "the host buffer at %p is not "
				         "writable for %llu bytes", (void *)x->u.xfer.host,
				         (unsigned long long)x->u.xfer.len);
			}
		} else if (r->kind == REQ_FREE) {
			uint64_t off, addr = x->u.mem.addr;

			if (proc_heap_off(p, addr, 0, &off) && heap_free(&p->heap, off) == 0) {
				hooks_run((void *)veo_free_mem_async, c, addr, 0, 0);
			} else {
				status = VEO_COMMAND_ERROR;
				snprintf(msg, VP_CQE_MSG + 1, "0x%llx is not allocated VE memory",
				         (unsigned long long)addr);
			}
		}
	}
	req_finish(c, r, status, result, msg[0] ? msg : NULL);
}

/* Where the answer of request r goes (protocol.h). */
static const struct vp_done *answer_of(const struct veo_thr_ctxt *c, const struct req *r)
{
	return (const struct vp_done *)(c->slot->sq_data + (r->pos & (VP_SQ_BYTES - 1)));
}

/* The answer in place of pending request r, if the worker has written it
 * and it is a success: r completes from it, out of turn. Anything else is
 * left to drain(), which takes the notes in order. Lock held. Returns 1 if
 * r is done now. */
static int take_in_place(struct veo_thr_ctxt *c, struct req *r, uint64_t seq)
{
	const struct vp_done *d = answer_of(c, r);
	char msg[VP_CQE_MSG + 1]; /* complete() empties it */
	uint64_t result;

	if (atomic_load_explicit(&d->stamp, memory_order_acquire) !=
	    VP_DONE_STAMP(id_of(c, seq), VP_ST_OK))
		return 0;
	result = d->result;
	if (r->has_extra)
		complete(c, r, VP_ST_OK, result, msg);
	else
		req_finish(c, r, VEO_COMMAND_OK, result, NULL);
	return 1;
}

/* Takes the answers the worker has written since the last pass, in order,
 * into the table, up to the first request not answered yet, whose seq is
 * then c->drain_seq; the SQ space before that request's record is free
 * again (c->sq_free). A request taken out of turn (take_in_place), or one
 * that never had a record, is passed over. It reads no line the worker
 * writes but the answers: a waiter on its way to spin must not stall on a
 * cache miss while its answer arrives. Lock held; an action drops it for
 * a while. */
static void drain(struct veo_thr_ctxt *c)
{
	uint64_t seq = c->drain_seq > c->oldest ? c->drain_seq : c->oldest;

	for (; seq < c->next_id; seq++) {
		struct req *r = &c->reqs[seq & (c->cap - 1)];
		const struct vp_done *d;
		char msg[VP_CQE_MSG + 1];
		uint32_t stamp, status;
		uint64_t result;

		if (r->seq != (uint32_t)seq || r->state != REQ_PENDING)
			continue; /* collected, taken out of turn, or never sent */
		d = answer_of(c, r);
		stamp = atomic_load_explicit(&d->stamp, memory_order_acquire);
		if (!vp_done_for(stamp, id_of(c, seq)))
			break;
		status = vp_done_status(stamp);
		result = d->result;
		if (status == VP_ST_OK && !r->has_extra) { /* a plain call's result */
			req_finish(c, r, VEO_COMMAND_OK, result, NULL);
			continue;
		}
		if (status == VP_ST_ACTION) {
			/* The worker waits for us: only requests that wait for the
			 * host have an action; anything else is garbage, and fails. */
			ring_take_note(c->slot, id_of(c, seq), msg);
			if (r->kind == REQ_HEAP_READ || r->kind == REQ_HEAP_WRITE ||
			    r->kind == REQ_VH) {
				/* Unlocked meanwhile: another drain starts after it. */
				c->drain_seq = seq + 1;
				run_action(c, r, seq); /* the table may move */
				continue;
			}
			release_worker(c, seq);
			status = VP_ST_ERROR;
			snprintf(msg, sizeof msg, "the VE process asked the host to act on "
			         "a request that has nothing for it to do");
		} else if (status != VP_ST_OK) {
			ring_take_note(c->slot, id_of(c, seq), msg);
		}
		complete(c, r, status, result, msg);
	}
	c->drain_seq = seq;
	c->sq_free = seq < c->next_id ? c->reqs[seq & (c->cap - 1)].pos : c->sq_tail;
}

/* The worker died: every pending request ends. The one it died running
 * gets the crash report. */
static void fail_pending(struct veo_thr_ctxt *c)
{
	struct veo_proc_handle *p = c->proc;
	uint32_t st = atomic_load(&p->hdr->worker_state);
	int slot = p->hdr->crash.slot;
	uint64_t crashed = p->hdr->crash.reqid;
	char msg[VP_MSG_MAX + 64];

	drain(c); /* what it finished before dying still counts */
	for (uint64_t id = c->oldest; id < c->next_id; id++) {
		struct req *r = req_find(c, id);

		if (!r || r->state != REQ_PENDING)
			continue;
		if (st == VP_WORKER_CRASHED && slot == (int)c->slot_idx &&
		    crashed == id_of(c, id)) {
			req_finish(c, r, VEO_COMMAND_EXCEPTION, 0, proc_death_report(p));
		} else {
			snprintf(msg, sizeof msg, "request not run: %s", proc_death_msg(p));
			req_finish(c, r, VEO_COMMAND_ERROR, 0, msg);
		}
	}
}

/* Waits, with the lock held on entry and dropped on return, for the worker
 * to answer the first request drain() has not taken (c->drain_seq, which
 * must be pending: a caller waits for it or for one after it). With
 * `spin`, spins on its answer's stamp while watching the worker's state,
 * so that a crash ends the spin at once; without, sleeps until the SQ
 * head moves from what the last drain saw, at most `slice` ns, then
 * checks whether the worker still lives. */
static void wait_answer(struct veo_thr_ctxt *c, uint64_t slice, int spin)
{
	struct veo_proc_handle *p = c->proc;
	const struct vp_done *d = answer_of(c, &c->reqs[c->drain_seq & (c->cap - 1)]);
	uint64_t id = id_of(c, c->drain_seq);
	uint32_t head;

	vlock_give(&c->lock);
	if (spin) {
		vp_cpu_publish(&c->slot->host_cpu);
		vp_spin_until_or((_Atomic uint32_t *)&d->stamp, VP_DONE_WHO_MASK,
		                 VP_DONE_STAMP(id, 0), &p->hdr->worker_state, VP_WORKER_READY,
		                 slice < vp_spin_ns() ? slice : vp_spin_ns(), &c->slot->worker_cpu);
		return;
	}
	/* The head first, then the answer once more: an answer written after
	 * that look moves the head (protocol.h), so the sleep ends at once. */
	head = atomic_load_explicit(&c->slot->sq.head, memory_order_acquire);
	if (vp_done_for(atomic_load_explicit(&d->stamp, memory_order_acquire), id))
		return;
	if (vp_wait_change(&c->slot->sq.head, head, &c->slot->sq.head_sleepers,
	                   vp_now_ns() + slice, 0) != 0)
		proc_dead_recheck(p);
}

/* ---- submission -------------------------------------------------------- */

/* With the lock held: waits, dropping it meanwhile, until no other thread
 * holds a request block (veo_req_block_begin). */
static void wait_block_end(struct veo_thr_ctxt *c)
{
	while (c->block_held && !pthread_equal(c->block_owner, pthread_self())) {
		uint32_t gen = atomic_load_explicit(&c->block_gen, memory_order_relaxed);

		vlock_give(&c->lock);
		vp_wait_change(&c->block_gen, gen, &c->block_sleepers, 0, 0);
		vlock_take(&c->lock);
	}
}

OPENVEO_INLINE void lock_for_submit(struct veo_thr_ctxt *c)
{
	vlock_take(&c->lock);
	if (c->block_held)
		wait_block_end(c);
}

/* Whether the SQ has room for a record of len bytes and `more` besides.
 * Room is what drain has taken the answers of: the space of a record is
 * free once its answer has been read. */
static inline int sq_room(const struct veo_thr_ctxt *c, uint32_t len, uint32_t more)
{
	return VP_SQ_BYTES - (c->sq_tail - c->sq_free) >= ring_need(c->sq_tail, len) + more;
}

/* Submitting is two steps, so that a call's record is built where the
 * worker reads it, in the ring, without a copy. submit_begin takes the
 * lock, waits for room for a record of len bytes and reserves it
 * (ring_reserve); NULL, unlocked, if the proc is dead. The caller writes
 * the record there, all but its len and reqid, and submit_end makes the
 * request's table entry (kind, extra part x or NULL), writes the id and
 * publishes the record, then unlocks. If there is no memory for the
 * entry, the record stays unpublished: the next submission overwrites it.
 * Both are inline, every call runs them; submit_wait_room is submit_begin
 * when the ring is full or the proc looks dead. */
static struct vp_rec *submit_wait_room(struct veo_thr_ctxt *c, uint32_t len)
{
	struct veo_proc_handle *p = c->proc;
	uint32_t more = 0; /* room to wait for beyond the record's, once full */
	int spin = 1;

	for (;;) {
		/* A crash is seen here at once (the worker's state word); a
		 * worker killed from outside, by the next wait. */
		if (proc_dead_now(p)) {
			vlock_give(&c->lock);
			veo_fail("cannot submit: %s", proc_death_msg(p));
			return NULL;
		}
		if (sq_room(c, len, more))
			break;
		drain(c);
		if (sq_room(c, len, more))
			break;
		/* Full: wait for the worker to answer more, a quarter of the
		 * ring: taking each record's room as it frees would make every
		 * submission wait for the worker's next answer. */
		more = VP_SQ_BYTES / 4;
		wait_answer(c, SLICE_NS, spin);
		spin = 0;
		lock_for_submit(c);
	}
	return ring_reserve(c->slot, &c->sq_tail, len);
}

OPENVEO_INLINE struct vp_rec *submit_begin(struct veo_thr_ctxt *c, uint32_t len)
{
	lock_for_submit(c);
	if (!proc_dead_now(c->proc) && sq_room(c, len, 0))
		return ring_reserve(c->slot, &c->sq_tail, len);
	return submit_wait_room(c, len);
}

OPENVEO_INLINE uint64_t submit_end(struct veo_thr_ctxt *c, int kind,
                                   const struct req_extra *x, struct vp_rec *rec,
                                   uint32_t len)
{
	uint64_t seq = c->next_id, id = id_of(c, seq);
	uint32_t pos = c->sq_tail;

	if (!req_room(c)) {
		vlock_give(&c->lock);
		return VEO_REQUEST_ID_INVALID;
	}
	rec->reqid = id;
	ring_publish(c->slot, &c->sq_tail, rec, len);
	/* The table entry after the record: the worker may start at once,
	 * and only host threads read the table, under the lock we hold. */
	req_new(c, kind, x, pos);
	c->npending++;
	c->last_sent = seq;
	vlock_give(&c->lock);
	return id;
}

uint64_t ctx_submit(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                    void *rec, uint32_t len)
{
	struct vp_rec *d = submit_begin(c, len);

	if (!d)
		return VEO_REQUEST_ID_INVALID;
	memcpy((char *)d + sizeof d->len, (const char *)rec + sizeof d->len,
	       len - sizeof d->len);
	return submit_end(c, kind, x, d, len);
}

int ctx_lock_if_idle(struct veo_thr_ctxt *c)
{
	lock_for_submit(c);
	drain(c);
	if (c->npending == 0 && !proc_dead(c->proc, 0))
		return 1;
	vlock_give(&c->lock);
	return 0;
}

uint64_t ctx_submit_done_locked(struct veo_thr_ctxt *c, int kind)
{
	struct req *r;

	if (!req_room(c))
		return VEO_REQUEST_ID_INVALID;
	r = req_new(c, kind, NULL, 0);
	r->state = REQ_DONE;
	r->status = VEO_COMMAND_OK;
	return id_of(c, c->next_id - 1);
}

void ctx_unlock(struct veo_thr_ctxt *c)
{
	vlock_give(&c->lock);
}

/* ---- collecting results ------------------------------------------------ */

static int collect(struct veo_thr_ctxt *c, struct req *r, uint64_t *ret)
{
	struct veo_proc_handle *p = c->proc;
	int status = r->status;

	if (ret)
		*ret = r->result;
	if (status == VEO_COMMAND_OK && r->kind == REQ_CALL && r->has_extra) {
		const struct req_extra *x = extra_of(c, r);

		for (uint32_t i = 0; i < x->u.call.nout; i++) {
			struct out_copy *o = &x->u.call.outs[i];

			memcpy(o->dst, p->heap_host + o->heap_off, o->len);
		}
	}
	if (status != VEO_COMMAND_OK)
		veo_fail("%s", r->has_extra && extra_of(c, r)->msg ? extra_of(c, r)->msg
		                                                   : "request failed");
	req_release(c, r);
	return status;
}

/* Waits for request id (tag and seq). drain() takes what the worker
 * answered, in order, and we wait for the first request not answered yet:
 * ours, or one before it (the worker may be waiting for us to act on it).
 * Once that is ours, its answer is taken in place (take_in_place), the
 * fastest way back to the caller. */
int ctx_wait(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret,
             int64_t timeout_us, int peek)
{
	struct veo_proc_handle *p = c->proc;
	uint64_t deadline = timeout_us >= 0 ? vp_now_ns() + (uint64_t)timeout_us * 1000 : 0;
	uint64_t seq = seq_of(c, id);
	int spin = !peek;

	if (!seq)
		return VEO_COMMAND_ERROR;
	vlock_take(&c->lock);
	for (;;) {
		struct req *r = req_find(c, seq);
		uint64_t slice = SLICE_NS;

		/* Before the first wait, drain: the answers of a batch are taken
		 * in one pass, their cache misses overlapping. After a spin, our
		 * answer first, then the rest if it is not a success. */
		if (r && r->state == REQ_PENDING && (spin || !take_in_place(c, r, seq))) {
			drain(c);
			r = req_find(c, seq); /* an action may have moved the table */
		}
		if (!r) {
			vlock_give(&c->lock);
			veo_fail("request %llu is unknown or already collected",
			         (unsigned long long)id);
			return VEO_COMMAND_ERROR;
		}
		if (r->state == REQ_DONE) {
			int st = collect(c, r, ret);

			vlock_give(&c->lock);
			return st;
		}
		/* A peek asks the kernel too (at most every SLICE_NS), so that
		 * peeking alone notices a worker killed from outside. */
		if (peek ? proc_dead_recheck(p) : proc_dead_now(p)) {
			fail_pending(c);
			continue;
		}
		if (peek) {
			vlock_give(&c->lock);
			return VEO_COMMAND_UNFINISHED;
		}
		if (deadline) {
			uint64_t now = vp_now_ns();

			if (now >= deadline) {
				vlock_give(&c->lock);
				return VEO_COMMAND_UNFINISHED;
			}
			if (deadline - now < slice)
				slice = deadline - now;
		}
		wait_answer(c, slice, spin);
		spin = 0;
		vlock_take(&c->lock);
	}
}

/* ---- the public calls -------------------------------------------------- */

int veo_call_wait_result(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret)
{
	if (!ctx_check(c))
		return -1;
	return ctx_wait(c, id, ret, -1, 0);
}

int veo_call_wait_result_timeout(struct veo_thr_ctxt *c, uint64_t id,
                                 uint64_t *ret, long timeout_us)
{
	if (!ctx_check(c))
		return -1;
	return ctx_wait(c, id, ret, timeout_us < 0 ? -1 : timeout_us, 0);
}

int veo_call_peek_result(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret)
{
	if (!ctx_check(c))
		return -1;
	return ctx_wait(c, id, ret, 0, 1);
}

void veo_context_sync(struct veo_thr_ctxt *c)
{
	struct veo_proc_handle *p;
	uint64_t target;
	int spin = 1;

	if (!ctx_check(c))
		return;
	p = c->proc;
	vlock_take(&c->lock);
	target = c->last_sent;
	for (;;) {
		drain(c);
		if (c->drain_seq > target) /* nothing up to target is pending */
			break;
		if (proc_dead_now(p)) {
			fail_pending(c);
			break;
		}
		wait_answer(c, SLICE_NS, spin);
		spin = 0;
		vlock_take(&c->lock);
	}
	vlock_give(&c->lock);
}

void veo_req_block_begin(struct veo_thr_ctxt *c)
{
	if (!ctx_check(c))
		return;
	lock_for_submit(c);
	c->block_owner = pthread_self();
	c->block_held = 1;
	vlock_give(&c->lock);
}

void veo_req_block_end(struct veo_thr_ctxt *c)
{
	if (!ctx_check(c))
		return;
	vlock_take(&c->lock);
	if (c->block_held && pthread_equal(c->block_owner, pthread_self())) {
		c->block_held = 0;
		atomic_fetch_add_explicit(&c->block_gen, 1, memory_order_release);
		vp_wake(&c->block_gen, &c->block_sleepers);
	}
	vlock_give(&c->lock);
}

/* Stack arguments are copied into one heap block now (IN, INOUT) and
 * remembered for the copy back (OUT, INOUT); the record is encoded in the
 * ring (submit_begin). */
uint64_t veo_call_async(struct veo_thr_ctxt *c, uint64_t addr, struct veo_args *a)
{
	struct req_extra x, *xp = NULL;
	struct veo_proc_handle *p;
	uint64_t id, stack_ve = 0;
	struct vp_rec *rec;
	uint32_t len;

	if (!ctx_check(c) || !args_check(a))
		return VEO_REQUEST_ID_INVALID;
	p = c->proc;
	if (addr == 0) {
		veo_fail("veo_call_async: function address is 0 (symbol not found?)");
		return VEO_REQUEST_ID_INVALID;
	}
	if (a->nstack) {
		uint64_t block;

		if (mem_heap_alloc(p, args_stack_size(a), &block) != 0)
			return VEO_REQUEST_ID_INVALID;
		x = (struct req_extra){ .block = block };
		x.u.call.outs = calloc((size_t)a->nstack, sizeof(struct out_copy));
		if (!x.u.call.outs) {
			mem_heap_free(p, block);
			veo_fail("out of memory");
			return VEO_REQUEST_ID_INVALID;
		}
		x.u.call.nout = args_stack_fill(a, p->heap_host + block, block, x.u.call.outs);
		stack_ve = p->heap_ve + block;
		xp = &x;
	}
	len = args_record_len(a);
	rec = submit_begin(c, len);
	id = VEO_REQUEST_ID_INVALID;
	if (rec) {
		args_encode(a, addr, stack_ve, rec);
		id = submit_end(c, REQ_CALL, xp, rec, len);
	}
	if (id == VEO_REQUEST_ID_INVALID && xp) {
		free(x.u.call.outs);
		mem_heap_free(p, x.block);
	}
	return id;
}

uint64_t veo_call_async_by_name(struct veo_thr_ctxt *c, uint64_t lib,
                                const char *name, struct veo_args *a)
{
	uint64_t addr;

	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	addr = veo_get_sym(c->proc, lib, name);
	if (!addr)
		return VEO_REQUEST_ID_INVALID;
	return veo_call_async(c, addr, a);
}

uint64_t veo_call_async_vh(struct veo_thr_ctxt *c, uint64_t (*fn)(void *), void *arg)
{
	struct req_extra x = { .block = ~0ull };
	struct vp_rec rec = { .len = sizeof rec, .op = VP_OP_HOST_ACTION };

	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (!fn) {
		veo_fail("veo_call_async_vh: NULL function");
		return VEO_REQUEST_ID_INVALID;
	}
	x.u.vh.fn = fn;
	x.u.vh.arg = arg;
	return ctx_submit(c, REQ_VH, &x, &rec, sizeof rec);
}

int veo_call_sync(struct veo_proc_handle *p, uint64_t addr, struct veo_args *a,
                  uint64_t *result)
{
	struct veo_thr_ctxt *c;
	uint64_t id;

	if (!proc_check(p))
		return -1;
	c = proc_sync_ctx(p);
	if (!c)
		return -1;
	id = veo_call_async(c, addr, a);
	if (id == VEO_REQUEST_ID_INVALID)
		return -1;
	return ctx_wait(c, id, result, -1, 0);
}
