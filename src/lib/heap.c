/*
 * heap.c: the allocator of VE memory (see heap.h). It hands out offsets in a
 * range of a memfd, commits pages with fallocate() as they are handed out and
 * punches them out again when a large free run appears.
 *
 * The data structures
 * -------------------
 * All of them live in malloc()ed host memory, never in the heap range: a
 * kernel that scribbles over VE memory cannot reach them.
 *
 * Every page of the heap belongs to exactly one of:
 *
 *  - a free span (struct heap_span) on h->free_spans, a doubly linked list
 *    in address order. Touching spans are always merged, so two spans never
 *    touch. A span is wholly committed (its pages are fallocate()d and kept
 *    for quick reuse) or wholly a hole; when a merge would mix the two, the
 *    committed parts are punched ("the hole wins").
 *
 *  - a region (struct heap_region): a live run of pages, either one large
 *    block or a slab of small blocks. Regions are always wholly committed.
 *    They sit in h->regions, a tsearch() tree (glibc's red-black tree) whose
 *    comparison orders two runs when one ends before the other starts and
 *    calls overlapping runs equal. Looking up the one-byte run [off, off + 1)
 *    thus finds the region holding off in O(log n).
 *
 * A slab is SLAB_SIZE bytes cut into equal slots of one size class; a bitmap
 * in the region says which slots are handed out. The slabs of a class that
 * have a free slot are on h->partial[class]; an allocation takes a slot from
 * the first. A slab that becomes empty returns to the free spans, unless it
 * is the only slab of its class with room: keeping that one means a loop of
 * alloc/free of one small block never creates and destroys slabs.
 *
 * Large blocks are page-rounded runs taken first fit from the free spans.
 *
 * Committing and giving back: a run taken from a hole is fallocate()d before
 * it is handed out; a failure leaves the heap as it was. A run given back
 * (a freed large block, an empty slab) stays committed unless the free span
 * it merges into reaches GIVE_BACK_MIN or touches a hole; then the committed
 * parts are punched. h->committed is the number of committed bytes in the
 * regions and committed spans, and a page is counted at most once.
 *
 * Costs: a small alloc or free is O(1) (a bitmap word scan from a hint) plus,
 * for a free, the O(log n) tree lookup. A large alloc, a new slab and any
 * give-back walk the span list: O(number of free spans), which stays small
 * unless the heap is badly fragmented. Everything runs under h->lock,
 * including fallocate(), so committing a huge block stalls other threads for
 * as long as the kernel takes to zero its pages.
 */
#include "heap.h"

#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define SLAB_SIZE (256u << 10)        /* a slab, unless a page is larger */
#define SMALL_MAX (32u << 10)         /* largest small block */
#define GIVE_BACK_MIN (1ull << 20)    /* free spans this large are punched */
#define KEEP_MAX_BLOCK (32ull << 20)  /* larger freed blocks are never kept */
#define KEEP_TOTAL (64ull << 20)      /* bytes of freed blocks kept at most */
#define NKEPT (sizeof ((struct heap *)0)->kept / sizeof(struct heap_region *))
#define CLS_LARGE UINT32_MAX          /* heap_region.cls of a large block */

/* The size classes of small blocks. A class of a page or more must be a
 * multiple of the page size, so its slots are page aligned (checked at run
 * time: a class that fails the test is served as a large block). */
static const uint32_t class_size[] = {
	64, 128, 192, 256, 384, 512, 768, 1024,
	1536, 2048, 3072, 4096, 8192, 16384, 24576, 32768,
};
#define NCLASSES (sizeof class_size / sizeof class_size[0])
_Static_assert(NCLASSES == sizeof ((struct heap *)0)->partial /
                           sizeof ((struct heap *)0)->partial[0],
               "one partial list per size class");

/* A run of pages [start, start + len), offsets relative to the heap. */
struct heap_span {
	uint64_t start;
	uint64_t len;
	struct heap_span *prev, *next; /* h->free_spans, while free */
	bool committed;                /* fallocate()d; always true in a region */
};

struct heap_region {
	/* First member: a released region's memory becomes its free span
	 * (a pointer to `run` is the pointer malloc() returned). */
	struct heap_span run;
	uint32_t cls;                  /* size class, or CLS_LARGE */
	/* Slabs only: */
	struct heap_region *prev, *next; /* h->partial[cls], iff nfree > 0 */
	uint32_t nslots;
	uint32_t nfree;
	uint32_t hint;                 /* used[0 .. hint) has no free slot */
	uint64_t used[];               /* bit i set: slot i handed out; bits
	                                  past nslots are set for good */
};

static uint64_t heap_page(void)
{
	static _Atomic uint64_t cached;
	uint64_t p = atomic_load_explicit(&cached, memory_order_relaxed);

	if (p == 0) {
		long v = sysconf(_SC_PAGESIZE);

		p = v > 0 ? (uint64_t)v : 4096;
		atomic_store_explicit(&cached, p, memory_order_relaxed);
	}
	return p;
}

static uint64_t round_up(uint64_t x, uint64_t to)
{
	return (x + to - 1) / to * to;
}

static uint64_t slab_len(void)
{
	return round_up(SLAB_SIZE, heap_page());
}

/* The size class for `size` bytes, or CLS_LARGE. */
static uint32_t class_of(uint64_t size)
{
	uint32_t c;

	if (size > SMALL_MAX)
		return CLS_LARGE;
	for (c = 0; class_size[c] < size; c++)
		;
	if (class_size[c] >= heap_page() && class_size[c] % heap_page())
		return CLS_LARGE;
	return c;
}

/* ---- The region tree ---- */

/* Runs are ordered by address; overlapping runs compare equal. */
static int run_cmp(const void *a, const void *b)
{
	const struct heap_span *x = a, *y = b;

	if (x->start + x->len <= y->start)
		return -1;
	if (y->start + y->len <= x->start)
		return 1;
	return 0;
}

/* The live region holding offset off, or NULL. */
static struct heap_region *region_at(struct heap *h, uint64_t off)
{
	struct heap_span key = { .start = off, .len = 1 };
	void **node;

	if (off >= h->size)
		return NULL;
	node = tfind(&key, &h->regions, run_cmp);
	return node ? *node : NULL;
}

/* ---- Committing pages ---- */

/* Bytes of memory the machine can still give without swapping or the OOM
 * killer: MemAvailable, or sysinfo()'s free and buffer RAM if /proc is not
 * readable. */
static uint64_t machine_available(void)
{
	char buf[4096];
	const char *p;
	ssize_t n = -1;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	struct sysinfo si;

	if (fd >= 0) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
	}
	if (n > 0) {
		buf[n] = '\0';
		p = strstr(buf, "MemAvailable:");
		if (p)
			return strtoull(p + strlen("MemAvailable:"), NULL, 10) << 10;
	}
	if (sysinfo(&si) == 0)
		return ((uint64_t)si.freeram + si.bufferram) * si.mem_unit;
	return UINT64_MAX;
}

/* Whether committing len more bytes leaves the machine some room. sysinfo()
 * is cheap; /proc/meminfo is read only when len is more than half of the
 * free RAM. */
static bool machine_has_room(uint64_t len)
{
	struct sysinfo si;

	if (sysinfo(&si) == 0 && len <= (uint64_t)si.freeram * si.mem_unit / 2)
		return true;
	return len <= machine_available();
}

static int fallocate_retry(int fd, int mode, uint64_t off, uint64_t len)
{
	int rc;

	/* shmem gives up with EINTR when a signal arrives, after undoing
	 * what it had done. */
	do
		rc = fallocate(fd, mode, (off_t)off, (off_t)len);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

/* Returns the pages of [off, off + len) to the system. */
static void punch(struct heap *h, uint64_t off, uint64_t len)
{
	/* A failure (not seen on memfds) leaves the pages allocated; the heap
	 * then counts them as a hole and fallocate()s them again on reuse,
	 * which is harmless. */
	(void)fallocate_retry(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	                      h->fd_offset + off, len);
}

/* Whether shmem gives huge pages to advised mappings only (shmem_enabled
 * is `advise`): then only a fault through the host's MADV_HUGEPAGE mapping
 * allocates them, never fallocate(), which has no mapping to ask. Read
 * once. */
static bool shmem_huge_on_advice_only(void)
{
	static _Atomic int cached = -1; /* -1: not read yet */
	int v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v < 0) {
		char buf[128] = "";
		int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
		              O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof buf - 1);

			buf[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		v = strstr(buf, "[advise]") != NULL;
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v;
}

/* Faults [off, off + len) in, writable, through the host's mapping: the
 * pages are allocated as a write would allocate them (huge, if the mapping
 * may have them). 0, or -errno (-EINVAL: the kernel lacks the call). */
static int populate(struct heap *h, uint64_t off, uint64_t len)
{
#ifdef MADV_POPULATE_WRITE
	int rc;

	do
		rc = madvise((char *)h->map + off, (size_t)len, MADV_POPULATE_WRITE);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
#else
	(void)h, (void)off, (void)len;
	return -EINVAL;
#endif
}

/* Allocates the pages of [off, off + len), which is a hole. Returns 0,
 * -ENOMEM when the machine has no room, or -errno from fallocate(). */
static int commit(struct heap *h, uint64_t off, uint64_t len)
{
	int rc = -EINVAL;

	if (!machine_has_room(len))
		return -ENOMEM;
	if (h->map && shmem_huge_on_advice_only()) {
		rc = populate(h, off, len);
		if (rc == -EFAULT || rc == -EHWPOISON)
			rc = -ENOMEM; /* past the memfd's limits: SIGBUS for a store */
		if (rc == 0 || rc == -ENOMEM) {
			if (rc)
				punch(h, off, len);
			return rc;
		}
	}
	rc = fallocate_retry(h->fd, 0, h->fd_offset + off, len);
	if (rc == 0)
		return 0;
	punch(h, off, len); /* whatever the kernel left behind */
	return rc == -ENOSPC || rc == -EFBIG ? -ENOMEM : rc;
}

static void span_uncommit(struct heap *h, struct heap_span *s)
{
	if (s->committed) {
		punch(h, s->start, s->len);
		h->committed -= s->len;
		s->committed = false;
	}
}

void heap_use_mapping(struct heap *h, void *addr)
{
	h->map = addr;
}

/* ---- Free spans ---- */

static void span_unlink(struct heap *h, struct heap_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		h->free_spans = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* Takes len bytes (a page multiple) from the first free span that holds
 * them, committing them if they are a hole. Returns 0 with *off set,
 * -ENOMEM, or -errno; on failure nothing changed. */
static int run_take(struct heap *h, uint64_t len, uint64_t *off)
{
	struct heap_span *s = h->free_spans;
	int rc;

	while (s && s->len < len)
		s = s->next;
	if (!s)
		return -ENOMEM;
	if (!s->committed) {
		rc = commit(h, s->start, len);
		if (rc)
			return rc;
		h->committed += len;
	}
	*off = s->start;
	s->start += len;
	s->len -= len;
	if (s->len == 0) {
		span_unlink(h, s);
		free(s);
	}
	return 0;
}

/* Gives back the committed run r (taking ownership of its memory): links it
 * into the free spans, merging with the spans it touches, and punches the
 * result if it is GIVE_BACK_MIN or more or touches a hole. */
static void run_give(struct heap *h, struct heap_span *r)
{
	struct heap_span *prev = NULL, *next = h->free_spans;
	bool with_prev, with_next, keep;
	uint64_t total = r->len;

	while (next && next->start < r->start) {
		prev = next;
		next = next->next;
	}
	with_prev = prev && prev->start + prev->len == r->start;
	with_next = next && r->start + r->len == next->start;
	r->committed = true;
	keep = true;
	if (with_prev) {
		total += prev->len;
		keep = keep && prev->committed;
	}
	if (with_next) {
		total += next->len;
		keep = keep && next->committed;
	}
	if (total >= GIVE_BACK_MIN || !keep) {
		span_uncommit(h, r);
		if (with_prev)
			span_uncommit(h, prev);
		if (with_next)
			span_uncommit(h, next);
	}

	if (with_prev) {
		prev->len += r->len;
		free(r);
		r = prev;
	} else {
		r->prev = prev;
		r->next = next;
		if (prev)
			prev->next = r;
		else
			h->free_spans = r;
		if (next)
			next->prev = r;
	}
	if (with_next) {
		r->len += next->len;
		span_unlink(h, next);
		free(next);
	}
}

/* ---- Slabs ---- */

static void partial_push(struct heap *h, struct heap_region *r)
{
	r->prev = NULL;
	r->next = h->partial[r->cls];
	if (r->next)
		r->next->prev = r;
	h->partial[r->cls] = r;
}

static void partial_unlink(struct heap *h, struct heap_region *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		h->partial[r->cls] = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* Creates a slab of class cls and puts it on its partial list. Returns 0 or
 * -errno, with nothing changed. */
static int slab_new(struct heap *h, uint32_t cls)
{
	uint32_t nslots = (uint32_t)(slab_len() / class_size[cls]);
	uint32_t nwords = (nslots + 63) / 64;
	struct heap_region *r;
	uint64_t off;
	int rc;

	r = calloc(1, sizeof *r + nwords * sizeof r->used[0]);
	if (!r)
		return -ENOMEM;
	rc = run_take(h, slab_len(), &off);
	if (rc) {
		free(r);
		return rc;
	}
	r->run.start = off;
	r->run.len = slab_len();
	r->cls = cls;
	r->nslots = r->nfree = nslots;
	if (nslots % 64)
		r->used[nwords - 1] = ~0ull << (nslots % 64);
	if (!tsearch(r, &h->regions, run_cmp)) {
		run_give(h, &r->run);
		return -ENOMEM;
	}
	partial_push(h, r);
	return 0;
}

/* Hands out a free slot of r (r->nfree > 0) and returns its index. */
static uint32_t slab_take_slot(struct heap_region *r)
{
	uint32_t w = r->hint;
	int bit;

	while (r->used[w] == ~0ull)
		w++;
	bit = __builtin_ctzll(~r->used[w]);
	r->used[w] |= 1ull << bit;
	r->hint = w;
	r->nfree--;
	return w * 64 + (uint32_t)bit;
}

static bool slab_slot_used(const struct heap_region *r, uint64_t slot)
{
	return slot < r->nslots && (r->used[slot / 64] >> (slot % 64) & 1);
}

/* Returns the region r (no longer on any list) to the free spans. */
static void region_release(struct heap *h, struct heap_region *r)
{
	tdelete(r, &h->regions, run_cmp);
	run_give(h, &r->run);
}

static int small_alloc(struct heap *h, uint32_t cls, uint64_t *off)
{
	struct heap_region *r;
	uint32_t slot;
	int rc;

	if (!h->partial[cls]) {
		rc = slab_new(h, cls);
		if (rc)
			return rc;
	}
	r = h->partial[cls];
	slot = slab_take_slot(r);
	if (r->nfree == 0)
		partial_unlink(h, r);
	*off = r->run.start + (uint64_t)slot * class_size[cls];
	h->in_use += class_size[cls];
	return 0;
}

static int small_free(struct heap *h, struct heap_region *r, uint64_t off)
{
	uint64_t size = class_size[r->cls];
	uint64_t rel = off - r->run.start;
	uint64_t slot = rel / size;

	if (rel % size || !slab_slot_used(r, slot))
		return -EINVAL;
	r->used[slot / 64] &= ~(1ull << (slot % 64));
	if (slot / 64 < r->hint)
		r->hint = (uint32_t)(slot / 64);
	r->nfree++;
	h->in_use -= size;
	if (r->nfree == 1) {
		partial_push(h, r);
	} else if (r->nfree == r->nslots &&
	           (h->partial[r->cls] != r || r->next)) {
		/* Empty, and not the only slab of its class with room. */
		partial_unlink(h, r);
		region_release(h, r);
	}
	return 0;
}

/* ---- Large blocks ---- */

/* Kept blocks: a freed large block of at most KEEP_MAX_BLOCK stays
 * committed (out of the region tree, so it is not live) in h->kept, up to
 * KEEP_TOTAL bytes, and serves the next allocation that it fits without
 * wasting more than a quarter. Allocating and freeing the same large size
 * in a loop then costs neither fallocate() nor a punch. */
static struct heap_region *kept_take(struct heap *h, uint64_t len)
{
	for (unsigned i = 0; i < NKEPT; i++) {
		struct heap_region *r = h->kept[i];

		if (r && r->run.len >= len && r->run.len - len <= len / 4) {
			h->kept[i] = NULL;
			h->kept_bytes -= r->run.len;
			return r;
		}
	}
	return NULL;
}

/* Keeps the large region r, just taken out of the tree; gives back older
 * kept blocks to make room, or r itself when it is too large. */
static void kept_put(struct heap *h, struct heap_region *r)
{
	unsigned i, oldest = 0;

	if (r->run.len > KEEP_MAX_BLOCK) {
		run_give(h, &r->run);
		return;
	}
	for (;;) {
		unsigned free_slot = NKEPT;

		for (i = 0; i < NKEPT; i++)
			if (!h->kept[i])
				free_slot = i;
		if (free_slot < NKEPT && h->kept_bytes + r->run.len <= KEEP_TOTAL) {
			h->kept[free_slot] = r;
			h->kept_bytes += r->run.len;
			return;
		}
		/* Give back the first kept block and try again. */
		while (!h->kept[oldest])
			oldest++;
		h->kept_bytes -= h->kept[oldest]->run.len;
		run_give(h, &h->kept[oldest]->run);
		h->kept[oldest] = NULL;
	}
}

/* Gives back every kept block (when the heap runs short). */
static void kept_flush(struct heap *h)
{
	for (unsigned i = 0; i < NKEPT; i++) {
		if (h->kept[i]) {
			run_give(h, &h->kept[i]->run);
			h->kept[i] = NULL;
		}
	}
	h->kept_bytes = 0;
}

static int large_alloc(struct heap *h, uint64_t size, uint64_t *off)
{
	uint64_t len = round_up(size, heap_page());
	struct heap_region *r = kept_take(h, len);
	int rc;

	if (r) {
		if (!tsearch(r, &h->regions, run_cmp)) {
			run_give(h, &r->run);
			return -ENOMEM;
		}
		*off = r->run.start;
		h->in_use += r->run.len;
		return 0;
	}
	r = calloc(1, sizeof *r);

	if (!r)
		return -ENOMEM;
	rc = run_take(h, len, off);
	if (rc) {
		free(r);
		return rc;
	}
	r->run.start = *off;
	r->run.len = len;
	r->cls = CLS_LARGE;
	if (!tsearch(r, &h->regions, run_cmp)) {
		run_give(h, &r->run);
		return -ENOMEM;
	}
	h->in_use += len;
	return 0;
}

/* ---- The interface ---- */

int heap_init(struct heap *h, int fd, uint64_t fd_offset, uint64_t size)
{
	uint64_t page = heap_page();
	struct heap_span *all;
	struct stat st;
	int rc;

	memset(h, 0, sizeof *h);
	if (fd < 0 || size == 0 || size % page || fd_offset % page ||
	    size > INT64_MAX || fd_offset > INT64_MAX - size)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < fd_offset + size)
		return -EINVAL; /* the memfd must already cover the heap */
	all = calloc(1, sizeof *all);
	if (!all)
		return -ENOMEM;
	rc = pthread_mutex_init(&h->lock, NULL);
	if (rc) {
		free(all);
		return -rc;
	}
	/* The range is taken to be a hole, as a fresh ftruncate() leaves it. */
	all->len = size;
	h->free_spans = all;
	h->fd = fd;
	h->fd_offset = fd_offset;
	h->size = size;
	return 0;
}

void heap_destroy(struct heap *h)
{
	struct heap_span *s, *next;

	tdestroy(h->regions, free);
	for (unsigned i = 0; i < NKEPT; i++)
		free(h->kept[i]);
	for (s = h->free_spans; s; s = next) {
		next = s->next;
		free(s);
	}
	pthread_mutex_destroy(&h->lock);
	memset(h, 0, sizeof *h);
}

int heap_alloc(struct heap *h, uint64_t size, uint64_t *off)
{
	uint32_t cls;
	int rc;

	if (size == 0)
		return -EINVAL;
	if (size > h->size)
		return -ENOMEM;
	cls = class_of(size);
	pthread_mutex_lock(&h->lock);
	for (int again = 1;; again = 0) {
		if (cls == CLS_LARGE)
			rc = large_alloc(h, size, off);
		else
			rc = small_alloc(h, cls, off);
		if (rc != -ENOMEM || !again || h->kept_bytes == 0)
			break;
		kept_flush(h); /* short of room: the kept blocks go first */
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int heap_free(struct heap *h, uint64_t off)
{
	struct heap_region *r;
	int rc = -EINVAL;

	pthread_mutex_lock(&h->lock);
	r = region_at(h, off);
	if (r && r->cls != CLS_LARGE) {
		rc = small_free(h, r, off);
	} else if (r && off == r->run.start) {
		h->in_use -= r->run.len;
		tdelete(r, &h->regions, run_cmp);
		kept_put(h, r);
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int heap_find(struct heap *h, uint64_t off, uint64_t len, uint64_t *blk_off,
              uint64_t *blk_size)
{
	struct heap_region *r;
	uint64_t start = 0, size = 0;
	int rc = -EFAULT;

	pthread_mutex_lock(&h->lock);
	r = region_at(h, off);
	if (r && r->cls == CLS_LARGE) {
		start = r->run.start;
		size = r->run.len;
	} else if (r) {
		uint64_t slot;

		size = class_size[r->cls];
		slot = (off - r->run.start) / size;
		start = r->run.start + slot * size;
		if (!slab_slot_used(r, slot))
			r = NULL;
	}
	/* off - start < size here; compare lengths so off + len cannot wrap. */
	if (r && len <= size - (off - start)) {
		if (blk_off)
			*blk_off = start;
		if (blk_size)
			*blk_size = size;
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void heap_stats(struct heap *h, uint64_t *in_use, uint64_t *committed)
{
	pthread_mutex_lock(&h->lock);
	if (in_use)
		*in_use = h->in_use;
	if (committed)
		*committed = h->committed;
	pthread_mutex_unlock(&h->lock);
}
