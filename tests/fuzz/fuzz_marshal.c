/*
 * fuzz_marshal.c: libFuzzer target for argument marshalling, from the
 * public setters to what the worker hands libffi.
 *
 * The input is a little program: a sequence of setter calls (every integer
 * width, float, double, stack buffers IN/OUT/INOUT, the result type,
 * clear), with argument numbers, intents and buffers both valid and not.
 * Alongside, a model keeps what ve_offload.h says the arguments now are.
 * Each setter must return 0 exactly when the model says the call is
 * valid. Then (at a MARSHAL step, and at the end) the arguments are
 * marshalled as veo_call_async does (args_stack_size, args_stack_fill,
 * args_encode), the record goes through the worker's slot_check_record
 * and dispatch_decode, and everything must round-trip: the number of
 * arguments, each type code and value as libffi will read it, the result
 * type, stack arguments pointing into the stack block at 64-byte-aligned
 * offsets that do not overlap, the block holding each IN/INOUT buffer's
 * bytes and zeros for OUT, and the copy-back list naming exactly the
 * INOUT and OUT buffers. Any difference aborts.
 */
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "args.h"
#include "worker.h"

enum op {
	OP_I8, OP_U8, OP_I16, OP_U16, OP_I32, OP_U32, OP_I64, OP_U64,
	OP_FLOAT, OP_DOUBLE, OP_STACK, OP_RESULT, OP_CLEAR, OP_BAD_HANDLE,
	OP_MARSHAL, OP_COUNT
};

#define NBUF 4
#define BUFSZ 512

/* What an argument is, according to the API's documentation. */
struct marg {
	uint8_t type;       /* enum vp_type, or ARG_STACK */
	uint64_t value;     /* scalar: the value, in its type's low bytes */
	int intent;
	char *buf;
	size_t len;
};

struct model {
	int nargs;          /* highest set argnum + 1 */
	uint8_t ret;        /* enum vp_type */
	struct marg a[VEO_MAX_NUM_ARGS];
};

static const uint8_t result_map[] = {
	[VEO_RESULT_U64] = VP_T_U64, [VEO_RESULT_I64] = VP_T_I64,
	[VEO_RESULT_I32] = VP_T_I32, [VEO_RESULT_U32] = VP_T_U32,
	[VEO_RESULT_I16] = VP_T_I16, [VEO_RESULT_U16] = VP_T_U16,
	[VEO_RESULT_I8] = VP_T_I8,   [VEO_RESULT_U8] = VP_T_U8,
	[VEO_RESULT_FLOAT] = VP_T_FLOAT, [VEO_RESULT_DOUBLE] = VP_T_DOUBLE,
	[VEO_RESULT_VOID] = VP_T_VOID,
};

/* Bytes of a scalar of each type code as libffi reads it. */
static size_t type_size(uint8_t t)
{
	switch (t) {
	case VP_T_U64: case VP_T_I64: case VP_T_DOUBLE: return 8;
	case VP_T_I32: case VP_T_U32: case VP_T_FLOAT: return 4;
	case VP_T_I16: case VP_T_U16: return 2;
	case VP_T_I8: case VP_T_U8: return 1;
	default: return 0;
	}
}

static void model_clear(struct model *m)
{
	m->nargs = 0;
	m->ret = VP_T_U64;
}

/* A valid set of argument n: the gaps below it become u64 0. */
static void model_set(struct model *m, int n, struct marg a)
{
	for (int i = m->nargs; i < n; i++)
		m->a[i] = (struct marg){ .type = VP_T_U64 };
	m->a[n] = a;
	if (n >= m->nargs)
		m->nargs = n + 1;
}

/* Argument numbers: mostly near the valid range, sometimes extreme. */
static int take_argnum(struct fuzz_in *in)
{
	static const int extreme[] = { INT_MIN, -1, VEO_MAX_NUM_ARGS, VEO_MAX_NUM_ARGS + 1,
	                               INT_MAX, 65536, -65536, 1 << 30 };
	uint16_t raw = (uint16_t)fuzz_take(in, 2);

	if (raw >= 0xfff0)
		return extreme[raw % (sizeof extreme / sizeof extreme[0])];
	return (int)(raw % (VEO_MAX_NUM_ARGS + 8)) - 4;
}

static int argnum_ok(int n)
{
	return n >= 0 && n < VEO_MAX_NUM_ARGS;
}

/* After a failing setter, the message must say something. */
static void check_result(int rc, int valid, const char *what, int n)
{
	FUZZ_CHECK(rc == (valid ? 0 : -1), "%s(argnum %d) returned %d, %s expected", what, n,
	           rc, valid ? "0" : "-1");
	if (!valid)
		FUZZ_CHECK(veo_last_error()[0] != '\0', "%s failed without a message", what);
}

static void set_scalar(struct veo_args *args, struct model *m, enum op op,
                       struct fuzz_in *in)
{
	static const char *const names[] = { "i8", "u8", "i16", "u16", "i32", "u32",
	                                     "i64", "u64", "float", "double" };
	static const uint8_t types[] = { VP_T_I8, VP_T_U8, VP_T_I16, VP_T_U16, VP_T_I32,
	                                 VP_T_U32, VP_T_I64, VP_T_U64, VP_T_FLOAT,
	                                 VP_T_DOUBLE };
	int n = take_argnum(in), rc = -1;
	uint64_t v = fuzz_take(in, 8);
	float f;
	double d;

	switch (op) {
	case OP_I8: rc = veo_args_set_i8(args, n, (int8_t)v); break;
	case OP_U8: rc = veo_args_set_u8(args, n, (uint8_t)v); break;
	case OP_I16: rc = veo_args_set_i16(args, n, (int16_t)v); break;
	case OP_U16: rc = veo_args_set_u16(args, n, (uint16_t)v); break;
	case OP_I32: rc = veo_args_set_i32(args, n, (int32_t)v); break;
	case OP_U32: rc = veo_args_set_u32(args, n, (uint32_t)v); break;
	case OP_I64: rc = veo_args_set_i64(args, n, (int64_t)v); break;
	case OP_U64: rc = veo_args_set_u64(args, n, v); break;
	case OP_FLOAT: {
		uint32_t bits = (uint32_t)v;

		memcpy(&f, &bits, sizeof f); /* any bit pattern, NaNs included */
		rc = veo_args_set_float(args, n, f);
		break;
	}
	case OP_DOUBLE:
		memcpy(&d, &v, sizeof d);
		rc = veo_args_set_double(args, n, d);
		break;
	default:
		abort();
	}
	check_result(rc, argnum_ok(n), names[op], n);
	if (argnum_ok(n))
		model_set(m, n, (struct marg){ .type = types[op], .value = v });
}

static void set_stack(struct veo_args *args, struct model *m, struct fuzz_in *in,
                      char bufs[NBUF][BUFSZ])
{
	static const int intents[] = { VEO_INTENT_IN, VEO_INTENT_INOUT, VEO_INTENT_OUT, 3, -1 };
	int n = take_argnum(in);
	int intent = intents[fuzz_take(in, 1) % 5];
	unsigned which = (unsigned)fuzz_take(in, 1) % (NBUF + 1);
	size_t off = (size_t)fuzz_take(in, 2) % BUFSZ;
	size_t len = (size_t)fuzz_take(in, 2) % (BUFSZ + 1);
	char *buf = NULL;
	int valid, rc;

	if (which < NBUF) {       /* a host buffer: len stays inside it */
		buf = bufs[which] + off;
		if (len > BUFSZ - off)
			len = BUFSZ - off;
	} else if (len % 4 == 0) {
		len = 0;          /* NULL with no bytes: allowed */
	}
	valid = argnum_ok(n) && intent >= VEO_INTENT_IN && intent <= VEO_INTENT_OUT &&
	        (buf || len == 0);
	rc = veo_args_set_stack(args, (enum veo_args_intent)intent, n, buf, len);
	check_result(rc, valid, "set_stack", n);
	if (valid)
		model_set(m, n, (struct marg){ .type = ARG_STACK, .intent = intent,
		                               .buf = buf, .len = len });
}

static void set_result(struct veo_args *args, struct model *m, struct fuzz_in *in)
{
	int t = (int)(fuzz_take(in, 1) % 16) - 2;  /* -2 .. 13 */
	int valid = t >= 0 && t < (int)sizeof result_map;

	check_result(veo_args_set_result_type(args, (enum veo_result_type)t), valid,
	             "set_result_type", t);
	if (valid)
		m->ret = result_map[t];
}

/* Marshals args as veo_call_async does and checks the round trip. */
static void marshal(struct veo_args *args, const struct model *m, struct fuzz_in *in)
{
	uint64_t addr = fuzz_take(in, 8);
	uint64_t block_off = fuzz_take(in, 4) * 64;            /* a heap offset */
	uint64_t stack_ve = (fuzz_take(in, 8) & ~63ull);       /* VE address of the block */
	uint64_t size = args_stack_size(args), need = 0;
	int nstack = 0, nout_want = 0;
	uint32_t len, nout = 0;
	uint8_t *rec, *used = NULL;
	char *block = NULL;
	struct out_copy *outs = NULL;
	struct call_plan plan;
	char msg[VP_NOTE_MSG] = "";

	for (int i = 0; i < m->nargs; i++) {
		if (m->a[i].type != ARG_STACK)
			continue;
		nstack++;
		need += m->a[i].len ? m->a[i].len : 1;
		nout_want += m->a[i].intent != VEO_INTENT_IN && m->a[i].len;
	}
	FUZZ_CHECK(args->nstack == nstack, "nstack %d, model has %d stack arguments",
	           args->nstack, nstack);
	FUZZ_CHECK((size == 0) == (nstack == 0), "stack block of %llu bytes for %d "
	           "stack arguments", (unsigned long long)size, nstack);
	FUZZ_CHECK(size >= need && size % 64 == 0 && size <= need + 64ull * (uint64_t)nstack,
	           "stack block of %llu bytes for %llu bytes of arguments",
	           (unsigned long long)size, (unsigned long long)need);
	if (size) {
		/* Exactly size bytes, so that AddressSanitizer sees an overrun;
		 * filled with a pattern, so that a byte not copied shows. */
		block = malloc(size);
		used = calloc(size / 64, 1);
		outs = calloc((size_t)nstack, sizeof *outs);  /* as veo_call_async */
		FUZZ_CHECK(block && used && outs, "malloc");
		memset(block, 0xa5, size);
		nout = args_stack_fill(args, block, block_off, outs);
	}
	FUZZ_CHECK((int)nout == nout_want, "%u copies back, want %d", nout, nout_want);

	rec = malloc(VP_CALL_REC_MAX);  /* exactly the documented maximum */
	FUZZ_CHECK(rec, "malloc");
	len = args_record_len(args);
	FUZZ_CHECK(len <= VP_CALL_REC_MAX && len <= SLOT_REC_MAX && len % VP_REC_ALIGN == 0,
	           "record of %u bytes", len);
	((struct vp_rec *)rec)->len = 0;
	args_encode(args, addr, stack_ve, rec);
	FUZZ_CHECK(((struct vp_rec *)rec)->len == 0 && ((struct vp_rec *)rec)->op == VP_OP_CALL,
	           "record header: len %u (the submitter's to write) op %u",
	           ((struct vp_rec *)rec)->len, ((struct vp_rec *)rec)->op);
	((struct vp_rec *)rec)->len = len; /* as req_submit_end publishes it */
	/* The worker takes it as it takes any call, on a context slot. */
	FUZZ_CHECK(slot_check_record(rec, len, 1) == 0, "the worker refuses the record");
	FUZZ_CHECK(dispatch_decode((const struct vp_call *)rec, len, &plan, msg, sizeof msg) ==
	           VP_ST_OK, "dispatch_decode: %s", msg);

	FUZZ_CHECK((int)plan.nargs == m->nargs, "nargs %u, want %d", plan.nargs, m->nargs);
	FUZZ_CHECK(plan.fn == addr, "function address changed");
	FUZZ_CHECK(plan.ret == m->ret, "result type %u, want %u", plan.ret, m->ret);
	for (int i = 0; i < m->nargs; i++) {
		const struct marg *a = &m->a[i];
		uint64_t word;

		memcpy(&word, &plan.values[i], sizeof word);
		if (a->type != ARG_STACK) {
			size_t n = type_size(a->type);

			FUZZ_CHECK(plan.types[i] == a->type, "argument %d: type %u, want %u", i,
			           plan.types[i], a->type);
			/* libffi reads the value's own bytes (little-endian: the low ones) */
			FUZZ_CHECK(n && memcmp(&plan.values[i], &a->value, n) == 0,
			           "argument %d (type %u): 0x%llx, want 0x%llx", i, a->type,
			           (unsigned long long)word, (unsigned long long)a->value);
			continue;
		}
		/* A stack argument: a pointer to its copy inside the block. */
		uint64_t off = word - stack_ve, units = ((a->len ? a->len : 1) + 63) / 64;

		FUZZ_CHECK(plan.types[i] == VP_T_U64, "stack argument %d has type %u", i,
		           plan.types[i]);
		FUZZ_CHECK(off % 64 == 0 && off < size && (a->len ? a->len : 1) <= size - off,
		           "stack argument %d (%zu bytes) at offset %llu of a %llu-byte block",
		           i, a->len, (unsigned long long)off, (unsigned long long)size);
		for (uint64_t u = off / 64; u < off / 64 + units; u++) {
			FUZZ_CHECK(!used[u], "stack argument %d overlaps another at offset %llu", i,
			           (unsigned long long)(u * 64));
			used[u] = 1;
		}
		if (a->intent == VEO_INTENT_OUT) {
			for (size_t k = 0; k < a->len; k++)
				FUZZ_CHECK(block[off + k] == 0, "OUT argument %d: byte %zu not zeroed",
				           i, k);
		} else {
			FUZZ_CHECK(a->len == 0 || memcmp(block + off, a->buf, a->len) == 0,
			           "%s argument %d: the block does not hold its bytes",
			           a->intent == VEO_INTENT_IN ? "IN" : "INOUT", i);
		}
		if (a->intent != VEO_INTENT_IN && a->len) {
			uint32_t k = 0;

			while (k < nout && outs[k].heap_off != block_off + off)
				k++;
			FUZZ_CHECK(k < nout, "argument %d is not copied back", i);
			FUZZ_CHECK(outs[k].dst == a->buf && outs[k].len == a->len,
			           "argument %d copied back to %p (%zu bytes), want %p (%zu)", i,
			           (void *)outs[k].dst, outs[k].len, (void *)a->buf, a->len);
		}
	}
	free(rec);
	free(outs);
	free(used);
	free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char bufs[NBUF][BUFSZ];
	struct fuzz_in in = { data, size };
	struct veo_args *args;
	static struct model m;

	uint64_t x = fuzz_take(&in, 8) | 1;

	veo_set_error_print(0);
	/* The host buffers' bytes: any will do, as long as they differ. */
	for (int b = 0; b < NBUF; b++)
		for (int k = 0; k < BUFSZ; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			bufs[b][k] = (char)x;
		}
	args = veo_args_alloc();
	FUZZ_CHECK(args, "veo_args_alloc");
	model_clear(&m);
	while (in.left) {
		enum op op = (enum op)(fuzz_take(&in, 1) % OP_COUNT);

		switch (op) {
		case OP_STACK:
			set_stack(args, &m, &in, bufs);
			break;
		case OP_RESULT:
			set_result(args, &m, &in);
			break;
		case OP_CLEAR:
			veo_args_clear(args);
			model_clear(&m);
			break;
		case OP_BAD_HANDLE:
			check_result(veo_args_set_i32(NULL, 0, 1), 0, "set_i32 on NULL", 0);
			check_result(veo_args_set_stack(NULL, VEO_INTENT_IN, 0, bufs[0], 1), 0,
			             "set_stack on NULL", 0);
			break;
		case OP_MARSHAL:
			marshal(args, &m, &in);
			break;
		default:
			set_scalar(args, &m, op, &in);
			break;
		}
	}
	marshal(args, &m, &in);
	veo_args_free(args);
	return 0;
}
