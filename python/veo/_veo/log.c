/*
 * log.c: the events veo.logging reports (procs, memory, calls, waits) on
 * the standard logging logger "veo". The Python side (veo/logging.py)
 * installs the handlers and tells this file, through _set_log(logger), to
 * log; until then every event site is one load of log_on and a branch, so
 * a program that never logs pays nothing measurable.
 */
#include "module.h"

#include <stdarg.h>

int log_on;                 /* 1 while `logger` is set */
static PyObject *logger;    /* logging.getLogger("veo"), or NULL */

/* Formats the event and hands it to logger.log(level, text). Errors of the
 * logging machinery are reported as unraisable (logging must never change
 * what a call does), and an exception pending at the site is kept. */
void
log_event(int level, const char *fmt, ...)
{
	if (!logger)
		return;
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	va_list va;
	va_start(va, fmt);
	PyObject *msg = PyUnicode_FromFormatV(fmt, va);
	va_end(va);
	PyObject *r = NULL;
	if (msg) {
		/* "%s" so that a '%' in a name is not taken for a format */
		r = PyObject_CallMethod(logger, "log", "isO", level, "%s", msg);
		Py_DECREF(msg);
	}
	if (!r)
		PyErr_WriteUnraisable(logger);
	Py_XDECREF(r);
	PyErr_Restore(et, ev, tb);
}

PyDoc_STRVAR(set_log_doc,
"_set_log($module, logger)\n--\n\n"
"Sends the binding's events to `logger` (a logging.Logger), or stops with\n"
"None. Used by veo.logging; call its set_stream_handler, set_file_handler\n"
"or reset_handler instead.");
static PyObject *
mod_set_log(PyObject *mod, PyObject *arg)
{
	if (arg != Py_None && !PyObject_HasAttrString(arg, "log")) {
		PyErr_Format(PyExc_TypeError,
		             "_set_log(): expected a logging.Logger or None, not %.100s",
		             Py_TYPE(arg)->tp_name);
		return NULL;
	}
	if (arg == Py_None) {
		log_on = 0;
		Py_CLEAR(logger);
	} else {
		Py_INCREF(arg);
		Py_XSETREF(logger, arg);
		log_on = 1;
	}
	Py_RETURN_NONE;
}

PyDoc_STRVAR(log_enabled_doc,
"_log_enabled($module)\n--\n\nTrue while events are being logged (see veo.logging).");
static PyObject *
mod_log_enabled(PyObject *mod, PyObject *unused)
{
	return PyBool_FromLong(log_on);
}

PyMethodDef log_methods[] = {
	{"_set_log", mod_set_log, METH_O, set_log_doc},
	{"_log_enabled", mod_log_enabled, METH_NOARGS, log_enabled_doc},
	{NULL}
};
