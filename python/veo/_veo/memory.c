/*
 * memory.c: memory on both sides of a copy. VEMemPtr is an address in a
 * proc's VE memory, OnStack a host buffer passed by reference to a kernel;
 * the helpers check the host buffers, VE addresses and byte counts of copies.
 */
#include "module.h"

#include <structmember.h>

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Host buffers, VE addresses, byte counts
 * --------------------------------------------------------------------- */

/* 1 if every page of [p, p + n) is mapped writable in this process, 0 if
 * one is not (a read-only mmap: writing would crash the process), -1 if
 * that cannot be told (no /proc). */
static int
host_range_writable(const void *p, size_t n)
{
	uintptr_t covered = (uintptr_t)p, end = covered + n;
	char line[256];
	int ok = 0, at_line_start = 1;
	FILE *f;

	if (n == 0)
		return 1;
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	/* "start-end perms ..." in increasing order; a long line (a long
	 * path) comes in pieces, of which only the first is parsed */
	while (fgets(line, sizeof line, f)) {
		int starts = at_line_start;
		at_line_start = strchr(line, '\n') != NULL;
		unsigned long lo, hi;
		char perms[8];
		if (!starts || sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (hi <= covered)
			continue;
		if (lo > covered || perms[1] != 'w')
			break;
		covered = hi;
		if (covered >= end) {
			ok = 1;
			break;
		}
	}
	fclose(f);
	return ok;
}

/* A read-only buffer `view` of obj that `what` is about to write into, as
 * py-veo does (its examples read into bytes and np.frombuffer(bytes)):
 * allowed with a VeoWarning saying why it is unsafe, unless the memory is
 * not writable at all or the object is shared by the whole interpreter.
 * 0 to go on, or -1 with the view released and an exception set (the
 * VeoWarning itself when warnings are errors). */
static int
allow_readonly_write(PyObject *obj, Py_buffer *view, const char *what)
{
	const char *why = NULL;
	if (PyBytes_CheckExact(obj) && PyBytes_GET_SIZE(obj) == 1)
		why = "a one-byte bytes object is shared by every user of that byte in "
		      "the interpreter";
	else if (host_range_writable(view->buf, (size_t)view->len) == 0)
		why = "its memory cannot be written (a read-only mapping)";
	if (why) {
		PyErr_Format(PyExc_TypeError,
		             "%s is read-only (%.100s) and would be written into, but %s; "
		             "pass a writable buffer such as a bytearray or a writable "
		             "numpy array", what, Py_TYPE(obj)->tp_name, why);
		PyBuffer_Release(view);
		return -1;
	}
	if (PyErr_WarnFormat(VeoWarning, 1,
	                     "%s is read-only (%.100s) and is written into anyway, as "
	                     "py-veo does; that is unsafe: Python assumes it never "
	                     "changes (equal bytes objects may be one shared object, "
	                     "a bytes caches its hash, a read-only numpy array may "
	                     "view such a bytes); pass a writable buffer such as a "
	                     "bytearray or numpy.empty(...) instead",
	                     what, Py_TYPE(obj)->tp_name) < 0) {
		PyBuffer_Release(view);
		return -1;
	}
	return 0;
}

/* Gets a contiguous buffer of obj for `what` (e.g. "read_mem(): dst").
 * A read-only object asked for writing is written into anyway, with a
 * VeoWarning (allow_readonly_write). */
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
			if (!contiguous) {
				PyErr_Format(PyExc_BufferError,
				             "%s must be a contiguous buffer (C or Fortran "
				             "order), not a strided view of %.100s; copy it "
				             "first (numpy.ascontiguousarray)",
				             what, Py_TYPE(obj)->tp_name);
				return -1;
			}
			if (PyObject_GetBuffer(obj, view, PyBUF_ANY_CONTIGUOUS) < 0)
				return -1;
			return allow_readonly_write(obj, view, what);
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
		VEMemPtrFields *m = vemem_fields(o);
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
	/* a VeoWarning's handler runs Python code, which may close the proc */
	if (view->readonly && to_host && proc_check(proc) < 0) {
		PyBuffer_Release(view);
		return -1;
	}
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
 * VEMemPtr: an address in a proc's VE memory, and an int
 *
 * py-veo's later API gives VE addresses as plain ints, its 2018 API as
 * VEMemPtr objects with addr, size and proc; a VEMemPtr is both: an int
 * subclass whose value is the address. It compares, hashes, formats and
 * converts (numpy, operator.index) as that int, arithmetic gives plain
 * ints, str() is the decimal number and repr() says what it points to.
 *
 * An int keeps its digits after its header and their number depends on
 * the value, so fields of a subclass cannot be declared after them. The
 * type's basic size leaves room for the digits of any value below 2**64
 * (five digits of at least 15 bits) and the fields sit after that room,
 * at vemem_fields_offset; only values in [0, 2**64) are ever made.
 * --------------------------------------------------------------------- */
Py_ssize_t vemem_fields_offset;

static PyObject *
vemem_make(PyTypeObject *type, VeoProcObject *proc, uint64_t addr, uint64_t size)
{
	PyObject *v = PyLong_FromUnsignedLongLong(addr);
	if (!v)
		return NULL;
	PyObject *args = PyTuple_Pack(1, v);
	Py_DECREF(v);
	if (!args)
		return NULL;
	/* int.__new__(type, addr) copies the digits into an object of type */
	PyObject *o = PyLong_Type.tp_new(type, args, NULL);
	Py_DECREF(args);
	if (!o)
		return NULL;
	VEMemPtrFields *f = vemem_fields(o);
	Py_INCREF(proc);
	f->proc = proc;
	f->addr = addr;
	f->size = size;
	return o;
}

/* A new VEMemPtr of `proc` at `addr`, of `size` bytes (0: unknown). */
PyObject *
vemem_new(VeoProcObject *proc, uint64_t addr, uint64_t size)
{
	return vemem_make(&VEMemPtr_Type, proc, addr, size);
}

static PyObject *
vemem_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"proc", "addr", "size", NULL};
	PyObject *proc, *addr_o, *size_o = NULL;
	uint64_t addr, size = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O|O:VEMemPtr", kwlist,
	                                 &VeoProc_Type, &proc, &addr_o, &size_o))
		return NULL;
	if (as_u64(addr_o, &addr, "VEMemPtr(): addr") < 0)
		return NULL;
	if (size_o && size_o != Py_None && as_u64(size_o, &size, "VEMemPtr(): size") < 0)
		return NULL;
	return vemem_make(type, (VeoProcObject *)proc, addr, size);
}

static int
vemem_traverse(PyObject *self, visitproc visit, void *arg)
{
	Py_VISIT(vemem_fields(self)->proc);
	return 0;
}

static void
vemem_dealloc(PyObject *self)
{
	PyObject_GC_UnTrack(self);
	Py_CLEAR(vemem_fields(self)->proc);
	Py_TYPE(self)->tp_free(self);
}

static PyObject *
vemem_repr(PyObject *self)
{
	VEMemPtrFields *f = vemem_fields(self);
	if (!f->proc)
		return PyUnicode_FromFormat("<VEMemPtr %s>", hex64(f->addr).s);
	if (f->size)
		return PyUnicode_FromFormat("<VEMemPtr %s, %llu bytes, of VeoProc node %S>",
		                            hex64(f->addr).s, (unsigned long long)f->size,
		                            f->proc->nodeid);
	return PyUnicode_FromFormat("<VEMemPtr %s of VeoProc node %S>", hex64(f->addr).s,
	                            f->proc->nodeid);
}

static PyObject *
vemem_get_proc(PyObject *self, void *closure)
{
	PyObject *p = (PyObject *)vemem_fields(self)->proc;
	if (!p)
		Py_RETURN_NONE;
	Py_INCREF(p);
	return p;
}

static PyObject *
vemem_get_addr(PyObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(vemem_fields(self)->addr);
}

static PyObject *
vemem_get_size(PyObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(vemem_fields(self)->size);
}

static PyGetSetDef vemem_getset[] = {
	{"proc", vemem_get_proc, NULL, "The VeoProc that owns the memory.", NULL},
	{"addr", vemem_get_addr, NULL,
	 "The VE address as a plain int (an address in the worker's address space).", NULL},
	{"size", vemem_get_size, NULL,
	 "Size in bytes if known (memory from alloc_mem), else 0.", NULL},
	{NULL}
};

/* An immutable value: copies are the object itself (int's own copy would
 * call VEMemPtr(addr), which needs the proc). */
static PyObject *
vemem_copy(PyObject *self, PyObject *unused)
{
	Py_INCREF(self);
	return self;
}

static PyMethodDef vemem_methods[] = {
	{"__copy__", vemem_copy, METH_NOARGS, "The VEMemPtr itself (it is immutable)."},
	{"__deepcopy__", vemem_copy, METH_O, "The VEMemPtr itself (it is immutable)."},
	{NULL}
};

PyDoc_STRVAR(vemem_doc,
"VEMemPtr(proc, addr, size=0)\n--\n\n"
"A pointer into the VE memory of `proc`, and an int: its value is the VE\n"
"address, so it compares, hashes and formats as that int (ptr == addr,\n"
"f\"{ptr:#x}\", dict keys, numpy.uint64(ptr)) and ptr + 8 is a plain int.\n"
"Attributes: addr (the address as a plain int), size (bytes, when known:\n"
"memory from alloc_mem; else 0), proc. Returned by VeoProc.alloc_mem(),\n"
"VeoLibrary.get_symbol() and by kernels declared to return a pointer.");

void
vemem_prepare(void)
{
	/* room for five digits (64 bits in digits of at least 15 bits) */
	Py_ssize_t digits_end = PyLong_Type.tp_basicsize + 5 * PyLong_Type.tp_itemsize;
	Py_ssize_t align = (Py_ssize_t)_Alignof(VEMemPtrFields);
	vemem_fields_offset = (digits_end + align - 1) / align * align;
	VEMemPtr_Type.tp_base = &PyLong_Type;
	VEMemPtr_Type.tp_basicsize = vemem_fields_offset + (Py_ssize_t)sizeof(VEMemPtrFields);
	VEMemPtr_Type.tp_itemsize = PyLong_Type.tp_itemsize;
	/* str() is the int's (decimal), repr() our own */
	VEMemPtr_Type.tp_str = PyLong_Type.tp_repr;
}

PyTypeObject VEMemPtr_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VEMemPtr",
	.tp_basicsize = 0, /* set by vemem_prepare() */
	.tp_dealloc = vemem_dealloc,
	.tp_repr = vemem_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = vemem_doc,
	.tp_traverse = vemem_traverse,
	.tp_methods = vemem_methods,
	.tp_getset = vemem_getset,
	.tp_new = vemem_tp_new,
	.tp_free = PyObject_GC_Del,
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

PyDoc_STRVAR(onstack_buff_doc, "buff($self)\n--\n\nThe object whose buffer is passed.");
static PyObject *
onstack_buff(OnStackObject *self, PyObject *unused)
{
	PyObject *o = self->view.obj ? self->view.obj : Py_None;
	Py_INCREF(o);
	return o;
}

PyDoc_STRVAR(onstack_c_pointer_doc,
"c_pointer($self)\n--\n\nHost address of the buffer (an int).");
static PyObject *
onstack_c_pointer(OnStackObject *self, PyObject *unused)
{
	return PyLong_FromVoidPtr(self->view.buf);
}

PyDoc_STRVAR(onstack_size_doc,
"size($self)\n--\n\nNumber of bytes copied to the VE for the call.");
static PyObject *
onstack_size(OnStackObject *self, PyObject *unused)
{
	return PyLong_FromSsize_t(self->size);
}

PyDoc_STRVAR(onstack_scope_doc,
"scope($self)\n--\n\nThe intent: VEO_INTENT_IN, VEO_INTENT_INOUT or VEO_INTENT_OUT.");
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
"buffers). With VEO_INTENT_OUT or VEO_INTENT_INOUT the VE copy is copied\n"
"back into `buff` when the request's result is collected; a read-only\n"
"`buff` (bytes) is written into as py-veo does, with a VeoWarning. The\n"
"buffer is held (cannot be resized) while the OnStack object exists.");

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
