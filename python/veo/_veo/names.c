/*
 * names.c: VeoName, the name of a kernel, symbol or library, for both
 * generations of py-veo: the 2018 API names them with str, the later one
 * with bytes. A VeoName is a str that also equals its bytes (the file
 * system encoding, as os.fsencode gives them), and has bytes' decode().
 *
 * The caches (VeoLibrary.func and .symbol, VeoProc.lib) are plain dicts
 * keyed by VeoNames; in CPython an ASCII str and its bytes hash alike, so
 * lib.func[b"add"], b"add" in lib.func and lib.func.get(b"add") find the
 * entry too, without a dict of our own.
 */
#include "module.h"

#include <string.h>

/* Its bytes: the file system encoding with surrogateescape, the encoding
 * the C library gets (dlsym, dlopen). */
static PyObject *
name_bytes(PyObject *self)
{
	return PyUnicode_EncodeFSDefault(self);
}

/* A new VeoName from a str or bytes `o` (a VeoName is returned itself);
 * NULL with TypeError, naming `what`, for anything else. */
PyObject *
name_from(PyObject *o, const char *what)
{
	if (Py_IS_TYPE(o, &VeoName_Type)) {
		Py_INCREF(o);
		return o;
	}
	PyObject *s;
	if (PyUnicode_Check(o)) {
		Py_INCREF(o);
		s = o;
	} else if (PyBytes_Check(o)) {
		s = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
		if (!s)
			return NULL;
	} else {
		PyErr_Format(PyExc_TypeError, "%s must be a str or bytes, not %.100s", what,
		             Py_TYPE(o)->tp_name);
		return NULL;
	}
	PyObject *n = PyObject_CallOneArg((PyObject *)&VeoName_Type, s);
	Py_DECREF(s);
	return n;
}

static PyObject *
name_richcompare(PyObject *a, PyObject *b, int op)
{
	if ((op == Py_EQ || op == Py_NE) && PyBytes_Check(b)) {
		PyObject *mine = name_bytes(a);
		if (!mine) {
			/* not encodable: equal to no bytes */
			PyErr_Clear();
			return PyBool_FromLong(op == Py_NE);
		}
		int eq = PyBytes_GET_SIZE(mine) == PyBytes_GET_SIZE(b) &&
		         memcmp(PyBytes_AS_STRING(mine), PyBytes_AS_STRING(b),
		                (size_t)PyBytes_GET_SIZE(b)) == 0;
		Py_DECREF(mine);
		return PyBool_FromLong(op == Py_EQ ? eq : !eq);
	}
	return PyUnicode_Type.tp_richcompare(a, b, op);
}

PyDoc_STRVAR(name_decode_doc,
"decode($self, encoding='utf-8', errors='strict')\n--\n\n"
"The name as a plain str (py-veo's later API names things with bytes,\n"
"and scripts written for it decode them).");
static PyObject *
name_decode(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"encoding", "errors", NULL};
	const char *enc = NULL, *errors = NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|ss:decode", kwlist, &enc, &errors))
		return NULL;
	return PyUnicode_FromObject(self);
}

PyDoc_STRVAR(name_bytes_doc, "__bytes__($self)\n--\n\nThe name as bytes (os.fsencode).");
static PyObject *
name_bytes_meth(PyObject *self, PyObject *unused)
{
	return name_bytes(self);
}

static PyMethodDef name_methods[] = {
	{"decode", (PyCFunction)(void (*)(void))name_decode, METH_VARARGS | METH_KEYWORDS,
	 name_decode_doc},
	{"__bytes__", (PyCFunction)name_bytes_meth, METH_NOARGS, name_bytes_doc},
	{NULL}
};

PyDoc_STRVAR(name_doc,
"VeoName(str)\n--\n\n"
"The name of a kernel, symbol or library (VeoFunction.name,\n"
"VeoLibrary.name and the keys of the func, symbol and lib dicts): a str\n"
"that also compares equal to its bytes, as py-veo's later API names\n"
"things with bytes: f.name == \"add\" and f.name == b\"add\" are both true,\n"
"f.name.decode() and bytes(f.name) work.");

PyTypeObject VeoName_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoName",
	.tp_basicsize = 0, /* set from str's in names_ready() */
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = name_doc,
	.tp_richcompare = name_richcompare,
	.tp_methods = name_methods,
};

/* Before PyType_Ready: a str subclass with no fields of its own has str's
 * layout, and must keep str's hash (it overrides the comparison). */
void
names_prepare(void)
{
	VeoName_Type.tp_base = &PyUnicode_Type;
	VeoName_Type.tp_basicsize = PyUnicode_Type.tp_basicsize;
	VeoName_Type.tp_itemsize = PyUnicode_Type.tp_itemsize;
	VeoName_Type.tp_hash = PyUnicode_Type.tp_hash;
}
