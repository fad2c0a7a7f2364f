/*
 * control.c: the control slot (slot 0) of a proc: one command at a time,
 * under the proc's lock, its answer waited for in place (ring.h); and the
 * commands on it that the API offers directly: loading and unloading
 * libraries, finding symbols (through the symbol cache, syms.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "death.h"
#include "error.h"
#include "inside.h"
#include "output.h"
#include "proc.h"
#include "ring.h"
#include "syms.h"
#include "wait.h"

/* The message of a control answer that is not a success: short ones come
 * in the note (ring.h), long ones in s->msg. Takes the note. */
static void control_note(struct vp_slot *s, uint64_t id, char *msg, size_t msglen)
{
	char m[VP_MSG_MAX];

	ring_take_note(s, id, m);
	if (!m[0]) {
		memcpy(m, s->msg, sizeof m);
		m[sizeof m - 1] = '\0';
	}
	snprintf(msg, msglen, "%s", m[0] ? m : "the VE process refused");
}

int control_call(struct veo_proc_handle *p, struct vp_rec *rec, uint32_t len,
                 uint64_t *result, char *msg, size_t msglen)
{
	struct vp_slot *s = proc_slot(p, VP_SLOT_CTL);
	const struct vp_answer *d;
	uint32_t tail;
	uint64_t id;
	int spin = 1;

	vp_output_flush(); /* before a library's constructors print */
	pthread_mutex_lock(&p->lock);
	if (death_check(p, 0)) {
		pthread_mutex_unlock(&p->lock);
		snprintf(msg, msglen, "%s", death_msg(p));
		return VP_ST_ERROR;
	}
	/* One request at a time (the lock): the ring always has room. */
	id = rec->reqid = ++p->ctl_seq;
	tail = atomic_load_explicit(&s->sq.tail, memory_order_relaxed);
	d = (const struct vp_answer *)ring_push(s, &tail, rec, len);

	for (;;) {
		/* The head before the answer: it moves when the answer comes
		 * (pairs with the release in ring_sq_publish). */
		uint32_t head = atomic_load_explicit(&s->sq.head, memory_order_acquire);
		uint32_t stamp = ring_answer_stamp(d);

		if (vp_answer_for(stamp, id)) {
			uint32_t st = vp_answer_status(stamp);

			*result = d->result;
			if (st != VP_ST_OK)
				control_note(s, id, msg, msglen);
			pthread_mutex_unlock(&p->lock);
			return st == VP_ST_OK ? VP_ST_OK : VP_ST_ERROR;
		}
		if (death_recheck(p)) {
			pthread_mutex_unlock(&p->lock);
			snprintf(msg, msglen, "%s", death_msg(p));
			return VP_ST_ERROR;
		}
		vp_wait_change(&s->sq.head, head, &s->sq.head_sleepers,
		               vp_now_ns() + 20000000ull, spin);
		spin = 0;
	}
}

/* ---- libraries and symbols --------------------------------------------- */


uint64_t veo_load_library(struct veo_proc_handle *p, const char *path)
{
	struct { struct vp_u64arg a; char path[PATH_MAX + 16]; } rec;
	char msg[VP_MSG_MAX];
	uint64_t handle = 0;
	size_t n;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return 0;
	if (!path || !*path)
		return (uint64_t)(error_set("veo_load_library: no path given"), 0);
	n = strlen(path);
	if (n >= PATH_MAX)
		return (uint64_t)(error_set("veo_load_library: path too long"), 0);
	memset(&rec.a, 0, sizeof rec.a);
	memcpy(rec.path, path, n + 1);
	rec.a.rec.op = VP_OP_LOAD_LIB;
	rec.a.rec.len = (uint32_t)vp_align_up(sizeof rec.a + n + 1, VP_REC_ALIGN);
	if (control_call(p, &rec.a.rec, rec.a.rec.len, &handle, msg, sizeof msg) != VP_ST_OK) {
		error_set("veo_load_library(%s): %s", path, msg);
		return 0;
	}
	/* A handle never seen is a new library, perhaps one that replaced a
	 * changed file's older version (the worker's loader.c): the cached
	 * addresses of that version's handle and of global lookups go. */
	pthread_mutex_lock(&p->lock);
	if (handle > p->lib_handle_max) {
		p->lib_handle_max = handle;
		syms_clear(&p->syms);
	}
	pthread_mutex_unlock(&p->lock);
	return handle;
}


int veo_unload_library(struct veo_proc_handle *p, const uint64_t handle)
{
	struct vp_u64arg rec = { .rec = { .len = sizeof rec, .op = VP_OP_UNLOAD_LIB },
	                         .value = handle };
	char msg[VP_MSG_MAX];
	uint64_t r;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	if (control_call(p, &rec.rec, sizeof rec, &r, msg, sizeof msg) != VP_ST_OK)
		return error_set("veo_unload_library: %s", msg);
	syms_drop_lib(&p->syms, handle);
	return 0;
}

uint64_t veo_get_sym(struct veo_proc_handle *p, uint64_t lib, const char *name)
{
	struct { struct vp_u64arg a; char name[VEO_SYMNAME_LEN_MAX + 16]; } rec;
	char msg[VP_MSG_MAX];
	uint64_t addr = 0;
	size_t n;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return 0;
	if (!name || !*name)
		return (uint64_t)(error_set("veo_get_sym: no symbol name given"), 0);
	n = strlen(name);
	if (n > VEO_SYMNAME_LEN_MAX)
		return (uint64_t)(error_set("veo_get_sym: symbol name longer than %d",
		                           VEO_SYMNAME_LEN_MAX), 0);
	if (death_recheck(p))
		return (uint64_t)(error_set("veo_get_sym(%s): %s", name, death_msg(p)), 0);
	addr = syms_find(&p->syms, lib, name);
	if (addr)
		return addr;

	memset(&rec.a, 0, sizeof rec.a);
	memcpy(rec.name, name, n + 1);
	rec.a.rec.op = VP_OP_GET_SYM;
	rec.a.rec.len = (uint32_t)vp_align_up(sizeof rec.a + n + 1, VP_REC_ALIGN);
	rec.a.value = lib;
	if (control_call(p, &rec.a.rec, rec.a.rec.len, &addr, msg, sizeof msg) != VP_ST_OK) {
		error_set("veo_get_sym(%s): %s", name, msg);
		return 0;
	}
	syms_add(&p->syms, lib, name, addr);
	return addr;
}
