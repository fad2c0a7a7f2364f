/*
 * call.c: the calls of the API that submit a kernel call: by address, by
 * name, a host function in the context's order (veo_call_async_vh), and
 * veo_call_sync on the proc's hidden context. A call's record is encoded
 * straight into the ring (args.h, request.h), by code inline from here to
 * the store that publishes it.
 */
#include <stdlib.h>

#include "args.h"
#include "context.h"
#include "error.h"
#include "inside.h"
#include "mem.h"
#include "output.h"
#include "proc.h"
#include "request.h"

/* The stack arguments of a call, copied into one heap block now (IN,
 * INOUT) and remembered for the copy back (OUT, INOUT) in x. The call does
 * not count itself in its context (request.h, "Late callers"), so this
 * part, which uses the heap outside the context's lock, counts itself in
 * the proc. Returns the block's VE address, or 0 with the error set. */
static uint64_t stack_args(struct veo_thr_ctxt *c, struct veo_args *a, struct req_extra *x)
{
	struct veo_proc_handle *p = c->proc;
	uint64_t block;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return 0;
	if (mem_heap_alloc(p, args_stack_size(a), &block) != 0)
		return 0;
	*x = (struct req_extra){ .block = block };
	x->u.call.outs = calloc((size_t)a->nstack, sizeof(struct out_copy));
	if (!x->u.call.outs) {
		mem_heap_free(p, block);
		error_set("out of memory");
		return 0;
	}
	x->u.call.nout = args_stack_fill(a, p->heap_host + block, block, x->u.call.outs);
	return p->heap_ve + block;
}

/* A call that could not be submitted gives its stack block back. */
static void stack_args_drop(struct veo_thr_ctxt *c, struct req_extra *x)
{
	struct veo_proc_handle *p = c->proc;

	INSIDE(proc_inside(p));
	free(x->u.call.outs);
	if (__atomic_load_n(&p->magic, __ATOMIC_RELAXED) == PROC_MAGIC)
		mem_heap_free(p, x->block);
}

/* The record of a call with its stack arguments at stack_ve (0: none; x
 * their extra part), encoded straight into the ring. */
OPENVEO_INLINE uint64_t submit_call(struct veo_thr_ctxt *c, uint64_t addr, struct veo_args *a,
                                    uint64_t stack_ve, const struct req_extra *x)
{
	uint32_t len = args_record_len(a);
	struct vp_rec *rec = req_submit_begin(c, len);
	uint8_t pace;
	int timed;

	if (!rec)
		return VEO_REQUEST_ID_INVALID;
	pace = pace_submit(&c->pace, addr, c->next_id, &timed);
	args_encode(a, addr, stack_ve, rec);
	rec->flags = timed ? VP_REC_TIMED : 0;
	return req_submit_end(c, REQ_CALL, x, rec, len, pace, timed);
}

/* A call with arguments on the stack: out of the line of the others, so
 * that their frame stays small (an extra part on the stack): callgrind,
 * submit N: 253 -> 236 instructions a call; veo_ab pipelined 34.9 -> 33.2
 * ns, call + wait 151.8 -> 150.7 ns. */
static __attribute__((noinline)) uint64_t call_with_stack(struct veo_thr_ctxt *c,
                                                          uint64_t addr, struct veo_args *a)
{
	struct req_extra x;
	uint64_t id, stack_ve = stack_args(c, a, &x);

	if (!stack_ve)
		return VEO_REQUEST_ID_INVALID;
	id = submit_call(c, addr, a, stack_ve, &x);
	if (id == VEO_REQUEST_ID_INVALID)
		stack_args_drop(c, &x);
	return id;
}

uint64_t veo_call_async(struct veo_thr_ctxt *c, uint64_t addr, struct veo_args *a)
{
	if (!ctx_check(c) || !args_check(a))
		return VEO_REQUEST_ID_INVALID;
	/* What the host printed comes before what the kernel prints. */
	vp_output_flush();
	if (addr == 0) {
		error_set("veo_call_async: function address is 0 (symbol not found?)");
		return VEO_REQUEST_ID_INVALID;
	}
	if (a->nstack)
		return call_with_stack(c, addr, a);
	return submit_call(c, addr, a, 0, NULL);
}

uint64_t veo_call_async_by_name(struct veo_thr_ctxt *c, uint64_t lib,
                                const char *name, struct veo_args *a)
{
	uint64_t addr;

	INSIDE(ctx_inside(c));
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

	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (!fn) {
		error_set("veo_call_async_vh: NULL function");
		return VEO_REQUEST_ID_INVALID;
	}
	x.u.vh.fn = fn;
	x.u.vh.arg = arg;
	return req_submit(c, REQ_VH, &x, &rec, sizeof rec);
}

int veo_call_sync(struct veo_proc_handle *p, uint64_t addr, struct veo_args *a,
                  uint64_t *result)
{
	struct veo_thr_ctxt *c;
	uint64_t id;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	c = ctx_sync_context(p);
	if (!c)
		return -1;
	id = veo_call_async(c, addr, a);
	if (id == VEO_REQUEST_ID_INVALID)
		return -1;
	/* AVEO's convention: 0, or negative for any failure (the message says
	 * whether the kernel crashed or could not run). */
	return req_wait(c, id, result, -1, 0) == VEO_COMMAND_OK ? 0 : -1;
}
