/*
 * proc.c: VE processes. A proc is a worker process (veorun) started with
 * posix_spawn, a memfd both map (rings and heap, see protocol.h and
 * ring.h), a pipe whose closing tells the worker that the host is gone,
 * and a pidfd that tells the host that the worker is gone (death.c). This
 * file finds the worker, maps the memory, spawns, waits for the worker to
 * be ready and tears it all down again.
 *
 * Handles are slots of a static pool (proc_pool) that is never freed, so
 * a stale or foreign handle is recognised (address outside the pool, or a
 * cleared magic) instead of being dereferenced after free.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "death.h"
#include "error.h"
#include "inside.h"
#include "output.h"
#include "pace.h"
#include "proc.h"
#include "request.h"
#include "ring.h"
#include "shm_map.h"
#include "wait.h"

extern char **environ;

struct veo_proc_handle proc_pool[VEO_MAX_PROCS];
struct inside_count proc_counts[VEO_MAX_PROCS];
struct inside_count ctx_counts[VEO_MAX_PROCS][VP_MAX_SLOTS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;
static int pool_next;

static int in_pool(const struct veo_proc_handle *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)proc_pool;

	return p && a >= lo && a < (uintptr_t)(proc_pool + VEO_MAX_PROCS) &&
	       (a - lo) % sizeof *p == 0;
}

struct veo_proc_handle *proc_check(struct veo_proc_handle *p)
{
	if (in_pool(p) && __atomic_load_n(&p->magic, __ATOMIC_RELAXED) == PROC_MAGIC)
		return p;
	if (in_pool(p) && __atomic_load_n(&p->magic, __ATOMIC_RELAXED) == PROC_INHERITED)
		error_set("this proc belongs to process %d (inherited across fork): a child "
		          "can only destroy its copy, or create procs of its own", (int)p->creator);
	else
		error_set("bad proc handle %p (NULL, destroyed or not a proc)", (void *)p);
	return NULL;
}

void ctx_check_fail(const struct veo_thr_ctxt *c)
{
	if (ctx_inside((struct veo_thr_ctxt *)c) &&
	    __atomic_load_n(&c->magic, __ATOMIC_RELAXED) == CTX_INHERITED)
		error_set("this context belongs to process %d (inherited across fork): a "
		          "child can only close its copy", (int)c->proc->creator);
	else
		error_set("bad context handle %p (NULL, closed or not a context)",
		          (const void *)c);
}

/* ---- fork ----------------------------------------------------------------
 * A child inherits the parent's procs: their handles, descriptors and
 * mappings. It must never act on the parent's workers: in the child every
 * inherited proc and context is marked as such (their magic, so that every
 * call fails at its handle check, at no cost to the parent's calls), and
 * the pipe that tells the worker its host lives is closed, so that the
 * parent's death is still noticed. Destroying or closing one in the child
 * releases the child's copies only. */
static void after_fork_in_child(void)
{
	for (int i = 0; i < VEO_MAX_PROCS; i++) {
		struct veo_proc_handle *p = &proc_pool[i];

		/* A lock the parent's other threads held stays held in the
		 * copy: every context lock starts afresh (they are never set up
		 * again, context.h). */
		for (unsigned k = 0; k < VP_MAX_SLOTS; k++) {
			vlock_init(&p->ctx_store[k].lock);
			p->ctx_store[k].pins = 0;
		}
		if (p->magic != PROC_MAGIC)
			continue;
		p->magic = PROC_INHERITED;
		for (unsigned k = 0; k < VP_MAX_SLOTS; k++)
			if (p->ctx_store[k].magic == CTX_MAGIC)
				p->ctx_store[k].magic = CTX_INHERITED;
		if (p->pipe_wr >= 0) {
			close(p->pipe_wr);
			p->pipe_wr = -1;
		}
	}
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, after_fork_in_child);
}

/* What the host holds of a proc besides its contexts' tables: the
 * descriptors, the mapping and the heap's and symbol cache's memory. */
static void release_host_side(struct veo_proc_handle *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->pipe_wr >= 0)
		close(p->pipe_wr);
	if (p->notify_fd >= 0)
		close(p->notify_fd);
	if (p->completion_fd >= 0)
		close(p->completion_fd);
	for (int i = 0; i < 2; i++)
		if (p->out_fd[i] >= 0)
			close(p->out_fd[i]);
	if (p->base) {
		heap_destroy(&p->heap);
		munmap(p->base, p->size);
	}
	if (p->memfd >= 0)
		close(p->memfd);
	syms_free(&p->syms);
}

/* The child's copy of an inherited proc, let go: descriptors, mapping and
 * tables; nothing the worker or the parent shares is touched (no record,
 * no signal, no wait, no hole punched in the heap). */
static void release_inherited(struct veo_proc_handle *p)
{
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		req_ctx_forget(&p->ctx_store[i]);
	release_host_side(p);
	memset(p, 0, sizeof *p);
}

/* ---- finding the worker ------------------------------------------------ */

static int executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* $VEORUN_BIN, else next to libveo (installed or in the package), else
 * the build tree. */
static int find_worker(char *out, size_t n)
{
	const char *env = getenv("VEORUN_BIN");
	Dl_info info;

	if (env && *env) {
		if (!executable(env))
			return error_set("VEORUN_BIN=%s is not an executable file", env);
		snprintf(out, n, "%s", env);
		return 0;
	}
	if (dladdr((void *)veo_proc_create, &info) && info.dli_fname) {
		char lib[PATH_MAX], *slash;

		if (realpath(info.dli_fname, lib) && (slash = strrchr(lib, '/'))) {
			*slash = '\0';
			if ((size_t)snprintf(out, n, "%s/veorun", lib) < n && executable(out))
				return 0;
			if ((size_t)snprintf(out, n, "%s/%s/veorun", lib, OPENVEO_WORKER_REL) < n &&
			    executable(out))
				return 0;
		}
	}
	snprintf(out, n, "%s", OPENVEO_BUILD_WORKER);
	if (executable(out))
		return 0;
	return error_set("cannot find the worker program veorun (set VEORUN_BIN)");
}

/* ---- environment ------------------------------------------------------- */

/* gfortran buffers units 6 and 0 when they are files, and writes them
 * out only when its runtime ends; unbuffered, a WRITE statement is one
 * write(), as on a terminal or a pipe, and kernel output arrives call by
 * call without the worker asking gfortran for anything. A user's own
 * setting (or VE_GFORTRAN_UNBUFFERED_PRECONNECTED) is kept. */
#define GFORTRAN_UNBUFFERED "GFORTRAN_UNBUFFERED_PRECONNECTED="

/* The host's OMP_NUM_THREADS sizes the host's own OpenMP teams; the
 * worker's team size comes from VE_OMP_NUM_THREADS alone, as on a VE.
 * Without it the worker's OpenMP runtime takes its default, a thread per
 * CPU the worker may run on: measured on 2 CPUs (bench/veo_omp), a team of
 * 2 runs kernels twice as fast as a team of 1 through openveo, at the same
 * ratio to in-process, and the waiting host thread takes 1-12 us of CPU
 * per call of 0.3-3 ms, so leaving it a CPU of its own would cost far more
 * than it saves. */
#define OMP_NUM_THREADS "OMP_NUM_THREADS="

/* The host's environment, where VE_NAME=value also gives NAME=value (and
 * replaces the host's NAME), as VEOS does for VE programs, without the
 * host's OMP_NUM_THREADS (above); and GFORTRAN_UNBUFFERED_PRECONNECTED=y
 * unless that is set. */
static char **worker_env(void)
{
	size_t n = 0, k = 0;
	int fortran_set = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(2 * n + 2, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i], *eq = strchr(e, '=');
		int shadowed = 0;

		if (!eq)
			continue;
		for (size_t j = 0; j < n && !shadowed; j++) {
			const char *v = environ[j];

			shadowed = strncmp(v, "VE_", 3) == 0 &&
			           strncmp(v + 3, e, (size_t)(eq - e + 1)) == 0;
		}
		if (!shadowed && strncmp(e, OMP_NUM_THREADS, sizeof OMP_NUM_THREADS - 1) != 0)
			env[k++] = (char *)e;
		if (strncmp(e, "VE_", 3) == 0 && eq > e + 3)
			env[k++] = (char *)e + 3;
	}
	for (size_t i = 0; i < k; i++)
		fortran_set |= strncmp(env[i], GFORTRAN_UNBUFFERED,
		                       sizeof GFORTRAN_UNBUFFERED - 1) == 0;
	if (!fortran_set)
		env[k++] = GFORTRAN_UNBUFFERED "y";
	env[k] = NULL;
	return env;
}

/* ---- start-up ---------------------------------------------------------- */

/* Bytes of address space this process may still map under RLIMIT_AS
 * (`ulimit -v`, batch schedulers), or UINT64_MAX without a limit. */
static uint64_t address_space_left(void)
{
	struct rlimit rl;
	unsigned long long pages = 0;
	uint64_t used;
	FILE *f;

	if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	used = (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
	return rl.rlim_cur > used ? rl.rlim_cur - used : 0;
}

/* The VE heap's size: $VEO_HEAP_SIZE, else the machine's memory (reserved,
 * not committed). Under an address-space limit the default is what fits:
 * half of what the host may still map, less the rings (fixed bytes); the
 * worker inherits the limit and maps as much, and kernels need room for
 * their own memory there. 0, with a message, if no heap fits. */
static uint64_t heap_size_for(uint64_t fixed)
{
	const char *s = getenv("VEO_HEAP_SIZE");
	uint64_t left = address_space_left(), size;
	struct sysinfo si;

	if (s && *s) {
		char *end;
		unsigned long long v = strtoull(s, &end, 0);

		if (*end == 'G' || *end == 'g')
			v <<= 30;
		else if (*end == 'M' || *end == 'm')
			v <<= 20;
		if (v >= (64u << 20))
			return vp_align_up(v, 2u << 20);
	}
	if (sysinfo(&si) != 0)
		size = 16ull << 30;
	else
		size = vp_align_up((uint64_t)si.totalram * si.mem_unit, 1ull << 30);
	if (left != UINT64_MAX) {
		uint64_t fits = left / 2 > fixed ? (left / 2 - fixed) & ~((2ull << 20) - 1) : 0;

		if (fits < (64u << 20)) {
			error_set("no VE heap fits under the address-space limit (RLIMIT_AS, "
			          "`ulimit -v`): %llu MiB left to map; raise the limit, or set "
			          "VEO_HEAP_SIZE (at least 64M) to what the program needs",
			          (unsigned long long)(left >> 20));
			return 0;
		}
		if (size > fits)
			size = fits;
	}
	return size;
}

static int fd_high(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return h;
}

static int map_shared(struct veo_proc_handle *p)
{
	uint64_t stride = vp_align_up(sizeof(struct vp_slot), 4096);
	uint64_t heap_off = vp_align_up(VP_HEADER_BYTES + stride * VP_MAX_SLOTS, 2u << 20);
	struct vp_shm_header *h;

	p->heap_size = heap_size_for(heap_off);
	if (p->heap_size == 0)
		return -1;
	p->size = heap_off + p->heap_size;
	p->memfd = (int)syscall(SYS_memfd_create, "openveo", MFD_CLOEXEC);
	if (p->memfd < 0 || (p->memfd = fd_high(p->memfd)) < 0)
		return error_set("memfd_create: %s", strerror(errno));
	if (ftruncate(p->memfd, (off_t)p->size) != 0)
		return error_set("cannot size the shared memory: %s", strerror(errno));
	/* Aligned, the heap advised for huge pages (shm_map.h); the worker maps
	 * it the same way. */
	p->base = vp_shm_map(p->memfd, p->size, heap_off, p->heap_size);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return error_set("cannot map %llu bytes of shared memory: %s%s",
		                (unsigned long long)p->size, strerror(errno),
		                errno == ENOMEM ? " (an address-space limit, `ulimit -v`? "
		                                  "VEO_HEAP_SIZE sets the VE heap's size)" : "");
	}
	h = p->hdr = (struct vp_shm_header *)p->base;
	h->magic = VP_MAGIC;
	h->version = VP_VERSION;
	h->max_slots = VP_MAX_SLOTS;
	h->slots_offset = p->slots_offset = VP_HEADER_BYTES;
	h->slot_stride = p->slot_stride = stride;
	h->heap_offset = heap_off;
	h->heap_size = p->heap_size;
	h->total_size = p->size;
	h->proc_ident = p->ident;
	h->crash.slot = -1;
	/* No spinner of the control slot has a CPU yet (wait.h); a context's
	 * are reset when it opens (ctx_init). */
	atomic_store(&proc_slot(p, VP_SLOT_CTL)->host_cpu, UINT32_MAX);
	atomic_store(&proc_slot(p, VP_SLOT_CTL)->worker_cpu, UINT32_MAX);
	p->heap_host = p->base + heap_off;
	if (heap_init(&p->heap, p->memfd, heap_off, p->heap_size) != 0)
		return error_set("cannot set up the VE heap");
	heap_use_mapping(&p->heap, p->heap_host);
	return 0;
}

/* The pipes that become the worker's stdout and stderr (flags
 * VEO_PROC_CAPTURE_*): the host keeps the read ends, non-blocking, in
 * p->out_fd; the write ends, in wr[], are the worker's only (closed here
 * once it is spawned). The pipes keep the kernel's default size, 64 KiB:
 * larger ones (F_SETPIPE_SZ) count against the user's pipe-user-pages-soft
 * limit, past which every new pipe of the user's is made tiny. */
static int output_pipes(struct veo_proc_handle *p, unsigned flags, int wr[2])
{
	for (int i = 0; i < 2; i++) {
		int pfd[2];

		if (!(flags & (i == 0 ? VEO_PROC_CAPTURE_STDOUT : VEO_PROC_CAPTURE_STDERR)))
			continue;
		if (pipe2(pfd, O_CLOEXEC) != 0)
			return error_set("pipe for the worker's %s: %s", i ? "stderr" : "stdout",
			                 strerror(errno));
		p->out_fd[i] = fd_high(pfd[0]);
		wr[i] = fd_high(pfd[1]);
		if (p->out_fd[i] < 0 || wr[i] < 0 ||
		    fcntl(p->out_fd[i], F_SETFL, O_NONBLOCK) != 0)
			return error_set("pipe for the worker's %s: %s", i ? "stderr" : "stdout",
			                 strerror(errno));
	}
	return 0;
}

static int spawn_worker(struct veo_proc_handle *p, const char *bin, unsigned flags)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t all, none;
	int pfd[2], err, out_wr[2] = { -1, -1 };
	char *argv[] = { (char *)bin, "--openveo", NULL };
	char **env = worker_env();

	if (!env)
		return error_set("out of memory");
	if (output_pipes(p, flags, out_wr) != 0) {
		for (int i = 0; i < 2; i++)
			if (out_wr[i] >= 0)
				close(out_wr[i]);
		free(env);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		for (int i = 0; i < 2; i++)
			if (out_wr[i] >= 0)
				close(out_wr[i]);
		free(env);
		return error_set("pipe: %s", strerror(errno));
	}
	pfd[0] = fd_high(pfd[0]);
	p->pipe_wr = fd_high(pfd[1]);
	p->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->notify_fd < 0 || (p->notify_fd = fd_high(p->notify_fd)) < 0) {
		close(pfd[0]);
		for (int i = 0; i < 2; i++)
			if (out_wr[i] >= 0)
				close(out_wr[i]);
		free(env);
		return error_set("eventfd: %s", strerror(errno));
	}

	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 2; i++)
		if (out_wr[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, out_wr[i], STDOUT_FILENO + i);
	posix_spawn_file_actions_adddup2(&fa, p->memfd, VP_WORKER_SHM_FD);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], VP_WORKER_PIPE_FD);
	posix_spawn_file_actions_adddup2(&fa, p->notify_fd, VP_WORKER_NOTIFY_FD);
	/* The worker inherits stdin/out/err and these three, nothing else. */
	posix_spawn_file_actions_addclosefrom_np(&fa, VP_WORKER_NOTIFY_FD + 1);
	posix_spawnattr_init(&sa);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setsigmask(&sa, &none);
	/* A process group of its own: the signals a terminal sends to the
	 * host's (foreground) group (Ctrl-C, Ctrl-\, Ctrl-Z, a hang-up), and a
	 * notebook's interrupt of the group, are the host's, not the worker's.
	 * Not a session of its own: the scheduler's autogroups are per session,
	 * and a worker in another one gets half the machine against a busy host
	 * (two 50 us kernels on two contexts ran at 1.0x of one instead of
	 * 2.1x). The worker ignores SIGTTOU and SIGTTIN, which a background
	 * group gets for the terminal (main.c), and notices the host's death by
	 * its pipe and pidfd. */
	posix_spawnattr_setpgroup(&sa, 0);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
	                              POSIX_SPAWN_SETPGROUP);
	err = posix_spawn(&p->pid, bin, &fa, &sa, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(pfd[0]);
	for (int i = 0; i < 2; i++)
		if (out_wr[i] >= 0)
			close(out_wr[i]);
	free(env);
	if (err) {
		p->pid = 0;
		return error_set("cannot start the worker %s: %s", bin, strerror(err));
	}
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd >= 0)
		p->pidfd = fd_high(p->pidfd);
	return 0;
}

void proc_kill(struct veo_proc_handle *p)
{
	/* Through the pidfd when there is one: it cannot name another
	 * process even if someone else reaped the worker. */
	if (p->pidfd < 0 || syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) != 0)
		if (p->pidfd < 0 || errno == ENOSYS)
			kill(p->pid, SIGKILL);
}

static int wait_ready(struct veo_proc_handle *p)
{
	uint64_t limit = vp_now_ns() + 60ull * 1000000000ull;
	/* Sleeps of 25 us to 1.6 ms, over and over: each one that times out
	 * tells how late this machine ends timed sleeps (pace.c), the
	 * worker's start-up takes milliseconds anyway, and its readiness
	 * wakes us at once. */
	unsigned probe = 0;

	for (;;) {
		uint32_t st = atomic_load(&p->hdr->worker_state);

		if (st == VP_WORKER_READY)
			break;
		if (st != VP_WORKER_STARTING || death_check(p, 1)) {
			death_check(p, 1);
			return error_set("the worker did not start: %s", death_msg(p));
		}
		if (vp_now_ns() > limit)
			return error_set("the worker did not start within 60 s");
		pace_sleep_until(&p->hdr->worker_state, st, &p->hdr->state_sleepers,
		                 vp_now_ns() + (25000ull << (probe++ % 7)));
	}
	p->heap_ve = p->hdr->worker_heap_base;
	if (p->heap_ve == 0 || p->heap_ve + p->heap_size < p->heap_ve)
		return error_set("the worker reported a bad heap address");
	return 0;
}

/* exit_sent: a VP_OP_EXIT was pushed to the worker. */
static void proc_teardown(struct veo_proc_handle *p, int exit_sent)
{
	if (p->pid > 0) {
		struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
		int status;

		/* The worker exits on VP_OP_EXIT (served by its main thread, so a
		 * kernel that never returns does not hold it up), through exit()
		 * and the kernels' exit handlers; or, at once, on seeing the pipe
		 * close, which therefore stays open while it leaves. Give it half
		 * a second, then make sure. */
		if (!exit_sent && p->pipe_wr >= 0) {
			close(p->pipe_wr);
			p->pipe_wr = -1;
		}
		if (p->pidfd < 0 || poll(&pf, 1, 500) <= 0)
			proc_kill(p);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		if (p->ctx_store[i].reqs)
			req_ctx_release(&p->ctx_store[i]);
	release_host_side(p);
	pthread_mutex_destroy(&p->lock);
	/* All but the contexts, which late callers of a destroyed handle may
	 * still look at (their magic, self and count, ctx_check): each is
	 * freed already and set up afresh when it is opened again. */
	memset(p, 0, offsetof(struct veo_proc_handle, ctx_store));
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		p->ctx_store[i].in_use = 0;
}

/* The lowest identifier that no proc in use holds (pool_lock held): the
 * first 16 live procs can have hmem pointers (hmem.h), whichever slots of
 * the pool they occupy. There are fewer procs than identifiers. */
static int free_ident(void)
{
	uint64_t taken = 0;
	int id = 0;

	for (int i = 0; i < VEO_MAX_PROCS; i++)
		if (__atomic_load_n(&proc_pool[i].magic, __ATOMIC_RELAXED) != 0)
			taken |= 1ull << proc_pool[i].ident;
	while (taken >> id & 1)
		id++;
	return id;
}

struct veo_proc_handle *proc_by_ident(int ident)
{
	for (int i = 0; i < VEO_MAX_PROCS; i++)
		if (__atomic_load_n(&proc_pool[i].magic, __ATOMIC_ACQUIRE) == PROC_MAGIC &&
		    proc_pool[i].ident == ident)
			return &proc_pool[i];
	return NULL;
}

static struct veo_proc_handle *create(int venode, const char *bin, unsigned flags)
{
	struct veo_proc_handle *p = NULL;
	char path[PATH_MAX];

	if (venode == -1) {
		const char *s = getenv("VE_NODE_NUMBER");

		venode = s && *s ? atoi(s) : 0;
	}
	if (flags & ~(VEO_PROC_CAPTURE_STDOUT | VEO_PROC_CAPTURE_STDERR)) {
		error_set("veo_proc_create_with_flags: unknown flags 0x%x", flags);
		return NULL;
	}
	if (venode < 0 || venode >= VEO_MAX_NODES) {
		error_set("VE node %d does not exist (openveo has nodes 0..%d)", venode,
		         VEO_MAX_NODES - 1);
		return NULL;
	}
	if (bin) {
		if (!executable(bin)) {
			error_set("worker %s is not an executable file", bin);
			return NULL;
		}
		snprintf(path, sizeof path, "%s", bin);
	} else if (find_worker(path, sizeof path) != 0) {
		return NULL;
	}

	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < VEO_MAX_PROCS; i++) {
		int k = (pool_next + i) % VEO_MAX_PROCS;

		if (proc_pool[k].magic == 0 && proc_pool[k].pid == 0 && !proc_pool[k].base) {
			p = &proc_pool[k];
			p->ident = free_ident();
			p->magic = 1; /* reserved, not yet live */
			pool_next = k + 1;
			break;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	if (!p) {
		error_set("too many VE processes (at most %d at once)", VEO_MAX_PROCS);
		return NULL;
	}
	p->node = venode;
	p->creator = getpid();
	p->memfd = p->pidfd = p->pipe_wr = p->notify_fd = p->completion_fd = -1;
	p->out_fd[0] = p->out_fd[1] = -1;
	inside_init();
	pthread_once(&forks_once, watch_forks);
	pthread_mutex_init(&p->lock, NULL);
	syms_init(&p->syms);
	if (map_shared(p) != 0 || spawn_worker(p, path, flags) != 0 || wait_ready(p) != 0) {
		proc_teardown(p, 0);
		return NULL;
	}
	__atomic_store_n(&p->magic, PROC_MAGIC, __ATOMIC_RELEASE);
	return p;
}

struct veo_proc_handle *veo_proc_create(int venode)
{
	return create(venode, NULL, 0);
}

struct veo_proc_handle *veo_proc_create_static(int venode, char *veorun_bin)
{
	if (!veorun_bin) {
		error_set("veo_proc_create_static: no worker program given");
		return NULL;
	}
	return create(venode, veorun_bin, 0);
}

struct veo_proc_handle *veo_proc_create_with_flags(int venode, const char *veorun_bin,
                                                   unsigned flags)
{
	return create(venode, veorun_bin, flags);
}

int veo_proc_output_fd(struct veo_proc_handle *p, int which)
{
	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (which != STDOUT_FILENO && which != STDERR_FILENO)
		return error_set("veo_proc_output_fd: which is %d, not 1 (stdout) or 2 (stderr)",
		                 which);
	if (p->out_fd[which - 1] < 0)
		return error_set("veo_proc_output_fd: the worker's %s is the host's (create the "
		                 "proc with VEO_PROC_CAPTURE_%s to read it)",
		                 which == 1 ? "stdout" : "stderr", which == 1 ? "STDOUT" : "STDERR");
	return p->out_fd[which - 1];
}

/* Threads may be inside the proc while it is destroyed (waiting for a
 * result, calling in a loop): the handle goes invalid first (new calls
 * fail at their check), then the proc ends for every thread inside ("the
 * proc was destroyed", each woken), and only once they have all left
 * (inside.h) is the worker stopped and the memory unmapped and freed. */
int veo_proc_destroy(struct veo_proc_handle *p)
{
	uint32_t live = PROC_MAGIC, inherited = PROC_INHERITED;
	int worker_alive, exit_sent = 0;

	if (in_pool(p) && __atomic_compare_exchange_n(&p->magic, &inherited, 0, 0,
	                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		release_inherited(p);
		return 0;
	}
	if (!proc_check(p))
		return -1;
	/* One thread destroys; another racing it finds a bad handle. */
	if (!__atomic_compare_exchange_n(&p->magic, &live, 0, 0, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_SEQ_CST))
		return error_set("bad proc handle %p (destroyed by another thread)", (void *)p);
	vp_output_flush(); /* before what the kernels' exit handlers print */
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		__atomic_store_n(&p->ctx_store[i].magic, 0, __ATOMIC_SEQ_CST);
	worker_alive = !death_check(p, 0);
	death_destroyed(p);
	inside_wait(proc_inside(p), 0);
	/* No context opens now: one that opened meanwhile is closed too, and
	 * every context retired before its tables and the mapping go
	 * (request.h, "Late callers"). */
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++) {
		struct veo_thr_ctxt *c = &p->ctx_store[i];

		__atomic_store_n(&c->magic, 0, __ATOMIC_SEQ_CST);
		if (atomic_load_explicit(&c->live, memory_order_relaxed))
			req_ctx_retire(c, "the proc was destroyed (veo_proc_destroy)");
	}
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		inside_wait(&ctx_counts[p - proc_pool][i], 0);
	pthread_mutex_lock(&p->lock);
	if (worker_alive && atomic_load(&p->hdr->worker_state) == VP_WORKER_READY) {
		struct vp_rec exit_rec = { .len = sizeof exit_rec, .op = VP_OP_EXIT };
		struct vp_slot *s = proc_slot(p, VP_SLOT_CTL);
		uint32_t tail = atomic_load(&s->sq.tail);

		/* The control slot is idle (we hold its lock): there is room. */
		ring_push(s, &tail, &exit_rec, sizeof exit_rec);
		exit_sent = 1;
	}
	pthread_mutex_unlock(&p->lock);
	proc_teardown(p, exit_sent);
	return 0;
}

int veo_proc_identifier(struct veo_proc_handle *p)
{
	INSIDE(proc_inside(p));
	return proc_check(p) ? p->ident : -1;
}

pid_t veo_proc_pid(struct veo_proc_handle *p)
{
	INSIDE(proc_inside(p));
	return proc_check(p) ? p->pid : -1;
}
