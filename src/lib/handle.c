/*
 * handle.c: the registry of live malloc'ed handles (handle.h): their
 * addresses in an open-addressing hash set, under a lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

/* ---- live handles --------------------------------------------------------
 * Procs and contexts are slots of static pools (proc.h); veo_args and
 * veo_thr_ctxt_attr are malloc'ed, so a freed one cannot be checked by
 * looking at it. Their addresses are kept in an open-addressing hash set:
 * a handle is dereferenced only once it is found there.
 */
#define TOMBSTONE ((const void *)1)

static struct {
	pthread_mutex_t lock;
	const void **slots;
	size_t cap, used;   /* used counts live entries and tombstones */
} live = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

/* Unregistrations so far, and the memo of each thread: the handle it
 * found live last, and handle_frees then. While no handle has been
 * unregistered since, it is still live (handle.h): calls and argument
 * setters skip the lock. */
_Atomic uint64_t handle_frees;
_Thread_local struct handle_memo handle_memo;

static size_t live_hash(const void *p, size_t cap)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

/* Index of p, or of the empty slot where it would go (lock held). */
static size_t live_find(const void *p, int *found)
{
	size_t i = live_hash(p, live.cap), tomb = SIZE_MAX;

	for (;; i = (i + 1) & (live.cap - 1)) {
		if (live.slots[i] == p) {
			*found = 1;
			return i;
		}
		if (live.slots[i] == TOMBSTONE && tomb == SIZE_MAX)
			tomb = i;
		if (!live.slots[i]) {
			*found = 0;
			return tomb != SIZE_MAX ? tomb : i;
		}
	}
}

/* Rehashes into a table a quarter full at most (lock held). */
static int live_grow(void)
{
	size_t n = 0, cap = 64, old = live.cap;
	const void **o = live.slots, **t;
	int found;

	for (size_t i = 0; i < old; i++)
		n += o[i] && o[i] != TOMBSTONE;
	while (cap < (n + 1) * 4)
		cap *= 2;
	if (!(t = calloc(cap, sizeof *t)))
		return -1;
	live.slots = t;
	live.cap = cap;
	live.used = n;
	for (size_t i = 0; i < old; i++)
		if (o[i] && o[i] != TOMBSTONE)
			live.slots[live_find(o[i], &found)] = o[i];
	free(o);
	return 0;
}

int handle_register(const void *p)
{
	int found, rc = 0;

	pthread_mutex_lock(&live.lock);
	if ((live.used + 1) * 2 > live.cap && live_grow() != 0)
		rc = -1;
	else {
		size_t i = live_find(p, &found);

		if (!found) {
			if (!live.slots[i])
				live.used++;
			live.slots[i] = p;
		}
	}
	pthread_mutex_unlock(&live.lock);
	return rc;
}

int handle_unregister(const void *p)
{
	int found = 0;

	pthread_mutex_lock(&live.lock);
	if (p && live.cap) {
		size_t i = live_find(p, &found);

		if (found) {
			live.slots[i] = TOMBSTONE;
			atomic_fetch_add(&handle_frees, 1);
		}
	}
	pthread_mutex_unlock(&live.lock);
	return found ? 0 : -1;
}

int handle_live_lookup(const void *p)
{
	int found = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&live.lock);
	if (live.cap)
		live_find(p, &found);
	if (found) {
		handle_memo.live = p;
		handle_memo.frees = atomic_load(&handle_frees);
	}
	pthread_mutex_unlock(&live.lock);
	return found;
}
