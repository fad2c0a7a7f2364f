/*
 * make_seeds.c: writes the seed inputs of the fuzz targets, one file per
 * kind of record or argument list, into DIR/fuzz_records and
 * DIR/fuzz_marshal (tests/fuzz/corpus, committed):
 *
 *   build-fuzz/make_seeds tests/fuzz/corpus
 *
 * The records are built from protocol.h, so they follow it when it
 * changes; the fuzzers find the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ring.h"

static const char *dir;

static void put(const char *target, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, target);
	if (mkdir(path, 0777) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* ---- fuzz_records: a mode byte, then a record or a ring ---- */

#define MODE_RECORD_CTL 0
#define MODE_RECORD_CTX 2      /* context slot 1 */
#define MODE_RING_CTX 3

static uint8_t rec[4096];

static uint32_t rec_len(uint32_t n)
{
	return (uint32_t)vp_align_up(n, VP_REC_ALIGN);
}

/* A record: header, then body bytes. Returns its length. */
static uint32_t make(uint16_t op, uint64_t reqid, const void *body, size_t bodylen,
                     size_t fixed)
{
	uint32_t len = rec_len((uint32_t)(fixed > bodylen ? fixed : bodylen));
	struct vp_rec *r = (struct vp_rec *)rec;

	memset(rec, 0, sizeof rec);
	if (body)
		memcpy(rec, body, bodylen);
	r->len = len;
	r->op = op;
	r->reqid = reqid;
	return len;
}

static void record(const char *name, unsigned mode, uint32_t len)
{
	uint8_t buf[sizeof rec + 1];

	buf[0] = (uint8_t)mode;
	memcpy(buf + 1, rec, len);
	put("fuzz_records", name, buf, len + 1);
}

static uint32_t make_string(uint16_t op, uint64_t value, const char *s)
{
	uint8_t body[512] = { 0 };
	struct vp_u64arg a = { .value = value };
	size_t n = strlen(s) + 1;

	memcpy(body, &a, sizeof a);
	memcpy(body + sizeof a, s, n);
	return make(op, 7, body, sizeof a + n, sizeof a);
}

static uint32_t make_call(unsigned nargs, uint8_t ret)
{
	uint8_t body[sizeof(struct vp_call) + 8 + 8 * 8] = { 0 };
	struct vp_call c = { .addr = 0x7f0000001000ull, .nargs = (uint16_t)nargs,
	                     .ret_type = ret };
	size_t types_len = vp_align_up(nargs, 8), n = sizeof c + types_len + 8 * nargs;
	uint8_t *types = body + sizeof c;
	uint64_t *values = (uint64_t *)(types + types_len);

	memcpy(body, &c, sizeof c);
	for (unsigned i = 0; i < nargs; i++) {
		types[i] = (uint8_t)(i % VP_T_VOID);
		values[i] = 0x1111111111111111ull * (i + 1);
	}
	return make(VP_OP_CALL, 9, body, n, sizeof c);
}

static void records(void)
{
	struct vp_open_ctx o = { .slot = 2, .stack_size = 1 << 20 };
	struct vp_xfer x = { .addr = 0x7f0000002000ull, .bounce = 4096, .len = 64 };
	struct vp_complete done = { .result = 42 };
	struct vp_u64arg unload = { .value = 0x5555 };
	uint32_t len;

	record("ctl-load-lib", MODE_RECORD_CTL,
	       make_string(VP_OP_LOAD_LIB, 0, "/usr/lib/libkernels.so"));
	record("ctl-get-sym", MODE_RECORD_CTL, make_string(VP_OP_GET_SYM, 0x5555, "average"));
	record("ctl-unload-lib", MODE_RECORD_CTL,
	       make(VP_OP_UNLOAD_LIB, 3, &unload, sizeof unload, sizeof unload));
	record("ctl-open-ctx", MODE_RECORD_CTL, make(VP_OP_OPEN_CTX, 4, &o, sizeof o, sizeof o));
	record("ctl-exit", MODE_RECORD_CTL, make(VP_OP_EXIT, 5, NULL, 0, sizeof(struct vp_rec)));
	record("ctl-read", MODE_RECORD_CTL, make(VP_OP_READ, 6, &x, sizeof x, sizeof x));
	record("ctx-call-0", MODE_RECORD_CTX, make_call(0, VP_T_VOID));
	record("ctx-call-3", MODE_RECORD_CTX, make_call(3, VP_T_DOUBLE));
	record("ctx-call-8", MODE_RECORD_CTX, make_call(8, VP_T_I32));
	record("ctx-complete", MODE_RECORD_CTX,
	       make(VP_OP_COMPLETE, 8, &done, sizeof done, sizeof done));
	record("ctx-host-action", MODE_RECORD_CTX,
	       make(VP_OP_HOST_ACTION, 9, NULL, 0, sizeof(struct vp_rec)));
	record("ctx-write", MODE_RECORD_CTX, make(VP_OP_WRITE, 10, &x, sizeof x, sizeof x));
	record("ctx-close", MODE_RECORD_CTX, make(VP_OP_CLOSE, 11, NULL, 0, sizeof(struct vp_rec)));

	/* A ring whose head is 32 bytes before the end: a PAD there, then a
	 * call and a completion from offset 0, as the host writes them. */
	{
		uint8_t ring[1 + 8 + 1024] = { MODE_RING_CTX };
		uint32_t head = VP_SQ_BYTES * 3 - 32, n = 0, tail;
		struct vp_rec pad = { .len = 32, .op = VP_OP_PAD };

		memcpy(ring + 9, &pad, sizeof pad);
		n = 32;
		len = make_call(3, VP_T_U64);
		memcpy(ring + 9 + n, rec, len);
		n += len;
		len = make(VP_OP_COMPLETE, 12, &done, sizeof done, sizeof done);
		memcpy(ring + 9 + n, rec, len);
		n += len;
		tail = head + n;
		memcpy(ring + 1, &head, 4);
		memcpy(ring + 5, &tail, 4);
		put("fuzz_records", "ring-pad-call-complete", ring, 9 + n);
	}
}

/* ---- fuzz_marshal: 8 bytes for the host buffers, then steps ---- */

enum { OP_I8, OP_U8, OP_I16, OP_U16, OP_I32, OP_U32, OP_I64, OP_U64, OP_FLOAT,
       OP_DOUBLE, OP_STACK, OP_RESULT, OP_CLEAR, OP_BAD_HANDLE, OP_MARSHAL };

static uint8_t prog[1024];
static size_t plen;

static void b(uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		prog[plen++] = (uint8_t)(v >> (8 * i));
}

static void scalar(int op, int argnum, uint64_t v)
{
	b((uint64_t)op, 1);
	b((uint64_t)(argnum + 4), 2);  /* fuzz_marshal: argnum = raw % 264 - 4 */
	b(v, 8);
}

static void stack(int argnum, unsigned intent, unsigned buf, unsigned off, unsigned len)
{
	b(OP_STACK, 1);
	b((uint64_t)(argnum + 4), 2);
	b(intent, 1);     /* 0 IN, 1 INOUT, 2 OUT, 3 and 4 invalid */
	b(buf, 1);        /* 0..3 a host buffer, 4 NULL */
	b(off, 2);
	b(len, 2);
}

static void marshal_step(void)
{
	b(OP_MARSHAL, 1);
	b(0x7f0000001000ull, 8);   /* function */
	b(16, 4);                  /* heap offset / 64 */
	b(0x7f1000000000ull, 8);   /* VE address of the stack block */
}

static void program(const char *name)
{
	put("fuzz_marshal", name, prog, plen);
	plen = 0;
}

static void marshal_seeds(void)
{
	b(12345, 8);
	scalar(OP_I32, 0, (uint64_t)-5);
	scalar(OP_DOUBLE, 1, 0x400921fb54442d18ull);  /* pi */
	scalar(OP_FLOAT, 2, 0x3fc00000);              /* 1.5f */
	b(OP_RESULT, 1), b(9 + 2, 1);                 /* VEO_RESULT_DOUBLE */
	marshal_step();
	program("scalars");

	b(777, 8);
	stack(0, 0, 0, 0, 100);
	stack(1, 1, 1, 8, 64);
	stack(2, 2, 2, 0, 1);
	stack(3, 0, 4, 0, 0);                         /* NULL, 0 bytes */
	scalar(OP_U64, 4, 3);
	marshal_step();
	program("stack-in-inout-out");

	b(1, 8);
	scalar(OP_I8, 0, 0x80);
	scalar(OP_U8, 1, 0xff);
	scalar(OP_I16, 2, 0x8000);
	scalar(OP_U16, 3, 0xffff);
	scalar(OP_U32, 4, 0xffffffff);
	scalar(OP_I64, 5, 0x8000000000000000ull);
	scalar(OP_U8, 255, 1);                        /* the last argument: a gap before it */
	scalar(OP_U8, 256, 1);                        /* one too many: an error */
	scalar(OP_U8, -1, 1);
	marshal_step();
	b(OP_CLEAR, 1);
	stack(7, 3, 0, 0, 10);                        /* bad intent */
	stack(8, 0, 4, 0, 5);                         /* NULL with 5 bytes */
	b(OP_BAD_HANDLE, 1);
	program("widths-gaps-errors");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	records();
	marshal_seeds();
	return 0;
}
