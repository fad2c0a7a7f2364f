/*
 * slot.c: the loop that serves one slot: take the next record from the
 * submission ring, run it, answer it. The control slot is served
 * by the main thread, each context slot by a thread of its own.
 *
 * A record is copied out of shared memory before it is checked or used,
 * so the host cannot change it under our feet; anything malformed is
 * answered with an error, never trusted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wait.h"
#include "worker.h"

/* Publishes how far we have answered: the word the host sleeps on. */
static void sq_publish(struct vp_slot *s, const struct sq_cursor *cur)
{
	atomic_store_explicit(&s->sq.head, cur->head, memory_order_release);
	vp_wake_lazy(&s->sq.head, &s->sq.head_sleepers);
}

/* The answer over the header of the record taken last (protocol.h), the
 * rest of the record zeroed first: the ring stays zero behind us. */
static void done_in_place(struct vp_slot *s, const struct sq_cursor *cur, uint64_t reqid,
                          uint32_t status, uint64_t result)
{
	uint8_t *rec = s->sq_data + (cur->rec & (VP_SQ_BYTES - 1));
	struct vp_done *d = (struct vp_done *)rec;
	uint32_t len = cur->head - cur->rec;

	for (uint32_t i = sizeof *d; i < len; i += VP_REC_ALIGN) /* inline: few */
		memset(rec + i, 0, VP_REC_ALIGN);
	d->zero = 0;
	d->result = result;
	atomic_store_explicit(&d->stamp, VP_DONE_STAMP(reqid, status), memory_order_release);
}

/* The note of an answer that is not a success (protocol.h). The CQ head
 * is the host's; we keep the last value we read (cq_head_seen) and read
 * the shared one again only when the ring looks full. */
static void post_note(struct vp_slot *s, struct sq_cursor *cur, uint64_t reqid,
                      uint32_t status, uint64_t result, const char *msg)
{
	uint32_t tail = atomic_load_explicit(&s->cq.tail, memory_order_relaxed);
	struct vp_cqe *e;

	while (tail - cur->cq_head_seen >= VP_CQ_ENTRIES) {
		uint32_t head = atomic_load_explicit(&s->cq.head, memory_order_acquire);

		if (tail - head < VP_CQ_ENTRIES) {
			cur->cq_head_seen = head;
			break;
		}
		/* Full: the host frees entries as it reads the answers. */
		vp_wait_change(&s->cq.head, head, &s->cq.head_sleepers, 0, 1);
	}
	e = &s->cq_data[tail & (VP_CQ_ENTRIES - 1)];
	e->reqid = reqid;
	e->result = result;
	e->status = status;
	e->msg_len = 0;
	if (msg && *msg) {
		size_t n = strnlen(msg, VP_CQE_MSG);

		memcpy(s->cq_msg[tail & (VP_CQ_ENTRIES - 1)], msg, n);
		e->msg_len = (uint32_t)n;
	}
	atomic_store_explicit(&e->stamp, tail + 1, memory_order_release);
	atomic_store_explicit(&s->cq.tail, tail + 1, memory_order_release);
}

void slot_answer(struct vp_slot *s, struct sq_cursor *cur, uint64_t reqid, uint32_t status,
                 uint64_t result, const char *msg)
{
	if (status != VP_ST_OK)
		post_note(s, cur, reqid, status, result, msg);
	done_in_place(s, cur, reqid, status, result);
	sq_publish(s, cur);
}

/* Taking records (see worker.h). A record is there when the len at our
 * head is not zero (protocol.h); it is checked against the ring before it
 * is copied out, so a bad length never reads past the ring. The cursor is
 * ours: head stays a multiple of VP_REC_ALIGN whatever the shared memory
 * says, and the host's tail is not read at all on this path. */
int slot_sq_poll(struct vp_slot *s, struct sq_cursor *cur, uint8_t *buf,
                 uint64_t *bad_reqid)
{
	for (int pads = 0;; pads++) {
		uint32_t pos = cur->head & (VP_SQ_BYTES - 1);
		struct vp_rec *h = (struct vp_rec *)(s->sq_data + pos);
		uint32_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
		struct vp_rec r;

		if (len == 0) {
			sq_publish(s, cur);
			return 0;
		}
		memcpy(&r, h, sizeof r);
		r.len = len;
		/* A PAD runs exactly to the end of the ring, and two never follow
		 * each other. */
		if (len < sizeof r || len % VP_REC_ALIGN || pos + len > VP_SQ_BYTES ||
		    (r.op != VP_OP_PAD && len > SLOT_REC_MAX) ||
		    (r.op == VP_OP_PAD && (pos + len != VP_SQ_BYTES || pads > 0))) {
			*bad_reqid = r.reqid;
			cur->head = atomic_load_explicit(&s->sq.tail, memory_order_acquire) &
			            ~(uint32_t)(VP_REC_ALIGN - 1);
			sq_publish(s, cur);
			return -1;
		}
		if (r.op != VP_OP_PAD) {
			for (uint32_t i = 0; i < len; i += VP_REC_ALIGN) /* inline: few */
				memcpy(buf + i, (const uint8_t *)h + i, VP_REC_ALIGN);
			((struct vp_rec *)buf)->len = len; /* as checked, whatever is there now */
			cur->rec = cur->head;
			cur->head += len;
			return (int)len; /* the head is published with the answer */
		}
		__atomic_store_n(&h->len, 0, __ATOMIC_RELAXED); /* a PAD: zero behind us */
		cur->head += len;
	}
}

/* slot_sq_poll, waiting while the ring is empty: spinning on the len at
 * our head, then sleeping on the tail. Returns the record's length, or 0
 * when the ring held garbage. */
static uint32_t sq_take(struct vp_slot *s, struct sq_cursor *cur, uint8_t *buf,
                        uint64_t *bad_reqid)
{
	for (int spin = 1;; spin = !spin) {
		int n = slot_sq_poll(s, cur, buf, bad_reqid);
		uint32_t pos = cur->head & (VP_SQ_BYTES - 1);

		if (n != 0)
			return n > 0 ? (uint32_t)n : 0;
		if (spin) {
			vp_cpu_publish(&s->worker_cpu);
			vp_spin_change((_Atomic uint32_t *)&((struct vp_rec *)(s->sq_data + pos))->len,
			               0, vp_spin_ns(), &s->host_cpu);
		}
		else
			vp_wait_change(&s->sq.tail, cur->head, &s->sq.tail_sleepers, 0, 0);
	}
}

/* The host copies heap memory itself; we stop here until it is done, so
 * the copy keeps its place in the context's order. */
static void host_action(struct vp_slot *s, struct sq_cursor *cur, uint64_t reqid)
{
	uint32_t want = (uint32_t)reqid, v;

	slot_answer(s, cur, reqid, VP_ST_ACTION, 0, NULL);
	while ((v = atomic_load_explicit(&s->action_ack, memory_order_acquire)) != want)
		vp_wait_change(&s->action_ack, v, &s->action_sleepers, 0, 1);
}

/* Copies between any worker address and a heap bounce buffer. Copying
 * through process_vm_readv/writev on ourselves turns a bad address into
 * EFAULT instead of a crash. */
static int xfer(const struct vp_xfer *x, int is_read, char *msg, size_t msglen)
{
	void *bounce = worker_heap_ptr(x->bounce, x->len);
	struct iovec local, remote;
	ssize_t n;

	if (!bounce) {
		snprintf(msg, msglen, "bad transfer buffer");
		return VP_ST_ERROR;
	}
	if (x->len == 0)
		return VP_ST_OK;
	local.iov_base = bounce;
	local.iov_len = x->len;
	remote.iov_base = (void *)(uintptr_t)x->addr;
	remote.iov_len = x->len;
	n = is_read ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0)
	            : process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (n != (ssize_t)x->len) {
		snprintf(msg, msglen, "VE address 0x%llx (%llu bytes) is not mapped in the VE process",
		         (unsigned long long)x->addr, (unsigned long long)x->len);
		return VP_ST_ERROR;
	}
	return VP_ST_OK;
}

/* NUL-terminated string after a fixed part of a record, or NULL. */
static const char *rec_string(const uint8_t *buf, uint32_t len, size_t fixed)
{
	if (len <= fixed || !memchr(buf + fixed, '\0', len - fixed))
		return NULL;
	return (const char *)buf + fixed;
}

/* Checking a record (see worker.h): after this, slot_serve and control()
 * read only fields that are there and strings that end. Inline in the
 * serve loop; slot_check_record is the same, for the fuzzers. */
static inline __attribute__((always_inline)) int
check_record(const uint8_t *buf, uint32_t len, unsigned idx)
{
	const struct vp_rec *r = (const struct vp_rec *)buf;
	int ctl = idx == VP_SLOT_CTL;

	if (len < sizeof *r || len % VP_REC_ALIGN || len > SLOT_REC_MAX || r->len != len)
		return -1;
	switch (r->op) {
	/* A kernel on the control slot would hold up VP_OP_EXIT: contexts only. */
	case VP_OP_CALL: /* the rest is dispatch_decode's */
		return !ctl && len >= sizeof(struct vp_call) ? 0 : -1;
	case VP_OP_COMPLETE:
		return !ctl && len >= sizeof(struct vp_complete) ? 0 : -1;
	case VP_OP_HOST_ACTION:
		return ctl ? -1 : 0;
	case VP_OP_READ:
	case VP_OP_WRITE:
		return len >= sizeof(struct vp_xfer) ? 0 : -1;
	case VP_OP_CLOSE:
		return ctl ? -1 : 0;
	case VP_OP_EXIT:
		return ctl ? 0 : -1;
	case VP_OP_LOAD_LIB:
	case VP_OP_GET_SYM:
		return ctl && rec_string(buf, len, sizeof(struct vp_u64arg)) ? 0 : -1;
	case VP_OP_UNLOAD_LIB:
		return ctl && len >= sizeof(struct vp_u64arg) ? 0 : -1;
	case VP_OP_OPEN_CTX: {
		const struct vp_open_ctx *o = (const struct vp_open_ctx *)buf;

		return ctl && len >= sizeof *o && o->slot > VP_SLOT_CTL &&
		       o->slot < VP_MAX_SLOTS ? 0 : -1;
	}
	default: /* PAD never gets here; unknown ops */
		return -1;
	}
}

int slot_check_record(const uint8_t *buf, uint32_t len, unsigned idx)
{
	return check_record(buf, len, idx);
}

/* Answers a record slot_check_record refused. Control requests leave
 * their message in s->msg, like every control answer. */
static void reject(struct vp_slot *s, struct sq_cursor *cur, unsigned idx,
                   const uint8_t *buf)
{
	const struct vp_rec *r = (const struct vp_rec *)buf;
	char msg[VP_CQE_MSG];

	switch (r->op) {
	case VP_OP_PAD:
	case VP_OP_LOAD_LIB:
	case VP_OP_UNLOAD_LIB:
	case VP_OP_GET_SYM:
	case VP_OP_OPEN_CTX:
		if (idx == VP_SLOT_CTL) {
			snprintf(s->msg, sizeof s->msg, "malformed control request (op %u)", r->op);
			slot_answer(s, cur, r->reqid, VP_ST_ERROR, 0, NULL);
			return;
		}
		break;
	case VP_OP_CALL:
		if (idx == VP_SLOT_CTL) {
			slot_answer(s, cur, r->reqid, VP_ST_ERROR, 0,
			          "calls are not taken on the control slot");
			return;
		}
		slot_answer(s, cur, r->reqid, VP_ST_ERROR, 0, "malformed call request");
		return;
	default:
		break;
	}
	snprintf(msg, sizeof msg, "malformed request (op %u)", r->op);
	slot_answer(s, cur, r->reqid, VP_ST_ERROR, 0, msg);
}

/* Control-slot commands, checked by slot_check_record. Long messages go
 * to s->msg. */
static int control(struct vp_slot *s, const uint8_t *buf, uint64_t *result)
{
	const struct vp_rec *r = (const struct vp_rec *)buf;
	const struct vp_u64arg *a = (const struct vp_u64arg *)buf;
	const char *str = (const char *)(a + 1); /* LOAD_LIB, GET_SYM */

	s->msg[0] = '\0';
	switch (r->op) {
	case VP_OP_LOAD_LIB:
		return loader_load(str, result, s->msg, sizeof s->msg);
	case VP_OP_UNLOAD_LIB:
		return loader_unload(a->value, s->msg, sizeof s->msg);
	case VP_OP_GET_SYM:
		return loader_sym(a->value, str, result, s->msg, sizeof s->msg);
	case VP_OP_OPEN_CTX: {
		const struct vp_open_ctx *o = (const struct vp_open_ctx *)buf;
		int err;

		/* Two threads on one ring would corrupt it. */
		if (atomic_load(&worker_slot(o->slot)->state) == VP_SLOT_RUNNING) {
			snprintf(s->msg, sizeof s->msg, "context slot %u is already running",
			         o->slot);
			return VP_ST_ERROR;
		}
		err = slot_start_context(o->slot, o->stack_size);
		if (err) {
			snprintf(s->msg, sizeof s->msg, "cannot start a context thread: %s",
			         strerror(err));
			return VP_ST_ERROR;
		}
		return VP_ST_OK;
	}
	default:
		snprintf(s->msg, sizeof s->msg, "malformed control request (op %u)", r->op);
		return VP_ST_ERROR;
	}
}

/* The ring held something the host never writes: a host bug, or a kernel
 * that scribbled over shared memory. Nothing queued behind it can be
 * trusted, so the proc ends, with a report, and every wait on it returns. */
static _Noreturn void ring_corrupt(unsigned idx, uint64_t reqid)
{
	snprintf(W.hdr->crash.msg, sizeof W.hdr->crash.msg,
	         "the request ring of %s %u was corrupted (near request %llu); "
	         "the VE process stopped", idx == VP_SLOT_CTL ? "the control slot" : "context slot",
	         idx, (unsigned long long)reqid);
	faults_publish(VP_WORKER_FAILED, (int)idx);
	_exit(3);
}

void slot_serve(unsigned idx)
{
	struct vp_slot *s = worker_slot(idx);
	struct sq_cursor cur;
	_Alignas(16) uint8_t buf[SLOT_REC_MAX];

	/* The host reset the rings before asking for this slot. */
	cur.head = atomic_load(&s->sq.head) & ~(uint32_t)(VP_REC_ALIGN - 1);
	cur.rec = cur.head;
	cur.cq_head_seen = atomic_load(&s->cq.head);
	for (;;) {
		uint64_t bad = 0, result = 0;
		uint32_t len = sq_take(s, &cur, buf, &bad);
		const struct vp_rec *r = (const struct vp_rec *)buf;
		char msg[VP_CQE_MSG];
		int st = VP_ST_ERROR;

		msg[0] = '\0';

		if (len == 0)
			ring_corrupt(idx, bad);
		if (check_record(buf, len, idx) != 0) {
			reject(s, &cur, idx, buf);
			continue;
		}
		switch (r->op) {
		case VP_OP_CALL:
			atomic_store_explicit(&s->running_fn, ((const struct vp_call *)buf)->addr,
			                      memory_order_relaxed);
			atomic_store_explicit(&s->running_reqid, r->reqid, memory_order_release);
			st = dispatch_call((const struct vp_call *)buf, len, &result, msg,
			                   sizeof msg);
			atomic_store_explicit(&s->running_reqid, 0, memory_order_release);
			break;
		case VP_OP_COMPLETE:
			result = ((const struct vp_complete *)buf)->result;
			st = VP_ST_OK;
			break;
		case VP_OP_HOST_ACTION:
			host_action(s, &cur, r->reqid);
			continue; /* the host completes the request itself */
		case VP_OP_READ:
		case VP_OP_WRITE:
			st = xfer((const struct vp_xfer *)buf, r->op == VP_OP_READ, msg, sizeof msg);
			break;
		case VP_OP_CLOSE:
			slot_answer(s, &cur, r->reqid, VP_ST_OK, 0, NULL);
			return;
		case VP_OP_EXIT:
			return;
		default: /* the control requests */
			st = control(s, buf, &result);
			slot_answer(s, &cur, r->reqid, (uint32_t)st, result, NULL);
			continue;
		}
		if (st == VP_ST_ERROR && !msg[0])
			snprintf(msg, sizeof msg, "malformed request (op %u)", r->op);
		slot_answer(s, &cur, r->reqid, (uint32_t)st, result, msg);
	}
}

static void *context_thread(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;
	struct vp_slot *s = worker_slot(idx);

	faults_thread_init((int)idx);
	atomic_store(&s->state, VP_SLOT_RUNNING);
	slot_serve(idx);
	faults_thread_fini();
	atomic_store(&s->state, VP_SLOT_CLOSED);
	return NULL;
}

int slot_start_context(unsigned idx, uint64_t stack_size)
{
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (stack_size == 0)
		stack_size = 8u << 20;
	if (stack_size < (256u << 10))
		stack_size = 256u << 10;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_attr_setstacksize(&attr, (size_t)vp_align_up(stack_size, 4096));
	if (!err)
		err = pthread_create(&t, &attr, context_thread, (void *)(uintptr_t)idx);
	pthread_attr_destroy(&attr);
	return err;
}
