/*
 * ctx.c: contexts and the life of a request. Submitting writes a record
 * into the context's SQ; the worker runs records in order and posts
 * completions on the CQ; whichever host thread waits, peeks or syncs
 * "drains" the CQ into the request table, where the result waits to be
 * collected (once).
 *
 * The request table is a ring of struct req indexed by seq & (cap - 1):
 * sequence numbers are handed out in order, and every one that may still
 * be in use lies in [oldest, next_id), a span the table grows to cover.
 * The ids callers see carry the context's tag above the sequence number
 * (internal.h), so an id of another context is refused, not mistaken.
 *
 * Some requests need the host in the middle: heap copies of async
 * transfers (the host does the memcpy, so data is copied once) and
 * veo_call_async_vh. For those the worker posts a VP_ST_ACTION completion
 * and waits; the draining thread does the work without holding the lock,
 * then releases the worker through slot->action_ack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
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

/* ---- the request table ------------------------------------------------- */

static struct req *req_find(struct veo_thr_ctxt *c, uint64_t id)
{
	struct req *r;

	if (id < c->oldest || id >= c->next_id)
		return NULL;
	r = &c->reqs[id & (c->cap - 1)];
	return r->id == id && r->state != REQ_UNUSED ? r : NULL;
}

static int table_grow(struct veo_thr_ctxt *c)
{
	uint64_t cap = c->cap * 2;
	struct req *n = calloc(cap, sizeof *n);

	if (!n)
		return veo_fail("out of memory for %llu outstanding requests",
		                (unsigned long long)c->cap);
	for (uint64_t i = 0; i < c->cap; i++)
		if (c->reqs[i].state != REQ_UNUSED)
			n[c->reqs[i].id & (cap - 1)] = c->reqs[i];
	free(c->reqs);
	c->reqs = n;
	c->cap = cap;
	return 0;
}

/* A new request record for the next id; NULL if out of memory. */
static struct req *req_new(struct veo_thr_ctxt *c, const struct req *tmpl)
{
	struct req *r;

	if (c->next_id - c->oldest >= c->cap && table_grow(c) != 0)
		return NULL;
	r = &c->reqs[c->next_id & (c->cap - 1)];
	*r = *tmpl;
	r->id = c->next_id++;
	return r;
}

static void req_release(struct veo_thr_ctxt *c, struct req *r)
{
	free(r->msg);
	if (r->kind == REQ_CALL)
		free(r->u.call.outs);
	if (r->block != ~0ull)
		mem_heap_free(c->proc, r->block);
	memset(r, 0, sizeof *r);
	while (c->oldest < c->next_id &&
	       c->reqs[c->oldest & (c->cap - 1)].state == REQ_UNUSED)
		c->oldest++;
}

static void req_finish(struct veo_thr_ctxt *c, struct req *r, int status,
                       uint64_t result, const char *msg)
{
	r->state = REQ_DONE;
	r->status = status;
	r->result = result;
	if (msg && !r->msg)
		r->msg = strdup(msg);
	c->npending--;
}

int ctx_init(struct veo_proc_handle *p, struct veo_thr_ctxt *c, unsigned idx,
             size_t stack_size)
{
	struct vp_slot *s = proc_slot(p, idx);

	(void)stack_size;
	c->reqs = calloc(INITIAL_CAP, sizeof *c->reqs);
	if (!c->reqs)
		return veo_fail("out of memory");
	c->cap = INITIAL_CAP;
	c->tag = tag_next();
	c->proc = p;
	c->slot_idx = idx;
	c->slot = s;
	c->next_id = c->oldest = 1;
	c->npending = 0;
	c->last_sent = c->worker_done = 0;
	c->block_held = 0;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->block_cond, NULL);
	/* No worker thread serves this slot now: reset its rings. */
	atomic_store(&s->sq.tail, 0);
	atomic_store(&s->sq.head, 0);
	memset(s->sq_data, 0, sizeof(struct vp_rec)); /* the first record's header */
	atomic_store(&s->cq.tail, 0);
	for (unsigned i = 0; i < VP_CQ_ENTRIES; i++) /* no stamp of a past life */
		atomic_store_explicit(&s->cq_data[i].stamp, 0, memory_order_relaxed);
	atomic_store(&s->cq.head, 0);
	atomic_store(&s->action_ack, 0);
	atomic_store(&s->running_reqid, 0);
	c->sq_tail = 0;
	c->sq_head_seen = 0;
	c->cq_seen = 0;
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
	c->reqs = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->block_cond);
}

/* ---- draining completions ---------------------------------------------- */

/* The host's part of a request the worker stopped at. Called with the lock
 * held; drops it while working. */
static void run_action(struct veo_thr_ctxt *c, struct req *r)
{
	struct veo_proc_handle *p = c->proc;
	struct req copy = *r; /* r may move if the table grows while unlocked */
	uint64_t id = r->id, result = 0;
	struct vp_slot *s = c->slot;

	pthread_mutex_unlock(&c->lock);
	switch (copy.kind) {
	case REQ_HEAP_READ:
		memcpy(copy.u.xfer.host, p->heap_host + copy.u.xfer.heap_off, copy.u.xfer.len);
		break;
	case REQ_HEAP_WRITE:
		memcpy(p->heap_host + copy.u.xfer.heap_off, copy.u.xfer.host, copy.u.xfer.len);
		break;
	case REQ_VH:
		result = copy.u.vh.fn(copy.u.vh.arg);
		break;
	default:
		break;
	}
	pthread_mutex_lock(&c->lock);
	r = req_find(c, id); /* the table may have grown meanwhile */
	if (r && r->state == REQ_PENDING) {
		req_finish(c, r, VEO_COMMAND_OK, result, NULL);
		c->worker_done = id;
	}
	atomic_store_explicit(&s->action_ack, (uint32_t)id, memory_order_release);
	vp_wake(&s->action_ack, &s->action_sleepers);
	/* Threads waiting for this request sleep on the CQ tail. */
	if (atomic_load(&s->cq.tail_sleepers))
		vp_futex_wake_all(&s->cq.tail);
}

/* A completion entry as copied out of the ring (drain). */
struct cqe {
	uint32_t status;
	uint32_t msg_len;
	uint64_t reqid;
	uint64_t result;
	char msg[VP_CQE_MSG];
};

static void complete(struct veo_thr_ctxt *c, struct req *r, const struct cqe *e)
{
	struct veo_proc_handle *p = c->proc;
	char msg[VP_CQE_MSG];
	int status;

	switch (e->status) {
	case VP_ST_OK:
		status = VEO_COMMAND_OK;
		break;
	case VP_ST_EXCEPTION:
		status = VEO_COMMAND_EXCEPTION;
		break;
	default:
		status = VEO_COMMAND_ERROR;
		break;
	}
	msg[0] = '\0';
	if (status != VEO_COMMAND_OK) {
		size_t n = e->msg_len < VP_CQE_MSG ? e->msg_len : VP_CQE_MSG - 1;

		memcpy(msg, e->msg, n);
		msg[n] = '\0';
	}
	if (status == VEO_COMMAND_OK) {
		if (r->kind == REQ_BOUNCE_READ) {
			if (mem_host_copy(p->heap_host + r->u.xfer.heap_off, r->u.xfer.host,
			                  r->u.xfer.len, 1) != 0) {
				status = VEO_COMMAND_ERROR;
				snprintf(msg, sizeof msg, "the host buffer at %p is not writable "
				         "for %llu bytes", (void *)r->u.xfer.host,
				         (unsigned long long)r->u.xfer.len);
			}
		} else if (r->kind == REQ_FREE) {
			uint64_t off;

			if (proc_heap_off(p, r->u.mem.addr, 0, &off) &&
			    heap_free(&p->heap, off) == 0) {
				hooks_run((void *)veo_free_mem_async, c, r->u.mem.addr, 0, 0);
			} else {
				status = VEO_COMMAND_ERROR;
				snprintf(msg, sizeof msg, "0x%llx is not allocated VE memory",
				         (unsigned long long)r->u.mem.addr);
			}
		}
	}
	req_finish(c, r, status, e->result, msg[0] ? msg : NULL);
}

/* Moves every completion posted so far into the table. Lock held.
 * We are the only consumer (under c->lock): head is ours. An entry is
 * ready when its stamp says so (see protocol.h), so a pass reads only the
 * entries' lines, and publishes head once. */
static void drain(struct veo_thr_ctxt *c)
{
	struct vp_slot *s = c->slot;
	uint32_t head = atomic_load_explicit(&s->cq.head, memory_order_relaxed), start = head;

	for (;;) {
		struct vp_cqe *slot_e = &s->cq_data[head & (VP_CQ_ENTRIES - 1)];
		struct cqe e;
		struct req *r;

		if (atomic_load_explicit(&slot_e->stamp, memory_order_acquire) != head + 1)
			break;
		/* Copied out before use: the worker may be scribbled over. */
		e.status = slot_e->status;
		e.reqid = slot_e->reqid;
		e.result = slot_e->result;
		e.msg_len = slot_e->msg_len < VP_CQE_MSG ? slot_e->msg_len : VP_CQE_MSG - 1;
		if (e.status != VP_ST_OK)
			memcpy(e.msg, slot_e->msg, e.msg_len);
		e.msg[e.msg_len] = '\0';
		head++;
		if ((e.reqid & ~REQ_SEQ_MASK) != c->tag)
			continue; /* not an id of ours: garbage */
		r = req_find(c, e.reqid & REQ_SEQ_MASK);
		if (!r || r->state != REQ_PENDING)
			continue; /* not a request we are waiting for */
		if (e.status == VP_ST_ACTION) {
			/* Only requests that wait for the host have an action; the
			 * worker posts nothing more until we answer it. */
			if (r->kind == REQ_HEAP_READ || r->kind == REQ_HEAP_WRITE ||
			    r->kind == REQ_VH) {
				atomic_store_explicit(&s->cq.head, head, memory_order_release);
				run_action(c, r);
			}
			continue;
		}
		c->worker_done = r->id;
		complete(c, r, &e);
	}
	c->cq_seen = head; /* the tail to sleep on: nothing is ready past it */
	if (head != start) {
		atomic_store_explicit(&s->cq.head, head, memory_order_release);
		vp_wake(&s->cq.head, &s->cq.head_sleepers);
	}
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
	c->worker_done = c->last_sent;
}

/* ---- submission -------------------------------------------------------- */

static void lock_for_submit(struct veo_thr_ctxt *c)
{
	pthread_mutex_lock(&c->lock);
	while (c->block_held && !pthread_equal(c->block_owner, pthread_self()))
		pthread_cond_wait(&c->block_cond, &c->lock);
}

uint64_t ctx_submit(struct veo_thr_ctxt *c, const struct req *tmpl,
                    void *rec, uint32_t len)
{
	struct veo_proc_handle *p = c->proc;
	struct vp_slot *s = c->slot;
	struct req *r;
	int spin = 1;

	lock_for_submit(c);
	for (;;) {
		uint32_t need = ring_need(c->sq_tail, len), head;

		/* A crash is seen here at once (the worker's state word); a
		 * worker killed from outside, by the next wait. */
		if (proc_dead(p, 0)) {
			pthread_mutex_unlock(&c->lock);
			veo_fail("cannot submit: %s", proc_death_msg(p));
			return VEO_REQUEST_ID_INVALID;
		}
		/* The worker's head as last read is enough while it leaves room;
		 * reading the shared one would cost a cache miss per call. */
		if (VP_SQ_BYTES - (c->sq_tail - c->sq_head_seen) >= need)
			break;
		head = atomic_load_explicit(&s->sq.head, memory_order_acquire);
		if (c->sq_tail - head <= VP_SQ_BYTES)
			c->sq_head_seen = head;
		if (VP_SQ_BYTES - (c->sq_tail - c->sq_head_seen) >= need)
			break;
		/* Full: collect completions (the worker may be waiting for room
		 * on the CQ, or for an action), then wait for it to take more. */
		drain(c);
		pthread_mutex_unlock(&c->lock);
		if (vp_wait_change(&s->sq.head, head, &s->sq.head_sleepers,
		                   vp_now_ns() + SLICE_NS, spin) != 0)
			proc_dead_recheck(p);
		spin = 0;
		lock_for_submit(c);
	}
	/* A thread that only submits still collects now and then, so that
	 * the worker does not stall on a full completion ring. */
	if ((c->next_id & 127) == 0)
		drain(c);
	r = req_new(c, tmpl);
	if (!r) {
		pthread_mutex_unlock(&c->lock);
		return VEO_REQUEST_ID_INVALID;
	}
	r->state = REQ_PENDING;
	c->npending++;
	c->last_sent = r->id;

	/* The record goes in with its request id. */
	((struct vp_rec *)rec)->reqid = id_of(c, r->id);
	ring_push(s, &c->sq_tail, rec, len);
	{
		uint64_t id = id_of(c, r->id);

		pthread_mutex_unlock(&c->lock);
		return id;
	}
}

int ctx_lock_if_idle(struct veo_thr_ctxt *c)
{
	lock_for_submit(c);
	drain(c);
	if (c->npending == 0 && !proc_dead(c->proc, 0))
		return 1;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

uint64_t ctx_submit_done_locked(struct veo_thr_ctxt *c, const struct req *tmpl)
{
	struct req *r = req_new(c, tmpl);

	if (!r)
		return VEO_REQUEST_ID_INVALID;
	r->state = REQ_DONE;
	return id_of(c, r->id);
}

void ctx_unlock(struct veo_thr_ctxt *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* ---- collecting results ------------------------------------------------ */

/* Waits for a completion past `seen` (the CQ tail the last drain left):
 * with `spin`, only by spinning on the stamp of the entry it would be in
 * (the caller looks again before it sleeps: another thread may have
 * finished its request meanwhile); without, by sleeping on the CQ tail
 * until `until`. Returns 0 if something came, -1 otherwise. Unlocked. */
static int wait_cq(struct veo_thr_ctxt *c, uint32_t seen, uint64_t until, int spin)
{
	struct vp_slot *s = c->slot;

	if (spin) {
		uint64_t now = vp_now_ns(), limit = vp_spin_ns();

		if (until > now && until - now < limit)
			limit = until - now;
		return vp_spin_until(&s->cq_data[seen & (VP_CQ_ENTRIES - 1)].stamp, seen + 1, limit);
	}
	return vp_wait_change(&s->cq.tail, seen, &s->cq.tail_sleepers, until, 0);
}

static int collect(struct veo_thr_ctxt *c, struct req *r, uint64_t *ret)
{
	struct veo_proc_handle *p = c->proc;
	int status = r->status;

	if (ret)
		*ret = r->result;
	if (status == VEO_COMMAND_OK && r->kind == REQ_CALL) {
		for (uint32_t i = 0; i < r->u.call.nout; i++) {
			struct out_copy *o = &r->u.call.outs[i];

			memcpy(o->dst, p->heap_host + o->heap_off, o->len);
		}
	}
	if (status != VEO_COMMAND_OK)
		veo_fail("%s", r->msg ? r->msg : "request failed");
	req_release(c, r);
	return status;
}

int ctx_wait(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret,
             int64_t timeout_us, int peek)
{
	struct veo_proc_handle *p = c->proc;
	uint64_t deadline = timeout_us >= 0 ? vp_now_ns() + (uint64_t)timeout_us * 1000 : 0;
	uint64_t seq = seq_of(c, id);
	int spin = 1;

	if (!seq)
		return VEO_COMMAND_ERROR;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct req *r;
		uint32_t seen;

		drain(c);
		r = req_find(c, seq);
		if (!r) {
			pthread_mutex_unlock(&c->lock);
			veo_fail("request %llu is unknown or already collected",
			         (unsigned long long)id);
			return VEO_COMMAND_ERROR;
		}
		if (r->state == REQ_DONE) {
			int st = collect(c, r, ret);

			pthread_mutex_unlock(&c->lock);
			return st;
		}
		/* A peek asks the kernel too (at most every SLICE_NS), so that
		 * peeking alone notices a worker killed from outside. */
		if (peek ? proc_dead_recheck(p) : proc_dead(p, 0)) {
			fail_pending(c);
			continue;
		}
		if (peek) {
			pthread_mutex_unlock(&c->lock);
			return VEO_COMMAND_UNFINISHED;
		}
		seen = c->cq_seen;
		pthread_mutex_unlock(&c->lock);

		{
			uint64_t now = vp_now_ns(), until = now + SLICE_NS;

			if (deadline && now >= deadline)
				return VEO_COMMAND_UNFINISHED;
			if (deadline && deadline < until)
				until = deadline;
			if (wait_cq(c, seen, until, spin) != 0)
				proc_dead_recheck(p);
		}
		spin = 0;
		pthread_mutex_lock(&c->lock);
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
	pthread_mutex_lock(&c->lock);
	target = c->last_sent;
	for (;;) {
		uint32_t seen;

		drain(c);
		if (c->worker_done >= target)
			break;
		if (proc_dead(p, 0)) {
			fail_pending(c);
			break;
		}
		seen = c->cq_seen;
		pthread_mutex_unlock(&c->lock);
		if (wait_cq(c, seen, vp_now_ns() + SLICE_NS, spin) != 0)
			proc_dead_recheck(p);
		spin = 0;
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
}

void veo_req_block_begin(struct veo_thr_ctxt *c)
{
	if (!ctx_check(c))
		return;
	lock_for_submit(c);
	c->block_owner = pthread_self();
	c->block_held = 1;
	pthread_mutex_unlock(&c->lock);
}

void veo_req_block_end(struct veo_thr_ctxt *c)
{
	if (!ctx_check(c))
		return;
	pthread_mutex_lock(&c->lock);
	if (c->block_held && pthread_equal(c->block_owner, pthread_self())) {
		c->block_held = 0;
		pthread_cond_broadcast(&c->block_cond);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Stack arguments are copied into one heap block now (IN, INOUT) and
 * remembered for the copy back (OUT, INOUT); the record is built by
 * args_encode. */
uint64_t veo_call_async(struct veo_thr_ctxt *c, uint64_t addr, struct veo_args *a)
{
	_Alignas(16) uint8_t buf[VP_CALL_REC_MAX];
	struct req tmpl = { .kind = REQ_CALL, .block = ~0ull };
	struct veo_proc_handle *p;
	uint64_t id, block = 0, stack_bytes;
	uint32_t len;

	if (!ctx_check(c) || !args_check(a))
		return VEO_REQUEST_ID_INVALID;
	p = c->proc;
	if (addr == 0) {
		veo_fail("veo_call_async: function address is 0 (symbol not found?)");
		return VEO_REQUEST_ID_INVALID;
	}
	stack_bytes = args_stack_size(a);
	if (stack_bytes) {
		if (mem_heap_alloc(p, stack_bytes, &block) != 0)
			return VEO_REQUEST_ID_INVALID;
		tmpl.block = block;
		tmpl.u.call.outs = calloc((size_t)a->nstack, sizeof(struct out_copy));
		if (!tmpl.u.call.outs) {
			mem_heap_free(p, block);
			veo_fail("out of memory");
			return VEO_REQUEST_ID_INVALID;
		}
		tmpl.u.call.nout = args_stack_fill(a, p->heap_host + block, block,
		                                   tmpl.u.call.outs);
	}
	len = args_encode(a, addr, p->heap_ve + block, buf);
	id = ctx_submit(c, &tmpl, buf, len);
	if (id == VEO_REQUEST_ID_INVALID && stack_bytes) {
		free(tmpl.u.call.outs);
		mem_heap_free(p, block);
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
	struct req tmpl = { .kind = REQ_VH, .block = ~0ull };
	struct vp_rec rec = { .len = sizeof rec, .op = VP_OP_HOST_ACTION };

	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (!fn) {
		veo_fail("veo_call_async_vh: NULL function");
		return VEO_REQUEST_ID_INVALID;
	}
	tmpl.u.vh.fn = fn;
	tmpl.u.vh.arg = arg;
	return ctx_submit(c, &tmpl, &rec, sizeof rec);
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
