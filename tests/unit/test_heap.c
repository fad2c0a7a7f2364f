/*
 * test_heap.c: unit test of the VE heap allocator (src/lib/heap.c).
 *
 * Each test builds a heap over a fresh memfd, as libveo does, and checks one
 * promise of heap.h. The program stops at the first failed check, printing
 * it, and exits 0 when every check holds.
 */
#include "heap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "check.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define FD_OFFSET (64 * KiB) /* the heap starts this far into the memfd */

/* Checks that a heap call returns `want` (0 or -errno). */
#define UNIT_CHECK_RC(call, want)                                              \
	do {                                                                   \
		int rc_ = (call), want_ = (want);                              \
		UNIT_CHECK(rc_ == want_, "returned %d (%s), expected %d (%s)", \
		           rc_, strerror(-rc_), want_, strerror(-want_));      \
	} while (0)

static uint64_t page;

/* A heap over a memfd, with the heap range mapped as the host would. */
struct fixture {
	int fd;
	struct heap h;
	uint64_t size;
	unsigned char *mem; /* the heap range, mapped; NULL if not mapped */
};

static void fixture_open(struct fixture *f, uint64_t size, bool map)
{
	unsigned char guard[FD_OFFSET];

	f->size = size;
	f->fd = memfd_create("test_heap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	UNIT_CHECK(f->fd >= 0, "memfd_create: %s", strerror(errno));
	UNIT_CHECK(ftruncate(f->fd, (off_t)(FD_OFFSET + size)) == 0,
	           "ftruncate: %s", strerror(errno));
	/* Whatever precedes the heap in the memfd must never be touched. */
	memset(guard, 0xa5, sizeof guard);
	UNIT_CHECK(pwrite(f->fd, guard, sizeof guard, 0) == (ssize_t)sizeof guard,
	           "pwrite: %s", strerror(errno));
	UNIT_CHECK_RC(heap_init(&f->h, f->fd, FD_OFFSET, size), 0);
	f->mem = NULL;
	if (map) {
		f->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		              f->fd, FD_OFFSET);
		UNIT_CHECK(f->mem != MAP_FAILED, "mmap: %s", strerror(errno));
	}
}

static void fixture_close(struct fixture *f)
{
	unsigned char guard[FD_OFFSET];
	uint64_t i;

	UNIT_CHECK(pread(f->fd, guard, sizeof guard, 0) == (ssize_t)sizeof guard,
	           "pread: %s", strerror(errno));
	for (i = 0; i < sizeof guard; i++)
		UNIT_CHECK(guard[i] == 0xa5, "byte %llu before the heap changed",
		           (unsigned long long)i);
	if (f->mem)
		munmap(f->mem, f->size);
	heap_destroy(&f->h);
	close(f->fd);
}

static uint64_t in_use(struct fixture *f)
{
	uint64_t n;

	heap_stats(&f->h, &n, NULL);
	return n;
}

static uint64_t committed(struct fixture *f)
{
	uint64_t n;

	heap_stats(&f->h, NULL, &n);
	return n;
}

/* Bytes the kernel has allocated to the memfd. */
static uint64_t memfd_bytes(struct fixture *f)
{
	struct stat st;

	UNIT_CHECK(fstat(f->fd, &st) == 0, "fstat: %s", strerror(errno));
	return (uint64_t)st.st_blocks * 512;
}

/* xorshift64: reproducible sizes and choices. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* A size that is small most of the time, sometimes large. */
static uint64_t rnd_size(uint64_t *state)
{
	uint64_t r = rnd(state) % 100;

	if (r < 60)
		return 1 + rnd(state) % 2048;
	if (r < 85)
		return 1 + rnd(state) % (32 * KiB);
	if (r < 97)
		return 32 * KiB + 1 + rnd(state) % MiB;
	return MiB + rnd(state) % (8 * MiB);
}

static void test_init_checks_its_arguments(void)
{
	struct heap h;
	int fd = memfd_create("test_heap", MFD_CLOEXEC);

	UNIT_CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	UNIT_CHECK(ftruncate(fd, (off_t)(FD_OFFSET + 16 * MiB)) == 0, "ftruncate");
	UNIT_CHECK_RC(heap_init(&h, fd, FD_OFFSET, 0), -EINVAL);
	UNIT_CHECK_RC(heap_init(&h, fd, FD_OFFSET, 16 * MiB - 100), -EINVAL);
	UNIT_CHECK_RC(heap_init(&h, fd, FD_OFFSET + 1, page), -EINVAL);
	UNIT_CHECK_RC(heap_init(&h, fd, FD_OFFSET, 32 * MiB), -EINVAL); /* past EOF */
	UNIT_CHECK_RC(heap_init(&h, -1, FD_OFFSET, 16 * MiB), -EINVAL);
	UNIT_CHECK_RC(heap_init(&h, fd, FD_OFFSET, 16 * MiB), 0);
	heap_destroy(&h);
	close(fd);
}

/* Every block is 64-byte aligned, a block of a page or more page aligned,
 * and heap_find reports a usable size of at least what was asked. */
static void test_alignment(void)
{
	static const uint64_t sizes[] = {
		1, 63, 64, 65, 100, 1000, 4095, 4096, 4097, 5000, 12288,
		20000, 32767, 32768, 32769, 100000, MiB, 3 * MiB + 1,
	};
	enum { N = sizeof sizes / sizeof sizes[0] };
	uint64_t off[N], blk_off, blk_size;
	struct fixture f;
	int i;

	fixture_open(&f, GiB, false);
	UNIT_CHECK_RC(heap_alloc(&f.h, 0, &off[0]), -EINVAL);
	for (i = 0; i < N; i++) {
		UNIT_CHECK_RC(heap_alloc(&f.h, sizes[i], &off[i]), 0);
		UNIT_CHECK(off[i] % 64 == 0, "size %llu at offset %#llx",
		           (unsigned long long)sizes[i], (unsigned long long)off[i]);
		UNIT_CHECK(sizes[i] < page || off[i] % page == 0,
		           "size %llu at offset %#llx is not page aligned",
		           (unsigned long long)sizes[i], (unsigned long long)off[i]);
		UNIT_CHECK_RC(heap_find(&f.h, off[i], sizes[i], &blk_off, &blk_size), 0);
		UNIT_CHECK(blk_off == off[i] && blk_size >= sizes[i],
		           "size %llu: block %#llx+%llu", (unsigned long long)sizes[i],
		           (unsigned long long)blk_off, (unsigned long long)blk_size);
	}
	for (i = 0; i < N; i++)
		UNIT_CHECK_RC(heap_free(&f.h, off[i]), 0);
	UNIT_CHECK(in_use(&f) == 0, "%llu bytes still in use",
	           (unsigned long long)in_use(&f));
	fixture_close(&f);
}

/* heap_find accepts a range only when it lies inside one live block. */
static void test_find_checks_ranges(void)
{
	uint64_t a, b, s, big, blk_off, blk_size;
	struct fixture f;

	fixture_open(&f, GiB, false);
	UNIT_CHECK_RC(heap_alloc(&f.h, 100, &a), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 100, &b), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, MiB, &big), 0);

	/* a's slot: at least 100 bytes; b, of the same size class, is the
	 * next slot of the same slab. */
	UNIT_CHECK_RC(heap_find(&f.h, a, 100, &blk_off, &s), 0);
	UNIT_CHECK(blk_off == a && s >= 100 && b == a + s,
	           "a at %#llx+%llu, b at %#llx", (unsigned long long)a,
	           (unsigned long long)s, (unsigned long long)b);
	UNIT_CHECK_RC(heap_find(&f.h, a + 50, s - 50, &blk_off, NULL), 0);
	UNIT_CHECK(blk_off == a, "inner range found block %#llx",
	           (unsigned long long)blk_off);
	UNIT_CHECK_RC(heap_find(&f.h, a + s - 1, 0, NULL, NULL), 0);
	UNIT_CHECK_RC(heap_find(&f.h, a, s + 1, NULL, NULL), -EFAULT);  /* into b */
	UNIT_CHECK_RC(heap_find(&f.h, a + s - 1, 2, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, b + s, 1, NULL, NULL), -EFAULT);  /* free slot */
	UNIT_CHECK_RC(heap_find(&f.h, a + 1, UINT64_MAX, NULL, NULL), -EFAULT);

	UNIT_CHECK_RC(heap_find(&f.h, big, MiB, &blk_off, &blk_size), 0);
	UNIT_CHECK(blk_off == big && blk_size == MiB, "block %#llx+%llu",
	           (unsigned long long)blk_off, (unsigned long long)blk_size);
	UNIT_CHECK_RC(heap_find(&f.h, big + MiB - 1, 1, NULL, NULL), 0);
	UNIT_CHECK_RC(heap_find(&f.h, big + MiB - 1, 2, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, big + MiB, 1, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, big + 10, UINT64_MAX - 5, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, GiB, 0, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, UINT64_MAX, 1, NULL, NULL), -EFAULT);

	UNIT_CHECK_RC(heap_free(&f.h, a), 0);
	UNIT_CHECK_RC(heap_find(&f.h, a, 1, NULL, NULL), -EFAULT);
	UNIT_CHECK_RC(heap_find(&f.h, b, s, NULL, NULL), 0);
	UNIT_CHECK_RC(heap_free(&f.h, b), 0);
	UNIT_CHECK_RC(heap_free(&f.h, big), 0);
	UNIT_CHECK_RC(heap_find(&f.h, big, 1, NULL, NULL), -EFAULT);
	fixture_close(&f);
}

/* Freeing anything but the start of a live block is refused, and changes
 * nothing. */
static void test_bad_frees(void)
{
	uint64_t a, b, odd, big, used;
	struct fixture f;

	fixture_open(&f, GiB, false);
	UNIT_CHECK_RC(heap_alloc(&f.h, 64, &a), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 64, &b), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 20000, &odd), 0); /* 24 KiB slots, slab tail */
	UNIT_CHECK_RC(heap_alloc(&f.h, 2 * MiB, &big), 0);
	used = in_use(&f);

	UNIT_CHECK_RC(heap_free(&f.h, a + 1), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, a + 32), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, b + 64), -EINVAL);       /* a free slot */
	UNIT_CHECK_RC(heap_free(&f.h, odd + 4096), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, odd + 10 * 24576), -EINVAL); /* past the slots */
	UNIT_CHECK_RC(heap_free(&f.h, big + 64), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, big + page), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, big + 2 * MiB), -EINVAL);  /* never allocated */
	UNIT_CHECK_RC(heap_free(&f.h, GiB - page), -EINVAL);
	UNIT_CHECK_RC(heap_free(&f.h, GiB), -EINVAL);            /* out of range */
	UNIT_CHECK_RC(heap_free(&f.h, UINT64_MAX), -EINVAL);
	UNIT_CHECK(in_use(&f) == used, "bogus frees changed in_use");

	UNIT_CHECK_RC(heap_free(&f.h, a), 0);
	UNIT_CHECK_RC(heap_free(&f.h, a), -EINVAL);              /* freed twice */
	UNIT_CHECK_RC(heap_free(&f.h, big), 0);
	UNIT_CHECK_RC(heap_free(&f.h, big), -EINVAL);
	UNIT_CHECK_RC(heap_find(&f.h, b, 64, NULL, NULL), 0);    /* b is untouched */
	UNIT_CHECK_RC(heap_free(&f.h, b), 0);
	UNIT_CHECK_RC(heap_free(&f.h, odd), 0);
	UNIT_CHECK_RC(heap_free(&f.h, odd), -EINVAL);
	UNIT_CHECK(in_use(&f) == 0, "%llu bytes still in use",
	           (unsigned long long)in_use(&f));
	fixture_close(&f);
}

struct block {
	uint64_t off, size; /* size: the usable size heap_find reports */
	unsigned char tag;
};

/* Marks a block's first and last bytes (all of it if small) with its tag. */
static void block_mark(struct fixture *f, const struct block *b)
{
	uint64_t n = b->size < 128 ? b->size : 64;

	memset(f->mem + b->off, b->tag, n);
	memset(f->mem + b->off + b->size - n, b->tag, n);
}

static bool block_marked(struct fixture *f, const struct block *b)
{
	uint64_t n = b->size < 128 ? b->size : 64, i;

	for (i = 0; i < n; i++)
		if (f->mem[b->off + i] != b->tag ||
		    f->mem[b->off + b->size - n + i] != b->tag)
			return false;
	return true;
}

/* Random allocs and frees of mixed sizes, checked against a shadow list:
 * no two live blocks overlap, heap_find agrees with the list on inside,
 * edge and outside ranges, and data written into a block stays there. */
static void test_random_blocks_never_overlap(void)
{
	enum { OPS = 4000, MAX_LIVE = 400 };
	static struct block live[MAX_LIVE];
	uint64_t seed = 0x9e3779b97f4a7c15ull, total = 0, blk_off;
	struct fixture f;
	int n = 0, op, i;

	fixture_open(&f, GiB, true);
	for (op = 0; op < OPS; op++) {
		if (n < MAX_LIVE && (n == 0 || rnd(&seed) % 100 < 55)) {
			struct block *b = &live[n];
			uint64_t size = rnd_size(&seed);

			UNIT_CHECK_RC(heap_alloc(&f.h, size, &b->off), 0);
			UNIT_CHECK_RC(heap_find(&f.h, b->off, size, &blk_off, &b->size), 0);
			UNIT_CHECK(blk_off == b->off && b->size >= size,
			           "op %d: asked %llu, got %#llx+%llu", op,
			           (unsigned long long)size,
			           (unsigned long long)blk_off,
			           (unsigned long long)b->size);
			for (i = 0; i < n; i++)
				UNIT_CHECK(b->off + b->size <= live[i].off ||
				           live[i].off + live[i].size <= b->off,
				           "op %d: %#llx+%llu overlaps %#llx+%llu", op,
				           (unsigned long long)b->off,
				           (unsigned long long)b->size,
				           (unsigned long long)live[i].off,
				           (unsigned long long)live[i].size);
			b->tag = (unsigned char)(op | 1);
			block_mark(&f, b);
			total += b->size;
			n++;
		} else {
			struct block b;

			i = (int)(rnd(&seed) % (uint64_t)n);
			b = live[i];
			live[i] = live[--n];
			UNIT_CHECK(block_marked(&f, &b), "op %d: data of %#llx+%llu "
			           "was overwritten", op, (unsigned long long)b.off,
			           (unsigned long long)b.size);
			UNIT_CHECK_RC(heap_free(&f.h, b.off), 0);
			UNIT_CHECK_RC(heap_find(&f.h, b.off, 1, NULL, NULL), -EFAULT);
			UNIT_CHECK_RC(heap_free(&f.h, b.off), -EINVAL);
			total -= b.size;
		}
		if (n > 0) {
			const struct block *b = &live[rnd(&seed) % (uint64_t)n];
			uint64_t end = b->off + b->size;

			UNIT_CHECK_RC(heap_find(&f.h, b->off, b->size, NULL, NULL), 0);
			UNIT_CHECK_RC(heap_find(&f.h, b->off + b->size / 2,
			                        b->size - b->size / 2, NULL, NULL), 0);
			UNIT_CHECK_RC(heap_find(&f.h, end - 1, 2, NULL, NULL), -EFAULT);
			UNIT_CHECK_RC(heap_find(&f.h, b->off, UINT64_MAX, NULL, NULL),
			              -EFAULT);
			if (b->off > 0)
				UNIT_CHECK_RC(heap_find(&f.h, b->off - 1, 2, NULL, NULL),
				              -EFAULT);
		}
		UNIT_CHECK(in_use(&f) == total, "op %d: in_use %llu, blocks %llu",
		           op, (unsigned long long)in_use(&f),
		           (unsigned long long)total);
	}
	while (n > 0) {
		UNIT_CHECK(block_marked(&f, &live[n - 1]), "data overwritten");
		UNIT_CHECK_RC(heap_free(&f.h, live[--n].off), 0);
	}
	UNIT_CHECK(in_use(&f) == 0, "%llu bytes still in use",
	           (unsigned long long)in_use(&f));
	fixture_close(&f);
}

/* A full heap says -ENOMEM, and works again once something is freed. */
static void test_exhaustion(void)
{
	enum { MAX = 16 };
	static uint64_t small[16 * MiB / 64];
	uint64_t big[MAX], off;
	struct fixture f;
	size_t n = 0, i;
	int rc;

	fixture_open(&f, 16 * MiB, false);
	/* Small blocks of 64 bytes fill it exactly. */
	while ((rc = heap_alloc(&f.h, 64, &off)) == 0) {
		UNIT_CHECK(n < sizeof small / sizeof small[0],
		           "more 64-byte blocks than fit in 16 MiB");
		small[n++] = off;
	}
	UNIT_CHECK_RC(rc, -ENOMEM);
	UNIT_CHECK(n == 16 * MiB / 64, "only %zu 64-byte blocks fit", n);
	UNIT_CHECK_RC(heap_alloc(&f.h, MiB, &off), -ENOMEM);
	UNIT_CHECK(committed(&f) == 16 * MiB, "committed %llu",
	           (unsigned long long)committed(&f));
	UNIT_CHECK_RC(heap_free(&f.h, small[n / 2]), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 64, &off), 0);
	UNIT_CHECK(off == small[n / 2], "the freed slot was not reused");
	for (i = 0; i < n; i++)
		UNIT_CHECK_RC(heap_free(&f.h, small[i]), 0);
	UNIT_CHECK(in_use(&f) == 0 && committed(&f) < MiB,
	           "after freeing all: in_use %llu, committed %llu",
	           (unsigned long long)in_use(&f), (unsigned long long)committed(&f));

	/* Large blocks: 15 MiB of 1 MiB blocks fit at least. */
	n = 0;
	while ((rc = heap_alloc(&f.h, MiB, &off)) == 0) {
		UNIT_CHECK(n < MAX, "more 1 MiB blocks than fit in 16 MiB");
		big[n++] = off;
	}
	UNIT_CHECK_RC(rc, -ENOMEM);
	UNIT_CHECK(n >= 15, "only %zu 1 MiB blocks fit", n);
	UNIT_CHECK_RC(heap_alloc(&f.h, 16 * MiB + 1, &off), -ENOMEM);
	UNIT_CHECK_RC(heap_alloc(&f.h, UINT64_MAX, &off), -ENOMEM);
	UNIT_CHECK_RC(heap_free(&f.h, big[3]), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, MiB, &big[3]), 0);
	for (i = 0; i < n; i++)
		UNIT_CHECK_RC(heap_free(&f.h, big[i]), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 8 * MiB, &off), 0);
	UNIT_CHECK_RC(heap_free(&f.h, off), 0);
	fixture_close(&f);
}

/* Asks the OOM killer to choose this process before any other. */
static void oom_victim_first(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	UNIT_CHECK(fd >= 0 && write(fd, "1000", 4) == 4,
	           "raising oom_score_adj: %s", strerror(errno));
	close(fd);
}

/* A request larger than the machine's memory is refused up front, even
 * when the heap is larger still, and the heap stays usable. */
static void test_request_larger_than_machine(void)
{
	struct sysinfo si;
	uint64_t ram, off, before;
	struct fixture f;

	UNIT_CHECK(sysinfo(&si) == 0, "sysinfo: %s", strerror(errno));
	ram = (uint64_t)si.totalram * si.mem_unit;
	/* Should the heap ever let this request through, the kernel would
	 * fill all memory and the OOM killer would pick a victim: make it
	 * this test, not a bystander (shmem pages are not counted as ours). */
	oom_victim_first();
	fixture_open(&f, (2 * ram + GiB) / page * page, false);
	before = memfd_bytes(&f);
	UNIT_CHECK_RC(heap_alloc(&f.h, ram + GiB, &off), -ENOMEM);
	UNIT_CHECK(committed(&f) == 0 && memfd_bytes(&f) == before,
	           "a refused request committed %llu bytes (memfd %llu, was %llu)",
	           (unsigned long long)committed(&f),
	           (unsigned long long)memfd_bytes(&f), (unsigned long long)before);
	UNIT_CHECK_RC(heap_alloc(&f.h, MiB, &off), 0);
	UNIT_CHECK_RC(heap_free(&f.h, off), 0);
	fixture_close(&f);
}

/* When the kernel refuses to commit pages, the allocation fails and the heap
 * is as it was. A memfd sealed against growing refuses fallocate() past its
 * end, which stands in for a machine out of memory. */
static void test_failed_commit_changes_nothing(void)
{
	uint64_t a, b, used, comm;
	struct fixture f;

	fixture_open(&f, 16 * MiB, false);
	UNIT_CHECK(ftruncate(f.fd, (off_t)(FD_OFFSET + 4 * MiB)) == 0 &&
	           fcntl(f.fd, F_ADD_SEALS, F_SEAL_GROW) == 0,
	           "shrinking and sealing the memfd: %s", strerror(errno));
	UNIT_CHECK_RC(heap_alloc(&f.h, 100, &a), 0);
	used = in_use(&f);
	comm = committed(&f);
	UNIT_CHECK_RC(heap_alloc(&f.h, 8 * MiB, &b), -EPERM);
	UNIT_CHECK(in_use(&f) == used && committed(&f) == comm,
	           "a failed commit changed in_use %llu -> %llu, committed %llu -> %llu",
	           (unsigned long long)used, (unsigned long long)in_use(&f),
	           (unsigned long long)comm, (unsigned long long)committed(&f));
	UNIT_CHECK_RC(heap_alloc(&f.h, 3 * MiB, &b), 0); /* still below the end */
	UNIT_CHECK_RC(heap_find(&f.h, a, 100, NULL, NULL), 0);
	UNIT_CHECK_RC(heap_free(&f.h, b), 0);
	UNIT_CHECK_RC(heap_free(&f.h, a), 0);
	UNIT_CHECK(in_use(&f) == 0, "%llu bytes still in use",
	           (unsigned long long)in_use(&f));
	fixture_close(&f);
}

/* Freeing a large block gives its pages back to the system; small free runs
 * stay committed for reuse. */
static void test_memory_is_given_back(void)
{
	uint64_t off, off2, before, a, b, c;
	struct fixture f;

	fixture_open(&f, GiB, true);
	before = memfd_bytes(&f);
	UNIT_CHECK(committed(&f) == 0, "a new heap has %llu committed",
	           (unsigned long long)committed(&f));

	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * MiB, &off), 0);
	UNIT_CHECK(committed(&f) == 64 * MiB, "committed %llu after 64 MiB",
	           (unsigned long long)committed(&f));
	UNIT_CHECK(memfd_bytes(&f) >= before + 64 * MiB,
	           "the memfd holds %llu bytes after committing 64 MiB",
	           (unsigned long long)memfd_bytes(&f));
	memset(f.mem + off, 1, 64 * MiB);
	UNIT_CHECK_RC(heap_free(&f.h, off), 0);
	UNIT_CHECK(committed(&f) == 0, "committed %llu after the free",
	           (unsigned long long)committed(&f));
	UNIT_CHECK(memfd_bytes(&f) == before, "the memfd holds %llu bytes, not %llu",
	           (unsigned long long)memfd_bytes(&f), (unsigned long long)before);

	/* Punched pages are committed again when reused. */
	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * MiB, &off2), 0);
	UNIT_CHECK(off2 == off, "the freed run was not reused");
	UNIT_CHECK(committed(&f) == 64 * MiB &&
	           memfd_bytes(&f) >= before + 64 * MiB,
	           "reuse: committed %llu, memfd %llu",
	           (unsigned long long)committed(&f),
	           (unsigned long long)memfd_bytes(&f));
	UNIT_CHECK_RC(heap_free(&f.h, off2), 0);

	/* A 64 KiB hole between live blocks is kept committed, and reused
	 * without committing more. */
	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * KiB, &a), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * KiB, &b), 0);
	UNIT_CHECK_RC(heap_free(&f.h, a), 0);
	UNIT_CHECK(committed(&f) == 128 * KiB, "committed %llu",
	           (unsigned long long)committed(&f));
	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * KiB, &c), 0);
	UNIT_CHECK(c == a && committed(&f) == 128 * KiB,
	           "c at %#llx (a at %#llx), committed %llu", (unsigned long long)c,
	           (unsigned long long)a, (unsigned long long)committed(&f));
	UNIT_CHECK_RC(heap_free(&f.h, b), 0);
	UNIT_CHECK_RC(heap_free(&f.h, c), 0);
	/* Freed blocks of at most 32 MiB stay committed (64 MiB in all) for
	 * the next allocation of their size, which then commits nothing. */
	UNIT_CHECK(committed(&f) == 128 * KiB && in_use(&f) == 0,
	           "after freeing all: committed %llu, in use %llu",
	           (unsigned long long)committed(&f), (unsigned long long)in_use(&f));
	UNIT_CHECK_RC(heap_alloc(&f.h, 64 * KiB, &a), 0);
	UNIT_CHECK(committed(&f) == 128 * KiB, "reusing a kept block committed more: %llu",
	           (unsigned long long)committed(&f));
	UNIT_CHECK_RC(heap_find(&f.h, a, 64 * KiB, NULL, NULL), 0);
	UNIT_CHECK_RC(heap_free(&f.h, a), 0);
	UNIT_CHECK(heap_find(&f.h, a, 1, NULL, NULL) == -EFAULT, "a kept block is not live");
	UNIT_CHECK_RC(heap_free(&f.h, a), -EINVAL);
	/* Kept blocks never exceed 64 MiB: 3 x 30 MiB freed keep at most 2. */
	uint64_t k[3];
	for (int i = 0; i < 3; i++)
		UNIT_CHECK_RC(heap_alloc(&f.h, 30 * MiB, &k[i]), 0);
	for (int i = 0; i < 3; i++)
		UNIT_CHECK_RC(heap_free(&f.h, k[i]), 0);
	UNIT_CHECK(committed(&f) <= 64 * MiB, "kept %llu bytes",
	           (unsigned long long)committed(&f));
	fixture_close(&f);
}

/* What the host writes into a block, another mapping of the memfd (the
 * worker's) reads, at fd_offset + offset. */
static void test_data_through_mappings(void)
{
	uint64_t small, big, i;
	unsigned char *worker;
	struct fixture f;

	fixture_open(&f, GiB, true);
	worker = mmap(NULL, FD_OFFSET + GiB, PROT_READ | PROT_WRITE,
	              MAP_SHARED, f.fd, 0);
	UNIT_CHECK(worker != MAP_FAILED, "mmap: %s", strerror(errno));
	UNIT_CHECK_RC(heap_alloc(&f.h, 200, &small), 0);
	UNIT_CHECK_RC(heap_alloc(&f.h, 3 * MiB, &big), 0);

	for (i = 0; i < 200; i++)
		f.mem[small + i] = (unsigned char)i;
	for (i = 0; i < 3 * MiB; i += page)
		f.mem[big + i] = (unsigned char)(i / page);
	for (i = 0; i < 200; i++)
		UNIT_CHECK(worker[FD_OFFSET + small + i] == (unsigned char)i,
		           "byte %llu of the small block", (unsigned long long)i);
	for (i = 0; i < 3 * MiB; i += page)
		UNIT_CHECK(worker[FD_OFFSET + big + i] == (unsigned char)(i / page),
		           "page %llu of the large block", (unsigned long long)(i / page));

	worker[FD_OFFSET + big + 3 * MiB - 1] = 0x5a; /* and back */
	UNIT_CHECK(f.mem[big + 3 * MiB - 1] == 0x5a, "the host misses a write");

	UNIT_CHECK_RC(heap_free(&f.h, small), 0);
	UNIT_CHECK_RC(heap_free(&f.h, big), 0);
	munmap(worker, FD_OFFSET + GiB);
	fixture_close(&f);
}

/* Several threads allocating and freeing at once never get the same memory. */
struct thread_arg {
	struct fixture *f;
	unsigned char tag;
};

static void *thread_main(void *p)
{
	enum { OPS = 5000, MAX_LIVE = 64 };
	struct thread_arg *arg = p;
	struct block live[MAX_LIVE];
	uint64_t seed = 0x2545f4914f6cdd1dull * (arg->tag + 1);
	int n = 0, op, i;

	for (op = 0; op < OPS; op++) {
		if (n < MAX_LIVE && (n == 0 || rnd(&seed) % 2)) {
			struct block *b = &live[n++];
			uint64_t size = rnd_size(&seed) % (512 * KiB) + 1;

			UNIT_CHECK_RC(heap_alloc(&arg->f->h, size, &b->off), 0);
			UNIT_CHECK_RC(heap_find(&arg->f->h, b->off, size, NULL,
			                        &b->size), 0);
			b->tag = arg->tag;
			block_mark(arg->f, b);
		} else {
			i = (int)(rnd(&seed) % (uint64_t)n);
			UNIT_CHECK(block_marked(arg->f, &live[i]),
			           "thread %d: another thread wrote into %#llx",
			           arg->tag, (unsigned long long)live[i].off);
			UNIT_CHECK_RC(heap_free(&arg->f->h, live[i].off), 0);
			live[i] = live[--n];
		}
	}
	while (n > 0)
		UNIT_CHECK_RC(heap_free(&arg->f->h, live[--n].off), 0);
	return NULL;
}

static void test_threads(void)
{
	enum { THREADS = 4 };
	struct thread_arg args[THREADS];
	pthread_t tid[THREADS];
	struct fixture f;
	int i;

	fixture_open(&f, GiB, true);
	for (i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ .f = &f, .tag = (unsigned char)(i + 1) };
		UNIT_CHECK(pthread_create(&tid[i], NULL, thread_main, &args[i]) == 0,
		           "pthread_create");
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(tid[i], NULL);
	UNIT_CHECK(in_use(&f) == 0, "%llu bytes still in use",
	           (unsigned long long)in_use(&f));
	fixture_close(&f);
}

int main(void)
{
	page = (uint64_t)sysconf(_SC_PAGESIZE);
	test_init_checks_its_arguments();
	test_alignment();
	test_find_checks_ranges();
	test_bad_frees();
	test_random_blocks_never_overlap();
	test_exhaustion();
	test_request_larger_than_machine();
	test_failed_commit_changes_nothing();
	test_memory_is_given_back();
	test_data_through_mappings();
	test_threads();
	printf("test_heap: all checks passed\n");
	return 0;
}
