/*
 * host_death.c: when the host process dies, its workers exit within a
 * second and leave nothing behind. A child process (the "host") creates two
 * procs, one of them running a kernel that would sleep for a minute, tells
 * the test their pids, and is killed with SIGKILL: no destroy, no atexit.
 *
 * The second time the host first forks a child of its own that lives on
 * (as a program that forks without exec would): that child holds copies of
 * the host's descriptors, so the workers cannot rely on their pipe from the
 * host closing and must notice that their parent is gone.
 *
 * This test makes itself a child subreaper, so the orphaned workers become
 * its children: it can time their exit exactly (a pidfd per worker, no
 * polling with sleeps), reap them, and check that nothing of them is left
 * (no process, no zombie) and that no shared memory was ever given a name
 * (/dev/shm is as it was; the memfds went with the processes).
 */
#include <dirent.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testlib.h"

#define NPROCS 2
/* The promise is a second; the worker is woken by its pipe or by the
 * host's pidfd at once, so a quarter of a second is already generous (a
 * worker polling for a new parent twice a second would not make it). */
#define EXIT_LIMIT_S 0.25

/* Names in /dev/shm, one per line, in buf. */
static void shm_names(char *buf, size_t n)
{
	DIR *d = opendir("/dev/shm");
	size_t used = 0;
	struct dirent *e;

	buf[0] = '\0';
	if (!d)
		return;
	while ((e = readdir(d)) != NULL && used + 260 < n)
		used += (size_t)snprintf(buf + used, n - used, "%s\n", e->d_name);
	closedir(d);
}

/* The "host": creates the procs, reports the pids (and those of a lingering
 * child if asked), waits to be killed. */
static void host(int out, int linger)
{
	pid_t pids[NPROCS + 1];
	for (int i = 0; i < NPROCS; i++) {
		struct veo_proc_handle *proc = veo_proc_create(0);
		if (!proc)
			_exit(2);
		struct veo_thr_ctxt *ctx = veo_context_open(proc);
		uint64_t lib = veo_load_library(proc, kernel_path(TK_LIB_MAIN));
		if (!ctx || !lib)
			_exit(3);
		if (i == 0) {
			struct veo_args *args = veo_args_alloc();
			veo_args_set_u64(args, 0, 60000000);
			uint64_t id = veo_call_async(ctx, veo_get_sym(proc, lib, "sleep_us"), args);
			uint64_t r;
			if (id == VEO_REQUEST_ID_INVALID ||
			    veo_call_peek_result(ctx, id, &r) != VEO_COMMAND_UNFINISHED)
				_exit(4);
		}
		pids[i] = veo_proc_pid(proc);
	}
	pids[NPROCS] = 0;
	if (linger) {
		pids[NPROCS] = fork();
		if (pids[NPROCS] == 0)
			for (;;)
				pause();
	}
	if (write(out, pids, sizeof pids) != (ssize_t)sizeof pids)
		_exit(5);
	for (;;)
		pause();
}

static int is_our_child(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *close_paren = strrchr(buf, ')');
	int ppid = 0;
	char state;
	return close_paren && sscanf(close_paren + 2, "%c %d", &state, &ppid) == 2 &&
	       ppid == getpid();
}

/* Any process (even a zombie) whose parent is this test. */
static int count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) != NULL) {
		int pid = atoi(e->d_name);
		if (pid > 0 && is_our_child(pid))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void host_dies(int linger)
{
	printf("-- the host dies%s\n", linger ? ", leaving a forked child of its own" : "");
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		close(fds[0]);
		host(fds[1], linger);
	}
	close(fds[1]);
	pid_t pids[NPROCS + 1];
	REQUIREF(read(fds[0], pids, sizeof pids) == (ssize_t)sizeof pids,
	         "the host process did not report its workers");
	close(fds[0]);

	int pidfd[NPROCS];
	for (int i = 0; i < NPROCS; i++) {
		pidfd[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
		REQUIREF(pidfd[i] >= 0, "pidfd_open(%d): %s", (int)pids[i], strerror(errno));
	}

	double t0 = test_now();
	REQUIRE(kill(child, SIGKILL) == 0);
	int status;
	REQUIRE(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Each worker notices and exits; as their subreaper we reap them. */
	for (int i = 0; i < NPROCS; i++) {
		struct pollfd pf = { .fd = pidfd[i], .events = POLLIN };
		int ready = poll(&pf, 1, 10000);
		double dt = test_now() - t0;
		printf("worker %d (pid %d) exited %.1f ms after its host was killed\n", i,
		       (int)pids[i], dt * 1e3);
		CHECKF(ready == 1, "worker %d is still running after 10 s", (int)pids[i]);
		CHECKF(dt < EXIT_LIMIT_S, "worker %d took %.3f s to exit", (int)pids[i], dt);
		siginfo_t si;
		memset(&si, 0, sizeof si);
		CHECKF(waitid(P_PID, (id_t)pids[i], &si, WEXITED) == 0,
		       "worker %d was not re-parented to this test: %s", (int)pids[i],
		       strerror(errno));
		CHECKF(si.si_code == CLD_EXITED && si.si_status == 0,
		       "worker %d ended with code %d status %d, want a clean exit", (int)pids[i],
		       si.si_code, si.si_status);
		close(pidfd[i]);
	}
	if (pids[NPROCS] > 0) {
		/* The host's own child is the host's business: end it. */
		CHECK(kill(pids[NPROCS], SIGKILL) == 0);
		CHECK(waitpid(pids[NPROCS], &status, 0) == pids[NPROCS]);
	}

	/* Nothing left: no process, no zombie. */
	for (int i = 0; i < NPROCS; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d", (int)pids[i]);
		CHECKF(access(path, F_OK) != 0, "%s still exists", path);
	}
	CHECK_EQ_I64(count_children(), 0);
}

int main(void)
{
	test_init("host_death");
	REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	static char shm_before[65536], shm_after[65536];
	shm_names(shm_before, sizeof shm_before);
	REQUIRE(count_children() == 0);

	host_dies(0);
	host_dies(1);

	/* No shared memory was given a name. */
	shm_names(shm_after, sizeof shm_after);
	CHECKF(strcmp(shm_before, shm_after) == 0, "/dev/shm changed:\nbefore:\n%safter:\n%s",
	       shm_before, shm_after);
	return test_done();
}
