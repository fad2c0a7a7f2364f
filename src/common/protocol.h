/*
 * protocol.h: the one definition of what the host (libveo) and the worker
 * (veorun) share. Both include this file and nothing of each other's.
 *
 * A proc is one memfd, mapped by both processes:
 *
 *   +-----------------+-----------------------------+------------------+
 *   | vp_shm_header   | vp_slot[VP_MAX_SLOTS]       | VE heap          |
 *   | (16 KiB)        | per-context rings           | (heap_size)      |
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
#define VP_WORKER_NOTIFY_FD 5 /* eventfd: completions the host asked to hear of */

/* The header every record starts with. Records are VP_REC_ALIGN aligned;
 * the producer publishes one by storing its len last (ring.h). */
#define VP_REC_ALIGN 16
struct vp_rec {
	/* The alignment makes the size of every record struct a multiple of
	 * VP_REC_ALIGN, so `.len = sizeof rec` is always a valid length. */
	_Alignas(VP_REC_ALIGN) uint32_t len; /* whole record, header included */
	uint16_t op;       /* enum vp_op */
	uint16_t flags;    /* VP_REC_*, 0 but where an op says */
	uint64_t reqid;    /* host request id, echoed in the answer */
};

/* VP_OP_CALL: time the call, publishing its start and its run time in the
 * slot (ring.h: run_start_ns, timed), for the host's wait (pace.h). */
#define VP_REC_TIMED 1u

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
	VP_WORKER_CRASHED,  /* the crash record is filled in */
	VP_WORKER_FAILED,   /* start-up failed; crash.msg says why */
	VP_WORKER_EXITED,
};

/* The crash record: what the worker knows when a kernel kills it, as
 * fields (faults.c fills them; libveo's death.c writes the report from
 * them). A name is "" where it is not known; every string is NUL-terminated
 * by the writer, and the reader bounds it again (shared memory). */
#define VP_NAME_MAX    256      /* a kernel's or a library's name */
#define VP_FRAME_NAME  128      /* a backtrace frame's symbol and library */
#define VP_FRAMES_MAX  24

enum vp_crash_cause {
	VP_CRASH_SIGNAL = 1,    /* a fault or a fatal signal: signo, fault_addr */
	VP_CRASH_EXIT,          /* a kernel called exit(): exit_status */
};

/* Where the faulting thread was, in vp_crash.thread. */
enum vp_crash_thread {
	VP_THREAD_CONTEXT = 0,  /* a context's thread, running its request */
	VP_THREAD_CONTROL,      /* the main thread (e.g. a library's constructor) */
	VP_THREAD_KERNEL,       /* a thread a kernel started (OpenMP?) */
};

struct vp_frame {
	uint64_t pc;            /* the return address (the fault's pc for #0) */
	uint64_t offset;        /* pc - the symbol's address (0: at it, or none) */
	char symbol[VP_FRAME_NAME];  /* "" if unknown */
	char library[VP_FRAME_NAME]; /* file name without its directory, "" */
};

struct vp_crash {
	int32_t cause;          /* enum vp_crash_cause */
	int32_t signo;          /* VP_CRASH_SIGNAL */
	int32_t exit_status;    /* VP_CRASH_EXIT */
	int32_t thread;         /* enum vp_crash_thread */
	int32_t slot;           /* context slot charged with it, -1 */
	uint32_t nframes;       /* frames[] used (VP_CRASH_SIGNAL) */
	uint64_t reqid;         /* its running request, 0 if unknown */
	uint64_t fault_addr;    /* si_addr (VP_CRASH_SIGNAL but SIGABRT) */
	uint64_t kernel_addr;   /* the running kernel's address, 0 if none */
	uint64_t kernel_offset; /* kernel_addr - its symbol's address */
	char kernel[VP_NAME_MAX];    /* the running kernel's symbol, "" */
	char library[VP_NAME_MAX];   /* its library's file name, "" */
	struct vp_frame frames[VP_FRAMES_MAX];
	char msg[VP_MSG_MAX];   /* VP_WORKER_FAILED: why, as a sentence */
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
	int32_t proc_ident;            /* veo_proc_identifier, for hmem (hmem.h) */
	uint32_t pad;
	/* written by the worker */
	uint64_t worker_heap_base;     /* VE address of heap offset 0 */
	_Atomic uint32_t worker_state; /* enum vp_worker_state; futex word */
	_Atomic uint32_t state_sleepers;
	struct vp_crash crash;
};

#define VP_HEADER_BYTES 16384
_Static_assert(sizeof(struct vp_shm_header) <= VP_HEADER_BYTES, "the header fits");

static inline uint64_t vp_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

#endif
