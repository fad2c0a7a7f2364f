/*
 * hooks.c: the API hooks (veo_register_hook and friends). A hook is looked up by the address of the API function it is
 * registered for; the table is tiny and process-wide.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "error.h"
#include "hooks.h"
#include "ve_offload.h"

#define MAX_HOOKS 32

struct hook {
	void *api;
	void (*fn)(void *, ...);
	void *payload;
};

static struct hook hooks[MAX_HOOKS];
static _Atomic int nhooks;
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;

static int find(void *api)
{
	for (int i = 0; i < nhooks; i++)
		if (hooks[i].api == api)
			return i;
	return -1;
}

void veo_register_hook(void *api_func, void (*hook)(void *, ...), void *payload)
{
	int i;

	if (!api_func || !hook) {
		error_set("veo_register_hook: NULL function or hook");
		return;
	}
	pthread_mutex_lock(&hooks_lock);
	i = find(api_func);
	if (i < 0 && nhooks < MAX_HOOKS)
		i = nhooks++;
	if (i >= 0)
		hooks[i] = (struct hook){ api_func, hook, payload };
	else
		error_set("veo_register_hook: too many hooks (at most %d)", MAX_HOOKS);
	pthread_mutex_unlock(&hooks_lock);
}

void *veo_get_hook(void *api_func)
{
	void *fn = NULL;
	int i;

	pthread_mutex_lock(&hooks_lock);
	i = find(api_func);
	if (i >= 0)
		fn = (void *)hooks[i].fn;
	pthread_mutex_unlock(&hooks_lock);
	return fn;
}

void veo_unregister_hook(void *api_func)
{
	int i;

	pthread_mutex_lock(&hooks_lock);
	i = find(api_func);
	if (i >= 0)
		hooks[i] = hooks[--nhooks];
	pthread_mutex_unlock(&hooks_lock);
}

int hooks_get(void *api_func, struct hook_call *h)
{
	int i;

	h->fn = NULL;
	h->payload = NULL;
	if (atomic_load_explicit(&nhooks, memory_order_relaxed) == 0)
		return 0; /* the common case, without a lock */
	pthread_mutex_lock(&hooks_lock);
	i = find(api_func);
	if (i >= 0) {
		h->fn = hooks[i].fn;
		h->payload = hooks[i].payload;
	}
	pthread_mutex_unlock(&hooks_lock);
	return h->fn != NULL;
}
