/*
 * syms.c: the symbol cache of a proc (syms.h): a hash table of (library,
 * name) -> address under its own lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syms.h"

static unsigned sym_hash(uint64_t lib, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ lib;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (unsigned)(h % SYM_BUCKETS);
}

void syms_init(struct syms *t)
{
	pthread_mutex_init(&t->lock, NULL);
	memset(t->bucket, 0, sizeof t->bucket);
}

void syms_free(struct syms *t)
{
	for (unsigned b = 0; b < SYM_BUCKETS; b++) {
		while (t->bucket[b]) {
			struct sym_entry *e = t->bucket[b];

			t->bucket[b] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&t->lock);
}

uint64_t syms_find(struct syms *t, uint64_t lib, const char *name)
{
	struct sym_entry *e;
	uint64_t addr;

	pthread_mutex_lock(&t->lock);
	for (e = t->bucket[sym_hash(lib, name)]; e; e = e->next)
		if (e->lib == lib && strcmp(e->name, name) == 0)
			break;
	addr = e ? e->addr : 0;
	pthread_mutex_unlock(&t->lock);
	return addr;
}

void syms_add(struct syms *t, uint64_t lib, const char *name, uint64_t addr)
{
	size_t n = strlen(name);
	struct sym_entry *e = malloc(sizeof *e + n + 1);
	unsigned b = sym_hash(lib, name);

	if (!e)
		return;
	e->lib = lib;
	e->addr = addr;
	memcpy(e->name, name, n + 1);
	pthread_mutex_lock(&t->lock);
	e->next = t->bucket[b];
	t->bucket[b] = e;
	pthread_mutex_unlock(&t->lock);
}

void syms_drop_lib(struct syms *t, uint64_t lib)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned b = 0; b < SYM_BUCKETS; b++) {
		struct sym_entry **pe = &t->bucket[b];

		while (*pe) {
			if ((*pe)->lib == lib) {
				struct sym_entry *e = *pe;

				*pe = e->next;
				free(e);
			} else {
				pe = &(*pe)->next;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void syms_clear(struct syms *t)
{
	pthread_mutex_lock(&t->lock);
	for (unsigned b = 0; b < SYM_BUCKETS; b++) {
		while (t->bucket[b]) {
			struct sym_entry *e = t->bucket[b];

			t->bucket[b] = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

const char *syms_name_of(struct syms *t, uint64_t addr, char *buf, size_t n)
{
	const char *found = NULL;

	pthread_mutex_lock(&t->lock);
	for (unsigned b = 0; b < SYM_BUCKETS && !found; b++)
		for (struct sym_entry *e = t->bucket[b]; e && !found; e = e->next)
			if (e->addr == addr) {
				snprintf(buf, n, "%s", e->name);
				found = buf;
			}
	pthread_mutex_unlock(&t->lock);
	return found;
}
