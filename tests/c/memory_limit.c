/*
 * memory_limit.c: procs under an address-space limit (RLIMIT_AS, what
 * `ulimit -v` and batch schedulers set). The default VE heap is the
 * machine's memory, reserved; under a limit it is sized to fit instead, so
 * a proc starts and works. When nothing fits, veo_proc_create fails and
 * the message names VEO_HEAP_SIZE; with VEO_HEAP_SIZE set small, it fits.
 * Each case runs in a child process of its own (the limit cannot be lifted
 * again).
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include "testlib.h"

/* Bytes mapped by this process now. */
static uint64_t mapped_now(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* In a child: limit the address space to what is mapped now plus extra,
 * then create a proc, allocate, copy and call. Exit 0 if all worked, 1 if
 * veo_proc_create failed with a message containing want_msg, 2 otherwise. */
static int under_limit(uint64_t extra, const char *heap_size, const char *want_msg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (heap_size)
			setenv("VEO_HEAP_SIZE", heap_size, 1);
		struct rlimit rl = { mapped_now() + extra, RLIM_INFINITY };
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			_exit(3);
		veo_set_error_print(0);
		struct veo_proc_handle *proc = veo_proc_create(0);
		if (!proc) {
			printf("   veo_proc_create: %s\n", veo_last_error());
			_exit(want_msg && strstr(veo_last_error(), want_msg) ? 1 : 2);
		}
		struct veo_thr_ctxt *ctx = veo_context_open(proc);
		uint64_t lib = veo_load_library(proc, kernel_path(TK_LIB_MAIN)), addr = 0, r = 0;
		char buf[1 << 16] = { 1 }, back[1 << 16];
		int ok = ctx && lib && veo_alloc_mem(proc, &addr, 32u << 20) == 0 &&
		         veo_write_mem(proc, addr, buf, sizeof buf) == 0 &&
		         veo_read_mem(proc, back, addr, sizeof back) == 0 && back[0] == 1;
		uint64_t fn = lib ? veo_get_sym(proc, lib, "empty") : 0;
		struct veo_args *args = veo_args_alloc();
		ok = ok && fn && veo_call_sync(proc, fn, args, &r) == 0 && r == TK_EMPTY_RESULT;
		if (!ok)
			printf("   under the limit: %s\n", veo_last_error());
		veo_proc_destroy(proc);
		_exit(ok ? 0 : 2);
	}
	int status = 0;
	REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

int main(void)
{
	test_init("memory_limit");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	printf("memory_limit: skipped (a sanitizer's shadow memory needs no address-space limit)\n");
	return TEST_SKIP_STATUS;
#endif
	/* A limit far below the machine's memory (24 GiB here): it fits. */
	CHECK_EQ_I64(under_limit(2ull << 30, NULL, NULL), 0);
	/* Room for next to nothing: a clear error naming VEO_HEAP_SIZE. */
	CHECK_EQ_I64(under_limit(96ull << 20, NULL, "VEO_HEAP_SIZE"), 1);
	/* A heap set to what fits. */
	CHECK_EQ_I64(under_limit(600ull << 20, "64M", NULL), 0);
	/* A heap set larger than the limit allows: the message says so. */
	CHECK_EQ_I64(under_limit(600ull << 20, "8G", "VEO_HEAP_SIZE"), 1);
	return test_done();
}
