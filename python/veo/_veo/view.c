/*
 * view.c: VeoProc.view(), numpy arrays over VE memory with no copy, and
 * VeoHostView, the object such an array's `base` is.
 *
 * The C library maps the VE heap into the host (veo_host_view gives a host
 * pointer into it), but unmaps it when the proc is destroyed; an array
 * over that mapping would then crash Python at its next access. So each
 * view maps the pages it covers a second time, a mapping of its own
 * (mremap of a shared mapping with old size 0 maps the same pages again):
 * kernels and the array still share every byte, and the view's mapping
 * lives exactly as long as the VeoHostView, which holds a reference to its
 * proc. After close the view keeps the memory's last contents (no worker
 * shares them any more). When the memory is freed (free_mem), the views
 * that covered it are remapped to private zero pages, so that they cannot
 * alias whatever is allocated there next: they read zeros from then on.
 */
#include "module.h"

/* mremap: Python.h defines _GNU_SOURCE */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

typedef struct VeoHostViewObject {
	PyObject_HEAD
	VeoProcObject *proc;
	uint64_t addr;     /* VE address of the first byte */
	Py_ssize_t size;   /* bytes in the view */
	char *buf;         /* the first byte, inside map */
	void *map;         /* this view's own mapping of the pages */
	size_t map_len;
	int freed;         /* the memory was freed: map holds zero pages */
	/* proc->views, a list of the proc's live views (under the GIL) */
	struct VeoHostViewObject *prev, *next;
} VeoHostViewObject;

static PyObject *numpy_module; /* imported by the first view() */

/* ------------------------------------------------------------------------
 * The mapping
 * --------------------------------------------------------------------- */

/* Maps the pages around [host, host + size) (inside the C library's
 * shared mapping of the heap) a second time into v. 0, or -1 with
 * errno set. */
static int
view_map(VeoHostViewObject *v, char *host, size_t size)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)host & ~(page - 1);
	uintptr_t end = ((uintptr_t)host + (size ? size : 1) + page - 1) & ~(page - 1);
	void *m = mremap((void *)start, 0, end - start, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return -1;
	v->map = m;
	v->map_len = end - start;
	v->buf = (char *)m + ((uintptr_t)host - start);
	return 0;
}

/* After a free_mem: the views whose memory is no longer allocated get
 * zero pages instead (replacing a mapping of one's own in place is
 * atomic: the array never sees its range unmapped). */
void
views_after_free(VeoProcObject *proc)
{
	for (VeoHostViewObject *v = proc->views; v; v = v->next) {
		if (v->freed || !proc->h)
			continue;
		if (veo_host_view(proc->h, v->addr, v->size ? (size_t)v->size : 1))
			continue;
		if (mmap(v->map, v->map_len, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED)
			v->freed = 1;
	}
}

/* ------------------------------------------------------------------------
 * VeoHostView
 * --------------------------------------------------------------------- */
static int
hostview_getbuffer(VeoHostViewObject *self, Py_buffer *view, int flags)
{
	return PyBuffer_FillInfo(view, (PyObject *)self, self->buf, self->size, 0, flags);
}

static PyBufferProcs hostview_as_buffer = {
	.bf_getbuffer = (getbufferproc)hostview_getbuffer,
};

static int
hostview_traverse(VeoHostViewObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->proc);
	return 0;
}

static void
hostview_dealloc(VeoHostViewObject *self)
{
	PyObject_GC_UnTrack(self);
	if (self->proc) {
		if (self->prev)
			self->prev->next = self->next;
		else if (self->proc->views == self)
			self->proc->views = self->next;
		if (self->next)
			self->next->prev = self->prev;
	}
	if (self->map)
		munmap(self->map, self->map_len);
	Py_CLEAR(self->proc);
	PyObject_GC_Del(self);
}

static PyObject *
hostview_repr(VeoHostViewObject *self)
{
	const char *state = self->freed ? " (freed: reads zeros)"
	                    : !self->proc->h ? " (proc closed: the last contents)" : "";
	return PyUnicode_FromFormat("<VeoHostView %zd bytes at VE address %s of VeoProc "
	                            "node %S%s>", self->size, hex64(self->addr).s,
	                            self->proc->nodeid, state);
}

static PyObject *
hostview_get_proc(VeoHostViewObject *self, void *closure)
{
	Py_INCREF(self->proc);
	return (PyObject *)self->proc;
}

static PyObject *
hostview_get_addr(VeoHostViewObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong(self->addr);
}

static PyObject *
hostview_get_nbytes(VeoHostViewObject *self, void *closure)
{
	return PyLong_FromSsize_t(self->size);
}

static PyObject *
hostview_get_freed(VeoHostViewObject *self, void *closure)
{
	return PyBool_FromLong(self->freed);
}

static PyObject *
hostview_get_shared(VeoHostViewObject *self, void *closure)
{
	return PyBool_FromLong(!self->freed && self->proc->h != NULL);
}

static PyGetSetDef hostview_getset[] = {
	{"proc", (getter)hostview_get_proc, NULL, "The VeoProc whose memory is viewed.", NULL},
	{"addr", (getter)hostview_get_addr, NULL, "VE address of the first byte.", NULL},
	{"nbytes", (getter)hostview_get_nbytes, NULL, "Bytes viewed.", NULL},
	{"freed", (getter)hostview_get_freed, NULL,
	 "True once the memory was freed (free_mem): the view reads zeros.", NULL},
	{"shared", (getter)hostview_get_shared, NULL,
	 "True while kernels see the same bytes (not freed, proc not closed).", NULL},
	{NULL}
};

PyDoc_STRVAR(hostview_doc,
"The `base` of an array from VeoProc.view(): VE memory mapped into the\n"
"host. It holds a reference to its proc, and keeps its mapping for as long\n"
"as an array uses it: after proc.close() the array keeps the memory's last\n"
"contents, after free_mem() it reads zeros (see `shared`, `freed`).");

PyTypeObject VeoHostView_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoHostView",
	.tp_basicsize = sizeof(VeoHostViewObject),
	.tp_dealloc = (destructor)hostview_dealloc,
	.tp_repr = (reprfunc)hostview_repr,
	.tp_as_buffer = &hostview_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = hostview_doc,
	.tp_traverse = (traverseproc)hostview_traverse,
	.tp_getset = hostview_getset,
};

/* ------------------------------------------------------------------------
 * VeoProc.view
 * --------------------------------------------------------------------- */

/* The shape argument as a tuple of non-negative ints and the number of
 * elements it holds; -1 with an exception set. */
static PyObject *
view_shape(PyObject *shape_o, Py_ssize_t *nelem)
{
	PyObject *t = PyIndex_Check(shape_o) ? PyTuple_Pack(1, shape_o)
	                                     : PySequence_Tuple(shape_o);
	if (!t) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
			             "view(): shape must be an int or a tuple of ints, not %.100s",
			             Py_TYPE(shape_o)->tp_name);
		}
		return NULL;
	}
	Py_ssize_t n = 1;
	for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
		Py_ssize_t d = PyNumber_AsSsize_t(PyTuple_GET_ITEM(t, i), PyExc_OverflowError);
		if (d == -1 && PyErr_Occurred())
			goto fail;
		if (d < 0) {
			PyErr_Format(PyExc_ValueError, "view(): negative dimension in shape %R",
			             shape_o);
			goto fail;
		}
		if (d && n > PY_SSIZE_T_MAX / d) {
			PyErr_Format(PyExc_OverflowError, "view(): shape %R is too large", shape_o);
			goto fail;
		}
		n *= d;
	}
	*nelem = n;
	return t;
fail:
	Py_DECREF(t);
	return NULL;
}

const char proc_view_doc[] =
"view($self, ptr, dtype=numpy.uint8, shape=None, count=None, offset=0, order='C')\n--\n\n"
"A numpy array over VE memory, with no copy: `ptr` (a VEMemPtr of this\n"
"proc, or an int address) plus `offset` bytes, inside one block from\n"
"alloc_mem (or alloc_hmem). Kernels and the array see the same bytes:\n"
"what a kernel writes the array shows, what Python writes a kernel reads.\n"
"The array has `shape` (an int or a tuple; `order` 'C' or 'F'), or\n"
"`count` elements, or else fills the rest of the block (a VEMemPtr from\n"
"alloc_mem knows its size; a plain int address needs shape or count).\n\n"
"The array's base is a VeoHostView holding a reference to the proc. After\n"
"proc.close() the array keeps the memory's last contents (the worker is\n"
"gone, nothing shares them); after free_mem() of the block it reads\n"
"zeros, so that it never aliases memory allocated later. Library\n"
"variables and memory a kernel allocated lie outside the heap: read_mem\n"
"and write_mem reach those.";

PyObject *
proc_view(VeoProcObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"ptr", "dtype", "shape", "count", "offset", "order", NULL};
	PyObject *ptr, *dtype_o = Py_None, *shape_o = Py_None, *count_o = Py_None;
	PyObject *offset_o = NULL, *order_o = NULL;
	PyObject *dtype = NULL, *shape = NULL, *r = NULL;
	VeoHostViewObject *v = NULL;
	uint64_t addr, known, off = 0;
	Py_ssize_t itemsize, nelem;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOOOO:view", kwlist, &ptr, &dtype_o,
	                                 &shape_o, &count_o, &offset_o, &order_o))
		return NULL;
	if (proc_check(self) < 0)
		return NULL;
	if (ve_address(self, ptr, "view(): ptr", &addr, &known) < 0)
		return NULL;
	if (offset_o && as_u64(offset_o, &off, "view(): offset") < 0)
		return NULL;
	if (known && off > known) {
		PyErr_Format(PyExc_ValueError,
		             "view(): offset %llu is beyond the end of the block (%llu bytes)",
		             (unsigned long long)off, (unsigned long long)known);
		return NULL;
	}
	if (known)
		known -= off;
	addr += off;

	if (!numpy_module && !(numpy_module = PyImport_ImportModule("numpy")))
		return NULL;
	if (dtype_o == Py_None)
		dtype = PyObject_CallMethod(numpy_module, "dtype", "s", "uint8");
	else
		dtype = PyObject_CallMethod(numpy_module, "dtype", "O", dtype_o);
	if (!dtype)
		return NULL;
	PyObject *is = PyObject_GetAttrString(dtype, "itemsize");
	itemsize = is ? PyLong_AsSsize_t(is) : -1;
	Py_XDECREF(is);
	if (itemsize < 0)
		goto out;
	if (itemsize == 0) {
		PyErr_Format(PyExc_ValueError, "view(): dtype %R has no size", dtype);
		goto out;
	}

	if (shape_o != Py_None && count_o != Py_None) {
		PyErr_SetString(PyExc_TypeError, "view(): give shape or count, not both");
		goto out;
	}
	if (shape_o == Py_None && count_o == Py_None) {
		if (!known) {
			PyErr_SetString(PyExc_ValueError,
			                "view(): the size of the memory at a plain int address is "
			                "not known; give shape= or count= (or pass the VEMemPtr "
			                "alloc_mem returned)");
			goto out;
		}
		if (known % (uint64_t)itemsize) {
			PyErr_Format(PyExc_ValueError,
			             "view(): the block's %llu bytes are no whole number of %R "
			             "(%zd bytes each); give shape= or count=",
			             (unsigned long long)known, dtype, itemsize);
			goto out;
		}
		PyObject *rest = PyLong_FromUnsignedLongLong(known / (uint64_t)itemsize);
		if (!rest)
			goto out;
		shape = view_shape(rest, &nelem);
		Py_DECREF(rest);
	} else {
		shape = view_shape(shape_o != Py_None ? shape_o : count_o, &nelem);
	}
	if (!shape)
		goto out;
	if (nelem > PY_SSIZE_T_MAX / itemsize) {
		PyErr_SetString(PyExc_OverflowError, "view(): too many bytes");
		goto out;
	}
	Py_ssize_t nbytes = nelem * itemsize;
	if (known && (uint64_t)nbytes > known) {
		PyErr_Format(PyExc_ValueError,
		             "view(): %zd bytes are more than the block holds from there "
		             "(%llu bytes)", nbytes, (unsigned long long)known);
		goto out;
	}

	char *host = veo_host_view(self->h, addr, (size_t)nbytes);
	if (!host) {
		raise_with_detail(VeoError, veo_last_error(),
		                  "view(): %zd bytes at VE address %s are not VE memory from "
		                  "alloc_mem", nbytes, hex64(addr).s);
		goto out;
	}
	v = PyObject_GC_New(VeoHostViewObject, &VeoHostView_Type);
	if (!v)
		goto out;
	v->proc = NULL;
	v->map = NULL;
	v->prev = v->next = NULL;
	v->addr = addr;
	v->size = nbytes;
	v->freed = 0;
	if (view_map(v, host, (size_t)nbytes) < 0) {
		PyErr_Format(VeoError,
		             "view(): cannot map the VE memory at %s into the host a second "
		             "time: %s", hex64(addr).s, strerror(errno));
		goto out;
	}
	Py_INCREF(self);
	v->proc = self;
	v->next = self->views;
	if (self->views)
		self->views->prev = v;
	self->views = v;
	PyObject_GC_Track(v);

	PyObject *nd_args = Py_BuildValue("(OO)", shape, dtype);
	PyObject *nd_kw = nd_args ? Py_BuildValue("{s:O}", "buffer", (PyObject *)v) : NULL;
	if (nd_kw && order_o && PyDict_SetItemString(nd_kw, "order", order_o) < 0)
		Py_CLEAR(nd_kw);
	PyObject *ndarray = nd_kw ? PyObject_GetAttrString(numpy_module, "ndarray") : NULL;
	if (ndarray)
		r = PyObject_Call(ndarray, nd_args, nd_kw);
	Py_XDECREF(ndarray);
	Py_XDECREF(nd_args);
	Py_XDECREF(nd_kw);
out:
	Py_XDECREF((PyObject *)v);
	Py_XDECREF(shape);
	Py_XDECREF(dtype);
	return r;
}
