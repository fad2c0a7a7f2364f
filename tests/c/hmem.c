/*
 * hmem.c: heterogeneous memory, as AVEO defines it. veo_alloc_hmem gives a
 * VE address tagged with the proc's identifier (bit 63, bits 62..59), or
 * host memory for a NULL proc; veo_hmemcpy tells the direction from the
 * tags and moves the right bytes in all four directions (and between two
 * procs); the getters find the proc, its pid and node again; a kernel gets
 * the pointer without its tag (the VE hardware ignores it; a host CPU
 * would fault), still recognises it as VE memory of its proc, and can use
 * it directly or strip the tag itself; the hmem hook functions see tagged
 * pointers. Bad and freed pointers are errors with a message.
 */
#include "testlib.h"

#define N 1000

static struct { int calls; void *hmem; size_t size; } alloc_seen;
static struct { int calls; uint64_t hmem; } free_seen;

static void on_alloc(void *hmem, size_t size)
{
	alloc_seen.calls++;
	alloc_seen.hmem = hmem;
	alloc_seen.size = size;
}

static void on_free(uint64_t hmem)
{
	free_seen.calls++;
	free_seen.hmem = hmem;
}

static void fill(int *a, int v)
{
	for (int i = 0; i < N; i++)
		a[i] = v + i;
}

static int same(const int *a, int v)
{
	for (int i = 0; i < N; i++)
		if (a[i] != v + i)
			return 0;
	return 1;
}

/* The encoding itself, without any proc. */
static void encoding(void)
{
	void *tagged = veo_set_proc_identifier((void *)0x1000, 5);

	CHECK_EQ_U64((uint64_t)(uintptr_t)tagged, (1ull << 63) | (5ull << 59) | 0x1000);
	CHECK_EQ_I64(veo_is_ve_addr(tagged), 1);
	CHECK_EQ_I64(veo_is_ve_addr((void *)0x1000), 0);
	CHECK_EQ_I64(veo_get_proc_identifier_from_hmem(tagged), 5);
	CHECK_EQ_I64(veo_get_proc_identifier_from_hmem((void *)0x1000), -1);
	CHECK_EQ_U64((uint64_t)(uintptr_t)veo_get_hmem_addr(tagged), 0x1000);
	CHECK_EQ_U64((uint64_t)(uintptr_t)veo_get_hmem_addr((void *)0x1000), 0x1000);
	CHECK_EQ_I64(veo_get_max_proc_identifier(), 16);
	veo_set_error_print(0);
	CHECK(veo_set_proc_identifier((void *)0x1000, 16) == NULL);
	CHECK_CONTAINS(veo_last_error(), "identifier 16 is not 0..15");
	CHECK(veo_set_proc_identifier((void *)0x1000, -1) == NULL);
	veo_set_error_print(1);
}

int main(void)
{
	test_init("hmem");
	encoding();

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_proc_handle *other = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_HMEM);
	int ident = veo_proc_identifier(proc);
	int host[N], back[N];

	veo_register_hmem_hook_functions(on_alloc, on_free);

	/* VE memory: tagged with the proc's identifier, found again. */
	void *ve = NULL;
	REQUIRE(veo_alloc_hmem(proc, &ve, N * sizeof(int)) == 0);
	CHECK_EQ_I64(veo_is_ve_addr(ve), 1);
	CHECK_EQ_I64(veo_get_proc_identifier_from_hmem(ve), ident);
	CHECK(veo_get_proc_handle_from_hmem(ve) == proc);
	CHECK_EQ_I64(veo_get_pid_from_hmem(ve), veo_proc_pid(proc));
	CHECK_EQ_I64(veo_get_venum_from_hmem(ve), 0);
	/* The hook functions saw the tagged pointer (through veo_alloc_mem). */
	CHECK_EQ_I64(alloc_seen.calls, 1);
	CHECK(alloc_seen.hmem == ve);
	CHECK_EQ_U64(alloc_seen.size, N * sizeof(int));

	/* host -> VE, VE -> host. */
	fill(host, 7);
	CHECK_EQ_I64(veo_hmemcpy(ve, host, sizeof host), 0);
	memset(back, 0, sizeof back);
	CHECK_EQ_I64(veo_hmemcpy(back, ve, sizeof back), 0);
	CHECK(same(back, 7));

	/* A kernel gets the pointer as it is, tests and strips the tag. */
	struct veo_args *args = test_args();
	REQUIRE(veo_args_set_hmem(args, 0, ve) == 0);
	veo_args_set_i32(args, 1, 100);
	veo_args_set_i32(args, 2, N);
	uint64_t r = test_call(ctx, test_sym(proc, lib, "hmem_fill"), args);
	CHECK_EQ_U64(r, (uint64_t)(uintptr_t)veo_get_hmem_addr(ve));
	CHECK_EQ_I64(veo_hmemcpy(back, ve, sizeof back), 0);
	CHECK(same(back, 100));
	/* A kernel that uses the pointer as it came, as on the VE hardware. */
	veo_args_set_i32(args, 1, 200);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "hmem_fill_direct"), args),
	             (uint64_t)(uintptr_t)veo_get_hmem_addr(ve));
	CHECK_EQ_I64(veo_hmemcpy(back, ve, sizeof back), 0);
	CHECK(same(back, 200));
	/* In the kernel, the pointer still names this proc. */
	veo_args_clear(args);
	REQUIRE(veo_args_set_hmem(args, 0, ve) == 0);
	CHECK_EQ_U64(test_call(ctx, test_sym(proc, lib, "hmem_ident_of"), args),
	             (uint64_t)(ident * 1000 + 16));

	/* VE -> VE within the proc, and between two procs (an extension). */
	void *ve2 = NULL, *ve_other = NULL;
	REQUIRE(veo_alloc_hmem(proc, &ve2, N * sizeof(int)) == 0);
	REQUIRE(veo_alloc_hmem(other, &ve_other, N * sizeof(int)) == 0);
	CHECK(veo_get_proc_identifier_from_hmem(ve_other) != ident);
	CHECK(veo_get_proc_handle_from_hmem(ve_other) == other);
	CHECK_EQ_I64(veo_hmemcpy(ve2, ve, N * sizeof(int)), 0);
	CHECK_EQ_I64(veo_hmemcpy(ve_other, ve2, N * sizeof(int)), 0);
	memset(back, 0, sizeof back);
	CHECK_EQ_I64(veo_hmemcpy(back, ve_other, sizeof back), 0);
	CHECK(same(back, 200));

	/* host -> host, with host memory from veo_alloc_hmem(NULL, ...). */
	void *h = NULL;
	REQUIRE(veo_alloc_hmem(NULL, &h, N * sizeof(int)) == 0);
	CHECK_EQ_I64(veo_is_ve_addr(h), 0);
	fill(host, 55);
	CHECK_EQ_I64(veo_hmemcpy(h, host, sizeof host), 0);
	CHECK(same(h, 55));
	CHECK(veo_get_proc_handle_from_hmem(h) == NULL);
	CHECK_EQ_I64(veo_get_pid_from_hmem(h), -1);
	CHECK_EQ_I64(veo_get_venum_from_hmem(h), -1);
	CHECK_EQ_I64(veo_free_hmem(h), 0);

	/* Bad and freed pointers: errors with a message, never a crash. */
	veo_set_error_print(0);
	CHECK_FAILS(veo_free_hmem(h), -1, "is not memory from veo_alloc_hmem");
	CHECK_FAILS(veo_free_hmem(host), -1, "is not memory from veo_alloc_hmem");
	void *nobody = veo_set_proc_identifier(veo_get_hmem_addr(ve), 15);
	CHECK_FAILS(veo_hmemcpy(back, nobody, 8), -1, "names proc identifier 15, which is not a live proc");
	CHECK_FAILS(veo_free_hmem(nobody), -1, "not a live proc");
	static char big[1 << 20]; /* more than the block holds, rounding and all */
	CHECK_FAILS(veo_hmemcpy(big, ve, sizeof big), -1, "is not inside allocated VE memory");
	CHECK_FAILS(veo_hmemcpy(NULL, host, 8), -1, "NULL destination");
	CHECK_FAILS(veo_hmemcpy(back, (void *)8, 8), -1, "not both accessible");
	CHECK_FAILS(veo_alloc_hmem(proc, NULL, 8), -1, "NULL result pointer");
	CHECK_EQ_I64(veo_hmemcpy(back, ve, 0), 0); /* nothing to copy */
	veo_set_error_print(1);

	/* Freeing: the hook function sees the tagged pointer; freed twice is an
	 * error; a copy from freed memory is an error. */
	CHECK_EQ_I64(veo_free_hmem(ve2), 0);
	CHECK_EQ_I64(free_seen.calls, 1);
	CHECK_EQ_U64(free_seen.hmem, (uint64_t)(uintptr_t)ve2);
	veo_set_error_print(0);
	CHECK_FAILS(veo_free_hmem(ve2), -1, "is not VE memory from veo_alloc_mem");
	CHECK_FAILS(veo_hmemcpy(back, ve2, 8), -1, "is not inside allocated VE memory");
	veo_set_error_print(1);

	/* The async calls reach the hook functions too, tagged. */
	uint64_t id = veo_alloc_mem_async(ctx, 64), addr = 0;
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &addr), VEO_COMMAND_OK);
	CHECK_EQ_I64(alloc_seen.calls, 4); /* ve, ve2, ve_other, this one */
	CHECK(alloc_seen.hmem == veo_set_proc_identifier((void *)(uintptr_t)addr, ident));
	id = veo_free_mem_async(ctx, addr);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
	CHECK_EQ_I64(free_seen.calls, 2);
	CHECK_EQ_U64(free_seen.hmem, (uint64_t)(uintptr_t)veo_set_proc_identifier(
	                                 (void *)(uintptr_t)addr, ident));
	veo_unregister_hmem_hook_functions();
	CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);
	REQUIRE(veo_alloc_mem(proc, &addr, 8) == 0);
	CHECK_EQ_I64(alloc_seen.calls, 4);

	/* A destroyed proc's pointers name no proc. */
	CHECK_EQ_I64(veo_free_hmem(ve), 0);
	CHECK_EQ_I64(veo_proc_destroy(other), 0);
	veo_set_error_print(0);
	CHECK(veo_get_proc_handle_from_hmem(ve_other) == NULL);
	CHECK_CONTAINS(veo_last_error(), "not a live proc");
	CHECK_FAILS(veo_hmemcpy(back, ve_other, 8), -1, "not a live proc");
	veo_set_error_print(1);

	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
