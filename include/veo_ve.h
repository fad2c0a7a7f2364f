/*
 * veo_ve.h: what a kernel can ask of the VE process it runs in (AVEO's
 * header of the same name; kernels link with -laveoVE, or use the function
 * the worker provides).
 */
#ifndef VEO_VE_H
#define VEO_VE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The result of an earlier request of the calling kernel's context: offs 0
 * is the request the context ran just before this one, 1 the one before
 * that, and so on (the last 16 are kept). Requests are what the VE process
 * ran in this context: kernel calls (their result word), asynchronous
 * allocations (the address), frees and transfers through the VE process
 * (0). Returns 0 with *result set; -1 if the context has not run that many
 * requests, offs is out of range, result is NULL, or the caller is not a
 * context's thread (an OpenMP thread of the kernel, say). */
int veo_prev_req_result(int offs, uint64_t *result);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* VEO_VE_H */
