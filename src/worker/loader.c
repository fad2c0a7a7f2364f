/*
 * loader.c: the kernel libraries loaded into this VE process. The host
 * gets a handle that is a number from this table, never reused and never
 * the dlopen() pointer, so a stale or made-up handle (a library unloaded
 * twice, an address passed by mistake) is an error, not a crash, even when
 * dlopen() hands out the same pointer again. Only the control thread calls
 * in here.
 *
 * Rebuilt libraries: dlopen() of a path it has loaded returns the object
 * it has, whatever the file now holds. So each path is kept with the
 * identity of its file (struct file_id); a load of a path whose file
 * changed stops calls into the old handle (refused while one of its
 * kernels runs: its code cannot be unmapped), loads the new version while
 * the old one is still mapped (see replace), then unloads the old one.
 * Where the dynamic loader has an object of the old file under the path's
 * name, the new version is loaded from a private copy (load_copy) under a
 * name nothing has. Calls of the old version's functions that were queued
 * find no code at their address ("not code of a loaded library"), or,
 * where the old object stays mapped (RTLD_NODELETE, C++ unique symbols, a
 * library another one needs), run its code: the host (py-veo) refuses
 * them before.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "worker.h"

/* What identifies the contents of a file without reading it: a rebuilt
 * library is a new file (a new inode: linkers write a new one) or, written
 * in place, has another size or modification time. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns;
};

/* A library loaded from a path (key: the file's real path, NULL for names
 * the dynamic loader searched for, which are never checked for changes).
 * handle 0 is a path whose handle was unloaded while the dynamic loader
 * kept its object mapped (RTLD_NODELETE, C++ unique symbols, a library
 * another one needs): a later load of the path must know it is there. */
struct lib {
	uint64_t handle;        /* what the host knows it by; 0: none (see above) */
	void *dl;               /* the dlopen() handle, one reference; NULL if none */
	char *key;              /* realpath of the file, or NULL */
	struct file_id id;      /* the file as this handle loaded it */
	int copy;               /* loaded from a private copy (load_copy) */
	/* The object the dynamic loader knows by the path's own name, if
	 * mapped: dlopen(path) returns it, whatever the file now holds. */
	int named;
	struct file_id named_id;
	uintptr_t named_base;
	char *named_lname;
};

static struct lib *libs;
static size_t nlibs, caplibs;
static uint64_t next_handle = 1;

/* Handles replaced by a reload, for the message of a later use: the last
 * few (older ones get the plain "not loaded" message). */
#define REPLACED_KEPT 32
static struct { uint64_t old, new; } replaced[REPLACED_KEPT];
static unsigned nreplaced;

/* Private copies loaded under /proc/self/fd/N names, with the path they
 * copy, for the crash report (faults.c). Written by the control thread
 * only, slots never freed (a handful per session). */
#define COPIES_KEPT 64
static struct { char lname[32]; char *path; } copies[COPIES_KEPT];
static _Atomic unsigned ncopies;

_Atomic unsigned loader_generation;

static ssize_t find_handle(uint64_t handle)
{
	for (size_t i = 0; i < nlibs; i++)
		if (handle && libs[i].handle == handle)
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

static ssize_t find_key(const char *key)
{
	for (size_t i = 0; i < nlibs; i++)
		if (libs[i].key && strcmp(libs[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

static void not_loaded(uint64_t handle, char *msg, size_t msglen)
{
	for (unsigned i = 0; i < nreplaced && i < REPLACED_KEPT; i++)
		if (replaced[i].old == handle && handle && replaced[i].new) {
			snprintf(msg, msglen, "library handle %llu was replaced by handle %llu: its "
			         "file changed and was loaded again", (unsigned long long)handle,
			         (unsigned long long)replaced[i].new);
			return;
		}
	snprintf(msg, msglen, "library handle %llu is not loaded (never loaded, or unloaded "
	         "already)", (unsigned long long)handle);
}

const char *loader_copy_of(const char *lname)
{
	unsigned n = atomic_load(&ncopies);

	for (unsigned i = 0; lname && i < n && i < COPIES_KEPT; i++)
		if (copies[i].path && strcmp(copies[i].lname, lname) == 0)
			return copies[i].path;
	return NULL;
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

static int same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

struct mapped_search {
	uintptr_t base;   /* match this load address too, unless 0 */
	const char *name;
	int found;
};

static int search_mapped(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mapped_search *ms = arg;

	(void)size;
	if (info->dlpi_name && strcmp(info->dlpi_name, ms->name) == 0 &&
	    (!ms->base || info->dlpi_addr == ms->base)) {
		ms->found = 1;
		return 1;
	}
	return 0;
}

/* Whether the dynamic loader has an object named name mapped (at base,
 * unless 0): dlopen(name) would return it. */
static int name_mapped(const char *name, uintptr_t base)
{
	struct mapped_search ms = { base, name, 0 };

	dl_iterate_phdr(search_mapped, &ms);
	return ms.found;
}

/* The dlopen() flags of a private copy: the older version is in the
 * global scope still, so the copy's references to its own functions and
 * variables must bind to itself first (RTLD_DEEPBIND), not to the older
 * version's. The sanitizers' runtimes refuse RTLD_DEEPBIND: built with
 * one, a copy binds as any library does (the test says so). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COPY_FLAGS (RTLD_NOW | RTLD_GLOBAL)
#else
#define COPY_FLAGS (RTLD_NOW | RTLD_GLOBAL | RTLD_DEEPBIND)
#endif

/* Loads a private copy of path: the dynamic loader would return the
 * object it already has under that name (an older version of the file
 * that could not be unmapped), so the file is copied into a memfd and
 * opened as /proc/self/fd/N, a name and an inode no loaded object has. */
static void *load_copy(const char *path, char *msg, size_t msglen)
{
	char lname[32], buf[65536];
	void *h = NULL;
	int src = open(path, O_RDONLY | O_CLOEXEC), mfd = -1;
	ssize_t r;

	if (src < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	mfd = memfd_create("openveo-reloaded-library", MFD_CLOEXEC);
	if (mfd < 0) {
		snprintf(msg, msglen, "cannot copy %s: memfd_create: %s", path, strerror(errno));
		goto out;
	}
	while ((r = read(src, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write(mfd, buf, (size_t)r) != r) {
			snprintf(msg, msglen, "cannot copy %s: %s", path, strerror(errno));
			goto out;
		}
	}
	/* A name no mapped object has: another copy's descriptor number may
	 * have been reused since. */
	for (;;) {
		snprintf(lname, sizeof lname, "/proc/self/fd/%d", mfd);
		if (!name_mapped(lname, 0))
			break;
		int higher = fcntl(mfd, F_DUPFD_CLOEXEC, mfd + 1);
		if (higher < 0) {
			snprintf(msg, msglen, "cannot copy %s: %s", path, strerror(errno));
			goto out;
		}
		close(mfd);
		mfd = higher;
	}
	dlerror();
	h = dlopen(lname, COPY_FLAGS);
	if (!h) {
		const char *e = dlerror();
		size_t n = strlen(lname);

		/* "/proc/self/fd/N: undefined symbol: x" names the copy */
		if (e && strncmp(e, lname, n) == 0)
			e += n;
		snprintf(msg, msglen, "%s%s", path, e ? e : ": dlopen failed");
		goto out;
	}
	/* Its name for the crash report: no other mapped object has lname, so
	 * an entry of an earlier copy of that name is stale. */
	unsigned k = atomic_load(&ncopies), j;
	char *dup = strdup(path);
	for (j = 0; j < k && strcmp(copies[j].lname, lname) != 0; j++)
		;
	if (dup && j < COPIES_KEPT) {
		/* The old string is not freed: a crash report may be reading it. */
		copies[j].path = NULL;
		snprintf(copies[j].lname, sizeof copies[j].lname, "%s", lname);
		copies[j].path = dup;
		if (j == k)
			atomic_store(&ncopies, k + 1);
	} else {
		free(dup);
	}
out:
	if (mfd >= 0)
		close(mfd); /* the mapping keeps the copy */
	close(src);
	return h;
}

/* path's real path (malloc'ed) and identity; 0, or -1 when path is a name
 * the dynamic loader searches for, or no file (dlopen says why). */
static int identify(const char *path, char **key, struct file_id *id)
{
	struct stat st;

	*key = NULL;
	if (!strchr(path, '/') || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	*key = realpath(path, NULL);
	if (!*key)
		return -1;
	*id = (struct file_id){ st.st_dev, st.st_ino, st.st_size,
	                        (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec };
	return 0;
}

static void lib_forget(size_t i)
{
	free(libs[i].key);
	free(libs[i].named_lname);
	libs[i] = libs[--nlibs];
}

static int running_in(const struct link_map *lm);

/* A reload keeps the old version mapped while the new one is loaded, so
 * that the new one lands elsewhere: a call of the old version queued
 * before the reload then finds no code at its address (a clean error),
 * never the new version's code at the same place. Loaded beside the old
 * one, the new version is a private copy (its path's name is the old's)
 * with RTLD_DEEPBIND. Under a sanitizer (no RTLD_DEEPBIND, see COPY_FLAGS)
 * the copy would bind to the old version's functions, so the old one is
 * unloaded first instead. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OLD_GOES_FIRST 1
#else
#define OLD_GOES_FIRST 0
#endif

static int unload_begin(void *dl, char *msg, size_t msglen);
static void unload_end(void *dl);

/* The file at path changed since libs[i] loaded it: stops calls into the
 * old handle's version (refused while one runs) and makes libs[i] a
 * record of the path only; *old is the dlopen() handle to close once the
 * new version is loaded (NULL if closed already, or none). */
static int replace(size_t i, const char *path, int *slot, void **old, char *msg,
                   size_t msglen)
{
	struct lib *l = &libs[i];
	char why[VP_MSG_MAX];

	*old = NULL;
	if (l->handle == 0)
		return VP_ST_OK;
	if (unload_begin(l->dl, why, sizeof why) != VP_ST_OK) {
		snprintf(msg, msglen, "%s changed since it was loaded, and the loaded version "
		         "cannot be unloaded (%s)", path, why);
		return VP_ST_ERROR;
	}
	*slot = (int)(nreplaced++ % REPLACED_KEPT);
	replaced[*slot].old = l->handle;
	replaced[*slot].new = 0;
	if (OLD_GOES_FIRST)
		unload_end(l->dl);
	else
		*old = l->dl;
	l->handle = 0;
	l->dl = NULL;
	return VP_ST_OK;
}

int loader_load(const char *path, uint64_t *handle, char *msg, size_t msglen)
{
	struct file_id id = { 0 };
	char *key = NULL;
	ssize_t i = -1;
	int copy = 0, slot = -1;
	uint64_t old_handle = 0;
	void *h, *old = NULL;

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
	if (identify(path, &key, &id) == 0 && (i = find_key(key)) >= 0) {
		struct lib *l = &libs[i];

		free(key);
		key = NULL;
		if (l->handle && same_file(&l->id, &id)) {
			*handle = l->handle; /* unchanged: loaded once */
			return VP_ST_OK;
		}
		old_handle = l->handle;
		if (replace((size_t)i, path, &slot, &old, msg, msglen) != VP_ST_OK)
			return VP_ST_ERROR;
		/* dlopen(path) returns what it has under that name, if anything */
		if (l->named && !name_mapped(l->named_lname, l->named_base))
			l->named = 0;
		copy = l->named && !same_file(&l->named_id, &id);
	}
	if (copy) {
		h = load_copy(path, msg, msglen);
	} else {
		dlerror();
		/* RTLD_GLOBAL, as AVEO loads them: a library loaded earlier
		 * supplies symbols to later ones. Beside the old version of a
		 * reload, RTLD_DEEPBIND (see COPY_FLAGS): the old one is in the
		 * global scope still, with the same names. */
		h = dlopen(path, old ? COPY_FLAGS : RTLD_NOW | RTLD_GLOBAL);
		if (!h) {
			const char *e = dlerror();

			snprintf(msg, msglen, "%s", e ? e : "dlopen failed");
		}
	}
	if (!h) {
		free(key);
		if (old) {
			/* The old version stays, as it was. */
			libs[i].handle = old_handle;
			libs[i].dl = old;
			replaced[slot].old = 0;
			atomic_store(&loader_unloading, 0);
		}
		return VP_ST_ERROR;
	}
	if (old) {
		unload_end(old);
		struct lib *r = &libs[i];
		if (r->named && !name_mapped(r->named_lname, r->named_base))
			r->named = 0;
	}
	ssize_t same = find_dl(h);
	if (same >= 0) {
		dlclose(h); /* loading twice gives one handle, one reference */
		free(key);
		*handle = libs[same].handle;
		return VP_ST_OK;
	}
	if (i < 0) {
		i = (ssize_t)nlibs++;
		libs[i] = (struct lib){ .key = key };
		key = NULL;
	}
	struct lib *l = &libs[i];
	struct link_map *lm = NULL;
	l->handle = next_handle++;
	l->dl = h;
	l->id = id;
	l->copy = copy;
	if (!copy && l->key && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm) {
		char *ln = strdup(lm->l_name);

		if (ln) {
			free(l->named_lname);
			l->named_lname = ln;
			l->named = 1;
			l->named_id = id;
			l->named_base = (uintptr_t)lm->l_addr;
		}
	}
	if (slot >= 0)
		replaced[slot].new = l->handle;
	*handle = l->handle;
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

/* Stops new calls into the library dl (dispatch.c's code check refuses
 * its load address from now on) and checks that none runs: VP_ST_OK with
 * loader_unloading set, for unload_end; or VP_ST_ERROR, with the message,
 * and nothing changed. */
static int unload_begin(void *dl, char *msg, size_t msglen)
{
	struct link_map *lm = NULL;
	int busy;

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
	return VP_ST_OK;
}

/* Closes dl (after unload_begin) and lets the code check forget it. */
static void unload_end(void *dl)
{
	/* Calls check function addresses again from now on (dispatch.c). */
	atomic_fetch_add_explicit(&loader_generation, 1, memory_order_release);
	dlclose(dl); /* fails only for a bad handle: ours are good */
	atomic_store(&loader_unloading, 0);
}

int loader_unload(uint64_t handle, char *msg, size_t msglen)
{
	ssize_t i = find_handle(handle);
	struct lib *l;

	if (i < 0) {
		not_loaded(handle, msg, msglen);
		return VP_ST_ERROR;
	}
	l = &libs[i];
	if (unload_begin(l->dl, msg, msglen) != VP_ST_OK)
		return VP_ST_ERROR;
	unload_end(l->dl);
	l->handle = 0;
	l->dl = NULL;
	/* A path whose object stays mapped is remembered (see struct lib). */
	if (l->named && !name_mapped(l->named_lname, l->named_base))
		l->named = 0;
	if (!l->key || !l->named)
		lib_forget((size_t)i);
	return VP_ST_OK;
}

int loader_sym(uint64_t handle, const char *name, uint64_t *addr, char *msg,
               size_t msglen)
{
	/* Handle 0 is the global scope: the program, what it was started
	 * with, and the libraries loaded since, as RTLD_DEFAULT searches it.
	 * But through the program's own handle: a dlsym(RTLD_DEFAULT) that
	 * finds a library's symbol records the program as depending on it,
	 * and the dynamic loader then never unmaps that library (it could
	 * not be unloaded, or replaced when its file changes). */
	static void *global;
	void *h, *sym;

	if (!global)
		global = dlopen(NULL, RTLD_NOW);
	h = global ? global : RTLD_DEFAULT;
	const char *e;

	if (handle != 0) {
		ssize_t i = find_handle(handle);

		if (i < 0) {
			not_loaded(handle, msg, msglen);
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
