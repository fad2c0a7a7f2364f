/*
 * loader.c: the kernel libraries loaded into this VE process. A handle
 * given to the host is the dlopen() handle; it is only ever used after it
 * was found in this table, so a stale or made-up handle is an error, not a
 * crash. Only the control thread calls in here.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "worker.h"

static void **libs;
static size_t nlibs, caplibs;

static ssize_t find(uint64_t handle)
{
	for (size_t i = 0; i < nlibs; i++)
		if ((uint64_t)(uintptr_t)libs[i] == handle)
			return (ssize_t)i;
	return -1;
}

int loader_load(const char *path, uint64_t *handle, char *msg, size_t msglen)
{
	void *h;

	if (nlibs == caplibs) {
		size_t cap = caplibs ? caplibs * 2 : 16;
		void **n = realloc(libs, cap * sizeof *n);

		if (!n) {
			snprintf(msg, msglen, "out of memory");
			return VP_ST_ERROR;
		}
		libs = n;
		caplibs = cap;
	}
	dlerror();
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		const char *e = dlerror();

		snprintf(msg, msglen, "%s", e ? e : "dlopen failed");
		return VP_ST_ERROR;
	}
	if (find((uint64_t)(uintptr_t)h) < 0) /* loading twice gives one handle */
		libs[nlibs++] = h;
	else
		dlclose(h); /* keep one reference per handle in the table */
	*handle = (uint64_t)(uintptr_t)h;
	return VP_ST_OK;
}

int loader_unload(uint64_t handle, char *msg, size_t msglen)
{
	ssize_t i = find(handle);

	if (i < 0) {
		snprintf(msg, msglen, "library handle 0x%llx is not loaded",
		         (unsigned long long)handle);
		return VP_ST_ERROR;
	}
	if (dlclose(libs[i]) != 0) {
		const char *e = dlerror();

		snprintf(msg, msglen, "%s", e ? e : "dlclose failed");
		return VP_ST_ERROR;
	}
	libs[i] = libs[--nlibs];
	return VP_ST_OK;
}

int loader_sym(uint64_t handle, const char *name, uint64_t *addr, char *msg,
               size_t msglen)
{
	void *h = RTLD_DEFAULT, *sym;
	const char *e;

	if (handle != 0) {
		ssize_t i = find(handle);

		if (i < 0) {
			snprintf(msg, msglen, "library handle 0x%llx is not loaded",
			         (unsigned long long)handle);
			return VP_ST_ERROR;
		}
		h = libs[i];
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
