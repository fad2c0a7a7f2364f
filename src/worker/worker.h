/*
 * worker.h: the pieces of veorun, the vector engine process. main.c maps
 * the shared memfd and serves the control slot; slot.c is the loop every
 * context thread runs; dispatch.c calls kernels through libffi; loader.c
 * keeps the loaded libraries; faults.c turns a crashing kernel into a
 * report the host can read.
 */
#ifndef OPENVEO_WORKER_H
#define OPENVEO_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

/* The mapped memfd and where things are in it. Set once at start-up. */
struct worker {
	char *base;                   /* our mapping of the memfd */
	struct vp_shm_header *hdr;
	uint64_t heap_base;           /* VE address of heap offset 0 */
	uint64_t heap_size;
	pid_t host_pid;
};
extern struct worker W;

static inline struct vp_slot *worker_slot(unsigned idx)
{
	return vp_slot_at(W.base, W.hdr->slots_offset, W.hdr->slot_stride, idx);
}

/* Heap offset range check: returns a pointer or NULL. */
void *worker_heap_ptr(uint64_t off, uint64_t len);

/* slot.c: serve a slot until a CLOSE (contexts) or EXIT (control). */
void slot_serve(unsigned idx);
/* Start a context thread for slot idx. 0 or an errno. */
int slot_start_context(unsigned idx, uint64_t stack_size);

/* Post a completion on slot s (waits while the CQ is full). */
void slot_post(struct vp_slot *s, uint64_t reqid, uint32_t status,
               uint64_t result, const char *msg);

/* dispatch.c: a VP_OP_CALL record, checked and decoded: the values are
 * pointers into the record, which must outlive the plan. */
struct call_plan {
	uint64_t fn;
	unsigned nargs;
	uint8_t ret;               /* enum vp_type */
	const uint8_t *types;      /* nargs enum vp_type codes */
	void *avalues[VP_MAX_ARGS];
};
/* Checks and decodes a call record of len bytes. Returns VP_ST_OK or
 * VP_ST_ERROR with a message. Calls nothing. */
int dispatch_decode(const struct vp_call *c, uint32_t len, struct call_plan *plan,
                    char *msg, size_t msglen);
/* Runs a VP_OP_CALL record; returns a vp_status, fills the result or an
 * error message. */
int dispatch_call(const struct vp_call *c, uint32_t len, uint64_t *result,
                  char *msg, size_t msglen);

/* loader.c */
int loader_load(const char *path, uint64_t *handle, char *msg, size_t msglen);
int loader_unload(uint64_t handle, char *msg, size_t msglen);
int loader_sym(uint64_t handle, const char *name, uint64_t *addr, char *msg,
               size_t msglen);

/* faults.c */
void faults_install(void);
void faults_thread_init(int slot);   /* per thread: alternate stack, slot */
void faults_thread_fini(void);       /* a context thread ends */

#endif
