/*
 * hmem.h: the encoding of heterogeneous memory pointers (veo_hmem.h), for
 * every side that reads or makes them: libveo, the worker and the
 * kernel-side library libveohmem. AVEO's bits, because programs test them.
 */
#ifndef OPENVEO_HMEM_H
#define OPENVEO_HMEM_H

#include <stdint.h>

#define HMEM_VE_BIT      (1ull << 63)            /* a VE address */
#define HMEM_IDENT_SHIFT 59                       /* bits 62..59: the proc */
#define HMEM_IDENT_MASK  (0xfull << HMEM_IDENT_SHIFT)
#define HMEM_TAG_MASK    (HMEM_VE_BIT | HMEM_IDENT_MASK)
#define HMEM_MAX_PROCS   16

static inline int hmem_is_ve(uint64_t p)
{
	return (p & HMEM_VE_BIT) != 0;
}

static inline int hmem_ident(uint64_t p)
{
	return (int)((p & HMEM_IDENT_MASK) >> HMEM_IDENT_SHIFT);
}

static inline uint64_t hmem_addr(uint64_t p)
{
	return p & ~HMEM_TAG_MASK;
}

/* addr (any tag dropped) tagged for proc identifier ident (0..15). */
static inline uint64_t hmem_make(uint64_t addr, int ident)
{
	return hmem_addr(addr) | HMEM_VE_BIT | (uint64_t)ident << HMEM_IDENT_SHIFT;
}

#endif
