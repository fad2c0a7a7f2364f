/*
 * function.c: VeoFunction, a kernel of a VeoLibrary: declaring its
 * prototype (args_type, ret_type) and calling it, which queues the call in
 * a context and returns a VeoRequest. The conversions are in ctypes.c.
 */
#include "module.h"

#include <structmember.h>

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * VeoFunction
 * --------------------------------------------------------------------- */

static PyObject *func_vectorcall(VeoFunctionObject *self, PyObject *const *args,
                                 size_t nargsf, PyObject *kwnames);

/* A new VeoFunction `name` at VE address `addr` of `lib`, stored in
 * lib.func; declared as py-veo does: no argument types yet, result int. */
PyObject *
func_create(VeoLibraryObject *lib, PyObject *name, uint64_t addr)
{
	VeoFunctionObject *f = PyObject_GC_New(VeoFunctionObject, &VeoFunction_Type);
	if (!f)
		return NULL;
	Py_INCREF(lib);
	f->lib = lib;
	Py_INCREF(name);
	f->name = name;
	f->addr = addr;
	Py_INCREF(Py_None);
	f->args_type = Py_None;
	f->ret_type = PyUnicode_FromString("int"); /* py-veo's default */
	f->nargs = 0;
	f->plan = NULL;
	f->ret_kind = K_I32;
	f->arg_names = NULL;
	f->spare = NULL;
	f->decl = 0;
	f->vectorcall = (vectorcallfunc)func_vectorcall;
	PyObject_GC_Track(f);
	if (!f->ret_type || PyDict_SetItem(lib->func, name, (PyObject *)f) < 0) {
		Py_DECREF(f);
		return NULL;
	}
	return (PyObject *)f;
}

/* The prototype was declared again: the spare argument list, filled for
 * the old one, goes, and so do those of calls being queued now (their
 * args_keep sees decl changed). */
static void
func_new_prototype(VeoFunctionObject *self)
{
	self->decl++;
	if (self->spare) {
		veo_args_free(self->spare);
		self->spare = NULL;
	}
}

PyDoc_STRVAR(func_args_type_doc,
"args_type($self, *types)\n--\n\n"
"Declares the C types of the arguments, e.g. args_type(\"double *\", \"int\").\n"
"Known: char, short, int, long, long long (each also unsigned), int8_t ..\n"
"uint64_t, size_t, ssize_t, float, double, and pointers (any name followed\n"
"by '*'). args_type() or args_type(\"void\") declares no arguments.");
static PyObject *
func_args_type(VeoFunctionObject *self, PyObject *args)
{
	if (PyTuple_GET_SIZE(args) == 1 &&
	    (PyList_Check(PyTuple_GET_ITEM(args, 0)) || PyTuple_Check(PyTuple_GET_ITEM(args, 0))))
		args = PyTuple_GET_ITEM(args, 0);
	PyObject *types = PySequence_Tuple(args);
	if (!types)
		return NULL;
	Py_ssize_t n = PyTuple_GET_SIZE(types);
	if (n > VEO_MAX_NUM_ARGS) {
		PyErr_Format(PyExc_ValueError, "%U(): at most %d arguments, not %zd",
		             self->name, VEO_MAX_NUM_ARGS, n);
		Py_DECREF(types);
		return NULL;
	}
	struct arg_plan *plan = PyMem_Malloc((n ? (size_t)n : 1) * sizeof *plan);
	if (!plan) {
		Py_DECREF(types);
		return PyErr_NoMemory();
	}
	int nargs = 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		char what[48];
		snprintf(what, sizeof what, "argument %zd", i + 1);
		int k = ctype_kind_of(PyTuple_GET_ITEM(types, i), self->name, what);
		if (k < 0)
			goto fail;
		if (k == K_VOID) {
			if (n == 1)
				break; /* args_type("void"): no arguments */
			PyErr_Format(PyExc_ValueError,
			             "%U(): \"void\" is not an argument type (argument %zd); "
			             "use \"void *\" for a pointer",
			             self->name, i + 1);
			goto fail;
		}
		plan[nargs++] = ctype_plan(k);
	}
	PyMem_Free(self->plan);
	self->plan = plan;
	self->nargs = nargs;
	func_new_prototype(self);
	Py_SETREF(self->args_type, types);
	Py_CLEAR(self->arg_names); /* prototype() sets them again after this */
	Py_RETURN_NONE;
fail:
	PyMem_Free(plan);
	Py_DECREF(types);
	return NULL;
}

PyDoc_STRVAR(func_ret_type_doc,
"ret_type($self, type)\n--\n\n"
"Declares the C type of the result: an integer type, \"float\", \"double\",\n"
"a pointer (the result is a VEMemPtr) or \"void\" (the result is None).\n"
"The default is \"int\".");
static PyObject *
func_ret_type(VeoFunctionObject *self, PyObject *t)
{
	int k = ctype_kind_of(t, self->name, "the result");
	if (k < 0)
		return NULL;
	PyObject *name = PyBytes_Check(t) ? PyUnicode_DecodeUTF8(PyBytes_AS_STRING(t),
	                                                         PyBytes_GET_SIZE(t), "replace")
	                                  : (Py_INCREF(t), t);
	if (!name)
		return NULL;
	Py_SETREF(self->ret_type, name);
	self->ret_kind = k;
	func_new_prototype(self);
	Py_RETURN_NONE;
}

/* Keeps a (GIL held) as the spare argument list for the next call, if
 * it was filled for the prototype declared now (decl, when the call
 * began) and no other call left one meanwhile; else frees it. */
static void
args_keep(VeoFunctionObject *self, struct veo_args *a, unsigned decl)
{
	if (self->spare || decl != self->decl)
		veo_args_free(a);
	else
		self->spare = a;
}

/* f(ctx, *args): queues the call in ctx, returns its VeoRequest. Called
 * through vectorcall (PEP 590), so the arguments arrive as the caller's
 * array, no tuple is made. The checks come in the order the messages
 * promise: the context first, then the prototype, the count, the
 * library's and context's state, then each argument. */
static PyObject *
func_vectorcall(VeoFunctionObject *self, PyObject *const *args, size_t nargsf,
                PyObject *kwnames)
{
	Py_ssize_t n = PyVectorcall_NARGS(nargsf);
	unsigned decl = self->decl;
	PyObject *keep = NULL;
	struct veo_args *a;
	VeoCtxtObject *ctx;
	uint64_t reqid;
	char err[ERRBUF];

	err[0] = '\0'; /* only the start: zeroing 1 KiB per call showed in profiles */

	if (kwnames && PyTuple_GET_SIZE(kwnames)) {
		PyErr_Format(PyExc_TypeError, "%U() takes no keyword arguments", self->name);
		return NULL;
	}
	if (n < 1 || !VeoCtxt_Check(args[0])) {
		PyErr_Format(VeoArgumentTypeError,
		             "%U(): the first argument must be the VeoCtxt to run in, "
		             "then the kernel's arguments", self->name);
		return NULL;
	}
	ctx = (VeoCtxtObject *)args[0];
	if (self->args_type == Py_None) {
		PyErr_Format(VeoError, "%U(): declare the argument types with "
		             "args_type(...) before calling", self->name);
		return NULL;
	}
	if (n - 1 != self->nargs) {
		PyErr_Format(VeoArgumentTypeError, "%U() takes %d argument%s (%zd given)",
		             self->name, self->nargs, self->nargs == 1 ? "" : "s", n - 1);
		return NULL;
	}
	if (lib_check(self->lib) < 0 || ctxt_check(ctx) < 0)
		return NULL;
	if (ctx->proc != self->lib->proc) {
		PyErr_Format(PyExc_ValueError, "%U(): the VeoCtxt belongs to another VeoProc "
		             "than the function's library", self->name);
		return NULL;
	}
	/* The argument list of the last call, if no other thread has it: the
	 * call copied it into the ring, so it can be reused at once, and
	 * without clearing it: it has this prototype's result type, and the
	 * arguments below overwrite every one it holds (args_keep). A new one
	 * gets the result type once. */
	a = self->spare;
	self->spare = NULL;
	if (!a) {
		if (!(a = veo_args_alloc()))
			return raise_with_detail(VeoError, veo_last_error(),
			                         "veo_args_alloc() failed");
		if (veo_args_set_result_type(a, ctype_result_type(self->ret_kind)) != 0) {
			raise_with_detail(VeoError, veo_last_error(),
			                  "%U(): cannot declare the result type", self->name);
			veo_args_free(a);
			return NULL;
		}
	}
	if (ctype_set_args(self, ctx->proc, a, args + 1, &keep) < 0)
		goto fail;
	if (ctx->o_head < ctx->o_len) /* (the test of ctxt_reap_orphans, inline) */
		ctxt_reap_orphans(ctx);
	if (ctx->queued == 0 && !keep && proc_alone(ctx->proc)) {
		/* Queued with the GIL held, which saves releasing and taking it
		 * back (a third of the instructions of this call). That cannot
		 * block: every request queued in this context has been collected
		 * (ctx->queued; a thread queueing one now has counted it before
		 * it let go of the GIL), so the worker has answered them all and
		 * libveo finds room in the ring without waiting for it; with no
		 * OnStack there is no buffer to copy. Nobody can start closing
		 * the context or the proc meanwhile, as in req_wait's first wait. */
		ctx->queued = 1;
		reqid = veo_call_async(ctx->ctx, self->addr, a);
		if (reqid == VEO_REQUEST_ID_INVALID)
			copy_last_error(err, sizeof err);
	} else {
		ctx->queued++;
		UNLOCKED_BEGIN(ctx->proc);
		reqid = veo_call_async(ctx->ctx, self->addr, a);
		if (reqid == VEO_REQUEST_ID_INVALID)
			copy_last_error(err, sizeof err);
		UNLOCKED_END();
	}
	args_keep(self, a, decl);
	a = NULL;
	if (reqid == VEO_REQUEST_ID_INVALID) {
		ctxt_collected(ctx); /* nothing was queued */
		raise_with_detail(VeoError, err, "%U(): the call could not be queued", self->name);
		goto fail;
	}
	VEO_LOG(LOG_INFO, "call %S queued: request %llu, node %S", self->name,
	        (unsigned long long)reqid, ctx->proc->nodeid);
	Pending pd;
	memset(&pd, 0, sizeof pd);
	pd.reqid = reqid;
	pd.keep = keep;
	return req_create(&VeoRequest_Type, ctx, reqid, self->ret_kind, self->name, &pd);
fail:
	if (a)
		args_keep(self, a, decl);
	Py_XDECREF(keep);
	return NULL;
}

static int
func_traverse(VeoFunctionObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->lib);
	Py_VISIT(self->args_type);
	Py_VISIT(self->arg_names);
	return 0;
}

static void
func_dealloc(VeoFunctionObject *self)
{
	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->lib);
	Py_CLEAR(self->name);
	Py_CLEAR(self->args_type);
	Py_CLEAR(self->ret_type);
	Py_CLEAR(self->arg_names);
	if (self->spare)
		veo_args_free(self->spare);
	PyMem_Free(self->plan);
	PyObject_GC_Del(self);
}

static PyObject *
func_repr(VeoFunctionObject *self)
{
	PyObject *sig, *r;
	if (self->args_type == Py_None) {
		sig = PyUnicode_FromString("?");
	} else {
		PyObject *sep = PyUnicode_FromString(", ");
		if (!sep)
			return NULL;
		PyObject *strs = PyList_New(0);
		for (Py_ssize_t i = 0; strs && i < PyTuple_GET_SIZE(self->args_type); i++) {
			PyObject *s = PyObject_Str(PyTuple_GET_ITEM(self->args_type, i));
			if (!s || PyList_Append(strs, s) < 0) {
				Py_XDECREF(s);
				Py_CLEAR(strs);
				break;
			}
			Py_DECREF(s);
		}
		sig = strs ? PyUnicode_Join(sep, strs) : NULL;
		Py_DECREF(sep);
		Py_XDECREF(strs);
	}
	if (!sig)
		return NULL;
	r = PyUnicode_FromFormat("<VeoFunction %U(%U) -> %U at VE address %s in %R>",
	                         self->name, sig, self->ret_type,
	                         hex64(self->addr).s, self->lib->name);
	Py_DECREF(sig);
	return r;
}

PyDoc_STRVAR(func_prototype_doc,
"prototype($self, declaration)\n--\n\n"
"Declares the argument and result types from the function's C declaration,\n"
"as args_type() and ret_type() would: lib.average.prototype(\"double\n"
"average(const double *a, int n)\") (parameter names, const, unsigned,\n"
"fixed-width and pointer types, arrays, void). The name must be this\n"
"function's. Returns the function. Raises veo.prototypes.PrototypeError (a\n"
"ValueError) naming the token it cannot read.");

static PyObject *
func_prototype(VeoFunctionObject *self, PyObject *decl)
{
	PyObject *mod, *p, *name = NULL, *types = NULL, *ret = NULL, *r = NULL;
	int same;

	mod = PyImport_ImportModule("veo.prototypes");
	if (!mod)
		return NULL;
	p = PyObject_CallMethod(mod, "parse", "O", decl);
	Py_DECREF(mod);
	if (!p)
		return NULL;
	name = PyObject_GetAttrString(p, "name");
	if (!name || (same = PyObject_RichCompareBool(name, self->name, Py_EQ)) < 0)
		goto out;
	if (!same) {
		PyErr_Format(PyExc_ValueError,
		             "prototype(): the declaration is of %R, not of %R", name, self->name);
		goto out;
	}
	types = PyObject_GetAttrString(p, "arg_types");
	if (types)
		Py_SETREF(types, PySequence_Tuple(types));
	ret = PyObject_GetAttrString(p, "ret");
	if (!types || !ret)
		goto out;
	r = func_args_type(self, types);
	if (r) {
		Py_DECREF(r);
		r = func_ret_type(self, ret);
	}
	if (r) { /* the parameters' names, for the signature (signature.c) */
		PyObject *names = PyObject_GetAttrString(p, "arg_names");
		Py_DECREF(r);
		r = NULL;
		if (names) {
			Py_XSETREF(self->arg_names, PySequence_Tuple(names));
			Py_DECREF(names);
		}
		if (self->arg_names) {
			Py_INCREF(self);
			r = (PyObject *)self;
		}
	}
out:
	Py_XDECREF(name);
	Py_XDECREF(types);
	Py_XDECREF(ret);
	Py_DECREF(p);
	return r;
}

static PyMethodDef func_methods[] = {
	{"args_type", (PyCFunction)func_args_type, METH_VARARGS, func_args_type_doc},
	{"ret_type", (PyCFunction)func_ret_type, METH_O, func_ret_type_doc},
	{"prototype", (PyCFunction)func_prototype, METH_O, func_prototype_doc},
	{NULL}
};

static PyObject *
func_get_lib(VeoFunctionObject *self, void *closure)
{
	Py_INCREF(self->lib);
	return (PyObject *)self->lib;
}

/* What inspect and IPython's `?` show (signature.c). */
static PyObject *
func_get_signature(VeoFunctionObject *self, void *closure)
{
	return func_signature(self);
}

static PyObject *
func_get_text_signature(VeoFunctionObject *self, void *closure)
{
	return func_text_signature(self);
}

static PyObject *
func_get_doc(VeoFunctionObject *self, void *closure)
{
	return func_docstring(self);
}

static PyGetSetDef func_getset[] = {
	{"lib", (getter)func_get_lib, NULL, "The VeoLibrary of the function.", NULL},
	{"__signature__", (getter)func_get_signature, NULL,
	 "inspect.Signature of the declared prototype: (ctx, arg0, ...), annotated\n"
	 "with the C type names, the result's as return annotation.", NULL},
	{"__text_signature__", (getter)func_get_text_signature, NULL,
	 "The parameters as text, \"(ctx, arg0, arg1, /)\".", NULL},
	{"__doc__", (getter)func_get_doc, NULL,
	 "The kernel's prototype and what calling it does.", NULL},
	{NULL}
};

static PyMemberDef func_members[] = {
	{"name", T_OBJECT, offsetof(VeoFunctionObject, name), READONLY,
	 "The function's name: a VeoName, a str that equals its bytes too\n"
	 "(f.name == \"add\" and f.name == b\"add\")."},
	{"addr", T_ULONGLONG, offsetof(VeoFunctionObject, addr), READONLY,
	 "The function's VE address."},
	{"_args_type", T_OBJECT, offsetof(VeoFunctionObject, args_type), READONLY,
	 "Tuple of the declared argument types, None before args_type()."},
	{"_ret_type", T_OBJECT, offsetof(VeoFunctionObject, ret_type), READONLY,
	 "The declared result type (default \"int\")."},
	{NULL}
};

PyDoc_STRVAR(func_doc,
"A kernel of a VeoLibrary (lib.find_function(name) or lib.name).\n\n"
"Declare its prototype with args_type(...) and ret_type(...), then call\n"
"f(ctx, *args): the call is queued in VeoCtxt `ctx` and a VeoRequest is\n"
"returned. Each argument is converted as its declared C type: integers are\n"
"range-checked, floats and doubles reach the kernel as such,\n"
"pointers take a VEMemPtr, an int address (numpy integers too), None or an\n"
"OnStack(buffer). A float for an integer argument is truncated with a\n"
"VeoWarning, as py-veo does. A wrong number of arguments, or a value of a\n"
"wrong type, raises VeoArgumentTypeError (a TypeError and a ValueError),\n"
"a value out of range VeoArgumentOverflowError (an OverflowError and a\n"
"ValueError).");

PyTypeObject VeoFunction_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoFunction",
	.tp_basicsize = sizeof(VeoFunctionObject),
	.tp_dealloc = (destructor)func_dealloc,
	.tp_repr = (reprfunc)func_repr,
	.tp_call = PyVectorcall_Call,
	.tp_vectorcall_offset = offsetof(VeoFunctionObject, vectorcall),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
	.tp_doc = func_doc,
	.tp_traverse = (traverseproc)func_traverse,
	.tp_methods = func_methods,
	.tp_members = func_members,
	.tp_getset = func_getset,
};
