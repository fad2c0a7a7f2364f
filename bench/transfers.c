/*
 * transfers.c: veo_write_mem, veo_read_mem and their async forms, 8 B to
 * 256 MiB, beside their floor, memcpy between the same two host buffers,
 * the trials of every method interleaved.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <ve_offload.h>

#include "bench.h"
#include "floor.h"

/* Copies per trial and trials for a size: enough work per trial that the
 * clock does not matter, few enough trials for 256 MiB to stay quick. */
static long reps_for(size_t size)
{
	long r = (long)((4 * MiB) / size);

	return r < 1 ? 1 : r > 20000 ? 20000 : r;
}

static int trials_for(size_t size)
{
	if (opt.quick)
		return 3;
	return size >= 64 * MiB ? 5 : 7;
}

static char *host_src, *host_dst;

/* Page-aligned host buffers. Alignment matters: glibc's memcpy (rep movsb
 * on this class of CPU) is up to 2.5x slower into a destination that is
 * not 64-byte aligned, which malloc's large blocks (16 mod 64) are not;
 * the floor and the transfers use the same buffers, aligned alike. */
static char *map_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("cannot map %zu bytes for the transfer buffers: %s", size, strerror(errno));
	return p;
}

void transfer_buffers_map(void)
{
	host_src = map_buffer(sizes[nsizes - 1]);
	host_dst = map_buffer(sizes[nsizes - 1]);
	memset(host_src, 0x5a, sizes[nsizes - 1]);
	memset(host_dst, 0xa5, sizes[nsizes - 1]);
}

void transfer_buffers_unmap(void)
{
	munmap(host_src, sizes[nsizes - 1]);
	munmap(host_dst, sizes[nsizes - 1]);
}

/* One transfer of `size` bytes by method `xf`; 0 or -1. */
static int transfer(int xf, struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                    uint64_t ve, size_t size)
{
	uint64_t id, r;

	switch (xf) {
	case XF_WRITE:
		return veo_write_mem(proc, ve, host_src, size);
	case XF_READ:
		return veo_read_mem(proc, host_dst, ve, size);
	case XF_AWRITE:
		id = veo_async_write_mem(ctx, ve, host_src, size);
		break;
	default:
		id = veo_async_read_mem(ctx, host_dst, ve, size);
		break;
	}
	if (id == VEO_REQUEST_ID_INVALID)
		return -1;
	return veo_call_wait_result(ctx, id, &r) == VEO_COMMAND_OK ? 0 : -1;
}

/* One trial: ns per copy of reps copies of `size` bytes by method xf, or
 * by plain memcpy between the host buffers for xf == -1. */
static double transfer_trial(int xf, struct veo_proc_handle *proc,
                             struct veo_thr_ctxt *ctx, uint64_t ve, size_t size, long reps)
{
	double t0 = now_ns();

	for (long j = 0; j < reps; j++) {
		if (xf < 0) {
			memcpy(host_dst, host_src, size);
			clobber(host_dst);
		} else if (transfer(xf, proc, ctx, ve, size) != 0) {
			die("%s of %zu bytes: %s", xf_name[xf], size, veo_last_error());
		}
	}
	return (now_ns() - t0) / reps;
}

/*
 * The transfers and their floor, memcpy between two host buffers, are
 * measured side by side: trial k of every method runs before trial k+1 of
 * any, so that load from elsewhere on the machine falls on all methods
 * alike and the ratios stay meaningful.
 */
void bench_transfers(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx)
{
	size_t max = sizes[nsizes - 1];
	uint64_t ve;

	if (veo_alloc_mem(proc, &ve, max) != 0)
		die("veo_alloc_mem(%zu): %s", max, veo_last_error());
	if (veo_write_mem(proc, ve, host_src, max) != 0) /* fault the pages in */
		die("veo_write_mem: %s", veo_last_error());

	for (unsigned i = 0; i < nsizes; i++) {
		size_t size = sizes[i];
		long reps = reps_for(size);
		int trials = trials_for(size);
		double t[NXF + 1][8];

		for (int xf = -1; xf < NXF; xf++) /* warm */
			transfer_trial(xf, proc, ctx, ve, size, 1);
		for (int k = 0; k < trials; k++)
			for (int xf = -1; xf < NXF; xf++)
				t[xf + 1][k] = transfer_trial(xf, proc, ctx, ve, size, reps);
		R.memcpy_ns[i] = median(t[0], (size_t)trials);
		for (int xf = 0; xf < NXF; xf++)
			R.xfer_ns[xf][i] = median(t[xf + 1], (size_t)trials);
	}
	veo_free_mem(proc, ve);

	printf("time per transfer (memory from veo_alloc_mem):\n");
	printf("  %-9s %10s %10s %10s %12s %12s\n", "size", "memcpy", "write", "read",
	       "async write", "async read");
	for (unsigned i = 0; i < nsizes; i++)
		printf("  %-9s %10s %10s %10s %12s %12s\n", S(sizes[i]), T(R.memcpy_ns[i]),
		       T(R.xfer_ns[XF_WRITE][i]), T(R.xfer_ns[XF_READ][i]),
		       T(R.xfer_ns[XF_AWRITE][i]), T(R.xfer_ns[XF_AREAD][i]));
	printf("bandwidth, GB/s (ratio to memcpy at the same size):\n");
	printf("  %-9s %8s %15s %15s %15s %15s\n", "size", "memcpy", "write", "read",
	       "async write", "async read");
	for (unsigned i = 0; i < nsizes; i++) {
		printf("  %-9s %8.2f", S(sizes[i]), gbps(sizes[i], R.memcpy_ns[i]));
		for (int xf = 0; xf < NXF; xf++) {
			char cell[32];

			snprintf(cell, sizeof cell, "%.2f (%.2fx)", gbps(sizes[i], R.xfer_ns[xf][i]),
			         R.memcpy_ns[i] / R.xfer_ns[xf][i]);
			printf(" %15s", cell);
		}
		printf("\n");
	}
}
