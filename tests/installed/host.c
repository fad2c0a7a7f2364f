/*
 * host.c: an AVEO-style host program built against an installed openveo
 * (pkg-config veo), with a kernel library built as AVEO's Makefiles build
 * them (-lveohmem -laveoVE -lveftrace; tests/kernels/hmem.c). It uses every
 * hmem call and the kernel-side API, and prints "installed: OK" when every
 * value is right. tests/tools/installed_prefix builds and runs it.
 *
 *   host LIBKERNEL.so
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ve_offload.h>
#include <veo_hmem.h>

#define N 256

static int failures;

#define EXPECT(cond)                                                             \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "host.c:%d: not true: %s (%s)\n", __LINE__,    \
			        #cond, veo_last_error());                        \
			failures++;                                              \
		}                                                                \
	} while (0)

static int hooked_allocs;
static void on_alloc(void *hmem, size_t size) { hooked_allocs += veo_is_ve_addr(hmem) && size; }
static void on_free(uint64_t hmem) { (void)hmem; }

static uint64_t call(struct veo_thr_ctxt *ctx, uint64_t lib, const char *name,
                     struct veo_args *args)
{
	uint64_t id = veo_call_async_by_name(ctx, lib, name, args), r = 0;

	EXPECT(id != VEO_REQUEST_ID_INVALID);
	EXPECT(veo_call_wait_result(ctx, id, &r) == VEO_COMMAND_OK);
	return r;
}

int main(int argc, char **argv)
{
	struct veo_proc_handle *proc;
	struct veo_thr_ctxt *ctx;
	struct veo_args *args;
	int a[N], b[N];
	void *ve, *ve2, *vh;
	uint64_t lib, r;

	if (argc != 2) {
		fprintf(stderr, "usage: host LIBKERNEL.so\n");
		return 2;
	}
	proc = veo_proc_create(-1);
	EXPECT(proc != NULL);
	if (!proc)
		return 1;
	ctx = veo_context_open(proc);
	lib = veo_load_library(proc, argv[1]);
	EXPECT(ctx && lib);
	args = veo_args_alloc();
	veo_register_hmem_hook_functions(on_alloc, on_free);

	EXPECT(veo_alloc_hmem(proc, &ve, sizeof a) == 0);
	EXPECT(veo_alloc_hmem(proc, &ve2, sizeof a) == 0);
	EXPECT(veo_alloc_hmem(NULL, &vh, sizeof a) == 0);
	EXPECT(hooked_allocs == 2);
	EXPECT(veo_is_ve_addr(ve) && !veo_is_ve_addr(vh));
	EXPECT(veo_get_proc_identifier_from_hmem(ve) == veo_proc_identifier(proc));
	EXPECT(veo_get_max_proc_identifier() == 16);
	EXPECT(veo_get_proc_handle_from_hmem(ve) == proc);
	EXPECT(veo_get_pid_from_hmem(ve) == veo_proc_pid(proc));
	EXPECT(veo_get_venum_from_hmem(ve) == 0);
	EXPECT(veo_set_proc_identifier(veo_get_hmem_addr(ve), veo_proc_identifier(proc)) == ve);

	/* The kernel fills the VE block through its hmem pointer. */
	veo_args_set_hmem(args, 0, ve);
	veo_args_set_i32(args, 1, 10);
	veo_args_set_i32(args, 2, N);
	EXPECT(call(ctx, lib, "hmem_fill", args) == (uint64_t)(uintptr_t)veo_get_hmem_addr(ve));
	/* The kernel reads the previous request's result. */
	veo_args_clear(args);
	veo_args_set_i32(args, 0, 0);
	EXPECT(call(ctx, lib, "prev_result", args) == (uint64_t)(uintptr_t)veo_get_hmem_addr(ve));

	/* The four directions. */
	EXPECT(veo_hmemcpy(ve2, ve, sizeof a) == 0);         /* VE -> VE */
	EXPECT(veo_hmemcpy(vh, ve2, sizeof a) == 0);         /* VE -> VH */
	EXPECT(veo_hmemcpy(a, vh, sizeof a) == 0);           /* VH -> VH */
	for (int i = 0; i < N; i++)
		EXPECT(a[i] == 10 + i);
	for (int i = 0; i < N; i++)
		a[i] = -i;
	EXPECT(veo_hmemcpy(ve, a, sizeof a) == 0);           /* VH -> VE */
	EXPECT(veo_hmemcpy(b, ve, sizeof b) == 0);
	EXPECT(memcmp(a, b, sizeof a) == 0);

	/* veo_call_sync: 0 on success. */
	veo_args_clear(args);
	veo_args_set_u64(args, 0, 99);
	r = 0;
	EXPECT(veo_call_sync(proc, veo_get_sym(proc, lib, "return_arg"), args, &r) == 0);
	EXPECT(r == 99);

	EXPECT(veo_free_hmem(ve) == 0 && veo_free_hmem(ve2) == 0 && veo_free_hmem(vh) == 0);
	veo_unregister_hmem_hook_functions();
	veo_args_free(args);
	EXPECT(veo_context_close(ctx) == 0);
	EXPECT(veo_proc_destroy(proc) == 0);
	if (failures)
		return 1;
	printf("installed: OK\n");
	return 0;
}
