/*
 * ring.h: the host's side of a submission ring (see protocol.h): room for
 * a record, writing it in place, publishing it. The caller holds the lock
 * that makes it the ring's only producer, and keeps the tail in *tail.
 */
#ifndef OPENVEO_RING_H
#define OPENVEO_RING_H

#include <string.h>

#include "protocol.h"
#include "wait.h"

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
 * The space is zero (the worker leaves it so, protocol.h): the record's len
 * stays 0 until ring_publish, so the worker does not see it while it is
 * being written, and the len after it is 0 already. */
static inline struct vp_rec *ring_reserve(struct vp_slot *s, uint32_t *tail, uint32_t len)
{
	uint32_t pos = *tail & (VP_SQ_BYTES - 1);

	if (pos + len > VP_SQ_BYTES) {
		struct vp_rec *pad = (struct vp_rec *)(s->sq_data + pos);

		pad->op = VP_OP_PAD;
		pad->flags = 0;
		pad->reqid = 0;
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
	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);
	*tail += len;
	atomic_store_explicit(&s->sq.tail, *tail, memory_order_release);
	vp_wake_lazy(&s->sq.tail, &s->sq.tail_sleepers);
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

/* Takes the next note of the slot's CQ (protocol.h), the one of request
 * id: notes come in the order of the answers that are not a success, and
 * the caller takes them in that order. Its message goes to msg
 * (VP_CQE_MSG + 1 bytes, NUL-terminated; empty if the note has none, or
 * is not id's: garbage). Returns 0 if there was no note to take. */
static inline int ring_take_note(struct vp_slot *s, uint64_t id, char *msg)
{
	uint32_t head = atomic_load_explicit(&s->cq.head, memory_order_relaxed);
	const struct vp_cqe *e = &s->cq_data[head & (VP_CQ_ENTRIES - 1)];
	uint32_t n;

	msg[0] = '\0';
	if (atomic_load_explicit(&e->stamp, memory_order_acquire) != head + 1)
		return 0;
	if (e->reqid == id) {
		n = e->msg_len < VP_CQE_MSG ? e->msg_len : VP_CQE_MSG;
		memcpy(msg, s->cq_msg[head & (VP_CQ_ENTRIES - 1)], n);
		msg[n] = '\0';
	}
	atomic_store_explicit(&s->cq.head, head + 1, memory_order_release);
	vp_wake_lazy(&s->cq.head, &s->cq.head_sleepers);
	return 1;
}

#endif
