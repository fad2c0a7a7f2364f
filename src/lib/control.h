/*
 * control.h: commands on a proc's control slot (slot 0), one at a time
 * under the proc's lock: loading libraries, finding symbols, opening
 * contexts, copies of worker memory the heap does not hold (mem.c).
 */
#ifndef OPENVEO_CONTROL_H
#define OPENVEO_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "proc.h"

/* Writes the record (len bytes) to slot 0 and waits for its answer.
 * Returns VP_ST_OK or VP_ST_ERROR (then the message is in msg); *result
 * is filled. Takes p->lock. */
int control_call(struct veo_proc_handle *p, struct vp_rec *rec, uint32_t len,
                 uint64_t *result, char *msg, size_t msglen);

#endif
