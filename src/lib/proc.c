/*
 * proc.c: VE processes. A proc is a worker process (veorun) started with
 * posix_spawn, a memfd both map (rings and heap, see protocol.h), a pipe
 * whose closing tells the worker that the host is gone, and a pidfd that
 * tells the host that the worker is gone. Also here: the control slot
 * (libraries, symbols, opening contexts) and the context list.
 *
 * Handles are slots of a static pool (proc_pool) that is never freed, so
 * a stale or foreign handle is recognised (address outside the pool, or a
 * cleared magic) instead of being dereferenced after free.
 *
 * Death: the worker may crash (it writes a report first, faults.c), be
 * killed, or lose its host (it watches the pipe and the host's pidfd). The
 * host notices through the shared worker_state and, at most every
 * PROC_RECHECK_NS while anyone waits or calls, the pidfd; the first thread
 * to notice records why (describe_death) and every call after fails.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "ring.h"
#include "signame.h"
#include "wait.h"

extern char **environ;

struct veo_proc_handle proc_pool[VEO_MAX_PROCS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static int pool_next;

static struct veo_thr_ctxt_attr *attr_check(struct veo_thr_ctxt_attr *a);

struct veo_proc_handle *proc_check(struct veo_proc_handle *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)proc_pool;

	if (!p || a < lo || a >= (uintptr_t)(proc_pool + VEO_MAX_PROCS) ||
	    (a - lo) % sizeof *p != 0 || p->magic != PROC_MAGIC) {
		veo_fail("bad proc handle %p (NULL, destroyed or not a proc)", (void *)p);
		return NULL;
	}
	return p;
}

void ctx_check_fail(const struct veo_thr_ctxt *c)
{
	veo_fail("bad context handle %p (NULL, closed or not a context)", (const void *)c);
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
			return veo_fail("VEORUN_BIN=%s is not an executable file", env);
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
	return veo_fail("cannot find the worker program veorun (set VEORUN_BIN)");
}

/* ---- environment ------------------------------------------------------- */

/* The host's environment, where VE_NAME=value also gives NAME=value (and
 * replaces the host's NAME), as VEOS does for VE programs. */
static char **worker_env(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(2 * n + 1, sizeof *env);
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
		if (!shadowed)
			env[k++] = (char *)e;
		if (strncmp(e, "VE_", 3) == 0 && eq > e + 3)
			env[k++] = (char *)e + 3;
	}
	env[k] = NULL;
	return env;
}

/* ---- start-up ---------------------------------------------------------- */

static uint64_t default_heap_size(void)
{
	const char *s = getenv("VEO_HEAP_SIZE");
	struct sysinfo si;
	uint64_t ram;

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
		return 16ull << 30;
	ram = (uint64_t)si.totalram * si.mem_unit;
	return vp_align_up(ram, 1ull << 30);
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

	p->heap_size = default_heap_size();
	p->size = heap_off + p->heap_size;
	p->memfd = (int)syscall(SYS_memfd_create, "openveo", MFD_CLOEXEC);
	if (p->memfd < 0 || (p->memfd = fd_high(p->memfd)) < 0)
		return veo_fail("memfd_create: %s", strerror(errno));
	if (ftruncate(p->memfd, (off_t)p->size) != 0)
		return veo_fail("cannot size the shared memory: %s", strerror(errno));
	p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_NORESERVE, p->memfd, 0);
	if (p->base == MAP_FAILED) {
		p->base = NULL;
		return veo_fail("cannot map %llu bytes of shared memory: %s",
		                (unsigned long long)p->size, strerror(errno));
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
	h->crash.slot = -1;
	/* No spinner of the control slot has a CPU yet (wait.h); a context's
	 * are reset when it opens (ctx_init). */
	atomic_store(&proc_slot(p, VP_SLOT_CTL)->host_cpu, UINT32_MAX);
	atomic_store(&proc_slot(p, VP_SLOT_CTL)->worker_cpu, UINT32_MAX);
	p->heap_host = p->base + heap_off;
	if (heap_init(&p->heap, p->memfd, heap_off, p->heap_size) != 0)
		return veo_fail("cannot set up the VE heap");
	return 0;
}

static int spawn_worker(struct veo_proc_handle *p, const char *bin)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t all, none;
	int pfd[2], err;
	char *argv[] = { (char *)bin, "--openveo", NULL };
	char **env = worker_env();

	if (!env)
		return veo_fail("out of memory");
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(env);
		return veo_fail("pipe: %s", strerror(errno));
	}
	pfd[0] = fd_high(pfd[0]);
	p->pipe_wr = fd_high(pfd[1]);

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p->memfd, VP_WORKER_SHM_FD);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], VP_WORKER_PIPE_FD);
	/* The worker inherits stdin/out/err and these two, nothing else. */
	posix_spawn_file_actions_addclosefrom_np(&fa, VP_WORKER_PIPE_FD + 1);
	posix_spawnattr_init(&sa);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	err = posix_spawn(&p->pid, bin, &fa, &sa, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	close(pfd[0]);
	free(env);
	if (err) {
		p->pid = 0;
		return veo_fail("cannot start the worker %s: %s", bin, strerror(err));
	}
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd >= 0)
		p->pidfd = fd_high(p->pidfd);
	return 0;
}

/* ---- the worker's death ------------------------------------------------
 * However the worker ends, the first thread to notice fills p->death once
 * (under pool_lock), then sets p->dead. A crash is described by the worker
 * itself (the crash record in the shared header, see faults.c); a worker
 * killed from outside only by its exit status, which the pidfd reports
 * before anyone reaps it.
 */

/* The kernel a crash report names: faults.c starts it with
 * "kernel NAME[+OFF] (LIB) ...", or "kernel (unknown...)". */
static void report_kernel(const char *report, char *out, size_t n)
{
	size_t k = 0;

	out[0] = '\0';
	if (strncmp(report, "kernel ", 7) != 0 || report[7] == '(' || report[7] == '?')
		return;
	for (report += 7; *report && !strchr(" +\n", *report) && k + 1 < n; report++)
		out[k++] = *report;
	out[k] = '\0';
}

/* The name under which the host found the function at addr (the symbol
 * cache), or NULL. */
static const char *sym_name_of(struct veo_proc_handle *p, uint64_t addr, char *buf,
                               size_t n)
{
	const char *found = NULL;

	pthread_mutex_lock(&p->sym_lock);
	for (unsigned b = 0; b < SYM_BUCKETS && !found; b++)
		for (struct sym_entry *e = p->syms[b]; e && !found; e = e->next)
			if (e->addr == addr) {
				snprintf(buf, n, "%s", e->name);
				found = buf;
			}
	pthread_mutex_unlock(&p->sym_lock);
	return found;
}

/* A worker killed from outside: which kernel was it running, if any?
 * Appends " while running kernel NAME" to buf. */
static void append_running(struct veo_proc_handle *p, char *buf, size_t n,
                           struct veo_death_info *d)
{
	for (unsigned i = VP_SLOT_SYNC; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = proc_slot(p, i);
		uint64_t fn;
		size_t len = strlen(buf);

		if (atomic_load(&s->running_reqid) == 0)
			continue;
		fn = atomic_load(&s->running_fn);
		if (sym_name_of(p, fn, d->kernel, sizeof d->kernel))
			snprintf(buf + len, n - len, " while running kernel %s", d->kernel);
		else
			snprintf(buf + len, n - len, " while running the kernel at 0x%llx",
			         (unsigned long long)fn);
		return;
	}
}

/* Fills p->death (pool_lock held). */
static void describe_death(struct veo_proc_handle *p, uint32_t state)
{
	struct veo_death_info *d = &p->death;
	siginfo_t si;

	memset(d, 0, sizeof *d);
	memset(&si, 0, sizeof si);
	if (state == VP_WORKER_CRASHED || state == VP_WORKER_FAILED) {
		/* Written by the worker: copy, bound, then look at it. */
		struct vp_crash c;

		memcpy(&c, (const void *)&p->hdr->crash, sizeof c);
		c.msg[sizeof c.msg - 1] = '\0';
		snprintf(d->report, sizeof d->report, "%s",
		         c.msg[0] ? c.msg : "the VE process stopped");
		if (state == VP_WORKER_FAILED) {
			d->cause = VEO_DEATH_OTHER;
		} else if (c.signo > 0 && c.signo < 65) {
			d->cause = VEO_DEATH_SIGNAL;
			d->signo = c.signo;
			d->fault_addr = c.fault_addr;
		} else {
			/* faults.c: "kernel NAME (LIB) called exit(STATUS): ..." */
			const char *e = strstr(d->report, "exit(");

			d->cause = VEO_DEATH_EXIT;
			d->exit_status = e ? atoi(e + 5) : 0;
		}
		if (state == VP_WORKER_CRASHED)
			report_kernel(d->report, d->kernel, sizeof d->kernel);
	} else if (state == VP_WORKER_EXITED) {
		d->cause = VEO_DEATH_OTHER;
		snprintf(d->report, sizeof d->report, "the VE process (pid %d) has exited",
		         (int)p->pid);
	} else if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	           si.si_pid == p->pid && si.si_code != CLD_EXITED) {
		d->cause = VEO_DEATH_KILLED;
		d->signo = si.si_status;
		snprintf(d->report, sizeof d->report,
		         "the VE process (pid %d) was killed by signal %d (%s)", (int)p->pid,
		         si.si_status, *vp_signal_name(si.si_status) ? vp_signal_name(si.si_status)
		                                                 : strsignal(si.si_status));
		append_running(p, d->report, sizeof d->report, d);
	} else if (si.si_pid == p->pid) {
		d->cause = VEO_DEATH_OTHER;
		snprintf(d->report, sizeof d->report,
		         "the VE process (pid %d) exited with status %d", (int)p->pid,
		         si.si_status);
	} else {
		d->cause = VEO_DEATH_OTHER;
		snprintf(d->report, sizeof d->report, "the VE process (pid %d) is gone",
		         (int)p->pid);
	}
	if (d->signo)
		snprintf(d->signame, sizeof d->signame, "%s", vp_signal_name(d->signo));
	snprintf(p->death_summary, sizeof p->death_summary, "%.*s",
	         (int)strcspn(d->report, "\n"), d->report);
}

static void mark_dead(struct veo_proc_handle *p, uint32_t state)
{
	pthread_mutex_lock(&pool_lock);
	if (!atomic_load_explicit(&p->dead, memory_order_relaxed)) {
		describe_death(p, state);
		atomic_store_explicit(&p->dead, 1, memory_order_release);
	}
	pthread_mutex_unlock(&pool_lock);
}

int proc_dead(struct veo_proc_handle *p, int thorough)
{
	uint32_t st;

	if (atomic_load_explicit(&p->dead, memory_order_acquire))
		return 1;
	st = atomic_load_explicit(&p->hdr->worker_state, memory_order_acquire);
	if (st >= VP_WORKER_CRASHED) {
		mark_dead(p, st);
		return 1;
	}
	if (thorough) {
		struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
		int gone;

		atomic_store_explicit(&p->last_thorough_ns, vp_now_ns(), memory_order_relaxed);
		if (p->pidfd >= 0)
			gone = poll(&pf, 1, 0) > 0;
		else
			gone = kill(p->pid, 0) != 0;
		if (gone) {
			/* A crash report may have been written just before. */
			st = atomic_load(&p->hdr->worker_state);
			mark_dead(p, st);
			return 1;
		}
	}
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

int proc_dead_recheck(struct veo_proc_handle *p)
{
	uint64_t last = atomic_load_explicit(&p->last_thorough_ns, memory_order_relaxed);

	if (atomic_load_explicit(&p->dead, memory_order_acquire))
		return 1;
	return proc_dead(p, vp_now_ns() - last > PROC_RECHECK_NS);
}

const char *proc_death_msg(struct veo_proc_handle *p)
{
	return atomic_load(&p->dead) ? p->death_summary : "the VE process died";
}

const char *proc_death_report(struct veo_proc_handle *p)
{
	return atomic_load(&p->dead) ? p->death.report : "the VE process died";
}

int veo_proc_death_info(struct veo_proc_handle *p, struct veo_death_info *info)
{
	if (!proc_check(p))
		return -1;
	if (!info)
		return veo_fail("veo_proc_death_info: NULL info pointer");
	if (!proc_dead(p, 1)) {
		memset(info, 0, sizeof *info);
		return 0;
	}
	*info = p->death;
	return 1;
}

static int wait_ready(struct veo_proc_handle *p)
{
	uint64_t limit = vp_now_ns() + 60ull * 1000000000ull;

	for (;;) {
		uint32_t st = atomic_load(&p->hdr->worker_state);

		if (st == VP_WORKER_READY)
			break;
		if (st != VP_WORKER_STARTING || proc_dead(p, 1)) {
			proc_dead(p, 1);
			return veo_fail("the worker did not start: %s", proc_death_msg(p));
		}
		if (vp_now_ns() > limit)
			return veo_fail("the worker did not start within 60 s");
		vp_wait_change(&p->hdr->worker_state, st, &p->hdr->state_sleepers,
		               vp_now_ns() + 20000000ull, 0);
	}
	p->heap_ve = p->hdr->worker_heap_base;
	if (p->heap_ve == 0 || p->heap_ve + p->heap_size < p->heap_ve)
		return veo_fail("the worker reported a bad heap address");
	return 0;
}

static void proc_teardown(struct veo_proc_handle *p)
{
	if (p->pid > 0) {
		struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
		int status;

		/* The worker exits on VP_OP_EXIT (served by its main thread, so a
		 * kernel that never returns does not hold it up) or on seeing the
		 * pipe close; give it half a second, then make sure. */
		if (p->pipe_wr >= 0) {
			close(p->pipe_wr);
			p->pipe_wr = -1;
		}
		if (p->pidfd < 0 || poll(&pf, 1, 500) <= 0)
			proc_kill(p);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->pipe_wr >= 0)
		close(p->pipe_wr);
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		if (p->ctx_store[i].reqs)
			ctx_release(&p->ctx_store[i]);
	if (p->base) {
		heap_destroy(&p->heap);
		munmap(p->base, p->size);
	}
	if (p->memfd >= 0)
		close(p->memfd);
	for (unsigned b = 0; b < SYM_BUCKETS; b++) {
		while (p->syms[b]) {
			struct sym_entry *e = p->syms[b];

			p->syms[b] = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&p->sym_lock);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof *p);
}

static struct veo_proc_handle *create(int venode, const char *bin)
{
	struct veo_proc_handle *p = NULL;
	char path[PATH_MAX];

	if (venode == -1) {
		const char *s = getenv("VE_NODE_NUMBER");

		venode = s && *s ? atoi(s) : 0;
	}
	if (venode < 0 || venode >= VEO_MAX_NODES) {
		veo_fail("VE node %d does not exist (openveo has nodes 0..%d)", venode,
		         VEO_MAX_NODES - 1);
		return NULL;
	}
	if (bin) {
		if (!executable(bin)) {
			veo_fail("worker %s is not an executable file", bin);
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
			p->ident = k;
			p->magic = 1; /* reserved, not yet live */
			pool_next = k + 1;
			break;
		}
	}
	pthread_mutex_unlock(&pool_lock);
	if (!p) {
		veo_fail("too many VE processes (at most %d at once)", VEO_MAX_PROCS);
		return NULL;
	}
	p->node = venode;
	p->memfd = p->pidfd = p->pipe_wr = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->sym_lock, NULL);
	if (map_shared(p) != 0 || spawn_worker(p, path) != 0 || wait_ready(p) != 0) {
		proc_teardown(p);
		return NULL;
	}
	p->magic = PROC_MAGIC;
	return p;
}

struct veo_proc_handle *veo_proc_create(int venode)
{
	return create(venode, NULL);
}

struct veo_proc_handle *veo_proc_create_static(int venode, char *veorun_bin)
{
	if (!veorun_bin) {
		veo_fail("veo_proc_create_static: no worker program given");
		return NULL;
	}
	return create(venode, veorun_bin);
}

int veo_proc_destroy(struct veo_proc_handle *p)
{
	if (!proc_check(p))
		return -1;
	pthread_mutex_lock(&p->lock);
	p->magic = 0; /* no new calls from here on */
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		p->ctx_store[i].magic = 0;
	if (!proc_dead(p, 0)) {
		struct vp_rec exit_rec = { .len = sizeof exit_rec, .op = VP_OP_EXIT };
		struct vp_slot *s = proc_slot(p, VP_SLOT_CTL);
		uint32_t tail = atomic_load(&s->sq.tail);

		/* The control slot is idle (we hold its lock): there is room. */
		ring_push(s, &tail, &exit_rec, sizeof exit_rec);
	}
	pthread_mutex_unlock(&p->lock);
	proc_teardown(p);
	return 0;
}

int veo_proc_identifier(struct veo_proc_handle *p)
{
	return proc_check(p) ? p->ident : -1;
}

pid_t veo_proc_pid(struct veo_proc_handle *p)
{
	return proc_check(p) ? p->pid : -1;
}

int veo_get_ve_arch(int venode)
{
	if (venode < 0 || venode >= VEO_MAX_NODES)
		return veo_fail("VE node %d does not exist", venode);
	return 1;
}

/* ---- the control slot -------------------------------------------------- */

/* The message of a control answer that is not a success: short ones come
 * in the note (protocol.h), long ones in s->msg. Takes the note. */
static void control_note(struct vp_slot *s, uint64_t id, char *msg, size_t msglen)
{
	char m[VP_MSG_MAX];

	ring_take_note(s, id, m);
	if (!m[0]) {
		memcpy(m, s->msg, sizeof m);
		m[sizeof m - 1] = '\0';
	}
	snprintf(msg, msglen, "%s", m[0] ? m : "the VE process refused");
}

int proc_control(struct veo_proc_handle *p, struct vp_rec *rec, uint32_t len,
                 uint64_t *result, char *msg, size_t msglen)
{
	struct vp_slot *s = proc_slot(p, VP_SLOT_CTL);
	const struct vp_done *d;
	uint32_t tail;
	uint64_t id;
	int spin = 1;

	pthread_mutex_lock(&p->lock);
	if (proc_dead(p, 0)) {
		pthread_mutex_unlock(&p->lock);
		snprintf(msg, msglen, "%s", proc_death_msg(p));
		return VP_ST_ERROR;
	}
	/* One request at a time (the lock): the ring always has room. */
	id = rec->reqid = ++p->ctl_seq;
	tail = atomic_load_explicit(&s->sq.tail, memory_order_relaxed);
	d = (const struct vp_done *)ring_push(s, &tail, rec, len);

	for (;;) {
		/* The head before the answer: it moves when the answer comes. */
		uint32_t head = atomic_load_explicit(&s->sq.head, memory_order_acquire);

		uint32_t stamp = atomic_load_explicit(&d->stamp, memory_order_acquire);

		if (vp_done_for(stamp, id)) {
			uint32_t st = vp_done_status(stamp);

			*result = d->result;
			if (st != VP_ST_OK)
				control_note(s, id, msg, msglen);
			pthread_mutex_unlock(&p->lock);
			return st == VP_ST_OK ? VP_ST_OK : VP_ST_ERROR;
		}
		if (proc_dead_recheck(p)) {
			pthread_mutex_unlock(&p->lock);
			snprintf(msg, msglen, "%s", proc_death_msg(p));
			return VP_ST_ERROR;
		}
		vp_wait_change(&s->sq.head, head, &s->sq.head_sleepers,
		               vp_now_ns() + 20000000ull, spin);
		spin = 0;
	}
}

/* ---- libraries and symbols --------------------------------------------- */

static unsigned sym_hash(uint64_t lib, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ lib;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (unsigned)(h % SYM_BUCKETS);
}

uint64_t veo_load_library(struct veo_proc_handle *p, const char *path)
{
	struct { struct vp_u64arg a; char path[PATH_MAX + 16]; } rec;
	char msg[VP_MSG_MAX];
	uint64_t handle = 0;
	size_t n;

	if (!proc_check(p))
		return 0;
	if (!path || !*path)
		return (uint64_t)(veo_fail("veo_load_library: no path given"), 0);
	n = strlen(path);
	if (n >= PATH_MAX)
		return (uint64_t)(veo_fail("veo_load_library: path too long"), 0);
	memset(&rec.a, 0, sizeof rec.a);
	memcpy(rec.path, path, n + 1);
	rec.a.rec.op = VP_OP_LOAD_LIB;
	rec.a.rec.len = (uint32_t)vp_align_up(sizeof rec.a + n + 1, VP_REC_ALIGN);
	if (proc_control(p, &rec.a.rec, rec.a.rec.len, &handle, msg, sizeof msg) != VP_ST_OK) {
		veo_fail("veo_load_library(%s): %s", path, msg);
		return 0;
	}
	return handle;
}

static void drop_syms(struct veo_proc_handle *p, uint64_t lib)
{
	pthread_mutex_lock(&p->sym_lock);
	for (unsigned b = 0; b < SYM_BUCKETS; b++) {
		struct sym_entry **pe = &p->syms[b];

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
	pthread_mutex_unlock(&p->sym_lock);
}

int veo_unload_library(struct veo_proc_handle *p, const uint64_t handle)
{
	struct vp_u64arg rec = { .rec = { .len = sizeof rec, .op = VP_OP_UNLOAD_LIB },
	                         .value = handle };
	char msg[VP_MSG_MAX];
	uint64_t r;

	if (!proc_check(p))
		return -1;
	if (proc_control(p, &rec.rec, sizeof rec, &r, msg, sizeof msg) != VP_ST_OK)
		return veo_fail("veo_unload_library: %s", msg);
	drop_syms(p, handle);
	return 0;
}

uint64_t veo_get_sym(struct veo_proc_handle *p, uint64_t lib, const char *name)
{
	struct { struct vp_u64arg a; char name[VEO_SYMNAME_LEN_MAX + 16]; } rec;
	char msg[VP_MSG_MAX];
	struct sym_entry *e;
	uint64_t addr = 0;
	unsigned b;
	size_t n;

	if (!proc_check(p))
		return 0;
	if (!name || !*name)
		return (uint64_t)(veo_fail("veo_get_sym: no symbol name given"), 0);
	n = strlen(name);
	if (n > VEO_SYMNAME_LEN_MAX)
		return (uint64_t)(veo_fail("veo_get_sym: symbol name longer than %d",
		                           VEO_SYMNAME_LEN_MAX), 0);
	if (proc_dead_recheck(p))
		return (uint64_t)(veo_fail("veo_get_sym(%s): %s", name, proc_death_msg(p)), 0);
	b = sym_hash(lib, name);
	pthread_mutex_lock(&p->sym_lock);
	for (e = p->syms[b]; e; e = e->next)
		if (e->lib == lib && strcmp(e->name, name) == 0)
			break;
	addr = e ? e->addr : 0;
	pthread_mutex_unlock(&p->sym_lock);
	if (addr)
		return addr;

	memset(&rec.a, 0, sizeof rec.a);
	memcpy(rec.name, name, n + 1);
	rec.a.rec.op = VP_OP_GET_SYM;
	rec.a.rec.len = (uint32_t)vp_align_up(sizeof rec.a + n + 1, VP_REC_ALIGN);
	rec.a.value = lib;
	if (proc_control(p, &rec.a.rec, rec.a.rec.len, &addr, msg, sizeof msg) != VP_ST_OK) {
		veo_fail("veo_get_sym(%s): %s", name, msg);
		return 0;
	}
	e = malloc(sizeof *e + n + 1);
	if (e) {
		e->lib = lib;
		e->addr = addr;
		memcpy(e->name, name, n + 1);
		pthread_mutex_lock(&p->sym_lock);
		e->next = p->syms[b];
		p->syms[b] = e;
		pthread_mutex_unlock(&p->sym_lock);
	}
	return addr;
}

/* ---- contexts ---------------------------------------------------------- */

/* Opens the context of slot idx. Called with p->lock NOT held. */
static struct veo_thr_ctxt *open_slot(struct veo_proc_handle *p, unsigned idx,
                                      size_t stack_size)
{
	struct veo_thr_ctxt *c = &p->ctx_store[idx];
	struct vp_open_ctx rec = { .rec = { .len = sizeof rec, .op = VP_OP_OPEN_CTX },
	                           .slot = idx, .stack_size = stack_size };
	char msg[VP_MSG_MAX];
	uint64_t r;

	if (ctx_init(p, c, idx, stack_size) != 0)
		return NULL;
	if (proc_control(p, &rec.rec, sizeof rec, &r, msg, sizeof msg) != VP_ST_OK) {
		ctx_release(c);
		veo_fail("cannot open a context: %s", msg);
		return NULL;
	}
	c->self = c;
	c->magic = CTX_MAGIC;
	return c;
}

static unsigned free_slot(struct veo_proc_handle *p)
{
	for (unsigned i = VP_SLOT_SYNC + 1; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = proc_slot(p, i);

		/* A slot whose old thread has not finished yet is not reused. */
		if (!p->ctx_store[i].in_use && atomic_load(&s->state) != VP_SLOT_RUNNING)
			return i;
	}
	return 0;
}

struct veo_thr_ctxt *veo_context_open_with_attr(struct veo_proc_handle *p,
                                                struct veo_thr_ctxt_attr *attr)
{
	struct veo_thr_ctxt *c;
	size_t stack = 0;
	unsigned idx;

	if (!proc_check(p))
		return NULL;
	if (attr) {
		if (!attr_check(attr))
			return NULL;
		stack = attr->stack_size;
	}
	if (proc_dead(p, 1)) {
		veo_fail("veo_context_open: %s", proc_death_msg(p));
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	idx = free_slot(p);
	if (idx)
		p->ctx_store[idx].in_use = 1;
	pthread_mutex_unlock(&p->lock);
	if (!idx) {
		veo_fail("too many contexts (at most %d per proc)", VP_MAX_SLOTS - 2);
		return NULL;
	}
	c = open_slot(p, idx, stack);
	if (!c) {
		pthread_mutex_lock(&p->lock);
		p->ctx_store[idx].in_use = 0;
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	pthread_mutex_lock(&p->lock);
	p->order[p->nctx_open++] = c;
	pthread_mutex_unlock(&p->lock);
	return c;
}

struct veo_thr_ctxt *veo_context_open(struct veo_proc_handle *p)
{
	return veo_context_open_with_attr(p, NULL);
}

struct veo_thr_ctxt *proc_sync_ctx(struct veo_proc_handle *p)
{
	struct veo_thr_ctxt *c = &p->ctx_store[VP_SLOT_SYNC];
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&once);
	if (c->magic != CTX_MAGIC)
		c = open_slot(p, VP_SLOT_SYNC, 0);
	pthread_mutex_unlock(&once);
	return c;
}

int veo_context_close(struct veo_thr_ctxt *c)
{
	struct veo_proc_handle *p;
	struct vp_rec rec = { .len = sizeof rec, .op = VP_OP_CLOSE };

	if (!ctx_check(c))
		return -1;
	p = c->proc;
	if (!proc_dead(p, 0)) {
		/* Runs after everything queued; if the worker dies meanwhile the
		 * context is closed all the same. */
		uint64_t id = ctx_submit(c, REQ_CLOSE, NULL, &rec, sizeof rec), r;

		if (id != VEO_REQUEST_ID_INVALID)
			ctx_wait(c, id, &r, -1, 0);
	}
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->nctx_open; i++) {
		if (p->order[i] == c) {
			memmove(&p->order[i], &p->order[i + 1],
			        (size_t)(p->nctx_open - i - 1) * sizeof c);
			p->nctx_open--;
			break;
		}
	}
	c->magic = 0;
	ctx_release(c);
	c->in_use = 0;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int veo_num_contexts(struct veo_proc_handle *p)
{
	int n;

	if (!proc_check(p))
		return -1;
	pthread_mutex_lock(&p->lock);
	n = p->nctx_open;
	pthread_mutex_unlock(&p->lock);
	return n;
}

struct veo_thr_ctxt *veo_get_context(struct veo_proc_handle *p, int idx)
{
	struct veo_thr_ctxt *c = NULL;

	if (!proc_check(p))
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (idx >= 0 && idx < p->nctx_open)
		c = p->order[idx];
	pthread_mutex_unlock(&p->lock);
	if (!c)
		veo_fail("veo_get_context: no context number %d", idx);
	return c;
}

int veo_get_context_state(struct veo_thr_ctxt *c)
{
	if (!ctx_check(c))
		return VEO_STATE_UNKNOWN;
	return proc_dead(c->proc, 1) ? VEO_STATE_EXIT : VEO_STATE_RUNNING;
}

/* A live attribute handle (see handle_live in args.c), or NULL with a
 * message. */
static struct veo_thr_ctxt_attr *attr_check(struct veo_thr_ctxt_attr *a)
{
	if (!handle_live(a) || a->magic != ATTR_MAGIC) {
		veo_fail("bad context attribute handle %p (NULL, freed or not from "
		         "veo_alloc_thr_ctxt_attr)", (void *)a);
		return NULL;
	}
	return a;
}

struct veo_thr_ctxt_attr *veo_alloc_thr_ctxt_attr(void)
{
	struct veo_thr_ctxt_attr *a = calloc(1, sizeof *a);

	if (!a || handle_register(a) != 0) {
		free(a);
		veo_fail("out of memory");
		return NULL;
	}
	a->magic = ATTR_MAGIC;
	return a;
}

int veo_free_thr_ctxt_attr(struct veo_thr_ctxt_attr *a)
{
	if (!attr_check(a) || handle_unregister(a) != 0)
		return -1;
	a->magic = 0;
	free(a);
	return 0;
}

int veo_set_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *a, size_t size)
{
	if (!attr_check(a))
		return -1;
	if (size > (1ull << 36))
		return veo_fail("stack size %zu is too large", size);
	a->stack_size = size;
	return 0;
}

int veo_get_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *a, size_t *size)
{
	if (!attr_check(a))
		return -1;
	if (!size)
		return veo_fail("veo_get_thr_ctxt_stacksize: NULL result pointer");
	*size = a->stack_size;
	return 0;
}
