/*
 * inside.c: the records of inside.h: registering a thread's, reusing those
 * of threads that ended, and waiting for the threads inside a handle.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inside.h"
#include "proc.h"

#if defined(__SANITIZE_THREAD__)
#define INSIDE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INSIDE_TSAN 1
#endif
#endif

_Thread_local struct inside_rec *inside_mine;
int inside_fenceless;

static _Atomic(struct inside_rec *) all;   /* every record, newest first */
static pthread_key_t end_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The thread ends: its record may serve another. */
static void thread_end(void *rec)
{
	struct inside_rec *r = rec;

	atomic_store_explicit(&r->handle, NULL, memory_order_release);
	atomic_store_explicit(&r->free, 1, memory_order_release);
}

static void init(void)
{
	pthread_key_create(&end_key, thread_end);
#ifndef INSIDE_TSAN
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	inside_fenceless = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	                   syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
	                           0, 0) == 0;
#endif
}

/* The calling thread's record: a free one taken over, or a new one. NULL
 * only without memory (then the thread's calls are not waited for, as
 * before records existed). */
struct inside_rec *inside_register(void)
{
	struct inside_rec *r;

	pthread_once(&once, init);
	for (r = atomic_load_explicit(&all, memory_order_acquire); r; r = r->next) {
		int was_free = 1;

		if (atomic_compare_exchange_strong(&r->free, &was_free, 0))
			break;
	}
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return NULL;
		r->next = atomic_load_explicit(&all, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&all, &r->next, r,
		                                              memory_order_release,
		                                              memory_order_relaxed))
			;
	}
	pthread_setspecific(end_key, r);
	inside_mine = r;
	return r;
}

/* Orders every thread's marking store before our reads (inside.h). */
static void order_others(void)
{
	if (!inside_fenceless ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		atomic_thread_fence(memory_order_seq_cst);
}

/* Waits, with naps growing to a millisecond, while a record other than
 * ours holds a handle in [lo, hi). */
static void wait_range(uintptr_t lo, uintptr_t hi)
{
	order_others();
	for (struct inside_rec *r = atomic_load_explicit(&all, memory_order_acquire); r;
	     r = r->next) {
		long nap = 1000;

		if (r == inside_mine)
			continue;
		for (;;) {
			uintptr_t h = (uintptr_t)atomic_load_explicit(&r->handle,
			                                              memory_order_acquire);
			struct timespec ts = { 0, nap };

			if (h < lo || h >= hi)
				break;
			nanosleep(&ts, NULL);
			if (nap < 1000000)
				nap *= 2;
		}
	}
}

void inside_wait_proc(const struct veo_proc_handle *p)
{
	/* The proc handle itself, and its contexts, which lie inside it. */
	wait_range((uintptr_t)p, (uintptr_t)(p + 1));
}

void inside_wait_ctx(const struct veo_thr_ctxt *c)
{
	wait_range((uintptr_t)c, (uintptr_t)(c + 1));
}
