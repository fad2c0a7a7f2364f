/*
 * ctypes.c: the C types a kernel's arguments and result may be declared
 * with, and the conversions between Python values and those C types: the
 * arguments of a call (VeoFunction) and the result word of a request.
 */
#include "module.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * C type names
 * --------------------------------------------------------------------- */
static const struct {
	const char *name;
	int kind;
} ctype_table[] = {
	{"void", K_VOID},
	{"char", K_I8}, {"signed char", K_I8}, {"unsigned char", K_U8},
	{"short", K_I16}, {"short int", K_I16}, {"signed short", K_I16},
	{"signed short int", K_I16}, {"unsigned short", K_U16},
	{"unsigned short int", K_U16},
	{"int", K_I32}, {"signed", K_I32}, {"signed int", K_I32},
	{"unsigned", K_U32}, {"unsigned int", K_U32},
	{"long", K_I64}, {"long int", K_I64}, {"signed long", K_I64},
	{"signed long int", K_I64}, {"long long", K_I64}, {"long long int", K_I64},
	{"signed long long", K_I64}, {"signed long long int", K_I64},
	{"unsigned long", K_U64}, {"unsigned long int", K_U64},
	{"unsigned long long", K_U64}, {"unsigned long long int", K_U64},
	{"int8_t", K_I8}, {"uint8_t", K_U8}, {"int16_t", K_I16}, {"uint16_t", K_U16},
	{"int32_t", K_I32}, {"uint32_t", K_U32}, {"int64_t", K_I64}, {"uint64_t", K_U64},
	{"size_t", K_U64}, {"ssize_t", K_I64}, {"ptrdiff_t", K_I64},
	{"intptr_t", K_I64}, {"uintptr_t", K_U64}, {"off_t", K_I64},
	{"bool", K_U8}, {"_Bool", K_U8},
	{"float", K_FLOAT}, {"double", K_DOUBLE},
};

/* Parses a C type name ("double *", "unsigned long", "int32_t", ...) into
 * a kind. Qualifiers (const, volatile, restrict) are ignored; any name
 * followed by '*' is a pointer. Returns -1 if the name is not known. */
int
ctype_kind(const char *s)
{
	char norm[128];
	size_t n = 0;
	int stars = 0, words = 0, star_then_word = 0;
	const char *p = s;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (*p == '*') {
			stars++;
			p++;
			continue;
		}
		const char *w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '*')
			p++;
		size_t len = (size_t)(p - w);
		if ((len == 5 && !strncmp(w, "const", 5)) ||
		    (len == 8 && !strncmp(w, "volatile", 8)) ||
		    (len == 8 && !strncmp(w, "restrict", 8)) ||
		    (len == 10 && !strncmp(w, "__restrict", 10)))
			continue;
		for (size_t i = 0; i < len; i++) {
			char c = w[i];
			if (!(c == '_' || (c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
				return -1;
		}
		if (stars)
			star_then_word = 1;
		if (n + len + 2 > sizeof norm)
			return -1;
		if (n)
			norm[n++] = ' ';
		memcpy(norm + n, w, len);
		n += len;
		words++;
	}
	norm[n] = '\0';
	if (words == 0 || star_then_word)
		return -1;
	if (stars)
		return K_PTR;
	for (size_t i = 0; i < sizeof ctype_table / sizeof ctype_table[0]; i++)
		if (!strcmp(norm, ctype_table[i].name))
			return ctype_table[i].kind;
	return -1;
}

/* A type name given as str or bytes: its kind, or -1 with ValueError set
 * naming `what` of function `fname`. */
int
ctype_kind_of(PyObject *t, PyObject *fname, const char *what)
{
	const char *s;
	if (PyUnicode_Check(t)) {
		s = PyUnicode_AsUTF8(t);
		if (!s)
			return -1;
	} else if (PyBytes_Check(t)) {
		s = PyBytes_AS_STRING(t);
	} else {
		PyErr_Format(PyExc_TypeError,
		             "%U(): the type of %s must be a C type name (str), not %.100s",
		             fname, what, Py_TYPE(t)->tp_name);
		return -1;
	}
	int k = ctype_kind(s);
	if (k < 0)
		PyErr_Format(PyExc_ValueError,
		             "%U(): unknown C type %R for %s; use a C type name such "
		             "as \"int\", \"unsigned long\", \"int32_t\", \"size_t\", "
		             "\"float\", \"double\", \"double *\" or \"void *\"",
		             fname, t, what);
	return k;
}

/* The veo_args result type that delivers a result of kind `kind`: the kind
 * itself, but for a pointer's and a memory request's 64-bit word. */
enum veo_result_type
ctype_result_type(int kind)
{
	return kind == K_PTR || kind == K_MEM ? VEO_RESULT_POINTER : (enum veo_result_type)kind;
}

/* ------------------------------------------------------------------------
 * Arguments
 * --------------------------------------------------------------------- */

/* A float (or any real number that is no integer: numpy.float32, Decimal)
 * for an integer argument: py-veo truncates it, and so does openveo, with
 * a VeoWarning. Returns its truncated value as an int, or NULL with an
 * exception set. */
static PyObject *
arg_truncate_float(VeoFunctionObject *f, int argno, PyObject *tname, PyObject *v)
{
	double d = PyFloat_AsDouble(v);
	if (d == -1.0 && PyErr_Occurred()) {
		PyErr_Clear();
		PyErr_Format(VeoArgumentTypeError,
		             "%U(): argument %d (%S) must be an integer, not %.100s",
		             f->name, argno + 1, tname, Py_TYPE(v)->tp_name);
		return NULL;
	}
	if (!isfinite(d)) {
		PyErr_Format(VeoArgumentOverflowError,
		             "%U(): argument %d (%S) out of range: %R is no integer",
		             f->name, argno + 1, tname, v);
		return NULL;
	}
	return PyLong_FromDouble(trunc(d));
}

/* Converts Python value v to integer kind k (range-checked). */
static int
arg_to_int(VeoFunctionObject *f, int argno, int k, PyObject *v, int64_t *s_out,
           uint64_t *u_out)
{
	static const long long lo[] = {[K_I8] = INT8_MIN, [K_I16] = INT16_MIN,
	                               [K_I32] = INT32_MIN, [K_I64] = INT64_MIN};
	static const long long hi[] = {[K_I8] = INT8_MAX, [K_I16] = INT16_MAX,
	                               [K_I32] = INT32_MAX, [K_I64] = INT64_MAX};
	static const unsigned long long uhi[] = {[K_U8] = UINT8_MAX, [K_U16] = UINT16_MAX,
	                                         [K_U32] = UINT32_MAX, [K_U64] = UINT64_MAX};
	PyObject *tname = PyTuple_GET_ITEM(f->args_type, argno);
	int is_signed = k == K_I8 || k == K_I16 || k == K_I32 || k == K_I64;
	int truncated = 0;
	PyObject *n;

	if (PyLong_CheckExact(v)) {
		Py_INCREF(v);
		n = v;
	} else if ((k == K_I8 || k == K_U8) && (PyBytes_Check(v) || PyByteArray_Check(v)) &&
	           PyObject_Length(v) == 1) {
		unsigned char c = (unsigned char)(PyBytes_Check(v) ? PyBytes_AS_STRING(v)[0]
		                                                  : PyByteArray_AS_STRING(v)[0]);
		*s_out = k == K_I8 ? (int8_t)c : c;
		*u_out = c;
		return 0;
	} else if (PyUnicode_Check(v) || PyBytes_Check(v) || PyByteArray_Check(v)) {
		goto not_an_integer;
	} else if (PyIndex_Check(v) && !PyFloat_Check(v)) {
		n = PyNumber_Index(v);
		if (!n) {
			if (PyErr_ExceptionMatches(PyExc_TypeError))
				goto not_an_integer;
			return -1;
		}
	} else if (PyFloat_Check(v) ||
	           (Py_TYPE(v)->tp_as_number && Py_TYPE(v)->tp_as_number->nb_float)) {
		n = arg_truncate_float(f, argno, tname, v);
		if (!n)
			return -1;
		truncated = 1;
	} else {
		goto not_an_integer;
	}
	int overflow;
	long long s = PyLong_AsLongLongAndOverflow(n, &overflow);
	if (s == -1 && PyErr_Occurred()) {
		Py_DECREF(n);
		return -1;
	}
	if (is_signed) {
		if (overflow || s < lo[k] || s > hi[k]) {
			PyErr_Format(VeoArgumentOverflowError,
			             "%U(): argument %d (%S) out of range: %S is not in [%lld, %lld]",
			             f->name, argno + 1, tname, truncated ? v : n, lo[k], hi[k]);
			Py_DECREF(n);
			return -1;
		}
		*s_out = s;
		*u_out = (uint64_t)s;
	} else {
		unsigned long long u;
		if (overflow > 0 && k == K_U64) {
			u = PyLong_AsUnsignedLongLong(n);
			if (u == (unsigned long long)-1 && PyErr_Occurred()) {
				PyErr_Clear();
				overflow = 2;
			}
		} else {
			u = (unsigned long long)s;
		}
		if (overflow < 0 || overflow == 2 || (overflow > 0 && k != K_U64) ||
		    (!overflow && (s < 0 || u > uhi[k]))) {
			PyErr_Format(VeoArgumentOverflowError,
			             "%U(): argument %d (%S) out of range: %S is not in [0, %llu]",
			             f->name, argno + 1, tname, truncated ? v : n, uhi[k]);
			Py_DECREF(n);
			return -1;
		}
		*u_out = u;
		*s_out = (int64_t)u;
	}
	if (truncated &&
	    PyErr_WarnFormat(VeoWarning, 1,
	                     "%U(): argument %d (%S) is the %.100s %R, truncated to the "
	                     "integer %S as py-veo does; pass an int",
	                     f->name, argno + 1, tname, Py_TYPE(v)->tp_name, v, n) < 0) {
		Py_DECREF(n);
		return -1;
	}
	Py_DECREF(n);
	return 0;
not_an_integer:
	PyErr_Clear();
	PyErr_Format(VeoArgumentTypeError, "%U(): argument %d (%S) must be an integer, not %.100s",
	             f->name, argno + 1, tname, Py_TYPE(v)->tp_name);
	return -1;
}

/* libveo refused to set argument argno: -1 with VeoError. */
static int
set_failed(VeoFunctionObject *f, int argno)
{
	raise_with_detail(VeoError, veo_last_error(), "%U(): cannot set argument %d",
	                  f->name, argno + 1);
	return -1;
}

/* Sets argument argno of `a` from v as declared; OnStack objects are
 * appended to *keep. 0, or -1 with an exception set. */
int
ctype_set_arg(VeoFunctionObject *f, VeoProcObject *proc, struct veo_args *a, int argno,
              PyObject *v, PyObject **keep)
{
	int k = f->plan[argno].kind;
	PyObject *tname = PyTuple_GET_ITEM(f->args_type, argno);
	int rc = 0;

	if (OnStack_Check(v)) {
		/* As in py-veo, an OnStack is passed by reference whatever the
		 * declared type (scripts declare "void *", "double *", even "long"). */
		OnStackObject *os = (OnStackObject *)v;
		if (!os->view.obj) {
			PyErr_Format(VeoArgumentError, "%U(): argument %d: the OnStack is empty",
			             f->name, argno + 1);
			return -1;
		}
		if (!*keep && !(*keep = PyList_New(0)))
			return -1;
		if (PyList_Append(*keep, v) < 0)
			return -1;
		rc = veo_args_set_stack(a, (enum veo_args_intent)os->inout, argno,
		                        (char *)os->view.buf, (size_t)os->size);
		goto done;
	}
	switch (k) {
	case K_FLOAT:
	case K_DOUBLE: {
		if (PyUnicode_Check(v) || PyBytes_Check(v) ||
		    !(PyFloat_Check(v) || PyIndex_Check(v) || Py_TYPE(v)->tp_as_number)) {
			PyErr_Format(VeoArgumentTypeError,
			             "%U(): argument %d (%S) must be a real number, not %.100s",
			             f->name, argno + 1, tname, Py_TYPE(v)->tp_name);
			return -1;
		}
		double d = PyFloat_AsDouble(v);
		if (d == -1.0 && PyErr_Occurred()) {
			PyObject *et, *ev, *tb;
			PyErr_Fetch(&et, &ev, &tb);
			PyErr_NormalizeException(&et, &ev, &tb);
			PyErr_Format(PyErr_GivenExceptionMatches(et, PyExc_OverflowError)
			                     ? VeoArgumentOverflowError : VeoArgumentTypeError,
			             "%U(): argument %d (%S): %S", f->name, argno + 1, tname,
			             ev ? ev : Py_None);
			Py_XDECREF(et);
			Py_XDECREF(ev);
			Py_XDECREF(tb);
			return -1;
		}
		if (k == K_FLOAT) {
			if (isfinite(d) && fabs(d) > FLT_MAX) {
				PyErr_Format(VeoArgumentOverflowError,
				             "%U(): argument %d (%S) out of range: %R does not fit in a float",
				             f->name, argno + 1, tname, v);
				return -1;
			}
			rc = veo_args_set_float(a, argno, (float)d);
		} else {
			rc = veo_args_set_double(a, argno, d);
		}
		break;
	}
	case K_PTR: {
		uint64_t addr = 0;
		if (v == Py_None) {
			addr = 0;
		} else if (VEMemPtr_Check(v)) {
			VEMemPtrFields *m = vemem_fields(v);
			if (m->proc != proc) {
				PyErr_Format(VeoArgumentError,
				             "%U(): argument %d (%S) is a VEMemPtr of another VeoProc",
				             f->name, argno + 1, tname);
				return -1;
			}
			addr = m->addr;
		} else if (PyIndex_Check(v) && !PyFloat_Check(v)) {
			/* an int address, a numpy integer; a numpy array (it has
			 * __index__ too) is refused by name below */
			int64_t s;
			if (arg_to_int(f, argno, K_U64, v, &s, &addr) < 0) {
				if (!PyObject_CheckBuffer(v) ||
				    !PyErr_ExceptionMatches(PyExc_TypeError))
					return -1;
				PyErr_Clear();
				goto not_a_pointer;
			}
		} else {
			goto not_a_pointer;
		}
		if (addr >> 63) {
			/* An hmem pointer (py-veo's later scripts pass alloc_hmem's
			 * ints): the kernel gets its VE address. */
			if (hmem_arg_check(proc, addr, f->name, argno, tname) < 0)
				return -1;
			rc = veo_args_set_hmem(a, argno, (void *)(uintptr_t)addr);
		} else {
			rc = veo_args_set_u64(a, argno, addr);
		}
		break;
	not_a_pointer:
		PyErr_Format(VeoArgumentTypeError,
		             "%U(): argument %d (%S) must be a VEMemPtr, an int address, "
		             "None or an OnStack(buffer), not %.100s",
		             f->name, argno + 1, tname, Py_TYPE(v)->tp_name);
		return -1;
	}
	default: {
		int64_t s;
		uint64_t u;
		if (arg_to_int(f, argno, k, v, &s, &u) < 0)
			return -1;
		switch (k) {
		case K_I8: rc = veo_args_set_i8(a, argno, (int8_t)s); break;
		case K_U8: rc = veo_args_set_u8(a, argno, (uint8_t)u); break;
		case K_I16: rc = veo_args_set_i16(a, argno, (int16_t)s); break;
		case K_U16: rc = veo_args_set_u16(a, argno, (uint16_t)u); break;
		case K_I32: rc = veo_args_set_i32(a, argno, (int32_t)s); break;
		case K_U32: rc = veo_args_set_u32(a, argno, (uint32_t)u); break;
		case K_I64: rc = veo_args_set_i64(a, argno, s); break;
		case K_U64: rc = veo_args_set_u64(a, argno, u); break;
		}
	}
	}
done:
	return rc != 0 ? set_failed(f, argno) : 0;
}

/* The plan of an argument of kind `kind` (see struct arg_plan). */
struct arg_plan
ctype_plan(int kind)
{
	struct arg_plan p = {kind, 0, 0};
	switch (kind) {
	case K_I8: p.lo = INT8_MIN; p.hi = INT8_MAX; break;
	case K_U8: p.hi = UINT8_MAX; break;
	case K_I16: p.lo = INT16_MIN; p.hi = INT16_MAX; break;
	case K_U16: p.hi = UINT16_MAX; break;
	case K_I32: p.lo = INT32_MIN; p.hi = INT32_MAX; break;
	case K_U32: p.hi = UINT32_MAX; break;
	case K_I64: p.lo = INT64_MIN; p.hi = INT64_MAX; break;
	case K_U64: case K_PTR: p.hi = INT64_MAX; break;
	}
	return p;
}

/* The common cases of one argument, as its plan says: an exact int in
 * range for an integer or a pointer, an exact float for a float or a
 * double, a VEMemPtr of the proc or None for a pointer. Returns 0 when
 * set, -1 with an exception set when libveo refused, and 1 for any other
 * value: ctype_set_arg then converts it, or raises what it raises. The
 * values taken here are never an OnStack (no OnStack is an exact int or
 * float, a VEMemPtr or None), so taking them before the OnStack check of
 * ctype_set_arg changes nothing. */
static inline int
set_arg_fast(VeoFunctionObject *f, VeoProcObject *proc, struct veo_args *a, int i,
             const struct arg_plan *pl, PyObject *v)
{
	int rc, overflow;
	long long x;

	switch (pl->kind) {
	case K_FLOAT:
	case K_DOUBLE: {
		if (!PyFloat_CheckExact(v))
			return 1;
		double d = PyFloat_AS_DOUBLE(v);
		if (pl->kind == K_DOUBLE)
			rc = veo_args_set_double(a, i, d);
		else if (isfinite(d) && fabs(d) > FLT_MAX)
			return 1; /* out of a float's range: the general path says so */
		else
			rc = veo_args_set_float(a, i, (float)d);
		break;
	}
	case K_PTR:
		if (v == Py_None) {
			rc = veo_args_set_u64(a, i, 0);
			break;
		}
		if (Py_IS_TYPE(v, &VEMemPtr_Type)) {
			VEMemPtrFields *m = vemem_fields(v);
			if (m->proc != proc || m->addr >> 63)
				return 1;
			rc = veo_args_set_u64(a, i, m->addr);
			break;
		}
		/* fall through: an int address */
	default:
		if (!PyLong_CheckExact(v))
			return 1;
		x = PyLong_AsLongLongAndOverflow(v, &overflow);
		if (overflow || x < pl->lo || x > pl->hi)
			return 1; /* (an exact int raises nothing here) */
		switch (pl->kind) {
		case K_I8: rc = veo_args_set_i8(a, i, (int8_t)x); break;
		case K_U8: rc = veo_args_set_u8(a, i, (uint8_t)x); break;
		case K_I16: rc = veo_args_set_i16(a, i, (int16_t)x); break;
		case K_U16: rc = veo_args_set_u16(a, i, (uint16_t)x); break;
		case K_I32: rc = veo_args_set_i32(a, i, (int32_t)x); break;
		case K_U32: rc = veo_args_set_u32(a, i, (uint32_t)x); break;
		case K_I64: rc = veo_args_set_i64(a, i, (int64_t)x); break;
		default: rc = veo_args_set_u64(a, i, (uint64_t)x); break; /* K_U64, K_PTR */
		}
	}
	return rc != 0 ? set_failed(f, i) : 0;
}

/* Sets all f->nargs arguments of `a` from args[0 .. nargs) as declared;
 * OnStack objects are appended to *keep. 0, or -1 with an exception set.
 * The general conversion may run Python code (__index__, __float__, a
 * warning's filters) that declares the prototype again, which frees the
 * plan and may change nargs: the call is refused then. */
int
ctype_set_args(VeoFunctionObject *f, VeoProcObject *proc, struct veo_args *a,
               PyObject *const *args, PyObject **keep)
{
	int n = f->nargs;
	unsigned decl = f->decl;

	for (int i = 0; i < n; i++) {
		int rc = set_arg_fast(f, proc, a, i, &f->plan[i], args[i]);
		if (rc > 0) {
			rc = ctype_set_arg(f, proc, a, i, args[i], keep);
			if (rc == 0 && f->decl != decl) {
				PyErr_Format(VeoError, "%U(): the prototype was declared again "
				             "while the arguments were converted", f->name);
				rc = -1;
			}
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Results
 * --------------------------------------------------------------------- */

/* The Python value of the result word `ret` of a request whose result is
 * of kind `kind`; a pointer becomes a VEMemPtr of `proc`. */
PyObject *
ctype_convert_result(int kind, uint64_t ret, VeoProcObject *proc)
{
	switch (kind) {
	case K_VOID: Py_RETURN_NONE;
	case K_I8: return PyLong_FromLong((int8_t)ret);
	case K_U8: return PyLong_FromLong((uint8_t)ret);
	case K_I16: return PyLong_FromLong((int16_t)ret);
	case K_U16: return PyLong_FromLong((uint16_t)ret);
	case K_I32: return PyLong_FromLong((int32_t)ret);
	case K_U32: return PyLong_FromUnsignedLong((uint32_t)ret);
	case K_I64: return PyLong_FromLongLong((int64_t)ret);
	case K_FLOAT: {
		/* a float comes back in the upper 32 bits, as on the VE */
		uint32_t bits = (uint32_t)(ret >> 32);
		float f;
		memcpy(&f, &bits, sizeof f);
		return PyFloat_FromDouble((double)f);
	}
	case K_DOUBLE: {
		double d;
		memcpy(&d, &ret, sizeof d);
		return PyFloat_FromDouble(d);
	}
	case K_PTR: return vemem_new(proc, ret, 0);
	default: return PyLong_FromUnsignedLongLong(ret);
	}
}
