/*
 * worker_untrusted.c: the worker treats what arrives in its rings as
 * untrusted input. This test writes records into the shared memory itself,
 * the way a broken host (or a kernel scribbling over shared memory) could,
 * through the worker's memfd (/proc/<pid>/fd/3):
 *  - malformed records on the control slot and on a context slot of its
 *    own (bad lengths, strings without their NUL, slot numbers out of
 *    range, argument counts and type codes out of range, calls of what is
 *    not code, transfers with buffers outside the heap or to unmapped
 *    memory, unknown operations) are each answered with an error
 *    note that says what was wrong, and the worker goes on serving
 *    the library's own contexts;
 *  - a header whose layout fields (where the slots and the heap are) are
 *    overwritten after start-up changes nothing: both sides use the layout
 *    they agreed on at start-up, never read back from shared memory;
 *  - a ring whose records no host could have written (a length that is no
 *    multiple of the record alignment) ends the worker with a report, and
 *    the library's waits on it return an error naming the corruption.
 * See src/common/protocol.h for the layout written here.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "testlib.h"
#include "ring.h"

#define RAW_SLOT (VP_MAX_SLOTS - 1) /* a context slot the library never picks first */

static char *base;
static struct vp_shm_header *hdr;
static uint64_t slots_offset, slot_stride; /* as read at start */
static uint64_t next_reqid = 0x7e570000;

static struct vp_slot *slot(unsigned idx)
{
	return vp_slot_at(base, slots_offset, slot_stride, idx);
}

static void wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Appends a record (len bytes, a multiple of VP_REC_ALIGN unless the test
 * means it not to be) to the slot's SQ, as ring_push does. Returns where
 * it went: where its answer comes. */
static const struct vp_answer *push(struct vp_slot *s, void *rec, uint32_t len)
{
	uint32_t tail = atomic_load(&s->sq.tail), pos = tail & (VP_SQ_BYTES - 1);
	if (pos + len > VP_SQ_BYTES) {
		struct vp_rec pad = { .len = VP_SQ_BYTES - pos, .op = VP_OP_PAD };
		memcpy(s->sq_data + pos, &pad, sizeof pad);
		tail += pad.len;
		pos = 0;
	}
	memcpy(s->sq_data + pos, rec, len);
	atomic_store_explicit(&s->sq.tail, tail + len, memory_order_release);
	wake(&s->sq.tail);
	return (const struct vp_answer *)(s->sq_data + pos);
}

/* The answer in place of the record at d, request reqid (waits for it, 10 s
 * at most). */
struct answer {
	uint32_t status;
	uint64_t result;
};

static struct answer answer(const struct vp_answer *d, uint64_t reqid)
{
	double t0 = test_now();
	uint32_t stamp;
	while (!vp_answer_for(stamp = atomic_load_explicit(&d->stamp, memory_order_acquire), reqid)) {
		REQUIREF(test_now() - t0 < 10, "no answer from the worker in 10 s");
		sched_yield();
	}
	return (struct answer){ .status = vp_answer_status(stamp), .result = d->result };
}

/* The next note of the slot: the message of an answer that is not a
 * success (waits for it, 10 s at most). */
static struct vp_note take(struct vp_slot *s)
{
	uint32_t head = atomic_load(&s->cq.head);
	double t0 = test_now();
	while (atomic_load_explicit(&s->cq.tail, memory_order_acquire) == head) {
		REQUIREF(test_now() - t0 < 10, "no completion from the worker in 10 s");
		sched_yield();
	}
	struct vp_note e = s->note_data[head & (VP_NOTE_ENTRIES - 1)];
	atomic_store_explicit(&s->cq.head, head + 1, memory_order_release);
	wake(&s->cq.head);
	return e;
}

/* Sends a record (its reqid filled in) and checks the error completion. */
static void expect_error(unsigned idx, void *rec, uint32_t len, const char *what)
{
	struct vp_slot *s = slot(idx);
	struct vp_rec *r = rec;
	r->reqid = ++next_reqid;
	push(s, rec, len);
	struct vp_note e = take(s);
	CHECK_EQ_U64(e.reqid, next_reqid);
	CHECKF(e.status == VP_ST_ERROR, "%s: status %u, want VP_ST_ERROR", what, e.status);
	/* Control-slot messages are long: they are in the slot's msg. */
	char msg[VP_MSG_MAX];
	if (e.msg_len)
		snprintf(msg, sizeof msg, "%.*s", (int)e.msg_len,
		         s->note_msg[(atomic_load(&s->cq.head) - 1) & (VP_NOTE_ENTRIES - 1)]);
	else
		snprintf(msg, sizeof msg, "%s", s->msg);
	printf("   %-40s -> %s\n", what, msg);
	CHECKF(msg[0] != '\0', "%s: no message", what);
}

int main(void)
{
	test_init("worker_untrusted");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t empty = test_sym(proc, lib, "empty"), counter = test_sym(proc, lib, "counter");
	uint64_t heap_block = 0;
	REQUIRE(veo_alloc_mem(proc, &heap_block, 4096) == 0);

	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)veo_proc_pid(proc), VP_WORKER_SHM_FD);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	REQUIREF(fd >= 0, "open %s: %s", path, strerror(errno));
	struct vp_shm_header h;
	REQUIRE(pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h);
	REQUIRE(h.magic == VP_MAGIC);
	base = mmap(NULL, h.total_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	REQUIRE(base != MAP_FAILED);
	close(fd);
	hdr = (struct vp_shm_header *)base;
	slots_offset = h.slots_offset;
	slot_stride = h.slot_stride;
	uint64_t bounce = heap_block - hdr->worker_heap_base; /* its heap offset */

	printf("-- malformed control requests\n");
	struct {
		struct vp_u64arg a;
		char s[256];
	} str;
	memset(&str, 'a', sizeof str);
	str.a.rec = (struct vp_rec){ .len = sizeof str, .op = VP_OP_LOAD_LIB };
	expect_error(VP_SLOT_CTL, &str, sizeof str, "load: path without its NUL");
	str.a.rec.op = VP_OP_GET_SYM;
	expect_error(VP_SLOT_CTL, &str, sizeof str, "symbol: name without its NUL");
	struct vp_rec bare = { .len = sizeof bare, .op = VP_OP_UNLOAD_LIB };
	expect_error(VP_SLOT_CTL, &bare, sizeof bare, "unload: record too short");
	bare.op = VP_OP_GET_SYM;
	expect_error(VP_SLOT_CTL, &bare, sizeof bare, "symbol: record too short");
	bare.op = VP_OP_OPEN_CTX;
	expect_error(VP_SLOT_CTL, &bare, sizeof bare, "open context: record too short");
	struct vp_open_ctx o = { .rec = { .len = sizeof o, .op = VP_OP_OPEN_CTX }, .slot = 0 };
	expect_error(VP_SLOT_CTL, &o, sizeof o, "open context: slot 0");
	o.slot = VP_MAX_SLOTS;
	expect_error(VP_SLOT_CTL, &o, sizeof o, "open context: slot out of range");
	o.slot = 100000;
	expect_error(VP_SLOT_CTL, &o, sizeof o, "open context: slot far out of range");
	o.slot = RAW_SLOT - 1;
	o.stack_size = 1ull << 62;
	expect_error(VP_SLOT_CTL, &o, sizeof o, "open context: 2^62 bytes of stack");
	bare.op = 999;
	expect_error(VP_SLOT_CTL, &bare, sizeof bare, "unknown operation 999");
	struct vp_u64arg un = { .rec = { .len = sizeof un, .op = VP_OP_UNLOAD_LIB },
	                        .value = 0x4141414141414141ull };
	expect_error(VP_SLOT_CTL, &un, sizeof un, "unload: made-up handle");

	/* A context of the test's own, that the library knows nothing of. */
	o = (struct vp_open_ctx){ .rec = { .len = sizeof o, .op = VP_OP_OPEN_CTX,
	                                   .reqid = ++next_reqid },
	                          .slot = RAW_SLOT };
	struct answer a = answer(push(slot(VP_SLOT_CTL), &o, sizeof o), next_reqid);
	REQUIRE(a.status == VP_ST_OK);

	printf("-- malformed context requests\n");
	struct {
		struct vp_call c;
		uint8_t types[VP_MAX_ARGS + 64];
		uint64_t values[VP_MAX_ARGS + 8];
	} call;
	memset(&call, 0, sizeof call);
	call.c.rec = (struct vp_rec){ .len = sizeof call, .op = VP_OP_CALL };
	call.c.addr = empty;
	call.c.nargs = VP_MAX_ARGS + 1;
	expect_error(RAW_SLOT, &call, sizeof call, "call: 257 arguments");
	call.c.nargs = 200;
	call.c.rec.len = sizeof call.c + 208;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: record shorter than its arguments");
	call.c.nargs = 1;
	call.c.rec.len = sizeof call.c + 16;
	call.types[0] = 200;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: type code 200");
	call.types[0] = VP_T_VOID;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: a void argument");
	call.types[0] = VP_T_U64;
	call.c.ret_type = 99;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: result type 99");
	call.c.ret_type = VP_T_U64;
	call.c.addr = counter;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: a library variable");
	call.c.addr = heap_block;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: VE memory");
	call.c.addr = 0;
	expect_error(RAW_SLOT, &call, call.c.rec.len, "call: address 0");
	struct vp_rec short_call = { .len = sizeof short_call, .op = VP_OP_CALL };
	expect_error(RAW_SLOT, &short_call, sizeof short_call, "call: record too short");

	struct vp_xfer x = { .rec = { .len = sizeof x, .op = VP_OP_READ }, .addr = counter,
	                     .bounce = hdr->heap_size, .len = 8 };
	expect_error(RAW_SLOT, &x, sizeof x, "read: bounce buffer past the heap");
	x.bounce = bounce;
	x.len = 1ull << 62;
	expect_error(RAW_SLOT, &x, sizeof x, "read: 2^62 bytes");
	x.bounce = UINT64_MAX - 4;
	x.len = 8;
	expect_error(RAW_SLOT, &x, sizeof x, "read: bounce offset wrapping around");
	x.rec.op = VP_OP_WRITE;
	x.bounce = bounce;
	x.addr = 0x1000;
	expect_error(RAW_SLOT, &x, sizeof x, "write: to an unmapped address");
	x.rec.op = VP_OP_READ;
	expect_error(RAW_SLOT, &x, sizeof x, "read: from an unmapped address");
	bare.op = VP_OP_READ;
	expect_error(RAW_SLOT, &bare, sizeof bare, "read: record too short");
	bare.op = VP_OP_COMPLETE;
	expect_error(RAW_SLOT, &bare, sizeof bare, "complete: record too short");
	bare.op = VP_OP_EXIT;
	expect_error(RAW_SLOT, &bare, sizeof bare, "exit on a context slot");
	bare.op = VP_OP_LOAD_LIB;
	expect_error(RAW_SLOT, &bare, sizeof bare, "a control request on a context");
	bare.op = 77;
	expect_error(RAW_SLOT, &bare, sizeof bare, "unknown operation 77");

	/* The worker is fine: the library's context works, the raw one too. */
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);
	call.c.addr = empty;
	call.c.rec.reqid = ++next_reqid;
	a = answer(push(slot(RAW_SLOT), &call, call.c.rec.len), next_reqid);
	CHECK(a.status == VP_ST_OK && a.result == TK_EMPTY_RESULT);

	printf("-- the header's layout overwritten\n");
	hdr->slots_offset = 0xdeadbeef000ull;
	hdr->slot_stride = 1;
	hdr->heap_offset = UINT64_MAX - 4096;
	hdr->heap_size = UINT64_MAX;
	hdr->total_size = 1;
	hdr->max_slots = 0;
	CHECK_EQ_U64(test_call0(ctx, empty), TK_EMPTY_RESULT);  /* a context */
	struct veo_thr_ctxt *ctx2 = test_ctx_open(proc);          /* the control slot */
	CHECK_EQ_U64(test_call0(ctx2, empty), TK_EMPTY_RESULT);
	int value = 0;
	CHECK_EQ_I64(veo_read_mem(proc, &value, counter, sizeof value), 0); /* bounce */
	CHECK_EQ_I64(value, TK_COUNTER_INIT);
	uint64_t rid = veo_async_read_mem(ctx2, &value, counter, sizeof value);
	CHECK_EQ_I64(veo_call_wait_result(ctx2, rid, &rid), VEO_COMMAND_OK);
	CHECK_EQ_I64(veo_context_close(ctx2), 0);

	printf("-- a corrupted ring\n");
	/* The library's context waits on a kernel that never returns by itself. */
	uint64_t flags = test_flag_words(proc);
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, flags);
	veo_args_set_u64(args, 1, flags + 8);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "wait_flag"), args), r = 0;
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	/* A header that claims 20 bytes, in a 32-byte record. */
	struct { struct vp_rec rec; uint8_t rest[16]; } garbage = {
		.rec = { .len = 20, .op = VP_OP_COMPLETE, .reqid = ++next_reqid } };
	veo_set_error_print(0);
	push(slot(RAW_SLOT), &garbage, sizeof garbage);
	double t0 = test_now();
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	printf("   the library's wait returned after %.1f ms: %s\n", (test_now() - t0) * 1e3,
	       veo_last_error());
	CHECK_CONTAINS(veo_last_error(), "corrupted");
	struct veo_death_info info;
	CHECK_EQ_I64(veo_proc_death_info(proc, &info), 1);
	CHECK_EQ_I64(info.cause, VEO_DEATH_OTHER);
	CHECK_CONTAINS(info.report, "was corrupted");
	veo_set_error_print(1);

	veo_args_free(args);
	munmap(base, h.total_size);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
