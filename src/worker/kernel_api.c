/*
 * kernel_api.c: what a kernel can ask of the VE process it runs in, the
 * functions of veo_ve.h and veo_hmem.h. The worker exports them, so a
 * kernel library that calls them loads without linking anything, and a
 * kernel linked with -lveohmem or -laveoVE carries copies that these
 * interpose (the executable's symbols come first).
 *
 * In the VE process, an address of the VE heap is a VE address whether or
 * not it carries its tag: veo_args_set_hmem passes hmem pointers without
 * it (a host CPU faults on the tag's bits, which the VE ignores), and a
 * kernel that tests veo_is_ve_addr and strips the tag still works. The
 * rest of veo_hmem.h is src/common/hmem.c's.
 */
#include <stddef.h>
#include <stdint.h>

#include "hmem.h"
#include "veo_hmem.h"
#include "veo_ve.h"
#include "worker.h"

static int in_heap(uint64_t p)
{
	return p >= W.heap_base && p - W.heap_base < W.heap_size;
}

int veo_is_ve_addr(const void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	return hmem_is_ve(p) || in_heap(p);
}

int veo_get_proc_identifier_from_hmem(const void *addr)
{
	uint64_t p = (uint64_t)(uintptr_t)addr;

	if (hmem_is_ve(p))
		return hmem_ident(p);
	return in_heap(p) ? W.proc_ident : -1;
}


struct result_history worker_history[VP_MAX_SLOTS];
_Thread_local int worker_current_slot = -1;

/* Under a name of its own too, for the copy in libaveoVE.a (a kernel
 * linked with -laveoVE calls that copy when it binds its own symbols). */
int openveo_prev_req_result(int offs, uint64_t *result);

int veo_prev_req_result(int offs, uint64_t *result)
{
	return openveo_prev_req_result(offs, result);
}

int openveo_prev_req_result(int offs, uint64_t *result)
{
	int slot = worker_current_slot;
	const struct result_history *h;

	if (slot <= VP_SLOT_CTL || slot >= VP_MAX_SLOTS || !result || offs < 0 ||
	    offs >= RESULT_HISTORY)
		return -1;
	h = &worker_history[slot];
	if ((uint32_t)offs >= h->n)
		return -1;
	*result = h->r[(h->n - 1 - (uint32_t)offs) % RESULT_HISTORY];
	return 0;
}
