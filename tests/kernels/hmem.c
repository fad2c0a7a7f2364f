/*
 * hmem.c: kernels as VE users write them against AVEO's kernel-side API
 * (libhmemkernels.so): they receive hmem pointers, test and strip the tag
 * (veo_hmem.h) and read the results of earlier requests (veo_ve.h). Built
 * with -lveohmem -laveoVE -lveftrace, as AVEO's Makefiles link kernels.
 */
#include <stdint.h>

#include <veo_hmem.h>
#include <veo_ve.h>

void ftrace_region_begin(const char *name);
void ftrace_region_end(const char *name);

/* Fills n ints at an hmem pointer with v; returns 0 if p was no VE
 * pointer, else the address without its tag. */
uint64_t hmem_fill(int *p, int v, int n)
{
	if (!veo_is_ve_addr(p))
		return 0;
	ftrace_region_begin("hmem_fill");
	p = (int *)veo_get_hmem_addr(p);
	for (int i = 0; i < n; i++)
		p[i] = v + i;
	ftrace_region_end("hmem_fill");
	return (uint64_t)(uintptr_t)p;
}

/* The same, as kernels written for the VE hardware do it: the pointer used
 * as it came, no tag test or strip (the VE ignores the tag's bits). */
uint64_t hmem_fill_direct(int *p, int v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = v + i;
	return (uint64_t)(uintptr_t)p;
}

/* The identifier the pointer carries, and the proc count hmem can name. */
int64_t hmem_ident_of(void *p)
{
	return veo_get_proc_identifier_from_hmem(p) * 1000 + veo_get_max_proc_identifier();
}

/* The result of the request offs before this one, or ~0 if there is none. */
uint64_t prev_result(int offs)
{
	uint64_t r = 0;

	return veo_prev_req_result(offs, &r) == 0 ? r : ~0ull;
}

uint64_t return_arg(uint64_t a)
{
	return a;
}
