/*
 * syms.h: a proc's cache of the symbols the host has looked up in its
 * worker (veo_get_sym), so a name is asked for once, and a running
 * kernel's address can be named when the worker dies.
 */
#ifndef OPENVEO_SYMS_H
#define OPENVEO_SYMS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SYM_BUCKETS 256

struct sym_entry {
	struct sym_entry *next;
	uint64_t lib;
	uint64_t addr;
	char name[];
};

/* Taken inside the proc's lock and the death lock, never around them. */
struct syms {
	pthread_mutex_t lock;
	struct sym_entry *bucket[SYM_BUCKETS];
};

void syms_init(struct syms *t);
void syms_free(struct syms *t);
/* The cached address of name in library lib (0: any library), or 0. */
uint64_t syms_find(struct syms *t, uint64_t lib, const char *name);
/* Remembers it (quietly does nothing without memory). */
void syms_add(struct syms *t, uint64_t lib, const char *name, uint64_t addr);
/* Forgets the symbols of a library being unloaded. */
void syms_drop_lib(struct syms *t, uint64_t lib);
/* Forgets every entry (a reload replaced a library: its handle's and the
 * global lookups' addresses may be stale). */
void syms_clear(struct syms *t);
/* The name under which the host found the function at addr, copied to
 * buf, or NULL. */
const char *syms_name_of(struct syms *t, uint64_t addr, char *buf, size_t n);

#endif
