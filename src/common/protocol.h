/*
 * protocol.h: the one definition of what the host (libveo) and the worker
 * (veorun) share. Both include this file and nothing of each other's.
 *
 * A proc is one memfd, mapped by both processes:
 *
 *   +-----------------+-----------------------------+------------------+
 *   | vp_shm_header   | vp_slot[VP_MAX_SLOTS]       | VE heap          |
 *   | (4 KiB)         | per-context rings           | (heap_size)      |
 *   +-----------------+-----------------------------+------------------+
 *
 * Slot 0 is the proc's control channel (load a library, find a symbol,
 * open a context, copy memory the heap does not hold); slot 1 and up are
 * contexts. Each slot holds a submission ring (SQ, host -> worker) of
 * variable-size records, which the worker answers in place (vp_done: the
 * answer overwrites the record's header), and a ring of notes (CQ, worker
 * -> host) with the message of every answer that is not a success. Each
 * ring has one producer and one consumer; the host serialises its own
 * threads with a lock per slot.
 *
 * Trust: each side treats what the other wrote as untrusted input. The
 * worker copies a record out of the SQ before checking it; the host checks
 * every answer and note against the requests it has pending.
 *
 * VE addresses: a heap block at heap offset `off` has the VE address
 * worker_heap_base + off, an address in the worker's mapping. The host
 * keeps its own mapping elsewhere; a host dereference of a VE address does
 * not read the data.
 */
#ifndef OPENVEO_PROTOCOL_H
#define OPENVEO_PROTOCOL_H

#include <stdint.h>
#include <stdatomic.h>

#define VP_MAGIC   0x314f4556454e504fULL /* "OPENVEO1" */
#define VP_VERSION 1

#define VP_MAX_SLOTS   258      /* control + hidden sync context + 256 */
#define VP_SLOT_CTL    0
#define VP_SLOT_SYNC   1        /* context used by veo_call_sync */
#define VP_SQ_BYTES    (64 * 1024)
#define VP_CQ_ENTRIES  1024
#define VP_MSG_MAX     2048     /* long messages of slot 0 and of crashes */
#define VP_CQE_MSG     96       /* short message carried by a note */
#define VP_MAX_ARGS    256
#define VP_CACHELINE   64

/* argv/fd contract of the worker: veorun --openveo <shm-fd> <hostpipe-fd> */
#define VP_WORKER_SHM_FD  3
#define VP_WORKER_PIPE_FD 4

/* ---- rings ---------------------------------------------------------------
 * head and tail are free-running 32-bit counters (bytes for the SQ,
 * entries for the CQ); the ring sizes are powers of two, so `tail - head`
 * is the fill level across wrap-around.
 *
 * The SQ: the host writes a record at tail, publishes it by its len (see
 * vp_rec), then stores tail, the futex word a sleeping worker waits on.
 * The worker answers each record in place (vp_done), then stores head,
 * "everything before here is answered": the futex word a sleeping host
 * waits on, whatever it waits for. The host reuses a record's space only
 * once it has read the answer (its own count, not head).
 *
 * The CQ of notes: the worker writes a note, then its stamp with release,
 * then tail; the host reads notes in order and publishes head, the futex
 * word of a worker facing a full ring.
 *
 * `sleepers` counts the threads asleep on a word so that the other side
 * makes the futex_wake system call only when someone sleeps (wait.h).
 */
struct vp_ring {
	_Alignas(VP_CACHELINE) _Atomic uint32_t tail;
	_Atomic uint32_t tail_sleepers;   /* consumers asleep on tail */
	_Alignas(VP_CACHELINE) _Atomic uint32_t head;
	_Atomic uint32_t head_sleepers;   /* producers asleep on head */
};

/* SQ record header. Records are VP_REC_ALIGN aligned and never wrap: a
 * producer that lacks room before the end of the ring writes a PAD record
 * covering the rest and starts again at offset 0.
 *
 * A record is published by its len: the producer writes the rest, then
 * stores len with release. The consumer waits on the len at its head, so
 * it finds both the news and the record in one cache line; tail is still
 * advanced, as the futex word a sleeping consumer waits on. Past the tail
 * every VP_REC_ALIGN-aligned len is 0, because the consumer leaves the
 * ring zero behind it: it zeroes each record but for its answer (vp_done,
 * whose first word is 0 too) before it answers, and a PAD's header as it
 * passes it, and the host reuses space only once it has read the answers
 * in it. (Zeroing the header after each new record, the producer would
 * wait for that line before its record could be seen: a third of a call.)
 * The host zeroes a slot's ring when it opens it. */
#define VP_REC_ALIGN 16
struct vp_rec {
	/* The alignment makes the size of every record struct a multiple of
	 * VP_REC_ALIGN, so `.len = sizeof rec` is always a valid length. */
	_Alignas(VP_REC_ALIGN) uint32_t len; /* whole record, header included */
	uint16_t op;       /* enum vp_op */
	uint16_t flags;
	uint64_t reqid;    /* host request id, echoed in the answer */
};

/* The answer in place. Once it has run a record, the worker writes over
 * the record's header, in the ring, its result, a zero len, and last, with
 * release, a stamp made from its request id and status; then it publishes
 * the SQ head past the record. A host thread waiting for one request spins
 * on that stamp: the answer comes back in the cache line that carried the
 * request, which costs one cache-line round trip where a second line costs
 * about two. The stamp has its top bit set; where the host wrote a header,
 * the same word holds op and flags, which never do. An answer other than a
 * success has a note in the CQ (vp_cqe), written before the answer. */
struct vp_done {
	uint32_t zero;             /* over vp_rec.len: 0 */
	_Atomic uint32_t stamp;    /* VP_DONE_STAMP(reqid, status); over op, flags */
	uint64_t result;           /* over vp_rec.reqid */
};
#define VP_DONE_SEQ_BITS 28
#define VP_DONE_SEQ_MASK ((1u << VP_DONE_SEQ_BITS) - 1)
/* The stamp: top bit, enum vp_status in bits 28..30, the low 28 bits of the
 * request id (the ring never holds 2^28 records). */
#define VP_DONE_STAMP(reqid, status) \
	(0x80000000u | (uint32_t)(status) << VP_DONE_SEQ_BITS | \
	 ((uint32_t)(reqid) & VP_DONE_SEQ_MASK))
/* The bits of a stamp that say whose answer it is, whatever its status. */
#define VP_DONE_WHO_MASK (0x80000000u | VP_DONE_SEQ_MASK)
/* Whether stamp is the answer to reqid, whatever its status. */
static inline int vp_done_for(uint32_t stamp, uint64_t reqid)
{
	return (stamp & VP_DONE_WHO_MASK) == VP_DONE_STAMP(reqid, 0);
}
static inline uint32_t vp_done_status(uint32_t stamp)
{
	return (stamp >> VP_DONE_SEQ_BITS) & 7;
}

enum vp_op {
	VP_OP_PAD = 0,        /* skip to the start of the ring */
	VP_OP_CALL,           /* struct vp_call + types[] + values[] */
	VP_OP_COMPLETE,       /* complete at once with vp_complete.result */
	VP_OP_HOST_ACTION,    /* stop and let the host act (copy, VH call) */
	VP_OP_READ,           /* copy worker memory -> heap bounce buffer */
	VP_OP_WRITE,          /* copy heap bounce buffer -> worker memory */
	VP_OP_CLOSE,          /* context: finish and exit the thread */
	/* control slot only */
	VP_OP_LOAD_LIB,       /* path follows */
	VP_OP_UNLOAD_LIB,     /* vp_u64arg.value = handle */
	VP_OP_GET_SYM,        /* vp_u64arg.value = handle; name follows */
	VP_OP_OPEN_CTX,       /* vp_open_ctx */
	VP_OP_EXIT,           /* the proc is destroyed: exit the process */
	VP_OP_COUNT
};

/* Argument type codes of VP_OP_CALL (and of the result). */
enum vp_type {
	VP_T_U64 = 0, VP_T_I64, VP_T_I32, VP_T_U32, VP_T_I16, VP_T_U16,
	VP_T_I8, VP_T_U8, VP_T_FLOAT, VP_T_DOUBLE, VP_T_VOID,
	VP_T_COUNT
};

/* VP_OP_CALL: followed by nargs type bytes (padded to 8) and nargs 64-bit
 * values. A value holds its type in its low bytes (a float in the low 32
 * bits); a stack argument is a u64 holding the VE address of its copy. */
struct vp_call {
	struct vp_rec rec;
	uint64_t addr;      /* function address in the worker */
	uint16_t nargs;
	uint8_t  ret_type;  /* enum vp_type */
	uint8_t  pad[5];
};

_Static_assert(sizeof(struct vp_done) == sizeof(struct vp_rec), "vp_done covers a header");

/* Largest VP_OP_CALL record. */
#define VP_CALL_REC_MAX (sizeof(struct vp_call) + VP_MAX_ARGS + 8 * VP_MAX_ARGS)

struct vp_complete {
	struct vp_rec rec;
	uint64_t result;
};

/* VP_OP_READ / VP_OP_WRITE: `addr` is any worker address, `bounce` a heap
 * offset of a block of at least len bytes. */
struct vp_xfer {
	struct vp_rec rec;
	uint64_t addr;
	uint64_t bounce;
	uint64_t len;
};

struct vp_u64arg {
	struct vp_rec rec;
	uint64_t value;
	/* optional NUL-terminated string follows (path, symbol name) */
};

struct vp_open_ctx {
	struct vp_rec rec;
	uint32_t slot;
	uint32_t pad;
	uint64_t stack_size;
};

/* Completion entry. status is enum vp_status. */
enum vp_status {
	VP_ST_OK = 0,
	VP_ST_EXCEPTION,   /* kernel crashed (then the worker is dead) */
	VP_ST_ERROR,       /* could not run; msg says why */
	VP_ST_ACTION,      /* worker waits for the host to act (HOST_ACTION) */
};

/* A note: the message of an answer that is not a success (VP_ST_OK),
 * in the order of the answers. The worker fills an entry, then stores its
 * stamp (the entry's index in the ring's free-running count, plus one)
 * with release, then the tail, and only then answers in place. An entry
 * left from the ring's last lap has a stamp VP_CQ_ENTRIES smaller, so it
 * never matches; the host zeroes the stamps when it (re)opens a slot.
 *
 * An entry is 32 bytes; the message (msg_len bytes, not NUL-terminated) is
 * in the slot's cq_msg[] at the entry's index, written before the stamp. */
struct vp_cqe {
	_Atomic uint32_t stamp;
	uint32_t status;
	uint64_t reqid;
	uint64_t result;
	uint32_t msg_len;            /* bytes of cq_msg[index] used (0: none) */
	uint32_t pad;
};

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
	_Atomic uint32_t state;           /* enum vp_slot_state */
	_Atomic uint64_t running_reqid;   /* request now running, 0 if none */
	_Atomic uint64_t running_fn;      /* its function address */
	char msg[VP_MSG_MAX];             /* long message (slot 0 only) */
	/* The CPU each side last started to spin on (UINT32_MAX: none yet),
	 * so that a spinner on its partner's CPU yields it at once (wait.h).
	 * Each is stored only when it changes, in a line of their own: the
	 * other side reads it as it starts every spin. */
	_Alignas(VP_CACHELINE) _Atomic uint32_t host_cpu;
	_Atomic uint32_t worker_cpu;
	_Alignas(VP_CACHELINE) uint8_t sq_data[VP_SQ_BYTES];
	struct vp_cqe cq_data[VP_CQ_ENTRIES];
	char cq_msg[VP_CQ_ENTRIES][VP_CQE_MSG]; /* failure messages (vp_cqe) */
};

/* Worker life cycle, in vp_shm_header.worker_state. */
enum vp_worker_state {
	VP_WORKER_STARTING = 0,
	VP_WORKER_READY,
	VP_WORKER_CRASHED,  /* crash record below is filled in */
	VP_WORKER_FAILED,   /* start-up failed; crash.msg says why */
	VP_WORKER_EXITED,
};

struct vp_crash {
	int32_t signo;
	int32_t slot;           /* context slot of the faulting thread, -1 */
	uint64_t reqid;         /* its running request, 0 if unknown */
	uint64_t fault_addr;
	char msg[VP_MSG_MAX];   /* signal, kernel, backtrace */
};

struct vp_shm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t max_slots;
	uint64_t slots_offset;
	uint64_t slot_stride;
	uint64_t heap_offset;
	uint64_t heap_size;
	uint64_t total_size;
	/* written by the worker */
	uint64_t worker_heap_base;     /* VE address of heap offset 0 */
	_Atomic uint32_t worker_state; /* enum vp_worker_state; futex word */
	_Atomic uint32_t state_sleepers;
	struct vp_crash crash;
};

#define VP_HEADER_BYTES 8192

static inline uint64_t vp_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline struct vp_slot *vp_slot_at(void *base, uint64_t slots_offset,
                                         uint64_t stride, unsigned idx)
{
	return (struct vp_slot *)((char *)base + slots_offset + stride * idx);
}

#endif
