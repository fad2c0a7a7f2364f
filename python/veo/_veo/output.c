/*
 * output.c: a kernel's stdout and stderr shown through sys.stdout and
 * sys.stderr, for procs whose worker writes into pipes (capture_output,
 * veo_proc_create_with_flags with VEO_PROC_CAPTURE_*). Under Jupyter,
 * IPython's kernels or pytest's capture, Python's own output is no
 * descriptor, so what a kernel wrote to the descriptors would land
 * elsewhere (a terminal the notebook does not show, a later cell).
 *
 * How the bytes travel: a reader thread per proc (no GIL, never touches a
 * Python object) reads both pipes into memory as the worker writes, so a
 * kernel printing megabytes never blocks for long, whatever the Python
 * threads do; up to OUT_HELD_MAX bytes per stream are held, then the pipe
 * fills and the kernel waits (a kernel printing for ever while nobody
 * waits must not eat the host's memory). With the GIL, output_drain hands
 * what is held to sys.stdout.write / sys.stderr.write (the objects current
 * at that moment: the running cell's, capsys's). It runs when a request
 * completes (wait_result, peek_result, context_sync, close_context), on
 * each slice of a wait (so a long kernel's progress shows), after
 * load_library (constructors print) and once more after the worker ended
 * (close: exit handlers, a crash's last words).
 *
 * Order: the worker writes out what the kernel left in stdio before it
 * answers a call, so the bytes are in the pipe before the answer is seen;
 * a drain at completion reads the pipes itself (under the lock the reader
 * holds while reading) until they are empty, so every byte of the request
 * is written before wait_result returns, after what Python printed before
 * the call and before what it prints next. stdout and stderr are two
 * pipes: they interleave only per drain (a drain writes what it found on
 * stdout, then what it found on stderr).
 *
 * Costs: nothing for procs without capture (the inline test of p->out in
 * module.h); with it, a poll() system call per completed request.
 */
#include "module.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define OUT_HELD_MAX (64u << 20) /* bytes held per stream before the pipe may fill */
#define OUT_READ_CHUNK 65536
#define OUT_PIPE_MAX (2u << 20)  /* more than a pipe can hold (pipe-max-size: 1 MiB) */

struct out_stream {
	int fd;              /* our copy of the pipe's read end, -1 once at its end */
	char *buf;           /* read, not yet handed to Python: buf[0 .. len) */
	size_t len, cap;
	char tail[4];        /* an incomplete UTF-8 sequence kept for the next drain */
	Py_ssize_t ntail;
};

struct proc_output {
	pthread_mutex_t lock;    /* the streams' fds' reads and buffers */
	struct out_stream s[2];  /* 0: stdout, 1: stderr */
	int wake[2];             /* pipe: tells the reader to look again or stop */
	int stop;                /* under lock */
	int thread_started;
	int drainers;            /* threads in drain (under the GIL; a stream's
	                          * write() may release it): finish waits */
	pthread_t thread;
	pid_t owner;             /* the process that created it (fork) */
};

/* This process's id, kept up to date across fork() (pthread_atfork): a
 * forked child holds copies of its parent's output state, and must neither
 * read its parent's pipes nor touch the lock a reader held at the fork. */
static pid_t output_pid;
static pthread_once_t output_once = PTHREAD_ONCE_INIT;

static void
output_after_fork(void)
{
	output_pid = getpid();
}

static void
output_init_once(void)
{
	output_pid = getpid();
	pthread_atfork(NULL, NULL, output_after_fork);
}

/* Reads what s->fd holds into s->buf, without blocking; limit: stop once
 * the buffer holds that many bytes (the reader's back-pressure; a drain
 * passes SIZE_MAX). Under o->lock. */
static void
stream_read(struct out_stream *s, size_t limit)
{
	while (s->fd >= 0 && s->len < limit) {
		if (s->cap - s->len < OUT_READ_CHUNK) {
			size_t cap = s->cap ? s->cap * 2 : 2 * OUT_READ_CHUNK;
			char *b = realloc(s->buf, cap);
			if (!b)
				return; /* try again later */
			s->buf = b;
			s->cap = cap;
		}
		ssize_t r = read(s->fd, s->buf + s->len, OUT_READ_CHUNK);
		if (r > 0) {
			s->len += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		close(s->fd); /* end of file: every writer is gone */
		s->fd = -1;
	}
}

/* The reader thread: waits for either pipe to hold something, reads it.
 * A stream holding OUT_HELD_MAX bytes is not polled until a drain took
 * them (the drain writes to wake). */
static void *
output_reader(void *arg)
{
	struct proc_output *o = arg;

	pthread_setname_np(pthread_self(), "veo-output");
	for (;;) {
		struct pollfd pf[3];
		int n = 0, idx[2] = { -1, -1 };

		pthread_mutex_lock(&o->lock);
		if (o->stop) {
			pthread_mutex_unlock(&o->lock);
			return NULL;
		}
		for (int i = 0; i < 2; i++)
			if (o->s[i].fd >= 0 && o->s[i].len < OUT_HELD_MAX) {
				idx[i] = n;
				pf[n++] = (struct pollfd){ .fd = o->s[i].fd, .events = POLLIN };
			}
		pthread_mutex_unlock(&o->lock);
		pf[n++] = (struct pollfd){ .fd = o->wake[0], .events = POLLIN };
		if (poll(pf, (nfds_t)n, -1) < 0)
			continue; /* EINTR */
		if (pf[n - 1].revents) {
			char junk[64];
			while (read(o->wake[0], junk, sizeof junk) > 0)
				;
		}
		pthread_mutex_lock(&o->lock);
		for (int i = 0; i < 2; i++)
			if (idx[i] >= 0 && pf[idx[i]].revents)
				stream_read(&o->s[i], OUT_HELD_MAX);
		pthread_mutex_unlock(&o->lock);
	}
}

static void
output_free(struct proc_output *o)
{
	for (int i = 0; i < 2; i++) {
		if (o->s[i].fd >= 0)
			close(o->s[i].fd);
		free(o->s[i].buf);
	}
	for (int i = 0; i < 2; i++)
		if (o->wake[i] >= 0)
			close(o->wake[i]);
	PyMem_RawFree(o);
}

int
output_start(VeoProcObject *p)
{
	struct proc_output *o = PyMem_RawCalloc(1, sizeof *o);

	if (!o) {
		PyErr_NoMemory();
		return -1;
	}
	pthread_once(&output_once, output_init_once);
	o->owner = output_pid;
	o->wake[0] = o->wake[1] = -1;
	for (int i = 0; i < 2; i++) {
		int fd = veo_proc_output_fd(p->h, i + 1);
		o->s[i].fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
		if (o->s[i].fd < 0) {
			raise_with_detail(VeoError, fd < 0 ? veo_last_error() : strerror(errno),
			                  "VeoProc(): cannot read the worker's %s",
			                  i ? "stderr" : "stdout");
			output_free(o);
			return -1;
		}
	}
	if (pipe2(o->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		raise_with_detail(VeoError, strerror(errno), "VeoProc(): pipe");
		output_free(o);
		return -1;
	}
	pthread_mutex_init(&o->lock, NULL);
	int err = pthread_create(&o->thread, NULL, output_reader, o);
	if (err) {
		pthread_mutex_destroy(&o->lock);
		raise_with_detail(VeoError, strerror(err),
		                  "VeoProc(): cannot start the thread that reads the worker's output");
		output_free(o);
		return -1;
	}
	o->thread_started = 1;
	p->out = o;
	return 0;
}

/* Writes n bytes to descriptor fd (the fallback when the Python stream
 * cannot take them). */
static void
write_fd(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* Hands n bytes (after the stream's kept tail) to sys.stdout or sys.stderr
 * as text (UTF-8; bytes that are none shown as U+FFFD); an incomplete
 * sequence at the end is kept for the next drain unless final. Never
 * raises: a missing or failing stream gets the bytes on the descriptor
 * instead, and a KeyboardInterrupt raised inside its write() is raised
 * again at the next check for signals. */
static void
stream_emit(struct out_stream *s, int which, const char *b, size_t n, int final)
{
	char *joined = NULL;

	if (s->ntail) {
		joined = PyMem_Malloc((size_t)s->ntail + n);
		if (!joined) {
			write_fd(which + 1, s->tail, (size_t)s->ntail);
		} else {
			memcpy(joined, s->tail, (size_t)s->ntail);
			memcpy(joined + s->ntail, b, n);
			b = joined;
			n += (size_t)s->ntail;
		}
		s->ntail = 0;
	}
	if (n == 0)
		goto out;
	Py_ssize_t used = (Py_ssize_t)n;
	PyObject *text = PyUnicode_DecodeUTF8Stateful(b, (Py_ssize_t)n, "replace",
	                                              final ? NULL : &used);
	if (text && used < (Py_ssize_t)n && (Py_ssize_t)n - used <= (Py_ssize_t)sizeof s->tail) {
		s->ntail = (Py_ssize_t)n - used;
		memcpy(s->tail, b + used, (size_t)s->ntail);
	}
	PyObject *stream = PySys_GetObject(which ? "stderr" : "stdout"); /* borrowed */
	PyObject *r = NULL;
	if (text && stream && stream != Py_None)
		r = PyObject_CallMethod(stream, "write", "O", text);
	if (!r) {
		int interrupted = PyErr_Occurred() &&
		                  PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
		PyErr_Clear();
		write_fd(which + 1, b, (size_t)used);
		if (interrupted)
			PyErr_SetInterrupt();
	}
	Py_XDECREF(r);
	Py_XDECREF(text);
out:
	PyMem_Free(joined);
}

/* Takes what the reader holds (and, when complete, what the pipes hold
 * now) and hands it to Python. With the GIL. */
static void
drain(struct proc_output *o, int complete, int final)
{
	struct out_stream taken[2];
	int was_full = 0;

	pthread_mutex_lock(&o->lock);
	if (complete) {
		struct pollfd pf[2];
		nfds_t n = 0;
		for (int i = 0; i < 2; i++)
			if (o->s[i].fd >= 0)
				pf[n++] = (struct pollfd){ .fd = o->s[i].fd, .events = POLLIN };
		/* What the pipes hold now: at most a pipe's size each (64 KiB, at
		 * most pipe-max-size), past which a process still writing (another
		 * context's kernel, a helper a kernel forked) is left for later. */
		if (n && poll(pf, n, 0) > 0)
			for (int i = 0; i < 2; i++)
				stream_read(&o->s[i], o->s[i].len + OUT_PIPE_MAX);
	}
	for (int i = 0; i < 2; i++) {
		taken[i] = o->s[i];
		was_full |= o->s[i].len >= OUT_HELD_MAX;
		o->s[i].buf = NULL;
		o->s[i].len = o->s[i].cap = 0;
	}
	pthread_mutex_unlock(&o->lock);
	if (was_full && o->wake[1] >= 0)
		write_fd(o->wake[1], "w", 1);
	for (int i = 0; i < 2; i++) {
		if (taken[i].len || (final && o->s[i].ntail))
			stream_emit(&o->s[i], i, taken[i].buf ? taken[i].buf : "", taken[i].len, final);
		free(taken[i].buf);
	}
}

void
output_drain_held(VeoProcObject *p, int complete)
{
	struct proc_output *o = p->out;

	if (o->owner != output_pid)
		return; /* a forked child: these are the parent's pipes */
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	o->drainers++;
	drain(o, complete, 0);
	o->drainers--;
	PyErr_Restore(et, ev, tb);
}

void
output_finish(VeoProcObject *p)
{
	struct proc_output *o = p->out;

	if (!o)
		return;
	p->out = NULL;
	if (o->owner != output_pid) {
		/* A forked child's copy: no reader thread runs here, and the lock
		 * may have been held by the parent's at the fork. */
		output_free(o);
		return;
	}
	/* Another thread's drain may be inside a stream's write() (the GIL
	 * released there): it still uses o. p->out is NULL, so no new one. */
	while (o->drainers > 0)
		sleep_without_gil(1000);
	/* The worker has ended: what it wrote is in the pipes or held, unless
	 * a process it forked keeps writing (then only what is there now). */
	pthread_mutex_lock(&o->lock);
	o->stop = 1;
	pthread_mutex_unlock(&o->lock);
	write_fd(o->wake[1], "s", 1);
	Py_BEGIN_ALLOW_THREADS
	pthread_join(o->thread, NULL);
	Py_END_ALLOW_THREADS
	PyObject *et, *ev, *tb;
	PyErr_Fetch(&et, &ev, &tb);
	drain(o, 1, 1);
	PyErr_Restore(et, ev, tb);
	pthread_mutex_destroy(&o->lock);
	output_free(o);
}

/* Whether Python's stream `name` is not the process's own descriptor fd:
 * replaced by an object without a descriptor (Jupyter's OutStream,
 * pytest's capsys), or with another one (a copy, a capture file). */
static int
stream_replaced(const char *name, int fd)
{
	PyObject *s = PySys_GetObject(name); /* borrowed */
	if (!s || s == Py_None)
		return 0; /* nothing to show output through: the descriptors, as in C */
	PyObject *r = PyObject_CallMethod(s, "fileno", NULL);
	if (!r) {
		PyErr_Clear();
		return 1;
	}
	long v = PyLong_Check(r) ? PyLong_AsLong(r) : -1;
	Py_DECREF(r);
	if (v == -1 && PyErr_Occurred())
		PyErr_Clear();
	return v != fd;
}

int
output_wanted(void)
{
	return stream_replaced("stdout", 1) || stream_replaced("stderr", 2);
}
