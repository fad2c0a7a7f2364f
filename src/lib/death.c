/*
 * death.c: the worker's death, noticed and described. However the worker
 * ends, the first thread to notice fills p->death once (under death_lock),
 * then sets p->dead. A crash is described by the worker itself (the crash
 * record in the shared header, see faults.c); a worker killed from outside
 * only by its exit status, which the pidfd reports before anyone reaps it.
 *
 * The host notices through the shared worker_state and, at most every
 * DEATH_RECHECK_NS while anyone waits or calls, the pidfd.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "death.h"
#include "error.h"
#include "inside.h"
#include "proc.h"
#include "signame.h"
#include "syms.h"
#include "wait.h"

static pthread_mutex_t death_lock = PTHREAD_MUTEX_INITIALIZER;

/* The request a context was running when the worker ended without a crash
 * record (killed, or a kernel that blocked the fault signals or called
 * _exit): the first slot with one. Returns its function, 0 if none. */
static uint64_t find_running(struct veo_proc_handle *p, int *slot, uint64_t *reqid)
{
	for (unsigned i = VP_SLOT_SYNC; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = proc_slot(p, i);
		uint64_t id = atomic_load(&s->running_reqid);

		if (id == 0)
			continue;
		*slot = (int)i;
		*reqid = id;
		return atomic_load(&s->running_fn);
	}
	return 0;
}

/* Appends " while running kernel NAME" (the name the host found it by, or
 * its address) to buf, and fills d->kernel. */
static void append_kernel(struct veo_proc_handle *p, uint64_t fn, char *buf, size_t n,
                          struct veo_death_info *d)
{
	size_t len = strlen(buf);

	if (syms_name_of(&p->syms, fn, d->kernel, sizeof d->kernel))
		snprintf(buf + len, n - len, " while running kernel %s", d->kernel);
	else
		snprintf(buf + len, n - len, " while running the kernel at 0x%llx",
		         (unsigned long long)fn);
}

/* The signals a kernel's own fault raises: a worker they killed without
 * its crash handler (the kernel blocked them, or the handler could not
 * run) died of the kernel, not of someone outside. */
static int fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
	       sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS;
}

/* ---- a crash, from the worker's crash record (protocol.h) ---- */

_Static_assert(VEO_DEATH_FRAMES_MAX == VP_FRAMES_MAX &&
               sizeof(((struct veo_death_frame *)0)->symbol) == VP_FRAME_NAME &&
               sizeof(((struct veo_death_frame *)0)->library) == VP_FRAME_NAME &&
               sizeof(((struct veo_death_info *)0)->kernel) == VP_NAME_MAX &&
               sizeof(((struct veo_death_info *)0)->library) == VP_NAME_MAX,
               "the crash record fits veo_death_info");

/* Appends printf-style to the string in buf (n bytes). */
static void append(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
}

/* "name+0xoff (lib)", "? (lib)" or "?": a symbol as a report names it. */
static void append_symbol(char *buf, size_t n, const char *sym, uint64_t off, const char *lib)
{
	if (!sym[0])
		append(buf, n, "?");
	else if (off)
		append(buf, n, "%s+0x%llx", sym, (unsigned long long)off);
	else
		append(buf, n, "%s", sym);
	if (lib[0])
		append(buf, n, " (%s)", lib);
}

/* A crash: the worker's record, copied and bounded, into d, and the
 * report written from it. Its first line is "kernel NAME (LIB) died of
 * SIGNAME (...) at address 0x..." or "kernel NAME (LIB) called exit(N):
 * ...", then "backtrace:" and a line a frame. */
static void describe_crash(struct veo_proc_handle *p, struct veo_death_info *d)
{
	struct vp_crash c;
	const char *signame;
	char *r = d->report;
	size_t n = sizeof d->report;

	memcpy(&c, (const void *)&p->hdr->crash, sizeof c);
	c.kernel[sizeof c.kernel - 1] = c.library[sizeof c.library - 1] = '\0';
	p->death_slot = c.slot;
	p->death_reqid = c.reqid;
	if (c.nframes > VP_FRAMES_MAX)
		c.nframes = VP_FRAMES_MAX;
	memcpy(d->kernel, c.kernel, sizeof d->kernel);
	memcpy(d->library, c.library, sizeof d->library);
	r[0] = '\0';
	if (c.cause == VP_CRASH_EXIT) {
		d->cause = VEO_DEATH_EXIT;
		d->exit_status = c.exit_status;
		append(r, n, "kernel ");
		if (c.kernel_addr)
			append_symbol(r, n, c.kernel, c.kernel_offset, c.library);
		else
			append(r, n, "(unknown)");
		append(r, n, " called exit(%u): the VE process ended", (unsigned)c.exit_status);
		return;
	}
	if (c.cause != VP_CRASH_SIGNAL || c.signo <= 0 || c.signo >= 65) {
		d->cause = VEO_DEATH_OTHER;
		snprintf(r, n, "the VE process stopped");
		return;
	}
	d->cause = VEO_DEATH_SIGNAL;
	d->signo = c.signo;
	d->fault_addr = c.fault_addr;
	signame = vp_signal_name(c.signo);
	append(r, n, "kernel ");
	if (c.kernel_addr)
		append_symbol(r, n, c.kernel, c.kernel_offset, c.library);
	else if (c.thread == VP_THREAD_CONTROL)
		append(r, n, "(none: the fault was in the VE process's control thread, "
		             "e.g. in a library's constructor)");
	else
		append(r, n, "(unknown: the fault was not in a context thread)");
	append(r, n, " died of %s (%s)", *signame ? signame : "signal", strsignal(c.signo));
	if (c.signo != SIGABRT)
		append(r, n, " at address 0x%llx", (unsigned long long)c.fault_addr);
	if (c.thread == VP_THREAD_KERNEL && c.kernel_addr)
		append(r, n, " in a thread the kernel started (OpenMP?)");
	append(r, n, "\nbacktrace:");
	d->nframes = (int)c.nframes;
	for (unsigned i = 0; i < c.nframes; i++) {
		struct vp_frame *f = &c.frames[i];
		struct veo_death_frame *o = &d->frames[i];

		f->symbol[sizeof f->symbol - 1] = f->library[sizeof f->library - 1] = '\0';
		o->pc = f->pc;
		o->offset = f->offset;
		memcpy(o->symbol, f->symbol, sizeof o->symbol);
		memcpy(o->library, f->library, sizeof o->library);
		append(r, n, "\n  #%u 0x%llx ", i, (unsigned long long)f->pc);
		append_symbol(r, n, f->symbol, f->offset, f->library);
	}
}

/* A worker that ended with no word from itself: its exit status says how
 * (the pidfd lets the host see it before anyone reaps it), and the request
 * a context was running is the one that ended it, unless someone outside
 * killed it. */
static void describe_end(struct veo_proc_handle *p, struct veo_death_info *d)
{
	int slot = -1;
	uint64_t reqid = 0, fn = find_running(p, &slot, &reqid);
	char *r = d->report;
	size_t n = sizeof d->report;
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
	    si.si_pid != p->pid) {
		/* Reaped already, by a SIGCHLD handler's waitpid(-1) or because
		 * SIGCHLD is ignored: how it ended is not known. */
		d->cause = VEO_DEATH_OTHER;
		snprintf(r, n, "the VE process (pid %d) ended; its exit status was collected "
		         "elsewhere (a SIGCHLD handler or SIGCHLD ignored), so how is not known",
		         (int)p->pid);
		if (fn)
			append_kernel(p, fn, r, n, d);
	} else if (si.si_code == CLD_EXITED) {
		d->cause = fn ? VEO_DEATH_EXIT : VEO_DEATH_OTHER;
		d->exit_status = si.si_status;
		if (fn) {
			append(r, n, "kernel ");
			if (!syms_name_of(&p->syms, fn, d->kernel, sizeof d->kernel))
				snprintf(d->kernel, sizeof d->kernel, "at 0x%llx", (unsigned long long)fn);
			append(r, n, "%s ended the VE process (pid %d) with status %d (_exit?)",
			       d->kernel, (int)p->pid, si.si_status);
			p->death_slot = slot;
			p->death_reqid = reqid;
		} else {
			snprintf(r, n, "the VE process (pid %d) exited with status %d", (int)p->pid,
			         si.si_status);
		}
	} else {
		const char *name = vp_signal_name(si.si_status);

		d->cause = fn && fault_signal(si.si_status) ? VEO_DEATH_SIGNAL : VEO_DEATH_KILLED;
		d->signo = si.si_status;
		snprintf(r, n, "the VE process (pid %d) was killed by signal %d (%s)", (int)p->pid,
		         si.si_status, *name ? name : strsignal(si.si_status));
		if (fn) {
			append_kernel(p, fn, r, n, d);
			if (d->cause == VEO_DEATH_SIGNAL) {
				/* Its own fault, which its crash handler did not see. */
				append(r, n, " (the kernel's own fault: it had blocked the "
				             "signal, or the crash handler could not run)");
				p->death_slot = slot;
				p->death_reqid = reqid;
			}
		}
	}
}

/* Fills p->death (death_lock held). */
static void describe_death(struct veo_proc_handle *p, uint32_t state)
{
	struct veo_death_info *d = &p->death;

	memset(d, 0, sizeof *d);
	p->death_slot = -1;
	p->death_reqid = 0;
	if (state == VP_WORKER_CRASHED) {
		describe_crash(p, d);
	} else if (state == VP_WORKER_FAILED) {
		/* Written by the worker: bounded before it is read. */
		char msg[VP_MSG_MAX];

		memcpy(msg, (const void *)p->hdr->crash.msg, sizeof msg);
		msg[sizeof msg - 1] = '\0';
		d->cause = VEO_DEATH_OTHER;
		snprintf(d->report, sizeof d->report, "%s", msg[0] ? msg : "the VE process stopped");
	} else if (state == VP_WORKER_EXITED) {
		d->cause = VEO_DEATH_OTHER;
		snprintf(d->report, sizeof d->report, "the VE process (pid %d) has exited",
		         (int)p->pid);
	} else {
		describe_end(p, d);
	}
	if (d->signo)
		snprintf(d->signame, sizeof d->signame, "%s", vp_signal_name(d->signo));
	snprintf(p->death_summary, sizeof p->death_summary, "%.*s",
	         (int)strcspn(d->report, "\n"), d->report);
}

static void mark_dead(struct veo_proc_handle *p, uint32_t state)
{
	pthread_mutex_lock(&death_lock);
	if (!atomic_load_explicit(&p->dead, memory_order_relaxed)) {
		describe_death(p, state);
		atomic_store_explicit(&p->dead, 1, memory_order_release);
	}
	pthread_mutex_unlock(&death_lock);
}

void death_destroyed(struct veo_proc_handle *p)
{
	pthread_mutex_lock(&death_lock);
	if (!atomic_load_explicit(&p->dead, memory_order_relaxed)) {
		memset(&p->death, 0, sizeof p->death);
		p->death.cause = VEO_DEATH_OTHER;
		snprintf(p->death.report, sizeof p->death.report,
		         "the proc was destroyed (veo_proc_destroy)");
		snprintf(p->death_summary, sizeof p->death_summary,
		         "the proc was destroyed (veo_proc_destroy)");
		p->death_slot = -1;
		p->death_reqid = 0;
		atomic_store_explicit(&p->dead, 1, memory_order_release);
	}
	pthread_mutex_unlock(&death_lock);
	/* Every sleeper of the proc's words (wait.h): answers, notes, the
	 * worker's state, request blocks. A spinner sees p->dead within its
	 * spin. */
	vp_futex_wake_all(&p->hdr->worker_state);
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++) {
		vp_futex_wake_all(&proc_slot(p, i)->sq.head);
		vp_futex_wake_all(&p->ctx_store[i].block_gen);
	}
}

int death_check(struct veo_proc_handle *p, int thorough)
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


int death_recheck(struct veo_proc_handle *p)
{
	uint64_t last = atomic_load_explicit(&p->last_thorough_ns, memory_order_relaxed);

	if (atomic_load_explicit(&p->dead, memory_order_acquire))
		return 1;
	return death_check(p, vp_now_ns() - last > DEATH_RECHECK_NS);
}

const char *death_msg(struct veo_proc_handle *p)
{
	return atomic_load(&p->dead) ? p->death_summary : "the VE process died";
}

const char *death_report(struct veo_proc_handle *p)
{
	return atomic_load(&p->dead) ? p->death.report : "the VE process died";
}

int veo_proc_death_info(struct veo_proc_handle *p, struct veo_death_info *info)
{
	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (!info)
		return error_set("veo_proc_death_info: NULL info pointer");
	if (!death_check(p, 1)) {
		memset(info, 0, sizeof *info);
		return 0;
	}
	*info = p->death;
	return 1;
}
