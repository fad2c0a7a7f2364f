/*
 * crash.c: kernels that kill the worker (libcrashkernels.so), one per way a
 * kernel can die. The host must report VEO_COMMAND_EXCEPTION naming the
 * signal and the kernel, and survive. None of these returns normally.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ftruncate, mmap, sysconf with -std=c11 */
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* SIGSEGV: a write through a null pointer. */
int crash_segv(void)
{
	volatile int *p = NULL;
	*p = 1;
	return 0;
}

/* SIGFPE: integer division by zero (volatile, so it is not folded). */
int crash_fpe(int x)
{
	volatile int zero = 0;
	return x / zero;
}

/* SIGILL: __builtin_trap is ud2 on x86-64 (brk on aarch64 gives SIGTRAP). */
int crash_ill(void)
{
	__builtin_trap();
}

/* SIGBUS: touch a mapping of a file after truncating the file to 0 bytes. */
int crash_bus(void)
{
	FILE *f = tmpfile();
	if (!f)
		return -1;
	int fd = fileno(f);
	long page = sysconf(_SC_PAGESIZE);
	if (ftruncate(fd, page) != 0)
		return -2;
	volatile char *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -3;
	if (ftruncate(fd, 0) != 0)
		return -4;
	p[0] = 1;
	return -5;
}

/* SIGABRT. */
int crash_abort(void)
{
	abort();
}

/* SIGSEGV on a stack overflow: the handler must run on an alternate stack. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(volatile char *prev, int depth)
{
	volatile char buf[4096];
	buf[0] = (char)depth;
	buf[4095] = prev ? prev[0] : 0;
	return recurse(buf, depth + 1) + buf[100];
}

int crash_stack_overflow(void)
{
	return recurse(NULL, 0);
}

/* The worker process exits while running a kernel. */
int crash_exit(int code)
{
	exit(code);
}

/* SIGSEGV at a chosen address: the report must name it. */
int crash_segv_at(uint64_t addr)
{
	volatile int *p = (volatile int *)(uintptr_t)addr;
	*p = 1;
	return 0;
}

/* A fault the crash handler cannot see: every signal blocked first, so the
 * kernel kills the process with SIGSEGV without running any handler. */
static volatile uintptr_t unmapped = 8;

int crash_segv_blocked(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	*(volatile int *)unmapped = 1;
	return 0;
}

/* The process ends without its exit handlers (on_exit, atexit). */
int crash_underscore_exit(int code)
{
	_exit(code);
}

/* A line to stdout and one to stderr, not flushed, then death: what the
 * kernel printed must still reach the host's files. */
static void print_before(const char *how)
{
	printf("crashing kernel: printf before %s\n", how);
	fprintf(stderr, "crashing kernel: fprintf(stderr) before %s\n", how);
}

int crash_print_segv(void)
{
	print_before("SIGSEGV");
	return crash_segv();
}

int crash_print_abort(void)
{
	print_before("abort()");
	abort();
}

int crash_print_exit(int code)
{
	print_before("exit()");
	exit(code);
}

/* A kernel that forks a helper, as third-party code does, and waits for it:
 * how 0: the helper exits with exit(5) (running the exit handlers it
 * inherited), 1: it dies of SIGSEGV, 2: it calls _exit(6). Returns the
 * helper's wait status; the worker must not take the helper's end for its
 * own. */
int fork_helper(int how)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (how == 1)
			*(volatile int *)unmapped = 1;
		if (how == 2)
			_exit(6);
		exit(5);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	return status;
}

/* A kernel that ends the thread it runs on, as some library code does on
 * an error: its context must not lose its request, nor its thread. */
int end_thread(void)
{
	pthread_exit(NULL);
}

/* Sleeps us microseconds, or crashes (SIGSEGV) at once if crash is set:
 * a kernel whose run time the host has learnt, ending early by a crash
 * (wait_pace.c). */
int sleep_or_crash(uint64_t us, int crash)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	if (crash)
		return crash_segv();
	while (nanosleep(&ts, &ts) != 0)
		;
	return 0;
}
