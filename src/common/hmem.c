/*
 * hmem.c: the functions of veo_hmem.h, which only look at a pointer's bits
 * (hmem.h). Built into libveo and into libveohmem.a (for kernels linked
 * with -lveohmem, as AVEO's Makefiles do); in a VE process the worker's own
 * versions, which also know its heap, take their place
 * (src/worker/kernel_api.c).
 */
#include <stdint.h>

#include "hmem.h"
#include "veo_hmem.h"

int veo_is_ve_addr(const void *addr)
{
	return hmem_is_ve((uint64_t)(uintptr_t)addr);
}

void *veo_get_hmem_addr(void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	return hmem_is_ve(p) ? (void *)(uintptr_t)hmem_addr(p) : addr;
}

int veo_get_max_proc_identifier(void)
{
	return HMEM_MAX_PROCS;
}

int veo_get_proc_identifier_from_hmem(const void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	return hmem_is_ve(p) ? hmem_ident(p) : -1;
}

void *veo_get_virt_addr_ve(void *addr)
{
	return veo_get_hmem_addr(addr);
}

void *veo_get_virt_addr_vh(void *addr)
{
	return addr;
}
