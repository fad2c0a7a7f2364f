/*
 * slot.c: the loop that serves one slot: take the next record from the
 * submission ring, run it, answer it. The control slot is served
 * by the main thread, each context slot by a thread of its own.
 *
 * The rings themselves are ring.h's; this file decides what to do with a
 * record. A record is copied out of shared memory before it is checked or used,
 * so the host cannot change it under our feet; anything malformed is
 * answered with an error, never trusted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "output.h"
#include "ring.h"
#include "wait.h"
#include "worker.h"

void slot_answer(struct vp_slot *s, struct ring_cursor *cur, uint64_t reqid, uint32_t status,
                 uint64_t result, const char *msg)
{
	ring_answer(s, cur, reqid, status, result, msg);
	if (__builtin_expect(atomic_load_explicit(&s->notify, memory_order_relaxed), 0))
		worker_notify();
}

int slot_sq_poll(struct vp_slot *s, struct ring_cursor *cur, uint8_t *buf,
                 uint64_t *bad_reqid)
{
	return ring_sq_poll(s, cur, buf, SLOT_REC_MAX, bad_reqid);
}

/*
 * The host's waiting thread and ours on one CPU: then every hand-off of a
 * short call is a switch between them (3-4 us a call and wait, where two
 * CPUs take 0.2). The scheduler puts a woken thread on its waker's CPU and
 * may keep it there for seconds while another CPU idles, so after
 * UNSHARE_AFTER spins in a row that found the host on our CPU, within
 * UNSHARE_WITHIN_NS (short calls: long kernels lose nothing by sharing, and
 * an OpenMP kernel's team holds the other CPUs, where moving would put us
 * beside our own team), we move to another CPU we may run on and give the
 * mask back at once: the scheduler leaves a running thread where it is. At
 * most every UNSHARE_EVERY_NS, so that two busy pairs on two CPUs do not
 * chase each other; never where our mask (a user's taskset, a kernel's
 * binding) allows this CPU alone.
 */
#define UNSHARE_AFTER 16
#define UNSHARE_WITHIN_NS 1000000ull
#define UNSHARE_EVERY_NS 20000000ull

static __thread unsigned shared_spins;
static __thread uint64_t shared_since, unshared_at;

static void unshare_cpu(const struct vp_slot *s)
{
	uint32_t cpu = atomic_load_explicit(&s->worker_cpu, memory_order_relaxed);
	cpu_set_t mask, others;
	uint64_t now;

	if (cpu == UINT32_MAX || atomic_load_explicit(&s->host_cpu, memory_order_relaxed) != cpu) {
		shared_spins = 0;
		return;
	}
	if (shared_spins++ == 0)
		shared_since = vp_now_ns();
	if (shared_spins < UNSHARE_AFTER)
		return;
	shared_spins = 0;
	now = vp_now_ns();
	if (now - shared_since > UNSHARE_WITHIN_NS || now - unshared_at < UNSHARE_EVERY_NS ||
	    cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof mask, &mask) != 0)
		return;
	unshared_at = now;
	others = mask;
	CPU_CLR(cpu, &others);
	if (CPU_COUNT(&others) > 0 && sched_setaffinity(0, sizeof others, &others) == 0)
		sched_setaffinity(0, sizeof mask, &mask);
}

/* How the serving thread looks for the next record after an answer: the
 * learnt pause before its first look (wait.h, vp_look_pause), taken while
 * records come into an empty ring (a caller that waits for each answer
 * before its next request, which then comes in the line we answered in).
 * A queue's records are there at once: the pause shrinks to nothing, and
 * then stops. */
struct take_look {
	struct vp_look look;
	uint8_t waiting;  /* records come into an empty ring: pause */
};

/* slot_sq_poll, waiting while the ring is empty: spinning on the len at
 * our head, then sleeping on the tail; the first look after the learnt
 * pause while records come into an empty ring (take_look). Returns the
 * record's length, or 0 when the ring held garbage. */
static uint32_t sq_take(struct vp_slot *s, struct ring_cursor *cur, uint8_t *buf,
                        uint64_t *bad_reqid, struct take_look *look)
{
	int learn = look->waiting;
	unsigned turns = UINT_MAX;

	if (learn)
		vp_look_pause(&look->look);
	for (int spin = 1, first = 1;; spin = !spin, first = 0) {
		int n = slot_sq_poll(s, cur, buf, bad_reqid);
		uint32_t pos = cur->head & (VP_SQ_BYTES - 1);

		if (n != 0) {
			if (!first)
				look->waiting = 1;
			else if (!look->look.pauses)
				look->waiting = 0;
			if (learn)
				vp_look_learn(&look->look, first, turns);
			return n > 0 ? (uint32_t)n : 0;
		}
		turns = UINT_MAX;
		if (spin) {
			vp_cpu_publish(&s->worker_cpu);
			unshare_cpu(s);
			vp_spin_change((_Atomic uint32_t *)&((struct vp_rec *)(s->sq_data + pos))->len,
			               0, vp_spin_ns(), &s->host_cpu, &turns);
		}
		else
			vp_wait_change(&s->sq.tail, cur->head, &s->sq.tail_sleepers, 0, 0);
	}
}

/* The host copies heap memory itself; we stop here until it is done, so
 * the copy keeps its place in the context's order. */
static void host_action(struct vp_slot *s, struct ring_cursor *cur, uint64_t reqid)
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
static void reject(struct vp_slot *s, struct ring_cursor *cur, unsigned idx,
                   const uint8_t *buf)
{
	const struct vp_rec *r = (const struct vp_rec *)buf;
	char msg[VP_NOTE_MSG];

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

/* A slot's serving state, where the thread's end (serve_ended) finds it. */
struct serving {
	unsigned idx;
	struct ring_cursor cur;
};

static uint64_t slot_stack_size[VP_MAX_SLOTS]; /* as the context was opened */

/* A kernel ended its context's thread (pthread_exit): the thread unwinds
 * through here. The request it ran is answered, naming the kernel, and a
 * new thread takes the slot over where this one stopped, so the context
 * stays usable. */
static void serve_ended(void *arg)
{
	struct serving *sv = arg;
	struct vp_slot *s = worker_slot(sv->idx);
	uint64_t reqid = atomic_load(&s->running_reqid);
	char msg[VP_NOTE_MSG];
	Dl_info di;

	if (sv->idx == VP_SLOT_CTL || reqid == 0)
		return;
	uint64_t fn = atomic_load(&s->running_fn);
	snprintf(msg, sizeof msg, "kernel %s ended its thread (pthread_exit); the context "
	         "goes on in a new one",
	         dladdr((void *)(uintptr_t)fn, &di) && di.dli_sname ? di.dli_sname : "?");
	atomic_store(&s->running_reqid, 0);
	slot_answer(s, &sv->cur, reqid, VP_ST_ERROR, 0, msg);
	faults_thread_fini();
	if (slot_start_context(sv->idx | SLOT_TAKE_OVER, slot_stack_size[sv->idx]) != 0)
		atomic_store(&s->state, VP_SLOT_CLOSED);
}

static void serve_loop(struct serving *sv);

void slot_serve(unsigned idx)
{
	struct vp_slot *s = worker_slot(idx);
	struct serving sv = { .idx = idx };

	/* The host reset the rings before asking for this slot (or this
	 * thread takes over from one a kernel ended, serve_ended). */
	sv.cur.head = atomic_load(&s->sq.head) & ~(uint32_t)(VP_REC_ALIGN - 1);
	sv.cur.rec = sv.cur.head;
	sv.cur.cq_head_seen = atomic_load(&s->cq.head);
	pthread_cleanup_push(serve_ended, &sv);
	serve_loop(&sv);
	pthread_cleanup_pop(0);
}

static void serve_loop(struct serving *sv)
{
	unsigned idx = sv->idx;
	struct vp_slot *s = worker_slot(idx);
	struct ring_cursor *cur = &sv->cur;
	_Alignas(16) uint8_t buf[SLOT_REC_MAX];
	struct take_look look = { { 0, 0, 0 }, 0 };

	for (;;) {
		uint64_t bad = 0, result = 0;
		uint32_t len = sq_take(s, cur, buf, &bad, &look);
		const struct vp_rec *r = (const struct vp_rec *)buf;
		char msg[VP_NOTE_MSG];
		int st = VP_ST_ERROR;

		msg[0] = '\0';

		if (len == 0)
			ring_corrupt(idx, bad);
		if (check_record(buf, len, idx) != 0) {
			reject(s, cur, idx, buf);
			continue;
		}
		switch (r->op) {
		case VP_OP_CALL: {
			/* A timed call (the host waits by its run time, pace.h):
			 * two clock reads, for the calls the host asks it of. */
			uint64_t t0 = r->flags & VP_REC_TIMED ? vp_now_ns() : 0;

			if (t0)
				atomic_store_explicit(&s->run_start_ns, t0, memory_order_relaxed);
			atomic_store_explicit(&s->running_fn, ((const struct vp_call *)buf)->addr,
			                      memory_order_relaxed);
			atomic_store_explicit(&s->running_reqid, r->reqid, memory_order_release);
			st = dispatch_call((const struct vp_call *)buf, len, &result, msg,
			                   sizeof msg);
			if (t0)
				atomic_store_explicit(&s->timed, VP_TIMED(r->reqid, vp_now_ns() - t0),
				                      memory_order_relaxed);
			/* What the kernel printed, before the host learns it returned. */
			vp_output_flush();
			atomic_store_explicit(&s->running_reqid, 0, memory_order_release);
			break;
		}
		case VP_OP_COMPLETE:
			result = ((const struct vp_complete *)buf)->result;
			st = VP_ST_OK;
			break;
		case VP_OP_HOST_ACTION:
			host_action(s, cur, r->reqid);
			continue; /* the host completes the request itself */
		case VP_OP_READ:
		case VP_OP_WRITE:
			st = xfer((const struct vp_xfer *)buf, r->op == VP_OP_READ, msg, sizeof msg);
			break;
		case VP_OP_CLOSE:
			slot_answer(s, cur, r->reqid, VP_ST_OK, 0, NULL);
			return;
		case VP_OP_EXIT:
			return;
		default: /* the control requests */
			st = control(s, buf, &result);
			vp_output_flush(); /* a library's constructors or destructors */
			slot_answer(s, cur, r->reqid, (uint32_t)st, result, NULL);
			continue;
		}
		if (st == VP_ST_ERROR && !msg[0])
			snprintf(msg, sizeof msg, "malformed request (op %u)", r->op);
		slot_answer(s, cur, r->reqid, (uint32_t)st, result, msg);
		/* After the answer, off the host's wait: only the requests
		 * after this one read it (prev_req_result). */
		history_record(idx, result);
	}
}

static void *context_thread(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg & ~SLOT_TAKE_OVER;
	struct vp_slot *s = worker_slot(idx);

	faults_thread_init((int)idx);
	worker_current_slot = (int)idx;
	if (!((unsigned)(uintptr_t)arg & SLOT_TAKE_OVER))
		worker_history[idx].n = 0; /* a new context: no requests yet */
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

	slot_stack_size[idx & ~SLOT_TAKE_OVER] = stack_size;
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
