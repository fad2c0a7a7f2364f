/*
 * main.c: veorun start-up. libveo starts this process with the proc's
 * memfd at fd VP_WORKER_SHM_FD and the read end of a pipe at
 * VP_WORKER_PIPE_FD whose write end only the host holds. The main thread
 * serves the control slot; a watchdog thread ends the process when the
 * host goes away (the pipe reports hang-up, or we are re-parented).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shm_map.h"
#include "wait.h"
#include "worker.h"

struct worker W;

static int can_membarrier;

void worker_order_all(void)
{
	if (!can_membarrier ||
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0)
		atomic_thread_fence(memory_order_seq_cst);
}

void *worker_heap_ptr(uint64_t off, uint64_t len)
{
	if (off > W.heap_size || len > W.heap_size - off)
		return NULL;
	return W.base + W.heap_offset + off;
}

void worker_notify(void)
{
	uint64_t one = 1;
	struct stat st;

	if (W.notify_fd >= 0 && fstat(W.notify_fd, &st) == 0 && st.st_dev == W.notify_dev &&
	    st.st_ino == W.notify_ino && write(W.notify_fd, &one, sizeof one) < 0) {
		/* Full (never, in practice) or gone: the host's timeout covers it. */
	}
}

/* The eventfd of veo_context_notify, moved up out of the range kernels
 * close (as the watchdog's descriptors are). */
static void notify_setup(void)
{
	struct stat st;
	int fd = fcntl(VP_WORKER_NOTIFY_FD, F_DUPFD_CLOEXEC, 900);

	if (fd >= 0)
		close(VP_WORKER_NOTIFY_FD);
	else if (fcntl(VP_WORKER_NOTIFY_FD, F_SETFD, FD_CLOEXEC) == 0)
		fd = VP_WORKER_NOTIFY_FD;
	W.notify_fd = -1;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		W.notify_fd = fd;
		W.notify_dev = st.st_dev;
		W.notify_ino = st.st_ino;
	}
}

/* A descriptor the watchdog watches, and what it was when it was opened:
 * kernels close descriptors (daemonising code closes 3..63, some all of
 * them), and the number may then name something else. */
struct watched {
	int fd;
	dev_t dev;
	ino_t ino;
	const char *what;
};

/* Moves fd high, out of the range kernels usually close, and records it. */
static void watch(struct watched *w, int fd, const char *what)
{
	struct rlimit rl;
	struct stat st;
	int high = 900, moved;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur > 16 && (rlim_t)high > rl.rlim_cur - 16)
		high = (int)(rl.rlim_cur - 16);
	moved = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, high) : -1;
	if (moved >= 0) {
		close(fd);
		fd = moved;
	}
	w->fd = fd;
	w->what = what;
	if (fd < 0 || fstat(fd, &st) != 0) {
		w->fd = -1;
		return;
	}
	w->dev = st.st_dev;
	w->ino = st.st_ino;
}

/* Whether w still names what it was opened as; if a kernel closed it (or
 * it now names something else), says so once and stops watching it. */
static int still_watched(struct watched *w)
{
	struct stat st;

	if (w->fd < 0)
		return 0;
	if (fstat(w->fd, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino)
		return 1;
	fprintf(stderr, "veorun: a kernel closed descriptor %d, the VE process's %s; the "
	        "host's death is still noticed, by its process id\n", w->fd, w->what);
	w->fd = -1;
	return 0;
}

/* The host is gone when the pipe reports hang-up (every copy of its write
 * end closed), or when the host process itself ended (its pidfd turns
 * readable: a host that forked without exec leaves copies of the pipe in
 * its children), or, where there are no pidfds or a kernel closed them,
 * when we are re-parented. A closed or replaced descriptor is not a dead
 * host. */
static void *watchdog(void *arg)
{
	struct watched pipe_w, host_w;

	(void)arg;
	watch(&pipe_w, VP_WORKER_PIPE_FD, "pipe to the host");
	watch(&host_w, (int)syscall(SYS_pidfd_open, W.host_pid, 0), "pidfd of the host");
	/* Still our parent after the pidfd was made: it names the host. */
	if (getppid() != W.host_pid)
		_exit(0);
	for (;;) {
		struct pollfd p[2] = { { .fd = pipe_w.fd, .events = POLLIN },
		                       { .fd = host_w.fd, .events = POLLIN } };
		int n = poll(p, 2, 500); /* a negative fd is not polled */

		if (n > 0 && (p[0].revents & (POLLHUP | POLLERR | POLLIN | POLLNVAL)) &&
		    still_watched(&pipe_w))
			_exit(0);
		if (n > 0 && p[1].revents && still_watched(&host_w))
			_exit(0);
		if (getppid() != W.host_pid)
			_exit(0);
	}
	return NULL;
}

/* Checks the layout the host wrote into the header and keeps it in W. The
 * header is copied first, so that what is checked is what is used. */
static int layout_read(const struct vp_shm_header *shared, uint64_t file_size)
{
	struct vp_shm_header h;

	memcpy(&h, (const void *)shared, sizeof h);
	if (h.magic != VP_MAGIC || h.version != VP_VERSION ||
	    h.total_size != file_size ||
	    h.heap_offset > h.total_size ||
	    h.heap_size > h.total_size - h.heap_offset ||
	    h.max_slots != VP_MAX_SLOTS ||
	    h.slot_stride < sizeof(struct vp_slot) ||
	    h.slot_stride % VP_CACHELINE || h.slots_offset % VP_CACHELINE ||
	    h.slots_offset < sizeof(struct vp_shm_header) ||
	    h.slots_offset > h.heap_offset ||
	    h.slot_stride > (h.heap_offset - h.slots_offset) / VP_MAX_SLOTS)
		return -1;
	W.slots_offset = h.slots_offset;
	W.slot_stride = h.slot_stride;
	W.heap_offset = h.heap_offset;
	W.heap_size = h.heap_size;
	W.proc_ident = h.proc_ident;
	return 0;
}

static int start_failed(const char *why)
{
	/* Best effort: tell the host why, if the header is mapped. */
	if (W.hdr) {
		snprintf(W.hdr->crash.msg, sizeof W.hdr->crash.msg, "%s", why);
		atomic_store(&W.hdr->worker_state, VP_WORKER_FAILED);
		vp_futex_wake_all(&W.hdr->worker_state);
	}
	fprintf(stderr, "veorun: %s\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	struct stat st;
	struct rlimit nocore = { 0, 0 };
	pthread_t wd;

	if (argc < 2 || strcmp(argv[1], "--openveo") != 0) {
		fprintf(stderr,
		        "veorun: the openveo vector engine. It is started by libveo "
		        "(veo_proc_create), not by hand.\n");
		return 2;
	}
	W.host_pid = getppid();
	setrlimit(RLIMIT_CORE, &nocore); /* a crashing kernel leaves no core file */
	/* A background process group (proc.c): a kernel's output to the
	 * terminal must not stop the worker (stty tostop), nor a read from it. */
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	notify_setup();

	if (fstat(VP_WORKER_SHM_FD, &st) != 0 || st.st_size < VP_HEADER_BYTES)
		return start_failed("no shared memory at fd 3");
	/* The header first (to learn where the heap is), then the whole memfd
	 * the way the host maps it (shm_map.h): aligned for huge pages. */
	W.hdr = mmap(NULL, VP_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
	             VP_WORKER_SHM_FD, 0);
	if (W.hdr == MAP_FAILED) {
		W.hdr = NULL;
		return start_failed("cannot map the shared memory");
	}
	if (layout_read(W.hdr, (uint64_t)st.st_size) != 0)
		return start_failed(W.hdr->magic != VP_MAGIC || W.hdr->version != VP_VERSION
		                    ? "shared memory of another openveo version"
		                    : "inconsistent shared memory layout");
	W.base = vp_shm_map(VP_WORKER_SHM_FD, (uint64_t)st.st_size, W.heap_offset, W.heap_size);
	if (W.base == MAP_FAILED) {
		W.base = NULL;
		return start_failed("cannot map the shared memory");
	}
	munmap(W.hdr, VP_HEADER_BYTES);
	W.hdr = (struct vp_shm_header *)W.base;
	W.heap_base = (uint64_t)(uintptr_t)(W.base + W.heap_offset);
	W.hdr->worker_heap_base = W.heap_base;

	can_membarrier = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0)
	                 == 0;
	faults_install();
	faults_thread_init(VP_SLOT_CTL);
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0)
		return start_failed("cannot start the watchdog thread");

	atomic_store(&W.hdr->worker_state, VP_WORKER_READY);
	vp_futex_wake_all(&W.hdr->worker_state);

	slot_serve(VP_SLOT_CTL); /* returns on VP_OP_EXIT */
	atomic_store(&W.hdr->worker_state, VP_WORKER_EXITED);
	vp_futex_wake_all(&W.hdr->worker_state);
	/* Through exit(): the kernels' destructors and atexit handlers run and
	 * print, stdio and gfortran flush. Context threads may still be in a
	 * kernel; one that holds things up is ended by the host (proc.c). */
	faults_exit(0);
}
