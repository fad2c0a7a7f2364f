/*
 * internal.h: libveo's own structures. A proc owns the worker process, the
 * shared memfd, the heap and its contexts; a context owns the host side of
 * one slot's rings and the table of its requests. See protocol.h for what
 * is shared with the worker.
 */
#ifndef OPENVEO_INTERNAL_H
#define OPENVEO_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "ve_offload.h"
#include "heap.h"
#include "lock.h"
#include "protocol.h"

#define VEO_MAX_PROCS 64
#define VEO_MAX_NODES 8

#define PROC_MAGIC 0x70726f63u  /* live proc */
#define CTX_MAGIC  0x63747874u  /* live context */
#define ARGS_MAGIC 0x61726773u
#define ATTR_MAGIC 0x61747472u

/* ---- errors (error.c) ---- */
/* Records the calling thread's last error and prints it unless silenced.
 * Returns -1 so that failure paths can `return veo_fail(...)`. */
int veo_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void veo_set_error_text(const char *msg); /* without printing */

/* ---- live malloc'ed handles (args.c): veo_args, veo_thr_ctxt_attr ----
 * register on allocation, unregister (0, or -1 if not registered) before
 * freeing; handle_live tells whether p may be dereferenced. It is on every
 * call's path, so its common case is inline: the handle this thread found
 * live last, while no handle has been unregistered since (handle_frees
 * counts unregistrations). */
#define OPENVEO_HIDDEN __attribute__((visibility("hidden")))
/* For the few small functions of the call path that the compiler would
 * otherwise leave out of line because they have several callers. */
#define OPENVEO_INLINE static inline __attribute__((always_inline))
struct handle_memo {
	const void *live;        /* the handle this thread found live last */
	uint64_t frees;          /* handle_frees then */
};
extern OPENVEO_HIDDEN _Thread_local struct handle_memo handle_memo;
extern OPENVEO_HIDDEN _Atomic uint64_t handle_frees;
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

/* ---- arguments (args.c) ---- */
struct veo_arg {
	uint8_t type;        /* enum vp_type, or ARG_STACK */
	uint8_t intent;      /* for ARG_STACK */
	uint8_t set;
	uint64_t value;
	char *buf;           /* ARG_STACK */
	size_t len;
};
#define ARG_STACK 0xff

struct veo_args {
	uint32_t magic;
	int nargs;           /* highest set argnum + 1 */
	uint8_t ret_type;    /* enum vp_type */
	int nstack;
	struct veo_arg a[VEO_MAX_NUM_ARGS];
};
/* args, if it is a live argument list; else NULL, with the error set. */
struct veo_args *args_bad(struct veo_args *args);
static inline struct veo_args *args_check(struct veo_args *args)
{
	return handle_live(args) && args->magic == ARGS_MAGIC ? args : args_bad(args);
}

struct out_copy;
/* Marshalling (args.c): bytes of the block holding the stack arguments;
 * filling it (IN and INOUT data copied in, OUT zeroed) and listing the
 * copies back into outs[] (returns how many); the length of the VP_OP_CALL
 * record (at most VP_CALL_REC_MAX); the record itself, written at rec
 * (in the ring: see ctx.c) whose stack arguments point into the block at
 * VE address stack_ve. args_encode writes everything but the header's len
 * and reqid, which the submitter writes when it publishes the record. */
uint64_t args_stack_size(const struct veo_args *a);
uint32_t args_stack_fill(const struct veo_args *a, char *block_host, uint64_t block_off,
                         struct out_copy *outs);
static inline uint32_t args_record_len(const struct veo_args *a)
{
	return (uint32_t)vp_align_up(sizeof(struct vp_call) + vp_align_up((uint64_t)a->nargs, 8) +
	                             8 * (uint64_t)a->nargs, VP_REC_ALIGN);
}
/* The room of a stack argument in the block (args.c). */
static inline uint64_t args_stack_slot(const struct veo_arg *g)
{
	return vp_align_up(g->len ? g->len : 1, 64);
}
/* Inline: it is in every call's path. */
static inline void args_encode(const struct veo_args *a, uint64_t addr, uint64_t stack_ve,
                               void *rec)
{
	struct vp_call *call = rec;
	uint8_t *types = (uint8_t *)(call + 1);
	size_t types_len = vp_align_up((uint64_t)a->nargs, 8);
	uint64_t *values = (uint64_t *)(types + types_len), cursor = 0;

	/* The header's len and reqid are the submitter's: len is 0 until it
	 * publishes the record, and stays so here. */
	*call = (struct vp_call){ .rec = { .op = VP_OP_CALL }, .addr = addr,
	                          .nargs = (uint16_t)a->nargs, .ret_type = a->ret_type };
	for (size_t i = (size_t)a->nargs; i < types_len; i++) /* the padding */
		types[i] = 0;
	for (int i = 0; i < a->nargs; i++) {
		const struct veo_arg *g = &a->a[i];

		if (g->type == ARG_STACK) {
			types[i] = VP_T_U64;
			values[i] = stack_ve + cursor;
			cursor += args_stack_slot(g);
		} else {
			types[i] = g->type;
			values[i] = g->value;
		}
	}
}

struct veo_thr_ctxt_attr {
	uint32_t magic;
	size_t stack_size;
};

/* ---- requests ---- */
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

struct out_copy {
	char *dst;
	uint64_t heap_off;
	size_t len;
};

/* A request in the table: 24 bytes, so that the table of a context with
 * 100000 calls in flight stays small. seq is the low 32 bits of the
 * request's sequence number (the table never spans 2^32); pos is where
 * its record starts in the SQ (free-running), where its answer in place
 * comes (protocol.h). */
struct req {
	uint64_t result;
	uint32_t seq;
	uint32_t pos;
	uint8_t state;           /* enum req_state */
	uint8_t kind;            /* enum req_kind */
	int8_t status;           /* enum veo_command_state once done */
	uint8_t has_extra;       /* the entry of the extra table is in use */
};

/* What only some requests have, in a second table at the same index:
 * what a submission needs done at completion, and a failure's message. A
 * plain call (no stack arguments) that succeeds never touches it. */
struct req_extra {
	char *msg;               /* malloc'd message of a failure, or NULL */
	uint64_t block;          /* heap offset of a block to free, or ~0 */
	union {
		struct { uint32_t nout; struct out_copy *outs; } call;
		struct { char *host; uint64_t heap_off; uint64_t len; } xfer;
		struct { uint64_t (*fn)(void *); void *arg; } vh;
		struct { uint64_t addr; } mem;
	} u;
};

/* ---- contexts (ctx.c) ----
 * Request ids: the caller sees tag | seq, where seq counts the context's
 * requests from 1 and tag (the top REQ_TAG_SHIFT.. bits) is drawn afresh
 * each time a context is opened, so an id of another context, or of an
 * earlier context in the same slot, is recognised instead of naming one
 * of this context's requests. The worker echoes the whole id. Inside
 * ctx.c, the request table, oldest, next_id, last_sent and drain_seq
 * count seq only. A tag is never 0xffff, so no id is
 * VEO_REQUEST_ID_INVALID, and seq starts at 1, so no id is 0.
 */
#define REQ_TAG_SHIFT 48
#define REQ_SEQ_MASK ((1ull << REQ_TAG_SHIFT) - 1)

struct veo_thr_ctxt {
	uint32_t magic;
	struct veo_thr_ctxt *self;     /* set when opened (ctx_check) */
	int in_use;                    /* slot taken (under proc->lock) */
	unsigned slot_idx;
	uint64_t tag;                  /* top bits of this opening's request ids */
	struct veo_proc_handle *proc;
	struct vp_slot *slot;          /* host mapping of the slot */
	struct vlock lock;             /* everything below */
	pthread_t block_owner;         /* veo_req_block_begin holder */
	int block_held;
	_Atomic uint32_t block_gen;    /* bumped when a block ends: futex word */
	_Atomic uint32_t block_sleepers;
	uint64_t next_id;
	uint32_t npending;             /* submitted to the worker, not done */
	struct req *reqs;              /* ring indexed by id & (cap - 1) */
	struct req_extra *extra;       /* beside it, same index */
	uint64_t cap;
	uint64_t oldest;               /* lowest id that may still be in use */
	uint32_t sq_tail;              /* our copy of the SQ tail */
	uint32_t sq_free;              /* SQ space before this is free (drain) */
	uint64_t drain_seq;            /* first request drain has not taken */
	uint64_t last_sent;            /* last id sent to the worker */
};

/* ---- procs (proc.c) ---- */
struct sym_entry {
	struct sym_entry *next;
	uint64_t lib;
	uint64_t addr;
	char name[];
};

#define SYM_BUCKETS 256

struct veo_proc_handle {
	uint32_t magic;
	int ident;                      /* veo_proc_identifier */
	int node;
	pid_t pid;
	int pidfd;
	int pipe_wr;                    /* its closing tells the worker we left */
	int memfd;
	char *base;                     /* host mapping of the memfd */
	uint64_t size;
	struct vp_shm_header *hdr;
	uint64_t slots_offset;          /* the layout, as the host wrote it into */
	uint64_t slot_stride;           /* hdr (never read back from there) */
	char *heap_host;                /* host address of heap offset 0 */
	uint64_t heap_ve;               /* VE address of heap offset 0 */
	uint64_t heap_size;
	struct heap heap;
	_Atomic int dead;               /* worker gone: crashed, killed, exited */
	/* Why the worker is gone, written once (under pool_lock) before dead
	 * is set, read only after dead was seen set (acquire). */
	struct veo_death_info death;    /* the report, taken apart */
	char death_summary[VP_MSG_MAX]; /* its first line, for later failing calls */
	pthread_mutex_t lock;           /* ctl slot, contexts list */
	uint64_t ctl_seq;
	struct veo_thr_ctxt *order[VP_MAX_SLOTS]; /* user contexts, open order */
	int nctx_open;
	_Atomic uint64_t last_thorough_ns; /* last liveness system call */
	pthread_mutex_t sym_lock;       /* the symbol cache (taken inside lock and pool_lock) */
	struct sym_entry *syms[SYM_BUCKETS];
	struct veo_thr_ctxt ctx_store[VP_MAX_SLOTS];
};

/* The host mapping of slot idx. The layout is the host's own copy: the
 * header is shared memory, which a kernel could overwrite. */
static inline struct vp_slot *proc_slot(struct veo_proc_handle *p, unsigned idx)
{
	return vp_slot_at(p->base, p->slots_offset, p->slot_stride, idx);
}

struct veo_proc_handle *proc_check(struct veo_proc_handle *p);

/* Every proc handle is a slot of this pool (proc.c), whose context slots
 * are every context handle. */
extern struct veo_proc_handle proc_pool[VEO_MAX_PROCS];
void ctx_check_fail(const struct veo_thr_ctxt *c);

/* A context handle that may be used: inside the pool, aligned, and an open
 * context that names itself (self rules out a pointer into the middle of
 * another structure). Inline: every call and wait checks one. */
static inline struct veo_thr_ctxt *ctx_check(struct veo_thr_ctxt *c)
{
	uintptr_t a = (uintptr_t)c, lo = (uintptr_t)proc_pool;

	if (a - lo <= sizeof proc_pool - sizeof *c && a % _Alignof(struct veo_thr_ctxt) == 0 &&
	    c->magic == CTX_MAGIC && c->self == c)
		return c;
	ctx_check_fail(c);
	return NULL;
}

/* Checks whether the worker still lives; marks the proc dead if not.
 * `thorough` also asks the kernel (a system call). Returns 1 if dead. */
int proc_dead(struct veo_proc_handle *p, int thorough);
/* proc_dead, thorough when the last system call is older than
 * PROC_RECHECK_NS: what every call that must not act on a dead worker
 * uses, so that a worker killed from outside is noticed within that. */
#define PROC_RECHECK_NS 20000000ull
int proc_dead_recheck(struct veo_proc_handle *p);
/* proc_dead(p, 0) without a call while the worker is fine: for the
 * submission and wait paths. */
static inline int proc_dead_now(struct veo_proc_handle *p)
{
	if (!atomic_load_explicit(&p->dead, memory_order_acquire) &&
	    atomic_load_explicit(&p->hdr->worker_state, memory_order_relaxed) < VP_WORKER_CRASHED)
		return 0;
	return proc_dead(p, 0);
}
/* Kills the worker (SIGKILL), through its pidfd when there is one. */
void proc_kill(struct veo_proc_handle *p);
/* Why the proc died, in one line (for calls made after the death). */
const char *proc_death_msg(struct veo_proc_handle *p);
/* The whole report: the line above, then the backtrace of a crash (for
 * the request that was running). */
const char *proc_death_report(struct veo_proc_handle *p);

/* A control command: writes the record to slot 0 and waits for its
 * answer. Returns the vp_status; *result is filled; on error the
 * message is in msg. Takes p->lock. */
int proc_control(struct veo_proc_handle *p, struct vp_rec *rec, uint32_t len,
                 uint64_t *result, char *msg, size_t msglen);

/* Heap address helpers: VE address -> heap offset when [addr, addr+len)
 * is inside the heap range (not necessarily allocated). */
static inline int proc_heap_off(struct veo_proc_handle *p, uint64_t addr,
                                uint64_t len, uint64_t *off)
{
	if (addr < p->heap_ve || addr - p->heap_ve > p->heap_size ||
	    len > p->heap_size - (addr - p->heap_ve))
		return 0;
	*off = addr - p->heap_ve;
	return 1;
}

/* ---- context internals used by proc.c and mem.c ---- */
int ctx_init(struct veo_proc_handle *p, struct veo_thr_ctxt *c, unsigned idx,
             size_t stack_size);
void ctx_release(struct veo_thr_ctxt *c);

/* Submits a request of a kind (enum req_kind): a table entry, with x as
 * its extra part (NULL: none), and the record rec (len bytes, starting
 * with a struct vp_rec whose reqid this fills in) in the SQ. Returns the
 * id, or VEO_REQUEST_ID_INVALID. Takes c->lock. */
uint64_t ctx_submit(struct veo_thr_ctxt *c, int kind, const struct req_extra *x,
                    void *rec, uint32_t len);
int ctx_wait(struct veo_thr_ctxt *c, uint64_t id, uint64_t *ret,
             int64_t timeout_us, int peek);
/* Holds c->lock while the context's queue is empty: returns 1 with the
 * lock held if idle (caller then runs the operation inline and calls
 * ctx_submit_done_locked + unlock), 0 without the lock otherwise. */
int ctx_lock_if_idle(struct veo_thr_ctxt *c);
uint64_t ctx_submit_done_locked(struct veo_thr_ctxt *c, int kind);
void ctx_unlock(struct veo_thr_ctxt *c);

/* The hidden context used by veo_call_sync. */
struct veo_thr_ctxt *proc_sync_ctx(struct veo_proc_handle *p);

/* ---- memory (mem.c) ---- */
/* Allocates a heap block for a request (stack arguments, bounce buffer). */
int mem_heap_alloc(struct veo_proc_handle *p, uint64_t size, uint64_t *off);
void mem_heap_free(struct veo_proc_handle *p, uint64_t off);
/* Copies n bytes from a heap block to the caller's buffer (to_host) or
 * back, through the kernel so that a bad host buffer is -1, not a crash. */
int mem_host_copy(void *heap, char *host, size_t n, int to_host);
/* Run the hook registered for api_func, if any (hooks.c). */
void hooks_run(void *api_func, void *obj, uint64_t addr, size_t size, int with_size);

#endif
