/*
 * context.h: a context (struct veo_thr_ctxt): the host side of one slot's
 * rings and the table of its requests (request.h). Opening, closing and
 * listing contexts is context.c's; what happens to their requests,
 * request.c's.
 *
 * Request ids: the caller sees tag | seq, where tag (the top
 * REQ_TAG_SHIFT.. bits) is taken when a context is opened, from the tags
 * no open context holds, and seq counts its requests from first_seq, where
 * the tag's last holder stopped (request.c): no id is issued twice in the
 * life of the process, so an id of another context, or of an earlier
 * opening, is recognised instead of naming one of this context's
 * requests. The worker echoes the whole id. Inside request.c, the request
 * table, oldest, next_id, last_sent and drain_seq count seq only. A tag is
 * never 0xffff, so no id is VEO_REQUEST_ID_INVALID, and seq starts at 1 or
 * more, so no id is 0.
 */
#ifndef OPENVEO_CONTEXT_H
#define OPENVEO_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "pace.h"
#include "ring.h"

#define CTX_MAGIC  0x63747874u  /* live context */
#define CTX_INHERITED 0x69637478u /* a context of the parent, in a forked child */
#define ATTR_MAGIC 0x61747472u

#define REQ_TAG_SHIFT 48
#define REQ_SEQ_MASK ((1ull << REQ_TAG_SHIFT) - 1)

struct inside_count;
struct veo_proc_handle;
struct req;
struct req_extra;

struct veo_thr_ctxt {
	uint32_t magic;                /* CTX_MAGIC while open; __atomic loads and
	                                * stores: checked while it is cleared */
	struct veo_thr_ctxt *self;     /* set when opened (ctx_check) */
	int in_use;                    /* slot taken (under proc->lock) */
	unsigned slot_idx;
	uint64_t tag;                  /* top bits of this opening's request ids */
	uint64_t first_seq;            /* its first seq: ids below are not its */
	struct veo_proc_handle *proc;
	struct vp_slot *slot;          /* host mapping of the slot */
	struct inside_count *inside;   /* its count (inside.h), once opened */
	struct vlock lock;             /* everything below; type-stable: set up
	                                * once (zero is a free lock), never again
	                                * but in a forked child (proc.c) */
	/* Whether the tables and the proc's mapping may be used: 1 from open
	 * until close or destroy retire the context (request.h, "Late
	 * callers"); written under the lock, read under it (and by destroy,
	 * relaxed, once nobody can open a context). */
	_Atomic int live;
	const char *gone_why;          /* once live is 0: why, for late callers */
	uint32_t pins;                 /* calls that dropped the lock meanwhile */
	pthread_t block_owner;         /* veo_req_block_begin holder */
	int block_held;
	_Atomic uint32_t block_gen;    /* bumped when a block ends: futex word */
	_Atomic uint32_t block_sleepers;
	uint64_t next_id;
	uint32_t npending;             /* submitted to the worker, not done */
	_Atomic int closed;            /* its worker thread has gone (closing) */
	struct req *reqs;              /* ring indexed by id & (cap - 1) */
	struct req_extra *extra;       /* beside it, same index */
	uint64_t cap;
	uint64_t oldest;               /* lowest id that may still be in use */
	uint32_t sq_tail;              /* our copy of the SQ tail */
	uint32_t sq_free;              /* SQ space before this is free (drain) */
	uint64_t drain_seq;            /* first request drain has not taken */
	uint64_t last_sent;            /* last id sent to the worker */
	struct vp_look look;           /* the pause before the first look (req_wait) */
	struct pace pace;              /* how long its kernels run (pace.h) */
};

struct veo_thr_ctxt_attr {
	uint32_t magic;
	size_t stack_size;
};

/* The hidden context veo_call_sync uses, opened on first use; NULL with
 * the error set if it cannot be. */
struct veo_thr_ctxt *ctx_sync_context(struct veo_proc_handle *p);

#endif
