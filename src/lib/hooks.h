/*
 * hooks.h: finding the hook a program registered for an API function
 * (veo_register_hook), to run it from inside that function.
 */
#ifndef OPENVEO_HOOKS_H
#define OPENVEO_HOOKS_H

#include <stddef.h>
#include <stdint.h>

/* The hook registered for api_func, if any: returns 1 with *h filled in,
 * for the caller to call as h->fn(h->payload, ...) with the arguments that
 * API function's hooks get (ve_offload.h); 0 if there is none. */
struct hook_call {
	void (*fn)(void *, ...);
	void *payload;
};
int hooks_get(void *api_func, struct hook_call *h);

#endif
