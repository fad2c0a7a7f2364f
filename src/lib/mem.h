/*
 * mem.h: VE memory as the rest of libveo uses it: heap blocks for the
 * requests that need one (stack arguments, bounce buffers), and copies
 * between a heap block and a caller's buffer that turn a bad host buffer
 * into an error instead of a crash.
 */
#ifndef OPENVEO_MEM_H
#define OPENVEO_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "proc.h"

/* Allocates a heap block of size bytes at heap offset *off. Returns 0, or
 * -1 with the error set (saying what VEO_HEAP_SIZE is). */
int mem_heap_alloc(struct veo_proc_handle *p, uint64_t size, uint64_t *off);
void mem_heap_free(struct veo_proc_handle *p, uint64_t off);
/* Copies n bytes from a heap block to the caller's buffer (to_host) or
 * back, through the kernel so that a bad host buffer is -1, not a crash. */
int mem_host_copy(void *heap, char *host, size_t n, int to_host);

#endif
