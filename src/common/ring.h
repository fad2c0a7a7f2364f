/*
 * ring.h: a slot's two rings, defined once for both sides: their layout,
 * the host's halves (producer of records, consumer of notes) and the
 * worker's (consumer of records, producer of answers and notes). Every
 * release store names the acquire load it pairs with.
 *
 * A slot (slot 0: the proc's control channel; 1 and up: contexts) holds:
 *   - the SQ, host -> worker: variable-size records (protocol.h), each
 *     published by its len. The worker answers each record *in place*: the
 *     answer (struct vp_answer) overwrites the record's header, so a host
 *     thread waiting for one request spins on the cache line that carried
 *     it;
 *   - the CQ, worker -> host: a note (struct vp_note) with the message of
 *     every answer that is not a success, in the order of the answers.
 * Each ring has one producer and one consumer; the host serialises its own
 * threads with a lock per context (lock.h), the control slot's with the
 * proc's lock.
 *
 * head and tail are free-running 32-bit counters (bytes for the SQ,
 * entries for the CQ); the ring sizes are powers of two, so `tail - head`
 * is the fill level across wrap-around.
 *
 * The SQ: the host writes a record at tail, publishes it by its len, then
 * stores tail, the futex word a sleeping worker waits on. The worker
 * answers each record in place, then stores head, "everything before here
 * is answered": the futex word a sleeping host waits on, whatever it waits
 * for. The host reuses a record's space only once it has read the answer
 * (its own count, not head).
 *
 * The CQ: the worker writes a note, then its stamp with release, then
 * tail, and only then answers in place; the host reads notes in order and
 * publishes head, the futex word of a worker facing a full ring.
 *
 * `sleepers` counts the threads asleep on a word so that the other side
 * makes the futex_wake system call only when someone sleeps (wait.h).
 */
#ifndef OPENVEO_RING_H
#define OPENVEO_RING_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "protocol.h"
#include "wait.h"

#define VP_SQ_BYTES      (64 * 1024)
#define VP_NOTE_ENTRIES  1024
#define VP_NOTE_MSG      96       /* the message a note carries */

struct vp_ring {
	_Alignas(VP_CACHELINE) _Atomic uint32_t tail;
	_Atomic uint32_t tail_sleepers;   /* consumers asleep on tail */
	_Alignas(VP_CACHELINE) _Atomic uint32_t head;
	_Atomic uint32_t head_sleepers;   /* producers asleep on head */
};

/* ---- the layout -----------------------------------------------------------
 * SQ records (struct vp_rec and what follows it, protocol.h) are
 * VP_REC_ALIGN aligned and never wrap: a producer that lacks room before
 * the end of the ring writes a PAD record covering the rest and starts
 * again at offset 0.
 *
 * A record is published by its len: the producer writes the rest, then
 * stores len with release. The consumer waits on the len at its head, so
 * it finds both the news and the record in one cache line; tail is still
 * advanced, as the futex word a sleeping consumer waits on. Past the tail
 * every VP_REC_ALIGN-aligned len is 0, because the consumer leaves the
 * ring zero behind it: it zeroes each record but for its answer (whose
 * first word is 0 too) before it answers, and a PAD's header as it passes
 * it, and the host reuses space only once it has read the answers in it.
 * (Zeroing the header after each new record, the producer would wait for
 * that line before its record could be seen: a third of a call.) The host
 * zeroes a slot's ring when it opens it.
 */

/* The answer in place. Once it has run a record, the worker writes over
 * the record's header, in the ring, its result, a zero len, and last, with
 * release, a stamp made from its request id and status; then it publishes
 * the SQ head past the record. A host thread waiting for one request spins
 * on that stamp: the answer comes back in the cache line that carried the
 * request, which costs one cache-line round trip where a second line costs
 * about two. The stamp has its top bit set; where the host wrote a header,
 * the same word holds op and flags, which never do. An answer other than a
 * success has a note in the CQ, written before the answer. */
struct vp_answer {
	uint32_t zero;             /* over vp_rec.len: 0 */
	_Atomic uint32_t stamp;    /* VP_ANSWER_STAMP(reqid, status); over op, flags */
	uint64_t result;           /* over vp_rec.reqid */
};
_Static_assert(sizeof(struct vp_answer) == sizeof(struct vp_rec), "an answer covers a header");

#define VP_ANSWER_SEQ_BITS 28
#define VP_ANSWER_SEQ_MASK ((1u << VP_ANSWER_SEQ_BITS) - 1)
/* The stamp: top bit, enum vp_status in bits 28..30, the low 28 bits of the
 * request id (the ring never holds 2^28 records). */
#define VP_ANSWER_STAMP(reqid, status) \
	(0x80000000u | (uint32_t)(status) << VP_ANSWER_SEQ_BITS | \
	 ((uint32_t)(reqid) & VP_ANSWER_SEQ_MASK))
/* The bits of a stamp that say whose answer it is, whatever its status. */
#define VP_ANSWER_WHO_MASK (0x80000000u | VP_ANSWER_SEQ_MASK)
/* Whether stamp is the answer to reqid, whatever its status. */
static inline int vp_answer_for(uint32_t stamp, uint64_t reqid)
{
	return (stamp & VP_ANSWER_WHO_MASK) == VP_ANSWER_STAMP(reqid, 0);
}
static inline uint32_t vp_answer_status(uint32_t stamp)
{
	return (stamp >> VP_ANSWER_SEQ_BITS) & 7;
}

/* A note: the message of an answer that is not a success (VP_ST_OK),
 * in the order of the answers. The worker fills an entry, then stores its
 * stamp (the entry's index in the ring's free-running count, plus one)
 * with release, then the tail, and only then answers in place. An entry
 * left from the ring's last lap has a stamp VP_NOTE_ENTRIES smaller, so it
 * never matches; the host zeroes the stamps when it (re)opens a slot.
 *
 * An entry is 32 bytes; the message (msg_len bytes, not NUL-terminated) is
 * in the slot's note_msg[] at the entry's index, written before the stamp. */
struct vp_note {
	_Atomic uint32_t stamp;
	uint32_t status;
	uint64_t reqid;
	uint64_t result;
	uint32_t msg_len;            /* bytes of note_msg[index] used (0: none) */
	uint32_t pad;
};

/* The word of a timed call's end: the low bits of its request id (as in an
 * answer's stamp) over 36 bits of its run time in ns (68 s at most). */
#define VP_TIMED_NS_BITS 36
#define VP_TIMED(reqid, ns)                                                      \
	((uint64_t)((uint32_t)(reqid) & VP_ANSWER_SEQ_MASK) << VP_TIMED_NS_BITS |    \
	 ((ns) < (1ull << VP_TIMED_NS_BITS) ? (ns) : (1ull << VP_TIMED_NS_BITS) - 1))
static inline int vp_timed_for(uint64_t timed, uint64_t reqid)
{
	return timed >> VP_TIMED_NS_BITS == ((uint32_t)reqid & VP_ANSWER_SEQ_MASK);
}
static inline uint64_t vp_timed_ns(uint64_t timed)
{
	return timed & ((1ull << VP_TIMED_NS_BITS) - 1);
}

/* Worker-side state of a slot, written by the worker. */
enum vp_slot_state {
	VP_SLOT_FREE = 0,
	VP_SLOT_RUNNING,
	VP_SLOT_CLOSED,
};

struct vp_slot {
	struct vp_ring sq;
	struct vp_ring cq;
	/* Host action hand-shake: the worker answers request R with
	 * VP_ST_ACTION and sleeps until action_ack == low 32 bits of R. */
	_Alignas(VP_CACHELINE) _Atomic uint32_t action_ack;
	_Atomic uint32_t action_sleepers;
	/* The host wants to hear of this slot's completions (veo_context_
	 * notify): the worker writes the notify eventfd after each answer.
	 * Read without a fence: a completion racing the switch may go
	 * unsignalled, which the host's event loop covers with a timeout. */
	_Atomic uint32_t notify;
	_Atomic uint32_t state;           /* enum vp_slot_state */
	_Atomic uint64_t running_reqid;   /* request now running, 0 if none */
	_Atomic uint64_t running_fn;      /* its function address */
	/* Timed calls (VP_REC_TIMED; the host's pace.h): when the running one
	 * started (vp_now_ns), stored before running_reqid; and the last one's
	 * request and run time, VP_TIMED(reqid, ns), one word that reads
	 * whole. */
	_Atomic uint64_t run_start_ns;
	_Atomic uint64_t timed;
	char msg[VP_MSG_MAX];             /* long message (slot 0 only) */
	/* The CPU each side last started to spin on (UINT32_MAX: none yet),
	 * so that a spinner on its partner's CPU yields it at once (wait.h).
	 * Each is stored only when it changes, in a line of their own: the
	 * other side reads it as it starts every spin. */
	_Alignas(VP_CACHELINE) _Atomic uint32_t host_cpu;
	_Atomic uint32_t worker_cpu;
	_Alignas(VP_CACHELINE) uint8_t sq_data[VP_SQ_BYTES];
	struct vp_note note_data[VP_NOTE_ENTRIES];
	char note_msg[VP_NOTE_ENTRIES][VP_NOTE_MSG]; /* failure messages (vp_note) */
};

static inline struct vp_slot *vp_slot_at(void *base, uint64_t slots_offset,
                                         uint64_t stride, unsigned idx)
{
	return (struct vp_slot *)((char *)base + slots_offset + stride * idx);
}

/* ---- the host: producer of records ----------------------------------------
 * The caller holds the lock that makes it the ring's only producer, and
 * keeps the tail in *tail. */

/* Bytes of room a record of len needs at tail: itself, the padding to the
 * ring's start if it does not fit before the end, and the header after it,
 * whose zero len is where the worker stops. */
static inline uint32_t ring_need(uint32_t tail, uint32_t len)
{
	uint32_t pos = tail & (VP_SQ_BYTES - 1);

	len += (uint32_t)sizeof(struct vp_rec);
	return pos + len > VP_SQ_BYTES ? len + (VP_SQ_BYTES - pos) : len;
}

/* Where a record of len bytes goes at *tail, which the caller checked has
 * ring_need() bytes of room. A PAD record first fills the rest of the ring
 * when the record would not fit before its end (PAD published at once).
 * The space is zero (the worker leaves it so): the record's len stays 0
 * until ring_publish, so the worker does not see it while it is being
 * written, and the len after it is 0 already. */
static inline struct vp_rec *ring_reserve(struct vp_slot *s, uint32_t *tail, uint32_t len)
{
	uint32_t pos = *tail & (VP_SQ_BYTES - 1);

	if (pos + len > VP_SQ_BYTES) {
		struct vp_rec *pad = (struct vp_rec *)(s->sq_data + pos);

		pad->op = VP_OP_PAD;
		pad->flags = 0;
		pad->reqid = 0;
		/* Pairs with the acquire of the len in ring_sq_poll. */
		__atomic_store_n(&pad->len, VP_SQ_BYTES - pos, __ATOMIC_RELEASE);
		*tail += VP_SQ_BYTES - pos;
		pos = 0;
	}
	return (struct vp_rec *)(s->sq_data + pos);
}

/* Publishes the record written at rec (from ring_reserve at *tail): its
 * len with release, then the tail, the futex word of a sleeping worker. */
static inline void ring_publish(struct vp_slot *s, uint32_t *tail, struct vp_rec *rec,
                                uint32_t len)
{
	/* Pairs with the acquire of the len in ring_sq_poll: the record's
	 * bytes are there before the worker sees its len. */
	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);
	*tail += len;
	/* Pairs with the acquire of the tail in ring_sq_poll's resync after
	 * garbage; a sleeping worker's futex compares it (wait.h). */
	atomic_store_explicit(&s->sq.tail, *tail, memory_order_release);
	vp_wake_lazy(&s->sq.tail, &s->sq.tail_sleepers);
	/* The next record starts a line: ask for it now, to write, while the
	 * worker runs this one; it would otherwise be fetched from the
	 * worker's cache when that record is written (veo_ab, call and wait
	 * on two CPUs: 215.6 -> 206.5 ns, 90th percentile 479 -> 394 ns). */
	if ((*tail & (VP_CACHELINE - 1)) == 0)
		vp_prefetch_write(s->sq_data + (*tail & (VP_SQ_BYTES - 1)));
}

/* Appends a copy of the record rec (len bytes; its own len field is not
 * read) at *tail. Returns where it went: where its answer comes. */
static inline struct vp_rec *ring_push(struct vp_slot *s, uint32_t *tail, const void *rec,
                                       uint32_t len)
{
	struct vp_rec *d = ring_reserve(s, tail, len);

	memcpy((char *)d + sizeof d->len, (const char *)rec + sizeof d->len,
	       len - sizeof d->len);
	ring_publish(s, tail, d, len);
	return d;
}

/* ---- the host: consumer of answers and notes ------------------------------ */

/* Where the answer to the record published at free-running position pos
 * comes. */
static inline const struct vp_answer *ring_answer_at(const struct vp_slot *s, uint32_t pos)
{
	return (const struct vp_answer *)(s->sq_data + (pos & (VP_SQ_BYTES - 1)));
}

/* The stamp of an answer, read with acquire: pairs with the release store
 * of the stamp in ring_answer_in_place, so the result is there too. */
static inline uint32_t ring_answer_stamp(const struct vp_answer *a)
{
	return atomic_load_explicit(&a->stamp, memory_order_acquire);
}

/* Takes the next note of the slot's CQ, the one of request id: notes come
 * in the order of the answers that are not a success, and the caller takes
 * them in that order. Its message goes to msg (VP_NOTE_MSG + 1 bytes,
 * NUL-terminated; empty if the note has none, or is not id's: garbage).
 * Returns 0 if there was no note to take. */
static inline int ring_take_note(struct vp_slot *s, uint64_t id, char *msg)
{
	uint32_t head = atomic_load_explicit(&s->cq.head, memory_order_relaxed);
	const struct vp_note *e = &s->note_data[head & (VP_NOTE_ENTRIES - 1)];
	uint32_t n;

	msg[0] = '\0';
	/* Pairs with the release store of the stamp in ring_post_note. */
	if (atomic_load_explicit(&e->stamp, memory_order_acquire) != head + 1)
		return 0;
	if (e->reqid == id) {
		n = e->msg_len < VP_NOTE_MSG ? e->msg_len : VP_NOTE_MSG;
		memcpy(msg, s->note_msg[head & (VP_NOTE_ENTRIES - 1)], n);
		msg[n] = '\0';
	}
	/* Pairs with the acquire of the head in ring_post_note: we are done
	 * reading the entry before the worker reuses it. */
	atomic_store_explicit(&s->cq.head, head + 1, memory_order_release);
	vp_wake_lazy(&s->cq.head, &s->cq.head_sleepers);
	return 1;
}

/* ---- the worker: consumer of records, producer of answers and notes ------ */

/* The serving thread's own position in a slot's rings. */
struct ring_cursor {
	uint32_t head;          /* next record to take (ours; published once the
	                         * records before it are answered) */
	uint32_t rec;           /* where the record taken last starts */
	uint32_t cq_head_seen;  /* the host's CQ head as last read */
};

/* Publishes how far we have answered: the word the host sleeps on. Pairs
 * with the acquire of the head in the host's waits (wait_answer in
 * request.c, control_call in control.c), which read it before they look at
 * the answer once more and sleep. */
static inline void ring_sq_publish(struct vp_slot *s, const struct ring_cursor *cur)
{
	atomic_store_explicit(&s->sq.head, cur->head, memory_order_release);
	vp_wake_lazy(&s->sq.head, &s->sq.head_sleepers);
}

/* The answer over the header of the record taken last, the rest of the
 * record zeroed first: the ring stays zero behind us. */
static inline void ring_answer_in_place(struct vp_slot *s, const struct ring_cursor *cur,
                                        uint64_t reqid, uint32_t status, uint64_t result)
{
	uint8_t *rec = s->sq_data + (cur->rec & (VP_SQ_BYTES - 1));
	struct vp_answer *d = (struct vp_answer *)rec;
	uint32_t len = cur->head - cur->rec;

	for (uint32_t i = sizeof *d; i < len; i += VP_REC_ALIGN) /* inline: few */
		memset(rec + i, 0, VP_REC_ALIGN);
	d->zero = 0;
	d->result = result;
	/* Pairs with the acquire in ring_answer_stamp (the host's waits and
	 * drain): the result and the zeroed record are there first. */
	atomic_store_explicit(&d->stamp, VP_ANSWER_STAMP(reqid, status), memory_order_release);
}

/* The note of an answer that is not a success. The CQ head is the host's;
 * we keep the last value we read (cq_head_seen) and read the shared one
 * again only when the ring looks full. */
static inline void ring_post_note(struct vp_slot *s, struct ring_cursor *cur, uint64_t reqid,
                                  uint32_t status, uint64_t result, const char *msg)
{
	uint32_t tail = atomic_load_explicit(&s->cq.tail, memory_order_relaxed);
	struct vp_note *e;

	while (tail - cur->cq_head_seen >= VP_NOTE_ENTRIES) {
		/* Pairs with the release store of the head in ring_take_note. */
		uint32_t head = atomic_load_explicit(&s->cq.head, memory_order_acquire);

		if (tail - head < VP_NOTE_ENTRIES) {
			cur->cq_head_seen = head;
			break;
		}
		/* Full: the host frees entries as it reads the answers. */
		vp_wait_change(&s->cq.head, head, &s->cq.head_sleepers, 0, 1);
	}
	e = &s->note_data[tail & (VP_NOTE_ENTRIES - 1)];
	e->reqid = reqid;
	e->result = result;
	e->status = status;
	e->msg_len = 0;
	if (msg && *msg) {
		size_t n = strnlen(msg, VP_NOTE_MSG);

		memcpy(s->note_msg[tail & (VP_NOTE_ENTRIES - 1)], msg, n);
		e->msg_len = (uint32_t)n;
	}
	/* Pairs with the acquire of the stamp in ring_take_note. */
	atomic_store_explicit(&e->stamp, tail + 1, memory_order_release);
	atomic_store_explicit(&s->cq.tail, tail + 1, memory_order_release);
}

/* Answers the record taken last: for anything but a success, a note first
 * (waits while the CQ is full); the answer in place; the head past the
 * record. */
static inline void ring_answer(struct vp_slot *s, struct ring_cursor *cur, uint64_t reqid,
                               uint32_t status, uint64_t result, const char *msg)
{
	if (status != VP_ST_OK)
		ring_post_note(s, cur, reqid, status, result, msg);
	ring_answer_in_place(s, cur, reqid, status, result);
	ring_sq_publish(s, cur);
}

/* Takes the next record of s's SQ, without waiting: copies it into buf
 * (max bytes, 16-byte aligned), skipping PAD records. A record is there
 * when the len at our head is not zero; it is checked against the ring
 * before it is copied out, so a bad length never reads past the ring. The
 * cursor is ours: head stays a multiple of VP_REC_ALIGN whatever the
 * shared memory says, and the host's tail is not read on this path.
 * Returns the record's length, 0 if the ring is empty, -1 if it holds
 * garbage (then the ring has been emptied up to the host's tail and
 * *bad_reqid names the record, if it could be read). */
static inline int ring_sq_poll(struct vp_slot *s, struct ring_cursor *cur, uint8_t *buf,
                               uint32_t max, uint64_t *bad_reqid)
{
	for (int pads = 0;; pads++) {
		uint32_t pos = cur->head & (VP_SQ_BYTES - 1);
		struct vp_rec *h = (struct vp_rec *)(s->sq_data + pos);
		/* Pairs with the release store of the len in ring_publish (and
		 * ring_reserve's PAD). */
		uint32_t len = __atomic_load_n(&h->len, __ATOMIC_ACQUIRE);
		struct vp_rec r;

		if (len == 0) {
			ring_sq_publish(s, cur);
			return 0;
		}
		memcpy(&r, h, sizeof r);
		r.len = len;
		/* A PAD runs exactly to the end of the ring, and two never follow
		 * each other. */
		if (len < sizeof r || len % VP_REC_ALIGN || pos + len > VP_SQ_BYTES ||
		    (r.op != VP_OP_PAD && len > max) ||
		    (r.op == VP_OP_PAD && (pos + len != VP_SQ_BYTES || pads > 0))) {
			*bad_reqid = r.reqid;
			/* Pairs with the release store of the tail in ring_publish. */
			cur->head = atomic_load_explicit(&s->sq.tail, memory_order_acquire) &
			            ~(uint32_t)(VP_REC_ALIGN - 1);
			ring_sq_publish(s, cur);
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

#endif
