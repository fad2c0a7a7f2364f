/*
 * args.h: struct veo_args, a call's argument list as the host keeps it, and
 * its marshalling into a VP_OP_CALL record (protocol.h). args_encode is
 * inline: it is on every call's path (call.c).
 */
#ifndef OPENVEO_ARGS_H
#define OPENVEO_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "protocol.h"
#include "ve_offload.h"

#define ARGS_MAGIC 0x61726773u

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

/* A stack argument's copy back to the caller once the call is done (OUT,
 * INOUT): from the heap block at heap_off to dst. */
struct out_copy {
	char *dst;
	uint64_t heap_off;
	size_t len;
};

/* Marshalling: bytes of the block holding the stack arguments; filling it
 * (IN and INOUT data copied in, OUT zeroed) and listing the copies back
 * into outs[] (returns how many); the length of the VP_OP_CALL record (at
 * most VP_CALL_REC_MAX); the record itself, written at rec (in the ring:
 * see call.c) whose stack arguments point into the block at VE address
 * stack_ve. args_encode writes everything but the header's len and reqid,
 * which the submitter writes when it publishes the record. */
uint64_t args_stack_size(const struct veo_args *a);
uint32_t args_stack_fill(const struct veo_args *a, char *block_host, uint64_t block_off,
                         struct out_copy *outs);
static inline uint32_t args_record_len(const struct veo_args *a)
{
	return (uint32_t)vp_align_up(sizeof(struct vp_call) + vp_align_up((uint64_t)a->nargs, 8) +
	                             8 * (uint64_t)a->nargs, VP_REC_ALIGN);
}
/* The room of a stack argument in the block. */
static inline uint64_t args_stack_slot(const struct veo_arg *g)
{
	return vp_align_up(g->len ? g->len : 1, 64);
}
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

#endif
