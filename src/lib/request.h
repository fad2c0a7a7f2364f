/*
 * request.h: the life of a request on a context, from submission to the
 * collected result (request.c). The submission steps and the table entry
 * helpers are inline here because every call runs them (call.c); their
 * slow parts are out of line in request.c.
 *
 * The request table is a ring of struct req indexed by seq & (cap - 1):
 * sequence numbers are handed out in order, and every one that may still
 * be in use lies in [oldest, next_id), a span the table grows to cover.
 */
#ifndef OPENVEO_REQUEST_H
#define OPENVEO_REQUEST_H

#include <stdint.h>

#include "args.h"
#include "context.h"
#include "death.h"
#include "lock.h"
#include "proc.h"
#include "ring.h"

/* For the few small functions of the call path that the compiler would
 * otherwise leave out of line because they have several callers. */
#define OPENVEO_INLINE static inline __attribute__((always_inline))

enum req_kind {
	REQ_CALL = 1,
	REQ_HEAP_READ,     /* host copies heap -> dst at the worker's signal */
	REQ_HEAP_WRITE,    /* host copies src -> heap at the worker's signal */
	REQ_BOUNCE_READ,   /* worker fills a bounce block; host copies it out */
	REQ_BOUNCE_WRITE,  /* worker copies a bounce block out */
	REQ_ALLOC,
	REQ_FREE,
	REQ_VH,
	REQ_CLOSE,
};

enum req_state { REQ_UNUSED = 0, REQ_PENDING, REQ_DONE };

/* A request in the table: 24 bytes, so that the table of a context with
 * 100000 calls in flight stays small. seq is the low 32 bits of the
 * request's sequence number (the table never spans 2^32); pos is where
 * its record starts in the SQ (free-running), where its answer in place
 * comes (ring.h). */
struct req {
	uint64_t result;
	uint32_t seq;
	uint32_t pos;
	uint8_t state;           /* enum req_state */
	uint8_t kind;            /* enum req_kind */
	int8_t status;           /* enum veo_command_state once done */
	uint8_t has_extra;       /* the entry of the extra table is in use */
	uint8_t pace;            /* a call: its function's estimate, index + 1
	                          * in c->pace (pace.h); 0 otherwise */
	uint8_t timed;           /* the worker times it (VP_REC_TIMED) */
};
_Static_assert(sizeof(struct req) == 24, "the table of many requests stays small");

/* What only some requests have, in a second table at the same index:
 * what a submission needs done at completion, and a failure's message. A
 * plain call (no stack arguments) that succeeds never touches it. */
struct req_extra {
	char *msg;               /* malloc'd message of a failure, or NULL */
	uint64_t block;          /* heap offset of a block to free, or ~0 */
	/* Run when the worker answered with success, lock held: the
	 * submitter's part of completing the request (mem.c). Returns
	 * VEO_COMMAND_OK, or VEO_COMMAND_ERROR with a message in msg
	 * (VP_NOTE_MSG + 1 bytes). NULL: nothing to do. */
	int (*finish)(struct veo_thr_ctxt *c, struct req_extra *x, char *msg);
	union {
		struct { uint32_t nout; struct out_copy *outs; } call;
		struct { char *host; uint64_t heap_off; uint64_t len; } xfer;
		struct { uint64_t (*fn)(void *); void *arg; } vh;
		struct { uint64_t addr; uint64_t size; } mem;
	} u;
};

/* A context's request state, when it is opened in slot idx (rings reset,
 * an empty table, a fresh tag) and when it is closed. */
int req_ctx_init(struct veo_proc_handle *p, struct veo_thr_ctxt *c, unsigned idx);
void req_ctx_release(struct veo_thr_ctxt *c);

/* Late callers. The calls of the hot path (veo_call_async and the waits
 * for results) do not count themselves in the context (inside.h): a count
 * costs them more than the rest of their checks. Instead they use the
 * context's tables and its proc's mapping only while holding the context
 * lock, and check `live` right after their first take of it; wherever they
 * drop the lock and take it again (waiting for an answer, a host action),
 * they hold a pin meanwhile. Close and destroy first set why the context
 * ends (c->closed, or the proc's dead), then retire it: live = 0 under the
 * lock, and wait until no pin is held; only then are its tables freed and
 * the mapping unmapped. A late caller that takes the lock after that finds
 * live 0 and fails with gone_why, touching nothing else; one that held
 * the lock or a pin before sees the reason and fails its requests as any
 * waiter does. The context's memory itself is a pool slot: it stays. */
void req_ctx_live(struct veo_thr_ctxt *c);
void req_ctx_retire(struct veo_thr_ctxt *c, const char *why);
/* In a forked child: the tables of an inherited context freed, and nothing
 * else (no heap block given back: the heap is the parent's). */
void req_ctx_forget(struct veo_thr_ctxt *c);

/* Submits a request of a kind (enum req_kind): a table entry, with x as
 * its extra part (NULL: none), and a copy of the record rec (len bytes,
 * starting with a struct vp_rec whose reqid this fills in) in the SQ.
 * Returns the id, or VEO_REQUEST_ID_INVALID with the error set. Takes
 * c->lock. */
uint64_t req_submit(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                    void *rec, uint32_t len);
/* Waits for request id: timeout_us < 0 waits for ever, peek does not wait.
 * Returns the enum veo_command_state; the result goes to *ret. */
int req_wait(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret, int64_t timeout_us,
             int peek);
/* Holds c->lock while the context's queue is empty: returns 1 with the
 * lock held if idle (the caller then runs the operation inline, calls
 * req_done_locked and req_unlock), 0 without the lock otherwise. */
int req_lock_if_idle(struct veo_thr_ctxt *c);
uint64_t req_done_locked(struct veo_thr_ctxt *c, int kind);
void req_unlock(struct veo_thr_ctxt *c);

/* ---- inline: the submission path of every call ---------------------------- */

static inline uint64_t req_id_of(const struct veo_thr_ctxt *c, uint64_t seq)
{
	return c->tag | seq;
}

static inline struct req_extra *req_extra_of(struct veo_thr_ctxt *c, const struct req *r)
{
	return &c->extra[r - c->reqs];
}

int req_table_grow(struct veo_thr_ctxt *c);

/* Whether the table has an entry for the next seq (grows it if needed). */
OPENVEO_INLINE int req_room(struct veo_thr_ctxt *c)
{
	return c->next_id - c->oldest < c->cap || req_table_grow(c) == 0;
}

/* A new table entry of kind, state pending, for the next seq (req_room
 * said there is one), whose record is at pos; x, if not NULL, is its
 * extra part; pace and timed as in struct req. */
OPENVEO_INLINE struct req *req_new(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                                   uint32_t pos, uint8_t pace, int timed)
{
	struct req *r = &c->reqs[c->next_id & (c->cap - 1)];

	*r = (struct req){ .seq = (uint32_t)c->next_id, .pos = pos, .state = REQ_PENDING,
	                   .kind = (uint8_t)kind, .has_extra = x != NULL, .pace = pace,
	                   .timed = (uint8_t)timed };
	if (x)
		*req_extra_of(c, r) = *x;
	c->next_id++;
	return r;
}

/* Unlocks c, retired (live 0): the error says why. */
void req_gone(struct veo_thr_ctxt *c);

/* Takes the lock of c for a call that did not count itself in (Late
 * callers, above): 1 with it held if c may be used, 0 unlocked with the
 * error set if not. */
OPENVEO_INLINE int req_lock_live(struct veo_thr_ctxt *c)
{
	vlock_take(&c->lock);
	if (__builtin_expect(atomic_load_explicit(&c->live, memory_order_relaxed), 1))
		return 1;
	req_gone(c);
	return 0;
}

/* With the lock held: waits, dropping it meanwhile, until no other thread
 * holds a request block (veo_req_block_begin). */
void req_wait_block_end(struct veo_thr_ctxt *c);

OPENVEO_INLINE int req_lock_for_submit(struct veo_thr_ctxt *c)
{
	if (!req_lock_live(c))
		return 0;
	if (c->block_held)
		req_wait_block_end(c);
	return 1;
}

/* Whether the SQ has room for a record of len bytes and `more` besides.
 * Room is what drain has taken the answers of: the space of a record is
 * free once its answer has been read. */
static inline int req_sq_room(const struct veo_thr_ctxt *c, uint32_t len, uint32_t more)
{
	return VP_SQ_BYTES - (c->sq_tail - c->sq_free) >= ring_need(c->sq_tail, len) + more;
}

/* Submitting is two steps, so that a call's record is built where the
 * worker reads it, in the ring, without a copy. req_submit_begin takes the
 * lock, waits for room for a record of len bytes and reserves it
 * (ring_reserve); NULL, unlocked, if the proc is dead. The caller writes
 * the record there, all but its len and reqid, and req_submit_end makes
 * the request's table entry (kind, extra part x or NULL; a call's pace
 * entry and timing, pace.h, or 0), writes the id and publishes the
 * record, then unlocks. If there is no memory for the
 * entry, the record stays unpublished: the next submission overwrites it.
 * req_submit_wait_room is req_submit_begin when the ring is full or the
 * proc looks dead. */
struct vp_rec *req_submit_wait_room(struct veo_thr_ctxt *c, uint32_t len);

OPENVEO_INLINE struct vp_rec *req_submit_begin(struct veo_thr_ctxt *c, uint32_t len)
{
	if (!req_lock_for_submit(c))
		return NULL;
	if (!death_now(c->proc) && req_sq_room(c, len, 0))
		return ring_reserve(c->slot, &c->sq_tail, len);
	return req_submit_wait_room(c, len);
}

OPENVEO_INLINE uint64_t req_submit_end(struct veo_thr_ctxt *c, int kind,
                                       const struct req_extra *x, struct vp_rec *rec,
                                       uint32_t len, uint8_t pace, int timed)
{
	uint64_t seq = c->next_id, id = req_id_of(c, seq);
	uint32_t pos = c->sq_tail;

	if (!req_room(c)) {
		vlock_give(&c->lock);
		return VEO_REQUEST_ID_INVALID;
	}
	rec->reqid = id;
	ring_publish(c->slot, &c->sq_tail, rec, len);
	/* The table entry after the record: the worker may start at once,
	 * and only host threads read the table, under the lock we hold. */
	req_new(c, kind, x, pos, pace, timed);
	c->npending++;
	c->last_sent = seq;
	vlock_give(&c->lock);
	return id;
}

#endif
