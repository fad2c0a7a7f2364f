/*
 * worker_placement.c: a context's worker thread that the scheduler left on
 * the caller's CPU moves to another CPU it may run on once short calls
 * keep the two taking turns there (src/worker/slot.c, unshare_cpu), and
 * gives its affinity mask back as it was; one whose mask allows the
 * caller's CPU alone stays there.
 */
#include <dirent.h>
#include <sched.h>

#include "testlib.h"

/* The CPU thread tid of pid last ran on (field 39 of its stat line), -1
 * if it cannot tell. */
static int last_cpu(pid_t pid, int tid)
{
	char path[96], buf[1024], *p;
	FILE *f;
	long v = -1;

	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
	if (!(f = fopen(path, "r")))
		return -1;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')'))) {
		p += 3; /* after the name and the state (field 3): field 4 on */
		for (int field = 4; field <= 39 && *p; field++)
			v = strtol(p, &p, 10);
	}
	fclose(f);
	return (int)v;
}

/* The thread ids of pid, at most 64. */
struct threads {
	int n, tid[64];
};

static void threads_of(pid_t pid, struct threads *t)
{
	char dir[64];
	DIR *d;
	struct dirent *e;

	t->n = 0;
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	REQUIRE((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL && t->n < 64)
		if (atoi(e->d_name) > 0)
			t->tid[t->n++] = atoi(e->d_name);
	closedir(d);
}

/* The thread in after that is not in before (0 if none). */
static int new_thread(const struct threads *before, const struct threads *after)
{
	for (int i = 0; i < after->n; i++) {
		int known = 0;

		for (int k = 0; k < before->n; k++)
			known |= before->tid[k] == after->tid[i];
		if (!known)
			return after->tid[i];
	}
	return 0;
}

/* Whether every thread of pid has the affinity mask want. */
static int masks_are(pid_t pid, const cpu_set_t *want)
{
	struct threads t;
	int same = 1;

	threads_of(pid, &t);
	for (int i = 0; i < t.n; i++) {
		cpu_set_t m;

		if (sched_getaffinity(t.tid[i], sizeof m, &m) == 0 && !CPU_EQUAL(&m, want))
			same = 0;
	}
	return same;
}

/* Calls that the worker answers long before the scheduler balances. */
#define QUICK_CALLS 300

static void calls(struct veo_thr_ctxt *ctx, uint64_t fn, int n)
{
	struct veo_args *args = test_args();
	uint64_t r;

	for (int i = 0; i < n; i++)
		REQUIRE(veo_call_wait_result(ctx, veo_call_async(ctx, fn, args), &r) ==
		        VEO_COMMAND_OK);
	veo_args_free(args);
}

int main(void)
{
	test_init("worker_placement");
	cpu_set_t all, one;
	struct threads before, after;
	int first = -1, tid, cpu;

	REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
	if (CPU_COUNT(&all) < 2)
		TEST_SKIP("one CPU only: there is nowhere to move to");
	for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &all))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);

	struct veo_proc_handle *proc = test_proc_create();
	uint64_t fn = test_sym(proc, test_load(proc, TK_LIB_MAIN), "empty");
	pid_t pid = veo_proc_pid(proc);

	/* The context's thread: the one its opening added. */
	threads_of(pid, &before);
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	threads_of(pid, &after);
	tid = new_thread(&before, &after);
	REQUIREF(tid > 0, "no new worker thread for the context");

	/* A few hundred calls: the scheduler's own balancing takes longer to
	 * move the thread (a worker without unshare_cpu stayed put). */
	printf("-- on the caller's CPU but free to move, the context's thread leaves it "
	       "within %d calls and gives its mask back\n", QUICK_CALLS);
	REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
	test_pin_process(pid, &one);
	calls(ctx, fn, 1);   /* it runs on the caller's CPU now */
	test_pin_process(pid, &all);  /* nothing moves it from there yet */
	calls(ctx, fn, QUICK_CALLS);
	cpu = last_cpu(pid, tid);
	printf("   the context's thread last ran on CPU %d, the caller is on CPU %d\n", cpu,
	       first);
	CHECK(cpu >= 0 && cpu != first);
	CHECK(masks_are(pid, &all));

	printf("-- pinned to the caller's CPU alone, it keeps its mask\n");
	test_pin_process(pid, &one);
	calls(ctx, fn, 2000);
	CHECK(masks_are(pid, &one));
	CHECK_EQ_I64(last_cpu(pid, tid), first);

	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	return test_done();
}
