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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "death.h"
#include "error.h"
#include "proc.h"
#include "signame.h"
#include "syms.h"
#include "wait.h"

static pthread_mutex_t death_lock = PTHREAD_MUTEX_INITIALIZER;

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
		if (syms_name_of(&p->syms, fn, d->kernel, sizeof d->kernel))
			snprintf(buf + len, n - len, " while running kernel %s", d->kernel);
		else
			snprintf(buf + len, n - len, " while running the kernel at 0x%llx",
			         (unsigned long long)fn);
		return;
	}
}

/* Fills p->death (death_lock held). */
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
	pthread_mutex_lock(&death_lock);
	if (!atomic_load_explicit(&p->dead, memory_order_relaxed)) {
		describe_death(p, state);
		atomic_store_explicit(&p->dead, 1, memory_order_release);
	}
	pthread_mutex_unlock(&death_lock);
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
