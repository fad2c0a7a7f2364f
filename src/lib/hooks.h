/*
 * hooks.h: running the hook a program registered for an API function
 * (veo_register_hook), from inside that function.
 */
#ifndef OPENVEO_HOOKS_H
#define OPENVEO_HOOKS_H

#include <stddef.h>
#include <stdint.h>

/* Runs the hook registered for api_func, if any, as
 * hook(payload, obj, addr[, size]). */
void hooks_run(void *api_func, void *obj, uint64_t addr, size_t size, int with_size);

#endif
