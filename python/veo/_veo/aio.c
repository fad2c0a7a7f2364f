/*
 * aio.c: what `await request` is built on. A VeoRequest is awaitable: its
 * __await__ is veo._aio's, which watches the proc's completion descriptor
 * (veo_proc_completion_fd) in the event loop and peeks at the requests it
 * awaits when it turns readable. The functions here are the three C calls
 * that takes, on the extension's objects.
 */
#include "module.h"

static PyObject *
aio_await(PyObject *self)
{
	PyObject *mod = PyImport_ImportModule("veo._aio"), *coro, *it;

	if (!mod)
		return NULL;
	coro = PyObject_CallMethod(mod, "wait", "O", self);
	Py_DECREF(mod);
	if (!coro)
		return NULL;
	it = PyObject_CallMethod(coro, "__await__", NULL);
	Py_DECREF(coro);
	return it;
}

PyAsyncMethods req_as_async = { .am_await = aio_await };

static VeoProcObject *
aio_proc(PyObject *o)
{
	if (!PyObject_TypeCheck(o, &VeoProc_Type)) {
		PyErr_Format(PyExc_TypeError, "a VeoProc is needed, not %.100s", Py_TYPE(o)->tp_name);
		return NULL;
	}
	return proc_check((VeoProcObject *)o) < 0 ? NULL : (VeoProcObject *)o;
}

PyObject *
aio_completion_fd(PyObject *mod, PyObject *o)
{
	VeoProcObject *p = aio_proc(o);
	int fd;

	if (!p)
		return NULL;
	fd = veo_proc_completion_fd(p->h);
	if (fd < 0)
		return raise_with_detail(VeoError, veo_last_error(), "no completion descriptor");
	return PyLong_FromLong(fd);
}

PyObject *
aio_completion_ack(PyObject *mod, PyObject *o)
{
	VeoProcObject *p = aio_proc(o);

	if (!p)
		return NULL;
	if (veo_proc_completion_ack(p->h) != 0)
		return raise_with_detail(VeoError, veo_last_error(), "completion_ack failed");
	Py_RETURN_NONE;
}

PyObject *
aio_notify(PyObject *mod, PyObject *args)
{
	PyObject *o;
	int on;

	if (!PyArg_ParseTuple(args, "Op:_notify", &o, &on))
		return NULL;
	if (!PyObject_TypeCheck(o, &VeoCtxt_Type)) {
		PyErr_Format(PyExc_TypeError, "a VeoCtxt is needed, not %.100s", Py_TYPE(o)->tp_name);
		return NULL;
	}
	if (ctxt_check((VeoCtxtObject *)o) < 0)
		return NULL;
	if (veo_context_notify(((VeoCtxtObject *)o)->ctx, on) != 0)
		return raise_with_detail(VeoError, veo_last_error(), "context notify failed");
	Py_RETURN_NONE;
}
