/*
 * fuzz_records.c: libFuzzer target for the worker's command decoding, the
 * part of veorun that reads what the host wrote into shared memory.
 *
 * Two ways in, chosen by the first byte of the input:
 *  - a record: the bytes, in a heap buffer of exactly their length (so
 *    AddressSanitizer sees any read past the record), go through
 *    slot_check_record and, for a call, dispatch_decode, as slot_serve
 *    does. What they accept is then checked against the protocol: every
 *    field the worker will read lies inside the record, every string ends.
 *  - a ring: an in-memory struct vp_slot with the fuzzer's head, tail and
 *    ring bytes is drained with slot_sq_poll. Everything of the slot but
 *    the SQ is poisoned, so a read outside it is reported; each record
 *    taken must be exactly the bytes the ring held, and is checked as
 *    above.
 * Nothing is executed: worker_stubs.c aborts if a record is acted on.
 */
#include <sanitizer/asan_interface.h>
#include <stdatomic.h>
#include <string.h>

#include "fuzz.h"
#include "worker.h"

/* What the protocol promises about a record slot_check_record accepted. */
static void check_accepted(const uint8_t *buf, uint32_t len, unsigned idx)
{
	const struct vp_rec *r = (const struct vp_rec *)buf;
	int ctl = idx == VP_SLOT_CTL;
	size_t fixed = sizeof(struct vp_u64arg);

	FUZZ_CHECK(len >= sizeof *r && len % VP_REC_ALIGN == 0 && len <= SLOT_REC_MAX,
	           "accepted a record of %u bytes", len);
	FUZZ_CHECK(r->len == len, "header says %u bytes, record has %u", r->len, len);
	switch (r->op) {
	case VP_OP_CALL:
		FUZZ_CHECK(len >= sizeof(struct vp_call), "short call record accepted (%u)", len);
		break;
	case VP_OP_COMPLETE:
		FUZZ_CHECK(len >= sizeof(struct vp_complete), "short COMPLETE accepted (%u)", len);
		break;
	case VP_OP_HOST_ACTION:
		break;
	case VP_OP_READ:
	case VP_OP_WRITE:
		FUZZ_CHECK(len >= sizeof(struct vp_xfer), "short transfer accepted (%u)", len);
		break;
	case VP_OP_CLOSE:
		FUZZ_CHECK(!ctl, "CLOSE accepted on the control slot");
		break;
	case VP_OP_EXIT:
		FUZZ_CHECK(ctl, "EXIT accepted on context slot %u", idx);
		break;
	case VP_OP_LOAD_LIB:
	case VP_OP_GET_SYM:
		FUZZ_CHECK(ctl, "op %u accepted on context slot %u", r->op, idx);
		FUZZ_CHECK(len > fixed && memchr(buf + fixed, '\0', len - fixed),
		           "op %u accepted with a string that does not end", r->op);
		break;
	case VP_OP_UNLOAD_LIB:
		FUZZ_CHECK(ctl, "UNLOAD_LIB accepted on context slot %u", idx);
		FUZZ_CHECK(len >= fixed, "short UNLOAD_LIB accepted (%u)", len);
		break;
	case VP_OP_OPEN_CTX: {
		const struct vp_open_ctx *o = (const struct vp_open_ctx *)buf;

		FUZZ_CHECK(ctl, "OPEN_CTX accepted on context slot %u", idx);
		FUZZ_CHECK(len >= sizeof *o, "short OPEN_CTX accepted (%u)", len);
		FUZZ_CHECK(o->slot > VP_SLOT_CTL && o->slot < VP_MAX_SLOTS,
		           "OPEN_CTX accepted for slot %u", o->slot);
		break;
	}
	default:
		FUZZ_CHECK(0, "op %u accepted", r->op);
	}
}

/* A call record accepted by slot_check_record, decoded: the plan must
 * point only into the record. */
static void check_call(const uint8_t *buf, uint32_t len)
{
	const struct vp_call *c = (const struct vp_call *)buf;
	struct call_plan plan;
	char msg[VP_NOTE_MSG] = "";
	const uint8_t *end = buf + len;

	if (dispatch_decode(c, len, &plan, msg, sizeof msg) != VP_ST_OK) {
		FUZZ_CHECK(msg[0] != '\0', "a refused call has no message");
		return;
	}
	FUZZ_CHECK(plan.nargs == c->nargs && plan.nargs <= VP_MAX_ARGS,
	           "nargs %u (record says %u)", plan.nargs, c->nargs);
	FUZZ_CHECK(plan.fn == c->addr, "function address changed");
	FUZZ_CHECK(plan.ret < VP_T_COUNT, "result type %u", plan.ret);
	FUZZ_CHECK(plan.types == (const uint8_t *)(c + 1), "types not after the header");
	FUZZ_CHECK(plan.types + plan.nargs <= end, "types run past the record");
	for (unsigned i = 0; i < plan.nargs; i++) {
		const uint8_t *v = (const uint8_t *)&plan.values[i];
		uint64_t word;

		FUZZ_CHECK(plan.types[i] < VP_T_COUNT && plan.types[i] != VP_T_VOID,
		           "argument %u has type %u", i, plan.types[i]);
		FUZZ_CHECK(v >= plan.types + plan.nargs && v + 8 <= end &&
		           (uintptr_t)v % 8 == 0, "argument %u is at record offset %td",
		           i, v - buf);
		memcpy(&word, v, sizeof word); /* AddressSanitizer checks the read */
		(void)word;
	}
}

static void check_record(const uint8_t *buf, uint32_t len, unsigned idx)
{
	if (slot_check_record(buf, len, idx) != 0)
		return;
	check_accepted(buf, len, idx);
	if (((const struct vp_rec *)buf)->op == VP_OP_CALL)
		check_call(buf, len);
}

/* Mode 0: the input is one record, taken from slot idx. */
static void fuzz_one_record(const uint8_t *data, size_t size, unsigned idx)
{
	uint32_t len = size > SLOT_REC_MAX + 64 ? SLOT_REC_MAX + 64 : (uint32_t)size;
	uint8_t *buf = malloc(len ? len : 1); /* 16-byte aligned, exactly len */

	FUZZ_CHECK(buf && (uintptr_t)buf % 16 == 0, "malloc");
	memcpy(buf, data, len);
	check_record(buf, len, idx);
	free(buf);
}

/* Mode 1: a fake slot whose SQ holds the input. */
static void fuzz_ring(struct fuzz_in *in, unsigned idx)
{
	static struct vp_slot *s;
	static uint8_t *out;
	/* head is written only by the worker, always by whole records from 0,
	 * so it is a multiple of VP_REC_ALIGN; tail is the host's, anything. */
	uint32_t head = (uint32_t)fuzz_take(in, 4) & ~(uint32_t)(VP_REC_ALIGN - 1);
	uint32_t tail = (uint32_t)fuzz_take(in, 4);
	uint32_t pos = head & (VP_SQ_BYTES - 1);

	if (!s) {
		s = aligned_alloc(VP_CACHELINE, sizeof *s);
		out = aligned_alloc(16, SLOT_REC_MAX);
		FUZZ_CHECK(s && out, "aligned_alloc");
	}
	ASAN_UNPOISON_MEMORY_REGION(s, sizeof *s);
	memset(s, 0, sizeof *s);
	/* The ring bytes, from pos on, wrapping as the host's would. */
	for (size_t i = 0; i < in->left && i < VP_SQ_BYTES; i++)
		s->sq_data[(pos + i) & (VP_SQ_BYTES - 1)] = in->p[i];
	atomic_store(&s->sq.head, head);
	atomic_store(&s->sq.tail, tail);
	/* slot_sq_poll may touch the SQ and its data, nothing else. */
	ASAN_POISON_MEMORY_REGION(s, sizeof *s);
	ASAN_UNPOISON_MEMORY_REGION(&s->sq, sizeof s->sq);
	ASAN_UNPOISON_MEMORY_REGION(s->sq_data, sizeof s->sq_data);

	/* The worker's own cursor starts where its head is. */
	struct ring_cursor cur = { .head = head };

	for (int k = 0; k < VP_SQ_BYTES / VP_REC_ALIGN + 1; k++) {
		uint32_t h0 = cur.head, h1;
		uint64_t bad = 0;
		int n = slot_sq_poll(s, &cur, out, &bad);

		h1 = cur.head;
		/* The head is published past a record with its answer
		 * (slot_answer), past PADs and garbage at once. */
		if (n <= 0)
			FUZZ_CHECK(atomic_load(&s->sq.head) == h1, "the head was not published");
		else
			FUZZ_CHECK(cur.rec == h1 - (uint32_t)n, "the answer of the record taken "
			           "would go at %u, not %u", cur.rec, h1 - (uint32_t)n);
		FUZZ_CHECK(atomic_load(&s->sq.tail) == tail, "the worker wrote the SQ tail");
		if (n < 0) {
			/* Garbage: the worker skips to the host's tail (and stops). */
			FUZZ_CHECK(h1 == (tail & ~(uint32_t)(VP_REC_ALIGN - 1)),
			           "poll returned %d with head %u, tail %u", n, h1, tail);
			break;
		}
		if (n == 0) {
			/* Empty: head passed PAD records only, and stops on a zero len. */
			const struct vp_rec *at = (const struct vp_rec *)
				(s->sq_data + (h1 & (VP_SQ_BYTES - 1)));
			FUZZ_CHECK(h1 - h0 <= VP_SQ_BYTES && at->len == 0,
			           "an empty poll moved head from %u to %u (len there %u)", h0, h1,
			           at->len);
			break;
		}
		FUZZ_CHECK(n >= (int)sizeof(struct vp_rec) && n % VP_REC_ALIGN == 0 &&
		           n <= SLOT_REC_MAX, "took a record of %d bytes", n);
		/* The worker does not read the tail on this path (a record is
		 * there when its len is), so head may pass a made-up tail. */
		FUZZ_CHECK(h1 - h0 >= (uint32_t)n && h1 - h0 <= VP_SQ_BYTES,
		           "head moved from %u to %u for %d bytes", h0, h1, n);
		/* The record is the last n bytes consumed, in one piece. */
		uint32_t rpos = (h1 - (uint32_t)n) & (VP_SQ_BYTES - 1);
		FUZZ_CHECK(rpos + (uint32_t)n <= VP_SQ_BYTES, "a record wrapped around the ring");
		FUZZ_CHECK(memcmp(out, s->sq_data + rpos, (size_t)n) == 0,
		           "the record taken is not what the ring held");
		FUZZ_CHECK(((const struct vp_rec *)out)->op != VP_OP_PAD, "a PAD was returned");
		check_record(out, (uint32_t)n, idx);
	}
	ASAN_UNPOISON_MEMORY_REGION(s, sizeof *s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	unsigned mode, idx;

	if (size < 1)
		return 0;
	mode = (unsigned)fuzz_take(&in, 1);
	/* Bit 0: which way in; bit 1: the control slot or a context slot. */
	idx = (mode & 2) ? 1 + (mode >> 2) % (VP_MAX_SLOTS - 1) : VP_SLOT_CTL;
	if (mode & 1)
		fuzz_ring(&in, idx);
	else
		fuzz_one_record(in.p, in.left, idx);
	return 0;
}
