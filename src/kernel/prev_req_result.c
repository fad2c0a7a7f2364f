/*
 * prev_req_result.c: veo_prev_req_result (veo_ve.h) for kernels linked
 * with -laveoVE, as AVEO's Makefiles link them. The function belongs to the
 * VE process the kernel runs in: inside openveo's worker this copy asks the
 * worker's (openveo_prev_req_result, resolved when the kernel is loaded);
 * anywhere else there is no context, and it says so.
 */
#include <stdint.h>

#include "veo_ve.h"

/* Exported by veorun (src/worker/kernel_api.c); NULL outside a worker. */
extern int openveo_prev_req_result(int offs, uint64_t *result) __attribute__((weak));

int veo_prev_req_result(int offs, uint64_t *result)
{
	if (!openveo_prev_req_result)
		return -1; /* not running in an openveo VE process */
	return openveo_prev_req_result(offs, result);
}
