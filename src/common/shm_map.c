/*
 * shm_map.c: the mapping of a proc's memfd, the same on both sides (see
 * shm_map.h).
 *
 * Why aligned: a huge page of a memfd covers a VP_HUGE_ALIGN-aligned range
 * of the file, and the kernel maps it with one page-table entry only where
 * the virtual address is aligned the same way. mmap(NULL) aligns shared
 * file mappings to a page only, so the range is reserved with VP_HUGE_ALIGN
 * to spare and the memfd mapped over its aligned part.
 */
#include "shm_map.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "protocol.h"

void *vp_shm_map(int fd, uint64_t size, uint64_t heap_off, uint64_t heap_size)
{
	size_t span = (size_t)(size + VP_HUGE_ALIGN);
	char *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *base;
	int e;

	if (r == MAP_FAILED)
		return MAP_FAILED;
	base = (char *)(uintptr_t)vp_align_up((uint64_t)(uintptr_t)r, VP_HUGE_ALIGN);
	if (mmap(base, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED,
	         fd, 0) == MAP_FAILED) {
		e = errno;
		munmap(r, span);
		errno = e;
		return MAP_FAILED;
	}
	/* The spare head and tail of the reservation go back. */
	if (base > r)
		munmap(r, (size_t)(base - r));
	if (r + span > base + size)
		munmap(base + size, (size_t)(r + span - (base + size)));
#ifdef MADV_HUGEPAGE
	if (heap_size)
		(void)madvise(base + heap_off, (size_t)heap_size, MADV_HUGEPAGE); /* advice only */
#endif
	return base;
}
