/*
 * args.c: struct veo_args, the argument list of a call, kept in the host
 * until the call is submitted (ctx.c copies it into the request record).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct veo_args *args_check(struct veo_args *args)
{
	if (!args || args->magic != ARGS_MAGIC) {
		veo_fail("bad veo_args handle %p", (void *)args);
		return NULL;
	}
	return args;
}

struct veo_args *veo_args_alloc(void)
{
	struct veo_args *a = calloc(1, sizeof *a);

	if (!a) {
		veo_fail("veo_args_alloc: out of memory");
		return NULL;
	}
	a->magic = ARGS_MAGIC;
	return a;
}

void veo_args_clear(struct veo_args *args)
{
	if (!args_check(args))
		return;
	for (int i = 0; i < args->nargs; i++)
		args->a[i].set = 0;
	args->nargs = 0;
	args->nstack = 0;
	args->ret_type = VP_T_U64;
}

void veo_args_free(struct veo_args *args)
{
	if (!args_check(args))
		return;
	args->magic = 0;
	free(args);
}

static int set(struct veo_args *args, int argnum, uint8_t type, uint64_t v)
{
	struct veo_arg *a;

	if (!args_check(args))
		return -1;
	if (argnum < 0 || argnum >= VEO_MAX_NUM_ARGS)
		return veo_fail("argument number %d is out of range (0..%d)", argnum,
		                VEO_MAX_NUM_ARGS - 1);
	a = &args->a[argnum];
	if (a->set && a->type == ARG_STACK)
		args->nstack--;
	for (int i = args->nargs; i < argnum; i++) /* gaps pass as uint64_t 0 */
		args->a[i] = (struct veo_arg){ .type = VP_T_U64 };
	a->type = type;
	a->value = v;
	a->set = 1;
	a->buf = NULL;
	a->len = 0;
	if (argnum >= args->nargs)
		args->nargs = argnum + 1;
	return 0;
}

int veo_args_set_u64(struct veo_args *args, int n, uint64_t v) { return set(args, n, VP_T_U64, v); }
int veo_args_set_i64(struct veo_args *args, int n, int64_t v) { return set(args, n, VP_T_I64, (uint64_t)v); }
int veo_args_set_i32(struct veo_args *args, int n, int32_t v) { return set(args, n, VP_T_I32, (uint64_t)(int64_t)v); }
int veo_args_set_u32(struct veo_args *args, int n, uint32_t v) { return set(args, n, VP_T_U32, v); }
int veo_args_set_i16(struct veo_args *args, int n, int16_t v) { return set(args, n, VP_T_I16, (uint64_t)(int64_t)v); }
int veo_args_set_u16(struct veo_args *args, int n, uint16_t v) { return set(args, n, VP_T_U16, v); }
int veo_args_set_i8(struct veo_args *args, int n, int8_t v) { return set(args, n, VP_T_I8, (uint64_t)(int64_t)v); }
int veo_args_set_u8(struct veo_args *args, int n, uint8_t v) { return set(args, n, VP_T_U8, v); }

int veo_args_set_double(struct veo_args *args, int n, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof bits);
	return set(args, n, VP_T_DOUBLE, bits);
}

int veo_args_set_float(struct veo_args *args, int n, float v)
{
	uint32_t bits;

	memcpy(&bits, &v, sizeof bits);
	return set(args, n, VP_T_FLOAT, bits); /* low 32 bits, as libffi reads it */
}

int veo_args_set_stack(struct veo_args *args, enum veo_args_intent inout,
                       int argnum, char *buf, size_t len)
{
	if (!args_check(args))
		return -1;
	if (inout != VEO_INTENT_IN && inout != VEO_INTENT_INOUT && inout != VEO_INTENT_OUT)
		return veo_fail("veo_args_set_stack: bad intent %d", (int)inout);
	if (!buf && len)
		return veo_fail("veo_args_set_stack: NULL buffer of %zu bytes", len);
	if (set(args, argnum, ARG_STACK, 0) != 0)
		return -1;
	args->a[argnum].intent = (uint8_t)inout;
	args->a[argnum].buf = buf;
	args->a[argnum].len = len;
	args->nstack++;
	return 0;
}

int veo_args_set_result_type(struct veo_args *args, enum veo_result_type type)
{
	static const uint8_t map[] = {
		[VEO_RESULT_U64] = VP_T_U64, [VEO_RESULT_I64] = VP_T_I64,
		[VEO_RESULT_I32] = VP_T_I32, [VEO_RESULT_U32] = VP_T_U32,
		[VEO_RESULT_I16] = VP_T_I16, [VEO_RESULT_U16] = VP_T_U16,
		[VEO_RESULT_I8] = VP_T_I8,   [VEO_RESULT_U8] = VP_T_U8,
		[VEO_RESULT_FLOAT] = VP_T_FLOAT, [VEO_RESULT_DOUBLE] = VP_T_DOUBLE,
		[VEO_RESULT_VOID] = VP_T_VOID,
	};

	if (!args_check(args))
		return -1;
	if ((unsigned)type >= sizeof map)
		return veo_fail("veo_args_set_result_type: bad type %d", (int)type);
	args->ret_type = map[type];
	return 0;
}

/* ---- marshalling: from struct veo_args to a VP_OP_CALL record ----------
 * The stack block holds the stack arguments one after another, each
 * rounded up to 64 bytes (an empty one takes 64 too, so that every stack
 * argument has an address of its own).
 */
static uint64_t stack_slot(const struct veo_arg *g)
{
	return vp_align_up(g->len ? g->len : 1, 64);
}

uint64_t args_stack_size(const struct veo_args *a)
{
	uint64_t total = 0;

	if (a->nstack == 0)
		return 0;
	for (int i = 0; i < a->nargs; i++)
		if (a->a[i].type == ARG_STACK)
			total += stack_slot(&a->a[i]);
	return total;
}

uint32_t args_stack_fill(const struct veo_args *a, char *block_host, uint64_t block_off,
                         struct out_copy *outs)
{
	uint64_t cursor = 0;
	uint32_t nout = 0;

	for (int i = 0; i < a->nargs; i++) {
		const struct veo_arg *g = &a->a[i];

		if (g->type != ARG_STACK)
			continue;
		if (g->intent != VEO_INTENT_OUT)
			memcpy(block_host + cursor, g->buf, g->len);
		else
			memset(block_host + cursor, 0, g->len);
		if (g->intent != VEO_INTENT_IN && g->len)
			outs[nout++] = (struct out_copy){ g->buf, block_off + cursor, g->len };
		cursor += stack_slot(g);
	}
	return nout;
}

uint32_t args_encode(const struct veo_args *a, uint64_t addr, uint64_t stack_ve, void *buf)
{
	struct vp_call *call = buf;
	uint8_t *types = (uint8_t *)(call + 1);
	size_t types_len = vp_align_up((uint64_t)a->nargs, 8);
	uint64_t *values = (uint64_t *)(types + types_len), cursor = 0;
	uint32_t len = (uint32_t)vp_align_up(sizeof *call + types_len + 8 * (size_t)a->nargs,
	                                     VP_REC_ALIGN);

	memset(call, 0, sizeof *call);
	memset(types, 0, types_len);
	call->rec.op = VP_OP_CALL;
	call->rec.len = len;
	call->addr = addr;
	call->nargs = (uint16_t)a->nargs;
	call->ret_type = a->ret_type;
	for (int i = 0; i < a->nargs; i++) {
		const struct veo_arg *g = &a->a[i];

		if (g->type == ARG_STACK) {
			types[i] = VP_T_U64;
			values[i] = stack_ve + cursor;
			cursor += stack_slot(g);
		} else {
			types[i] = g->type;
			values[i] = g->value;
		}
	}
	return len;
}
