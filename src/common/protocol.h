/*
 * protocol.h: the one definition of what the host (libveo) and the worker
 * (veorun) share. Both include this file and nothing of each other's.
 *
 * A proc is one memfd, mapped by both processes:
 *
 *   +-----------------+-----------------------------+------------------+
 *   | vp_shm_header   | vp_slot[VP_MAX_SLOTS]       | VE heap          |
 *   | (8 KiB)         | per-context rings           | (heap_size)      |
 *   +-----------------+-----------------------------+------------------+
 *
 * Slot 0 is the proc's control channel (load a library, find a symbol,
 * open a context, copy memory the heap does not hold); slot 1 and up are
 * contexts. A slot's two rings (records host -> worker, answered in place;
 * notes worker -> host) are defined, with both sides' code, in ring.h.
 * This file holds the rest: the header, the records, the crash record.
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
#define VP_MSG_MAX     2048     /* long messages of slot 0 and of crashes */
#define VP_MAX_ARGS    256
#define VP_CACHELINE   64

/* argv/fd contract of the worker: veorun --openveo <shm-fd> <hostpipe-fd> */
#define VP_WORKER_SHM_FD  3
#define VP_WORKER_PIPE_FD 4

/* The header every record starts with. Records are VP_REC_ALIGN aligned;
 * the producer publishes one by storing its len last (ring.h). */
#define VP_REC_ALIGN 16
struct vp_rec {
	/* The alignment makes the size of every record struct a multiple of
	 * VP_REC_ALIGN, so `.len = sizeof rec` is always a valid length. */
	_Alignas(VP_REC_ALIGN) uint32_t len; /* whole record, header included */
	uint16_t op;       /* enum vp_op */
	uint16_t flags;
	uint64_t reqid;    /* host request id, echoed in the answer */
};

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

/* Argument type codes of VP_OP_CALL (and of the result). The result
 * types of the API (enum veo_result_type, ve_offload.h) are these codes;
 * args.c checks that they agree. */
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

/* The status of an answer (ring.h). */
enum vp_status {
	VP_ST_OK = 0,
	VP_ST_EXCEPTION,   /* kernel crashed (then the worker is dead) */
	VP_ST_ERROR,       /* could not run; msg says why */
	VP_ST_ACTION,      /* worker waits for the host to act (HOST_ACTION) */
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

#endif
