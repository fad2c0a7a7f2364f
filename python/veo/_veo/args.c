/*
 * args.c: VeoArgs, py-veo's wrapper of a struct veo_args (the set_* calls
 * of ve_offload.h, set_stack, clear), and VeoCtxt.call_async(func, args),
 * which queues a call with arguments set by hand. VeoFunction's own calls
 * (function.c) build their veo_args from the declared types instead.
 */
#include "module.h"

#include <structmember.h>

#include <string.h>

typedef struct {
	PyObject_HEAD
	struct veo_args *a;
	/* The OnStack objects of set_stack: their buffers must live until the
	 * result of every call made with these arguments is collected, so each
	 * call's request holds a copy of this list. */
	PyObject *stacks;
	/* Threads queueing a call with these arguments right now (the GIL is
	 * released meanwhile): the setters and clear() refuse to change them. */
	int busy;
} VeoArgsObject;

#define VeoArgs_Check(o) PyObject_TypeCheck(o, &VeoArgs_Type)

/* ------------------------------------------------------------------------
 * Argument parsing
 * --------------------------------------------------------------------- */

/* The argument number: 0 .. VEO_MAX_NUM_ARGS-1. */
static int
get_argnum(PyObject *o, const char *fn, int *out)
{
	if (PyFloat_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s: argnum must be an integer, not float", fn);
		return -1;
	}
	long v = PyLong_AsLong(o);
	if (v == -1 && PyErr_Occurred()) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "%s: argnum must be an integer, not %.100s",
			             fn, Py_TYPE(o)->tp_name);
		}
		return -1;
	}
	if (v < 0 || v >= VEO_MAX_NUM_ARGS) {
		PyErr_Format(PyExc_ValueError, "%s: argnum %ld is not in 0..%d", fn, v,
		             VEO_MAX_NUM_ARGS - 1);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* An integer value in [lo, hi] (signed) or [0, uhi] (unsigned); anything
 * else is an OverflowError naming the setter, as py-veo's C conversions do. */
static int
get_int(PyObject *o, const char *fn, int is_signed, int64_t lo, int64_t hi, uint64_t uhi,
        int64_t *s, uint64_t *u)
{
	if (PyFloat_Check(o)) {
		PyErr_Format(PyExc_TypeError, "%s: the value must be an integer, not float "
		             "(use set_double or set_float)", fn);
		return -1;
	}
	PyObject *n = PyNumber_Index(o);
	if (!n) {
		if (PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError, "%s: the value must be an integer, not %.100s",
			             fn, Py_TYPE(o)->tp_name);
		}
		return -1;
	}
	int bad = 0;
	if (is_signed) {
		int overflow;
		long long v = PyLong_AsLongLongAndOverflow(n, &overflow);
		if (v == -1 && PyErr_Occurred()) {
			Py_DECREF(n);
			return -1;
		}
		bad = overflow || v < lo || v > hi;
		*s = v;
	} else {
		unsigned long long v = PyLong_AsUnsignedLongLong(n);
		if (v == (unsigned long long)-1 && PyErr_Occurred()) {
			PyErr_Clear();
			bad = 1;
		}
		bad = bad || v > uhi;
		*u = v;
	}
	if (bad) {
		if (is_signed)
			PyErr_Format(PyExc_OverflowError, "%s: %S is out of range [%lld, %lld]", fn,
			             n, (long long)lo, (long long)hi);
		else
			PyErr_Format(PyExc_OverflowError, "%s: %S is out of range [0, %llu]", fn, n,
			             (unsigned long long)uhi);
		Py_DECREF(n);
		return -1;
	}
	Py_DECREF(n);
	return 0;
}

static int
args_usable(VeoArgsObject *self, const char *fn)
{
	if (!self->a) {
		PyErr_Format(VeoError, "%s: the VeoArgs was not initialised", fn);
		return -1;
	}
	if (self->busy) {
		PyErr_Format(VeoError, "%s: the VeoArgs is in use by a call another thread is "
		             "queueing", fn);
		return -1;
	}
	return 0;
}

static PyObject *
set_failed(const char *fn, int argnum)
{
	return raise_with_detail(VeoError, veo_last_error(), "%s: cannot set argument %d", fn,
	                         argnum);
}

/* ------------------------------------------------------------------------
 * The setters
 * --------------------------------------------------------------------- */

/* One setter per integer width: the range, then the C API call. */
enum int_kind { I64, U64, I32, U32, I16, U16, I8, U8 };

static PyObject *
args_set_int(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n, enum int_kind k,
             const char *fn)
{
	static const struct { int is_signed; int64_t lo, hi; uint64_t uhi; } range[] = {
		[I64] = {1, INT64_MIN, INT64_MAX, 0}, [U64] = {0, 0, 0, UINT64_MAX},
		[I32] = {1, INT32_MIN, INT32_MAX, 0}, [U32] = {0, 0, 0, UINT32_MAX},
		[I16] = {1, INT16_MIN, INT16_MAX, 0}, [U16] = {0, 0, 0, UINT16_MAX},
		[I8] = {1, INT8_MIN, INT8_MAX, 0},    [U8] = {0, 0, 0, UINT8_MAX},
	};
	int argnum, rc = -1;
	int64_t s = 0;
	uint64_t u = 0;

	if (n != 2) {
		PyErr_Format(PyExc_TypeError, "%s takes 2 arguments (argnum, value), %zd given",
		             fn, n);
		return NULL;
	}
	if (args_usable(self, fn) < 0 || get_argnum(args[0], fn, &argnum) < 0 ||
	    get_int(args[1], fn, range[k].is_signed, range[k].lo, range[k].hi, range[k].uhi,
	            &s, &u) < 0)
		return NULL;
	switch (k) {
	case I64: rc = veo_args_set_i64(self->a, argnum, s); break;
	case U64: rc = veo_args_set_u64(self->a, argnum, u); break;
	case I32: rc = veo_args_set_i32(self->a, argnum, (int32_t)s); break;
	case U32: rc = veo_args_set_u32(self->a, argnum, (uint32_t)u); break;
	case I16: rc = veo_args_set_i16(self->a, argnum, (int16_t)s); break;
	case U16: rc = veo_args_set_u16(self->a, argnum, (uint16_t)u); break;
	case I8: rc = veo_args_set_i8(self->a, argnum, (int8_t)s); break;
	case U8: rc = veo_args_set_u8(self->a, argnum, (uint8_t)u); break;
	}
	if (rc != 0)
		return set_failed(fn, argnum);
	Py_RETURN_NONE;
}

#define INT_SETTER(name, kind, ctype)                                                  \
	PyDoc_STRVAR(args_##name##_doc, #name "($self, argnum, value)\n--\n\n"                   \
	             "Sets argument `argnum` (0 is the first) to the " ctype " `value`;\n" \
	             "a value out of the type's range raises OverflowError.");            \
	static PyObject *args_##name(VeoArgsObject *self, PyObject *const *args,         \
	                             Py_ssize_t n)                                       \
	{                                                                                \
		return args_set_int(self, args, n, kind, #name "()");                     \
	}
INT_SETTER(set_i64, I64, "int64_t")
INT_SETTER(set_u64, U64, "uint64_t")
INT_SETTER(set_i32, I32, "int32_t")
INT_SETTER(set_u32, U32, "uint32_t")
INT_SETTER(set_i16, I16, "int16_t")
INT_SETTER(set_u16, U16, "uint16_t")
INT_SETTER(set_i8, I8, "int8_t")
INT_SETTER(set_u8, U8, "uint8_t")

static PyObject *
args_set_real(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n, int is_float,
              const char *fn)
{
	int argnum, rc;
	if (n != 2) {
		PyErr_Format(PyExc_TypeError, "%s takes 2 arguments (argnum, value), %zd given",
		             fn, n);
		return NULL;
	}
	if (args_usable(self, fn) < 0 || get_argnum(args[0], fn, &argnum) < 0)
		return NULL;
	if (PyUnicode_Check(args[1]) || PyBytes_Check(args[1])) {
		PyErr_Format(PyExc_TypeError, "%s: the value must be a real number, not %.100s",
		             fn, Py_TYPE(args[1])->tp_name);
		return NULL;
	}
	double d = PyFloat_AsDouble(args[1]);
	if (d == -1.0 && PyErr_Occurred())
		return NULL;
	rc = is_float ? veo_args_set_float(self->a, argnum, (float)d)
	              : veo_args_set_double(self->a, argnum, d);
	if (rc != 0)
		return set_failed(fn, argnum);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(args_set_double_doc, "set_double($self, argnum, value)\n--\n\n"
"Sets argument `argnum` to the double `value`.");
static PyObject *
args_set_double(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n)
{
	return args_set_real(self, args, n, 0, "set_double()");
}

PyDoc_STRVAR(args_set_float_doc, "set_float($self, argnum, value)\n--\n\n"
"Sets argument `argnum` to the float `value` (the kernel gets a float).");
static PyObject *
args_set_float(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n)
{
	return args_set_real(self, args, n, 1, "set_float()");
}

PyDoc_STRVAR(args_set_hmem_doc, "set_hmem($self, argnum, hmem)\n--\n\n"
"Sets argument `argnum` to the hmem pointer `hmem` (from alloc_hmem): the\n"
"kernel gets the VE address (veo_args_set_hmem).");
static PyObject *
args_set_hmem(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n)
{
	int argnum;
	uint64_t addr;
	if (n != 2) {
		PyErr_Format(PyExc_TypeError, "set_hmem() takes 2 arguments (argnum, hmem), "
		             "%zd given", n);
		return NULL;
	}
	if (args_usable(self, "set_hmem()") < 0 || get_argnum(args[0], "set_hmem()", &argnum) < 0 ||
	    as_u64(args[1], &addr, "set_hmem(): hmem") < 0)
		return NULL;
	if (veo_args_set_hmem(self->a, argnum, (void *)(uintptr_t)addr) != 0)
		return set_failed("set_hmem()", argnum);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(args_set_stack_doc,
"set_stack(onstack, argnum)\n"
"set_stack($self, inout, argnum, buff, size)\n--\n\n"
"Passes a host buffer by reference: the kernel's argument `argnum` points\n"
"to a copy of it on the VE stack; VEO_INTENT_OUT and VEO_INTENT_INOUT copy\n"
"it back when the call's result is collected. The first form (py-veo's\n"
"later one) takes an OnStack; the second (py-veo's 2018 one) an intent,\n"
"and `buff`, a buffer object (bytearray, numpy array, ...) or a raw host\n"
"address (OnStack.c_pointer()), of which `size` bytes are passed. The\n"
"buffer is held until every result of a call made with these arguments\n"
"was collected; a raw address must stay valid as long by itself.");
static PyObject *
args_set_stack(VeoArgsObject *self, PyObject *const *args, Py_ssize_t n)
{
	const char *fn = "set_stack()";
	OnStackObject *os = NULL;
	int argnum, rc;

	if (args_usable(self, fn) < 0)
		return NULL;
	if (n == 2 && OnStack_Check(args[0])) {
		if (get_argnum(args[1], fn, &argnum) < 0)
			return NULL;
		os = (OnStackObject *)args[0];
		Py_INCREF(os);
	} else if (n == 4) {
		long inout = PyLong_AsLong(args[0]);
		if (inout == -1 && PyErr_Occurred())
			return NULL;
		if (inout != VEO_INTENT_IN && inout != VEO_INTENT_OUT && inout != VEO_INTENT_INOUT) {
			PyErr_Format(PyExc_ValueError, "%s: inout must be VEO_INTENT_IN, "
			             "VEO_INTENT_INOUT or VEO_INTENT_OUT, not %ld", fn, inout);
			return NULL;
		}
		if (get_argnum(args[1], fn, &argnum) < 0)
			return NULL;
		if (PyObject_CheckBuffer(args[2])) {
			/* An OnStack over the buffer holds it and checks the size. */
			PyObject *kw = Py_BuildValue("{s:O,s:l}", "size", args[3], "inout", inout);
			PyObject *a = kw ? PyTuple_Pack(1, args[2]) : NULL;
			os = a ? (OnStackObject *)PyObject_Call((PyObject *)&OnStack_Type, a, kw) : NULL;
			Py_XDECREF(a);
			Py_XDECREF(kw);
			if (!os)
				return NULL;
		} else if (VEMemPtr_Check(args[2])) {
			PyErr_SetString(PyExc_TypeError,
			                "set_stack(): buff is a VEMemPtr; it must be host memory "
			                "(a buffer object or a host address)");
			return NULL;
		} else {
			uint64_t buf, size;
			if (as_u64(args[2], &buf, "set_stack(): buff") < 0 ||
			    as_u64(args[3], &size, "set_stack(): size") < 0)
				return NULL;
			if (buf == 0 && size > 0) {
				PyErr_SetString(PyExc_ValueError,
				                "set_stack(): buff is a NULL address with a size");
				return NULL;
			}
			rc = veo_args_set_stack(self->a, (enum veo_args_intent)inout, argnum,
			                        (char *)(uintptr_t)buf, (size_t)size);
			if (rc != 0)
				return set_failed(fn, argnum);
			Py_RETURN_NONE;
		}
	} else {
		PyErr_SetString(PyExc_TypeError,
		                "set_stack() takes (onstack, argnum) or (inout, argnum, buff, size)");
		return NULL;
	}
	if (!os->view.obj) {
		Py_DECREF(os);
		PyErr_SetString(PyExc_ValueError, "set_stack(): the OnStack holds no buffer");
		return NULL;
	}
	rc = veo_args_set_stack(self->a, (enum veo_args_intent)os->inout, argnum,
	                        (char *)os->view.buf, (size_t)os->size);
	if (rc != 0) {
		Py_DECREF(os);
		return set_failed(fn, argnum);
	}
	rc = PyList_Append(self->stacks, (PyObject *)os);
	Py_DECREF(os);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(args_clear_doc, "clear($self)\n--\n\n"
"Forgets every argument set so far (and releases the stack buffers, once\n"
"the calls made with them were collected).");
static PyObject *
args_clear(VeoArgsObject *self, PyObject *unused)
{
	if (args_usable(self, "clear()") < 0)
		return NULL;
	veo_args_clear(self->a);
	if (PyList_SetSlice(self->stacks, 0, PyList_GET_SIZE(self->stacks), NULL) < 0)
		return NULL;
	Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------
 * VeoCtxt.call_async(func, args)
 * --------------------------------------------------------------------- */
const char ctxt_call_async_doc[] =
"call_async($self, func, args, ret_type=None)\n--\n\n"
"Queues a call of `func` (a VeoFunction of this context's proc, or a VE\n"
"address) with the arguments of `args` (a VeoArgs) and returns a\n"
"VeoRequest. The result is converted as `ret_type` (a C type name, as\n"
"VeoFunction.ret_type takes), by default as the VeoFunction's declared\n"
"result; an address's default result is the raw 64-bit word (an int, see\n"
"ConvFromI64). On the host a float or double result needs its type\n"
"declared: it does not come back in the integer register. While the call\n"
"is being queued, other threads cannot change or use `args` (VeoError).";
PyObject *
ctxt_call_async(VeoCtxtObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"func", "args", "ret_type", NULL};
	PyObject *func, *vargs, *fname, *keep = NULL, *rt = Py_None;
	uint64_t addr, reqid;
	int kind;
	char err[ERRBUF] = "";

	if (!PyArg_ParseTupleAndKeywords(args, kw, "OO!|O:call_async", kwlist, &func,
	                                 &VeoArgs_Type, &vargs, &rt))
		return NULL;
	VeoArgsObject *va = (VeoArgsObject *)vargs;
	/* one call at a time per VeoArgs: queueing reads it without the GIL */
	if (args_usable(va, "call_async()") < 0 || ctxt_check(self) < 0)
		return NULL;
	if (PyObject_TypeCheck(func, &VeoFunction_Type)) {
		VeoFunctionObject *f = (VeoFunctionObject *)func;
		if (lib_check(f->lib) < 0)
			return NULL;
		if (f->lib->proc != self->proc) {
			PyErr_Format(PyExc_ValueError, "call_async(): %S belongs to another VeoProc "
			             "than the context", f->name);
			return NULL;
		}
		addr = f->addr;
		kind = f->ret_kind;
		Py_INCREF(f->name);
		fname = f->name;
	} else {
		if (as_u64(func, &addr, "call_async(): func") < 0)
			return NULL;
		if (addr == 0) {
			PyErr_SetString(PyExc_ValueError, "call_async(): func is the address 0");
			return NULL;
		}
		kind = K_U64;
		fname = PyUnicode_FromFormat("the function at %s", hex64(addr).s);
		if (!fname)
			return NULL;
	}
	if (rt != Py_None && (kind = ctype_kind_of(rt, fname, "the result")) < 0) {
		Py_DECREF(fname);
		return NULL;
	}
	if (PyList_GET_SIZE(va->stacks) > 0 && !(keep = PySequence_List(va->stacks))) {
		Py_DECREF(fname);
		return NULL;
	}
	if (veo_args_set_result_type(va->a, ctype_result_type(kind)) != 0) {
		raise_with_detail(VeoError, veo_last_error(), "call_async(): cannot declare the "
		                  "result type");
		goto fail;
	}
	ctxt_reap_orphans(self);
	va->busy++;
	self->queued++;
	UNLOCKED_BEGIN(self->proc);
	reqid = veo_call_async(self->ctx, addr, va->a);
	if (reqid == VEO_REQUEST_ID_INVALID)
		copy_last_error(err, sizeof err);
	UNLOCKED_END();
	va->busy--;
	if (reqid == VEO_REQUEST_ID_INVALID) {
		ctxt_collected(self); /* nothing was queued */
		raise_with_detail(VeoError, err, "call_async(%S): the call could not be queued",
		                  fname);
		goto fail;
	}
	VEO_LOG(LOG_INFO, "call %S queued: request %llu, node %S", fname,
	        (unsigned long long)reqid, self->proc->nodeid);
	Pending pd;
	memset(&pd, 0, sizeof pd);
	pd.reqid = reqid;
	pd.keep = keep;
	PyObject *r = req_create(&VeoRequest_Type, self, reqid, kind, fname, &pd);
	Py_DECREF(fname);
	return r;
fail:
	Py_XDECREF(keep);
	Py_DECREF(fname);
	return NULL;
}

/* ------------------------------------------------------------------------
 * The type
 * --------------------------------------------------------------------- */
static int
args_init(VeoArgsObject *self, PyObject *args, PyObject *kw)
{
	if (!PyArg_ParseTuple(args, ":VeoArgs") || (kw && PyDict_GET_SIZE(kw))) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "VeoArgs() takes no arguments");
		return -1;
	}
	if (!self->stacks && !(self->stacks = PyList_New(0)))
		return -1;
	if (self->a) {
		veo_args_clear(self->a);
		return PyList_SetSlice(self->stacks, 0, PyList_GET_SIZE(self->stacks), NULL);
	}
	self->a = veo_args_alloc();
	if (!self->a) {
		raise_with_detail(VeoError, veo_last_error(), "VeoArgs(): veo_args_alloc() failed");
		return -1;
	}
	return 0;
}

static int
args_traverse(VeoArgsObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->stacks);
	return 0;
}

static int
args_tp_clear(VeoArgsObject *self)
{
	Py_CLEAR(self->stacks);
	return 0;
}

static void
args_dealloc(VeoArgsObject *self)
{
	PyObject_GC_UnTrack(self);
	/* libveo copied the arguments into each call: freeing them now does
	 * not touch queued requests, which hold their own list of stacks. */
	if (self->a)
		veo_args_free(self->a);
	Py_CLEAR(self->stacks);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
args_repr(VeoArgsObject *self)
{
	return PyUnicode_FromFormat("<VeoArgs, %zd stack argument%s>",
	                            self->stacks ? PyList_GET_SIZE(self->stacks) : 0,
	                            self->stacks && PyList_GET_SIZE(self->stacks) == 1 ? "" : "s");
}

#define FAST(name) {#name, (PyCFunction)(void (*)(void))args_##name, METH_FASTCALL, \
	args_##name##_doc}
static PyMethodDef args_methods[] = {
	FAST(set_i64), FAST(set_u64), FAST(set_i32), FAST(set_u32),
	FAST(set_i16), FAST(set_u16), FAST(set_i8), FAST(set_u8),
	FAST(set_double), FAST(set_float), FAST(set_hmem), FAST(set_stack),
	{"clear", (PyCFunction)args_clear, METH_NOARGS, args_clear_doc},
	{NULL}
};

static PyMemberDef args_members[] = {
	{"stacks", T_OBJECT, offsetof(VeoArgsObject, stacks), READONLY,
	 "The OnStack objects passed with set_stack (a list)."},
	{NULL}
};

PyDoc_STRVAR(args_doc,
"VeoArgs()\n--\n\n"
"The arguments of a VE call, set one by one (py-veo's wrapper of struct\n"
"veo_args): set_i64 .. set_u8, set_double, set_float, set_hmem, set_stack,\n"
"clear. Queue a call with them by ctx.call_async(func, args). Arguments\n"
"not set below the highest one set are passed as 0.");

PyTypeObject VeoArgs_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoArgs",
	.tp_basicsize = sizeof(VeoArgsObject),
	.tp_dealloc = (destructor)args_dealloc,
	.tp_repr = (reprfunc)args_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
	.tp_doc = args_doc,
	.tp_traverse = (traverseproc)args_traverse,
	.tp_clear = (inquiry)args_tp_clear,
	.tp_methods = args_methods,
	.tp_members = args_members,
	.tp_init = (initproc)args_init,
	.tp_new = PyType_GenericNew,
};
