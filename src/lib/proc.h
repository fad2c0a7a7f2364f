/*
 * proc.h: a proc (struct veo_proc_handle): the worker process, the memfd
 * both map (protocol.h), the heap, the symbol cache, why the worker died,
 * and the proc's contexts. Every proc handle is a slot of a static pool
 * that is never freed, and every context handle a slot inside one, so a
 * stale or foreign handle is recognised instead of being dereferenced
 * after free (proc_check, ctx_check).
 */
#ifndef OPENVEO_PROC_H
#define OPENVEO_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "context.h"
#include "heap.h"
#include "inside.h"
#include "protocol.h"
#include "ring.h"
#include "syms.h"
#include "ve_offload.h"

#define VEO_MAX_PROCS 64
#define VEO_MAX_NODES 8

#define PROC_MAGIC 0x70726f63u  /* live proc */
#define PROC_INHERITED 0x696e6872u /* a proc of the parent, in a forked child */

struct veo_proc_handle {
	uint32_t magic;                 /* PROC_MAGIC while live; __atomic loads and
	                                 * stores: checked while it is cleared */
	int ident;                      /* veo_proc_identifier: lowest free */
	pid_t creator;                  /* the process that created it */
	int node;
	pid_t pid;
	int pidfd;
	int pipe_wr;                    /* its closing tells the worker we left */
	int notify_fd;                  /* eventfd the worker writes (notify.c) */
	int completion_fd;              /* epoll of notify_fd and pidfd, or -1 */
	int out_fd[2];                  /* read ends of the worker's stdout and
	                                 * stderr pipes (VEO_PROC_CAPTURE_*), or -1 */
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
	/* Why the worker is gone, written once (death.c, under its lock)
	 * before dead is set, read only after dead was seen set (acquire). */
	struct veo_death_info death;    /* the report, taken apart */
	char death_summary[VP_MSG_MAX]; /* its first line, for later failing calls */
	int death_slot;                 /* the request charged with the death: its */
	uint64_t death_reqid;           /* slot and id (-1, 0: none) */
	pthread_mutex_t lock;           /* ctl slot, contexts list */
	uint64_t ctl_seq;
	struct veo_thr_ctxt *order[VP_MAX_SLOTS]; /* user contexts, open order */
	int nctx_open;
	_Atomic uint64_t last_thorough_ns; /* last liveness system call */
	struct syms syms;               /* the symbol cache */
	uint64_t lib_handle_max;        /* the highest library handle seen (control.c) */
	struct veo_thr_ctxt ctx_store[VP_MAX_SLOTS];
};

/* Every proc handle is a slot of this pool, whose context slots are every
 * context handle. */
extern struct veo_proc_handle proc_pool[VEO_MAX_PROCS];

/* p, if it is a live proc; else NULL, with the error set. */
struct veo_proc_handle *proc_check(struct veo_proc_handle *p);

void ctx_check_fail(const struct veo_thr_ctxt *c);
/* A context handle that may be used: inside the pool, aligned, and an open
 * context that names itself (self rules out a pointer into the middle of
 * another structure). Inline: every call and wait checks one. */
static inline struct veo_thr_ctxt *ctx_check(struct veo_thr_ctxt *c)
{
	uintptr_t a = (uintptr_t)c, lo = (uintptr_t)proc_pool;

	if (a - lo <= sizeof proc_pool - sizeof *c && a % _Alignof(struct veo_thr_ctxt) == 0 &&
	    __atomic_load_n(&c->magic, __ATOMIC_RELAXED) == CTX_MAGIC &&
	    __atomic_load_n(&c->self, __ATOMIC_RELAXED) == c)
		return c;
	ctx_check_fail(c);
	return NULL;
}

/* The counts of threads inside a handle (inside.h), beside the pool: a
 * proc slot is zeroed when it is torn down, and a count must outlive that
 * (a late caller counts itself in and out of a dead handle). */
extern struct inside_count proc_counts[VEO_MAX_PROCS];
extern struct inside_count ctx_counts[VEO_MAX_PROCS][VP_MAX_SLOTS];

/* The count of a pointer that is a proc slot of the pool, or an opened
 * context's slot (a context names itself once opened, and keeps its
 * count's address until its proc slot is torn down); NULL for anything
 * else, whose check then fails. Only pool memory is read. */
static inline struct inside_count *proc_inside(struct veo_proc_handle *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)proc_pool;

	return a - lo < sizeof proc_pool && (a - lo) % sizeof *p == 0
	       ? &proc_counts[(a - lo) / sizeof *p] : NULL;
}

static inline struct inside_count *ctx_inside(struct veo_thr_ctxt *c)
{
	uintptr_t a = (uintptr_t)c, lo = (uintptr_t)proc_pool;

	return a - lo <= sizeof proc_pool - sizeof *c && a % _Alignof(struct veo_thr_ctxt) == 0 &&
	       __atomic_load_n(&c->self, __ATOMIC_RELAXED) == c
	       ? __atomic_load_n(&c->inside, __ATOMIC_RELAXED) : NULL;
}

/* The host mapping of slot idx. The layout is the host's own copy: the
 * header is shared memory, which a kernel could overwrite. */
static inline struct vp_slot *proc_slot(struct veo_proc_handle *p, unsigned idx)
{
	return vp_slot_at(p->base, p->slots_offset, p->slot_stride, idx);
}

/* VE address -> heap offset when [addr, addr+len) is inside the heap range
 * (not necessarily allocated). */
static inline int proc_heap_off(struct veo_proc_handle *p, uint64_t addr,
                                uint64_t len, uint64_t *off)
{
	if (addr < p->heap_ve || addr - p->heap_ve > p->heap_size ||
	    len > p->heap_size - (addr - p->heap_ve))
		return 0;
	*off = addr - p->heap_ve;
	return 1;
}

/* The live proc with identifier ident (veo_proc_identifier), or NULL. */
struct veo_proc_handle *proc_by_ident(int ident);

/* Kills the worker (SIGKILL), through its pidfd when there is one. */
void proc_kill(struct veo_proc_handle *p);

#endif
