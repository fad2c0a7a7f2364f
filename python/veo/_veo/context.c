/*
 * context.c: VeoCtxt, a context of a VeoProc (a VE worker thread with an
 * ordered queue): opening and closing it, queueing copies, and the orphans,
 * requests dropped before their result was collected.
 */
#include "module.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Orphans: requests dropped before their result was collected
 * --------------------------------------------------------------------- */

/* Appends *pd to c's orphans and zeroes *pd. 0, or -1 when out of memory
 * (then *pd is left as it was). */
int
ctxt_push_orphan(VeoCtxtObject *c, Pending *pd)
{
	if (c->o_len == c->o_cap) {
		if (c->o_head > 0) {
			memmove(c->orphans, c->orphans + c->o_head,
			        (c->o_len - c->o_head) * sizeof(Pending));
			c->o_len -= c->o_head;
			c->o_head = 0;
		} else {
			size_t cap = c->o_cap ? 2 * c->o_cap : 16;
			Pending *n = PyMem_Realloc(c->orphans, cap * sizeof(Pending));
			if (!n)
				return -1;
			c->orphans = n;
			c->o_cap = cap;
		}
	}
	c->orphans[c->o_len++] = *pd;
	memset(pd, 0, sizeof *pd);
	return 0;
}

/* Collects finished orphans in submission order (all of them once the
 * context is dead) and releases what they held. Releasing may run Python
 * code that pushes new orphans, so nothing is cached across a release. */
void
ctxt_reap_orphans(VeoCtxtObject *c)
{
	while (c->o_head < c->o_len) {
		if (!ctxt_dead(c)) {
			if (c->closing || c->proc->closing)
				return;
			uint64_t ret;
			int rc = veo_call_peek_result(c->ctx, c->orphans[c->o_head].reqid, &ret);
			if (rc == VEO_COMMAND_UNFINISHED)
				return;
			ctxt_collected(c);
		}
		Pending pd = c->orphans[c->o_head++];
		if (c->o_head == c->o_len)
			c->o_head = c->o_len = 0;
		pending_release(&pd);
	}
}

/* Marks a context dead after its proc was destroyed and releases what its
 * orphans held. */
void
ctxt_mark_dead(VeoCtxtObject *c)
{
	c->ctx = NULL;
	c->closing = 0;
	ctxt_reap_orphans(c);
}

/* ------------------------------------------------------------------------
 * VeoCtxt
 * --------------------------------------------------------------------- */

/* Opening asks the worker on the control slot, which a library's
 * constructor may hold for long: a job (blocking.c). A context opened by
 * a job that was given up on is closed again. */
typedef struct {
	bjob j;
	struct veo_proc_handle *h;
	pid_t pid;                 /* the worker's, to find the new thread (tid) */
	struct veo_thr_ctxt *ctx;
	int tid;
} OpenJob;

static void
open_run(bjob *j)
{
	OpenJob *o = (OpenJob *)j;
	size_t nb = 0, na = 0;
	int *before = worker_tids(o->pid, &nb), *after = NULL;

	o->ctx = veo_context_open(o->h);
	if (!o->ctx)
		copy_last_error(j->err, sizeof j->err);
	else if (before)
		after = worker_tids(o->pid, &na); /* the thread that appeared is the context's */
	o->tid = after ? new_worker_tid(before, nb, after, na) : 0;
	free(before);
	free(after);
}

static void
open_abandon(bjob *j)
{
	OpenJob *o = (OpenJob *)j;
	if (o->ctx)
		veo_context_close(o->ctx);
}

/* Opens a context of `proc` into `c` and appends c to proc.context. */
int
ctxt_open(VeoCtxtObject *c, VeoProcObject *proc)
{
	if (c->ctx) {
		PyErr_SetString(VeoError, "VeoCtxt.__init__(): the context is already open");
		return -1;
	}
	if (proc_check(proc) < 0)
		return -1;
	struct veo_thr_ctxt *ctx;
	char err[ERRBUF] = "";
	OpenJob *job = (OpenJob *)bjob_new(sizeof(OpenJob), open_run, open_abandon);
	if (!job)
		return -1;
	job->h = proc->h;
	job->pid = proc->pid;
	if (bjob_run(&job->j, proc) < 0)
		return -1;
	ctx = job->ctx;
	c->tid = job->tid;
	memcpy(err, job->j.err, sizeof err);
	bjob_free(&job->j);
	if (!ctx) {
		raise_with_detail(VeoError, err, "open_context() failed");
		return -1;
	}
	Py_INCREF(proc);
	Py_XSETREF(c->proc, proc);
	c->ctx = ctx;
	VEO_LOG(LOG_DEBUG, "context opened: node %S", proc->nodeid);
	if (proc->context && PyList_Append(proc->context, (PyObject *)c) < 0)
		return -1;
	return 0;
}

/* Waits for the queued requests, closes the context, then releases what
 * its orphans held. 0, or -1 with the exception set: VeoError, or what a
 * signal handler raised (KeyboardInterrupt) while waiting for the queued
 * requests, which leaves the context open and usable. In a forked child,
 * a context of the parent's proc is only let go of (libveo releases the
 * child's copy). */
int
ctxt_close(VeoCtxtObject *c)
{
	if (c->ctx == NULL)
		return 0;
	VeoProcObject *p = c->proc;
	if (proc_inherited(p)) {
		veo_context_close(c->ctx);
		c->ctx = NULL;
		c->closing = 0;
		ctxt_reap_orphans(c);
		return 0;
	}
	if (c->closing) {
		/* another thread closes it: wait for that (or for Ctrl-C) */
		while (c->ctx != NULL && c->proc->h != NULL) {
			sleep_without_gil(1000);
			if (PyErr_CheckSignals() < 0)
				return -1;
		}
		return 0;
	}
	if (p->h == NULL || p->closing) {
		/* the proc's close takes care of its contexts */
		return 0;
	}
	/* New work is refused from here; what is queued is waited for in
	 * slices. Other threads inside libveo with this context need no
	 * waiting for: libveo fails what they do once it is closed. */
	c->closing = 1;
	int rc = ctxt_sync_sliced(c, 1);
	if (rc != 0) {
		if (rc < 0 && c->ctx != NULL)
			c->closing = 0; /* interrupted: still open */
		return rc < 0 ? -1 : 0; /* 1: the proc's close took over */
	}
	char err[ERRBUF] = "";
	UNLOCKED_BEGIN(p);
	rc = veo_context_close(c->ctx);
	if (rc != 0)
		copy_last_error(err, sizeof err);
	UNLOCKED_END();
	c->ctx = NULL;
	c->closing = 0;
	VEO_LOG(LOG_DEBUG, "context closed: node %S", p->nodeid);
	output_drain(p, 1);
	ctxt_reap_orphans(c);
	if (rc != 0) {
		raise_with_detail(VeoError, err, "close_context() failed");
		return -1;
	}
	return 0;
}

static int
ctxt_init(VeoCtxtObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"proc", NULL};
	PyObject *proc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!:VeoCtxt", kwlist,
	                                 &VeoProc_Type, &proc))
		return -1;
	return ctxt_open(self, (VeoProcObject *)proc);
}

static int
ctxt_traverse(VeoCtxtObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->proc);
	for (size_t i = self->o_head; i < self->o_len; i++)
		Py_VISIT(self->orphans[i].keep);
	return 0;
}

static void
ctxt_dealloc(VeoCtxtObject *self)
{
	PyObject_GC_UnTrack(self);
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	if (self->proc && self->ctx && !ctxt_dead(self)) {
		if (!self->proc->closing) {
			if (ctxt_close(self) < 0) {
				/* Interrupted while waiting for its requests: the
				 * libveo context is left to the proc's destroy, and
				 * what the orphans hold is leaked (a kernel may still
				 * write into it). A Ctrl-C is raised again at the next
				 * chance, as a dealloc cannot raise. */
				if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
					PyErr_Clear();
					PyErr_SetInterrupt();
				} else {
					PyErr_WriteUnraisable((PyObject *)self);
				}
				if (self->ctx)
					self->o_head = self->o_len = 0;
			}
		} else {
			/* The proc is being destroyed by another thread right
			 * now: what the orphans hold may still be written, so
			 * it is leaked rather than released. */
			self->o_head = self->o_len = 0;
		}
	}
	self->ctx = NULL;
	ctxt_reap_orphans(self);
	PyErr_Restore(et, ev, tb);
	PyMem_Free(self->orphans);
	self->orphans = NULL;
	Py_CLEAR(self->proc);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
ctxt_repr(VeoCtxtObject *self)
{
	char why[512];
	if (!self->proc)
		return PyUnicode_FromString("<VeoCtxt (not open)>");
	if (self->proc->h == NULL)
		return PyUnicode_FromFormat("<VeoCtxt of VeoProc node %S (closed: its VeoProc "
		                            "was closed)>", self->proc->nodeid);
	if (self->ctx == NULL)
		return PyUnicode_FromFormat("<VeoCtxt of VeoProc node %S (closed)>",
		                            self->proc->nodeid);
	if (proc_not_alive_why(self->proc, why, sizeof why))
		return PyUnicode_FromFormat("<VeoCtxt %p of VeoProc node %S, worker pid %d "
		                            "(%s)>", (void *)self->ctx, self->proc->nodeid,
		                            (int)self->proc->pid, why);
	if (self->closing)
		return PyUnicode_FromFormat("<VeoCtxt %p of VeoProc node %S, worker pid %d "
		                            "(being closed)>", (void *)self->ctx,
		                            self->proc->nodeid, (int)self->proc->pid);
	return PyUnicode_FromFormat("<VeoCtxt %p of VeoProc node %S, worker pid %d>",
	                            (void *)self->ctx, self->proc->nodeid,
	                            (int)self->proc->pid);
}

static PyObject *
ctxt_async_transfer(VeoCtxtObject *self, PyObject *args, PyObject *kw, int to_host)
{
	static char *kwlist[] = {"dst", "src", "size", NULL};
	const char *fn = to_host ? "async_read_mem()" : "async_write_mem()";
	PyObject *dst, *src, *size_o = Py_None;
	Pending pd;
	uint64_t addr, reqid;
	Py_ssize_t size;
	char err[ERRBUF] = "";

	memset(&pd, 0, sizeof pd);
	if (!PyArg_ParseTupleAndKeywords(args, kw,
	                                 to_host ? "OO|O:async_read_mem" : "OO|O:async_write_mem",
	                                 kwlist, &dst, &src, &size_o))
		return NULL;
	if (ctxt_check(self) < 0)
		return NULL;
	if (prepare_transfer(self->proc, to_host ? dst : src, to_host ? src : dst, size_o,
	                     to_host, fn, &pd.view, &addr, &size) < 0)
		return NULL;
	ctxt_reap_orphans(self);
	self->queued++;
	UNLOCKED_BEGIN(self->proc);
	reqid = to_host ? veo_async_read_mem(self->ctx, pd.view.buf, addr, (size_t)size)
	                : veo_async_write_mem(self->ctx, addr, pd.view.buf, (size_t)size);
	if (reqid == VEO_REQUEST_ID_INVALID)
		copy_last_error(err, sizeof err);
	UNLOCKED_END();
	if (reqid == VEO_REQUEST_ID_INVALID) {
		ctxt_collected(self); /* nothing was queued */
		pending_release(&pd);
		return raise_with_detail(VeoError, err, "%s of %zd bytes at VE address %s failed",
		                         fn, size, hex64(addr).s);
	}
	pd.reqid = reqid;
	VEO_LOG(LOG_INFO, "%s queued: request %llu, node %S, %zd bytes %s VE address %s",
	        to_host ? "async_read_mem" : "async_write_mem", (unsigned long long)reqid,
	        self->proc->nodeid, size, to_host ? "from" : "to", hex64(addr).s);
	return req_create(&VeoMemRequest_Type, self, reqid, K_MEM, NULL, &pd);
}

PyDoc_STRVAR(ctxt_async_read_mem_doc,
"async_read_mem($self, dst, src, size=None)\n--\n\n"
"Queues a copy of `size` bytes (default: the size of dst) from VE memory\n"
"at `src` (VEMemPtr or int) into the writable host buffer `dst`; returns a\n"
"VeoMemRequest. `dst` is held until the result is collected and must not\n"
"be read before.");
static PyObject *
ctxt_async_read_mem(VeoCtxtObject *self, PyObject *args, PyObject *kw)
{
	return ctxt_async_transfer(self, args, kw, 1);
}

PyDoc_STRVAR(ctxt_async_write_mem_doc,
"async_write_mem($self, dst, src, size=None)\n--\n\n"
"Queues a copy of `size` bytes (default: the size of src) from the host\n"
"buffer `src` to VE memory at `dst` (VEMemPtr or int); returns a\n"
"VeoMemRequest. `src` is held until the result is collected.");
static PyObject *
ctxt_async_write_mem(VeoCtxtObject *self, PyObject *args, PyObject *kw)
{
	return ctxt_async_transfer(self, args, kw, 0);
}

PyDoc_STRVAR(ctxt_context_sync_doc,
"context_sync($self)\n--\n\n"
"Returns when every request queued in this context so far has finished\n"
"(their results can still be collected). Releases the GIL while waiting;\n"
"Ctrl-C interrupts the wait (KeyboardInterrupt), not the requests.");
static PyObject *
ctxt_context_sync(VeoCtxtObject *self, PyObject *unused)
{
	if (ctxt_check(self) < 0)
		return NULL;
	int rc = ctxt_sync_sliced(self, 0);
	if (rc < 0)
		return NULL;
	output_drain(self->proc, 1);
	if (rc > 0 && !ctxt_dead(self)) {
		PyErr_SetString(VeoError, "context_sync(): the context is being closed");
		return NULL;
	}
	ctxt_reap_orphans(self);
	Py_RETURN_NONE;
}

static PyMethodDef ctxt_methods[] = {
	{"async_read_mem", (PyCFunction)(void (*)(void))ctxt_async_read_mem,
	 METH_VARARGS | METH_KEYWORDS, ctxt_async_read_mem_doc},
	{"async_write_mem", (PyCFunction)(void (*)(void))ctxt_async_write_mem,
	 METH_VARARGS | METH_KEYWORDS, ctxt_async_write_mem_doc},
	{"context_sync", (PyCFunction)ctxt_context_sync, METH_NOARGS, ctxt_context_sync_doc},
	/* py-veo's later API (hmem.c, args.c) */
	{"context_close", (PyCFunction)ctxt_context_close, METH_NOARGS, ctxt_context_close_doc},
	{"call_async", (PyCFunction)(void (*)(void))ctxt_call_async, METH_VARARGS | METH_KEYWORDS,
	 ctxt_call_async_doc},
	{NULL}
};

static PyObject *
ctxt_get_proc(VeoCtxtObject *self, void *closure)
{
	PyObject *o = self->proc ? (PyObject *)self->proc : Py_None;
	Py_INCREF(o);
	return o;
}

static PyObject *
ctxt_get_state(VeoCtxtObject *self, void *closure)
{
	if (ctxt_dead(self))
		return PyLong_FromLong(VEO_STATE_EXIT);
	return PyLong_FromLong(veo_get_context_state(self->ctx));
}

static PyObject *
ctxt_get_closed(VeoCtxtObject *self, void *closure)
{
	return PyBool_FromLong(ctxt_dead(self));
}

static PyGetSetDef ctxt_getset[] = {
	{"proc", (getter)ctxt_get_proc, NULL, "The VeoProc of this context.", NULL},
	{"state", (getter)ctxt_get_state, NULL,
	 "VEO_STATE_RUNNING while open and the worker lives, VEO_STATE_EXIT after.", NULL},
	{"closed", (getter)ctxt_get_closed, NULL, "True once the context is closed.", NULL},
	{"tid", (getter)ctxt_get_tid, NULL,
	 "Thread id of the worker thread that runs this context's requests (for\n"
	 "os.sched_setaffinity and the like; py-veo's attribute), 0 if unknown.", NULL},
	{"_thr_ctxt", (getter)ctxt_get_thr_ctxt, NULL,
	 "The C handle (struct veo_thr_ctxt *) as an int, 0 when closed.", NULL},
	{NULL}
};

PyDoc_STRVAR(ctxt_doc,
"VeoCtxt(proc)\n--\n\n"
"A context of a VeoProc: a VE worker thread with an ordered queue. Requests\n"
"in one context run one after another in submission order; contexts of\n"
"one proc run concurrently and share its memory. Usually created by\n"
"proc.open_context() (VeoCtxt(proc) is the same) and closed by\n"
"proc.close_context(ctx). Several Python threads may share a context.");

PyTypeObject VeoCtxt_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoCtxt",
	.tp_basicsize = sizeof(VeoCtxtObject),
	.tp_dealloc = (destructor)ctxt_dealloc,
	.tp_repr = (reprfunc)ctxt_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = ctxt_doc,
	.tp_traverse = (traverseproc)ctxt_traverse,
	.tp_methods = ctxt_methods,
	.tp_getset = ctxt_getset,
	.tp_init = (initproc)ctxt_init,
	.tp_new = PyType_GenericNew,
};
