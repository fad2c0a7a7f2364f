/*
 * dispatch.c: calls a kernel with the arguments of a VP_OP_CALL record.
 *
 * Calls of any signature go through libffi, so that every mix of integer
 * widths, floats, doubles and pointers is passed exactly as the platform's
 * C calling convention requires. The call interface (ffi_cif) of the last
 * signature a thread used is kept, so a loop of identical calls prepares
 * it once.
 *
 * The common case, up to DIRECT_MAX integer or pointer arguments and an
 * integer or no result, is called directly through a function pointer of
 * DIRECT_MAX uint64_t parameters, which costs a few instructions where
 * libffi costs a hundred. This relies on the calling convention, not on
 * ISO C: on x86-64 (System V) and AArch64 the first integer arguments go
 * in registers whatever their number and width, a callee ignores the ones
 * it does not declare, and the caller removes what it put on the stack;
 * narrow arguments are passed sign- or zero-extended to 64 bits, which is
 * what both conventions (and libffi) do. Elsewhere, everything uses libffi.
 */
#include <dlfcn.h>
#include <elf.h>
#include <ffi.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "worker.h"

#define GOOD_FNS 8  /* function addresses remembered as valid, per thread */

#if defined(__x86_64__) || defined(__aarch64__)
#define DIRECT_MAX 8
#else
#define DIRECT_MAX 0
#endif

static ffi_type *const type_map[VP_T_COUNT] = {
	[VP_T_U64] = &ffi_type_uint64, [VP_T_I64] = &ffi_type_sint64,
	[VP_T_I32] = &ffi_type_sint32, [VP_T_U32] = &ffi_type_uint32,
	[VP_T_I16] = &ffi_type_sint16, [VP_T_U16] = &ffi_type_uint16,
	[VP_T_I8] = &ffi_type_sint8,   [VP_T_U8] = &ffi_type_uint8,
	[VP_T_FLOAT] = &ffi_type_float, [VP_T_DOUBLE] = &ffi_type_double,
	[VP_T_VOID] = &ffi_type_void,
};

/* Per-thread cache of the last signature and of the function addresses
 * found valid since the last unload (loader_generation). */
struct call_cache {
	ffi_cif cif;
	int valid;
	unsigned nargs;
	uint8_t ret;
	uint8_t types[VP_MAX_ARGS];
	ffi_type *atypes[VP_MAX_ARGS];
	unsigned fn_generation;
	unsigned fn_next;
	uint64_t good_fn[GOOD_FNS];
	uint64_t last_fn;            /* the one found last: a loop of calls */
};
static _Thread_local struct call_cache cache;

static int prepare(const uint8_t *types, unsigned nargs, uint8_t ret)
{
	if (cache.valid && cache.nargs == nargs && cache.ret == ret &&
	    memcmp(cache.types, types, nargs) == 0)
		return 0;
	cache.valid = 0;
	for (unsigned i = 0; i < nargs; i++)
		cache.atypes[i] = type_map[types[i]];
	if (ffi_prep_cif(&cache.cif, FFI_DEFAULT_ABI, nargs, type_map[ret],
	                 cache.atypes) != FFI_OK)
		return -1;
	memcpy(cache.types, types, nargs);
	cache.nargs = nargs;
	cache.ret = ret;
	cache.valid = 1;
	return 0;
}

struct code_search {
	uint64_t addr;
	int found;
};

static int search_code(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct code_search *cs = arg;

	(void)size;
	/* A library being unloaded is code no longer (loader.c). */
	if (info->dlpi_addr && info->dlpi_addr == atomic_load(&loader_unloading))
		return 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = (uint64_t)info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    cs->addr >= lo && cs->addr - lo < ph->p_memsz) {
			cs->found = 1;
			return 1;
		}
	}
	return 0;
}

/* A function address must lie in the code (an executable segment) of a
 * loaded object: a variable, VE memory, an address of an unloaded library
 * or a made-up number would crash the worker on a host mistake. */
static int fn_known(uint64_t addr)
{
	unsigned gen = atomic_load_explicit(&loader_generation, memory_order_acquire);
	struct code_search cs = { addr, 0 };

	if (gen != cache.fn_generation) {
		memset(cache.good_fn, 0, sizeof cache.good_fn);
		cache.last_fn = 0;
		cache.fn_generation = gen;
	}
	if (addr == cache.last_fn && addr)
		return 1;
	for (unsigned i = 0; i < GOOD_FNS; i++) {
		if (cache.good_fn[i] == addr && addr) {
			cache.last_fn = addr;
			return 1;
		}
	}
	if (addr == 0)
		return 0;
	dl_iterate_phdr(search_code, &cs);
	if (!cs.found)
		return 0;
	cache.good_fn[cache.fn_next++ % GOOD_FNS] = addr;
	cache.last_fn = addr;
	return 1;
}

/* An integer as the calling convention passes it, argument or result:
 * extended to 64 bits from the width of its type. */
static uint64_t extend(uint8_t type, uint64_t v)
{
	switch (type) {
	case VP_T_I32: return (uint64_t)(int64_t)(int32_t)v;
	case VP_T_U32: return (uint32_t)v;
	case VP_T_I16: return (uint64_t)(int64_t)(int16_t)v;
	case VP_T_U16: return (uint16_t)v;
	case VP_T_I8:  return (uint64_t)(int64_t)(int8_t)v;
	case VP_T_U8:  return (uint8_t)v;
	default:       return v;
	}
}

static inline uint64_t widen(uint8_t ret, const void *rv)
{
	uint64_t u;
	double d;
	float f;

	switch (ret) {
	case VP_T_FLOAT: /* as on the VE: the float in the upper 32 bits */
		memcpy(&f, rv, sizeof f);
		uint32_t bits;
		memcpy(&bits, &f, sizeof bits);
		return (uint64_t)bits << 32;
	case VP_T_DOUBLE:
		memcpy(&d, rv, sizeof d);
		memcpy(&u, &d, sizeof u);
		return u;
	case VP_T_VOID:
		return 0;
	default:
		break;
	}
	memcpy(&u, rv, sizeof u); /* ffi_arg: already widened by libffi */
	return extend(ret, u);
}

/* dispatch_decode, inline in dispatch_call: every call goes through it. */
static inline __attribute__((always_inline)) int
decode(const struct vp_call *c, uint32_t len, struct call_plan *plan, char *msg, size_t msglen)
{
	const uint8_t *types = (const uint8_t *)(c + 1);
	unsigned nargs, wide = 0;
	size_t types_len;

	if (len < sizeof *c) {
		snprintf(msg, msglen, "malformed call request");
		return VP_ST_ERROR;
	}
	nargs = c->nargs;
	types_len = vp_align_up(nargs, 8);
	if (nargs > VP_MAX_ARGS ||
	    len < sizeof *c + types_len + (size_t)nargs * sizeof(uint64_t) ||
	    c->ret_type >= VP_T_COUNT) {
		snprintf(msg, msglen, "malformed call request");
		return VP_ST_ERROR;
	}
	for (unsigned i = 0; i < nargs; i++) {
		if (types[i] >= VP_T_COUNT || types[i] == VP_T_VOID) {
			snprintf(msg, msglen, "argument %u has a bad type code", i);
			return VP_ST_ERROR;
		}
		wide |= types[i] == VP_T_FLOAT || types[i] == VP_T_DOUBLE;
	}
	plan->types = types;
	plan->values = (const uint64_t *)(types + types_len);
	plan->nargs = nargs;
	plan->ret = c->ret_type;
	plan->fn = c->addr;
	plan->direct = nargs <= DIRECT_MAX && !wide &&
	               plan->ret != VP_T_FLOAT && plan->ret != VP_T_DOUBLE;
	return VP_ST_OK;
}

int dispatch_decode(const struct vp_call *c, uint32_t len, struct call_plan *plan,
                    char *msg, size_t msglen)
{
	return decode(c, len, plan, msg, msglen);
}

#if DIRECT_MAX
typedef uint64_t direct_fn(uint64_t, uint64_t, uint64_t, uint64_t,
                           uint64_t, uint64_t, uint64_t, uint64_t);

static uint64_t call_direct(const struct call_plan *plan)
{
	uint64_t a[DIRECT_MAX] = { 0 };

	switch (plan->nargs) { /* the common counts without a loop */
	case 0:
		break;
	case 1:
		a[0] = extend(plan->types[0], plan->values[0]);
		break;
	default:
		for (unsigned i = 0; i < plan->nargs; i++)
			a[i] = extend(plan->types[i], plan->values[i]);
		break;
	}
	return ((direct_fn *)(uintptr_t)plan->fn)(a[0], a[1], a[2], a[3],
	                                           a[4], a[5], a[6], a[7]);
}
#endif

static int call_ffi(const struct call_plan *plan, uint64_t *result)
{
	union { ffi_arg i; double d; float f; uint64_t u; } rv = { 0 };
	void *avalues[VP_MAX_ARGS];

	if (prepare(plan->types, plan->nargs, plan->ret) != 0)
		return -1;
	for (unsigned i = 0; i < plan->nargs; i++)
		avalues[i] = (void *)&plan->values[i];
	ffi_call(&cache.cif, (void (*)(void))(uintptr_t)plan->fn, &rv, avalues);
	*result = widen(plan->ret, &rv);
	return 0;
}

int dispatch_call(const struct vp_call *c, uint32_t len, uint64_t *result,
                  char *msg, size_t msglen)
{
	struct call_plan plan;

	if (decode(c, len, &plan, msg, msglen) != VP_ST_OK)
		return VP_ST_ERROR;
	if (!fn_known(plan.fn)) {
		snprintf(msg, msglen, "0x%llx is not code of a loaded library",
		         (unsigned long long)plan.fn);
		return VP_ST_ERROR;
	}
#if DIRECT_MAX
	if (plan.direct) {
		uint64_t rv = call_direct(&plan);

		*result = widen(plan.ret, &rv);
		return VP_ST_OK;
	}
#endif
	if (call_ffi(&plan, result) != 0) {
		snprintf(msg, msglen, "libffi cannot prepare this call");
		return VP_ST_ERROR;
	}
	return VP_ST_OK;
}
