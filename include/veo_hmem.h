/*
 * veo_hmem.h: heterogeneous memory (hmem) addresses, for host programs and
 * for kernels alike (AVEO's header of the same name; kernels link with
 * -lveohmem, or use the functions the worker provides).
 *
 * An hmem pointer is a VE address with a tag, as AVEO encodes it: bit 63
 * set marks a VE address, bits 62..59 carry the identifier of the proc the
 * memory belongs to (veo_proc_identifier: at most 16 procs are addressable
 * this way), and bits 58..0 the VE address itself. A pointer without bit
 * 63 is host (VH) memory. veo_alloc_hmem (ve_offload.h) hands them out; a
 * kernel that receives one (veo_args_set_hmem passes it as it is) removes
 * the tag with veo_get_hmem_addr before using it.
 */
#ifndef VEO_HMEM_H
#define VEO_HMEM_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* 1 if addr carries the VE tag (bit 63), else 0. */
int veo_is_ve_addr(const void *addr);
/* addr without its tag: the VE address of a VE pointer, addr itself for a
 * host pointer. */
void *veo_get_hmem_addr(void *addr);
/* How many procs hmem pointers can tell apart: 16. */
int veo_get_max_proc_identifier(void);
/* The proc identifier a VE pointer carries (0..15), -1 for a host pointer. */
int veo_get_proc_identifier_from_hmem(const void *addr);

/* The names of earlier AVEO releases, for kernels written against them:
 * veo_get_virt_addr_ve strips the tag (as veo_get_hmem_addr), and
 * veo_get_virt_addr_vh returns a host pointer as it is. */
void *veo_get_virt_addr_ve(void *addr);
void *veo_get_virt_addr_vh(void *addr);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* VEO_HMEM_H */
