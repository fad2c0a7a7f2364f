/*
 * shm_map.h: how both sides map a proc's memfd (shm_map.c), so that the VE
 * heap can be backed by huge pages where the system allows it.
 */
#ifndef OPENVEO_SHM_MAP_H
#define OPENVEO_SHM_MAP_H

#include <stdint.h>

#define VP_HUGE_ALIGN (2ull << 20) /* a PMD: the huge page size of x86-64 and arm64/4K */

/* Maps `size` bytes of memfd `fd` shared, read-write and without reserve,
 * at an address aligned to VP_HUGE_ALIGN (file offset 0 there), and asks
 * for huge pages (MADV_HUGEPAGE) on [heap_off, heap_off + heap_size), which
 * must be aligned to VP_HUGE_ALIGN in the file. The kernel gives shmem huge
 * pages only if /sys/kernel/mm/transparent_hugepage/shmem_enabled is
 * `advise`, `within_size` or `always`; otherwise the advice changes
 * nothing. Returns the mapping, or MAP_FAILED with errno set. */
void *vp_shm_map(int fd, uint64_t size, uint64_t heap_off, uint64_t heap_size);

#endif
