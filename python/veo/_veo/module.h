/*
 * module.h: what the files of veo._veo share: the layouts of its Python
 * objects, the checks every entry point makes, and the functions one file
 * offers the others. Each file includes it first.
 *
 * veo._veo is the core of the `veo` Python package (py-veo's API), a CPython
 * extension written against the public VEO API (ve_offload.h) and nothing
 * else, so it builds against any implementation of that API. Its files:
 *
 *   module.c    the module: init, VeoError and VeoException, the proc init
 *               hooks, the registry of live procs that _shutdown() stops
 *   proc.c      VeoProc: the worker's start and stop, libraries, memory
 *   context.c   VeoCtxt: open, close, async copies, and its orphan list
 *   library.c   VeoLibrary: the lookup of functions and symbols
 *   function.c  VeoFunction: its declared prototype, and the call
 *   ctypes.c    the C type names, argument and result conversion
 *   request.c   VeoRequest, VeoMemRequest: waiting, collecting the outcome,
 *               the crash details a VeoException carries
 *   memory.c    VEMemPtr, OnStack, the checks of host buffers and VE addresses
 *   names.c     VeoName, the str-or-bytes names of kernels and libraries
 *   view.c      VeoHostView, numpy arrays over VE memory (VeoProc.view)
 *   args.c      VeoArgs (py-veo's later API) and VeoCtxt.call_async
 *   hmem.c      VEO_HMEM, the proc's hmem methods and the later API's other
 *               methods, context thread ids, get_ve_arch
 *   log.c       the events veo.logging reports, off by default
 *   output.c    kernels' stdout and stderr shown through sys.stdout/stderr
 *   blocking.c  what may block for long, made so that Ctrl-C reaches it:
 *               jobs on helper threads, chunked copies, context sync
 *   elfsyms.c   the function names a kernel library's file exports (dir(lib))
 *   signature.c a declared VeoFunction's inspect.Signature and docstring
 *
 * How the pieces fit:
 *
 *   VeoProc ──owns── context (list of VeoCtxt), lib (dict of VeoLibrary)
 *     ^                  │                          │
 *     └──── strong ref ──┴──── VeoLibrary ─ func ── VeoFunction
 *                                  │
 *   VEMemPtr ── proc            symbol ── VEMemPtr
 *
 *   VeoFunction(ctx, *args) ──> VeoRequest ── ctx, the buffers it must keep
 *   VeoCtxt.async_*_mem(...) ──> VeoMemRequest (a VeoRequest subclass)
 *
 * Children hold strong references to their parents, so a VeoProc lives as
 * long as anything that could use its handle. The proc's containers make
 * reference cycles; only VeoProc has tp_clear, and clearing it stops the
 * worker first, so a collected cycle ends with the worker stopped and every
 * child marked dead.
 *
 * Invariants (everything below is read and written under the GIL):
 *  - proc->h is non-NULL from a successful __init__ until close; the handle
 *    is usable only while !proc->closing. Contexts likewise (ctx->ctx,
 *    ctx->closing).
 *  - A forked child inherits VeoProc objects whose worker is its parent's
 *    (proc_inherited): it only lets go of its copies (proc_close), never
 *    waits for the parent's threads or stops the worker; libveo refuses
 *    every other use, naming the fork.
 *  - proc->busy counts threads that are inside libveo with the GIL released
 *    (waits, copies, submissions). It is incremented under the GIL after the
 *    usable checks and decremented before the GIL is taken back; proc->jobs
 *    counts helper threads (blocking.c) likewise. Closing a proc sets
 *    `closing` first, then waits for busy == 0 and jobs == 0, then destroys:
 *    no thread is ever inside libveo with a proc that is being destroyed.
 *    (Closing a context need not wait: libveo fails what other threads do
 *    with it, and frees its tables once they have left.) Waits run in
 *    slices of WAIT_SLICE_US so that a closer never waits for long and
 *    Ctrl-C is honoured.
 *  - A host buffer a request may still read or write (OnStack objects, the
 *    target of an async read or the source of an async write) is held until
 *    the result is collected, or until the context or the proc is known to
 *    be gone (then nobody writes into it any more). A request dropped before
 *    its result was collected leaves an "orphan" in its context's queue;
 *    orphans are collected (peeked, in submission order) at the next
 *    submission, sync or close of that context and release what they held.
 */
#ifndef VEO_EXT_MODULE_H
#define VEO_EXT_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ve_offload.h"

/* Longest time a thread waits inside libveo before it looks at signals and
 * at a concurrent close (blocking.c): Ctrl-C is seen within this. */
#define WAIT_SLICE_US 50000L
#define ERRBUF 1024

/* ------------------------------------------------------------------------
 * Module state (module.c); each type object is defined in its type's file
 * --------------------------------------------------------------------- */
extern PyObject *VeoError;       /* veo.VeoError(RuntimeError): a VEO call failed */
extern PyObject *VeoException;   /* veo.VeoException(ArithmeticError): a kernel crashed */
extern PyObject *proc_init_hooks; /* list of callables run as f(proc) */
/* Classes both generations of py-veo catch: the 2018 API raised TypeError,
 * OverflowError, VeoError, AttributeError where the later one raises
 * ValueError, MemoryError, RuntimeError. */
extern PyObject *VeoWarning;               /* (Warning): done as py-veo does, unsafe */
extern PyObject *VeoArgumentError;         /* (ValueError): a bad kernel argument */
extern PyObject *VeoArgumentTypeError;     /* (VeoArgumentError, TypeError) */
extern PyObject *VeoArgumentOverflowError; /* (VeoArgumentError, OverflowError) */
extern PyObject *VeoMemoryError;           /* (VeoError, MemoryError): no VE memory */
extern PyObject *VeoSymbolError;           /* (VeoError, AttributeError): no such symbol */

extern PyTypeObject VeoProc_Type;
extern PyTypeObject VeoCtxt_Type;
extern PyTypeObject VeoLibrary_Type;
extern PyTypeObject VeoFunction_Type;
extern PyTypeObject VeoRequest_Type;
extern PyTypeObject VeoMemRequest_Type;
extern PyTypeObject VEMemPtr_Type;
extern PyTypeObject OnStack_Type;
extern PyTypeObject VeoName_Type;
extern PyTypeObject VeoHostView_Type;

#define VeoProc_Check(o) PyObject_TypeCheck(o, &VeoProc_Type)
#define VeoCtxt_Check(o) PyObject_TypeCheck(o, &VeoCtxt_Type)
#define VeoLibrary_Check(o) PyObject_TypeCheck(o, &VeoLibrary_Type)
#define VEMemPtr_Check(o) PyObject_TypeCheck(o, &VEMemPtr_Type)
#define OnStack_Check(o) PyObject_TypeCheck(o, &OnStack_Type)

/* ------------------------------------------------------------------------
 * Object layouts
 * --------------------------------------------------------------------- */
typedef struct VeoProcObject {
	PyObject_HEAD
	struct veo_proc_handle *h; /* NULL before __init__ and after close */
	int closing;               /* close in progress: refuse new work */
	atomic_int busy;           /* threads inside libveo without the GIL */
	atomic_int jobs;           /* helper threads inside libveo (blocking.c) */
	pid_t pid;                 /* the worker's pid, -1 if unknown */
	pid_t creator;             /* the process that started it (fork) */
	PyObject *nodeid;          /* int */
	PyObject *veorun_bin;      /* str or None */
	PyObject *context;         /* list of open VeoCtxt */
	PyObject *lib;             /* dict: name -> VeoLibrary */
	PyObject *weakreflist;
	struct proc_output *out;   /* kernel output through sys.stdout/stderr (output.c), or NULL */
	/* registry of live procs, stopped by _shutdown() at interpreter exit */
	struct VeoProcObject *reg_prev, *reg_next;
	int registered;
	struct VeoHostViewObject *views; /* live host views of its memory (view.c) */
} VeoProcObject;

/* What a request holds until its result is collected. */
typedef struct {
	uint64_t reqid;
	PyObject *keep;  /* list of OnStack objects, or NULL */
	Py_buffer view;  /* host buffer of a memory request; view.obj NULL if none */
} Pending;

typedef struct {
	PyObject_HEAD
	VeoProcObject *proc;
	struct veo_thr_ctxt *ctx; /* NULL when closed */
	int closing;
	/* requests dropped before collection, in submission order:
	 * orphans[o_head .. o_len) */
	Pending *orphans;
	size_t o_head, o_len, o_cap;
	int tid;                  /* its worker thread's id, 0 if unknown */
	/* 1: the last request waited for here was answered within
	 * FIRST_WAIT_US, so the next wait starts with the GIL held (request.c);
	 * 0 at first, and after a longer one. */
	int quick;
	/* Requests queued through this object whose outcome has not been
	 * collected yet (ctxt_collected), counting from just before their
	 * submission. It may count too many (what a closed context left),
	 * never too few: 0 means libveo's ring holds nothing of ours, so a
	 * submission cannot wait there for the worker (function.c). */
	unsigned queued;
} VeoCtxtObject;

typedef struct {
	PyObject_HEAD
	VeoProcObject *proc;
	PyObject *name;   /* str: path, or "__static__" */
	uint64_t handle;  /* 0 for the static library */
	int unloaded;     /* 1: unloaded; LIB_RELOADED: its file changed and was
	                   * loaded again (load_library), this version is gone */
	PyObject *func;   /* dict: name -> VeoFunction */
	PyObject *symbol; /* dict: name -> VEMemPtr */
} VeoLibraryObject;
#define LIB_RELOADED 2

/* C types an argument or a result may have: the API's result types
 * (ve_offload.h's enum veo_result_type, which are also the protocol's type
 * codes), and two kinds of the binding's own beyond them. */
enum ckind {
	K_U64 = VEO_RESULT_U64, K_I64 = VEO_RESULT_I64, K_I32 = VEO_RESULT_I32,
	K_U32 = VEO_RESULT_U32, K_I16 = VEO_RESULT_I16, K_U16 = VEO_RESULT_U16,
	K_I8 = VEO_RESULT_I8, K_U8 = VEO_RESULT_U8, K_FLOAT = VEO_RESULT_FLOAT,
	K_DOUBLE = VEO_RESULT_DOUBLE, K_VOID = VEO_RESULT_VOID,
	K_PTR,  /* a pointer: the result word is a VE address (VEMemPtr) */
	K_MEM   /* result of a memory request: the raw 64-bit word */
};

/* How one declared argument is converted, fixed when the prototype is
 * declared (ctype_plan) so that a call does no type-name work: its kind,
 * and for an integer kind the range an exact int must be in to be set
 * directly (the type's whole range, but [0, INT64_MAX] for a uint64_t:
 * larger values, and every value that is not an exact int or float, go
 * through ctype_set_arg's general conversion). */
struct arg_plan {
	int kind;
	int64_t lo, hi;
};

typedef struct {
	PyObject_HEAD
	vectorcallfunc vectorcall; /* func_vectorcall: calls skip the args tuple */
	VeoLibraryObject *lib;
	PyObject *name;      /* str */
	uint64_t addr;
	PyObject *args_type; /* tuple of the declared type names, or None */
	PyObject *ret_type;  /* the declared result type name */
	int nargs;
	struct arg_plan *plan; /* nargs entries */
	int ret_kind;
	PyObject *arg_names; /* tuple of parameter names from prototype(), or NULL */
	/* An argument list kept for the next call (GIL held), of the current
	 * prototype: its result type is set, and every call sets all nargs
	 * arguments again, so it is reused uncleared. A new prototype frees
	 * it; decl counts them (args_type() and ret_type() calls). */
	struct veo_args *spare;
	unsigned decl;
} VeoFunctionObject;

/* A request. req_create sets every field: objects are reused from a free
 * list (request.c) without being zeroed. */
typedef struct {
	PyObject_HEAD
	VeoCtxtObject *ctx;
	PyObject *fname;   /* function name (str), NULL for memory requests */
	int kind;          /* how to convert the result */
	Pending res;       /* released when the result is collected */
	int done;          /* result collected: result or exc_* is set */
	int waiting;       /* a thread is waiting for it with the GIL released */
	PyObject *result;
	PyObject *exc_type, *exc_msg;
	PyObject *exc_attrs; /* dict of attributes for the exception, or NULL */
} VeoRequestObject;

/* A VEMemPtr is an int (its value is the address) with these fields after
 * the int's digits, at an offset fixed when the module is initialised
 * (memory.c: room is left for the digits of any 64-bit value). */
typedef struct {
	VeoProcObject *proc;
	uint64_t addr;
	uint64_t size;
} VEMemPtrFields;
extern Py_ssize_t vemem_fields_offset;
static inline VEMemPtrFields *
vemem_fields(PyObject *o)
{
	return (VEMemPtrFields *)((char *)o + vemem_fields_offset);
}

typedef struct {
	PyObject_HEAD
	Py_buffer view; /* held from construction until deallocation */
	Py_ssize_t size;
	int inout;
} OnStackObject;

/* ------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------- */

/* Raises `type` with the formatted message, followed by ": <detail>" when
 * detail (usually libveo's last error) is not empty. Returns NULL. */
PyObject *raise_with_detail(PyObject *type, const char *detail, const char *fmt, ...);

/* Copies libveo's last error message (of this thread) into buf. */
static inline void
copy_last_error(char *buf, size_t n)
{
	const char *e = veo_last_error();
	snprintf(buf, n, "%s", e ? e : "");
}

/* "0x..." for a 64-bit value: PyUnicode_FromFormat has no %llx. */
typedef struct { char s[24]; } hexbuf;
static inline hexbuf
hex64(uint64_t v)
{
	hexbuf b;
	snprintf(b.s, sizeof b.s, "0x%llx", (unsigned long long)v);
	return b;
}

static inline double
monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void
sleep_without_gil(long us)
{
	Py_BEGIN_ALLOW_THREADS
	usleep((useconds_t)us);
	Py_END_ALLOW_THREADS
}

/* Brackets a libveo call made with the GIL released; see `busy` above. */
#define UNLOCKED_BEGIN(p)                          \
	do {                                       \
		VeoProcObject *busy_proc_ = (p);   \
		atomic_fetch_add(&busy_proc_->busy, 1); \
		Py_BEGIN_ALLOW_THREADS
#define UNLOCKED_END()                                  \
		atomic_fetch_sub(&busy_proc_->busy, 1); \
		Py_END_ALLOW_THREADS                    \
	} while (0)

/* No other thread is inside libveo for p, or waiting for one of its jobs,
 * with the GIL released. Only then do the short libveo calls of a call
 * and wait keep the GIL (function.c, request.c): such a thread wants the
 * GIL back as soon as it is done, and would otherwise get it only at the
 * interpreter's switch interval (5 ms) from a thread making call after
 * call, instead of at once. (Under the GIL; a stale value only chooses
 * the other, also correct, way.) */
static inline int
proc_alone(VeoProcObject *p)
{
	return atomic_load_explicit(&p->busy, memory_order_relaxed) == 0 &&
	       atomic_load_explicit(&p->jobs, memory_order_relaxed) == 0;
}

/* ------------------------------------------------------------------------
 * Usability checks
 * --------------------------------------------------------------------- */
/* proc_check and ctxt_check return 0 if the object may be used, else -1
 * with VeoError set saying why. A thread that finds its proc stopped at
 * interpreter exit parks instead (park_if_exiting, module.c). */
void park_if_exiting(void);

static inline int
proc_check(VeoProcObject *p)
{
	if (p == NULL || p->h == NULL || p->closing)
		park_if_exiting();
	if (p == NULL || p->h == NULL) {
		PyErr_SetString(VeoError, "the VeoProc is closed (its VE process "
		                          "was stopped or never started)");
		return -1;
	}
	if (p->closing) {
		PyErr_SetString(VeoError, "the VeoProc is being closed");
		return -1;
	}
	return 0;
}

static inline int
ctxt_check(VeoCtxtObject *c)
{
	if (c->proc == NULL) {
		PyErr_SetString(VeoError, "the VeoCtxt was never opened");
		return -1;
	}
	if (proc_check(c->proc) < 0)
		return -1;
	if (c->ctx == NULL) {
		PyErr_SetString(VeoError, "the VeoCtxt is closed");
		return -1;
	}
	if (c->closing) {
		PyErr_SetString(VeoError, "the VeoCtxt is being closed");
		return -1;
	}
	return 0;
}

/* The proc was started by another process: this one is a forked child. */
static inline int
proc_inherited(VeoProcObject *p)
{
	return p->h != NULL && p->creator != getpid();
}

/* Nothing of this context can run any more: held buffers may be released. */
static inline int
ctxt_dead(VeoCtxtObject *c)
{
	return c->proc == NULL || c->ctx == NULL || c->proc->h == NULL;
}

/* Open, and neither it nor its proc is being closed. */
static inline int
ctxt_usable(VeoCtxtObject *c)
{
	return !ctxt_dead(c) && !c->closing && !c->proc->closing;
}

/* ------------------------------------------------------------------------
 * What each file offers the others
 * --------------------------------------------------------------------- */

/* module.c */
void registry_add(VeoProcObject *p);
void registry_remove(VeoProcObject *p);

/* proc.c */
int proc_close(VeoProcObject *p);
int proc_not_alive_why(VeoProcObject *p, char *buf, size_t n);

/* output.c: a kernel's stdout and stderr through sys.stdout and sys.stderr
 * (capture_output). output_wanted: whether sys.stdout or sys.stderr is not
 * the process's own descriptor now. output_start (after the proc's creation
 * with the capture flags): -1 with an exception. output_drain (with the
 * GIL, never raises): hands what the worker wrote so far to Python; with
 * complete, also everything in the pipes now (a request just completed).
 * output_finish, once the worker is gone: the last of it, and frees. */
int output_wanted(void);
int output_start(VeoProcObject *p);
void output_drain_held(VeoProcObject *p, int complete);
void output_finish(VeoProcObject *p);
static inline void
output_drain(VeoProcObject *p, int complete)
{
	if (__builtin_expect(p->out != NULL, 0))
		output_drain_held(p, complete);
}

/* context.c */
int ctxt_open(VeoCtxtObject *c, VeoProcObject *proc);
int ctxt_close(VeoCtxtObject *c);
int ctxt_push_orphan(VeoCtxtObject *c, Pending *pd);
/* The outcome of a request queued in c has been collected (see queued). */
static inline void
ctxt_collected(VeoCtxtObject *c)
{
	if (c->queued)
		c->queued--;
}
void ctxt_reap_orphans(VeoCtxtObject *c);
void ctxt_mark_dead(VeoCtxtObject *c);

/* library.c */
PyObject *lib_create(VeoProcObject *proc, PyObject *name, uint64_t handle);
int lib_check(VeoLibraryObject *self);

/* function.c */
PyObject *func_create(VeoLibraryObject *lib, PyObject *name, uint64_t addr);

/* ctypes.c */
int ctype_kind(const char *s);
int ctype_kind_of(PyObject *t, PyObject *fname, const char *what);
enum veo_result_type ctype_result_type(int kind);
struct arg_plan ctype_plan(int kind);
int ctype_set_arg(VeoFunctionObject *f, VeoProcObject *proc, struct veo_args *a, int argno,
                  PyObject *v, PyObject **keep);
int ctype_set_args(VeoFunctionObject *f, VeoProcObject *proc, struct veo_args *a,
                   PyObject *const *args, PyObject **keep);
PyObject *ctype_convert_result(int kind, uint64_t ret, VeoProcObject *proc);

/* request.c; req_prepare (at module init) empties the free list of
 * requests, which an earlier interpreter of the process may have left. */
void req_prepare(void);
void pending_release(Pending *pd);
PyObject *req_create(PyTypeObject *type, VeoCtxtObject *ctx, uint64_t reqid, int kind,
                     PyObject *fname, Pending *pd);

/* blocking.c: a job runs `run` on a helper thread while bjob_run waits
 * (GIL released) and looks at signals between slices. The caller's struct
 * starts with a bjob and is allocated by bjob_new(sizeof it, run,
 * abandon). bjob_run returns 0 once run has ended (the caller reads the
 * results, then bjob_free), or -1 with the exception a signal handler
 * raised: the job is no longer the caller's; when run ends, `abandon`
 * (if not NULL) undoes it, on the helper thread, without the GIL. With a
 * proc, the job counts in p->jobs, which proc_close waits for. */
typedef struct bjob {
	void (*run)(struct bjob *);
	void (*abandon)(struct bjob *);
	atomic_int *count;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, abandoned;
	char err[ERRBUF]; /* run's veo_last_error(), if it failed */
} bjob;
bjob *bjob_new(size_t size, void (*run)(bjob *), void (*abandon)(bjob *));
int bjob_run(bjob *j, VeoProcObject *p);
void bjob_free(bjob *j);
/* veo_get_sym as a job: 0 with *addr (0 if not found, the reason in err),
 * or -1 with the exception set. */
int lookup_sym(VeoProcObject *p, uint64_t lib, const char *name, uint64_t *addr, char *err,
               size_t errlen);
/* read_mem / write_mem: 0, -1 with libveo's message in err, or -2 with
 * the exception set (a signal handler raised, or the proc is being closed
 * by another thread) after part of the copy. */
int copy_in_chunks(VeoProcObject *p, int to_host, char *host, uint64_t addr, size_t size,
                   char *err, size_t errlen);
/* Waits until what c has queued has finished: 0; 1 when the proc, or
 * (unless `closer`) the context, is being closed meanwhile; -1 with the
 * exception set. */
int ctxt_sync_sliced(VeoCtxtObject *c, int closer);

/* elfsyms.c: list of the names of the functions the ELF file at path
 * defines and exports, sorted; an empty list when it cannot be read. */
PyObject *elf_function_names(const char *path);

/* signature.c */
PyObject *func_signature(VeoFunctionObject *f);
PyObject *func_text_signature(VeoFunctionObject *f);
PyObject *func_docstring(VeoFunctionObject *f);

/* memory.c */
void vemem_prepare(void);
PyObject *vemem_new(VeoProcObject *proc, uint64_t addr, uint64_t size);
int as_u64(PyObject *o, uint64_t *out, const char *what);
int ve_address(VeoProcObject *proc, PyObject *o, const char *what, uint64_t *addr,
               uint64_t *size);
int prepare_transfer(VeoProcObject *proc, PyObject *host, PyObject *ve, PyObject *size_o,
                     int to_host, const char *fn, Py_buffer *view, uint64_t *addr,
                     Py_ssize_t *size);

/* names.c */
void names_prepare(void);
PyObject *name_from(PyObject *o, const char *what);

/* view.c */
PyObject *proc_view(VeoProcObject *self, PyObject *args, PyObject *kw);
extern const char proc_view_doc[];
void views_after_free(VeoProcObject *proc);
/* ------------------------------------------------------------------------
 * py-veo's later API (args.c, hmem.c, log.c)
 * --------------------------------------------------------------------- */

/* log.c: events for veo.logging. log_on is 1 while veo.logging has a
 * handler on the "veo" logger (set by its set_*_handler / reset_handler
 * through _veo._set_log), so with logging off an event costs one load and
 * a branch. log_event formats as PyUnicode_FromFormat and hands the text
 * to logger.log(level, ...); it never fails and keeps a pending exception. */
extern int log_on;
#define LOG_DEBUG 10
#define LOG_INFO 20
void log_event(int level, const char *fmt, ...);
#define VEO_LOG(level, ...)                          \
	do {                                         \
		if (__builtin_expect(log_on, 0))     \
			log_event(level, __VA_ARGS__); \
	} while (0)

/* args.c: VeoArgs, and VeoCtxt.call_async(func, args) */
extern PyTypeObject VeoArgs_Type;
PyObject *ctxt_call_async(VeoCtxtObject *self, PyObject *args, PyObject *kw);

/* hmem.c: VEO_HMEM, the proc's hmem and later-API methods, get_ve_arch;
 * later_api_init adds its types and functions to the module. */
extern PyTypeObject VEO_HMEM_Type;
int later_api_init(PyObject *m);
PyObject *proc_alloc_hmem(VeoProcObject *self, PyObject *size);
PyObject *proc_free_hmem(VeoProcObject *self, PyObject *addr);
PyObject *proc_set_proc_identifier(VeoProcObject *self, PyObject *args);
PyObject *proc_i64_to_addr(VeoProcObject *self, PyObject *x);
PyObject *proc_proc_destroy(VeoProcObject *self, PyObject *unused);
PyObject *ctxt_context_close(VeoCtxtObject *self, PyObject *unused);
PyObject *ctxt_get_tid(VeoCtxtObject *self, void *closure);
PyObject *ctxt_get_thr_ctxt(VeoCtxtObject *self, void *closure);
/* 0 if the hmem pointer addr (bit 63 set) belongs to proc, else -1 with
 * ValueError naming argument argno of function fname (of type tname). */
int hmem_arg_check(VeoProcObject *proc, uint64_t addr, PyObject *fname, int argno,
                   PyObject *tname);
/* The worker's thread ids (a malloc'ed array, *n of them; NULL if unknown),
 * and the one thread in `after` not in `before` (0 if not exactly one). */
int *worker_tids(pid_t pid, size_t *n);
int new_worker_tid(const int *before, size_t nb, const int *after, size_t na);
extern const char proc_alloc_hmem_doc[], proc_free_hmem_doc[], proc_set_proc_identifier_doc[],
	proc_i64_to_addr_doc[], proc_proc_destroy_doc[], ctxt_context_close_doc[],
	ctxt_call_async_doc[];

/* aio.c: await for requests (veo._aio), and the module's three calls
 * it uses: _completion_fd(proc), _completion_ack(proc), _notify(ctx, on). */
extern PyAsyncMethods req_as_async;
PyObject *aio_completion_fd(PyObject *mod, PyObject *o);
PyObject *aio_completion_ack(PyObject *mod, PyObject *o);
PyObject *aio_notify(PyObject *mod, PyObject *args);

#endif /* VEO_EXT_MODULE_H */
