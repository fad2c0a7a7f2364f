/*
 * hmem_tag.c: whether a pointer is VE memory, and of which proc, told by
 * its tag alone (hmem.h): the host's and libveohmem.a's answer. In a VE
 * process the worker's versions take their place (src/worker/kernel_api.c).
 */
#include <stdint.h>

#include "hmem.h"
#include "veo_hmem.h"

int veo_is_ve_addr(const void *addr)
{
	return hmem_is_ve((uint64_t)(uintptr_t)addr);
}

int veo_get_proc_identifier_from_hmem(const void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	return hmem_is_ve(p) ? hmem_ident(p) : -1;
}
