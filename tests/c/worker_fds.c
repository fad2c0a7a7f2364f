/*
 * worker_fds.c: what the worker can reach, and what others can.
 *  - The worker inherits only what it needs: stdin, stdout, stderr, the
 *    shared memory (fd 3), its pipe from the host (fd 4, which its
 *    watchdog moves high, out of the range kernels close) and the eventfd
 *    of completion notifications (fd 5, moved high too). Descriptors
 *    the host left open without close-on-exec (here a file at fd 3 and
 *    others up to fd 900, opened before the proc) do not reach it.
 *  - The shared memory is a memfd: no name in /dev/shm or anywhere else
 *    (nothing to open by name), and /dev/shm is as it was.
 *  - The host's own descriptors for a proc (memfd, pidfd, pipe) are
 *    close-on-exec, so programs the host starts do not inherit them.
 */
#include <dirent.h>
#include <fcntl.h>

#include "testlib.h"

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The target of /proc/<pid>/fd/<fd>, or "" if there is no such fd. */
static const char *fd_target(pid_t pid, int fd)
{
	static char buf[PATH_MAX];
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	test_init("worker_fds");
	int shm_before = count_dir("/dev/shm");

	/* Descriptors without close-on-exec, at low and high numbers; a file
	 * with a name the test can look for. */
	char marker[] = "/tmp/openveo-worker-fds-XXXXXX";
	int mfd = mkstemp(marker);
	REQUIRE(mfd >= 0);
	int high[] = { 5, 6, 7, 10, 63, 64, 255, 900 };
	for (size_t i = 0; i < sizeof high / sizeof high[0]; i++)
		REQUIRE(dup2(mfd, high[i]) == high[i]);
	/* fd 3 too: the worker's fd 3 must be its memfd, not this. */
	REQUIRE(dup2(mfd, 3) == 3);
	int flags = fcntl(900, F_GETFD);
	REQUIRE(flags >= 0 && !(flags & FD_CLOEXEC));

	struct veo_proc_handle *proc = test_proc_create();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_MAIN);
	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "empty")), TK_EMPTY_RESULT);
	pid_t pid = veo_proc_pid(proc);

	printf("-- the worker's descriptors\n");
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	REQUIRE(d != NULL);
	struct dirent *e;
	int n = 0;
	char worker_pipe[PATH_MAX] = "";
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		const char *t = fd_target(pid, fd);
		printf("   fd %d -> %s\n", fd, t);
		n++;
		CHECKF(strstr(t, "openveo-worker-fds") == NULL,
		       "the worker inherited the host's file at fd %d", fd);
		if (fd == 3)
			CHECKF(strncmp(t, "/memfd:openveo", 14) == 0, "fd 3 is %s, want the memfd", t);
		else if (fd > 3 && strncmp(t, "pipe:", 5) == 0 && !worker_pipe[0])
			/* The pipe from the host: fd 4, moved high by the worker's
			 * watchdog, out of the range kernels close. */
			snprintf(worker_pipe, sizeof worker_pipe, "%s", t);
		else if (fd > 4)
			/* The worker's own: the pidfd it watches the host with, and
			 * the eventfd it tells the host's event loop with. */
			CHECKF(strstr(t, "pidfd") != NULL || strstr(t, "[eventfd]") != NULL,
			       "unexpected fd %d -> %s", fd, t);
	}
	closedir(d);
	CHECKF(n <= 7, "the worker has %d descriptors", n);
	CHECKF(worker_pipe[0], "the worker has no pipe from the host");

	printf("-- the host's descriptors for the proc\n");
	int host_memfd = 0;
	d = opendir("/proc/self/fd");
	REQUIRE(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		const char *t = fd_target(getpid(), fd);
		int own = strncmp(t, "/memfd:openveo", 14) == 0 || strstr(t, "pidfd") ||
		          strstr(t, "[eventfd]") || strcmp(t, worker_pipe) == 0;
		if (!own || fd <= 2)
			continue;
		host_memfd += strncmp(t, "/memfd:openveo", 14) == 0;
		int fl = fcntl(fd, F_GETFD);
		printf("   fd %d -> %s%s\n", fd, t, fl & FD_CLOEXEC ? " (close-on-exec)" : "");
		CHECKF(fl >= 0 && (fl & FD_CLOEXEC), "host fd %d (%s) is not close-on-exec", fd, t);
	}
	closedir(d);
	CHECK_EQ_I64(host_memfd, 1);

	printf("-- no named shared memory\n");
	CHECK_EQ_I64(count_dir("/dev/shm"), shm_before);
	/* The memfd is not a file anyone can reach by path: its "path" is a
	 * label, and the only ways to it are the two processes' descriptors. */
	CHECK(access("/memfd:openveo", F_OK) != 0);
	CHECK(access("/memfd:openveo (deleted)", F_OK) != 0);

	CHECK_EQ_I64(veo_context_close(ctx), 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	for (size_t i = 0; i < sizeof high / sizeof high[0]; i++)
		close(high[i]);
	close(3);
	close(mfd);
	unlink(marker);
	return test_done();
}
