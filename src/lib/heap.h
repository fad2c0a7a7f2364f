/*
 * heap.h: the allocator of VE memory, kept by the host.
 *
 * The VE heap is a range of a memfd that both the host and the worker map.
 * Its bookkeeping lives only in host memory: a kernel that scribbles over
 * VE memory can corrupt data, never the allocator. Offsets are relative to
 * the start of the heap range; the caller turns them into addresses.
 *
 * Pages are committed with fallocate() when a block is handed out (so
 * running out of memory is an error return, not the OOM killer later) and
 * freed blocks of more than 32 MiB are given back with FALLOC_FL_PUNCH_HOLE
 * at once; smaller ones are kept committed, up to 64 MiB in all, for the
 * next allocation of about their size (a loop of calls with the same
 * stack arguments then costs no system call).
 */
#ifndef OPENVEO_HEAP_H
#define OPENVEO_HEAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct heap_region;
struct heap_span;

struct heap {
	pthread_mutex_t lock;
	int fd;               /* memfd holding the heap; not owned */
	uint64_t fd_offset;   /* where the heap starts in the memfd */
	uint64_t size;        /* bytes of heap */
	/* The host's mapping of the heap range (heap_use_mapping), or NULL. */
	void *map;
	/* The rest is private to heap.c. */
	void *regions;        /* tsearch tree of live regions, by offset */
	struct heap_span *free_spans; /* address-ordered free page runs */
	struct heap_region *partial[16]; /* size classes with free slots */
	struct heap_region *kept[8]; /* freed large blocks kept committed */
	uint64_t kept_bytes;
	uint64_t committed;   /* bytes currently fallocate()d */
	uint64_t in_use;      /* bytes handed out */
};

/* Sets up an empty heap over [fd_offset, fd_offset + size) of fd.
 * size is a multiple of the page size. Returns 0 or -errno. */
int heap_init(struct heap *h, int fd, uint64_t fd_offset, uint64_t size);

/* Tells the heap where the host maps its range (addr: heap offset 0), so
 * that it can commit pages by faulting them in there (MADV_POPULATE_WRITE)
 * when only that gives huge pages: shmem_enabled = advise, the mapping
 * advised with MADV_HUGEPAGE (see shm_map.h). Without it, or where the
 * system gives huge pages to fallocate() too (within_size, always) or not
 * at all (never), pages are committed with fallocate(). */
void heap_use_mapping(struct heap *h, void *addr);

/* Releases the bookkeeping (not the memfd). */
void heap_destroy(struct heap *h);

/* Hands out `size` bytes (size > 0), 64-byte aligned; blocks of a page or
 * more are page aligned. Returns 0 with *off set, -ENOMEM when the heap or
 * the machine has no room, -EINVAL for size 0. */
int heap_alloc(struct heap *h, uint64_t size, uint64_t *off);

/* Frees the block starting at off. Returns 0, or -EINVAL when off is not the
 * start of a live block (never allocated, already freed, inside a block). */
int heap_free(struct heap *h, uint64_t off);

/* Checks that [off, off + len) lies inside one live block. Returns 0, or
 * -EFAULT. len 0 is accepted anywhere inside a live block. If blk_off is
 * not NULL it receives the start of that block and blk_size its usable
 * size. */
int heap_find(struct heap *h, uint64_t off, uint64_t len, uint64_t *blk_off,
              uint64_t *blk_size);

/* Bytes handed out and bytes committed, for tests and statistics. */
void heap_stats(struct heap *h, uint64_t *in_use, uint64_t *committed);

#endif
