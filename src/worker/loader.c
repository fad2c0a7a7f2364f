/*
 * loader.c: the kernel libraries loaded into this VE process. The host
 * gets a handle that is a number from this table, never reused and never
 * the dlopen() pointer, so a stale or made-up handle (a library unloaded
 * twice, an address passed by mistake) is an error, not a crash, even when
 * dlopen() hands out the same pointer again. Only the control thread calls
 * in here.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "worker.h"

struct lib {
	uint64_t handle;  /* what the host knows it by */
	void *dl;         /* the dlopen() handle, one reference */
};

static struct lib *libs;
static size_t nlibs, caplibs;
static uint64_t next_handle = 1;

_Atomic unsigned loader_generation;

static ssize_t find_handle(uint64_t handle)
{
	for (size_t i = 0; i < nlibs; i++)
		if (libs[i].handle == handle)
			return (ssize_t)i;
	return -1;
}

static ssize_t find_dl(void *dl)
{
	for (size_t i = 0; i < nlibs; i++)
		if (libs[i].dl == dl)
			return (ssize_t)i;
	return -1;
}

/* On the VE the math library and the OpenMP runtime are part of every
 * program, and kernel libraries rely on it: a kernel built with
 * `-shared -fopenmp` and no -lm that calls sqrt loads there. So they are
 * put in the global scope here before the first kernel library is, if the
 * system has them (an OpenMP runtime is optional). */
static void load_runtimes(void)
{
	static const char *const runtimes[] = { "libm.so.6", "libgomp.so.1" };
	static int done;

	if (done)
		return;
	done = 1;
	for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
		dlopen(runtimes[i], RTLD_NOW | RTLD_GLOBAL); /* kept for the process's life */
}

int loader_load(const char *path, uint64_t *handle, char *msg, size_t msglen)
{
	ssize_t i;
	void *h;

	if (nlibs == caplibs) {
		size_t cap = caplibs ? caplibs * 2 : 16;
		struct lib *n = realloc(libs, cap * sizeof *n);

		if (!n) {
			snprintf(msg, msglen, "out of memory");
			return VP_ST_ERROR;
		}
		libs = n;
		caplibs = cap;
	}
	load_runtimes();
	dlerror();
	/* RTLD_GLOBAL, as AVEO loads them: a library loaded earlier supplies
	 * symbols to later ones. */
	h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		const char *e = dlerror();

		snprintf(msg, msglen, "%s", e ? e : "dlopen failed");
		return VP_ST_ERROR;
	}
	if ((i = find_dl(h)) >= 0) {
		dlclose(h); /* loading twice gives one handle, one reference */
		*handle = libs[i].handle;
		return VP_ST_OK;
	}
	libs[nlibs] = (struct lib){ next_handle++, h };
	*handle = libs[nlibs++].handle;
	return VP_ST_OK;
}

/* The load address of a library being unloaded, 0 if none: calls into it
 * are refused from the moment it is set (dispatch.c's code search skips
 * it), so that none starts while the library goes. */
_Atomic uintptr_t loader_unloading;

/* A context running a kernel of the library whose link map is lm: its
 * slot, or -1. Called once loader_unloading and a new loader_generation
 * are visible to every context thread (membarrier): a call that started
 * before is seen here, one that starts after fails the code check. */
static int running_in(const struct link_map *lm)
{
	for (unsigned i = VP_SLOT_SYNC; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = worker_slot(i);
		struct link_map *fm = NULL;
		Dl_info di;
		uint64_t fn;

		if (atomic_load_explicit(&s->running_reqid, memory_order_acquire) == 0)
			continue;
		fn = atomic_load_explicit(&s->running_fn, memory_order_relaxed);
		if (dladdr1((void *)(uintptr_t)fn, &di, (void **)&fm, RTLD_DL_LINKMAP) && fm == lm)
			return (int)i;
	}
	return -1;
}

int loader_unload(uint64_t handle, char *msg, size_t msglen)
{
	ssize_t i = find_handle(handle);
	struct link_map *lm = NULL;
	int busy;
	void *dl;

	if (i < 0) {
		snprintf(msg, msglen, "library handle %llu is not loaded (never loaded, "
		         "or unloaded already)", (unsigned long long)handle);
		return VP_ST_ERROR;
	}
	dl = libs[i].dl;
	/* Unmapping the code of a running kernel would kill the VE process. */
	if (dlinfo(dl, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
		atomic_store(&loader_unloading, (uintptr_t)lm->l_addr);
		atomic_fetch_add_explicit(&loader_generation, 1, memory_order_release);
		worker_order_all();
		busy = running_in(lm);
		if (busy >= 0) {
			atomic_store(&loader_unloading, 0);
			snprintf(msg, msglen, "library in use by a running call (context slot %d): "
			         "unload it once the call has returned", busy);
			return VP_ST_ERROR;
		}
	}
	libs[i] = libs[--nlibs];
	/* Calls check function addresses again from now on (dispatch.c). */
	atomic_fetch_add_explicit(&loader_generation, 1, memory_order_release);
	if (dlclose(dl) != 0) {
		const char *e = dlerror();

		atomic_store(&loader_unloading, 0);
		snprintf(msg, msglen, "%s", e ? e : "dlclose failed");
		return VP_ST_ERROR;
	}
	atomic_store(&loader_unloading, 0);
	return VP_ST_OK;
}

int loader_sym(uint64_t handle, const char *name, uint64_t *addr, char *msg,
               size_t msglen)
{
	void *h = RTLD_DEFAULT, *sym;
	const char *e;

	if (handle != 0) {
		ssize_t i = find_handle(handle);

		if (i < 0) {
			snprintf(msg, msglen, "library handle %llu is not loaded (never "
			         "loaded, or unloaded already)", (unsigned long long)handle);
			return VP_ST_ERROR;
		}
		h = libs[i].dl;
	}
	dlerror();
	sym = dlsym(h, name);
	e = dlerror();
	if (e || !sym) {
		snprintf(msg, msglen, "symbol %s not found%s%s", name, e ? ": " : "",
		         e ? e : "");
		return VP_ST_ERROR;
	}
	*addr = (uint64_t)(uintptr_t)sym;
	return VP_ST_OK;
}
