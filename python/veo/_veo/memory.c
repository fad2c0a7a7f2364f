/*
 * memory.c: memory on both sides of a copy. VEMemPtr is an address in a
 * proc's VE memory, OnStack a host buffer passed by reference to a kernel;
 * the helpers check the host buffers, VE addresses and byte counts of copies.
 */
#include "module.h"

#include <structmember.h>

#include <stdio.h>

/* ------------------------------------------------------------------------
 * Host buffers, VE addresses, byte counts
 * --------------------------------------------------------------------- */

/* Gets a contiguous buffer of obj for `what` (e.g. "read_mem(): dst").
 * A read-only object asked for writing gets a TypeError that says so. */
static int
get_host_buffer(PyObject *obj, Py_buffer *view, int writable, const char *what)
{
	if (!PyObject_CheckBuffer(obj)) {
		PyErr_Format(PyExc_TypeError,
		             "%s must support the buffer protocol (bytes, bytearray, "
		             "memoryview, numpy array, ...), not %.100s",
		             what, Py_TYPE(obj)->tp_name);
		return -1;
	}
	int flags = PyBUF_ANY_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
	if (PyObject_GetBuffer(obj, view, flags) == 0)
		return 0;
	/* Find out why with a request every exporter grants, and say so. */
	PyObject *et, *ev, *tb;
	Py_buffer probe;
	PyErr_Fetch(&et, &ev, &tb);
	if (PyObject_GetBuffer(obj, &probe, PyBUF_FULL_RO) == 0) {
		int contiguous = PyBuffer_IsContiguous(&probe, 'A');
		int ro = probe.readonly;
		PyBuffer_Release(&probe);
		if (!contiguous || (writable && ro)) {
			Py_XDECREF(et);
			Py_XDECREF(ev);
			Py_XDECREF(tb);
			if (!contiguous)
				PyErr_Format(PyExc_BufferError,
				             "%s must be a contiguous buffer (C or Fortran "
				             "order), not a strided view of %.100s; copy it "
				             "first (numpy.ascontiguousarray)",
				             what, Py_TYPE(obj)->tp_name);
			else
				PyErr_Format(PyExc_TypeError,
				             "%s is read-only (%.100s) and would be written "
				             "into; pass a writable buffer such as a "
				             "bytearray or a writable numpy array",
				             what, Py_TYPE(obj)->tp_name);
			return -1;
		}
	} else {
		PyErr_Clear();
	}
	PyErr_Restore(et, ev, tb);
	return -1;
}

/* Converts an optional byte count: None means `dflt`; must be 0..limit. */
static int
get_size(PyObject *o, Py_ssize_t dflt, Py_ssize_t limit, const char *what,
         Py_ssize_t *out)
{
	if (o == NULL || o == Py_None) {
		*out = dflt;
		return 0;
	}
	Py_ssize_t n = PyNumber_AsSsize_t(o, PyExc_OverflowError);
	if (n == -1 && PyErr_Occurred())
		return -1;
	if (n < 0) {
		PyErr_Format(PyExc_ValueError, "%s: size must not be negative (got %zd)",
		             what, n);
		return -1;
	}
	if (n > limit) {
		PyErr_Format(PyExc_ValueError,
		             "%s: size %zd is larger than the host buffer (%zd bytes)",
		             what, n, limit);
		return -1;
	}
	*out = n;
	return 0;
}

/* Converts an int-like object to an unsigned 64-bit value. */
int
as_u64(PyObject *o, uint64_t *out, const char *what)
{
	if (PyFloat_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s must be an integer, not float", what);
		return -1;
	}
	PyObject *n = PyNumber_Index(o);
	if (!n) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s",
			             what, Py_TYPE(o)->tp_name);
		}
		return -1;
	}
	unsigned long long v = PyLong_AsUnsignedLongLong(n);
	if (v == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_Format(PyExc_OverflowError,
		             "%s out of range: %S is not in [0, 2**64)", what, n);
		Py_DECREF(n);
		return -1;
	}
	Py_DECREF(n);
	*out = v;
	return 0;
}

/* The VE address in `o` (a VEMemPtr of `proc` or an int) for `what`. */
int
ve_address(VeoProcObject *proc, PyObject *o, const char *what, uint64_t *addr,
           uint64_t *size)
{
	if (VEMemPtr_Check(o)) {
		VEMemPtrObject *m = (VEMemPtrObject *)o;
		if (m->proc != proc) {
			PyErr_Format(PyExc_ValueError,
			             "%s is a VEMemPtr of another VeoProc", what);
			return -1;
		}
		*addr = m->addr;
		if (size)
			*size = m->size;
		return 0;
	}
	if (size)
		*size = 0;
	return as_u64(o, addr, what);
}

/* Shared checks of read_mem/write_mem and their async forms: the host
 * buffer, the VE address, the byte count. */
int
prepare_transfer(VeoProcObject *proc, PyObject *host, PyObject *ve, PyObject *size_o,
                 int to_host, const char *fn, Py_buffer *view, uint64_t *addr,
                 Py_ssize_t *size)
{
	char what[64];
	uint64_t ve_size;
	snprintf(what, sizeof what, "%s: %s", fn, to_host ? "src" : "dst");
	if (ve_address(proc, ve, what, addr, &ve_size) < 0)
		return -1;
	snprintf(what, sizeof what, "%s: %s", fn, to_host ? "dst" : "src");
	if (get_host_buffer(host, view, to_host, what) < 0)
		return -1;
	if (get_size(size_o, view->len, view->len, fn, size) < 0) {
		PyBuffer_Release(view);
		return -1;
	}
	if (ve_size && (uint64_t)*size > ve_size) {
		PyErr_Format(PyExc_ValueError,
		             "%s: size %zd is larger than the VE buffer (%llu bytes)",
		             fn, *size, (unsigned long long)ve_size);
		PyBuffer_Release(view);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * VEMemPtr: an address in a proc's VE memory
 * --------------------------------------------------------------------- */
/* A new VEMemPtr of `proc` at `addr`, of `size` bytes (0: unknown). */
PyObject *
vemem_new(VeoProcObject *proc, uint64_t addr, uint64_t size)
{
	VEMemPtrObject *m = PyObject_GC_New(VEMemPtrObject, &VEMemPtr_Type);
	if (!m)
		return NULL;
	Py_INCREF(proc);
	m->proc = proc;
	m->addr = addr;
	m->size = size;
	PyObject_GC_Track(m);
	return (PyObject *)m;
}

static int
vemem_init(VEMemPtrObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"proc", "addr", "size", NULL};
	PyObject *proc, *addr_o, *size_o = NULL;
	uint64_t addr, size = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O|O:VEMemPtr", kwlist,
	                                 &VeoProc_Type, &proc, &addr_o, &size_o))
		return -1;
	if (as_u64(addr_o, &addr, "VEMemPtr(): addr") < 0)
		return -1;
	if (size_o && as_u64(size_o, &size, "VEMemPtr(): size") < 0)
		return -1;
	Py_INCREF(proc);
	Py_XSETREF(self->proc, (VeoProcObject *)proc);
	self->addr = addr;
	self->size = size;
	return 0;
}

static int
vemem_traverse(VEMemPtrObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->proc);
	return 0;
}

static void
vemem_dealloc(VEMemPtrObject *self)
{
	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->proc);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
vemem_repr(VEMemPtrObject *self)
{
	if (!self->proc)
		return PyUnicode_FromFormat("<VEMemPtr %s>", hex64(self->addr).s);
	if (self->size)
		return PyUnicode_FromFormat("<VEMemPtr %s, %llu bytes, of VeoProc node %S>",
		                            hex64(self->addr).s,
		                            (unsigned long long)self->size,
		                            self->proc->nodeid);
	return PyUnicode_FromFormat("<VEMemPtr %s of VeoProc node %S>",
	                            hex64(self->addr).s,
	                            self->proc->nodeid);
}

static PyObject *
vemem_index(VEMemPtrObject *self)
{
	return PyLong_FromUnsignedLongLong(self->addr);
}

static int
vemem_bool(VEMemPtrObject *self)
{
	return self->addr != 0;
}

static PyObject *
vemem_richcompare(PyObject *a, PyObject *b, int op)
{
	if (!VEMemPtr_Check(a) || !VEMemPtr_Check(b) || (op != Py_EQ && op != Py_NE))
		Py_RETURN_NOTIMPLEMENTED;
	VEMemPtrObject *x = (VEMemPtrObject *)a, *y = (VEMemPtrObject *)b;
	int eq = x->proc == y->proc && x->addr == y->addr;
	if (op == Py_NE)
		eq = !eq;
	return PyBool_FromLong(eq);
}

static Py_hash_t
vemem_hash(VEMemPtrObject *self)
{
	Py_hash_t h = (Py_hash_t)(self->addr ^ (self->addr >> 32));
	return h == -1 ? -2 : h;
}

static PyObject *
vemem_get_proc(VEMemPtrObject *self, void *closure)
{
	if (!self->proc)
		Py_RETURN_NONE;
	Py_INCREF(self->proc);
	return (PyObject *)self->proc;
}

static PyGetSetDef vemem_getset[] = {
	{"proc", (getter)vemem_get_proc, NULL, "The VeoProc that owns the memory.", NULL},
	{NULL}
};

static PyMemberDef vemem_members[] = {
	{"addr", T_ULONGLONG, offsetof(VEMemPtrObject, addr), READONLY,
	 "The VE address (an address in the worker's address space)."},
	{"size", T_ULONGLONG, offsetof(VEMemPtrObject, size), READONLY,
	 "Size in bytes if known (memory from alloc_mem), else 0."},
	{NULL}
};

static PyNumberMethods vemem_as_number = {
	.nb_bool = (inquiry)vemem_bool,
	.nb_int = (unaryfunc)vemem_index,
	.nb_index = (unaryfunc)vemem_index,
};

PyDoc_STRVAR(vemem_doc,
"VEMemPtr(proc, addr, size=0)\n--\n\n"
"A pointer into the VE memory of `proc`: `addr` is the VE address, `size`\n"
"the size in bytes when known. Usable wherever an int address is expected\n"
"(it implements __index__ and __int__). Returned by VeoProc.alloc_mem(),\n"
"VeoLibrary.get_symbol() and by kernels declared to return a pointer.");

PyTypeObject VEMemPtr_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VEMemPtr",
	.tp_basicsize = sizeof(VEMemPtrObject),
	.tp_dealloc = (destructor)vemem_dealloc,
	.tp_repr = (reprfunc)vemem_repr,
	.tp_as_number = &vemem_as_number,
	.tp_hash = (hashfunc)vemem_hash,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = vemem_doc,
	.tp_traverse = (traverseproc)vemem_traverse,
	.tp_richcompare = vemem_richcompare,
	.tp_members = vemem_members,
	.tp_getset = vemem_getset,
	.tp_init = (initproc)vemem_init,
	.tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------
 * OnStack: a host buffer passed by reference to a kernel
 * --------------------------------------------------------------------- */
static const char *
intent_name(int inout)
{
	switch (inout) {
	case VEO_INTENT_IN: return "IN";
	case VEO_INTENT_INOUT: return "INOUT";
	case VEO_INTENT_OUT: return "OUT";
	}
	return "?";
}

static int
onstack_init(OnStackObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"buff", "size", "inout", NULL};
	PyObject *buff, *size_o = Py_None;
	int inout = VEO_INTENT_IN;
	Py_buffer view;
	Py_ssize_t size;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|Oi:OnStack", kwlist,
	                                 &buff, &size_o, &inout))
		return -1;
	if (self->view.obj) {
		/* a request may still copy into the buffer it holds */
		PyErr_SetString(PyExc_TypeError, "OnStack objects cannot be re-initialised");
		return -1;
	}
	if (inout != VEO_INTENT_IN && inout != VEO_INTENT_INOUT &&
	    inout != VEO_INTENT_OUT) {
		PyErr_Format(PyExc_ValueError,
		             "OnStack(): inout must be VEO_INTENT_IN, VEO_INTENT_INOUT "
		             "or VEO_INTENT_OUT, not %d", inout);
		return -1;
	}
	if (get_host_buffer(buff, &view, inout != VEO_INTENT_IN,
	                    inout == VEO_INTENT_IN ? "OnStack(): buff" :
	                    "OnStack(): buff (intent OUT or INOUT)") < 0)
		return -1;
	if (get_size(size_o, view.len, view.len, "OnStack()", &size) < 0) {
		PyBuffer_Release(&view);
		return -1;
	}
	self->view = view;
	self->size = size;
	self->inout = inout;
	return 0;
}

static void
onstack_dealloc(OnStackObject *self)
{
	if (self->view.obj)
		PyBuffer_Release(&self->view);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
onstack_repr(OnStackObject *self)
{
	if (!self->view.obj)
		return PyUnicode_FromString("<OnStack (empty)>");
	return PyUnicode_FromFormat("<OnStack %zd bytes of %.100s, intent %s>",
	                            self->size, Py_TYPE(self->view.obj)->tp_name,
	                            intent_name(self->inout));
}

PyDoc_STRVAR(onstack_buff_doc, "buff()\n--\n\nThe object whose buffer is passed.");
static PyObject *
onstack_buff(OnStackObject *self, PyObject *unused)
{
	PyObject *o = self->view.obj ? self->view.obj : Py_None;
	Py_INCREF(o);
	return o;
}

PyDoc_STRVAR(onstack_c_pointer_doc,
"c_pointer()\n--\n\nHost address of the buffer (an int).");
static PyObject *
onstack_c_pointer(OnStackObject *self, PyObject *unused)
{
	return PyLong_FromVoidPtr(self->view.buf);
}

PyDoc_STRVAR(onstack_size_doc,
"size()\n--\n\nNumber of bytes copied to the VE for the call.");
static PyObject *
onstack_size(OnStackObject *self, PyObject *unused)
{
	return PyLong_FromSsize_t(self->size);
}

PyDoc_STRVAR(onstack_scope_doc,
"scope()\n--\n\nThe intent: VEO_INTENT_IN, VEO_INTENT_INOUT or VEO_INTENT_OUT.");
static PyObject *
onstack_scope(OnStackObject *self, PyObject *unused)
{
	return PyLong_FromLong(self->inout);
}

static PyMethodDef onstack_methods[] = {
	{"buff", (PyCFunction)onstack_buff, METH_NOARGS, onstack_buff_doc},
	{"c_pointer", (PyCFunction)onstack_c_pointer, METH_NOARGS, onstack_c_pointer_doc},
	{"size", (PyCFunction)onstack_size, METH_NOARGS, onstack_size_doc},
	{"scope", (PyCFunction)onstack_scope, METH_NOARGS, onstack_scope_doc},
	{NULL}
};

static PyMemberDef onstack_members[] = {
	{"inout", T_INT, offsetof(OnStackObject, inout), READONLY,
	 "The intent (VEO_INTENT_IN, _INOUT or _OUT)."},
	{NULL}
};

PyDoc_STRVAR(onstack_doc,
"OnStack(buff, size=None, inout=VEO_INTENT_IN)\n--\n\n"
"Passes a host buffer by reference to a kernel: the kernel gets a pointer\n"
"to a copy of the first `size` bytes of `buff` (all of it by default) in\n"
"VE memory. `buff` is any contiguous object with the buffer protocol\n"
"(bytes, bytearray, memoryview, numpy arrays in C or Fortran order, cffi\n"
"buffers). With VEO_INTENT_OUT or VEO_INTENT_INOUT, `buff` must be\n"
"writable and the VE copy is copied back into it when the request's\n"
"result is collected. The buffer is held (cannot be resized) while the\n"
"OnStack object exists.");

PyTypeObject OnStack_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.OnStack",
	.tp_basicsize = sizeof(OnStackObject),
	.tp_dealloc = (destructor)onstack_dealloc,
	.tp_repr = (reprfunc)onstack_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = onstack_doc,
	.tp_methods = onstack_methods,
	.tp_members = onstack_members,
	.tp_init = (initproc)onstack_init,
	.tp_new = PyType_GenericNew,
};
