/*
 * faults.c: a kernel that crashes (SIGSEGV, SIGBUS, SIGFPE, SIGILL, abort)
 * ends this VE process, as it would on the VE, but first fills the crash
 * record in the shared header (protocol.h): the signal, the fault address,
 * the kernel, its library and a backtrace, as fields. The host reads it,
 * writes the report from it (libveo's death.c) and completes the crashed
 * request with VEO_COMMAND_EXCEPTION; it never has to guess. A fault in a
 * thread that is not a context's (an OpenMP thread) is charged to the one
 * request running, if only one is.
 *
 * The handler runs on an alternate stack (so a stack overflow is reported
 * too; threads a kernel starts have none, so their stack overflow ends the
 * process without a report, and the host says which signal killed it).
 * Naming symbols uses dladdr() and backtrace(), which are not
 * async-signal-safe; an alarm bounds the time the handler may take, so a
 * handler stuck on a lock still ends the process. Before the host is told,
 * what the kernels printed and stdio still holds is written out
 * (flush_output), so that it comes before anything the host prints then.
 *
 * The worker's own way out, on veo_proc_destroy, is exit() (faults_exit):
 * the kernels' atexit handlers, C++ static destructors and library
 * destructors run, and gfortran's runtime writes out its units.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "wait.h"
#include "worker.h"

#define ALTSTACK_BYTES (64 * 1024)

static _Thread_local int my_slot = -1;
static _Atomic int crashing;
static _Atomic int leaving; /* faults_exit: the worker itself calls exit() */
/* The worker's pid: a process a kernel forked runs these handlers too (and
 * its exit handlers), and only the worker may report. */
static pid_t worker_pid;

/* ---- names, without malloc ---- */

/* Copies s into out (n bytes), cut short if need be; always terminated. */
static void copy_name(char *out, size_t n, const char *s)
{
	size_t k = 0;

	while (s && s[k] && k + 1 < n) {
		out[k] = s[k];
		k++;
	}
	out[k] = '\0';
}

/* The symbol and library of addr, looked up at addr - adj (see the
 * backtrace): sym and lib ("" where unknown, lib without its directory)
 * and addr's offset from the symbol. Returns 0 if dladdr knows nothing. */
static int name_of(uint64_t addr, uint64_t adj, char *sym, size_t symlen, char *lib,
                   size_t liblen, uint64_t *offset)
{
	Dl_info di;

	sym[0] = lib[0] = '\0';
	*offset = 0;
	if (!dladdr((void *)(uintptr_t)(addr - adj), &di))
		return 0;
	if (di.dli_sname) {
		copy_name(sym, symlen, di.dli_sname);
		if (di.dli_saddr && addr > (uint64_t)(uintptr_t)di.dli_saddr)
			*offset = addr - (uint64_t)(uintptr_t)di.dli_saddr;
	}
	if (di.dli_fname) {
		const char *orig = loader_copy_of(di.dli_fname);
		const char *base = strrchr(orig ? orig : di.dli_fname, '/');

		copy_name(lib, liblen, base ? base + 1 : orig ? orig : di.dli_fname);
	}
	return 1;
}

/* With a single context running a request, a crash in a thread that is
 * not a context thread (an OpenMP worker) belongs to it. */
static int guess_slot(void)
{
	int found = -1;

	for (unsigned i = VP_SLOT_SYNC; i < VP_MAX_SLOTS; i++) {
		struct vp_slot *s = worker_slot(i);

		if (atomic_load(&s->state) == VP_SLOT_RUNNING &&
		    atomic_load(&s->running_reqid) != 0) {
			if (found >= 0)
				return -1;
			found = (int)i;
		}
	}
	return found;
}

/* Moves the SQ head of the slot of the request that died: a host thread
 * waiting there that had read the head just before the wake-up below
 * then does not go to sleep (futex_wait finds the word changed). The
 * host only ever waits for the head to change, never reads a position in
 * it, and a spinning host thread watches the worker's state instead. Only
 * the dead request's slot: its own thread (or, for a thread the kernel
 * started, the thread waiting in the kernel) is the one that writes it. */
static void nudge(int slot)
{
	if (slot < 0 || slot >= VP_MAX_SLOTS)
		return;
	atomic_fetch_add_explicit(&worker_slot((unsigned)slot)->sq.head, 1, memory_order_release);
}

static void wake_all_waiters(void)
{
	vp_futex_wake_all(&W.hdr->worker_state);
	for (unsigned i = 0; i < VP_MAX_SLOTS; i++)
		vp_futex_wake_all(&worker_slot(i)->sq.head);
}

/* Tells the host: the report is complete, the process is ending. A host
 * thread that was spinning when the wake-up came (it only sleeps after
 * ~50 us of spinning, and a wake-up finds no sleeper then) gets a second
 * one a millisecond later; the dead request's waiter also gets a nudge. */
void faults_publish(uint32_t state, int slot)
{
	struct timespec again = { 0, 1000000 };

	atomic_store(&W.hdr->worker_state, state);
	nudge(slot);
	wake_all_waiters();
	worker_notify();
	nanosleep(&again, NULL);
	wake_all_waiters();
}

/* Fills in which request of which slot was running, and its kernel.
 * slot is the faulting thread's: a context's, VP_SLOT_CTL (the main
 * thread: loading a library ran its constructors), or -1 (a thread a
 * kernel started). */
static void blame(struct vp_crash *c, int slot)
{
	uint64_t fn = 0;

	c->thread = slot == VP_SLOT_CTL ? VP_THREAD_CONTROL
	          : slot < 0 ? VP_THREAD_KERNEL : VP_THREAD_CONTEXT;
	if (slot < 0)
		slot = guess_slot();
	c->slot = slot;
	c->reqid = 0;
	if (slot > VP_SLOT_CTL) {
		c->reqid = atomic_load(&worker_slot((unsigned)slot)->running_reqid);
		fn = atomic_load(&worker_slot((unsigned)slot)->running_fn);
	}
	c->kernel_addr = fn;
	c->kernel[0] = c->library[0] = '\0';
	c->kernel_offset = 0;
	if (fn)
		name_of(fn, 0, c->kernel, sizeof c->kernel, c->library, sizeof c->library,
		        &c->kernel_offset);
}

/* ---- output still in stdio's buffers ---- */

/* Writes out what stdout and stderr hold, as far as that can be done
 * without waiting long: a stream another thread has locked (it crashed
 * inside printf, or prints right now) is left alone, and so is one whose
 * file cannot take more within FLUSH_WAIT_MS (a pipe nobody reads). A
 * buffer holds at most a page or so, which a pipe that polls writable
 * takes. The lock is recursive: the crashing thread may hold it. */
#define FLUSH_WAIT_MS 100

static void flush_output(void)
{
	FILE *const streams[] = { stdout, stderr };

	for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
		FILE *f = streams[i];
		struct pollfd p = { .fd = fileno(f), .events = POLLOUT };

		if (!__fpending(f) || ftrylockfile(f) != 0)
			continue;
		if (poll(&p, 1, FLUSH_WAIT_MS) == 1 && (p.revents & POLLOUT))
			fflush_unlocked(f);
		funlockfile(f);
	}
}

/* A kernel called exit(): the VE process ends as it would on the VE, and
 * the request that called it gets a report. Not when the worker itself
 * leaves (faults_exit). */
static void on_exit_handler(int status, void *arg)
{
	struct vp_crash *c = &W.hdr->crash;

	(void)arg;
	if (getpid() != worker_pid || atomic_load(&leaving) || atomic_exchange(&crashing, 1))
		return; /* a kernel's forked helper ending, or the worker leaving */
	blame(c, my_slot);
	c->cause = VP_CRASH_EXIT;
	c->signo = 0;
	c->fault_addr = 0;
	c->exit_status = status;
	c->nframes = 0;
	flush_output(); /* exit() would, but only after the host was told */
	faults_publish(VP_WORKER_CRASHED, c->slot);
}

void faults_exit(int status)
{
	atomic_store(&leaving, 1);
	exit(status);
}

/* Dies of the signal itself, so the exit status tells the truth: the
 * default action, and the signal unblocked (the handler runs with every
 * signal blocked). */
static _Noreturn void die_of(int sig)
{
	sigset_t only;

	signal(sig, SIG_DFL);
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	raise(sig);
	_exit(128 + sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	struct vp_crash *c = &W.hdr->crash;
	void *frames[VP_FRAMES_MAX];
	int n, first = 0;

	if (getpid() != worker_pid)
		die_of(sig); /* a process a kernel forked: not the worker's report */
	if (atomic_exchange(&crashing, 1)) {
		/* Another thread crashes too: let the first one report. */
		for (;;)
			pause();
	}
	alarm(2);
	blame(c, my_slot);
	c->cause = VP_CRASH_SIGNAL;
	c->signo = sig;
	c->exit_status = 0;
	c->fault_addr = (uint64_t)(uintptr_t)si->si_addr;

	n = backtrace(frames, VP_FRAMES_MAX);
	/* Start at the interrupted instruction, not in this handler. */
#if defined(__x86_64__)
	uint64_t pc = (uint64_t)((ucontext_t *)uc_)->uc_mcontext.gregs[REG_RIP];

	for (int i = 0; i < n; i++)
		if ((uint64_t)(uintptr_t)frames[i] == pc)
			first = i;
#else
	(void)uc_;
#endif
	c->nframes = 0;
	for (int i = first; i < n; i++) {
		struct vp_frame *f = &c->frames[c->nframes++];

		f->pc = (uint64_t)(uintptr_t)frames[i];
		/* A return address may lie past the end of its caller (a call
		 * to a noreturn function): name the call instruction's. */
		name_of(f->pc, i > first, f->symbol, sizeof f->symbol, f->library,
		        sizeof f->library, &f->offset);
	}

	flush_output();
	faults_publish(VP_WORKER_CRASHED, c->slot);

	die_of(sig);
}

void faults_install(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
	                            SIGTRAP, SIGSYS };
	struct sigaction sa;
	void *warm[2];

	worker_pid = getpid();
	backtrace(warm, 2); /* load the unwinder now, not inside a handler */
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	on_exit(on_exit_handler, NULL);
}

static _Thread_local void *my_altstack;

void faults_thread_init(int slot)
{
	stack_t ss;

	my_slot = slot;
	ss.ss_sp = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE,
	                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return;
	ss.ss_size = ALTSTACK_BYTES;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) == 0)
		my_altstack = ss.ss_sp;
	else
		munmap(ss.ss_sp, ALTSTACK_BYTES);
}

void faults_thread_fini(void)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!my_altstack)
		return;
	sigaltstack(&ss, NULL);
	munmap(my_altstack, ALTSTACK_BYTES);
	my_altstack = NULL;
}
