/*
 * leak_cycles.c: a proc's whole life, again and again, leaves nothing
 * behind in the host. Each cycle creates a proc, loads a kernel library,
 * opens two contexts, runs calls on both (stack arguments included),
 * allocates, writes, reads and frees VE memory, and destroys the proc;
 * every 10th cycle a kernel crashes instead, with a call pending on the
 * other context, and the dead proc is destroyed.
 *
 * After every cycle the host has no child process left; at the end it has
 * the file descriptors and /dev/shm entries it had after the first cycle
 * and, under AddressSanitizer, the same heap bytes in use (within a little
 * slack), so a leak that stays reachable shows too. LeakSanitizer, at
 * exit, reports every block no longer referenced. tests/tools/extra-checks
 * builds this against the sanitizer build and runs it:
 *
 *   leak_cycles [CYCLES]        (default 50; kernels: $OPENVEO_TEST_KERNELS)
 */
#include <dirent.h>
#include <sys/types.h>

#include "../c/testlib.h"

#define CYCLES 50
#define CRASH_EVERY 10
#define CALLS 16              /* pipelined calls per context and cycle */
#define MEM_BYTES (256 * 1024)

/* Heap bytes in use, from the sanitizer's allocator; 0 without one. */
size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes ?
	       __sanitizer_get_current_allocated_bytes() : 0;
}

/* Entries of a directory, "." and ".." not counted; -1 if unreadable. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n - (strcmp(path, "/proc/self/fd") == 0); /* opendir's own */
}

/* Processes whose parent is this one, zombies included. */
static int count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	REQUIRE(d != NULL);
	while ((e = readdir(d))) {
		char path[300], buf[512], *close_paren;
		long ppid = 0;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "r")))
			continue; /* gone meanwhile */
		if (fgets(buf, sizeof buf, f) && (close_paren = strrchr(buf, ')')) &&
		    sscanf(close_paren + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid())
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Calls, stack arguments and VE memory on one context. */
static void work(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t mix,
                 uint64_t inc_bytes, uint64_t sum_bytes, unsigned seed)
{
	struct veo_args *args = test_args();
	uint64_t ids[CALLS], r, ve = 0, want = 0;
	uint8_t buf[100], out[4096], in[4096];

	for (int i = 0; i < CALLS; i++) {
		veo_args_set_u64(args, 0, seed + (uint64_t)i);
		veo_args_set_u64(args, 1, (uint64_t)i);
		ids[i] = veo_call_async(ctx, mix, args);
		CHECK(ids[i] != VEO_REQUEST_ID_INVALID);
	}
	for (int i = 0; i < CALLS; i++) {
		CHECK_EQ_I64(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
		CHECK_EQ_U64(r, (seed + (uint64_t)i) * 1000003u + (uint64_t)i);
	}

	/* A stack argument INOUT: the kernel's +1 comes back. */
	for (size_t i = 0; i < sizeof buf; i++) {
		buf[i] = (uint8_t)(seed + i);
		want += (uint8_t)(buf[i] + 1);
	}
	veo_args_clear(args);
	veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)buf, sizeof buf);
	veo_args_set_u64(args, 1, sizeof buf);
	CHECK_EQ_U64(test_call(ctx, inc_bytes, args), want);
	CHECK_EQ_I64(buf[0], (uint8_t)(seed + 1));

	/* VE memory: written, summed by a kernel, read back, freed. */
	REQUIRE(veo_alloc_mem(proc, &ve, MEM_BYTES) == 0);
	want = 0;
	for (size_t i = 0; i < sizeof out; i++) {
		out[i] = (uint8_t)(seed * 7 + i);
		want += out[i];
	}
	CHECK_EQ_I64(veo_write_mem(proc, ve, out, sizeof out), 0);
	veo_args_clear(args);
	veo_args_set_u64(args, 0, ve);
	veo_args_set_u64(args, 1, sizeof out);
	CHECK_EQ_U64(test_call(ctx, sum_bytes, args), want);
	uint64_t id = veo_async_read_mem(ctx, in, ve, sizeof in);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK(memcmp(in, out, sizeof in) == 0);
	CHECK_EQ_I64(veo_free_mem(proc, ve), 0);
	veo_args_free(args);
}

static void normal_cycle(int cycle)
{
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t mix = test_sym(proc, lib, "mix_u64");
	uint64_t inc = test_sym(proc, lib, "inc_bytes");
	uint64_t sum = test_sym(proc, lib, "sum_bytes");
	struct veo_thr_ctxt *ctx[2] = { test_ctx_open(proc), test_ctx_open(proc) };

	for (int c = 0; c < 2; c++)
		work(proc, ctx[c], mix, inc, sum, (unsigned)(cycle * 2 + c));
	for (int c = 0; c < 2; c++)
		CHECK_EQ_I64(veo_context_close(ctx[c]), 0);
	CHECK_EQ_I64(veo_unload_library(proc, lib), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

/* A kernel crashes on one context while a call waits on the other. */
static void crash_cycle(void)
{
	struct veo_proc_handle *proc = test_proc_create();
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t crashlib = test_load(proc, TK_LIB_CRASH);
	uint64_t mix = test_sym(proc, lib, "mix_u64");
	uint64_t segv = test_sym(proc, crashlib, "crash_segv");
	struct veo_thr_ctxt *ctx[2] = { test_ctx_open(proc), test_ctx_open(proc) };
	struct veo_args *args = test_args();
	uint64_t r;

	veo_set_error_print(0);
	veo_args_set_u64(args, 0, 1);
	veo_args_set_u64(args, 1, 2);
	uint64_t other = veo_call_async(ctx[1], mix, args);
	veo_args_clear(args);
	uint64_t crash = veo_call_async(ctx[0], segv, args);
	REQUIRE(crash != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx[0], crash, &r), VEO_COMMAND_EXCEPTION);
	CHECK_CONTAINS(veo_last_error(), "SIGSEGV");
	if (other != VEO_REQUEST_ID_INVALID) {
		int rc = veo_call_wait_result(ctx[1], other, &r);
		/* It may have run before the crash, or been failed by it. */
		CHECKF(rc == VEO_COMMAND_OK || rc == VEO_COMMAND_ERROR, "other context: %d", rc);
	}
	veo_args_free(args);
	/* A dead proc is released all the same (what these return is the
	 * crash tests' business). */
	for (int c = 0; c < 2; c++)
		veo_context_close(ctx[c]);
	veo_proc_destroy(proc);
	veo_set_error_print(1);
}

int main(int argc, char **argv)
{
	int cycles = argc > 1 ? atoi(argv[1]) : CYCLES;
	int fds0 = 0, shm0 = 0, warmup;
	size_t heap0 = 0;

	test_init("leak_cycles");
	REQUIREF(cycles >= 2, "at least 2 cycles, not %d", cycles);
	/* The first cycles set up what lives for the whole run (stdio
	 * buffers, the dynamic loader's caches), the first crash too: the
	 * baseline is taken after them. */
	warmup = cycles > CRASH_EVERY ? CRASH_EVERY : 1;
	for (int i = 1; i <= cycles; i++) {
		if (i % CRASH_EVERY == 0)
			crash_cycle();
		else
			normal_cycle(i);
		/* veo_proc_destroy has reaped the worker. */
		CHECKF(count_children() == 0, "cycle %d: %d child processes left", i,
		       count_children());
		if (i == warmup) {
			fds0 = count_entries("/proc/self/fd");
			shm0 = count_entries("/dev/shm");
			heap0 = heap_in_use();
		}
		if (test_failures)
			break;
	}
	int fds = count_entries("/proc/self/fd"), shm = count_entries("/dev/shm");
	size_t heap = heap_in_use();

	printf("%d cycles (a crash every %d): fds %d -> %d, /dev/shm %d -> %d, "
	       "heap in use %zu -> %zu bytes\n", cycles, CRASH_EVERY, fds0, fds, shm0, shm,
	       heap0, heap);
	CHECK_EQ_I64(fds, fds0);
	CHECK_EQ_I64(shm, shm0);
	/* A byte per request and cycle would already be thousands. */
	CHECKF(heap <= heap0 + 4096, "heap in use grew by %zu bytes", heap - heap0);
	return test_done();
}
