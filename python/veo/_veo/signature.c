/*
 * signature.c: what inspect, help() and IPython's `?` show of a kernel: a
 * VeoFunction's __signature__ (an inspect.Signature built from its declared
 * prototype: ctx, then arg0, arg1, ... annotated with their C type names,
 * the result's C type as return annotation), __text_signature__ and
 * __doc__. Before args_type() the signature is (ctx, /, *args).
 */
#include "module.h"

/* A declared type name as str (args_type keeps what it was given: str or
 * bytes). New reference. */
static PyObject *
type_name(PyObject *t)
{
	if (PyBytes_Check(t))
		return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(t), PyBytes_GET_SIZE(t), "replace");
	return PyObject_Str(t);
}

/* Parameter(name, kind, annotation=annotation) of inspect; annotation may
 * be NULL (none). */
static PyObject *
parameter(PyObject *inspect, const char *name, const char *kind, PyObject *annotation)
{
	PyObject *cls = PyObject_GetAttrString(inspect, "Parameter"), *k = NULL, *r = NULL;
	PyObject *args = NULL, *kw = NULL;
	if (!cls)
		return NULL;
	k = PyObject_GetAttrString(cls, kind);
	if (!k)
		goto done;
	args = Py_BuildValue("(sO)", name, k);
	kw = annotation ? Py_BuildValue("{s:O}", "annotation", annotation) : NULL;
	if (args && (kw || !annotation))
		r = PyObject_Call(cls, args, kw);
done:
	Py_DECREF(cls);
	Py_XDECREF(k);
	Py_XDECREF(args);
	Py_XDECREF(kw);
	return r;
}

/* Parameter i's name: the prototype's (prototype()), or "argI" when there
 * is none, it is not an identifier, or it would clash with "ctx" or an
 * earlier one. A new reference. */
static PyObject *
param_name(VeoFunctionObject *f, int i)
{
	if (f->arg_names && i < PyTuple_GET_SIZE(f->arg_names)) {
		PyObject *n = PyTuple_GET_ITEM(f->arg_names, i);
		int ok = PyUnicode_Check(n) && PyUnicode_IsIdentifier(n) &&
		         PyUnicode_CompareWithASCIIString(n, "ctx") != 0;
		for (int k = 0; ok && k < i; k++)
			ok = PyUnicode_Compare(n, PyTuple_GET_ITEM(f->arg_names, k)) != 0;
		if (ok) {
			Py_INCREF(n);
			return n;
		}
	}
	return PyUnicode_FromFormat("arg%d", i);
}

PyObject *
func_signature(VeoFunctionObject *f)
{
	PyObject *inspect = PyImport_ImportModule("inspect"), *params = NULL, *p, *sig = NULL;
	PyObject *ctxname = NULL;
	if (!inspect)
		return NULL;
	params = PyList_New(0);
	ctxname = PyUnicode_FromString("VeoCtxt");
	if (!params || !ctxname)
		goto done;
	p = parameter(inspect, "ctx", "POSITIONAL_ONLY", ctxname);
	if (!p || PyList_Append(params, p) < 0) {
		Py_XDECREF(p);
		goto done;
	}
	Py_DECREF(p);
	if (f->args_type == Py_None) {
		p = parameter(inspect, "args", "VAR_POSITIONAL", NULL);
		if (!p || PyList_Append(params, p) < 0) {
			Py_XDECREF(p);
			goto done;
		}
		Py_DECREF(p);
	} else {
		for (int i = 0; i < f->nargs && i < PyTuple_GET_SIZE(f->args_type); i++) {
			PyObject *t = type_name(PyTuple_GET_ITEM(f->args_type, i));
			PyObject *n = t ? param_name(f, i) : NULL;
			const char *name = n ? PyUnicode_AsUTF8(n) : NULL;
			p = name ? parameter(inspect, name, "POSITIONAL_ONLY", t) : NULL;
			Py_XDECREF(t);
			Py_XDECREF(n);
			if (!p || PyList_Append(params, p) < 0) {
				Py_XDECREF(p);
				goto done;
			}
			Py_DECREF(p);
		}
	}
	PyObject *cls = PyObject_GetAttrString(inspect, "Signature");
	if (!cls)
		goto done;
	PyObject *args = Py_BuildValue("(O)", params);
	PyObject *kw = Py_BuildValue("{s:O}", "return_annotation", f->ret_type);
	if (args && kw)
		sig = PyObject_Call(cls, args, kw);
	Py_DECREF(cls);
	Py_XDECREF(args);
	Py_XDECREF(kw);
done:
	Py_DECREF(inspect);
	Py_XDECREF(params);
	Py_XDECREF(ctxname);
	return sig;
}

PyObject *
func_text_signature(VeoFunctionObject *f)
{
	if (f->args_type == Py_None)
		return PyUnicode_FromString("(ctx, /, *args)");
	PyObject *parts = PyList_New(0), *sep = NULL, *r = NULL;
	if (!parts)
		return NULL;
	PyObject *s = PyUnicode_FromString("ctx");
	if (!s || PyList_Append(parts, s) < 0)
		goto done;
	Py_CLEAR(s);
	for (int i = 0; i < f->nargs; i++) {
		s = param_name(f, i);
		if (!s || PyList_Append(parts, s) < 0)
			goto done;
		Py_CLEAR(s);
	}
	s = PyUnicode_FromString("/");
	if (!s || PyList_Append(parts, s) < 0)
		goto done;
	Py_CLEAR(s);
	sep = PyUnicode_FromString(", ");
	if (!sep)
		goto done;
	PyObject *body = PyUnicode_Join(sep, parts);
	if (body) {
		r = PyUnicode_FromFormat("(%U)", body);
		Py_DECREF(body);
	}
done:
	Py_XDECREF(s);
	Py_XDECREF(sep);
	Py_DECREF(parts);
	return r;
}

/* "average(ctx, arg0: double *, arg1: int) -> double", then what the
 * call does. */
PyObject *
func_docstring(VeoFunctionObject *f)
{
	PyObject *parts = PyList_New(0), *sep = NULL, *line = NULL, *r = NULL, *s = NULL;
	if (!parts)
		return NULL;
	s = PyUnicode_FromString("ctx");
	if (!s || PyList_Append(parts, s) < 0)
		goto done;
	Py_CLEAR(s);
	if (f->args_type == Py_None) {
		s = PyUnicode_FromString("*args");
		if (!s || PyList_Append(parts, s) < 0)
			goto done;
		Py_CLEAR(s);
	} else {
		for (int i = 0; i < f->nargs && i < PyTuple_GET_SIZE(f->args_type); i++) {
			PyObject *t = type_name(PyTuple_GET_ITEM(f->args_type, i));
			PyObject *n = t ? param_name(f, i) : NULL;
			s = n ? PyUnicode_FromFormat("%U: %U", n, t) : NULL;
			Py_XDECREF(t);
			Py_XDECREF(n);
			if (!s || PyList_Append(parts, s) < 0)
				goto done;
			Py_CLEAR(s);
		}
	}
	sep = PyUnicode_FromString(", ");
	if (!sep)
		goto done;
	line = PyUnicode_Join(sep, parts);
	if (!line)
		goto done;
	if (f->args_type == Py_None)
		r = PyUnicode_FromFormat(
			"%U(%U)\n\nKernel %U of %R, at VE address %s. Declare its argument\n"
			"types with args_type(...) (and the result's with ret_type(...),\n"
			"default \"int\") before calling it as %U(ctx, ...).",
			f->name, line, f->name, f->lib->name, hex64(f->addr).s, f->name);
	else
		r = PyUnicode_FromFormat(
			"%U(%U) -> %U\n\nKernel %U of %R, at VE address %s. A call queues\n"
			"it in the VeoCtxt ctx and returns a VeoRequest; its wait_result()\n"
			"gives the %U result.",
			f->name, line, f->ret_type, f->name, f->lib->name, hex64(f->addr).s,
			f->ret_type);
done:
	Py_XDECREF(s);
	Py_XDECREF(sep);
	Py_XDECREF(line);
	Py_DECREF(parts);
	return r;
}
