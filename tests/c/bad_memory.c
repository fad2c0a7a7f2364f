/*
 * bad_memory.c: memory requests that cannot be right are refused with a
 * message, nothing is copied, the host does not crash, and the proc goes
 * on working:
 *  - enormous sizes: allocations of 2^62 and SIZE_MAX bytes, reads and
 *    writes of 2^62 bytes at heap and non-heap addresses;
 *  - more memory than the machine has: refused before any page is
 *    committed (the heap checks MemAvailable). This test never commits more
 *    than a few MiB: the request is larger than all of the machine's RAM,
 *    with a heap made larger still so that only the machine check stands
 *    in the way, and the test marks itself the OOM killer's first choice
 *    in case anything goes wrong;
 *  - NULL host buffers with a length (sync and async);
 *  - host buffers shorter than the length given, through the worker: an
 *    error, not a crash of the host (a page followed by a guard page);
 *  - addresses not owned: never allocated, already freed, past the end of
 *    a block, inside a block (free), unmapped in the worker, 0;
 *  - frees twice, synchronously and asynchronously.
 */
#include <sys/mman.h>

#include "testlib.h"

#define INVALID VEO_REQUEST_ID_INVALID

static uint64_t meminfo_kb(const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	REQUIRE(f != NULL);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtoull(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	REQUIRE(f != NULL);
	REQUIRE(fscanf(f, "%llu %llu", &size, &rss) == 2);
	fclose(f);
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A request for more than the machine's RAM fails without committing it. */
static void beyond_the_machine(void)
{
	printf("-- more memory than the machine has\n");
	FILE *f = fopen("/proc/self/oom_score_adj", "w");
	REQUIRE(f != NULL);
	fprintf(f, "1000\n");
	fclose(f);

	uint64_t total = meminfo_kb("MemTotal:") << 10;
	REQUIRE(total > 0);
	uint64_t want = total + (1ull << 30);
	char heap_size[32];
	/* The heap itself is reserved address space, not memory. */
	snprintf(heap_size, sizeof heap_size, "%llu", (unsigned long long)(2 * want));
	setenv("VEO_HEAP_SIZE", heap_size, 1);
	struct veo_proc_handle *proc = test_proc_create();
	unsetenv("VEO_HEAP_SIZE");
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);

	uint64_t rss0 = rss_bytes(), addr = 0;
	veo_set_error_print(0);
	double t0 = test_now();
	CHECK_FAILS(veo_alloc_mem(proc, &addr, want), -1, "not enough memory");
	printf("   %s (%.1f ms)\n", veo_last_error(), (test_now() - t0) * 1e3);
	CHECK_FAILS(veo_alloc_mem_async(ctx, want), INVALID, "not enough memory");
	CHECKF(rss_bytes() < rss0 + (64u << 20), "RSS grew from %llu to %llu bytes",
	       (unsigned long long)rss0, (unsigned long long)rss_bytes());
	veo_set_error_print(1);
	/* Small allocations still work. */
	CHECK_EQ_I64(veo_alloc_mem(proc, &addr, 1 << 20), 0);
	CHECK_EQ_I64(veo_free_mem(proc, addr), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

int main(void)
{
	test_init("bad_memory");
	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	uint64_t counter = test_sym(proc, lib, "counter");
	uint64_t heap = 0, r = 0;
	REQUIRE(veo_alloc_mem(proc, &heap, 4096) == 0);
	char buf[64] = { 0 };
	veo_set_error_print(0);

	printf("-- enormous sizes\n");
	uint64_t a = 0;
	CHECK_FAILS(veo_alloc_mem(proc, &a, (size_t)1 << 62), -1, "more than the VE heap holds");
	CHECK_FAILS(veo_alloc_mem(proc, &a, SIZE_MAX), -1, "more than the VE heap holds");
	CHECK_EQ_U64(a, 0);
	CHECK_FAILS(veo_alloc_mem_async(ctx, (size_t)1 << 62), INVALID, "more than the VE heap");
	CHECK_FAILS(veo_read_mem(proc, buf, heap, (size_t)1 << 62), -1, "no VE memory is that large");
	CHECK_FAILS(veo_write_mem(proc, heap, buf, (size_t)1 << 62), -1, "no VE memory is that large");
	CHECK_FAILS(veo_read_mem(proc, buf, counter, (size_t)1 << 62), -1, "no VE memory");
	CHECK_FAILS(veo_write_mem(proc, counter, buf, SIZE_MAX), -1, "wrap around");
	CHECK_FAILS(veo_async_read_mem(ctx, buf, heap, (size_t)1 << 62), INVALID, "no VE memory");
	CHECK_FAILS(veo_async_write_mem(ctx, counter, buf, (size_t)1 << 62), INVALID, "no VE memory");
	/* Larger than the block, smaller than the address space. */
	CHECK_FAILS(veo_read_mem(proc, buf, heap, (size_t)1 << 40), -1,
	      "is not inside allocated VE memory");
	CHECK_FAILS(veo_write_mem(proc, heap + 4000, buf, 200), -1,
	      "is not inside allocated VE memory");

	printf("-- NULL host buffers with a length\n");
	CHECK_FAILS(veo_read_mem(proc, NULL, heap, 8), -1, "NULL host buffer of 8 bytes");
	CHECK_FAILS(veo_write_mem(proc, heap, NULL, 8), -1, "NULL host buffer of 8 bytes");
	CHECK_FAILS(veo_async_read_mem(ctx, NULL, heap, 8), INVALID, "NULL host buffer");
	CHECK_FAILS(veo_async_write_mem(ctx, heap, NULL, 8), INVALID, "NULL host buffer");
	CHECK_FAILS(veo_alloc_mem(proc, NULL, 64), -1, "NULL address pointer");
	/* Zero bytes from NULL is nothing to do. */
	CHECK_EQ_I64(veo_read_mem(proc, NULL, heap, 0), 0);
	CHECK_EQ_I64(veo_write_mem(proc, heap, NULL, 0), 0);

	printf("-- host buffers shorter than the size given\n");
	long page = sysconf(_SC_PAGESIZE);
	char *guarded = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
	                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(guarded != MAP_FAILED);
	REQUIRE(mprotect(guarded + page, (size_t)page, PROT_NONE) == 0);
	struct veo_args *args = test_args();
	veo_args_set_u64(args, 0, 32u << 20);
	uint64_t kbuf = test_call(ctx, test_sym(proc, lib, "k_malloc"), args);
	REQUIRE(kbuf != 0);
	CHECK_FAILS(veo_write_mem(proc, kbuf, guarded, 32u << 20), -1, "is not readable");
	CHECK_FAILS(veo_read_mem(proc, guarded, kbuf, 32u << 20), -1, "is not writable");
	CHECK_FAILS(veo_async_write_mem(ctx, kbuf, guarded, 1u << 20), INVALID, "is not readable");
	uint64_t id = veo_async_read_mem(ctx, guarded, kbuf, 1u << 20);
	REQUIRE(id != INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), "is not writable");
	/* The page itself was fine to use. */
	CHECK_EQ_I64(veo_read_mem(proc, guarded, kbuf, (size_t)page), 0);
	CHECK_EQ_I64((uint8_t)guarded[5], tk_malloc_pattern(5));

	printf("-- addresses not owned\n");
	uint64_t freed = 0;
	REQUIRE(veo_alloc_mem(proc, &freed, 256) == 0);
	REQUIRE(veo_free_mem(proc, freed) == 0);
	CHECK_FAILS(veo_read_mem(proc, buf, freed, 8), -1, "not inside allocated VE memory");
	CHECK_FAILS(veo_write_mem(proc, freed, buf, 8), -1, "not inside allocated VE memory");
	CHECK_FAILS(veo_async_read_mem(ctx, buf, freed, 8), INVALID, "not inside allocated");
	CHECK_FAILS(veo_async_write_mem(ctx, freed, buf, 8), INVALID, "not inside allocated");
	CHECK_FAILS(veo_read_mem(proc, buf, 0, 8), -1, "is not mapped in the VE process");
	CHECK_FAILS(veo_write_mem(proc, 0x1000, buf, 8), -1, "is not mapped in the VE process");
	id = veo_async_read_mem(ctx, buf, 0x1000, 8);
	REQUIRE(id != INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_ERROR);
	CHECK_CONTAINS(veo_last_error(), "is not mapped in the VE process");

	printf("-- frees of what is not a block\n");
	CHECK_FAILS(veo_free_mem(proc, freed), -1, "already freed");
	CHECK_FAILS(veo_free_mem(proc, heap + 64), -1, "not the start of a block");
	CHECK_FAILS(veo_free_mem(proc, 0), -1, "is not VE memory from veo_alloc_mem");
	CHECK_FAILS(veo_free_mem(proc, counter), -1, "is not VE memory from veo_alloc_mem");
	CHECK_FAILS(veo_free_mem_async(ctx, freed), INVALID, "already freed");
	uint64_t b = 0;
	REQUIRE(veo_alloc_mem(proc, &b, 64) == 0);
	uint64_t id1 = veo_free_mem_async(ctx, b);
	REQUIRE(id1 != INVALID);
	/* Queued twice before the first is done: the second fails when run. */
	uint64_t id2 = veo_free_mem_async(ctx, b);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id1, &r), VEO_COMMAND_OK);
	if (id2 != INVALID) {
		CHECK_EQ_I64(veo_call_wait_result(ctx, id2, &r), VEO_COMMAND_ERROR);
		CHECK_CONTAINS(veo_last_error(), "is not allocated VE memory");
	}
	CHECK_FAILS(veo_free_mem(proc, b), -1, "already freed");
	veo_set_error_print(1);

	/* The proc works, the memory too. */
	uint64_t v = 0x1122334455667788ull, back = 0;
	CHECK_EQ_I64(veo_write_mem(proc, heap, &v, sizeof v), 0);
	CHECK_EQ_I64(veo_read_mem(proc, &back, heap, sizeof back), 0);
	CHECK_EQ_U64(back, v);
	veo_args_clear(args);
	veo_args_set_u64(args, 0, kbuf);
	test_call(ctx, test_sym(proc, lib, "k_free"), args);
	veo_args_free(args);
	munmap(guarded, 2 * (size_t)page);
	CHECK_EQ_I64(veo_free_mem(proc, heap), 0);
	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);

	beyond_the_machine();
	return test_done();
}
