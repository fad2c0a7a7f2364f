/*
 * mem.c: VE memory. Blocks from veo_alloc_mem live in the heap that host
 * and worker share, so copies to and from them are one memcpy by the host.
 * Any other worker address (a library variable, memory a kernel
 * malloc'ed) is copied by the worker through a heap bounce block, which
 * also lets the worker refuse an address it does not own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "control.h"
#include "death.h"
#include "error.h"
#include "hmem.h"
#include "hooks.h"
#include "inside.h"
#include "mem.h"
#include "proc.h"
#include "request.h"

#define BOUNCE_CHUNK (16u << 20)  /* largest bounce block of a sync copy */

/* No worker address range reaches this far (x86-64 and aarch64 user space
 * ends below 2^57 even with 5-level page tables): a larger size is a
 * mistake, refused before anything is copied. */
#define VE_ADDR_LIMIT (1ull << 57)

int mem_heap_alloc(struct veo_proc_handle *p, uint64_t size, uint64_t *off)
{
	int err = heap_alloc(&p->heap, size ? size : 1, off);

	if (err == -ENOMEM && size > p->heap_size)
		return error_set("cannot allocate %llu bytes of VE memory: more than the "
		                "VE heap holds (%llu bytes; VEO_HEAP_SIZE sets it)",
		                (unsigned long long)size, (unsigned long long)p->heap_size);
	if (err == -ENOMEM)
		return error_set("cannot allocate %llu bytes of VE memory: not enough "
		                "memory (the machine has too little available, or the "
		                "VE heap is full)", (unsigned long long)size);
	if (err)
		return error_set("cannot allocate %llu bytes of VE memory: %s",
		                (unsigned long long)size, strerror(-err));
	return 0;
}

void mem_heap_free(struct veo_proc_handle *p, uint64_t off)
{
	heap_free(&p->heap, off);
}

int veo_alloc_mem(struct veo_proc_handle *p, uint64_t *addr, const size_t size)
{
	struct hook_call h;
	uint64_t off;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (!addr)
		return error_set("veo_alloc_mem: NULL address pointer");
	if (death_recheck(p))
		return error_set("veo_alloc_mem: %s", death_msg(p));
	if (mem_heap_alloc(p, size, &off) != 0)
		return -1;
	*addr = p->heap_ve + off;
	if (hooks_get((void *)veo_alloc_mem, &h))
		h.fn(h.payload, p, addr, size); /* the address through a pointer, as AVEO */
	return 0;
}

/* Heap offset of the live block starting at addr, or -1 with a message. */
static int block_start(struct veo_proc_handle *p, uint64_t addr, uint64_t *off,
                       const char *who)
{
	uint64_t blk;

	if (!proc_heap_off(p, addr, 0, off) ||
	    heap_find(&p->heap, *off, 0, &blk, NULL) != 0 || blk != *off) {
		error_set("%s: 0x%llx is not VE memory from veo_alloc_mem "
		          "(never allocated, already freed, or not the start of a block)",
		          who, (unsigned long long)addr);
		return -1; /* not error_set's value: the compiler then sees *off is set on 0 */
	}
	return 0;
}

int veo_free_mem(struct veo_proc_handle *p, uint64_t addr)
{
	struct hook_call h;
	uint64_t off;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (death_recheck(p))
		return error_set("veo_free_mem: %s (veo_proc_destroy releases its memory)",
		                death_msg(p));
	if (block_start(p, addr, &off, "veo_free_mem") != 0)
		return -1;
	if (heap_free(&p->heap, off) != 0)
		return error_set("veo_free_mem: 0x%llx was freed meanwhile",
		                (unsigned long long)addr);
	if (hooks_get((void *)veo_free_mem, &h))
		h.fn(h.payload, p, addr);
	return 0;
}

void *veo_host_view(struct veo_proc_handle *p, uint64_t addr, size_t size)
{
	uint64_t off;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return NULL;
	if (hmem_is_ve(addr)) {
		if (hmem_ident(addr) != p->ident) {
			error_set("veo_host_view: hmem pointer 0x%llx names proc identifier %d, "
			          "not this proc's (%d)", (unsigned long long)addr, hmem_ident(addr),
			          p->ident);
			return NULL;
		}
		addr = hmem_addr(addr);
	}
	if (!proc_heap_off(p, addr, 0, &off) ||
	    heap_find(&p->heap, off, size ? size : 1, NULL, NULL) != 0) {
		error_set("veo_host_view: 0x%llx (%zu bytes) is not inside VE memory from "
		          "veo_alloc_mem", (unsigned long long)addr, size);
		return NULL;
	}
	return p->heap_host + off;
}

/* Does [addr, addr+len) lie in one live heap block? 1 yes (off set), 0 it
 * is outside the heap, -1 it is in the heap but not allocated. */
static int heap_range(struct veo_proc_handle *p, uint64_t addr, size_t len,
                      uint64_t *off, const char *who)
{
	if (!proc_heap_off(p, addr, 0, off))
		return 0;
	if (heap_find(&p->heap, *off, len, NULL, NULL) != 0)
		return error_set("%s: 0x%llx (%zu bytes) is not inside allocated VE memory",
		                who, (unsigned long long)addr, len);
	return 1;
}

/* Checks what can be checked of a copy before anything is touched: the
 * proc lives, the host buffer is given and does not wrap around, the VE
 * range is not larger than any address space. 0, or -1 with a message. */
static int copy_args_ok(struct veo_proc_handle *p, const void *host, uint64_t addr,
                        size_t size, const char *who)
{
	if (!host && size)
		return error_set("%s: NULL host buffer of %zu bytes", who, size);
	if ((uintptr_t)host + size < (uintptr_t)host)
		return error_set("%s: %zu bytes at host address %p wrap around the "
		                "address space", who, size, host);
	if (size >= VE_ADDR_LIMIT || addr + size < addr || addr + size > VE_ADDR_LIMIT)
		return error_set("%s: %zu bytes at VE address 0x%llx: no VE memory is that "
		                "large", who, size, (unsigned long long)addr);
	if (death_recheck(p))
		return error_set("%s: %s", who, death_msg(p));
	return 0;
}

/* Copies n bytes between the caller's buffer and a bounce block, through
 * the kernel (process_vm_readv/writev on ourselves), so that a host buffer
 * shorter than the size given is an error return instead of a crash of
 * the host. */
int mem_host_copy(void *bounce, char *host, size_t n, int to_host)
{
	struct iovec local = { bounce, n }, remote = { host, n };
	ssize_t got = to_host ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
	                      : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

	if (got == (ssize_t)n)
		return 0;
	if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* no such system call here (a sandbox): trust the caller */
		if (to_host)
			memcpy(host, bounce, n);
		else
			memcpy(bounce, host, n);
		return 0;
	}
	return -1;
}

/* A synchronous copy through the worker, in bounce-sized pieces. */
static int foreign_copy(struct veo_proc_handle *p, char *host, uint64_t addr,
                        size_t len, int is_read, const char *who)
{
	size_t chunk = len < BOUNCE_CHUNK ? len : BOUNCE_CHUNK;
	uint64_t bounce;

	if (mem_heap_alloc(p, chunk, &bounce) != 0)
		return -1;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < chunk ? len - done : chunk;
		struct vp_xfer x = { .rec = { .len = sizeof x,
		                              .op = is_read ? VP_OP_READ : VP_OP_WRITE },
		                     .addr = addr + done, .bounce = bounce, .len = n };
		char msg[VP_MSG_MAX];
		uint64_t r;

		if (!is_read && mem_host_copy(p->heap_host + bounce, host + done, n, 0) != 0) {
			mem_heap_free(p, bounce);
			return error_set("%s: the host buffer at %p is not readable for %zu bytes",
			                who, (void *)host, len);
		}
		if (control_call(p, &x.rec, sizeof x, &r, msg, sizeof msg) != VP_ST_OK) {
			mem_heap_free(p, bounce);
			return error_set("%s: %s", who, msg);
		}
		if (is_read && mem_host_copy(p->heap_host + bounce, host + done, n, 1) != 0) {
			mem_heap_free(p, bounce);
			return error_set("%s: the host buffer at %p is not writable for %zu bytes",
			                who, (void *)host, len);
		}
		done += n;
	}
	mem_heap_free(p, bounce);
	return 0;
}

int veo_read_mem(struct veo_proc_handle *p, void *dst, uint64_t src, size_t size)
{
	uint64_t off;
	int in;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (copy_args_ok(p, dst, src, size, "veo_read_mem") != 0)
		return -1;
	if (size == 0)
		return 0;
	if ((in = heap_range(p, src, size, &off, "veo_read_mem")) < 0)
		return -1;
	if (in) {
		memcpy(dst, p->heap_host + off, size);
		return 0;
	}
	return foreign_copy(p, dst, src, size, 1, "veo_read_mem");
}

int veo_write_mem(struct veo_proc_handle *p, uint64_t dst, const void *src, size_t size)
{
	uint64_t off;
	int in;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (copy_args_ok(p, src, dst, size, "veo_write_mem") != 0)
		return -1;
	if (size == 0)
		return 0;
	if ((in = heap_range(p, dst, size, &off, "veo_write_mem")) < 0)
		return -1;
	if (in) {
		memcpy(p->heap_host + off, src, size);
		return 0;
	}
	return foreign_copy(p, (char *)src, dst, size, 0, "veo_write_mem");
}

/* Async copy of heap memory: done at once when the context has nothing
 * queued (same order, no worker round trip), else by the host when the
 * worker reaches it in the queue. */
static uint64_t async_heap_copy(struct veo_thr_ctxt *c, char *host, uint64_t off,
                                size_t len, int is_read)
{
	struct veo_proc_handle *p = c->proc;
	int kind = is_read ? REQ_HEAP_READ : REQ_HEAP_WRITE;
	struct req_extra x = { .block = ~0ull };
	struct vp_rec rec = { .len = sizeof rec, .op = VP_OP_HOST_ACTION };
	uint64_t id;

	if (req_lock_if_idle(c)) {
		if (len && is_read)
			memcpy(host, p->heap_host + off, len);
		else if (len)
			memcpy(p->heap_host + off, host, len);
		id = req_done_locked(c, kind);
		req_unlock(c);
		return id;
	}
	x.u.xfer.host = host;
	x.u.xfer.heap_off = off;
	x.u.xfer.len = len;
	return req_submit(c, kind, &x, &rec, sizeof rec);
}

/* The end of an async read through the worker (request.h's finish): the
 * bounce block's bytes to the caller's buffer. */
static int bounce_read_finish(struct veo_thr_ctxt *c, struct req_extra *x, char *msg)
{
	if (mem_host_copy(c->proc->heap_host + x->u.xfer.heap_off, x->u.xfer.host,
	                  x->u.xfer.len, 1) != 0) {
		snprintf(msg, VP_NOTE_MSG + 1, "the host buffer at %p is not "
		         "writable for %llu bytes", (void *)x->u.xfer.host,
		         (unsigned long long)x->u.xfer.len);
		return VEO_COMMAND_ERROR;
	}
	return VEO_COMMAND_OK;
}

/* Async copy of other worker memory, by the worker through a bounce block. */
static uint64_t async_bounce_copy(struct veo_thr_ctxt *c, char *host, uint64_t addr,
                                  size_t len, int is_read)
{
	struct veo_proc_handle *p = c->proc;
	struct req_extra e = { .block = ~0ull };
	struct vp_xfer x = { .rec = { .len = sizeof x, .op = is_read ? VP_OP_READ : VP_OP_WRITE },
	                     .addr = addr, .len = len };
	uint64_t id;

	if (mem_heap_alloc(p, len, &x.bounce) != 0)
		return VEO_REQUEST_ID_INVALID;
	if (!is_read && mem_host_copy(p->heap_host + x.bounce, host, len, 0) != 0) {
		mem_heap_free(p, x.bounce);
		error_set("veo_async_write_mem: the host buffer at %p is not readable for "
		         "%zu bytes", (void *)host, len);
		return VEO_REQUEST_ID_INVALID;
	}
	e.block = x.bounce;
	e.finish = is_read ? bounce_read_finish : NULL;
	e.u.xfer.host = host;
	e.u.xfer.heap_off = x.bounce;
	e.u.xfer.len = len;
	id = req_submit(c, is_read ? REQ_BOUNCE_READ : REQ_BOUNCE_WRITE, &e, &x, sizeof x);
	if (id == VEO_REQUEST_ID_INVALID)
		mem_heap_free(p, x.bounce);
	return id;
}

static uint64_t async_copy(struct veo_thr_ctxt *c, char *host, uint64_t addr,
                           size_t len, int is_read, const char *who)
{
	uint64_t off;
	int in;

	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (copy_args_ok(c->proc, host, addr, len, who) != 0)
		return VEO_REQUEST_ID_INVALID;
	if (len == 0)
		return async_heap_copy(c, host, 0, 0, is_read);
	if ((in = heap_range(c->proc, addr, len, &off, who)) < 0)
		return VEO_REQUEST_ID_INVALID;
	if (in)
		return async_heap_copy(c, host, off, len, is_read);
	return async_bounce_copy(c, host, addr, len, is_read);
}

uint64_t veo_async_read_mem(struct veo_thr_ctxt *c, void *dst, uint64_t src, size_t size)
{
	return async_copy(c, dst, src, size, 1, "veo_async_read_mem");
}

uint64_t veo_async_write_mem(struct veo_thr_ctxt *c, uint64_t dst, const void *src,
                             size_t size)
{
	return async_copy(c, (char *)src, dst, size, 0, "veo_async_write_mem");
}

/* The end of veo_alloc_mem_async when a hook was registered (request.h's
 * finish): the hook runs as the request completes, as in AVEO. */
static int alloc_finish(struct veo_thr_ctxt *c, struct req_extra *x, char *msg)
{
	struct hook_call h;

	(void)msg;
	if (hooks_get((void *)veo_alloc_mem_async, &h))
		h.fn(h.payload, c, x->u.mem.addr, (size_t)x->u.mem.size);
	return VEO_COMMAND_OK;
}

uint64_t veo_alloc_mem_async(struct veo_thr_ctxt *c, const size_t size)
{
	struct vp_complete rec = { .rec = { .len = sizeof rec, .op = VP_OP_COMPLETE } };
	struct req_extra x = { .block = ~0ull, .finish = alloc_finish };
	struct hook_call h;
	uint64_t off, id;

	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (mem_heap_alloc(c->proc, size, &off) != 0)
		return VEO_REQUEST_ID_INVALID;
	rec.result = c->proc->heap_ve + off;
	x.u.mem.addr = rec.result;
	x.u.mem.size = size;
	id = req_submit(c, REQ_ALLOC, hooks_get((void *)veo_alloc_mem_async, &h) ? &x : NULL,
	                &rec, sizeof rec);
	if (id == VEO_REQUEST_ID_INVALID)
		mem_heap_free(c->proc, off);
	return id;
}

/* The end of veo_free_mem_async (request.h's finish): the block is freed
 * when the worker reaches the request, in the context's order. */
static int free_finish(struct veo_thr_ctxt *c, struct req_extra *x, char *msg)
{
	struct veo_proc_handle *p = c->proc;
	uint64_t off, addr = x->u.mem.addr;
	struct hook_call h;

	if (proc_heap_off(p, addr, 0, &off) && heap_free(&p->heap, off) == 0) {
		if (hooks_get((void *)veo_free_mem_async, &h))
			h.fn(h.payload, c, addr);
		return VEO_COMMAND_OK;
	}
	snprintf(msg, VP_NOTE_MSG + 1, "0x%llx is not allocated VE memory",
	         (unsigned long long)addr);
	return VEO_COMMAND_ERROR;
}

uint64_t veo_free_mem_async(struct veo_thr_ctxt *c, uint64_t addr)
{
	struct req_extra x = { .block = ~0ull, .finish = free_finish };
	struct vp_complete rec = { .rec = { .len = sizeof rec, .op = VP_OP_COMPLETE } };
	uint64_t off;

	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return VEO_REQUEST_ID_INVALID;
	if (block_start(c->proc, addr, &off, "veo_free_mem_async") != 0)
		return VEO_REQUEST_ID_INVALID;
	x.u.mem.addr = addr; /* freed when the worker reaches it (free_finish) */
	return req_submit(c, REQ_FREE, &x, &rec, sizeof rec);
}
