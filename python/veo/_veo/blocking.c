/*
 * blocking.c: calls that may block for long, made so that Ctrl-C (any
 * Python signal handler that raises) reaches them. Python runs signal
 * handlers only in the main thread and only between bytecodes, so a
 * thread inside libveo never sees them; each call here waits in slices of
 * WAIT_SLICE_US with the GIL released and looks at signals between two
 * slices, never before the first, so that a call that finishes at once
 * costs nothing more.
 *
 *   jobs          a libveo call that has no time-out (starting a worker;
 *                 the control slot: loading and unloading libraries,
 *                 finding symbols, opening contexts, which all wait behind
 *                 a library constructor that hangs) runs on a helper
 *                 thread of its own; the caller waits for it in slices. If
 *                 a handler raises, the caller returns with the exception
 *                 and the job goes on: its `abandon` step then undoes what
 *                 it did (a started worker is stopped) when it ends.
 *   copies        read_mem / write_mem of large buffers go in chunks of
 *                 COPY_CHUNK bytes.
 *   context sync  veo_context_sync_timeout in slices.
 */
#include "module.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Bytes copied between two looks at signals: a few milliseconds of memcpy. */
#define COPY_CHUNK ((size_t)8 << 20)

/* ------------------------------------------------------------------------
 * Jobs on helper threads
 * --------------------------------------------------------------------- */

/* The job's memory is malloc's, not Python's: the helper thread frees an
 * abandoned job without the GIL, maybe after the interpreter has ended. */
bjob *
bjob_new(size_t size, void (*run)(bjob *), void (*abandon)(bjob *))
{
	bjob *j = calloc(1, size);
	pthread_condattr_t ca;

	if (!j) {
		PyErr_NoMemory();
		return NULL;
	}
	j->run = run;
	j->abandon = abandon;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	return j;
}

void
bjob_free(bjob *j)
{
	if (!j)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}

/* The helper thread: runs the job, then hands it back to its caller, or,
 * if the caller has gone (abandoned), finishes it off. The proc's job
 * count is the last thing of the proc it touches: once it is 0, a closer
 * may destroy the proc and free the object. */
static void *
bjob_thread(void *arg)
{
	bjob *j = arg;
	int abandoned;

	j->run(j);
	if (j->count)
		atomic_fetch_sub(j->count, 1);
	pthread_mutex_lock(&j->lock);
	j->done = 1;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {
		if (j->abandon)
			j->abandon(j);
		bjob_free(j);
	}
	return NULL;
}

/* Waits at most us microseconds for the job to end. 1 if it has. */
static int
bjob_wait(bjob *j, long us)
{
	struct timespec t;
	int done;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += us / 1000000;
	t.tv_nsec += (us % 1000000) * 1000;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &t) == 0)
		;
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	return done;
}

int
bjob_run(bjob *j, VeoProcObject *p)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc, done;

	if (p) {
		j->count = &p->jobs;
		atomic_fetch_add(&p->jobs, 1);
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&t, &attr, bjob_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		/* No thread to be had: run it here, without Ctrl-C. */
		Py_BEGIN_ALLOW_THREADS
		j->run(j);
		Py_END_ALLOW_THREADS
		if (j->count)
			atomic_fetch_sub(j->count, 1);
		return 0;
	}
	for (;;) {
		Py_BEGIN_ALLOW_THREADS
		done = bjob_wait(j, WAIT_SLICE_US);
		Py_END_ALLOW_THREADS
		if (done)
			return 0;
		if (PyErr_CheckSignals() < 0)
			break;
	}
	/* A handler raised: the job is the helper thread's from now on,
	 * unless it ended meanwhile, when it is finished off here. */
	pthread_mutex_lock(&j->lock);
	done = j->done;
	j->abandoned = !done;
	pthread_mutex_unlock(&j->lock);
	if (done) {
		if (j->abandon)
			j->abandon(j);
		bjob_free(j);
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Symbol lookups: on the control slot, behind a constructor that may hang
 * --------------------------------------------------------------------- */
typedef struct {
	bjob j;
	struct veo_proc_handle *h;
	uint64_t lib, addr;
	char name[VEO_SYMNAME_LEN_MAX + 1];
} SymJob;

static void
sym_run(bjob *j)
{
	SymJob *s = (SymJob *)j;
	s->addr = veo_get_sym(s->h, s->lib, s->name);
	if (!s->addr)
		copy_last_error(j->err, sizeof j->err);
}

int
lookup_sym(VeoProcObject *p, uint64_t lib, const char *name, uint64_t *addr, char *err,
           size_t errlen)
{
	SymJob *s = (SymJob *)bjob_new(sizeof(SymJob), sym_run, NULL);
	if (!s)
		return -1;
	s->h = p->h;
	s->lib = lib;
	snprintf(s->name, sizeof s->name, "%s", name);
	if (bjob_run(&s->j, p) < 0)
		return -1;
	*addr = s->addr;
	snprintf(err, errlen, "%s", s->addr ? "" : s->j.err);
	bjob_free(&s->j);
	return 0;
}

/* ------------------------------------------------------------------------
 * Copies in chunks
 * --------------------------------------------------------------------- */

int
copy_in_chunks(VeoProcObject *p, int to_host, char *host, uint64_t addr, size_t size,
               char *err, size_t errlen)
{
	size_t chunk = size;
	int rc = 0;

	/* Chunks only where each one is a copy of its own that cannot fail
	 * half-way for a reason the whole would not: a range inside one block
	 * of the heap (memcpy), or memory outside it, which libveo copies
	 * through the worker in pieces anyway. A heap address whose range
	 * runs past its block is left to one call, which refuses it whole. */
	if (size > 2 * COPY_CHUNK &&
	    (veo_host_view(p->h, addr, size) != NULL || veo_host_view(p->h, addr, 1) == NULL))
		chunk = COPY_CHUNK;
	for (size_t done = 0; done < size;) {
		size_t n = size - done < chunk ? size - done : chunk;

		UNLOCKED_BEGIN(p);
		rc = to_host ? veo_read_mem(p->h, host + done, addr + done, n)
		             : veo_write_mem(p->h, addr + done, host + done, n);
		if (rc != 0)
			copy_last_error(err, errlen);
		UNLOCKED_END();
		if (rc != 0)
			return -1;
		done += n;
		if (done == size)
			break;
		if (PyErr_CheckSignals() < 0)
			return -2;
		if (proc_check(p) < 0)
			return -2;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Context sync in slices
 * --------------------------------------------------------------------- */

int
ctxt_sync_sliced(VeoCtxtObject *c, int closer)
{
	VeoProcObject *p = c->proc;
	int rc;

	for (;;) {
		char err[ERRBUF] = "";

		UNLOCKED_BEGIN(p);
		rc = veo_context_sync_timeout(c->ctx, WAIT_SLICE_US);
		if (rc < 0)
			copy_last_error(err, sizeof err);
		UNLOCKED_END();
		if (rc == 0)
			return 0;
		if (rc < 0) {
			raise_with_detail(VeoError, err, "%s failed",
			                  closer ? "close_context()" : "context_sync()");
			return -1;
		}
		output_drain(p, 0); /* a long sync shows the kernels' progress */
		if (PyErr_CheckSignals() < 0)
			return -1;
		if (p->h == NULL || p->closing || c->ctx == NULL || (!closer && c->closing))
			return 1;
	}
}
