/*
 * hmem.c: heterogeneous memory on the host side (ve_offload.h): hmem
 * pointers of VE memory (a VE address tagged with its proc's identifier,
 * hmem.h) and of host memory, copies between any two of them, and the hmem
 * hook functions. The pointers' bits alone are src/common/hmem.c's.
 *
 * Host memory from veo_alloc_hmem(NULL, ...) is registered in the handle
 * registry (handle.h), so that veo_free_hmem of a pointer it did not hand
 * out, or of one freed already, is an error instead of a crash in free().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "handle.h"
#include "hmem.h"
#include "hooks.h"
#include "inside.h"
#include "mem.h"
#include "proc.h"
#include "ve_offload.h"

#define HMEM_CHUNK (16u << 20)  /* largest piece of a VE -> VE copy through the host */

/* The live proc an hmem VE pointer names, or NULL with a message. */
static struct veo_proc_handle *proc_of(const void *hmem, const char *who)
{
	uint64_t v = (uint64_t)(uintptr_t)hmem;
	struct veo_proc_handle *p = proc_by_ident(hmem_ident(v));

	if (!p)
		error_set("%s: hmem pointer %p names proc identifier %d, which is not a "
		          "live proc (destroyed, or never created)", who, hmem, hmem_ident(v));
	return p;
}

int veo_alloc_hmem(struct veo_proc_handle *p, void **hmem, const size_t size)
{
	struct hook_call h;
	uint64_t addr;

	if (!hmem)
		return error_set("veo_alloc_hmem: NULL result pointer");
	if (!p) {
		/* calloc, not malloc: GCC takes handle_register for a reader of
		 * the bytes and warns. */
		void *m = calloc(1, size ? size : 1);

		if (!m || handle_register(m) != 0) {
			free(m);
			return error_set("veo_alloc_hmem: cannot allocate %zu bytes of host "
			                 "memory", size);
		}
		*hmem = m;
		return 0;
	}
	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (p->ident >= HMEM_MAX_PROCS)
		return error_set("veo_alloc_hmem: proc identifier %d: hmem pointers name procs "
		                 "0..%d only (at most %d live procs can have hmem)", p->ident,
		                 HMEM_MAX_PROCS - 1, HMEM_MAX_PROCS);
	if (veo_alloc_mem(p, &addr, size) != 0)
		return -1;
	*hmem = (void *)(uintptr_t)hmem_make(addr, p->ident);
	if (hooks_get((void *)veo_alloc_hmem, &h))
		h.fn(h.payload, p, *hmem, size);
	return 0;
}

int veo_free_hmem(void *hmem)
{
	struct veo_proc_handle *p;
	struct hook_call h;

	if (!hmem)
		return 0; /* as free(NULL) */
	if (!veo_is_ve_addr(hmem)) {
		if (handle_unregister(hmem) != 0)
			return error_set("veo_free_hmem: host pointer %p is not memory from "
			                 "veo_alloc_hmem (never allocated, or freed already)", hmem);
		free(hmem);
		return 0;
	}
	if (!(p = proc_of(hmem, "veo_free_hmem")))
		return -1;
	if (veo_free_mem(p, hmem_addr((uint64_t)(uintptr_t)hmem)) != 0)
		return -1;
	if (hooks_get((void *)veo_free_hmem, &h))
		h.fn(h.payload, p, hmem);
	return 0;
}

/* Host to host, through the kernel, so that a bad buffer is -1, not a
 * crash (as mem_host_copy). */
static int host_copy(void *dst, const void *src, size_t size)
{
	struct iovec from = { (void *)src, size }, to = { dst, size };
	ssize_t n = process_vm_writev(getpid(), &from, 1, &to, 1, 0);

	if (n == (ssize_t)size)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memmove(dst, src, size); /* no such system call here: trust the caller */
		return 0;
	}
	return error_set("veo_hmemcpy: the host buffers at %p and %p are not both "
	                 "accessible for %zu bytes", dst, src, size);
}

/* VE to VE, within a proc or between two. Heap memory is mapped in the
 * host, so that is one memmove; anything else goes through the host in
 * pieces. */
static int ve_copy(void *dst, const void *src, size_t size)
{
	struct veo_proc_handle *pd = proc_of(dst, "veo_hmemcpy"), *ps;
	uint64_t d = hmem_addr((uint64_t)(uintptr_t)dst), s;
	void *hd, *hs;
	char *buf;

	if (!pd || !(ps = proc_of(src, "veo_hmemcpy")))
		return -1;
	s = hmem_addr((uint64_t)(uintptr_t)src);
	hd = veo_host_view(pd, d, size);
	hs = hd ? veo_host_view(ps, s, size) : NULL;
	if (hd && hs) {
		memmove(hd, hs, size);
		return 0;
	}
	buf = malloc(size < HMEM_CHUNK ? size : HMEM_CHUNK);
	if (!buf)
		return error_set("veo_hmemcpy: out of memory for a VE to VE copy");
	for (size_t done = 0; done < size;) {
		size_t n = size - done < HMEM_CHUNK ? size - done : HMEM_CHUNK;

		if (veo_read_mem(ps, buf, s + done, n) != 0 ||
		    veo_write_mem(pd, d + done, buf, n) != 0) {
			free(buf);
			return -1;
		}
		done += n;
	}
	free(buf);
	return 0;
}

int veo_hmemcpy(void *dst, const void *src, size_t size)
{
	int dve = veo_is_ve_addr(dst), sve = veo_is_ve_addr(src);
	struct veo_proc_handle *p;

	if (size == 0)
		return 0;
	if ((!dst && !dve) || (!src && !sve))
		return error_set("veo_hmemcpy: NULL %s of %zu bytes", !dst ? "destination"
		                                                           : "source", size);
	if (dve && sve)
		return ve_copy(dst, src, size);
	if (!dve && !sve)
		return host_copy(dst, src, size);
	if (!(p = proc_of(dve ? dst : src, "veo_hmemcpy")))
		return -1;
	if (dve)
		return veo_write_mem(p, hmem_addr((uint64_t)(uintptr_t)dst), src, size);
	return veo_read_mem(p, dst, hmem_addr((uint64_t)(uintptr_t)src), size);
}

void *veo_set_proc_identifier(void *addr, int ident)
{
	if (ident < 0 || ident >= HMEM_MAX_PROCS) {
		error_set("veo_set_proc_identifier: identifier %d is not 0..%d", ident,
		          HMEM_MAX_PROCS - 1);
		return NULL;
	}
	return (void *)(uintptr_t)hmem_make((uint64_t)(uintptr_t)addr, ident);
}

struct veo_proc_handle *veo_get_proc_handle_from_hmem(const void *hmem)
{
	if (!veo_is_ve_addr(hmem)) {
		error_set("veo_get_proc_handle_from_hmem: %p is a host pointer", hmem);
		return NULL;
	}
	return proc_of(hmem, "veo_get_proc_handle_from_hmem");
}

pid_t veo_get_pid_from_hmem(const void *hmem)
{
	struct veo_proc_handle *p = veo_get_proc_handle_from_hmem(hmem);

	return p ? p->pid : -1;
}

int veo_get_venum_from_hmem(const void *hmem)
{
	struct veo_proc_handle *p = veo_get_proc_handle_from_hmem(hmem);

	return p ? p->node : -1;
}

/* ---- the hmem hook functions ---------------------------------------------
 * Hooks of the four allocation calls that hand the program's callbacks the
 * hmem pointer of what was allocated or freed. */

typedef void (*alloc_cb)(void *, size_t);
typedef void (*free_cb)(uint64_t);
static _Atomic(alloc_cb) hmem_alloc_cb;
static _Atomic(free_cb) hmem_free_cb;

static void call_alloc_cb(void *hmem, size_t size)
{
	alloc_cb cb = atomic_load(&hmem_alloc_cb);

	if (cb)
		cb(hmem, size);
}

static void call_free_cb(void *hmem)
{
	free_cb cb = atomic_load(&hmem_free_cb);

	if (cb)
		cb((uint64_t)(uintptr_t)hmem);
}

static void *tagged(struct veo_proc_handle *p, uint64_t addr)
{
	return veo_set_proc_identifier((void *)(uintptr_t)addr, p->ident);
}

static void on_alloc(void *payload, ...)
{
	va_list ap;
	struct veo_proc_handle *p;
	uint64_t *addr;
	size_t size;

	(void)payload;
	va_start(ap, payload);
	p = va_arg(ap, struct veo_proc_handle *);
	addr = va_arg(ap, uint64_t *);
	size = va_arg(ap, size_t);
	va_end(ap);
	call_alloc_cb(tagged(p, *addr), size);
}

static void on_free(void *payload, ...)
{
	va_list ap;
	struct veo_proc_handle *p;
	uint64_t addr;

	(void)payload;
	va_start(ap, payload);
	p = va_arg(ap, struct veo_proc_handle *);
	addr = va_arg(ap, uint64_t);
	va_end(ap);
	call_free_cb(tagged(p, addr));
}

static void on_alloc_async(void *payload, ...)
{
	va_list ap;
	struct veo_thr_ctxt *c;
	uint64_t addr;
	size_t size;

	(void)payload;
	va_start(ap, payload);
	c = va_arg(ap, struct veo_thr_ctxt *);
	addr = va_arg(ap, uint64_t);
	size = va_arg(ap, size_t);
	va_end(ap);
	call_alloc_cb(tagged(c->proc, addr), size);
}

static void on_free_async(void *payload, ...)
{
	va_list ap;
	struct veo_thr_ctxt *c;
	uint64_t addr;

	(void)payload;
	va_start(ap, payload);
	c = va_arg(ap, struct veo_thr_ctxt *);
	addr = va_arg(ap, uint64_t);
	va_end(ap);
	call_free_cb(tagged(c->proc, addr));
}

void veo_register_hmem_hook_functions(void (*alloc)(void *, size_t), void (*free_)(uint64_t))
{
	atomic_store(&hmem_alloc_cb, alloc);
	atomic_store(&hmem_free_cb, free_);
	veo_register_hook((void *)veo_alloc_mem, on_alloc, NULL);
	veo_register_hook((void *)veo_free_mem, on_free, NULL);
	veo_register_hook((void *)veo_alloc_mem_async, on_alloc_async, NULL);
	veo_register_hook((void *)veo_free_mem_async, on_free_async, NULL);
}

void veo_unregister_hmem_hook_functions(void)
{
	veo_unregister_hook((void *)veo_alloc_mem);
	veo_unregister_hook((void *)veo_free_mem);
	veo_unregister_hook((void *)veo_alloc_mem_async);
	veo_unregister_hook((void *)veo_free_mem_async);
	atomic_store(&hmem_alloc_cb, NULL);
	atomic_store(&hmem_free_cb, NULL);
}
