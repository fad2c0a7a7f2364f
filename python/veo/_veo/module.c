/*
 * module.c: the module veo._veo itself: its init (types and constants),
 * the exceptions VeoError and VeoException, the proc init hooks, and the
 * registry of live procs that _shutdown() stops at interpreter exit.
 */
#include "module.h"

#include <stdarg.h>

/* ------------------------------------------------------------------------
 * Module state
 * --------------------------------------------------------------------- */
PyObject *VeoError;       /* veo.VeoError(RuntimeError): a VEO call failed */
PyObject *VeoException;   /* veo.VeoException(ArithmeticError): a kernel crashed */
PyObject *proc_init_hooks; /* list of callables run as f(proc) */
PyObject *VeoWarning;
PyObject *VeoArgumentError;
PyObject *VeoArgumentTypeError;
PyObject *VeoArgumentOverflowError;
PyObject *VeoMemoryError;
PyObject *VeoSymbolError;
/* Set by _shutdown() (atexit): the interpreter is exiting. Threads still
 * waiting for a request of a proc stopped then park quietly instead of
 * raising, so daemon threads print nothing while the process ends. */
static int interpreter_exiting;
static unsigned long exiting_thread; /* the thread that runs _shutdown() */

/* ------------------------------------------------------------------------
 * Errors
 * --------------------------------------------------------------------- */

/* Raises `type` with the formatted message, followed by ": <detail>" when
 * detail (usually libveo's last error) is not empty. Returns NULL. */
PyObject *
raise_with_detail(PyObject *type, const char *detail, const char *fmt, ...)
{
	va_list va;
	va_start(va, fmt);
	PyObject *msg = PyUnicode_FromFormatV(fmt, va);
	va_end(va);
	if (!msg)
		return NULL;
	if (detail && detail[0]) {
		PyObject *full = PyUnicode_FromFormat("%U: %s", msg, detail);
		Py_DECREF(msg);
		if (!full)
			return NULL;
		msg = full;
	}
	PyErr_SetObject(type, msg);
	Py_DECREF(msg);
	return NULL;
}

/* The exceptions both generations of py-veo catch, and VeoWarning, added
 * to the module m. 0, or -1 with an exception set. */
static int
add_compat_exceptions(PyObject *m)
{
	static struct {
		PyObject **slot;
		const char *name, *doc;
	} ex[] = {
		{&VeoWarning, "VeoWarning",
		 "Something py-veo does and openveo does too, although it is unsafe\n"
		 "(reading into a read-only buffer, truncating a float argument).\n"
		 "warnings.simplefilter(\"error\", veo.VeoWarning) or python -W error\n"
		 "forbids it: the operation is then not done."},
		{&VeoArgumentError, "VeoArgumentError",
		 "A kernel argument that cannot be passed: a wrong number of arguments,\n"
		 "a value of the wrong type or out of range for its C type. A\n"
		 "ValueError, as py-veo's later API raises; the subclasses are also\n"
		 "TypeError and OverflowError, as the 2018 API raised."},
		{&VeoArgumentTypeError, "VeoArgumentTypeError",
		 "A wrong number of kernel arguments, or one of a wrong type: both a\n"
		 "TypeError and a ValueError (VeoArgumentError)."},
		{&VeoArgumentOverflowError, "VeoArgumentOverflowError",
		 "A kernel argument out of range for its C type: both an OverflowError\n"
		 "and a ValueError (VeoArgumentError)."},
		{&VeoMemoryError, "VeoMemoryError",
		 "VE memory could not be allocated (alloc_mem): both a VeoError and the\n"
		 "MemoryError py-veo's later API raises."},
		{&VeoSymbolError, "VeoSymbolError",
		 "A library has no function or symbol of that name (lib.name,\n"
		 "find_function, get_symbol): both a VeoError (RuntimeError, as py-veo\n"
		 "raises) and an AttributeError (so hasattr(lib, name) is False)."},
	};
	PyObject *bases[] = {
		PyTuple_Pack(1, PyExc_Warning),
		PyTuple_Pack(1, PyExc_ValueError),
		NULL, NULL,
		PyTuple_Pack(2, VeoError, PyExc_MemoryError),
		PyTuple_Pack(2, VeoError, PyExc_AttributeError),
	};
	int rc = -1;
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		char qual[64];
		if (i == 2)
			bases[2] = PyTuple_Pack(2, VeoArgumentError, PyExc_TypeError);
		else if (i == 3)
			bases[3] = PyTuple_Pack(2, VeoArgumentError, PyExc_OverflowError);
		if (!bases[i])
			goto out;
		snprintf(qual, sizeof qual, "veo.%s", ex[i].name);
		*ex[i].slot = PyErr_NewExceptionWithDoc(qual, ex[i].doc, bases[i], NULL);
		if (!*ex[i].slot)
			goto out;
		Py_INCREF(*ex[i].slot);
		if (PyModule_AddObject(m, ex[i].name, *ex[i].slot) < 0) {
			Py_DECREF(*ex[i].slot);
			goto out;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
		Py_XDECREF(bases[i]);
	return rc;
}

/* ------------------------------------------------------------------------
 * The registry of live procs, stopped by _shutdown() at interpreter exit
 * --------------------------------------------------------------------- */
static VeoProcObject *live_procs; /* registry head */

void
registry_add(VeoProcObject *p)
{
	p->reg_prev = NULL;
	p->reg_next = live_procs;
	if (live_procs)
		live_procs->reg_prev = p;
	live_procs = p;
	p->registered = 1;
}

void
registry_remove(VeoProcObject *p)
{
	if (!p->registered)
		return;
	if (p->reg_prev)
		p->reg_prev->reg_next = p->reg_next;
	else
		live_procs = p->reg_next;
	if (p->reg_next)
		p->reg_next->reg_prev = p->reg_prev;
	p->reg_prev = p->reg_next = NULL;
	p->registered = 0;
}

/* A thread other than the exiting one that finds its proc stopped by
 * _shutdown() (a daemon thread at interpreter exit) sleeps until the
 * process ends, rather than raising into a dying interpreter. */
void
park_if_exiting(void)
{
	while (interpreter_exiting && PyThread_get_thread_ident() != exiting_thread)
		sleep_without_gil(100000);
}

/* ------------------------------------------------------------------------
 * Module functions
 * --------------------------------------------------------------------- */
PyDoc_STRVAR(set_proc_init_hook_doc,
"set_proc_init_hook($module, f)\n--\n\n"
"Registers f to be called as f(proc) at the end of every VeoProc's\n"
"construction (for example to find and declare kernels of the static\n"
"library).");
static PyObject *
mod_set_proc_init_hook(PyObject *mod, PyObject *f)
{
	if (!PyCallable_Check(f)) {
		PyErr_Format(PyExc_TypeError, "set_proc_init_hook(): %.100s is not callable",
		             Py_TYPE(f)->tp_name);
		return NULL;
	}
	if (PyList_Append(proc_init_hooks, f) < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(del_proc_init_hook_doc,
"del_proc_init_hook($module, f)\n--\n\n"
"Removes an init hook registered with set_proc_init_hook(); ValueError if\n"
"it is not registered.");
static PyObject *
mod_del_proc_init_hook(PyObject *mod, PyObject *f)
{
	PyObject *r = PyObject_CallMethod(proc_init_hooks, "remove", "O", f);
	if (!r) {
		if (PyErr_ExceptionMatches(PyExc_ValueError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_ValueError,
			             "del_proc_init_hook(): %R is not a registered hook", f);
		}
		return NULL;
	}
	Py_DECREF(r);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(shutdown_doc,
"_shutdown($module)\n--\n\n"
"Stops every running VeoProc (registered with atexit by the package).");
static PyObject *
mod_shutdown(PyObject *mod, PyObject *unused)
{
	exiting_thread = PyThread_get_thread_ident();
	interpreter_exiting = 1;
	while (live_procs) {
		VeoProcObject *p = live_procs;
		Py_INCREF(p);
		if (proc_close(p) < 0)
			PyErr_Clear();
		registry_remove(p);
		Py_DECREF(p);
	}
	Py_RETURN_NONE;
}

PyDoc_STRVAR(live_procs_doc,
"_live_procs($module)\n--\n\nList of the VeoProcs whose worker is running.");
static PyObject *
mod_live_procs(PyObject *mod, PyObject *unused)
{
	PyObject *l = PyList_New(0);
	for (VeoProcObject *p = live_procs; l && p; p = p->reg_next)
		if (PyList_Append(l, (PyObject *)p) < 0)
			Py_CLEAR(l);
	return l;
}

PyDoc_STRVAR(ctype_kind_doc,
"_ctype_check($module, name)\n--\n\n"
"True if `name` is a C type name VeoFunction.args_type accepts.");
static PyObject *
mod_ctype_check(PyObject *mod, PyObject *name)
{
	const char *s = PyUnicode_AsUTF8(name);
	if (!s)
		return NULL;
	return PyBool_FromLong(ctype_kind(s) >= 0);
}

static PyMethodDef module_methods[] = {
	{"set_proc_init_hook", mod_set_proc_init_hook, METH_O, set_proc_init_hook_doc},
	{"del_proc_init_hook", mod_del_proc_init_hook, METH_O, del_proc_init_hook_doc},
	{"_shutdown", mod_shutdown, METH_NOARGS, shutdown_doc},
	{"_live_procs", mod_live_procs, METH_NOARGS, live_procs_doc},
	{"_ctype_check", mod_ctype_check, METH_O, ctype_kind_doc},
	{"_completion_fd", aio_completion_fd, METH_O,
	 "The proc's completion descriptor (veo_proc_completion_fd), for veo._aio."},
	{"_completion_ack", aio_completion_ack, METH_O,
	 "Clears the proc's completion descriptor (veo_proc_completion_ack)."},
	{"_notify", aio_notify, METH_VARARGS,
	 "_notify(ctx, on): the context's completion notifications on or off."},
	{NULL}
};

PyDoc_STRVAR(module_doc,
"veo._veo: the C core of the py-veo API over the VEO C library\n"
"(ve_offload.h). Use it through the `veo` package.");

static struct PyModuleDef veo_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "veo._veo",
	.m_doc = module_doc,
	.m_size = -1,
	.m_methods = module_methods,
};

static int
add_int(PyObject *m, const char *name, long v)
{
	return PyModule_AddIntConstant(m, name, v);
}

PyMODINIT_FUNC
PyInit__veo(void)
{
	static PyTypeObject *types[] = {
		&VeoProc_Type, &VeoCtxt_Type, &VeoLibrary_Type, &VeoFunction_Type,
		&VeoRequest_Type, &VeoMemRequest_Type, &VEMemPtr_Type, &OnStack_Type,
		&VeoName_Type, &VeoHostView_Type,
	};
	PyObject *m;

	/* Python reports failures as exceptions; keep the library quiet. */
	veo_set_error_print(0);

	names_prepare();
	vemem_prepare();
	req_prepare();
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (PyType_Ready(types[i]) < 0)
			return NULL;
	m = PyModule_Create(&veo_module);
	if (!m)
		return NULL;

	VeoError = PyErr_NewExceptionWithDoc(
		"veo.VeoError",
		"A VEO operation failed (bad handle, unknown symbol, the worker died, ...).",
		PyExc_RuntimeError, NULL);
	/* The attributes default to None; a crash report fills them in. */
	PyObject *exc_defaults = Py_BuildValue(
		"{s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "signal", Py_None, "signo", Py_None,
		"address", Py_None, "kernel", Py_None, "library", Py_None,
		"exit_status", Py_None, "backtrace", Py_None, "report", Py_None);
	if (!exc_defaults)
		goto fail;
	VeoException = PyErr_NewExceptionWithDoc(
		"veo.VeoException",
		"A kernel raised an exception on the VE: it crashed with a signal, or\n"
		"called exit(). The VE process is gone (make a new VeoProc).\n\n"
		"The message is the worker's report. Attributes (None when unknown):\n"
		"signal -- the signal's name, e.g. 'SIGSEGV'; signo -- its number;\n"
		"address -- the fault address (int); kernel -- the kernel's name;\n"
		"library -- the file name of the kernel's library;\n"
		"exit_status -- the status the kernel gave exit(); backtrace -- the\n"
		"frames, a list of str; report -- the whole report.",
		PyExc_ArithmeticError, exc_defaults);
	Py_DECREF(exc_defaults);
	proc_init_hooks = PyList_New(0);
	if (!VeoError || !VeoException || !proc_init_hooks)
		goto fail;
	Py_INCREF(VeoError);
	Py_INCREF(VeoException);
	Py_INCREF(proc_init_hooks);
	if (PyModule_AddObject(m, "VeoError", VeoError) < 0 ||
	    PyModule_AddObject(m, "VeoException", VeoException) < 0 ||
	    PyModule_AddObject(m, "_proc_init_hooks", proc_init_hooks) < 0)
		goto fail;
	if (add_compat_exceptions(m) < 0)
		goto fail;

	static const char *names[] = {
		"VeoProc", "VeoCtxt", "VeoLibrary", "VeoFunction",
		"VeoRequest", "VeoMemRequest", "VEMemPtr", "OnStack",
		"VeoName", "VeoHostView",
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		Py_INCREF(types[i]);
		if (PyModule_AddObject(m, names[i], (PyObject *)types[i]) < 0) {
			Py_DECREF(types[i]);
			goto fail;
		}
	}

	if (add_int(m, "VEO_INTENT_IN", VEO_INTENT_IN) ||
	    add_int(m, "VEO_INTENT_INOUT", VEO_INTENT_INOUT) ||
	    add_int(m, "VEO_INTENT_OUT", VEO_INTENT_OUT) ||
	    add_int(m, "INTENT_IN", VEO_INTENT_IN) ||
	    add_int(m, "INTENT_INOUT", VEO_INTENT_INOUT) ||
	    add_int(m, "INTENT_OUT", VEO_INTENT_OUT) ||
	    add_int(m, "VEO_STATE_UNKNOWN", VEO_STATE_UNKNOWN) ||
	    add_int(m, "VEO_STATE_RUNNING", VEO_STATE_RUNNING) ||
	    add_int(m, "VEO_STATE_SYSCALL", VEO_STATE_SYSCALL) ||
	    add_int(m, "VEO_STATE_BLOCKED", VEO_STATE_BLOCKED) ||
	    add_int(m, "VEO_STATE_EXIT", VEO_STATE_EXIT) ||
	    add_int(m, "STATE_UNKNOWN", VEO_STATE_UNKNOWN) ||
	    add_int(m, "STATE_RUNNING", VEO_STATE_RUNNING) ||
	    add_int(m, "STATE_SYSCALL", VEO_STATE_SYSCALL) ||
	    add_int(m, "STATE_BLOCKED", VEO_STATE_BLOCKED) ||
	    add_int(m, "STATE_EXIT", VEO_STATE_EXIT) ||
	    add_int(m, "VEO_COMMAND_OK", VEO_COMMAND_OK) ||
	    add_int(m, "VEO_COMMAND_EXCEPTION", VEO_COMMAND_EXCEPTION) ||
	    add_int(m, "VEO_COMMAND_ERROR", VEO_COMMAND_ERROR) ||
	    add_int(m, "VEO_COMMAND_UNFINISHED", VEO_COMMAND_UNFINISHED) ||
	    add_int(m, "COMMAND_OK", VEO_COMMAND_OK) ||
	    add_int(m, "COMMAND_EXCEPTION", VEO_COMMAND_EXCEPTION) ||
	    add_int(m, "COMMAND_ERROR", VEO_COMMAND_ERROR) ||
	    add_int(m, "COMMAND_UNFINISHED", VEO_COMMAND_UNFINISHED) ||
	    add_int(m, "VEO_API_VERSION", VEO_API_VERSION) ||
	    add_int(m, "VEO_MAX_NUM_ARGS", VEO_MAX_NUM_ARGS))
		goto fail;
	if (later_api_init(m) < 0)
		goto fail;
	const char *vs = veo_version_string();
	if (PyModule_AddStringConstant(m, "veo_version", vs ? vs : "") < 0 ||
	    add_int(m, "veo_api_version", veo_api_version()))
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
