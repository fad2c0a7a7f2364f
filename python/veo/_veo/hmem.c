/*
 * hmem.c: py-veo's later API beside the 2018 one: VEO_HMEM (static methods
 * over veo_hmem.h and the hmem calls of ve_offload.h), the proc's hmem
 * methods (alloc_hmem, free_hmem, set_proc_identifier), i64_to_addr,
 * proc_destroy, VeoCtxt.context_close, get_ve_arch, and later_api_init,
 * which adds this file's and args.c's names to the module.
 *
 * An hmem pointer is a plain int here, as in py-veo: the VE address with
 * its tag (bit 63, and the proc identifier in bits 62..59; veo_hmem.h).
 */
#include "module.h"

#include <veo_hmem.h>

/* An address argument: an int (or anything with __index__, a VEMemPtr). */
static int
get_addr(PyObject *o, const char *what, void **out)
{
	uint64_t v;
	if (as_u64(o, &v, what) < 0)
		return -1;
	*out = (void *)(uintptr_t)v;
	return 0;
}

static PyObject *
addr_obj(const void *p)
{
	return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)p);
}

/* ------------------------------------------------------------------------
 * VEO_HMEM: static methods only
 * --------------------------------------------------------------------- */
PyDoc_STRVAR(hmem_is_ve_addr_doc, "is_ve_addr(addr)\n--\n\n"
"True if `addr` is an hmem pointer to VE memory (it carries the VE tag).");
static PyObject *
hmem_is_ve_addr(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "is_ve_addr(): addr", &p) < 0)
		return NULL;
	return PyBool_FromLong(veo_is_ve_addr(p) == 1);
}

PyDoc_STRVAR(hmem_get_hmem_addr_doc, "get_hmem_addr(addr)\n--\n\n"
"`addr` without its hmem tag: the VE address of a VE pointer, a host\n"
"address unchanged.");
static PyObject *
hmem_get_hmem_addr(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_hmem_addr(): addr", &p) < 0)
		return NULL;
	return addr_obj(veo_get_hmem_addr(p));
}

PyDoc_STRVAR(hmem_get_proc_identifier_from_hmem_doc,
"get_proc_identifier_from_hmem(addr)\n--\n\n"
"The proc identifier (0..15) an hmem pointer to VE memory carries; -1 for\n"
"a host address.");
static PyObject *
hmem_get_proc_identifier_from_hmem(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_proc_identifier_from_hmem(): addr", &p) < 0)
		return NULL;
	return PyLong_FromLong(veo_get_proc_identifier_from_hmem(p));
}

/* The live VeoProc whose handle is h, or NULL (no error set). */
static PyObject *
proc_of_handle(struct veo_proc_handle *h)
{
	PyObject *procs = PyObject_CallMethod(PyImport_AddModule("veo._veo"), "_live_procs", NULL);
	PyObject *found = NULL;
	if (!procs) {
		PyErr_Clear();
		return NULL;
	}
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(procs) && !found; i++) {
		VeoProcObject *p = (VeoProcObject *)PyList_GET_ITEM(procs, i);
		if (p->h == h)
			found = (PyObject *)p;
	}
	Py_XINCREF(found);
	Py_DECREF(procs);
	return found;
}

PyDoc_STRVAR(hmem_get_proc_handle_from_hmem_doc,
"get_proc_handle_from_hmem(addr)\n--\n\n"
"The C handle (an int, as py-veo gives it; compare with VeoProc's\n"
"_proc_handle) of the live proc an hmem pointer names; VeoError if it\n"
"names none. get_proc_from_hmem gives the VeoProc itself.");
static PyObject *
hmem_get_proc_handle_from_hmem(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_proc_handle_from_hmem(): addr", &p) < 0)
		return NULL;
	struct veo_proc_handle *h = veo_get_proc_handle_from_hmem(p);
	if (!h)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "get_proc_handle_from_hmem(%s): no live proc",
		                         hex64((uint64_t)(uintptr_t)p).s);
	return addr_obj(h);
}

PyDoc_STRVAR(hmem_get_proc_from_hmem_doc,
"get_proc_from_hmem(addr)\n--\n\n"
"The VeoProc an hmem pointer to VE memory belongs to; VeoError if it names\n"
"no live VeoProc.");
static PyObject *
hmem_get_proc_from_hmem(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_proc_from_hmem(): addr", &p) < 0)
		return NULL;
	struct veo_proc_handle *h = veo_get_proc_handle_from_hmem(p);
	PyObject *proc = h ? proc_of_handle(h) : NULL;
	if (!proc)
		return raise_with_detail(VeoError, h ? "" : veo_last_error(),
		                         "get_proc_from_hmem(%s): no live VeoProc",
		                         hex64((uint64_t)(uintptr_t)p).s);
	return proc;
}

PyDoc_STRVAR(hmem_get_pid_from_hmem_doc, "get_pid_from_hmem(addr)\n--\n\n"
"The worker's process id of the proc an hmem pointer names; VeoError if\n"
"it names none.");
static PyObject *
hmem_get_pid_from_hmem(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_pid_from_hmem(): addr", &p) < 0)
		return NULL;
	pid_t pid = veo_get_pid_from_hmem(p);
	if (pid < 0)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "get_pid_from_hmem(%s): no live proc",
		                         hex64((uint64_t)(uintptr_t)p).s);
	return PyLong_FromLong((long)pid);
}

PyDoc_STRVAR(hmem_get_venum_from_hmem_doc, "get_venum_from_hmem(addr)\n--\n\n"
"The VE node of the proc an hmem pointer names; VeoError if it names none.");
static PyObject *
hmem_get_venum_from_hmem(PyObject *unused, PyObject *o)
{
	void *p;
	if (get_addr(o, "get_venum_from_hmem(): addr", &p) < 0)
		return NULL;
	int n = veo_get_venum_from_hmem(p);
	if (n < 0)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "get_venum_from_hmem(%s): no live proc",
		                         hex64((uint64_t)(uintptr_t)p).s);
	return PyLong_FromLong(n);
}

PyDoc_STRVAR(hmem_get_max_proc_identifier_doc, "get_max_proc_identifier()\n--\n\n"
"How many procs hmem pointers can tell apart (16).");
static PyObject *
hmem_get_max_proc_identifier(PyObject *unused, PyObject *noargs)
{
	return PyLong_FromLong(veo_get_max_proc_identifier());
}

/* A host side of hmemcpy: a buffer object (its memory, of at least size
 * bytes, writable for dst), or an address (an int) taken as it is. */
static int
hmemcpy_side(PyObject *o, int is_dst, uint64_t size, Py_buffer *view, void **out)
{
	const char *what = is_dst ? "hmemcpy(): dst" : "hmemcpy(): src";
	if (PyObject_CheckBuffer(o) && !PyLong_Check(o)) {
		int flags = PyBUF_ANY_CONTIGUOUS | (is_dst ? PyBUF_WRITABLE : 0);
		if (PyObject_GetBuffer(o, view, flags) < 0) {
			if (PyErr_ExceptionMatches(PyExc_BufferError)) {
				PyErr_Clear();
				PyErr_Format(PyExc_TypeError, "%s must be a contiguous%s buffer "
				             "(%.100s is not)", what, is_dst ? ", writable" : "",
				             Py_TYPE(o)->tp_name);
			}
			return -1;
		}
		if ((uint64_t)view->len < size) {
			PyErr_Format(PyExc_ValueError, "%s: the buffer has %zd bytes, fewer than "
			             "size (%llu)", what, view->len, (unsigned long long)size);
			PyBuffer_Release(view);
			return -1;
		}
		*out = view->buf;
		return 0;
	}
	return get_addr(o, what, out);
}

PyDoc_STRVAR(hmem_hmemcpy_doc, "hmemcpy(dst, src, size)\n--\n\n"
"Copies `size` bytes between hmem pointers (ints): host to VE, VE to host,\n"
"VE to VE, host to host, told apart by the tags. A host side may also be\n"
"a buffer object (bytearray, numpy array, ...; writable for dst).\n"
"VeoError if the copy fails.");
static PyObject *
hmem_hmemcpy(PyObject *unused, PyObject *args)
{
	PyObject *dst_o, *src_o, *size_o;
	Py_buffer dv = {0}, sv = {0};
	void *dst, *src;
	uint64_t size;
	if (!PyArg_ParseTuple(args, "OOO:hmemcpy", &dst_o, &src_o, &size_o) ||
	    as_u64(size_o, &size, "hmemcpy(): size") < 0)
		return NULL;
	if (hmemcpy_side(dst_o, 1, size, &dv, &dst) < 0)
		return NULL;
	if (hmemcpy_side(src_o, 0, size, &sv, &src) < 0) {
		if (dv.obj)
			PyBuffer_Release(&dv);
		return NULL;
	}
	int rc = veo_hmemcpy(dst, src, (size_t)size);
	if (dv.obj)
		PyBuffer_Release(&dv);
	if (sv.obj)
		PyBuffer_Release(&sv);
	if (rc != 0)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "hmemcpy(%s, %s, %llu) failed",
		                         hex64((uint64_t)(uintptr_t)dst).s,
		                         hex64((uint64_t)(uintptr_t)src).s, (unsigned long long)size);
	VEO_LOG(LOG_INFO, "hmemcpy: %llu bytes to %s from %s", (unsigned long long)size,
	        hex64((uint64_t)(uintptr_t)dst).s, hex64((uint64_t)(uintptr_t)src).s);
	Py_RETURN_NONE;
}

#define STATIC_O(name) {#name, (PyCFunction)hmem_##name, METH_O | METH_STATIC, \
	hmem_##name##_doc}
static PyMethodDef hmem_methods[] = {
	STATIC_O(is_ve_addr),
	STATIC_O(get_hmem_addr),
	STATIC_O(get_proc_identifier_from_hmem),
	STATIC_O(get_proc_handle_from_hmem),
	STATIC_O(get_proc_from_hmem),
	STATIC_O(get_pid_from_hmem),
	STATIC_O(get_venum_from_hmem),
	{"get_max_proc_identifier", (PyCFunction)hmem_get_max_proc_identifier,
	 METH_NOARGS | METH_STATIC, hmem_get_max_proc_identifier_doc},
	{"hmemcpy", (PyCFunction)hmem_hmemcpy, METH_VARARGS | METH_STATIC, hmem_hmemcpy_doc},
	{NULL}
};

PyDoc_STRVAR(hmem_doc,
"VEO_HMEM: heterogeneous memory helpers (py-veo's), static methods over\n"
"veo_hmem.h: is_ve_addr, get_hmem_addr, get_proc_identifier_from_hmem,\n"
"get_proc_handle_from_hmem (and get_proc_from_hmem, get_pid_from_hmem,\n"
"get_venum_from_hmem, get_max_proc_identifier), hmemcpy. hmem pointers\n"
"come from VeoProc.alloc_hmem and are ints.");

PyTypeObject VEO_HMEM_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VEO_HMEM",
	.tp_basicsize = sizeof(PyObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = hmem_doc,
	.tp_methods = hmem_methods,
	.tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------------
 * VeoProc and VeoCtxt methods (in their types' tables)
 * --------------------------------------------------------------------- */
const char proc_alloc_hmem_doc[] =
"alloc_hmem($self, size)\n--\n\n"
"Allocates `size` bytes of VE memory and returns its hmem pointer (an int:\n"
"the VE address tagged with proc_identifier()); MemoryError if the memory\n"
"cannot be had. Free it with free_hmem; pass it to kernels with\n"
"VeoArgs.set_hmem or as a pointer argument; copy with VEO_HMEM.hmemcpy.";
PyObject *
proc_alloc_hmem(VeoProcObject *self, PyObject *size_o)
{
	uint64_t size;
	void *hmem = NULL;
	if (as_u64(size_o, &size, "alloc_hmem(): size") < 0 || proc_check(self) < 0)
		return NULL;
	if (veo_alloc_hmem(self->h, &hmem, (size_t)size) != 0)
		return raise_with_detail(PyExc_MemoryError, veo_last_error(),
		                         "alloc_hmem(%llu) failed", (unsigned long long)size);
	VEO_LOG(LOG_INFO, "alloc_hmem: node %S, hmem %s, %llu bytes", self->nodeid,
	        hex64((uint64_t)(uintptr_t)hmem).s, (unsigned long long)size);
	return addr_obj(hmem);
}

const char proc_free_hmem_doc[] =
"free_hmem($self, addr)\n--\n\n"
"Frees memory from alloc_hmem (its hmem pointer); VeoError if it fails.";
PyObject *
proc_free_hmem(VeoProcObject *self, PyObject *addr_o)
{
	void *p;
	if (get_addr(addr_o, "free_hmem(): addr", &p) < 0 || proc_check(self) < 0)
		return NULL;
	/* A host pointer would be given to free(): Python has no host hmem. */
	if (!veo_is_ve_addr(p)) {
		PyErr_Format(PyExc_ValueError, "free_hmem(%s): not an hmem pointer to VE "
		             "memory (from alloc_hmem)", hex64((uint64_t)(uintptr_t)p).s);
		return NULL;
	}
	if (veo_get_proc_handle_from_hmem(p) != self->h) {
		PyErr_Format(PyExc_ValueError, "free_hmem(%s): the memory belongs to another "
		             "proc than this one", hex64((uint64_t)(uintptr_t)p).s);
		return NULL;
	}
	if (veo_free_hmem(p) != 0)
		return raise_with_detail(VeoError, veo_last_error(), "free_hmem(%s) failed",
		                         hex64((uint64_t)(uintptr_t)p).s);
	if (self->views) /* views of the block read zeros from now on (view.c) */
		views_after_free(self);
	VEO_LOG(LOG_INFO, "free_hmem: node %S, hmem %s", self->nodeid,
	        hex64((uint64_t)(uintptr_t)p).s);
	Py_RETURN_NONE;
}

const char proc_set_proc_identifier_doc[] =
"set_proc_identifier($self, addr, ident)\n--\n\n"
"The hmem pointer of VE address `addr` tagged with proc identifier `ident`\n"
"(0..15, see proc_identifier()); ValueError for another ident.";
PyObject *
proc_set_proc_identifier(VeoProcObject *self, PyObject *args)
{
	PyObject *addr_o;
	int ident;
	void *p;
	if (!PyArg_ParseTuple(args, "Oi:set_proc_identifier", &addr_o, &ident) ||
	    get_addr(addr_o, "set_proc_identifier(): addr", &p) < 0)
		return NULL;
	void *r = veo_set_proc_identifier(p, ident);
	if (!r)
		return raise_with_detail(PyExc_ValueError, veo_last_error(),
		                         "set_proc_identifier(%s, %d) failed",
		                         hex64((uint64_t)(uintptr_t)p).s, ident);
	return addr_obj(r);
}

const char proc_i64_to_addr_doc[] =
"i64_to_addr($self, x)\n--\n\n"
"The VE address (a VEMemPtr of this proc) whose bits are those of the\n"
"signed 64-bit value x, as a kernel's pointer result comes back in a\n"
"64-bit register.";
PyObject *
proc_i64_to_addr(VeoProcObject *self, PyObject *x)
{
	uint64_t u;
	if (PyFloat_Check(x)) {
		PyErr_SetString(PyExc_TypeError, "i64_to_addr(): x must be an integer, not float");
		return NULL;
	}
	PyObject *n = PyNumber_Index(x);
	if (!n)
		return NULL;
	int overflow;
	long long v = PyLong_AsLongLongAndOverflow(n, &overflow);
	if (v == -1 && PyErr_Occurred()) {
		Py_DECREF(n);
		return NULL;
	}
	if (overflow > 0) {
		/* an unsigned address above INT64_MAX is taken as it is */
		u = PyLong_AsUnsignedLongLong(n);
		if (u == (uint64_t)-1 && PyErr_Occurred()) {
			PyErr_Clear();
			overflow = 2;
		} else {
			overflow = 0;
		}
	} else {
		u = (uint64_t)v;
	}
	if (overflow) {
		PyErr_Format(PyExc_OverflowError, "i64_to_addr(): %S is not a 64-bit value", n);
		Py_DECREF(n);
		return NULL;
	}
	Py_DECREF(n);
	return vemem_new(self, u, 0);
}

const char proc_proc_destroy_doc[] =
"proc_destroy($self)\n--\n\n"
"Stops the VE process (py-veo's later name for close()); destroying a\n"
"destroyed proc does nothing.";
PyObject *
proc_proc_destroy(VeoProcObject *self, PyObject *unused)
{
	if (proc_close(self) < 0)
		return NULL;
	Py_RETURN_NONE;
}

const char ctxt_context_close_doc[] =
"context_close($self)\n--\n\n"
"Closes this context (as proc.close_context(ctx)): waits for its queued\n"
"requests, stops it, and removes it from proc.context. Closing a closed\n"
"context does nothing.";
PyObject *
ctxt_context_close(VeoCtxtObject *self, PyObject *unused)
{
	if (!self->proc || ctxt_dead(self))
		Py_RETURN_NONE;
	return PyObject_CallMethod((PyObject *)self->proc, "close_context", "O", self);
}

/* ------------------------------------------------------------------------
 * Module functions, and adding all this to the module
 * --------------------------------------------------------------------- */
PyDoc_STRVAR(get_ve_arch_doc,
"get_ve_arch($module, node)\n--\n\n"
"The architecture number of VE node `node` (veo_get_ve_arch: openveo\n"
"reports 1); VeoError for a node that does not exist.");
static PyObject *
mod_get_ve_arch(PyObject *mod, PyObject *node_o)
{
	int overflow;
	long node = PyLong_AsLongAndOverflow(node_o, &overflow);
	if (node == -1 && PyErr_Occurred())
		return NULL;
	if (overflow || node < -1 || node > 0xffff) {
		PyErr_Format(PyExc_ValueError, "get_ve_arch(): %R is not a VE node number", node_o);
		return NULL;
	}
	int arch = veo_get_ve_arch((int)node);
	if (arch < 0)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "get_ve_arch(%ld): no such VE node", node);
	return PyLong_FromLong(arch);
}

extern PyMethodDef log_methods[];
static PyMethodDef later_methods[] = {
	{"get_ve_arch", mod_get_ve_arch, METH_O, get_ve_arch_doc},
	{NULL}
};

int
later_api_init(PyObject *m)
{
	static PyTypeObject *types[] = {&VeoArgs_Type, &VEO_HMEM_Type};
	static const char *names[] = {"VeoArgs", "VEO_HMEM"};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (PyType_Ready(types[i]) < 0)
			return -1;
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
			Py_DECREF(types[i]);
			return -1;
		}
	}
	if (PyModule_AddFunctions(m, later_methods) < 0 ||
	    PyModule_AddFunctions(m, log_methods) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------
 * Thread ids of contexts (VeoCtxt.tid): the C API has no call for them, so
 * the binding watches the worker's threads (/proc/PID/task) across
 * veo_context_open: the one that appears runs the new context.
 * --------------------------------------------------------------------- */
#include <dirent.h>
#include <stdlib.h>

int *
worker_tids(pid_t pid, size_t *n)
{
	char path[64];
	size_t cap = 64, len = 0;
	int *v;
	DIR *d;
	struct dirent *e;

	if (pid <= 0)
		return NULL;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return NULL;
	if (!(v = malloc(cap * sizeof *v))) {
		closedir(d);
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		int tid = atoi(e->d_name);
		if (tid <= 0)
			continue;
		if (len == cap) {
			int *nv = realloc(v, 2 * cap * sizeof *v);
			if (!nv) {
				free(v);
				closedir(d);
				return NULL;
			}
			v = nv;
			cap *= 2;
		}
		v[len++] = tid;
	}
	closedir(d);
	*n = len;
	return v;
}

int
new_worker_tid(const int *before, size_t nb, const int *after, size_t na)
{
	int found = 0;
	for (size_t i = 0; i < na; i++) {
		size_t j = 0;
		while (j < nb && before[j] != after[i])
			j++;
		if (j < nb)
			continue;
		if (found)
			return 0; /* two new threads: cannot tell which */
		found = after[i];
	}
	return found;
}

PyObject *
ctxt_get_tid(VeoCtxtObject *self, void *closure)
{
	return PyLong_FromLong(self->tid);
}

PyObject *
ctxt_get_thr_ctxt(VeoCtxtObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)self->ctx);
}

int
hmem_arg_check(VeoProcObject *proc, uint64_t addr, PyObject *fname, int argno,
               PyObject *tname)
{
	void *p = (void *)(uintptr_t)addr;
	int ident = veo_get_proc_identifier_from_hmem(p);
	if (ident < 0 || ident != veo_proc_identifier(proc->h)) {
		PyErr_Format(PyExc_ValueError, "%S(): argument %d (%S) is an hmem pointer "
		             "(%s) of another proc than the call's", fname, argno + 1, tname,
		             hex64(addr).s);
		return -1;
	}
	return 0;
}
