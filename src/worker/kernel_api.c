/*
 * kernel_api.c: what a kernel can ask of the VE process it runs in, the
 * functions of veo_ve.h. The worker exports them (and those of veo_hmem.h,
 * src/common/hmem.c), so a kernel library that calls them loads without
 * linking anything; kernels linked with -laveoVE get the same functions
 * from libaveoVE.a, whose copies the worker's interpose.
 */
#include <stddef.h>
#include <stdint.h>

#include "veo_ve.h"
#include "worker.h"

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
