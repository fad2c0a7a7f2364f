/*
 * hmem.c: the functions of veo_hmem.h that mean the same everywhere: a
 * pointer without its tag, and how many procs the tag can name. Built into
 * libveo, the worker and libveohmem.a. The two that tell VE memory apart
 * are hmem_tag.c's (the tag alone: libveo, libveohmem.a) and, in a VE
 * process, the worker's, which also know its heap (src/worker/kernel_api.c).
 */
#include <stdint.h>

#include "hmem.h"
#include "veo_hmem.h"

void *veo_get_hmem_addr(void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	return hmem_is_ve(p) ? (void *)(uintptr_t)hmem_addr(p) : addr;
}

int veo_get_max_proc_identifier(void)
{
	return HMEM_MAX_PROCS;
}

void *veo_get_virt_addr_ve(void *addr)
{
	return veo_get_hmem_addr(addr);
}

void *veo_get_virt_addr_vh(void *addr)
{
	return addr;
}
