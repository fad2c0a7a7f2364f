/*
 * hooks.c: API hooks, with the arguments AVEO gives them. A hook registered
 * for veo_alloc_mem runs after the call succeeds as
 * hook(payload, proc, uint64_t *addr, size): addr points at the caller's
 * variable, which holds the new address; for veo_free_mem as
 * hook(payload, proc, addr). The asynchronous ones get the context and
 * the address itself, hook(payload, ctx, addr, size) / hook(payload, ctx,
 * addr), when the request completes, before the wait returns. veo_get_hook
 * returns it; after veo_unregister_hook it no longer runs. A failed call
 * runs no hook.
 */
#include "testlib.h"

struct hook_log {
	int calls;
	void *payload;
	void *handle;     /* proc or ctx */
	uint64_t addr;
	size_t size;
};

static struct hook_log alloc_log, free_log, alloc_async_log, free_async_log;

/* veo_alloc_mem's hook: the address through a pointer. */
static void alloc_ptr_hook(void *payload, ...)
{
	struct hook_log *log = payload;
	va_list ap;
	va_start(ap, payload);
	log->payload = payload;
	log->handle = va_arg(ap, void *);
	log->addr = *va_arg(ap, uint64_t *);
	log->size = va_arg(ap, size_t);
	va_end(ap);
	log->calls++;
}

static void alloc_hook(void *payload, ...)
{
	struct hook_log *log = payload;
	va_list ap;
	va_start(ap, payload);
	log->payload = payload;
	log->handle = va_arg(ap, void *);
	log->addr = va_arg(ap, uint64_t);
	log->size = va_arg(ap, size_t);
	va_end(ap);
	log->calls++;
}

static void free_hook(void *payload, ...)
{
	struct hook_log *log = payload;
	va_list ap;
	va_start(ap, payload);
	log->payload = payload;
	log->handle = va_arg(ap, void *);
	log->addr = va_arg(ap, uint64_t);
	va_end(ap);
	log->calls++;
}

int main(void)
{
	test_init("hooks");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t r = 0;

	CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);

	veo_register_hook((void *)veo_alloc_mem, alloc_ptr_hook, &alloc_log);
	veo_register_hook((void *)veo_free_mem, free_hook, &free_log);
	veo_register_hook((void *)veo_alloc_mem_async, alloc_hook, &alloc_async_log);
	veo_register_hook((void *)veo_free_mem_async, free_hook, &free_async_log);
	CHECK(veo_get_hook((void *)veo_alloc_mem) == (void *)alloc_ptr_hook);
	CHECK(veo_get_hook((void *)veo_free_mem) == (void *)free_hook);
	CHECK(veo_get_hook((void *)veo_alloc_mem_async) == (void *)alloc_hook);
	CHECK(veo_get_hook((void *)veo_free_mem_async) == (void *)free_hook);

	/* veo_alloc_mem: hook(payload, proc, &addr, size). */
	uint64_t addr = 0;
	REQUIRE(veo_alloc_mem(proc, &addr, 1234) == 0);
	CHECK_EQ_I64(alloc_log.calls, 1);
	CHECK(alloc_log.payload == &alloc_log);
	CHECK(alloc_log.handle == (void *)proc);
	CHECK_EQ_U64(alloc_log.addr, addr);
	CHECK_EQ_U64(alloc_log.size, 1234);

	/* veo_free_mem: hook(payload, proc, addr). */
	REQUIRE(veo_free_mem(proc, addr) == 0);
	CHECK_EQ_I64(free_log.calls, 1);
	CHECK(free_log.payload == &free_log);
	CHECK(free_log.handle == (void *)proc);
	CHECK_EQ_U64(free_log.addr, addr);

	/* A failing call runs no hook. */
	veo_set_error_print(0);
	CHECK(veo_free_mem(proc, addr) < 0);
	CHECK_EQ_I64(free_log.calls, 1);
	uint64_t huge = 0;
	CHECK(veo_alloc_mem(proc, &huge, (size_t)1 << 50) < 0);
	CHECK_EQ_I64(alloc_log.calls, 1);
	veo_set_error_print(1);

	/* veo_alloc_mem_async: hook(payload, ctx, addr, size), by the time the
	 * result has been collected. */
	uint64_t id = veo_alloc_mem_async(ctx, 4321);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	uint64_t aaddr = 0;
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &aaddr), VEO_COMMAND_OK);
	CHECK(aaddr != 0);
	CHECK_EQ_I64(alloc_async_log.calls, 1);
	CHECK(alloc_async_log.payload == &alloc_async_log);
	CHECK(alloc_async_log.handle == (void *)ctx);
	CHECK_EQ_U64(alloc_async_log.addr, aaddr);
	CHECK_EQ_U64(alloc_async_log.size, 4321);
	CHECK_EQ_I64(alloc_log.calls, 1);

	/* veo_free_mem_async: hook(payload, ctx, addr). */
	id = veo_free_mem_async(ctx, aaddr);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(free_async_log.calls, 1);
	CHECK(free_async_log.payload == &free_async_log);
	CHECK(free_async_log.handle == (void *)ctx);
	CHECK_EQ_U64(free_async_log.addr, aaddr);
	CHECK_EQ_I64(free_log.calls, 1);

	/* Unregistered hooks are gone and no longer run. */
	veo_unregister_hook((void *)veo_alloc_mem);
	veo_unregister_hook((void *)veo_free_mem);
	veo_unregister_hook((void *)veo_alloc_mem_async);
	veo_unregister_hook((void *)veo_free_mem_async);
	CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);
	CHECK(veo_get_hook((void *)veo_free_mem) == NULL);
	CHECK(veo_get_hook((void *)veo_alloc_mem_async) == NULL);
	CHECK(veo_get_hook((void *)veo_free_mem_async) == NULL);
	REQUIRE(veo_alloc_mem(proc, &addr, 64) == 0);
	REQUIRE(veo_free_mem(proc, addr) == 0);
	id = veo_alloc_mem_async(ctx, 64);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &aaddr), VEO_COMMAND_OK);
	id = veo_free_mem_async(ctx, aaddr);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(alloc_log.calls, 1);
	CHECK_EQ_I64(free_log.calls, 1);
	CHECK_EQ_I64(alloc_async_log.calls, 1);
	CHECK_EQ_I64(free_async_log.calls, 1);

	/* Registering again replaces the hook (one hook per function). */
	veo_register_hook((void *)veo_alloc_mem, free_hook, &free_log);
	veo_register_hook((void *)veo_alloc_mem, alloc_ptr_hook, &alloc_log);
	CHECK(veo_get_hook((void *)veo_alloc_mem) == (void *)alloc_ptr_hook);
	REQUIRE(veo_alloc_mem(proc, &addr, 99) == 0);
	CHECK_EQ_I64(alloc_log.calls, 2);
	CHECK_EQ_U64(alloc_log.size, 99);
	CHECK_EQ_I64(free_log.calls, 1);
	veo_unregister_hook((void *)veo_alloc_mem);
	REQUIRE(veo_free_mem(proc, addr) == 0);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
