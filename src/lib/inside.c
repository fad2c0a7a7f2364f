/*
 * inside.c: the slow parts of inside.h: finding out whether membarrier can
 * order the owners' stores, and waiting for the threads inside a handle.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "inside.h"

#if defined(__SANITIZE_THREAD__)
#define INSIDE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define INSIDE_TSAN 1
#endif
#endif

int inside_fenceless;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
#ifndef INSIDE_TSAN
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	inside_fenceless = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	                   syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
	                           0, 0) == 0;
#endif
}

void inside_init(void)
{
	pthread_once(&once, init);
}

void inside_wait(struct inside_count *n, uint32_t mine)
{
	long nap = 1000;

	/* Orders every owner's counting store before our reads (inside.h). */
	if (!inside_fenceless ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		atomic_thread_fence(memory_order_seq_cst);
	for (;;) {
		int owner = atomic_load_explicit(&n->owner, memory_order_relaxed) == vlock_self();
		uint32_t depth = atomic_load_explicit(&n->owner_depth, memory_order_acquire);
		uint32_t others = atomic_load_explicit(&n->others, memory_order_acquire);
		struct timespec ts = { 0, nap };

		/* Our own calls inside n are in one of the two words. */
		if ((owner ? depth - mine : depth) == 0 && (owner ? others : others - mine) == 0)
			return;
		nanosleep(&ts, NULL);
		if (nap < 1000000)
			nap *= 2;
	}
}
