/*
 * ve_offload.h: the VEO (VE Offloading) host API, as implemented by openveo.
 *
 * A program written for NEC's libveo compiles against this header unchanged
 * and links with -lveo. The "vector engine" is a separate worker process
 * (veorun) on the host; kernels are libraries built for the host.
 *
 * Conventions used by every function below:
 *  - int functions return 0 on success and a negative value on failure,
 *    unless stated otherwise;
 *  - functions returning a handle or an address return NULL / 0 on failure;
 *  - functions returning a request id return VEO_REQUEST_ID_INVALID on failure;
 *  - on failure, veo_last_error() (an openveo extension) returns a message
 *    saying what was wrong. Errors are also printed to stderr unless
 *    VEO_LOG_ERRORS=0 is set or veo_set_error_print(0) was called.
 *
 * Handles are checked: a NULL, closed, destroyed, freed or foreign handle is
 * an error return, never a crash, and a freed handle is never read. So are
 * the other arguments: argument numbers, sizes, addresses, request ids. The
 * README's "Faults and bad input" lists what was tried and what each gets.
 */
#ifndef VE_OFFLOAD_H
#define VE_OFFLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "veo_hmem.h"

#define VEO_API_VERSION 16
#define VEO_SYMNAME_LEN_MAX (255)
#define VEO_MAX_NUM_ARGS (256)
#define VEO_REQUEST_ID_INVALID (~0UL)

/* openveo's own version. */
#define OPENVEO_VERSION_MAJOR 0
#define OPENVEO_VERSION_MINOR 1
#define OPENVEO_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* libveo is built with hidden visibility; what this header declares is
 * its API and is exported (the only names that are). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

enum veo_context_state {
	VEO_STATE_UNKNOWN = 0,
	VEO_STATE_RUNNING,
	VEO_STATE_SYSCALL, /* never reported by openveo */
	VEO_STATE_BLOCKED, /* never reported by openveo */
	VEO_STATE_EXIT,
};

enum veo_command_state {
	VEO_COMMAND_OK = 0,
	VEO_COMMAND_EXCEPTION, /* the kernel crashed (signal, fault) */
	VEO_COMMAND_ERROR,     /* could not run, proc died, unknown id */
	VEO_COMMAND_UNFINISHED,
};

enum veo_queue_state {
	VEO_QUEUE_READY = 0,
	VEO_QUEUE_CLOSED,
};

enum veo_args_intent {
	VEO_INTENT_IN = 0,
	VEO_INTENT_INOUT,
	VEO_INTENT_OUT,
};

struct veo_args;
struct veo_proc_handle;
struct veo_thr_ctxt;
struct veo_thr_ctxt_attr;

/* ---- API hooks ---------------------------------------------------------
 * A hook runs after the call it is registered for succeeds, with these
 * arguments after the payload (as AVEO passes them):
 *   veo_alloc_mem        (proc, uint64_t *addr, size_t size): addr points
 *                        at the caller's variable holding the new address;
 *   veo_free_mem         (proc, uint64_t addr);
 *   veo_alloc_hmem       (proc, void *hmem, size_t size);
 *   veo_free_hmem        (proc, void *hmem);
 *   veo_alloc_mem_async  (ctx, uint64_t addr, size_t size), and
 *   veo_free_mem_async   (ctx, uint64_t addr): when the request completes,
 *                        in the waiting thread, before the wait returns.
 * Hooks are process-wide. A hook of an async request runs with the
 * context's lock held: it must not submit to or wait on that context.
 */
void veo_register_hook(void *api_func, void (*hook)(void *, ...), void *payload);
void *veo_get_hook(void *api_func);
void veo_unregister_hook(void *api_func);

/* ---- Processes ---------------------------------------------------------
 * veo_proc_create starts a worker process (veorun) for VE node `venode`
 * (0..7; -1 means $VE_NODE_NUMBER, else 0). The worker binary is
 * $VEORUN_BIN if set, else the one installed next to libveo. Environment
 * variables named VE_X reach the worker as X (VE_OMP_NUM_THREADS=4 gives
 * OpenMP kernels 4 threads). Returns NULL on failure.
 */
struct veo_proc_handle *veo_proc_create(int venode);
/* Same, with a worker built by mk_veorun_static (kernels linked in). */
struct veo_proc_handle *veo_proc_create_static(int venode, char *veorun_bin);
/* Extension: veo_proc_create (veorun_bin NULL) or veo_proc_create_static
 * with flags. VEO_PROC_CAPTURE_STDOUT / _STDERR give the worker a pipe as
 * its stdout / stderr instead of the host's, whose read end
 * veo_proc_output_fd returns: for hosts whose own output is not a
 * descriptor (Python under Jupyter or a test runner shows kernels' output
 * through sys.stdout). Without them (flags 0) the worker shares the host's
 * stdout and stderr. NULL for unknown flags. */
#define VEO_PROC_CAPTURE_STDOUT 0x1u
#define VEO_PROC_CAPTURE_STDERR 0x2u
struct veo_proc_handle *veo_proc_create_with_flags(int venode, const char *veorun_bin,
                                                   unsigned flags);
/* Extension: the read end (non-blocking, close-on-exec) of the pipe that is
 * the worker's stdout (which = 1) or stderr (which = 2), for a proc created
 * with the CAPTURE flag; -1 otherwise. libveo owns it and closes it in
 * veo_proc_destroy: dup() it to read what the worker writes while it exits.
 * The worker writes out what stdio holds after each call, before the call
 * completes, so once a wait returns, every byte the kernel wrote during the
 * call can be read. Nobody reads for you: a pipe holds 64 KiB, after which
 * a printing kernel blocks until the host reads. */
int veo_proc_output_fd(struct veo_proc_handle *proc, int which);
/* Stops the worker and frees everything the proc owned. 0 or -1. */
int veo_proc_destroy(struct veo_proc_handle *proc);
/* Small integer naming a live proc: the lowest not taken by another live
 * proc (0, 1, ...), the identifier hmem pointers carry; -1 for a bad
 * handle. */
int veo_proc_identifier(struct veo_proc_handle *proc);
/* Architecture number of a node: openveo reports 1 (it behaves as a VE1:
 * the host's vector units run the kernels). -1 for a node that does not
 * exist. */
int veo_get_ve_arch(int venode);

/* ---- Libraries and symbols ---------------------------------------------- */
/* Loads a kernel library into the worker; a non-zero handle, or 0 (with the
 * dynamic loader's message). Loading a loaded file again gives its handle.
 * A file that changed since it was loaded (another inode, size or
 * modification time: rebuilt) is loaded anew, in the same proc: a new
 * handle with the new code, and the old handle is unloaded (later uses of
 * it fail, "replaced by handle N"; calls of its functions queued before
 * find no code there); refused (0) while a kernel of the old version
 * runs. */
uint64_t veo_load_library(struct veo_proc_handle *proc, const char *path);
/* Unloads a library; 0, or -1 for an unknown or already unloaded handle.
 * Handles are never reused, so unloading twice fails even after another
 * library was loaded; calling a function of an unloaded library is a
 * VEO_COMMAND_ERROR, not a crash. */
int veo_unload_library(struct veo_proc_handle *proc, const uint64_t libhdl);
/* Address of a function or variable in the worker, 0 if not found. Handle 0
 * searches the worker executable (kernels linked in by mk_veorun_static). */
uint64_t veo_get_sym(struct veo_proc_handle *proc, uint64_t libhdl,
                     const char *symname);

/* ---- Memory ------------------------------------------------------------
 * VE memory from veo_alloc_mem lives in a heap shared with the worker, so
 * veo_read_mem / veo_write_mem on it are a single memcpy by the host. Other
 * worker addresses (library variables, memory a kernel allocated) go
 * through the worker. An address the worker does not own is an error, so
 * is a range that leaves the block it starts in, a size no VE memory can
 * have, a NULL host buffer with a size, and (for copies through the worker)
 * a host buffer shorter than the size. An allocation larger than the memory
 * the machine has available is refused before anything is committed.
 * VE addresses are worker addresses: dereferencing one in the host does not
 * read the data.
 */
int veo_alloc_mem(struct veo_proc_handle *proc, uint64_t *addr, const size_t size);
int veo_free_mem(struct veo_proc_handle *proc, uint64_t addr);
int veo_read_mem(struct veo_proc_handle *proc, void *dst, uint64_t src, size_t size);
int veo_write_mem(struct veo_proc_handle *proc, uint64_t dst, const void *src,
                  size_t size);

/* ---- Heterogeneous memory (hmem, veo_hmem.h) ---------------------------
 * veo_alloc_hmem allocates VE memory of proc (as veo_alloc_mem) and gives
 * its hmem pointer: the VE address tagged with the proc's identifier; with
 * proc NULL it allocates host memory (malloc) instead. Only procs whose
 * identifier is below veo_get_max_proc_identifier() (16) can have hmem.
 * veo_free_hmem frees either kind. veo_hmemcpy copies size bytes and tells
 * the direction from the tags: host -> VE, VE -> host, host -> host, and
 * VE -> VE (within a proc, and, an openveo extension, between two procs).
 * A pointer that names no live proc, memory that is not allocated, or a
 * bad host buffer is an error return with a message, never a crash.
 */
int veo_alloc_hmem(struct veo_proc_handle *proc, void **hmem, const size_t size);
int veo_free_hmem(void *hmem);
int veo_hmemcpy(void *dst, const void *src, size_t size);
/* Passes an hmem pointer to a kernel as it is (the kernel removes the tag
 * with veo_get_hmem_addr). */
int veo_args_set_hmem(struct veo_args *args, int argnum, void *hmem);
/* addr (a VE address, tagged or not) tagged with proc identifier ident;
 * NULL if ident is not 0..15. */
void *veo_set_proc_identifier(void *addr, int ident);
/* The live proc, its worker's pid and its VE node, of an hmem pointer:
 * NULL / -1 for a host pointer or one that names no live proc. */
struct veo_proc_handle *veo_get_proc_handle_from_hmem(const void *hmem);
pid_t veo_get_pid_from_hmem(const void *hmem);
int veo_get_venum_from_hmem(const void *hmem);
/* Registers callbacks that get the hmem pointer of every block allocated
 * (alloc(hmem, size)) or freed (free(hmem)) by veo_alloc_mem, veo_free_mem
 * and their async forms (as hooks of those four calls, replacing hooks
 * registered for them); unregistering removes those four hooks. */
void veo_register_hmem_hook_functions(void (*alloc)(void *hmem, size_t size),
                                      void (*free)(uint64_t hmem));
void veo_unregister_hmem_hook_functions(void);

/* ---- Contexts ----------------------------------------------------------
 * A context is a worker thread with an ordered queue: its requests run one
 * after another in submission order; contexts of one proc run concurrently
 * and share its memory.
 */
int veo_num_contexts(struct veo_proc_handle *proc);
/* The idx-th open context (0 <= idx < veo_num_contexts), or NULL. */
struct veo_thr_ctxt *veo_get_context(struct veo_proc_handle *proc, int idx);
struct veo_thr_ctxt *veo_context_open(struct veo_proc_handle *proc);
struct veo_thr_ctxt *veo_context_open_with_attr(struct veo_proc_handle *proc,
                                                struct veo_thr_ctxt_attr *attr);
/* Waits for the queued requests, then stops the context. 0 or -1. */
int veo_context_close(struct veo_thr_ctxt *ctx);
/* VEO_STATE_RUNNING while open and the worker lives, VEO_STATE_EXIT after
 * the worker died, VEO_STATE_UNKNOWN for a bad handle. */
int veo_get_context_state(struct veo_thr_ctxt *ctx);
/* Returns when every request queued so far has finished (results are kept
 * for veo_call_wait_result / veo_call_peek_result). */
void veo_context_sync(struct veo_thr_ctxt *ctx);
/* Extension: the same, giving up after timeout_us microseconds (negative:
 * never). Returns 0 once every request queued before the call has
 * finished, 1 on time-out (nothing is collected; call again), -1 for a bad
 * handle. A caller that syncs in slices, to look at other things between
 * them (Python's Ctrl-C), also waits for what was queued meanwhile. */
int veo_context_sync_timeout(struct veo_thr_ctxt *ctx, long timeout_us);

struct veo_thr_ctxt_attr *veo_alloc_thr_ctxt_attr(void);
int veo_free_thr_ctxt_attr(struct veo_thr_ctxt_attr *attr);
/* Stack size of the context's worker thread (0: the default, 8 MiB). */
int veo_set_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *attr, size_t size);
int veo_get_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *attr, size_t *size);

/* ---- Arguments ---------------------------------------------------------
 * Setters return 0, or -1 for a bad argnum (< 0 or >= VEO_MAX_NUM_ARGS) or
 * handle. Arguments reach the kernel exactly as a C call with that
 * prototype passes them (libffi). Unset arguments below the highest set one
 * are passed as uint64_t 0.
 */
struct veo_args *veo_args_alloc(void);
int veo_args_set_i64(struct veo_args *args, int argnum, int64_t val);
int veo_args_set_u64(struct veo_args *args, int argnum, uint64_t val);
int veo_args_set_i32(struct veo_args *args, int argnum, int32_t val);
int veo_args_set_u32(struct veo_args *args, int argnum, uint32_t val);
int veo_args_set_i16(struct veo_args *args, int argnum, int16_t val);
int veo_args_set_u16(struct veo_args *args, int argnum, uint16_t val);
int veo_args_set_i8(struct veo_args *args, int argnum, int8_t val);
int veo_args_set_u8(struct veo_args *args, int argnum, uint8_t val);
int veo_args_set_double(struct veo_args *args, int argnum, double val);
int veo_args_set_float(struct veo_args *args, int argnum, float val);
/* The kernel gets a pointer to a copy of buf[0..len) in VE memory. IN: copied
 * in at submission; OUT: copied back into buf when the result is collected;
 * INOUT: both. buf must stay valid until then. -1 for a NULL buf with a
 * len, a bad intent or a len of 2^48 or more. */
int veo_args_set_stack(struct veo_args *args, enum veo_args_intent inout,
                       int argnum, char *buf, size_t len);
/* Forgets all arguments (and the declared result type). */
void veo_args_clear(struct veo_args *args);
void veo_args_free(struct veo_args *args);

/* Extension: the result type of a call. On the VE every result comes back in
 * one 64-bit register; on the host a float or double does not. Declaring it
 * makes the result word look as on the VE: a float in the upper 32 bits, a
 * double as its 64-bit pattern; integers sign- or zero-extended to 64 bits.
 * The default is VEO_RESULT_U64 (a 64-bit integer or pointer). */
enum veo_result_type {
	VEO_RESULT_U64 = 0,
	VEO_RESULT_I64,
	VEO_RESULT_I32,
	VEO_RESULT_U32,
	VEO_RESULT_I16,
	VEO_RESULT_U16,
	VEO_RESULT_I8,
	VEO_RESULT_U8,
	VEO_RESULT_FLOAT,
	VEO_RESULT_DOUBLE,
	VEO_RESULT_VOID,
	VEO_RESULT_POINTER = VEO_RESULT_U64,
};
#define VEO_HAVE_RESULT_TYPE 1
int veo_args_set_result_type(struct veo_args *args, enum veo_result_type type);

/* ---- Calls ------------------------------------------------------------- */
/* Queues a call of the function at worker address addr. The arguments are
 * copied: args may be reused or freed as soon as this returns. An addr
 * that is not code of a loaded library completes with VEO_COMMAND_ERROR. */
uint64_t veo_call_async(struct veo_thr_ctxt *ctx, uint64_t addr, struct veo_args *args);
uint64_t veo_call_async_by_name(struct veo_thr_ctxt *ctx, uint64_t libhdl,
                                const char *symname, struct veo_args *args);
/* Runs func(arg) in the host, in the context's order. The function is run
 * by a host thread that waits on, peeks or syncs the context; its return
 * value is the request's result. */
uint64_t veo_call_async_vh(struct veo_thr_ctxt *ctx, uint64_t (*func)(void *), void *arg);
/* Calls and waits, without an opened context (on the proc's hidden one).
 * Returns 0 with *result set, or -1 on any failure: bad arguments, a call
 * that could not run, a kernel that crashed (veo_last_error says which). */
int veo_call_sync(struct veo_proc_handle *proc, uint64_t addr,
                  struct veo_args *args, uint64_t *result);

/* Collect a result: VEO_COMMAND_OK, VEO_COMMAND_EXCEPTION (the kernel
 * crashed: see veo_proc_death_info), VEO_COMMAND_ERROR (could not run,
 * unknown or already collected id, an id of another context, proc died),
 * VEO_COMMAND_UNFINISHED (peek only); -1 for a bad handle. A result is
 * collected once. Request ids are only meaningful to the context that
 * issued them (each carries a tag of its context). */
int veo_call_peek_result(struct veo_thr_ctxt *ctx, uint64_t reqid, uint64_t *retp);
int veo_call_wait_result(struct veo_thr_ctxt *ctx, uint64_t reqid, uint64_t *retp);
/* Extension: waits at most timeout_us microseconds; VEO_COMMAND_UNFINISHED
 * (result not collected) on time-out. A negative timeout waits for ever. */
int veo_call_wait_result_timeout(struct veo_thr_ctxt *ctx, uint64_t reqid,
                                 uint64_t *retp, long timeout_us);

/* Only the calling thread may submit to ctx between these two. */
void veo_req_block_begin(struct veo_thr_ctxt *ctx);
void veo_req_block_end(struct veo_thr_ctxt *ctx);

/* Asynchronous memory requests, in the context's order. Result: 0 for
 * transfers and frees, the address for veo_alloc_mem_async. */
uint64_t veo_alloc_mem_async(struct veo_thr_ctxt *ctx, const size_t size);
uint64_t veo_free_mem_async(struct veo_thr_ctxt *ctx, uint64_t addr);
uint64_t veo_async_read_mem(struct veo_thr_ctxt *ctx, void *dst, uint64_t src, size_t size);
uint64_t veo_async_write_mem(struct veo_thr_ctxt *ctx, uint64_t dst, const void *src,
                             size_t size);

/* ---- Versions ---------------------------------------------------------- */
const char *veo_version_string(void);
int veo_api_version(void);

/* ---- openveo extensions ------------------------------------------------ */
/* The message of the last failure in the calling thread ("" if none). */
const char *veo_last_error(void);
/* Print failures to stderr (on = 1, the default) or not (on = 0). */
void veo_set_error_print(int on);
/* Process id of the proc's worker; -1 for a bad handle. */
pid_t veo_proc_pid(struct veo_proc_handle *proc);
/* A host pointer to VE memory: the VE heap is mapped by host and worker
 * alike, so [addr, addr + size) of a block from veo_alloc_mem (or an hmem
 * pointer of this proc) can be read and written by the host in place, with
 * no copy, as CUDA's mapped memory is. Valid until the block is freed or
 * the proc destroyed. NULL, with a message, for a range that is not inside
 * one allocated block (library variables and memory a kernel allocated
 * live outside the heap: use veo_read_mem / veo_write_mem for those). */
void *veo_host_view(struct veo_proc_handle *proc, uint64_t addr, size_t size);

/* Completion notifications, for event loops (asyncio, epoll, poll): a
 * descriptor that turns readable when a request of a context with
 * notifications on completes, and when the worker ends. Then clear it with
 * veo_proc_completion_ack and peek at the requests (veo_call_peek_result);
 * the descriptor may also turn readable with nothing new, and a completion
 * that raced the switching on may be signalled late, within the worker's
 * next answer: an event loop should peek again after a short timeout too.
 * veo_proc_completion_fd returns the descriptor (the proc owns it; the
 * same one each time) or -1; veo_context_notify switches c's
 * notifications on (on = 1) or off (0); veo_proc_completion_ack returns 0
 * or -1. Off, a completion costs the worker one load. */
int veo_proc_completion_fd(struct veo_proc_handle *proc);
int veo_proc_completion_ack(struct veo_proc_handle *proc);
int veo_context_notify(struct veo_thr_ctxt *ctx, int on);

/* Why a proc's worker is gone. A kernel that crashes ends the worker, as
 * on the VE: the request it ran completes with VEO_COMMAND_EXCEPTION and
 * veo_last_error() holds the whole report (first line: the kernel, the
 * signal and the fault address; then the backtrace); the proc's other
 * pending requests, on every context, complete with VEO_COMMAND_ERROR;
 * every later call on the proc fails at once, saying why (the first line
 * of the report). A worker killed from outside is noticed within about
 * 20 ms by every wait and peek. veo_proc_destroy still releases the proc.
 */
enum veo_death_cause {
	VEO_DEATH_NONE = 0, /* the worker is running */
	VEO_DEATH_SIGNAL,   /* a kernel died of a signal: signo, fault_addr, kernel */
	VEO_DEATH_EXIT,     /* a kernel called exit(): exit_status, kernel */
	VEO_DEATH_KILLED,   /* killed from outside: signo (kernel if one was running) */
	VEO_DEATH_OTHER,    /* anything else (start-up, a corrupted ring): see report */
};

/* A frame of a crash's backtrace, innermost (the fault) first. */
#define VEO_DEATH_FRAMES_MAX 24
struct veo_death_frame {
	uint64_t pc;          /* the instruction (#0) or return address */
	uint64_t offset;      /* pc - symbol's address; 0 at it or unknown */
	char symbol[128];     /* the function, "" if unknown */
	char library[128];    /* its file's name, without the directory, "" */
};

struct veo_death_info {
	int cause;            /* enum veo_death_cause */
	int signo;            /* the signal (SIGNAL, KILLED), else 0 */
	int exit_status;      /* the status given to exit() (EXIT), else 0 */
	uint64_t fault_addr;  /* the faulting address, si_addr (SIGNAL), else 0 */
	char signame[16];     /* "SIGSEGV", "SIGKILL", ..., or "" */
	char kernel[VEO_SYMNAME_LEN_MAX + 1]; /* the kernel that ran, "" if unknown */
	char report[4096];    /* the whole report, "" while the worker runs */
	char library[VEO_SYMNAME_LEN_MAX + 1]; /* the kernel's library (SIGNAL, EXIT) */
	int nframes;          /* frames[] used (SIGNAL) */
	struct veo_death_frame frames[VEO_DEATH_FRAMES_MAX];
};

/* Extension: fills *info with why the worker is gone. Returns 1 if it is
 * gone, 0 if it is running (info->cause is VEO_DEATH_NONE), -1 for a bad
 * handle or a NULL info. */
int veo_proc_death_info(struct veo_proc_handle *proc, struct veo_death_info *info);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* VE_OFFLOAD_H */
