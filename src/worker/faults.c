/*
 * faults.c: a kernel that crashes (SIGSEGV, SIGBUS, SIGFPE, SIGILL, abort)
 * ends this VE process, as it would on the VE, but first leaves a report
 * in the shared header: the signal, the fault address, the kernel and a
 * backtrace. The host reads it and completes the crashed request with
 * VEO_COMMAND_EXCEPTION; it never has to guess.
 *
 * The first line of the report is "kernel NAME (LIB) died of SIGNAME (...)
 * at address 0x..." or "kernel NAME (LIB) called exit(N): ..."; libveo
 * takes the kernel's name and the exit status from it (proc.c), so keep
 * that shape. A fault in a thread that is not a context's (an OpenMP
 * thread) is charged to the one request running, if only one is.
 *
 * The handler runs on an alternate stack (so a stack overflow is reported
 * too; threads a kernel starts have none, so their stack overflow ends the
 * process without a report, and the host says which signal killed it).
 * Naming symbols uses dladdr() and backtrace(), which are not
 * async-signal-safe; an alarm bounds the time the handler may take, so a
 * handler stuck on a lock still ends the process.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "signame.h"
#include "wait.h"
#include "worker.h"

#define ALTSTACK_BYTES (64 * 1024)

static _Thread_local int my_slot = -1;
static _Atomic int crashing;

/* ---- a tiny formatter that needs no malloc ---- */
struct out {
	char *p;
	size_t left;
};

static void put(struct out *o, const char *s)
{
	while (*s && o->left > 1) {
		*o->p++ = *s++;
		o->left--;
	}
	*o->p = '\0';
}

static void put_hex(struct out *o, uint64_t v)
{
	char b[19], *q = b + sizeof b - 1;

	*q = '\0';
	do {
		*--q = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	*--q = 'x';
	*--q = '0';
	put(o, q);
}

static void put_dec(struct out *o, uint64_t v)
{
	char b[21], *q = b + sizeof b - 1;

	*q = '\0';
	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, q);
}

/* "name+off (lib)" of addr, looked up at addr - adj (see the backtrace). */
static void put_symbol_adj(struct out *o, uint64_t addr, uint64_t adj)
{
	Dl_info di;

	if (dladdr((void *)(uintptr_t)(addr - adj), &di)) {
		if (di.dli_sname) {
			put(o, di.dli_sname);
			if (di.dli_saddr && addr > (uint64_t)(uintptr_t)di.dli_saddr) {
				put(o, "+");
				put_hex(o, addr - (uint64_t)(uintptr_t)di.dli_saddr);
			}
		} else {
			put(o, "?");
		}
		if (di.dli_fname) {
			const char *base = strrchr(di.dli_fname, '/');

			put(o, " (");
			put(o, base ? base + 1 : di.dli_fname);
			put(o, ")");
		}
	} else {
		put(o, "?");
	}
}

static void put_symbol(struct out *o, uint64_t addr)
{
	put_symbol_adj(o, addr, 0);
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
	nanosleep(&again, NULL);
	wake_all_waiters();
}

/* Fills in which request of which slot was running; returns its function.
 * slot is the faulting thread's: a context's, VP_SLOT_CTL (the main thread:
 * loading a library ran its constructors), or -1 (a thread a kernel
 * started). */
static uint64_t blame(struct vp_crash *c, int slot)
{
	if (slot < 0)
		slot = guess_slot();
	c->slot = slot;
	c->reqid = 0;
	if (slot <= VP_SLOT_CTL)
		return 0;
	c->reqid = atomic_load(&worker_slot((unsigned)slot)->running_reqid);
	return atomic_load(&worker_slot((unsigned)slot)->running_fn);
}

/* A kernel called exit(): the VE process ends as it would on the VE, and
 * the request that called it gets a report. (The worker itself leaves with
 * _exit, which does not come here.) */
static void on_exit_handler(int status, void *arg)
{
	struct vp_crash *c = &W.hdr->crash;
	struct out o = { c->msg, sizeof c->msg };
	uint64_t fn;

	(void)arg;
	if (atomic_exchange(&crashing, 1))
		return;
	fn = blame(c, my_slot);
	c->signo = 0;
	c->fault_addr = 0;
	put(&o, "kernel ");
	if (fn)
		put_symbol(&o, fn);
	else
		put(&o, "(unknown)");
	put(&o, " called exit(");
	put_dec(&o, (uint64_t)(unsigned)status);
	put(&o, "): the VE process ended");
	faults_publish(VP_WORKER_CRASHED, c->slot);
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	struct vp_crash *c = &W.hdr->crash;
	struct out o = { c->msg, sizeof c->msg };
	int slot = my_slot;
	uint64_t fn = 0;
	void *frames[24];
	int n;

	if (atomic_exchange(&crashing, 1)) {
		/* Another thread crashes too: let the first one report. */
		for (;;)
			pause();
	}
	alarm(2);
	fn = blame(c, slot);
	c->signo = sig;
	c->fault_addr = (uint64_t)(uintptr_t)si->si_addr;

	put(&o, "kernel ");
	if (fn)
		put_symbol(&o, fn);
	else if (slot == VP_SLOT_CTL)
		put(&o, "(none: the fault was in the VE process's control thread, "
		        "e.g. in a library's constructor)");
	else
		put(&o, "(unknown: the fault was not in a context thread)");
	put(&o, " died of ");
	put(&o, *vp_signal_name(sig) ? vp_signal_name(sig) : "signal");
	put(&o, " (");
	put(&o, strsignal(sig));
	put(&o, ")");
	if (sig != SIGABRT) {
		put(&o, " at address ");
		put_hex(&o, c->fault_addr);
	}
	if (slot < 0 && fn)
		put(&o, " in a thread the kernel started (OpenMP?)");
	put(&o, "\nbacktrace:");
	n = backtrace(frames, 24);
	/* Start at the interrupted instruction, not in this handler. */
	int first = 0;
#if defined(__x86_64__)
	uint64_t pc = (uint64_t)((ucontext_t *)uc_)->uc_mcontext.gregs[REG_RIP];

	for (int i = 0; i < n; i++)
		if ((uint64_t)(uintptr_t)frames[i] == pc)
			first = i;
#endif
	for (int i = first; i < n; i++) {
		put(&o, "\n  #");
		put_dec(&o, (uint64_t)(i - first));
		put(&o, " ");
		put_hex(&o, (uint64_t)(uintptr_t)frames[i]);
		put(&o, " ");
		/* A return address may lie past the end of its caller (a call
		 * to a noreturn function): name the call instruction's. */
		put_symbol_adj(&o, (uint64_t)(uintptr_t)frames[i], i > first);
	}

	faults_publish(VP_WORKER_CRASHED, c->slot);

	/* Die of the signal itself, so the exit status tells the truth. */
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

void faults_install(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
	                            SIGTRAP, SIGSYS };
	struct sigaction sa;
	void *warm[2];

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
