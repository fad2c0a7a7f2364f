/*
 * library.c: VeoLibrary, a kernel library loaded into a VeoProc (or the
 * kernels linked into its worker): looking up its functions and symbols,
 * which it caches in its `func` and `symbol` dicts.
 */
#include "module.h"

#include <structmember.h>

#include <string.h>

/* ------------------------------------------------------------------------
 * VeoLibrary
 * --------------------------------------------------------------------- */

/* A new VeoLibrary `name` of `proc` with the C library's handle (0 for the
 * static library), stored in proc.lib. */
PyObject *
lib_create(VeoProcObject *proc, PyObject *name, uint64_t handle)
{
	/* a VeoName, so that proc.lib[b"/path"] finds it as well */
	name = name_from(name, "the library's name");
	if (!name)
		return NULL;
	VeoLibraryObject *lib = PyObject_GC_New(VeoLibraryObject, &VeoLibrary_Type);
	if (!lib) {
		Py_DECREF(name);
		return NULL;
	}
	Py_INCREF(proc);
	lib->proc = proc;
	lib->name = name;
	lib->handle = handle;
	lib->unloaded = 0;
	lib->func = PyDict_New();
	lib->symbol = PyDict_New();
	PyObject_GC_Track(lib);
	if (!lib->func || !lib->symbol ||
	    PyDict_SetItem(proc->lib, name, (PyObject *)lib) < 0) {
		Py_DECREF(lib);
		return NULL;
	}
	return (PyObject *)lib;
}

/* 0 if the library may be used, else -1 with VeoError set. */
int
lib_check(VeoLibraryObject *self)
{
	if (proc_check(self->proc) < 0)
		return -1;
	if (self->unloaded) {
		if (self->unloaded == LIB_RELOADED)
			PyErr_Format(VeoError, "library %R was reloaded: its file changed and "
			             "load_library() loaded the new version, so this one's code is "
			             "gone; use the VeoLibrary load_library() returned (proc.lib[%R])",
			             self->name, self->name);
		else
			PyErr_Format(VeoError, "the library %R was unloaded", self->name);
		return -1;
	}
	return 0;
}

/* Looks `name` (a VeoName) up in the library: its address, 0 if not found
 * (with the reason in err). -1 with an exception set for a bad name or
 * library, or a Ctrl-C while waiting for the worker (blocking.c). */
static int
lib_lookup(VeoLibraryObject *self, PyObject *name, const char *fn, uint64_t *addr,
           char *err, size_t errlen)
{
	PyObject *b = PyUnicode_EncodeFSDefault(name);
	if (!b)
		return -1;
	Py_ssize_t len = PyBytes_GET_SIZE(b);
	const char *s = PyBytes_AS_STRING(b);
	if (len == 0 || len > VEO_SYMNAME_LEN_MAX || (Py_ssize_t)strlen(s) != len) {
		PyErr_Format(PyExc_ValueError, "%s: %R is not a valid symbol name", fn, name);
		Py_DECREF(b);
		return -1;
	}
	if (lib_check(self) < 0) {
		Py_DECREF(b);
		return -1;
	}
	int rc = lookup_sym(self->proc, self->handle, s, addr, err, errlen); /* Ctrl-C */
	Py_DECREF(b);
	return rc;
}

/* The kernel `name` (a VeoName) of the library: the cached VeoFunction, or
 * a new one; VeoSymbolError (a VeoError and an AttributeError) if the
 * library has none. */
static PyObject *
lib_function(VeoLibraryObject *self, PyObject *name, const char *fn)
{
	PyObject *f = PyDict_GetItemWithError(self->func, name);
	if (f) {
		Py_INCREF(f);
		return f;
	}
	if (PyErr_Occurred())
		return NULL;
	uint64_t addr;
	char err[ERRBUF];
	if (lib_lookup(self, name, fn, &addr, err, sizeof err) < 0)
		return NULL;
	if (addr == 0)
		return raise_with_detail(VeoSymbolError, err, "%s: no function %R in %R", fn,
		                         name, self->name);
	return func_create(self, name, addr);
}

PyDoc_STRVAR(lib_find_function_doc,
"find_function($self, name)\n--\n\n"
"The VeoFunction `name` (str or bytes) of this library, cached in `func`\n"
"(a second call returns the same object, with its declared types). Raises\n"
"VeoSymbolError (a VeoError, so a RuntimeError, and an AttributeError) if\n"
"the library has no such symbol.");
static PyObject *
lib_find_function(VeoLibraryObject *self, PyObject *name_o)
{
	/* Checked even for a function found before: a reloaded or closed
	 * library says so here, not only when the function is called. */
	if (lib_check(self) < 0)
		return NULL;
	PyObject *name = name_from(name_o, "find_function(): the name");
	if (!name)
		return NULL;
	PyObject *f = lib_function(self, name, "find_function()");
	Py_DECREF(name);
	return f;
}

PyDoc_STRVAR(lib_get_symbol_doc,
"get_symbol($self, name)\n--\n\n"
"The address of the variable or function `name` (str or bytes) as a\n"
"VEMemPtr (an int; size 0), cached in `symbol`. Raises VeoSymbolError (a\n"
"VeoError, so a RuntimeError, and an AttributeError) if not found.");
static PyObject *
lib_get_symbol(VeoLibraryObject *self, PyObject *name_o)
{
	PyObject *name = name_from(name_o, "get_symbol(): the name");
	if (!name)
		return NULL;
	PyObject *s = PyDict_GetItemWithError(self->symbol, name);
	if (s) {
		Py_INCREF(s);
		Py_DECREF(name);
		return s;
	}
	if (PyErr_Occurred())
		goto fail;
	uint64_t addr;
	char err[ERRBUF];
	if (lib_lookup(self, name, "get_symbol()", &addr, err, sizeof err) < 0)
		goto fail;
	if (addr == 0) {
		raise_with_detail(VeoSymbolError, err, "get_symbol(): no symbol %R in %R", name,
		                  self->name);
		goto fail;
	}
	s = vemem_new(self->proc, addr, 0);
	if (!s)
		goto fail;
	if (PyDict_SetItem(self->symbol, name, s) < 0) {
		Py_DECREF(s);
		goto fail;
	}
	Py_DECREF(name);
	return s;
fail:
	Py_DECREF(name);
	return NULL;
}

/* lib.average: attributes that are not attributes are functions (py-veo). */
static PyObject *
lib_getattro(VeoLibraryObject *self, PyObject *name)
{
	PyObject *r = PyObject_GenericGetAttr((PyObject *)self, name);
	if (r || !PyErr_ExceptionMatches(PyExc_AttributeError) || !PyUnicode_Check(name))
		return r;
	Py_ssize_t n = PyUnicode_GET_LENGTH(name);
	if (n >= 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
	    PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_')
		return NULL; /* dunder names are never kernels */
	PyErr_Clear();
	r = PyDict_GetItemWithError(self->func, name);
	if (!r && !PyErr_Occurred())
		r = PyDict_GetItemWithError(self->symbol, name);
	if (r) {
		Py_INCREF(r);
		return r;
	}
	if (PyErr_Occurred())
		return NULL;
	PyObject *vname = name_from(name, "the attribute name");
	if (!vname)
		return NULL;
	r = lib_function(self, vname, "VeoLibrary attribute");
	Py_DECREF(vname);
	return r;
}

static int
lib_traverse(VeoLibraryObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->proc);
	Py_VISIT(self->func);
	Py_VISIT(self->symbol);
	return 0;
}

static void
lib_dealloc(VeoLibraryObject *self)
{
	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->proc);
	Py_CLEAR(self->name);
	Py_CLEAR(self->func);
	Py_CLEAR(self->symbol);
	PyObject_GC_Del(self);
}

static PyObject *
lib_repr(VeoLibraryObject *self)
{
	return PyUnicode_FromFormat("<VeoLibrary %R%s, handle %s, of VeoProc node %S>",
	                            self->name,
	                            self->unloaded == LIB_RELOADED ? " (reloaded: replaced)"
	                            : self->unloaded ? " (unloaded)" : "",
	                            hex64(self->handle).s, self->proc->nodeid);
}

/* Adds every item of `iterable` to `set`. 0, or -1 with an exception. */
static int
set_add_all(PyObject *set, PyObject *iterable)
{
	PyObject *it = PyObject_GetIter(iterable), *item;
	if (!it)
		return -1;
	while ((item = PyIter_Next(it)) != NULL) {
		int rc = PySet_Add(set, item);
		Py_DECREF(item);
		if (rc < 0) {
			Py_DECREF(it);
			return -1;
		}
	}
	Py_DECREF(it);
	return PyErr_Occurred() ? -1 : 0;
}

PyDoc_STRVAR(lib_dir_doc,
"__dir__($self)\n--\n\n"
"The attributes, the functions and symbols found so far, and the functions\n"
"the library's file exports (read from its ELF dynamic symbol table), for\n"
"tab completion.");
static PyObject *
lib_dir(VeoLibraryObject *self, PyObject *unused)
{
	PyObject *names = NULL, *generic, *r = NULL;

	generic = PyObject_CallMethod((PyObject *)&PyBaseObject_Type, "__dir__", "O", self);
	if (!generic)
		return NULL;
	names = PySet_New(generic);
	Py_DECREF(generic);
	if (!names || set_add_all(names, self->func) < 0 ||
	    set_add_all(names, self->symbol) < 0)
		goto done;
	if (self->handle != 0 && PyUnicode_Check(self->name)) {
		PyObject *path = NULL, *exported;
		if (!PyUnicode_FSConverter(self->name, &path))
			goto done;
		exported = elf_function_names(PyBytes_AS_STRING(path));
		Py_DECREF(path);
		if (!exported || set_add_all(names, exported) < 0) {
			Py_XDECREF(exported);
			goto done;
		}
		Py_DECREF(exported);
	}
	r = PySequence_List(names);
	if (r && PyList_Sort(r) < 0)
		Py_CLEAR(r);
done:
	Py_XDECREF(names);
	return r;
}

static PyMethodDef lib_methods[] = {
	{"__dir__", (PyCFunction)lib_dir, METH_NOARGS, lib_dir_doc},
	{"find_function", (PyCFunction)lib_find_function, METH_O, lib_find_function_doc},
	{"get_symbol", (PyCFunction)lib_get_symbol, METH_O, lib_get_symbol_doc},
	{NULL}
};

static PyObject *
lib_get_proc(VeoLibraryObject *self, void *closure)
{
	Py_INCREF(self->proc);
	return (PyObject *)self->proc;
}

static PyGetSetDef lib_getset[] = {
	{"proc", (getter)lib_get_proc, NULL, "The VeoProc the library is loaded in.", NULL},
	{NULL}
};

static PyMemberDef lib_members[] = {
	{"name", T_OBJECT, offsetof(VeoLibraryObject, name), READONLY,
	 "The path the library was loaded from, or \"__static__\" (a VeoName:\n"
	 "a str that equals its bytes too)."},
	{"func", T_OBJECT, offsetof(VeoLibraryObject, func), READONLY,
	 "Dict of the functions found so far: name (a VeoName: str, equal to\n"
	 "its bytes too) -> VeoFunction."},
	{"symbol", T_OBJECT, offsetof(VeoLibraryObject, symbol), READONLY,
	 "Dict of the symbols found so far: name (a VeoName) -> VEMemPtr."},
	{"handle", T_ULONGLONG, offsetof(VeoLibraryObject, handle), READONLY,
	 "The C library's handle (0 for the static library)."},
	{NULL}
};

PyDoc_STRVAR(lib_doc,
"A kernel library loaded into a VeoProc (proc.load_library(path)), or the\n"
"kernels linked into the worker (proc.static_library()). Attributes that\n"
"are not attributes are functions: `lib.average` is\n"
"lib.find_function(\"average\").");

PyTypeObject VeoLibrary_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoLibrary",
	.tp_basicsize = sizeof(VeoLibraryObject),
	.tp_dealloc = (destructor)lib_dealloc,
	.tp_repr = (reprfunc)lib_repr,
	.tp_getattro = (getattrofunc)lib_getattro,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_doc = lib_doc,
	.tp_traverse = (traverseproc)lib_traverse,
	.tp_methods = lib_methods,
	.tp_members = lib_members,
	.tp_getset = lib_getset,
};
