/*
 * worker.h: the pieces of veorun, the vector engine process. main.c maps
 * the shared memfd and serves the control slot; slot.c is the loop every
 * context thread runs; dispatch.c calls kernels through libffi; loader.c
 * keeps the loaded libraries; faults.c turns a crashing kernel into a
 * crash record the host can read, and leaves through exit() at the end;
 * kernel_api.c is what kernels can call.
 */
#ifndef OPENVEO_WORKER_H
#define OPENVEO_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ring.h"

/* The mapped memfd and where things are in it. Set once at start-up, from
 * a header checked then: the layout is never read from shared memory again,
 * so a host (or a kernel) that scribbles over the header cannot move a
 * slot or the heap outside the mapping. */
struct worker {
	char *base;                   /* our mapping of the memfd */
	struct vp_shm_header *hdr;
	uint64_t slots_offset;        /* copies of the checked header fields */
	uint64_t slot_stride;
	uint64_t heap_offset;
	uint64_t heap_base;           /* VE address of heap offset 0 */
	uint64_t heap_size;
	int proc_ident;               /* the proc's identifier, for hmem */
	pid_t host_pid;
	int notify_fd;                /* the host's eventfd (veo_context_notify), or -1 */
	dev_t notify_dev;             /* what it was when we started: a kernel */
	ino_t notify_ino;             /* may close it and reuse the number */
};
extern struct worker W;

/* Tells the host's event loop that a request it asked to hear of was
 * answered, or that the worker is ending (async-signal-safe). */
void worker_notify(void);

/* idx < VP_MAX_SLOTS (callers check indexes that come from the host). */
static inline struct vp_slot *worker_slot(unsigned idx)
{
	return vp_slot_at(W.base, W.slots_offset, W.slot_stride, idx);
}

/* Makes every thread of the VE process execute a full barrier
 * (membarrier; a fence of our own where it is missing): what we stored
 * before is seen by their loads after, without a fence on their side. */
void worker_order_all(void);

/* Heap offset range check: returns a pointer or NULL. */
void *worker_heap_ptr(uint64_t off, uint64_t len);

/* slot.c: serve a slot until a CLOSE (contexts) or EXIT (control). */
void slot_serve(unsigned idx);

/* Largest record slot_serve takes: a call with 256 arguments, a path. */
#define SLOT_REC_MAX 8192

/* The two steps of slot_serve that only read and check, so that
 * tests/fuzz can run them on any bytes. slot_sq_poll copies the next
 * record of s's submission ring (from cur, the serving thread's own
 * cursor, which it advances and publishes) into buf (SLOT_REC_MAX bytes, 16-byte
 * aligned), skipping PAD records, without waiting: returns its length, 0
 * if the ring is empty, -1 if the ring holds garbage (then the ring has
 * been emptied and *bad_reqid names the record, if it could be read).
 * slot_check_record checks a record of len bytes taken from slot idx: its
 * header and, for its op, the fixed part, the strings that must end in a
 * NUL and the slot it may come on (dispatch_decode checks a call's
 * arguments). Returns 0 if slot_serve may act on it, -1 if malformed. */
int slot_sq_poll(struct vp_slot *s, struct ring_cursor *cur, uint8_t *buf,
                 uint64_t *bad_reqid);
int slot_check_record(const uint8_t *buf, uint32_t len, unsigned idx);
/* Start a context thread for slot idx (with SLOT_TAKE_OVER: to go on
 * serving it after a kernel ended the thread before). 0 or an errno. */
#define SLOT_TAKE_OVER 0x80000000u
int slot_start_context(unsigned idx, uint64_t stack_size);

/* Answers the record taken last: ring_answer (ring.h), out of line for
 * the files that answer besides the serve loop. */
void slot_answer(struct vp_slot *s, struct ring_cursor *cur, uint64_t reqid, uint32_t status,
                 uint64_t result, const char *msg);

/* dispatch.c: a VP_OP_CALL record, checked and decoded: types and values
 * point into the record, which must outlive the plan. */
struct call_plan {
	uint64_t fn;
	unsigned nargs;
	uint8_t ret;               /* enum vp_type */
	uint8_t direct;            /* integers only, few enough to call directly */
	const uint8_t *types;      /* nargs enum vp_type codes */
	const uint64_t *values;    /* nargs values, each in its low bytes */
};
/* Checks and decodes a call record of len bytes. Returns VP_ST_OK or
 * VP_ST_ERROR with a message. Calls nothing. */
int dispatch_decode(const struct vp_call *c, uint32_t len, struct call_plan *plan,
                    char *msg, size_t msglen);
/* Runs a VP_OP_CALL record; returns a vp_status, fills the result or an
 * error message. */
int dispatch_call(const struct vp_call *c, uint32_t len, uint64_t *result,
                  char *msg, size_t msglen);

/* loader.c. Handles are numbers the loader hands out, never reused, so a
 * stale handle is an error even when dlopen() reuses an address. */
extern _Atomic unsigned loader_generation; /* bumped by every unload */
extern _Atomic uintptr_t loader_unloading;  /* load address of one going, or 0 */
int loader_load(const char *path, uint64_t *handle, char *msg, size_t msglen);
int loader_unload(uint64_t handle, char *msg, size_t msglen);
int loader_sym(uint64_t handle, const char *name, uint64_t *addr, char *msg,
               size_t msglen);
/* The path a private copy of a changed library was made of, for the
 * dynamic loader's name of the copy ("/proc/self/fd/N"); NULL if lname is
 * no copy. Reads only tables the control thread fills (crash reports). */
const char *loader_copy_of(const char *lname);

/* kernel_api.c: the results of the last requests each context ran, for
 * veo_prev_req_result (veo_ve.h). Written and read only by the slot's own
 * thread (and the kernels it runs); reset when a context thread starts. */
#define RESULT_HISTORY 16
struct result_history {
	uint64_t r[RESULT_HISTORY];
	uint32_t n;               /* requests recorded so far */
};
extern struct result_history worker_history[VP_MAX_SLOTS];
extern _Thread_local int worker_current_slot; /* the context thread's slot, else -1 */
static inline void history_record(unsigned idx, uint64_t result)
{
	struct result_history *h = &worker_history[idx];

	h->r[h->n++ % RESULT_HISTORY] = result;
}

/* faults.c */
void faults_install(void);
/* The worker's normal end (VP_OP_EXIT): exit(status), which runs the
 * kernels' exit handlers and destructors and flushes stdio and gfortran's
 * units, without the report of a kernel that called exit(). */
_Noreturn void faults_exit(int status);
/* The worker is ending (state VP_WORKER_CRASHED with the crash record
 * filled in, or VP_WORKER_FAILED with hdr->crash.msg saying why): publishes the state and wakes every host
 * thread that waits, also one that was still spinning; slot is the slot
 * whose request died (-1 if none), whose SQ head is moved so that a host
 * thread about to sleep on it does not. Takes about a millisecond. */
void faults_publish(uint32_t state, int slot);
void faults_thread_init(int slot);   /* per thread: alternate stack, slot */
void faults_thread_fini(void);       /* a context thread ends */

#endif
