/*
 * request.c: VeoRequest and VeoMemRequest, a queued call or copy: waiting
 * for its result and collecting it once, releasing what it held, and the
 * VeoError or VeoException (with the worker's crash details) it ends in.
 */
#include "module.h"

#include <stdio.h>
#include <string.h>

/* How long wait_result() waits with the GIL held before it releases it
 * (req_wait): a few round trips of an empty kernel on a loaded machine,
 * short enough that no other thread notices. */
#define FIRST_WAIT_US 10L

/* ------------------------------------------------------------------------
 * VeoRequest / VeoMemRequest
 * --------------------------------------------------------------------- */

/* Releases what a request held: its OnStack objects and host buffer. */
void
pending_release(Pending *pd)
{
	Py_CLEAR(pd->keep);
	if (pd->view.obj)
		PyBuffer_Release(&pd->view);
}

/* A free list of VeoRequest objects (the exact type only, not
 * subclasses), as CPython keeps for its tuples and floats: a call and wait
 * makes one and drops one, and the allocator's malloc and free, with the
 * zeroing of the object, were a tenth of that path. An object here has
 * been deallocated: untracked by the GC, its fields cleared, refcount 0;
 * req_create makes it an object again (PyObject_Init) and tracks it. The
 * list is read and written under the GIL only. Its objects are never
 * freed: at most REQ_FREE_MAX of them stay for the interpreter's life. */
#define REQ_FREE_MAX 16
static VeoRequestObject *req_free_list[REQ_FREE_MAX];
static int req_free_n;

void
req_prepare(void)
{
	req_free_n = 0; /* (their memory was the old interpreter's) */
}

/* A new request object of `type`: from the free list, its header set and
 * untracked, its fields as they were (req_create sets them all); else
 * from tp_alloc, zeroed and tracked. */
static VeoRequestObject *
req_alloc(PyTypeObject *type)
{
	VeoRequestObject *r;

	if (type != &VeoRequest_Type || req_free_n == 0)
		return (VeoRequestObject *)type->tp_alloc(type, 0);
	r = req_free_list[--req_free_n];
	PyObject_Init((PyObject *)r, type);
	return r;
}

/* Takes over *pd (emptied on return, also on failure, when what it held
 * is released: the request was queued, so that is only safe because
 * failure here means we are out of memory, and the request is pushed as
 * an orphan instead). */
PyObject *
req_create(PyTypeObject *type, VeoCtxtObject *ctx, uint64_t reqid, int kind,
           PyObject *fname, Pending *pd)
{
	VeoRequestObject *r = req_alloc(type);
	if (!r) {
		if (ctxt_push_orphan(ctx, pd) < 0)
			memset(pd, 0, sizeof *pd); /* leak rather than free in use */
		return NULL;
	}
	Py_INCREF(ctx);
	r->ctx = ctx;
	Py_XINCREF(fname);
	r->fname = fname;
	r->kind = kind;
	r->res = *pd;
	r->res.reqid = reqid;
	r->done = r->waiting = 0;
	r->result = r->exc_type = r->exc_msg = r->exc_attrs = NULL;
	pd->keep = NULL; /* what pending_release looks at: the request holds them now */
	pd->view.obj = NULL;
	if (!PyObject_GC_IsTracked((PyObject *)r))
		PyObject_GC_Track(r); /* one from the free list, now that it is whole */
	return (PyObject *)r;
}

static PyObject *
none_ref(void)
{
	Py_INCREF(Py_None);
	return Py_None;
}

/* A backtrace frame as the report writes it: "#0 0x... name+0x10 (lib)". */
static PyObject *
frame_line(int i, const struct veo_death_frame *f)
{
	char line[sizeof f->symbol + sizeof f->library + 64];
	int n = snprintf(line, sizeof line, "#%d 0x%llx ", i, (unsigned long long)f->pc);

	if (!f->symbol[0])
		n += snprintf(line + n, sizeof line - n, "?");
	else if (f->offset)
		n += snprintf(line + n, sizeof line - n, "%.*s+0x%llx", (int)sizeof f->symbol,
		              f->symbol, (unsigned long long)f->offset);
	else
		n += snprintf(line + n, sizeof line - n, "%.*s", (int)sizeof f->symbol, f->symbol);
	if (f->library[0])
		n += snprintf(line + n, sizeof line - n, " (%.*s)", (int)sizeof f->library,
		              f->library);
	return PyUnicode_DecodeUTF8(line, (Py_ssize_t)strlen(line), "replace");
}

/* What the worker's report says (veo_proc_death_info), read from its
 * fields, as the attributes of a VeoException: signal ("SIGSEGV") and
 * signo, address (the fault address), kernel, library (the kernel's),
 * exit_status, backtrace (a list of frame lines, as in the report) and
 * report (the whole text). A new dict, or NULL (no error set) when there
 * is no report. */
static PyObject *
death_attrs(VeoProcObject *p)
{
	struct veo_death_info *info;
	PyObject *d = NULL, *bt = NULL;

	if (p->h == NULL || p->closing)
		return NULL;
	info = PyMem_Malloc(sizeof *info);
	if (!info)
		return NULL;
	if (veo_proc_death_info(p->h, info) != 1)
		goto done;
	bt = PyList_New(0);
	for (int i = 0; bt && i < info->nframes && i < VEO_DEATH_FRAMES_MAX; i++) {
		PyObject *f = frame_line(i, &info->frames[i]);

		if (!f || PyList_Append(bt, f) < 0) {
			Py_XDECREF(f);
			goto done;
		}
		Py_DECREF(f);
	}
	int sig = info->cause == VEO_DEATH_SIGNAL || info->cause == VEO_DEATH_KILLED;
	d = Py_BuildValue("{s:N,s:N,s:N,s:N,s:N,s:N,s:O,s:N}",
	                  "signal", sig && info->signame[0]
	                                ? PyUnicode_FromString(info->signame)
	                                : none_ref(),
	                  "signo", sig ? PyLong_FromLong(info->signo) : none_ref(),
	                  "address", info->cause == VEO_DEATH_SIGNAL
	                                 ? PyLong_FromUnsignedLongLong(info->fault_addr)
	                                 : none_ref(),
	                  "kernel", info->kernel[0] ? PyUnicode_FromString(info->kernel)
	                                            : none_ref(),
	                  "library", info->library[0] ? PyUnicode_FromString(info->library)
	                                              : none_ref(),
	                  "exit_status", info->cause == VEO_DEATH_EXIT
	                                     ? PyLong_FromLong(info->exit_status)
	                                     : none_ref(),
	                  "backtrace", bt,
	                  "report", PyUnicode_DecodeUTF8(info->report,
	                                                 (Py_ssize_t)strlen(info->report),
	                                                 "replace"));
done:
	Py_XDECREF(bt);
	PyMem_Free(info);
	if (!d)
		PyErr_Clear();
	return d;
}

/* veo.logging's event for a collected result. */
static void
log_collected(VeoRequestObject *self, int rc)
{
	const char *how = rc == VEO_COMMAND_OK ? "ok" : rc == VEO_COMMAND_EXCEPTION
	                                                        ? "the kernel raised an exception"
	                                                        : "error";
	PyObject *node = self->ctx->proc ? self->ctx->proc->nodeid : Py_None;
	if (self->fname)
		log_event(LOG_INFO, "request %llu collected (call %S): node %S, %s",
		          (unsigned long long)self->res.reqid, self->fname, node, how);
	else
		log_event(LOG_INFO, "request %llu collected (memory transfer): node %S, %s",
		          (unsigned long long)self->res.reqid, node, how);
}

/* Records the outcome rc/ret of the request (collected once) and releases
 * what it held. */
static void
req_record(VeoRequestObject *self, int rc, uint64_t ret, const char *err)
{
	const char *what = self->fname ? NULL : "memory transfer";
	PyObject *msg = NULL, *type = NULL;

	pending_release(&self->res);
	self->done = 1;
	ctxt_collected(self->ctx);
	if (rc == VEO_COMMAND_OK) {
		self->result = ctype_convert_result(self->kind, ret, self->ctx->proc);
		if (self->result)
			return;
		/* out of memory while converting: report that */
		PyObject *et, *ev, *tb;
		PyErr_Fetch(&et, &ev, &tb);
		PyErr_NormalizeException(&et, &ev, &tb);
		self->exc_type = et ? et : (Py_INCREF(PyExc_MemoryError), PyExc_MemoryError);
		self->exc_msg = ev ? PyObject_Str(ev) : NULL;
		Py_XDECREF(ev);
		Py_XDECREF(tb);
		return;
	}
	if (rc == VEO_COMMAND_EXCEPTION) {
		type = VeoException;
		self->exc_attrs = death_attrs(self->ctx->proc);
		/* libveo's message names the signal, the kernel and where */
		if (what)
			msg = PyUnicode_FromFormat("%s %llu: %s", what,
			                           (unsigned long long)self->res.reqid,
			                           err && err[0] ? err : "raised an exception on the VE");
		else
			msg = PyUnicode_FromFormat("%U(): %s", self->fname,
			                           err && err[0] ? err : "the kernel raised an exception on the VE");
	} else {
		type = VeoError;
		const char *why = rc == VEO_COMMAND_ERROR ? "could not run" : "failed";
		if (what)
			msg = PyUnicode_FromFormat("%s %s%s%s", what, why, err && err[0] ? ": " : "",
			                           err ? err : "");
		else
			msg = PyUnicode_FromFormat("kernel %U() %s%s%s", self->fname, why,
			                           err && err[0] ? ": " : "", err ? err : "");
	}
	if (!msg)
		PyErr_Clear();
	Py_INCREF(type);
	self->exc_type = type;
	self->exc_msg = msg;
}

/* req_record, then veo.logging's event (once the request is complete: a
 * handler may look at it). */
static void
req_collect(VeoRequestObject *self, int rc, uint64_t ret, const char *err)
{
	req_record(self, rc, ret, err);
	if (__builtin_expect(log_on, 0))
		log_collected(self, rc);
}

/* The collected outcome: a new reference, or NULL with the exception set. */
static PyObject *
req_outcome(VeoRequestObject *self)
{
	if (self->exc_type) {
		PyObject *exc = PyObject_CallOneArg(self->exc_type,
		                                    self->exc_msg ? self->exc_msg : Py_None);
		PyObject *key, *value;
		Py_ssize_t pos = 0;
		if (!exc)
			return NULL;
		while (self->exc_attrs && PyDict_Next(self->exc_attrs, &pos, &key, &value))
			if (PyObject_SetAttr(exc, key, value) < 0) {
				Py_DECREF(exc);
				return NULL;
			}
		PyErr_SetObject(self->exc_type, exc);
		Py_DECREF(exc);
		return NULL;
	}
	Py_INCREF(self->result);
	return self->result;
}

/* The context cannot deliver the result any more. */
static PyObject *
req_fail_dead(VeoRequestObject *self)
{
	req_collect(self, VEO_COMMAND_ERROR, 0,
	            "its context or VeoProc was closed before the result was collected");
	return req_outcome(self);
}

static PyObject *
req_wait(VeoRequestObject *self, double timeout)
{
	double deadline = timeout >= 0 ? monotonic_s() + timeout : 0;
	VeoCtxtObject *c = self->ctx;

	/* Another thread is waiting for the same request: wait for it. (In a
	 * forked child, `waiting` may be a thread of the parent's.) */
	while (self->waiting && !self->done && !proc_inherited(c->proc)) {
		park_if_exiting();
		if (timeout >= 0 && monotonic_s() >= deadline)
			goto timeout;
		sleep_without_gil(1000);
		if (PyErr_CheckSignals() < 0)
			return NULL;
	}
	if (self->done)
		return req_outcome(self);
	if (!ctxt_usable(c))
		park_if_exiting();
	if (ctxt_dead(c))
		return req_fail_dead(self);
	if (ctxt_check(c) < 0)
		return NULL;

	VeoProcObject *p = c->proc;
	struct veo_thr_ctxt *ctx = c->ctx;
	uint64_t ret = 0;
	int rc;
	char err[ERRBUF];
	err[0] = '\0'; /* only the start: this is on every wait */

	/* The first, short wait is made with the GIL held: most calls are
	 * answered within a microsecond, sooner than releasing the GIL and
	 * taking it back would take. It is safe without counting in p->busy,
	 * as peek_result is: nobody can start closing the context or the
	 * proc while this thread holds the GIL, and one that had started is
	 * refused above (ctxt_check). Other threads and Ctrl-C wait for it
	 * FIRST_WAIT_US, and longer only on a loaded machine: libveo's spin
	 * gives the CPU away (sched_yield) to a worker that last ran on this
	 * CPU, and with other processes to run that can take time slices.
	 * So it is only made when it is likely to succeed: the context's
	 * last request was answered that fast (c->quick, set below), and no
	 * other thread is inside libveo without the GIL (proc_alone). A
	 * request still running after it is waited for below, with the GIL
	 * released. */
	if (c->quick && proc_alone(p)) {
		long first = FIRST_WAIT_US;
		if (timeout >= 0 && timeout * 1e6 < (double)first)
			first = (long)(timeout * 1e6);
		rc = veo_call_wait_result_timeout(ctx, self->res.reqid, &ret, first);
		if (rc != VEO_COMMAND_UNFINISHED) {
			if (rc != VEO_COMMAND_OK)
				copy_last_error(err, sizeof err);
			goto finished;
		}
		c->quick = 0;
	}
	double started = monotonic_s(); /* for c->quick */

	self->waiting = 1;
	for (;;) {
		long slice = WAIT_SLICE_US;
		if (timeout >= 0) {
			double left = deadline - monotonic_s();
			if (left < 0)
				left = 0;
			if (left * 1e6 < (double)slice)
				slice = (long)(left * 1e6);
		}
		UNLOCKED_BEGIN(p);
		rc = veo_call_wait_result_timeout(ctx, self->res.reqid, &ret, slice);
		if (rc != VEO_COMMAND_OK && rc != VEO_COMMAND_UNFINISHED)
			copy_last_error(err, sizeof err);
		UNLOCKED_END();
		if (rc != VEO_COMMAND_UNFINISHED)
			break;
		output_drain(p, 0); /* a long kernel's progress */
		/* The slow path: Ctrl-C and a concurrent close are looked at
		 * between slices, the request stays pending for a later wait. */
		if (PyErr_CheckSignals() < 0) {
			self->waiting = 0;
			return NULL;
		}
		if (timeout >= 0 && monotonic_s() >= deadline) {
			self->waiting = 0;
			goto timeout;
		}
		if (!ctxt_usable(c)) {
			self->waiting = 0;
			park_if_exiting();
			if (ctxt_dead(c))
				return req_fail_dead(self);
			PyErr_SetString(VeoError, "wait_result(): the context is being closed");
			return NULL;
		}
	}
	self->waiting = 0;
	/* (A request answered in this loop within FIRST_WAIT_US makes the
	 * next wait start with the GIL held.) */
	c->quick = monotonic_s() - started < FIRST_WAIT_US * 1e-6;
finished:
	output_drain(p, 1); /* all the request printed, before the caller prints again */
	if (rc < 0 && !ctxt_usable(c)) {
		/* closed by another thread while this one was inside */
		park_if_exiting();
		if (ctxt_dead(c))
			return req_fail_dead(self);
		PyErr_SetString(VeoError, "wait_result(): the context is being closed");
		return NULL;
	}
	req_collect(self, rc, ret, err);
	return req_outcome(self);
timeout:
	{
		char secs[32];
		snprintf(secs, sizeof secs, "%g", timeout);
		PyErr_Format(PyExc_TimeoutError, "wait_result(): request %llu not finished after %s s",
		             (unsigned long long)self->res.reqid, secs);
	}
	return NULL;
}

/* wait_result's arguments other than none or one positional: *t, or -1
 * with the exception PyArg_ParseTupleAndKeywords raises. */
static int
wait_result_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **t)
{
	static char *kwlist[] = {"timeout", NULL};
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	PyObject *tuple = PyTuple_New(nargs), *kw = nkw ? PyDict_New() : NULL;
	int rc = -1;

	if (!tuple || (nkw && !kw))
		goto out;
	for (Py_ssize_t i = 0; i < nargs; i++) {
		Py_INCREF(args[i]);
		PyTuple_SET_ITEM(tuple, i, args[i]);
	}
	for (Py_ssize_t i = 0; i < nkw; i++)
		if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0)
			goto out;
	/* *t is borrowed from args, which outlive the call, not from tuple */
	if (PyArg_ParseTupleAndKeywords(tuple, kw, "|O:wait_result", kwlist, t))
		rc = 0;
out:
	Py_XDECREF(tuple);
	Py_XDECREF(kw);
	return rc;
}

PyDoc_STRVAR(req_wait_result_doc,
"wait_result($self, timeout=None)\n--\n\n"
"Waits for the request and returns its result, converted by the\n"
"function's declared result type (0 for memory requests). With a timeout\n"
"in seconds, raises TimeoutError if the request has not finished by then\n"
"(it can be waited for again). Raises VeoException (an ArithmeticError)\n"
"if the kernel crashed, naming the signal, and VeoError (a RuntimeError)\n"
"for other failures. The GIL is released while waiting (in a context\n"
"whose last request finished within 10 microseconds, after those first\n"
"10 microseconds). The result is kept: waiting again returns it again.\n"
"Ctrl-C (KeyboardInterrupt) interrupts the wait, not the request, which\n"
"can be waited for again.");
static PyObject *
req_wait_result(VeoRequestObject *self, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
	PyObject *t = Py_None;
	double timeout = -1;

	/* METH_FASTCALL: wait_result() and wait_result(t) take no parsing at
	 * all; anything else (keywords, too many arguments) goes through
	 * PyArg_ParseTupleAndKeywords, for its checks and its messages. */
	if (nargs == 0 && kwnames == NULL)
		return req_wait(self, -1);
	if (nargs == 1 && kwnames == NULL)
		t = args[0];
	else if (wait_result_args(args, nargs, kwnames, &t) < 0)
		return NULL;
	if (t != Py_None) {
		timeout = PyFloat_AsDouble(t);
		if (timeout == -1.0 && PyErr_Occurred())
			return NULL;
		if (!(timeout >= 0)) {
			PyErr_SetString(PyExc_ValueError,
			                "wait_result(): timeout must be a number of seconds >= 0, or None");
			return NULL;
		}
	}
	return req_wait(self, timeout);
}

PyDoc_STRVAR(req_peek_result_doc,
"peek_result($self)\n--\n\n"
"The result if the request has finished; raises NameError while it has\n"
"not (py-veo's convention); otherwise as wait_result().");
static PyObject *
req_peek_result(VeoRequestObject *self, PyObject *unused)
{
	VeoCtxtObject *c = self->ctx;
	if (self->done)
		return req_outcome(self);
	if (self->waiting) {
		PyErr_Format(PyExc_NameError, "peek_result(): request %llu is unfinished",
		             (unsigned long long)self->res.reqid);
		return NULL;
	}
	if (ctxt_dead(c))
		return req_fail_dead(self);
	if (ctxt_check(c) < 0)
		return NULL;
	uint64_t ret = 0;
	int rc = veo_call_peek_result(c->ctx, self->res.reqid, &ret);
	if (rc == VEO_COMMAND_UNFINISHED) {
		output_drain(c->proc, 0); /* a polling loop shows progress too */
		PyErr_Format(PyExc_NameError, "peek_result(): request %llu is unfinished",
		             (unsigned long long)self->res.reqid);
		return NULL;
	}
	char err[ERRBUF];
	err[0] = '\0';
	if (rc != VEO_COMMAND_OK)
		copy_last_error(err, sizeof err);
	output_drain(c->proc, 1);
	req_collect(self, rc, ret, err);
	return req_outcome(self);
}

static int
req_traverse(VeoRequestObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->ctx);
	Py_VISIT(self->res.keep);
	Py_VISIT(self->result);
	return 0;
}

static void
req_dealloc(VeoRequestObject *self)
{
	PyObject_GC_UnTrack(self);
	VeoCtxtObject *c = self->ctx;
	if (!self->done && c) {
		int keep_pending = 0;
		if (ctxt_usable(c)) {
			uint64_t ret;
			keep_pending = veo_call_peek_result(c->ctx, self->res.reqid, &ret) ==
			               VEO_COMMAND_UNFINISHED;
			if (!keep_pending)
				ctxt_collected(c);
		} else if (!ctxt_dead(c)) {
			keep_pending = 1; /* being closed: the closer releases orphans */
		}
		if (keep_pending && ctxt_push_orphan(c, &self->res) < 0)
			memset(&self->res, 0, sizeof self->res); /* leak, never free in use */
	}
	pending_release(&self->res);
	Py_CLEAR(self->ctx);
	Py_CLEAR(self->fname);
	Py_CLEAR(self->result);
	Py_CLEAR(self->exc_type);
	Py_CLEAR(self->exc_msg);
	Py_CLEAR(self->exc_attrs);
	if (Py_IS_TYPE(self, &VeoRequest_Type) && req_free_n < REQ_FREE_MAX)
		req_free_list[req_free_n++] = self; /* untracked above (req_alloc) */
	else
		Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
req_repr(VeoRequestObject *self)
{
	const char *state = self->done ? (self->exc_type ? "failed" : "done")
	                               : (self->waiting ? "waited for" : "pending");
	if (self->fname)
		return PyUnicode_FromFormat("<%s %llu: %U() in context %p, %s>",
		                            Py_TYPE(self)->tp_name,
		                            (unsigned long long)self->res.reqid, self->fname,
		                            (void *)self->ctx, state);
	return PyUnicode_FromFormat("<%s %llu in context %p, %s>", Py_TYPE(self)->tp_name,
	                            (unsigned long long)self->res.reqid, (void *)self->ctx,
	                            state);
}

static PyMethodDef req_methods[] = {
	{"wait_result", (PyCFunction)(void (*)(void))req_wait_result,
	 METH_FASTCALL | METH_KEYWORDS, req_wait_result_doc},
	{"peek_result", (PyCFunction)req_peek_result, METH_NOARGS, req_peek_result_doc},
	{NULL}
};

static PyObject *
req_get_req(VeoRequestObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->res.reqid);
}

static PyObject *
req_get_ctx(VeoRequestObject *self, void *closure)
{
	Py_INCREF(self->ctx);
	return (PyObject *)self->ctx;
}

static PyObject *
req_get_done(VeoRequestObject *self, void *closure)
{
	return PyBool_FromLong(self->done);
}

static PyGetSetDef req_getset[] = {
	{"req", (getter)req_get_req, NULL, "The C library's request id.", NULL},
	{"ctx", (getter)req_get_ctx, NULL, "The VeoCtxt the request was queued in.", NULL},
	{"done", (getter)req_get_done, NULL, "True once the result was collected.", NULL},
	{NULL}
};

PyDoc_STRVAR(req_doc,
"A queued kernel call (returned by calling a VeoFunction). It holds the\n"
"OnStack buffers of the call until the result is collected with\n"
"wait_result() or peek_result(). Dropping an uncollected request is fine:\n"
"its result is collected and its buffers released later.");

PyTypeObject VeoRequest_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoRequest",
	.tp_basicsize = sizeof(VeoRequestObject),
	.tp_dealloc = (destructor)req_dealloc,
	.tp_as_async = &req_as_async,
	.tp_repr = (reprfunc)req_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = req_doc,
	.tp_traverse = (traverseproc)req_traverse,
	.tp_methods = req_methods,
	.tp_getset = req_getset,
};

PyDoc_STRVAR(memreq_doc,
"A queued memory transfer (VeoCtxt.async_read_mem / async_write_mem). It\n"
"holds the host buffer until the result (0) is collected.");

PyTypeObject VeoMemRequest_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoMemRequest",
	.tp_basicsize = sizeof(VeoRequestObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = memreq_doc,
	.tp_traverse = (traverseproc)req_traverse,
	.tp_base = &VeoRequest_Type,
};
