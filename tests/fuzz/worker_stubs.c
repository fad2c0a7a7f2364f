/*
 * worker_stubs.c: what the fuzz targets put in place of veorun's main.c
 * (they link the rest of the worker: slot.c, dispatch.c, loader.c,
 * faults.c). A fuzz target only takes and checks records; it must never
 * act on one (a call record may name any address, a load any path). So
 * the stubs abort, and build.sh links with -Wl,--wrap for the calls that
 * act (ffi_call, dlopen, process_vm_readv/writev), which abort too:
 * reaching any of them is a bug the fuzzer reports.
 */
#include <stdio.h>
#include <stdlib.h>

#include "worker.h"

struct worker W;

static _Noreturn void acted(const char *what)
{
	fprintf(stderr, "fuzz: %s was called: a record was acted on\n", what);
	abort();
}

void *worker_heap_ptr(uint64_t off, uint64_t len)
{
	(void)off, (void)len;
	acted("worker_heap_ptr");
}

void worker_order_all(void)
{
	acted("worker_order_all");
}

void worker_notify(void)
{
	acted("worker_notify");
}

void __wrap_ffi_call(void);
void __wrap_dlopen(void);
void __wrap_process_vm_readv(void);
void __wrap_process_vm_writev(void);

void __wrap_ffi_call(void)
{
	acted("ffi_call");
}

void __wrap_dlopen(void)
{
	acted("dlopen");
}

void __wrap_process_vm_readv(void)
{
	acted("process_vm_readv");
}

void __wrap_process_vm_writev(void)
{
	acted("process_vm_writev");
}
