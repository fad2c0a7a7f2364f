/*
 * request.c: the life of a request. Submitting writes a record into the
 * context's SQ; the worker runs records in order and answers each in
 * place (ring.h), with a note in the CQ for a failure; a host thread
 * waiting for a call takes its answer straight from its record, and
 * whichever thread waits, peeks or syncs "drains" the other answers, in
 * order, into the request table (request.h), where the result waits to be
 * collected (once). The public waits are here too: veo_call_wait_result,
 * veo_call_peek_result, veo_context_sync (and its time-out form), and
 * request blocks.
 *
 * Some requests need the host in the middle: heap copies of async
 * transfers (the host does the memcpy, so data is copied once) and
 * veo_call_async_vh. For those the worker answers VP_ST_ACTION and
 * waits; the draining thread does the work without holding the lock,
 * then releases the worker through slot->action_ack.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "death.h"
#include "error.h"
#include "heap.h"
#include "inside.h"
#include "proc.h"
#include "request.h"
#include "ring.h"
#include "wait.h"

#define INITIAL_CAP 64
#define SLICE_NS DEATH_RECHECK_NS  /* longest sleep between liveness checks */

/* ---- request ids (see context.h) -------------------------------------- */

/* Tags, 1..REQ_TAGS: each context holds one while it is open; its ids are
 * tag | seq. So that an id is never issued twice in the life of the
 * process, a tag's sequence numbers go on where its last holder stopped:
 * tag_seq[t] is the first seq the next holder of t may issue, with
 * TAG_LIVE set while a context holds it. Taken and given back when a
 * context opens and closes, under tag_lock; not on any call's path. */
#define REQ_TAGS 0xfffe
#define TAG_LIVE (1ull << 63)
static uint64_t tag_seq[REQ_TAGS + 1];
static uint32_t tag_cursor;
static pthread_mutex_t tag_lock = PTHREAD_MUTEX_INITIALIZER;

static int tag_take(struct veo_thr_ctxt *c)
{
	pthread_mutex_lock(&tag_lock);
	for (unsigned i = 0; i < REQ_TAGS; i++) {
		uint64_t t = tag_cursor++ % REQ_TAGS + 1, first = tag_seq[t];

		/* In use, or (after 2^47 requests) too near the end of its ids. */
		if (first & TAG_LIVE || first > REQ_SEQ_MASK / 2)
			continue;
		if (first == 0)
			first = 1;
		tag_seq[t] = TAG_LIVE | first;
		c->tag = t << REQ_TAG_SHIFT;
		c->first_seq = first;
		pthread_mutex_unlock(&tag_lock);
		return 0;
	}
	pthread_mutex_unlock(&tag_lock);
	return error_set("no request-id tag is free (%d contexts are open)", REQ_TAGS);
}

static void tag_give_back(const struct veo_thr_ctxt *c)
{
	pthread_mutex_lock(&tag_lock);
	tag_seq[c->tag >> REQ_TAG_SHIFT] = c->next_id;
	pthread_mutex_unlock(&tag_lock);
}

/* The seq of an id a caller gives, or 0 with a message when the id was not
 * issued by this context. */
static uint64_t seq_of(const struct veo_thr_ctxt *c, uint64_t id)
{
	if (id == VEO_REQUEST_ID_INVALID) {
		error_set("request id VEO_REQUEST_ID_INVALID: the submission had failed");
		return 0;
	}
	if ((id & ~REQ_SEQ_MASK) != c->tag || (id & REQ_SEQ_MASK) < c->first_seq) {
		error_set("request id %llu (0x%llx) was not issued by this context "
		         "(an id of another context or of an earlier opening, or a made-up one)",
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

int req_table_grow(struct veo_thr_ctxt *c)
{
	uint64_t cap = c->cap * 2;
	struct req *n = calloc(cap, sizeof *n);
	struct req_extra *x = calloc(cap, sizeof *x);

	if (!n || !x || cap > UINT32_MAX) {
		free(n);
		free(x);
		return error_set("out of memory for %llu outstanding requests",
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

/* The extra part of r, made empty if r had none. */
static struct req_extra *req_extra(struct veo_thr_ctxt *c, struct req *r)
{
	struct req_extra *x = req_extra_of(c, r);

	if (!r->has_extra) {
		memset(x, 0, sizeof *x);
		x->block = ~0ull;
		r->has_extra = 1;
	}
	return x;
}

static void extra_release(struct veo_thr_ctxt *c, struct req *r)
{
	struct req_extra *x = req_extra_of(c, r);

	free(x->msg);
	if (r->kind == REQ_CALL)
		free(x->u.call.outs);
	if (x->block != ~0ull)
		heap_free(&c->proc->heap, x->block);
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
	if (r->timed && status == VEO_COMMAND_OK)
		pace_learn(&c->pace, r->pace, c->slot, r->seq);
	if (msg) {
		struct req_extra *x = req_extra(c, r);

		if (!x->msg)
			x->msg = strdup(msg);
	}
	c->npending--;
}

int req_ctx_init(struct veo_proc_handle *p, struct veo_thr_ctxt *c, unsigned idx)
{
	struct vp_slot *s = proc_slot(p, idx);

	c->reqs = calloc(INITIAL_CAP, sizeof *c->reqs);
	c->extra = calloc(INITIAL_CAP, sizeof *c->extra);
	if (!c->reqs || !c->extra) {
		free(c->reqs);
		free(c->extra);
		c->reqs = NULL;
		c->extra = NULL;
		return error_set("out of memory");
	}
	if (tag_take(c) != 0) {
		free(c->reqs);
		free(c->extra);
		c->reqs = NULL;
		c->extra = NULL;
		return -1;
	}
	c->cap = INITIAL_CAP;
	c->proc = p;
	c->slot_idx = idx;
	c->slot = s;
	c->next_id = c->oldest = c->first_seq;
	c->npending = 0;
	atomic_store(&c->closed, 0);
	c->last_sent = 0;
	c->block_held = 0;
	memset(&c->pace, 0, sizeof c->pace); /* kernels of an earlier life */
	atomic_store(&c->block_gen, 0);
	atomic_store(&c->block_sleepers, 0);
	/* No worker thread serves this slot now: reset its rings (the SQ is
	 * zero past its tail, ring.h). */
	atomic_store(&s->sq.tail, 0);
	atomic_store(&s->sq.head, 0);
	atomic_store(&s->host_cpu, UINT32_MAX); /* no CPU yet */
	atomic_store(&s->worker_cpu, UINT32_MAX);
	memset(s->sq_data, 0, sizeof s->sq_data);
	atomic_store(&s->cq.tail, 0);
	for (unsigned i = 0; i < VP_NOTE_ENTRIES; i++) /* no stamp of a past life */
		atomic_store_explicit(&s->note_data[i].stamp, 0, memory_order_relaxed);
	atomic_store(&s->cq.head, 0);
	atomic_store(&s->action_ack, 0);
	atomic_store(&s->running_reqid, 0);
	c->sq_tail = 0;
	c->sq_free = 0;
	c->drain_seq = c->first_seq;
	c->look = (struct vp_look){ 0, 0, 0 };
	return 0;
}

void req_ctx_forget(struct veo_thr_ctxt *c)
{
	if (!c->reqs)
		return;
	for (uint64_t i = 0; i < c->cap; i++) {
		if (c->reqs[i].state != REQ_UNUSED && c->reqs[i].has_extra) {
			struct req_extra *x = &c->extra[i];

			free(x->msg);
			if (c->reqs[i].kind == REQ_CALL)
				free(x->u.call.outs);
		}
	}
	free(c->reqs);
	free(c->extra);
	c->reqs = NULL;
	c->extra = NULL;
}

void req_ctx_release(struct veo_thr_ctxt *c)
{
	if (!c->reqs)
		return;
	tag_give_back(c);
	for (uint64_t i = 0; i < c->cap; i++)
		if (c->reqs[i].state != REQ_UNUSED)
			req_release(c, &c->reqs[i]);
	free(c->reqs);
	free(c->extra);
	c->reqs = NULL;
	c->extra = NULL;
}

/* ---- late callers (request.h) -------------------------------------------- */

/* Dropping the lock while the tables or the mapping are still in use: the
 * pin keeps a retiring close or destroy waiting (req_ctx_retire). */
static inline void unlock_pinned(struct veo_thr_ctxt *c)
{
	c->pins++;
	vlock_give(&c->lock);
}

static inline void relock_pinned(struct veo_thr_ctxt *c)
{
	vlock_take(&c->lock);
	c->pins--;
}

void req_gone(struct veo_thr_ctxt *c)
{
	const char *why = c->gone_why;

	vlock_give(&c->lock);
	error_set("%s", why ? why : "the context is not open");
}

void req_ctx_live(struct veo_thr_ctxt *c)
{
	vlock_take(&c->lock);
	c->gone_why = NULL;
	atomic_store_explicit(&c->live, 1, memory_order_relaxed);
	vlock_give(&c->lock);
}

void req_ctx_retire(struct veo_thr_ctxt *c, const char *why)
{
	long nap = 1000;

	vlock_take(&c->lock);
	c->gone_why = why;
	atomic_store_explicit(&c->live, 0, memory_order_relaxed);
	while (c->pins) {
		struct timespec ts = { 0, nap };

		vlock_give(&c->lock);
		nanosleep(&ts, NULL);
		if (nap < 1000000)
			nap *= 2;
		vlock_take(&c->lock);
	}
	vlock_give(&c->lock);
}

/* ---- taking answers ------------------------------------------------------ */

/* Lets the worker go on after it stopped at request seq (HOST_ACTION). */
static void release_worker(struct veo_thr_ctxt *c, uint64_t seq)
{
	struct vp_slot *s = c->slot;

	atomic_store_explicit(&s->action_ack, (uint32_t)req_id_of(c, seq), memory_order_release);
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
	struct req_extra x = *req_extra_of(c, r); /* the table may grow while unlocked */
	int kind = r->kind;
	uint64_t result = 0;

	unlock_pinned(c);
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
	relock_pinned(c);
	r = req_find(c, seq);
	if (r && r->state == REQ_PENDING)
		req_finish(c, r, VEO_COMMAND_OK, result, NULL);
	release_worker(c, seq);
}

/* An answer other than a plain success, or of a request with more to do
 * than store its result. msg (VP_NOTE_MSG + 1 bytes) holds the note's
 * message, NUL-terminated. */
static void complete(struct veo_thr_ctxt *c, struct req *r, uint32_t vp_status,
                     uint64_t result, char *msg)
{
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
		struct req_extra *x = req_extra_of(c, r);

		if (x->finish)
			status = x->finish(c, x, msg);
	}
	req_finish(c, r, status, result, msg[0] ? msg : NULL);
}

/* Where the answer of request r comes (ring.h). */
static const struct vp_answer *answer_of(const struct veo_thr_ctxt *c, const struct req *r)
{
	return ring_answer_at(c->slot, r->pos);
}

/* The answer in place of pending request r, if the worker has written it
 * and it is a success: r completes from it, out of turn. Anything else is
 * left to drain(), which takes the notes in order. Lock held. Returns 1 if
 * r is done now. */
static int take_in_place(struct veo_thr_ctxt *c, struct req *r, uint64_t seq)
{
	const struct vp_answer *d = answer_of(c, r);
	char msg[VP_NOTE_MSG + 1]; /* complete() empties it */
	uint64_t result;

	if (ring_answer_stamp(d) !=
	    VP_ANSWER_STAMP(req_id_of(c, seq), VP_ST_OK))
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
		const struct vp_answer *d;
		char msg[VP_NOTE_MSG + 1];
		uint32_t stamp, status;
		uint64_t result;

		if (r->seq != (uint32_t)seq || r->state != REQ_PENDING)
			continue; /* collected, taken out of turn, or never sent */
		d = answer_of(c, r);
		stamp = ring_answer_stamp(d);
		if (!vp_answer_for(stamp, req_id_of(c, seq)))
			break;
		status = vp_answer_status(stamp);
		result = d->result;
		if (status == VP_ST_OK && !r->has_extra) { /* a plain call's result */
			req_finish(c, r, VEO_COMMAND_OK, result, NULL);
			continue;
		}
		if (status == VP_ST_ACTION) {
			/* The worker waits for us: only requests that wait for the
			 * host have an action; anything else is garbage, and fails. */
			ring_take_note(c->slot, req_id_of(c, seq), msg);
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
			ring_take_note(c->slot, req_id_of(c, seq), msg);
		}
		complete(c, r, status, result, msg);
	}
	c->drain_seq = seq;
	c->sq_free = seq < c->next_id ? c->reqs[seq & (c->cap - 1)].pos : c->sq_tail;
}

/* Whether the context's requests can no longer be answered: its worker is
 * dead (or the proc destroyed), or the context was closed, its worker
 * thread gone (veo_context_close). */
static inline int ctx_gone(struct veo_thr_ctxt *c, int recheck)
{
	return (recheck ? death_recheck(c->proc) : death_now(c->proc)) ||
	       atomic_load_explicit(&c->closed, memory_order_relaxed);
}

/* The worker died, or the context closed: every pending request ends. The
 * one the worker died running gets the crash report. */
static void fail_pending(struct veo_thr_ctxt *c)
{
	struct veo_proc_handle *p = c->proc;
	int dead = atomic_load_explicit(&p->dead, memory_order_acquire);
	int slot = p->death_slot;       /* set before p->dead (death.c) */
	uint64_t crashed = p->death_reqid;
	char msg[VP_MSG_MAX + 64];

	drain(c); /* what it finished before dying still counts */
	for (uint64_t id = c->oldest; id < c->next_id; id++) {
		struct req *r = req_find(c, id);

		if (!r || r->state != REQ_PENDING)
			continue;
		if (dead && slot == (int)c->slot_idx && crashed == req_id_of(c, id)) {
			req_finish(c, r, VEO_COMMAND_EXCEPTION, 0, death_report(p));
		} else {
			snprintf(msg, sizeof msg, "request not run: %s",
			         dead ? death_msg(p) : "its context was closed (veo_context_close)");
			req_finish(c, r, VEO_COMMAND_ERROR, 0, msg);
		}
	}
}

/* Waits, with the lock held on entry and dropped on return, for the worker
 * to answer the first request drain() has not taken (c->drain_seq, which
 * must be pending: a caller waits for it or for one after it). With
 * `spin`, spins on its answer's stamp while watching the worker's state,
 * so that a crash ends the spin at once; for a call to a kernel known to
 * run long, sleeps through most of its expected run first (pace.h).
 * Without `spin`, sleeps until the SQ head moves from what the last drain
 * saw, at most `slice` ns, then checks whether the worker still lives.
 * Returns the pace entry of an untimed call whose spin ran out, for the
 * caller to mark once it holds the lock again (pace_time_next), else 0.
 * *turns: the pauses a spin that saw the answer took (vp_spin_until_or),
 * else UINT_MAX. */
static uint8_t wait_answer(struct veo_thr_ctxt *c, uint64_t slice, int spin, unsigned *turns)
{
	struct veo_proc_handle *p = c->proc;
	const struct req *r = &c->reqs[c->drain_seq & (c->cap - 1)];
	const struct vp_answer *d = answer_of(c, r);
	uint64_t id = req_id_of(c, c->drain_seq), limit;
	uint8_t pace = r->pace, timed = r->timed;
	struct pace_plan plan = { 0, 0 };
	uint32_t head;

	*turns = UINT_MAX;
	if (spin && pace)
		plan = pace_plan_of(&c->pace, pace, timed);
	unlock_pinned(c);
	if (spin) {
		limit = slice < vp_spin_ns() ? slice : vp_spin_ns();
		if (plan.est_ns >= PACE_SLEEPY_NS) {
			/* The head before the answer, as below. */
			head = atomic_load_explicit(&c->slot->sq.head, memory_order_acquire);
			if (vp_answer_for(ring_answer_stamp(d), id))
				return 0;
			limit = pace_sleep(c->slot, &d->stamp, id, head, plan, vp_now_ns() + slice);
		} else if (plan.est_ns) {
			/* Too short to sleep through: spin across its expected end. */
			uint64_t across = (uint64_t)plan.est_ns + 4ull * plan.dev_ns + vp_spin_ns();

			limit = across < slice ? across : slice;
		}
		vp_cpu_publish(&c->slot->host_cpu);
		if (vp_spin_until_or((_Atomic uint32_t *)&d->stamp, VP_ANSWER_WHO_MASK,
		                     VP_ANSWER_STAMP(id, 0), &p->hdr->worker_state,
		                     VP_WORKER_READY, limit, &c->slot->worker_cpu, turns) < 0 &&
		    pace && !timed)
			return pace;
		return 0;
	}
	/* The head first, then the answer once more: an answer written after
	 * that look moves the head (ring.h), so the sleep ends at once. The
	 * head's acquire pairs with the release in ring_sq_publish. */
	head = atomic_load_explicit(&c->slot->sq.head, memory_order_acquire);
	if (vp_answer_for(ring_answer_stamp(d), id))
		return 0;
	if (vp_wait_change(&c->slot->sq.head, head, &c->slot->sq.head_sleepers,
	                   vp_now_ns() + slice, 0) != 0)
		death_recheck(p);
	return 0;
}

/* wait_answer, then the lock again, and an untimed call that spun out gets
 * its next call timed. */
static void wait_answer_relock(struct veo_thr_ctxt *c, uint64_t slice, int spin,
                               unsigned *turns)
{
	uint8_t spun_out = wait_answer(c, slice, spin, turns);

	relock_pinned(c);
	if (spun_out)
		pace_time_next(&c->pace, spun_out);
}

/* ---- submission -------------------------------------------------------- */

void req_wait_block_end(struct veo_thr_ctxt *c)
{
	while (c->block_held && !pthread_equal(c->block_owner, pthread_self()) &&
	       !ctx_gone(c, 1)) {
		uint32_t gen = atomic_load_explicit(&c->block_gen, memory_order_relaxed);

		unlock_pinned(c);
		vp_wait_change(&c->block_gen, gen, &c->block_sleepers, 0, 0);
		relock_pinned(c);
	}
}

/* req_submit_begin when the ring is full or the proc looks dead (request.h). */
struct vp_rec *req_submit_wait_room(struct veo_thr_ctxt *c, uint32_t len)
{
	struct veo_proc_handle *p = c->proc;
	uint32_t more = 0; /* room to wait for beyond the record's, once full */
	int spin = 1;
	unsigned turns;

	for (;;) {
		/* A crash is seen here at once (the worker's state word); a
		 * worker killed from outside, by the next wait. */
		if (ctx_gone(c, 0)) {
			vlock_give(&c->lock);
			error_set("cannot submit: %s", atomic_load(&p->dead) ? death_msg(p)
			          : "the context was closed (veo_context_close)");
			return NULL;
		}
		if (req_sq_room(c, len, more))
			break;
		drain(c);
		if (req_sq_room(c, len, more))
			break;
		/* Full: wait for the worker to answer more, a quarter of the
		 * ring: taking each record's room as it frees would make every
		 * submission wait for the worker's next answer. */
		more = VP_SQ_BYTES / 4;
		wait_answer_relock(c, SLICE_NS, spin, &turns);
		/* Spin again while spins see answers (the worker is going
		 * through the ring); sleep once one ran out (a long kernel).
		 * Asleep on the head, we would have the worker make a futex
		 * system call for each answer: pipelined calls at N = 100000
		 * took 100-115 ns a call in one trial in two, 32 ns otherwise. */
		spin = turns != UINT_MAX;
		if (c->block_held)
			req_wait_block_end(c);
	}
	return ring_reserve(c->slot, &c->sq_tail, len);
}

uint64_t req_submit(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                    void *rec, uint32_t len)
{
	struct vp_rec *d = req_submit_begin(c, len);

	if (!d)
		return VEO_REQUEST_ID_INVALID;
	memcpy((char *)d + sizeof d->len, (const char *)rec + sizeof d->len,
	       len - sizeof d->len);
	return req_submit_end(c, kind, x, d, len, 0, 0);
}

int req_lock_if_idle(struct veo_thr_ctxt *c)
{
	if (!req_lock_for_submit(c))
		return 0;
	drain(c);
	if (c->npending == 0 && !death_check(c->proc, 0))
		return 1;
	vlock_give(&c->lock);
	return 0;
}

uint64_t req_done_locked(struct veo_thr_ctxt *c, int kind)
{
	struct req *r;

	if (!req_room(c))
		return VEO_REQUEST_ID_INVALID;
	r = req_new(c, kind, NULL, 0, 0, 0);
	r->state = REQ_DONE;
	r->status = VEO_COMMAND_OK;
	return req_id_of(c, c->next_id - 1);
}

void req_unlock(struct veo_thr_ctxt *c)
{
	vlock_give(&c->lock);
}

/* ---- collecting results ------------------------------------------------ */

/* What collect() does for a request with an extra part or a failure:
 * the copies back of a call's stack arguments, the error message. */
static void collect_extra(struct veo_thr_ctxt *c, const struct req *r)
{
	struct veo_proc_handle *p = c->proc;

	if (r->status == VEO_COMMAND_OK && r->kind == REQ_CALL && r->has_extra) {
		const struct req_extra *x = req_extra_of(c, r);

		for (uint32_t i = 0; i < x->u.call.nout; i++) {
			struct out_copy *o = &x->u.call.outs[i];

			memcpy(o->dst, p->heap_host + o->heap_off, o->len);
		}
	}
	if (r->status != VEO_COMMAND_OK)
		error_set("%s", r->has_extra && req_extra_of(c, r)->msg ? req_extra_of(c, r)->msg
		                                                   : "request failed");
}

OPENVEO_INLINE int collect(struct veo_thr_ctxt *c, struct req *r, uint64_t *ret)
{
	int status = r->status;

	if (ret)
		*ret = r->result;
	if (__builtin_expect(r->has_extra || status != VEO_COMMAND_OK, 0))
		collect_extra(c, r);
	req_release(c, r);
	return status;
}

/* Waits, the lock held, for request seq of id (checked): the body of
 * req_wait for a request that was not answered yet when it looked. drain()
 * takes what the worker answered, in order, and we wait for the first
 * request not answered yet: ours, or one before it (the worker may be
 * waiting for us to act on it). Once that is ours, its answer is taken in
 * place (take_in_place), the fastest way back to the caller. */
static __attribute__((noinline)) int wait_pending(struct veo_thr_ctxt *c, uint64_t id,
                                                  uint64_t seq, uint64_t *ret,
                                                  int64_t timeout_us, int peek)
{
	/* A time-out's deadline is set the first time it is looked at, after
	 * the first look at the answer: a wait that finds its answer there,
	 * and a peek, read no clock (a read measured 15-20 ns here, 5% of a
	 * Python call + wait_result, which waits with a time-out). It can
	 * only make the wait longer, by that first look. */
	uint64_t deadline = 0;
	int spin = !peek, alone;
	unsigned turns = UINT_MAX;

	/* A call waited for alone, likely right after it was submitted: its
	 * answer's line is looked at after the learnt pause (wait.h). */
	alone = spin && c->npending == 1 && seq == c->last_sent;
	if (alone)
		vp_look_pause(&c->look);
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
			error_set("request %llu is unknown or already collected",
			         (unsigned long long)id);
			return VEO_COMMAND_ERROR;
		}
		if (r->state == REQ_DONE) {
			int st;

			if (alone)
				vp_look_learn(&c->look, spin, turns);
			st = collect(c, r, ret);
			vlock_give(&c->lock);
			return st;
		}
		/* A peek asks the kernel too (at most every SLICE_NS), so that
		 * peeking alone notices a worker killed from outside. */
		if (ctx_gone(c, peek)) {
			fail_pending(c);
			continue;
		}
		if (peek) {
			vlock_give(&c->lock);
			return VEO_COMMAND_UNFINISHED;
		}
		if (timeout_us >= 0) {
			uint64_t now = vp_now_ns();

			if (!deadline)
				deadline = now + (uint64_t)timeout_us * 1000;
			if (now >= deadline) {
				vlock_give(&c->lock);
				return VEO_COMMAND_UNFINISHED;
			}
			if (deadline - now < slice)
				slice = deadline - now;
		}
		wait_answer_relock(c, slice, spin, &turns);
		spin = 0;
	}
}

/* Waits for request id (tag and seq). One already answered (drain took
 * the answers of a batch at its first wait) is collected here, without
 * the waiting's machinery: the waits of `submit N, wait N` after the
 * first, 207 -> 167 instructions a wait (callgrind), 36.9 -> 35.0 ns a
 * pipelined call (veo_ab). */
int req_wait(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret,
             int64_t timeout_us, int peek)
{
	struct req *r;
	uint64_t seq;

	if (!req_lock_live(c))
		return VEO_COMMAND_ERROR;
	seq = seq_of(c, id);
	if (!seq) {
		vlock_give(&c->lock);
		return VEO_COMMAND_ERROR;
	}
	r = req_find(c, seq);
	if (r && r->state == REQ_DONE) {
		int st = collect(c, r, ret);

		vlock_give(&c->lock);
		return st;
	}
	return wait_pending(c, id, seq, ret, timeout_us, peek);
}

/* ---- the public calls -------------------------------------------------- */

int veo_call_wait_result(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret)
{
	if (!ctx_check(c))
		return -1;
	return req_wait(c, id, ret, -1, 0);
}

int veo_call_wait_result_timeout(struct veo_thr_ctxt *c, uint64_t id,
                                 uint64_t *ret, long timeout_us)
{
	if (!ctx_check(c))
		return -1;
	return req_wait(c, id, ret, timeout_us < 0 ? -1 : timeout_us, 0);
}

int veo_call_peek_result(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret)
{
	if (!ctx_check(c))
		return -1;
	return req_wait(c, id, ret, 0, 1);
}

/* Waits until every request queued before the call has finished, or until
 * deadline_ns passes (0: no deadline). 0 when synced, 1 on time-out. */
static int sync_until(struct veo_thr_ctxt *c, uint64_t deadline_ns)
{
	uint64_t target;
	int spin = 1, st = 0;

	vlock_take(&c->lock);
	target = c->last_sent;
	for (;;) {
		uint64_t slice = SLICE_NS;

		drain(c);
		if (c->drain_seq > target) /* nothing up to target is pending */
			break;
		if (ctx_gone(c, 0)) {
			fail_pending(c);
			break;
		}
		if (deadline_ns) {
			uint64_t now = vp_now_ns();

			if (now >= deadline_ns) {
				st = 1;
				break;
			}
			if (deadline_ns - now < slice)
				slice = deadline_ns - now;
		}
		wait_answer_relock(c, slice, spin, &(unsigned){ 0 });
		spin = 0;
	}
	vlock_give(&c->lock);
	return st;
}

void veo_context_sync(struct veo_thr_ctxt *c)
{
	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return;
	sync_until(c, 0);
}

int veo_context_sync_timeout(struct veo_thr_ctxt *c, long timeout_us)
{
	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return -1;
	if (timeout_us < 0)
		return sync_until(c, 0);
	/* at least 1 ns: 0 means no deadline to sync_until */
	return sync_until(c, vp_now_ns() + (uint64_t)timeout_us * 1000 + 1);
}

void veo_req_block_begin(struct veo_thr_ctxt *c)
{
	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return;
	if (!req_lock_for_submit(c))
		return;
	c->block_owner = pthread_self();
	c->block_held = 1;
	vlock_give(&c->lock);
}

void veo_req_block_end(struct veo_thr_ctxt *c)
{
	INSIDE(ctx_inside(c));
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
