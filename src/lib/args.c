/*
 * args.c: struct veo_args, the argument list of a call, kept in the host
 * until the call is submitted (call.c encodes it into the request record,
 * args.h), and the marshalling of its stack arguments.
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "error.h"
#include "handle.h"
#include "hmem.h"

/* ---- argument lists ------------------------------------------------------ */

/* Largest stack argument: far more than any heap, small enough that the
 * sum of VEO_MAX_NUM_ARGS of them, rounded up, cannot overflow. */
#define STACK_ARG_MAX (1ull << 48)

struct veo_args *args_bad(struct veo_args *args)
{
	error_set("bad veo_args handle %p (NULL, freed or not from veo_args_alloc)",
	         (void *)args);
	return NULL;
}

/* Only the header is set: the entries below nargs are the only ones ever
 * read, and set() writes each one before nargs covers it. Zeroing all
 * VEO_MAX_NUM_ARGS entries (8 KiB) was most of the cost of a Python call,
 * which allocates an argument list per call. */
struct veo_args *veo_args_alloc(void)
{
	struct veo_args *a = malloc(sizeof *a);

	if (!a) {
		error_set("veo_args_alloc: out of memory");
		return NULL;
	}
	a->magic = 0;
	a->nargs = 0;
	a->nstack = 0;
	a->ret_type = VP_T_U64;
	if (handle_register(a) != 0) {
		free(a);
		error_set("veo_args_alloc: out of memory");
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
	/* Out of the registry first: of two threads freeing, one frees. */
	if (!args_check(args) || handle_unregister(args) != 0)
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
		return error_set("argument number %d is out of range (0..%d: at most %d "
		                "arguments)", argnum, VEO_MAX_NUM_ARGS - 1, VEO_MAX_NUM_ARGS);
	a = &args->a[argnum];
	if (argnum < args->nargs && a->set && a->type == ARG_STACK)
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
/* An hmem pointer goes to the kernel without its tag: on the VE the
 * hardware ignores the tag's bits, so kernels use such a pointer directly;
 * a host CPU faults on them. In the worker a heap address still counts as
 * a VE address (veo_is_ve_addr), so kernels that test and strip the tag
 * work too (src/worker/kernel_api.c). */
int veo_args_set_hmem(struct veo_args *args, int n, void *hmem)
{
	uint64_t p = (uint64_t)(uintptr_t)hmem;

	return set(args, n, VP_T_U64, hmem_is_ve(p) ? hmem_addr(p) : p);
}

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
		return error_set("veo_args_set_stack: bad intent %d (want VEO_INTENT_IN, "
		                "VEO_INTENT_INOUT or VEO_INTENT_OUT)", (int)inout);
	if (!buf && len)
		return error_set("veo_args_set_stack: NULL buffer of %zu bytes", len);
	if ((uint64_t)len > STACK_ARG_MAX)
		return error_set("veo_args_set_stack: %zu bytes is more than a stack "
		                "argument can hold (%llu)", len, (unsigned long long)STACK_ARG_MAX);
	if (set(args, argnum, ARG_STACK, 0) != 0)
		return -1;
	args->a[argnum].intent = (uint8_t)inout;
	args->a[argnum].buf = buf;
	args->a[argnum].len = len;
	args->nstack++;
	return 0;
}

/* The result types of the API are the protocol's type codes (protocol.h),
 * so a result type goes into the record as it is. */
#define SAME_TYPE(t) ((int)VEO_RESULT_##t == (int)VP_T_##t)
_Static_assert(SAME_TYPE(U64) && SAME_TYPE(I64) && SAME_TYPE(I32) && SAME_TYPE(U32) &&
               SAME_TYPE(I16) && SAME_TYPE(U16) && SAME_TYPE(I8) && SAME_TYPE(U8) &&
               SAME_TYPE(FLOAT) && SAME_TYPE(DOUBLE) && SAME_TYPE(VOID) &&
               (int)VEO_RESULT_VOID + 1 == (int)VP_T_COUNT,
               "enum veo_result_type and enum vp_type agree");
#undef SAME_TYPE

int veo_args_set_result_type(struct veo_args *args, enum veo_result_type type)
{
	if (!args_check(args))
		return -1;
	if ((unsigned)type >= VP_T_COUNT)
		return error_set("veo_args_set_result_type: bad type %d (want a "
		                "VEO_RESULT_* value)", (int)type);
	args->ret_type = (uint8_t)type;
	return 0;
}

/* ---- marshalling: from struct veo_args to a VP_OP_CALL record ----------
 * The stack block holds the stack arguments one after another, each
 * rounded up to 64 bytes (an empty one takes 64 too, so that every stack
 * argument has an address of its own).
 */
uint64_t args_stack_size(const struct veo_args *a)
{
	uint64_t total = 0;

	if (a->nstack == 0)
		return 0;
	for (int i = 0; i < a->nargs; i++)
		if (a->a[i].type == ARG_STACK)
			total += args_stack_slot(&a->a[i]);
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
		if (g->len == 0)
			;       /* buf may be NULL then: nothing to copy */
		else if (g->intent != VEO_INTENT_OUT)
			memcpy(block_host + cursor, g->buf, g->len);
		else
			memset(block_host + cursor, 0, g->len);
		if (g->intent != VEO_INTENT_IN && g->len)
			outs[nout++] = (struct out_copy){ g->buf, block_off + cursor, g->len };
		cursor += args_stack_slot(g);
	}
	return nout;
}
