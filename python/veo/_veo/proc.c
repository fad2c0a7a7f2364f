/*
 * proc.c: VeoProc, a running VE process: starting and stopping its worker,
 * its libraries, memory and contexts.
 */
#include "module.h"

#include <structmember.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Copies of at least this many bytes release the GIL. */
#define GIL_FREE_COPY_BYTES (64 * 1024)

/* ------------------------------------------------------------------------
 * Closing: waiting for the threads inside libveo, stopping the worker
 * --------------------------------------------------------------------- */

/* Waits (GIL released) until no thread is inside libveo for this proc:
 * waits leave libveo within WAIT_SLICE_US, but a thread can be held there
 * for ever by a library constructor that never ends (a job, blocking.c,
 * or a thread waiting for the control slot behind it). After
 * CLOSE_GRACE_US the worker is killed; every call on it then returns
 * within a few ms, and the proc is destroyed as usual. */
#define CLOSE_GRACE_US 500000L
static void
proc_wait_idle_for_close(VeoProcObject *p)
{
	double give_up = monotonic_s() + CLOSE_GRACE_US * 1e-6;
	int killed = 0;
	while (atomic_load(&p->busy) > 0 || atomic_load(&p->jobs) > 0) {
		if (!killed && monotonic_s() > give_up && p->pid > 0) {
			kill(p->pid, SIGKILL);
			killed = 1;
		}
		sleep_without_gil(500);
	}
}

/* After the proc was destroyed: its contexts and libraries are dead. */
static void
proc_forget_children(VeoProcObject *p)
{
	if (p->context && PyList_Check(p->context)) {
		for (Py_ssize_t i = 0; i < PyList_GET_SIZE(p->context); i++) {
			PyObject *c = PyList_GET_ITEM(p->context, i);
			if (VeoCtxt_Check(c) && ((VeoCtxtObject *)c)->proc == p) {
				Py_INCREF(c);
				ctxt_mark_dead((VeoCtxtObject *)c);
				Py_DECREF(c);
			}
		}
		PyList_SetSlice(p->context, 0, PyList_GET_SIZE(p->context), NULL);
	}
	if (p->lib && PyDict_Check(p->lib)) {
		PyObject *key, *value;
		Py_ssize_t pos = 0;
		while (PyDict_Next(p->lib, &pos, &key, &value))
			if (VeoLibrary_Check(value))
				((VeoLibraryObject *)value)->unloaded = 1;
	}
}

/* Stops the worker: refuses new work, waits until no thread is inside
 * libveo for this proc, destroys the proc, then marks its contexts dead.
 * Returns 0, or -1 with VeoError set if veo_proc_destroy failed (the proc
 * counts as closed either way). In a forked child, a proc of the parent
 * is only let go of: libveo releases the child's copies (descriptors,
 * mapping); nothing waits for the counts, which are the parent's threads',
 * and nothing reaches the parent's worker. */
int
proc_close(VeoProcObject *p)
{
	if (p->h == NULL)
		return 0;
	if (proc_inherited(p)) {
		veo_proc_destroy(p->h);
		p->h = NULL;
		p->closing = 0;
		registry_remove(p);
		proc_forget_children(p);
		return 0;
	}
	if (p->closing) {
		/* another thread is closing it: wait for that to finish */
		while (p->h != NULL)
			sleep_without_gil(1000);
		return 0;
	}
	p->closing = 1;
	proc_wait_idle_for_close(p);

	struct veo_proc_handle *h = p->h;
	char err[ERRBUF] = "";
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = veo_proc_destroy(h);
	if (rc != 0)
		copy_last_error(err, sizeof err);
	Py_END_ALLOW_THREADS
	p->h = NULL;
	p->closing = 0;
	registry_remove(p);
	output_finish(p); /* what the worker printed while it ended */
	proc_forget_children(p); /* the contexts died with the worker */
	VEO_LOG(LOG_INFO, "proc destroyed: node %S, worker pid %d", p->nodeid, (int)p->pid);
	if (rc != 0) {
		raise_with_detail(VeoError, err, "veo_proc_destroy() failed");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * VeoProc
 * --------------------------------------------------------------------- */
static int
parse_nodeid(PyObject *o, int *out)
{
	PyObject *num = NULL;
	if (PyUnicode_Check(o)) {
		PyObject *s = PyObject_CallMethod(o, "strip", NULL);
		if (!s)
			return -1;
		int ok = PyUnicode_GET_LENGTH(s) > 0;
		for (Py_ssize_t i = 0; ok && i < PyUnicode_GET_LENGTH(s); i++) {
			Py_UCS4 ch = PyUnicode_READ_CHAR(s, i);
			ok = ch >= '0' && ch <= '9';
		}
		if (!ok) {
			PyErr_Format(PyExc_ValueError,
			             "VeoProc(): nodeid must be an int or a string of "
			             "digits, not %R", o);
			Py_DECREF(s);
			return -1;
		}
		num = PyLong_FromUnicodeObject(s, 10);
		Py_DECREF(s);
	} else if (PyFloat_Check(o)) {
		PyErr_SetString(PyExc_TypeError,
		                "VeoProc(): nodeid must be an int or a string of digits, not float");
		return -1;
	} else {
		num = PyNumber_Index(o);
		if (!num && PyErr_ExceptionMatches(PyExc_TypeError)) {
			PyErr_Clear();
			PyErr_Format(PyExc_TypeError,
			             "VeoProc(): nodeid must be an int or a string of "
			             "digits, not %.100s", Py_TYPE(o)->tp_name);
		}
	}
	if (!num)
		return -1;
	int overflow;
	long v = PyLong_AsLongAndOverflow(num, &overflow);
	Py_DECREF(num);
	if (overflow || v < -1 || v > 0xffff) {
		PyErr_Format(PyExc_ValueError,
		             "VeoProc(): nodeid %R is not a VE node number "
		             "(0, 1, ..., or -1 for $VE_NODE_NUMBER)", o);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static PyObject *
proc_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
	VeoProcObject *self = (VeoProcObject *)type->tp_alloc(type, 0);
	if (!self)
		return NULL;
	atomic_init(&self->busy, 0);
	self->pid = -1;
	self->context = PyList_New(0);
	self->lib = PyDict_New();
	Py_INCREF(Py_None);
	self->nodeid = Py_None;
	Py_INCREF(Py_None);
	self->veorun_bin = Py_None;
	if (!self->context || !self->lib) {
		Py_DECREF(self);
		return NULL;
	}
	return (PyObject *)self;
}

/* Starting a worker can take long (a static worker whose constructors
 * hang, a loaded machine): it runs as a job (blocking.c). A start that
 * was given up on is stopped again as soon as it is done. */
typedef struct {
	bjob j;
	int node;
	unsigned flags; /* VEO_PROC_CAPTURE_*: the worker's output through pipes */
	char *bin; /* NULL: the default worker */
	struct veo_proc_handle *h;
} StartJob;

static void
start_run(bjob *j)
{
	StartJob *s = (StartJob *)j;
	s->h = veo_proc_create_with_flags(s->node, s->bin, s->flags);
	if (!s->h)
		copy_last_error(j->err, sizeof j->err);
}

static void
start_abandon(bjob *j)
{
	StartJob *s = (StartJob *)j;
	if (s->h)
		veo_proc_destroy(s->h);
	s->h = NULL;
}

static int
proc_init(VeoProcObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"nodeid", "veorun_bin", "capture_output", NULL};
	PyObject *nodeid_o, *bin_o = Py_None, *bin_bytes = NULL, *capture_o = Py_None;
	int node, capture;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:VeoProc", kwlist,
	                                 &nodeid_o, &bin_o, &capture_o))
		return -1;
	/* None: capture when Python's stdout or stderr is not the process's
	 * own descriptor at creation (see output.c). */
	capture = capture_o == Py_None ? output_wanted() : PyObject_IsTrue(capture_o);
	if (capture < 0)
		return -1;
	if (self->h) {
		PyErr_SetString(VeoError, "VeoProc.__init__(): the proc is already running");
		return -1;
	}
	if (parse_nodeid(nodeid_o, &node) < 0)
		return -1;
	if (bin_o != Py_None && !PyUnicode_FSConverter(bin_o, &bin_bytes))
		return -1;

	struct veo_proc_handle *h;
	char err[ERRBUF] = "";
	size_t binlen = bin_bytes ? (size_t)PyBytes_GET_SIZE(bin_bytes) + 1 : 0;
	StartJob *job = (StartJob *)bjob_new(sizeof(StartJob) + binlen, start_run,
	                                     start_abandon);
	if (!job) {
		Py_XDECREF(bin_bytes);
		return -1;
	}
	job->node = node;
	job->flags = capture ? VEO_PROC_CAPTURE_STDOUT | VEO_PROC_CAPTURE_STDERR : 0;
	if (bin_bytes) {
		job->bin = (char *)(job + 1);
		memcpy(job->bin, PyBytes_AS_STRING(bin_bytes), binlen);
	}
	if (bjob_run(&job->j, NULL) < 0) {
		Py_XDECREF(bin_bytes);
		return -1; /* interrupted: the job stops the worker it started */
	}
	h = job->h;
	memcpy(err, job->j.err, sizeof err);
	bjob_free(&job->j);
	if (!h) {
		if (bin_bytes)
			raise_with_detail(VeoError, err,
			                  "VeoProc(): cannot start the VE process %R on node %d",
			                  bin_o, node);
		else
			raise_with_detail(VeoError, err,
			                  "VeoProc(): cannot start a VE process on node %d", node);
		Py_XDECREF(bin_bytes);
		return -1;
	}
	self->h = h;
	self->pid = veo_proc_pid(h);
	self->creator = getpid();
	registry_add(self);
	VEO_LOG(LOG_INFO, "proc created: node %d, worker pid %d", node, (int)self->pid);
	if (capture && output_start(self) < 0) {
		PyObject *et, *ev, *tb;
		PyErr_Fetch(&et, &ev, &tb);
		Py_XDECREF(bin_bytes);
		if (proc_close(self) < 0)
			PyErr_Clear();
		PyErr_Restore(et, ev, tb);
		return -1;
	}

	PyObject *nid = PyLong_FromLong(node);
	if (!nid) {
		Py_XDECREF(bin_bytes);
		return -1;
	}
	Py_SETREF(self->nodeid, nid);
	if (bin_bytes) {
		PyObject *s = PyUnicode_DecodeFSDefault(PyBytes_AS_STRING(bin_bytes));
		Py_DECREF(bin_bytes);
		if (!s)
			return -1;
		Py_SETREF(self->veorun_bin, s);
	}

	/* Init hooks run last, on a copy: a hook may (un)register hooks. */
	PyObject *hooks = PySequence_List(proc_init_hooks);
	if (!hooks)
		return -1;
	for (Py_ssize_t i = 0; i < PyList_GET_SIZE(hooks); i++) {
		PyObject *r = PyObject_CallOneArg(PyList_GET_ITEM(hooks, i), (PyObject *)self);
		if (!r) {
			Py_DECREF(hooks);
			return -1;
		}
		Py_DECREF(r);
	}
	Py_DECREF(hooks);
	return 0;
}

static int
proc_traverse(VeoProcObject *self, visitproc visit, void *arg)
{
	Py_VISIT(self->context);
	Py_VISIT(self->lib);
	return 0;
}

/* Breaking a cycle that holds a proc: stop the worker first, then drop the
 * containers, so that contexts and requests find it dead. */
static int
proc_clear(VeoProcObject *self)
{
	if (self->h && proc_close(self) < 0)
		PyErr_Clear();
	Py_CLEAR(self->context);
	Py_CLEAR(self->lib);
	return 0;
}

static void
proc_dealloc(VeoProcObject *self)
{
	PyObject_GC_UnTrack(self);
	if (self->h) {
		PyObject *et, *ev, *tb;
		PyErr_Fetch(&et, &ev, &tb);
		if (proc_close(self) < 0)
			PyErr_Clear();
		PyErr_Restore(et, ev, tb);
	}
	registry_remove(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	Py_CLEAR(self->context);
	Py_CLEAR(self->lib);
	Py_CLEAR(self->nodeid);
	Py_CLEAR(self->veorun_bin);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Why the proc cannot be used, in a few words ("closed", "worker died:
 * SIGSEGV in kernel crash", "inherited from process 12"): 1 with the
 * reason in buf, or 0 while it is alive. */
int
proc_not_alive_why(VeoProcObject *p, char *buf, size_t n)
{
	struct veo_death_info *info;
	int gone;

	if (p->h == NULL) {
		snprintf(buf, n, "closed");
		return 1;
	}
	if (proc_inherited(p)) {
		snprintf(buf, n, "inherited from process %d, usable only there", (int)p->creator);
		return 1;
	}
	if (p->closing) {
		snprintf(buf, n, "being closed");
		return 1;
	}
	info = PyMem_Malloc(sizeof *info);
	if (!info) {
		snprintf(buf, n, "unknown: out of memory");
		return 0;
	}
	gone = veo_proc_death_info(p->h, info);
	if (gone < 0) {
		snprintf(buf, n, "%s", veo_last_error());
	} else if (gone) {
		const char *k = info->kernel;
		switch (info->cause) {
		case VEO_DEATH_SIGNAL:
			snprintf(buf, n, "worker died: %s in kernel %s", info->signame[0] ? info->signame
			         : "a signal", k[0] ? k : "?");
			break;
		case VEO_DEATH_EXIT:
			snprintf(buf, n, "worker died: kernel %s called exit(%d)", k[0] ? k : "?",
			         info->exit_status);
			break;
		case VEO_DEATH_KILLED:
			if (k[0])
				snprintf(buf, n, "worker died: killed by %s while kernel %s ran",
				         info->signame[0] ? info->signame : "a signal", k);
			else
				snprintf(buf, n, "worker died: killed by %s",
				         info->signame[0] ? info->signame : "a signal");
			break;
		default: {
			/* the report's first line */
			size_t len = strcspn(info->report, "\n");
			snprintf(buf, n, "worker died: %.*s", (int)len,
			         info->report[0] ? info->report : "for an unknown reason");
		}
		}
	}
	PyMem_Free(info);
	return gone != 0;
}

static PyObject *
proc_repr(VeoProcObject *self)
{
	char why[512];
	if (!self->h)
		return PyUnicode_FromFormat("<VeoProc node %S (closed)>", self->nodeid);
	if (proc_not_alive_why(self, why, sizeof why))
		return PyUnicode_FromFormat("<VeoProc node %S, worker pid %d (%s)>", self->nodeid,
		                            (int)self->pid, why);
	Py_ssize_t nctx = self->context ? PyList_Size(self->context) : 0;
	Py_ssize_t nlib = self->lib ? PyDict_Size(self->lib) : 0;
	return PyUnicode_FromFormat("<VeoProc node %S, worker pid %d, %zd context%s, "
	                            "%zd librar%s>",
	                            self->nodeid, (int)self->pid, nctx,
	                            nctx == 1 ? "" : "s", nlib, nlib == 1 ? "y" : "ies");
}

static int declare_prototypes(PyObject *lib);

/* Loading and unloading run a library's constructors and destructors in
 * the worker, which may take long or never end: jobs (blocking.c). A load
 * given up on goes on in the worker; the library it loads is found again
 * by the next load_library of the path. */
typedef struct {
	bjob j;
	struct veo_proc_handle *h;
	uint64_t handle; /* the result of a load, the library of an unload */
	int rc;          /* the result of an unload */
	char path[];
} LibJob;

static void
load_run(bjob *j)
{
	LibJob *l = (LibJob *)j;
	l->handle = veo_load_library(l->h, l->path);
	if (!l->handle)
		copy_last_error(j->err, sizeof j->err);
}

static void
unload_run(bjob *j)
{
	LibJob *l = (LibJob *)j;
	l->rc = veo_unload_library(l->h, l->handle);
	if (l->rc != 0)
		copy_last_error(j->err, sizeof j->err);
}

PyDoc_STRVAR(proc_load_library_doc,
"load_library($self, path)\n--\n\n"
"Loads the kernel library at `path` (str, bytes or os.PathLike) into the\n"
"VE process and returns a VeoLibrary, also stored in `lib[path]`. Loading\n"
"a file that is already loaded and unchanged returns the same VeoLibrary.\n"
"A file that changed since it was loaded (rebuilt: another inode, size or\n"
"modification time) is loaded again, in the same proc: a new VeoLibrary\n"
"with the new code, while the old one's functions raise VeoError (\"was\n"
"reloaded\"). Refused (VeoError) while a kernel of the old version runs.");

/* The library already known by the C library's handle, or NULL. */
static VeoLibraryObject *
lib_by_handle(VeoProcObject *self, uint64_t handle)
{
	PyObject *key, *value;
	Py_ssize_t pos = 0;
	while (PyDict_Next(self->lib, &pos, &key, &value))
		if (VeoLibrary_Check(value) && !((VeoLibraryObject *)value)->unloaded &&
		    ((VeoLibraryObject *)value)->handle == handle)
			return (VeoLibraryObject *)value;
	return NULL;
}

/* The real path of a library's name (malloc'ed), or NULL. */
static char *
real_path_of(PyObject *name)
{
	PyObject *b = NULL;
	char *r;
	if (!PyUnicode_FSConverter(name, &b)) {
		PyErr_Clear();
		return NULL;
	}
	r = realpath(PyBytes_AS_STRING(b), NULL);
	Py_DECREF(b);
	return r;
}

/* Marks the loaded libraries that are the file `name` names as reloaded. */
static int
mark_reloaded(VeoProcObject *self, PyObject *name)
{
	char *want = real_path_of(name);
	PyObject *key, *value;
	Py_ssize_t pos = 0;
	while (PyDict_Next(self->lib, &pos, &key, &value)) {
		VeoLibraryObject *l = (VeoLibraryObject *)value;
		if (!VeoLibrary_Check(value) || l->unloaded || l->handle == 0)
			continue;
		int eq = PyUnicode_Check(l->name) ? PyUnicode_Compare(l->name, name) == 0 : 0;
		if (!eq && want) {
			char *have = real_path_of(l->name);
			eq = have && strcmp(have, want) == 0;
			free(have);
		}
		if (eq)
			l->unloaded = LIB_RELOADED;
	}
	free(want);
	return PyErr_Occurred() ? -1 : 0;
}

static PyObject *
proc_load_library(VeoProcObject *self, PyObject *path)
{
	PyObject *name = NULL, *bytes = NULL, *lib;
	if (proc_check(self) < 0)
		return NULL;
	if (!PyUnicode_FSDecoder(path, &name))
		return NULL;
	if (!PyUnicode_FSConverter(name, &bytes)) {
		Py_DECREF(name);
		return NULL;
	}
	/* Always asked: the worker knows whether the file changed since it
	 * loaded it (one round trip; loads are rare). */
	uint64_t handle;
	char err[ERRBUF] = "";
	size_t len = (size_t)PyBytes_GET_SIZE(bytes) + 1;
	LibJob *job = (LibJob *)bjob_new(sizeof(LibJob) + len, load_run, NULL);
	if (!job) {
		Py_DECREF(bytes);
		Py_DECREF(name);
		return NULL;
	}
	job->h = self->h;
	memcpy(job->path, PyBytes_AS_STRING(bytes), len);
	Py_DECREF(bytes);
	if (bjob_run(&job->j, self) < 0) {
		Py_DECREF(name);
		return NULL;
	}
	handle = job->handle;
	memcpy(err, job->j.err, sizeof err);
	bjob_free(&job->j);
	output_drain(self, 1); /* what the library's constructors printed */
	if (!handle) {
		raise_with_detail(VeoError, err, "load_library(%R) failed", name);
		Py_DECREF(name);
		return NULL;
	}
	VeoLibraryObject *same = lib_by_handle(self, handle);
	if (same) {
		/* Unchanged (perhaps loaded by another spelling of its path). */
		if (PyDict_SetDefault(self->lib, name, (PyObject *)same) == NULL) {
			Py_DECREF(name);
			return NULL;
		}
		Py_DECREF(name);
		Py_INCREF(same);
		return (PyObject *)same;
	}
	/* A new handle for a file we had loaded (by this name or another
	 * spelling of its path): the worker replaced the old version (its
	 * handle is gone), whose functions must not run. */
	if (mark_reloaded(self, name) < 0) {
		Py_DECREF(name);
		return NULL;
	}
	lib = lib_create(self, name, handle);
	VEO_LOG(LOG_DEBUG, "library loaded: %R, node %S", name, self->nodeid);
	Py_DECREF(name);
	if (lib && declare_prototypes(lib) < 0)
		Py_CLEAR(lib);
	return lib;
}

/* The functions whose prototypes VeBuild recorded in the library's file
 * are declared (veo.prototypes.declare): 0, or -1 with an exception. */
static int
declare_prototypes(PyObject *lib)
{
	PyObject *mod = PyImport_ImportModule("veo.prototypes"), *r;

	if (!mod)
		return -1;
	r = PyObject_CallMethod(mod, "declare", "O", lib);
	Py_DECREF(mod);
	Py_XDECREF(r);
	return r ? 0 : -1;
}

PyDoc_STRVAR(proc_unload_library_doc,
"unload_library($self, lib)\n--\n\n"
"Unloads a VeoLibrary from the VE process and removes it from `lib`. Its\n"
"functions and symbols cannot be used afterwards.");
static PyObject *
proc_unload_library(VeoProcObject *self, PyObject *arg)
{
	if (!VeoLibrary_Check(arg)) {
		PyErr_Format(PyExc_TypeError,
		             "unload_library(): expected a VeoLibrary, not %.100s",
		             Py_TYPE(arg)->tp_name);
		return NULL;
	}
	VeoLibraryObject *lib = (VeoLibraryObject *)arg;
	if (lib->proc != self) {
		PyErr_SetString(PyExc_ValueError,
		                "unload_library(): the library belongs to another VeoProc");
		return NULL;
	}
	if (proc_check(self) < 0)
		return NULL;
	if (lib->unloaded) {
		PyErr_Format(VeoError, "unload_library(): %R is already unloaded%s", lib->name,
		             lib->unloaded == LIB_RELOADED
		             ? " (its file changed and was loaded again)" : "");
		return NULL;
	}
	if (lib->handle == 0) {
		PyErr_SetString(PyExc_ValueError,
		                "unload_library(): the static library (the kernels "
		                "linked into the worker) cannot be unloaded");
		return NULL;
	}
	LibJob *job = (LibJob *)bjob_new(sizeof(LibJob), unload_run, NULL);
	if (!job)
		return NULL;
	job->h = self->h;
	job->handle = lib->handle;
	/* Given up on, the unload goes on: the library counts as unloaded. */
	lib->unloaded = 1;
	if (bjob_run(&job->j, self) < 0) {
		PyObject *et, *ev, *tb;
		PyErr_Fetch(&et, &ev, &tb);
		if (PyDict_GetItemWithError(self->lib, lib->name) == (PyObject *)lib)
			PyDict_DelItem(self->lib, lib->name);
		PyErr_Clear();
		PyErr_Restore(et, ev, tb);
		return NULL;
	}
	int rc = job->rc;
	char err[ERRBUF];
	memcpy(err, job->j.err, sizeof err);
	bjob_free(&job->j);
	if (rc != 0) {
		lib->unloaded = 0;
		return raise_with_detail(VeoError, err, "unload_library(%R) failed", lib->name);
	}
	VEO_LOG(LOG_DEBUG, "library unloaded: %R, node %S", lib->name, self->nodeid);
	PyObject *cur = PyDict_GetItemWithError(self->lib, lib->name);
	if (cur == (PyObject *)lib && PyDict_DelItem(self->lib, lib->name) < 0)
		return NULL;
	if (PyErr_Occurred())
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(proc_static_library_doc,
"static_library($self)\n--\n\n"
"The VeoLibrary named \"__static__\" for the kernels linked into the worker\n"
"(see VeBuild.build_veorun and VeoProc(node, veorun_bin)); its symbols are\n"
"looked up in the worker executable itself.");
static PyObject *
proc_static_library(VeoProcObject *self, PyObject *unused)
{
	if (proc_check(self) < 0)
		return NULL;
	PyObject *name = PyUnicode_FromString("__static__");
	if (!name)
		return NULL;
	PyObject *lib = PyDict_GetItemWithError(self->lib, name);
	if (lib && VeoLibrary_Check(lib)) {
		Py_DECREF(name);
		Py_INCREF(lib);
		return lib;
	}
	if (PyErr_Occurred()) {
		Py_DECREF(name);
		return NULL;
	}
	lib = lib_create(self, name, 0);
	Py_DECREF(name);
	return lib;
}

PyDoc_STRVAR(proc_alloc_mem_doc,
"alloc_mem($self, size)\n--\n\n"
"Allocates `size` bytes of VE memory; returns a VEMemPtr (an int whose\n"
"value is the VE address). Raises VeoMemoryError (a VeoError and a\n"
"MemoryError) if the VE has not that much memory free.");
static PyObject *
proc_alloc_mem(VeoProcObject *self, PyObject *size_o)
{
	uint64_t size, addr = 0;
	if (as_u64(size_o, &size, "alloc_mem(): size") < 0)
		return NULL;
	if (proc_check(self) < 0)
		return NULL;
	if (veo_alloc_mem(self->h, &addr, (size_t)size) != 0)
		return raise_with_detail(VeoMemoryError, veo_last_error(),
		                         "alloc_mem(%llu) failed", (unsigned long long)size);
	VEO_LOG(LOG_INFO, "alloc_mem: node %S, addr %s, %llu bytes", self->nodeid,
	        hex64(addr).s, (unsigned long long)size);
	return vemem_new(self, addr, size);
}

PyDoc_STRVAR(proc_free_mem_doc,
"free_mem($self, ptr)\n--\n\n"
"Frees VE memory from alloc_mem (a VEMemPtr of this proc, or its address\n"
"as an int). Host views of it (view()) read zeros from then on.");
static PyObject *
proc_free_mem(VeoProcObject *self, PyObject *ptr)
{
	uint64_t addr;
	if (ve_address(self, ptr, "free_mem(): ptr", &addr, NULL) < 0)
		return NULL;
	if (proc_check(self) < 0)
		return NULL;
	if (veo_free_mem(self->h, addr) != 0)
		return raise_with_detail(VeoError, veo_last_error(),
		                         "free_mem(%s) failed", hex64(addr).s);
	if (self->views)
		views_after_free(self);
	VEO_LOG(LOG_INFO, "free_mem: node %S, addr %s", self->nodeid, hex64(addr).s);
	Py_RETURN_NONE;
}

static PyObject *
proc_transfer(VeoProcObject *self, PyObject *args, PyObject *kw, int to_host)
{
	static char *kwlist_r[] = {"dst", "src", "size", NULL};
	const char *fn = to_host ? "read_mem()" : "write_mem()";
	PyObject *dst, *src, *size_o = Py_None;
	Py_buffer view;
	uint64_t addr;
	Py_ssize_t size;
	int rc;
	char err[ERRBUF] = "";

	if (!PyArg_ParseTupleAndKeywords(args, kw, to_host ? "OO|O:read_mem" : "OO|O:write_mem",
	                                 kwlist_r, &dst, &src, &size_o))
		return NULL;
	if (proc_check(self) < 0)
		return NULL;
	if (prepare_transfer(self, to_host ? dst : src, to_host ? src : dst, size_o,
	                     to_host, fn, &view, &addr, &size) < 0)
		return NULL;
	if (size >= GIL_FREE_COPY_BYTES) {
		/* in chunks, looking at signals between them (blocking.c) */
		rc = copy_in_chunks(self, to_host, view.buf, addr, (size_t)size, err, sizeof err);
		if (rc == -2) {
			PyBuffer_Release(&view);
			return NULL;
		}
	} else {
		rc = to_host ? veo_read_mem(self->h, view.buf, addr, (size_t)size)
		             : veo_write_mem(self->h, addr, view.buf, (size_t)size);
		if (rc != 0)
			copy_last_error(err, sizeof err);
	}
	PyBuffer_Release(&view);
	if (rc != 0)
		return raise_with_detail(VeoError, err, "%s of %zd bytes at VE address %s failed",
		                         fn, size, hex64(addr).s);
	VEO_LOG(LOG_INFO, "%s: node %S, %zd bytes %s VE address %s",
	        to_host ? "read_mem" : "write_mem", self->nodeid, size, to_host ? "from" : "to",
	        hex64(addr).s);
	Py_RETURN_NONE;
}

PyDoc_STRVAR(proc_read_mem_doc,
"read_mem($self, dst, src, size=None)\n--\n\n"
"Copies `size` bytes (default: the size of dst) from VE memory at `src`\n"
"(a VEMemPtr of this proc or an int address) into `dst`, a writable\n"
"contiguous buffer (bytearray, numpy array, ...). A read-only one (bytes)\n"
"is written into as py-veo does, with a VeoWarning. Synchronous; the GIL\n"
"is released during large copies, which Ctrl-C interrupts (dst is then\n"
"partly written).");
static PyObject *
proc_read_mem(VeoProcObject *self, PyObject *args, PyObject *kw)
{
	return proc_transfer(self, args, kw, 1);
}

PyDoc_STRVAR(proc_write_mem_doc,
"write_mem($self, dst, src, size=None)\n--\n\n"
"Copies `size` bytes (default: the size of src) from the contiguous host\n"
"buffer `src` to VE memory at `dst` (a VEMemPtr of this proc or an int\n"
"address). Synchronous; the GIL is released during large copies, which\n"
"Ctrl-C interrupts (the VE memory is then partly written).");
static PyObject *
proc_write_mem(VeoProcObject *self, PyObject *args, PyObject *kw)
{
	return proc_transfer(self, args, kw, 0);
}

PyDoc_STRVAR(proc_open_context_doc,
"open_context($self)\n--\n\n"
"Opens a context (a VE worker thread with an ordered queue of requests);\n"
"returns a VeoCtxt, also appended to `context`.");
static PyObject *
proc_open_context(VeoProcObject *self, PyObject *unused)
{
	VeoCtxtObject *c = (VeoCtxtObject *)VeoCtxt_Type.tp_alloc(&VeoCtxt_Type, 0);
	if (!c)
		return NULL;
	if (ctxt_open(c, self) < 0) {
		Py_DECREF(c);
		return NULL;
	}
	return (PyObject *)c;
}

PyDoc_STRVAR(proc_close_context_doc,
"close_context($self, ctx)\n--\n\n"
"Waits for the requests queued in `ctx`, closes it and removes it from\n"
"`context`. Results not collected before are lost. Ctrl-C interrupts the\n"
"wait (KeyboardInterrupt) and leaves the context open and usable.");
static PyObject *
proc_close_context(VeoProcObject *self, PyObject *arg)
{
	if (!VeoCtxt_Check(arg)) {
		PyErr_Format(PyExc_TypeError,
		             "close_context(): expected a VeoCtxt, not %.100s",
		             Py_TYPE(arg)->tp_name);
		return NULL;
	}
	VeoCtxtObject *c = (VeoCtxtObject *)arg;
	if (c->proc != self) {
		PyErr_SetString(PyExc_ValueError,
		                "close_context(): the context belongs to another VeoProc");
		return NULL;
	}
	if (proc_check(self) < 0)
		return NULL;
	if (c->ctx == NULL) {
		PyErr_SetString(VeoError, "close_context(): the context is already closed");
		return NULL;
	}
	Py_INCREF(c);
	int rc = ctxt_close(c);
	if (self->context && c->ctx == NULL) { /* not if interrupted: still open */
		Py_ssize_t i;
		for (i = 0; i < PyList_GET_SIZE(self->context); i++)
			if (PyList_GET_ITEM(self->context, i) == arg) {
				PyObject *err_t, *err_v, *err_tb;
				PyErr_Fetch(&err_t, &err_v, &err_tb);
				PyList_SetSlice(self->context, i, i + 1, NULL);
				PyErr_Restore(err_t, err_v, err_tb);
				break;
			}
	}
	Py_DECREF(c);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(proc_get_function_doc,
"get_function($self, name)\n--\n\n"
"The VeoFunction `name` already found (find_function or attribute access)\n"
"in one of the loaded libraries, or None.");
static PyObject *
proc_get_function(VeoProcObject *self, PyObject *name_o)
{
	PyObject *key, *value, *r = Py_None;
	Py_ssize_t pos = 0;
	if (!self->lib)
		Py_RETURN_NONE;
	PyObject *name = name_from(name_o, "get_function(): the name");
	if (!name)
		return NULL;
	while (PyDict_Next(self->lib, &pos, &key, &value)) {
		if (!VeoLibrary_Check(value))
			continue;
		PyObject *f = PyDict_GetItemWithError(((VeoLibraryObject *)value)->func, name);
		if (f || PyErr_Occurred()) {
			r = f;
			break;
		}
	}
	Py_DECREF(name);
	Py_XINCREF(r);
	return r;
}

PyDoc_STRVAR(proc_proc_identifier_doc,
"proc_identifier($self)\n--\n\n"
"The small integer naming this proc in the C library (veo_proc_identifier).");
static PyObject *
proc_proc_identifier(VeoProcObject *self, PyObject *unused)
{
	if (proc_check(self) < 0)
		return NULL;
	int id = veo_proc_identifier(self->h);
	if (id < 0)
		return raise_with_detail(VeoError, veo_last_error(), "veo_proc_identifier() failed");
	return PyLong_FromLong(id);
}

PyDoc_STRVAR(proc_close_doc,
"close($self)\n--\n\n"
"Stops the VE process now (as `del proc` or leaving a `with` block do).\n"
"Waits for threads inside the library, then destroys the proc: its\n"
"contexts, libraries, memory and uncollected results are gone. Closing a\n"
"closed proc does nothing.");
static PyObject *
proc_close_meth(VeoProcObject *self, PyObject *unused)
{
	if (proc_close(self) < 0)
		return NULL;
	Py_RETURN_NONE;
}

PyDoc_STRVAR(proc_enter_doc, "__enter__($self)\n--\n\nReturns the proc itself.");
static PyObject *
proc_enter(VeoProcObject *self, PyObject *unused)
{
	if (proc_check(self) < 0)
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

PyDoc_STRVAR(proc_exit_doc, "__exit__($self, *exc_info)\n--\n\nCloses the proc.");
static PyObject *
proc_exit(VeoProcObject *self, PyObject *args)
{
	if (proc_close(self) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

static PyMethodDef proc_methods[] = {
	{"load_library", (PyCFunction)proc_load_library, METH_O, proc_load_library_doc},
	{"unload_library", (PyCFunction)proc_unload_library, METH_O, proc_unload_library_doc},
	{"static_library", (PyCFunction)proc_static_library, METH_NOARGS, proc_static_library_doc},
	{"alloc_mem", (PyCFunction)proc_alloc_mem, METH_O, proc_alloc_mem_doc},
	{"free_mem", (PyCFunction)proc_free_mem, METH_O, proc_free_mem_doc},
	{"view", (PyCFunction)(void (*)(void))proc_view, METH_VARARGS | METH_KEYWORDS,
	 proc_view_doc},
	{"read_mem", (PyCFunction)(void (*)(void))proc_read_mem, METH_VARARGS | METH_KEYWORDS,
	 proc_read_mem_doc},
	{"write_mem", (PyCFunction)(void (*)(void))proc_write_mem, METH_VARARGS | METH_KEYWORDS,
	 proc_write_mem_doc},
	{"open_context", (PyCFunction)proc_open_context, METH_NOARGS, proc_open_context_doc},
	{"close_context", (PyCFunction)proc_close_context, METH_O, proc_close_context_doc},
	{"get_function", (PyCFunction)proc_get_function, METH_O, proc_get_function_doc},
	{"alloc_hmem", (PyCFunction)proc_alloc_hmem, METH_O, proc_alloc_hmem_doc},
	{"free_hmem", (PyCFunction)proc_free_hmem, METH_O, proc_free_hmem_doc},
	{"proc_identifier", (PyCFunction)proc_proc_identifier, METH_NOARGS,
	 proc_proc_identifier_doc},
	{"close", (PyCFunction)proc_close_meth, METH_NOARGS, proc_close_doc},
	{"__enter__", (PyCFunction)proc_enter, METH_NOARGS, proc_enter_doc},
	{"__exit__", (PyCFunction)proc_exit, METH_VARARGS, proc_exit_doc},
	/* py-veo's later API (hmem.c) */
	{"set_proc_identifier", (PyCFunction)proc_set_proc_identifier, METH_VARARGS,
	 proc_set_proc_identifier_doc},
	{"i64_to_addr", (PyCFunction)proc_i64_to_addr, METH_O, proc_i64_to_addr_doc},
	{"i64_to_memptr", (PyCFunction)proc_i64_to_addr, METH_O, proc_i64_to_addr_doc},
	{"proc_destroy", (PyCFunction)proc_proc_destroy, METH_NOARGS, proc_proc_destroy_doc},
	{NULL}
};

static PyObject *
proc_get_context(VeoProcObject *self, void *closure)
{
	PyObject *o = self->context ? self->context : Py_None;
	Py_INCREF(o);
	return o;
}

static PyObject *
proc_get_lib(VeoProcObject *self, void *closure)
{
	PyObject *o = self->lib ? self->lib : Py_None;
	Py_INCREF(o);
	return o;
}

static PyObject *
proc_get_closed(VeoProcObject *self, void *closure)
{
	return PyBool_FromLong(self->h == NULL);
}

static PyObject *
proc_get_alive(VeoProcObject *self, void *closure)
{
	char why[512];
	return PyBool_FromLong(!proc_not_alive_why(self, why, sizeof why));
}

static PyObject *
proc_get_pid(VeoProcObject *self, void *closure)
{
	return PyLong_FromLong((long)self->pid);
}

static PyObject *
proc_get_handle(VeoProcObject *self, void *closure)
{
	return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)self->h);
}

static PyObject *
proc_get_capture_output(VeoProcObject *self, void *closure)
{
	return PyBool_FromLong(self->out != NULL);
}

static PyGetSetDef proc_getset[] = {
	{"capture_output", (getter)proc_get_capture_output, NULL,
	 "True while the kernels' stdout and stderr are shown through sys.stdout and\n"
	 "sys.stderr (see VeoProc's capture_output argument).", NULL},
	{"context", (getter)proc_get_context, NULL,
	 "List of the open contexts (VeoCtxt).", NULL},
	{"lib", (getter)proc_get_lib, NULL,
	 "Dict of the loaded libraries: name -> VeoLibrary.", NULL},
	{"closed", (getter)proc_get_closed, NULL,
	 "True once the VE process was stopped.", NULL},
	{"alive", (getter)proc_get_alive, NULL,
	 "True while the proc can run kernels: False once it was closed, its\n"
	 "worker died (a kernel crashed or called exit(), it was killed), or in a\n"
	 "forked child for the parent's procs. repr(proc) says why.", NULL},
	{"pid", (getter)proc_get_pid, NULL,
	 "Process id of the worker (veorun) process.", NULL},
	{"tid", (getter)proc_get_pid, NULL,
	 "Thread id of the worker's main thread, which serves the proc's control "
	 "requests: the worker's pid (py-veo's attribute).", NULL},
	{"_proc_handle", (getter)proc_get_handle, NULL,
	 "The C handle (struct veo_proc_handle *) as an int, 0 when closed.", NULL},
	{NULL}
};

static PyMemberDef proc_members[] = {
	{"nodeid", T_OBJECT, offsetof(VeoProcObject, nodeid), READONLY,
	 "The VE node number (an int)."},
	{"veorun_bin", T_OBJECT, offsetof(VeoProcObject, veorun_bin), READONLY,
	 "The worker binary given to the constructor, or None."},
	{NULL}
};

PyDoc_STRVAR(proc_doc,
"VeoProc(nodeid, veorun_bin=None, capture_output=None)\n--\n\n"
"A running VE process on node `nodeid` (an int, or a string of digits such\n"
"as os.environ.get(\"VE_NODE_NUMBER\", 0); -1 means $VE_NODE_NUMBER).\n"
"`veorun_bin` is a worker with kernels linked in (VeBuild.build_veorun);\n"
"its kernels are in static_library(). Init hooks registered with\n"
"set_proc_init_hook(f) run as f(proc) at the end of the constructor.\n\n"
"capture_output: True shows what kernels write to stdout and stderr through\n"
"sys.stdout and sys.stderr, each request's output before its wait_result()\n"
"returns; False leaves the worker on the process's descriptors 1 and 2, as\n"
"in C; None (the default) captures when sys.stdout or sys.stderr is not the\n"
"process's own descriptor when the proc is created (Jupyter, IPython\n"
"kernels, pytest's capture).\n\n"
"The worker stops when the object is destroyed (del, garbage collection,\n"
"interpreter exit), on close(), or at the end of `with VeoProc(0) as p:`.");

PyTypeObject VeoProc_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "veo.VeoProc",
	.tp_basicsize = sizeof(VeoProcObject),
	.tp_dealloc = (destructor)proc_dealloc,
	.tp_repr = (reprfunc)proc_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_doc = proc_doc,
	.tp_traverse = (traverseproc)proc_traverse,
	.tp_clear = (inquiry)proc_clear,
	.tp_weaklistoffset = offsetof(VeoProcObject, weakreflist),
	.tp_methods = proc_methods,
	.tp_members = proc_members,
	.tp_getset = proc_getset,
	.tp_init = (initproc)proc_init,
	.tp_new = proc_new,
};

