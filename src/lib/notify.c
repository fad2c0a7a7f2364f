/*
 * notify.c: completion notifications for event loops (ve_offload.h). The
 * worker writes the proc's eventfd after answering a request of a slot
 * whose notify word the host set (ring.h), and when it crashes; the
 * descriptor the caller watches is an epoll set of that eventfd and the
 * worker's pidfd, so that a worker that is killed is heard of too.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "error.h"
#include "inside.h"
#include "proc.h"

int veo_proc_completion_fd(struct veo_proc_handle *p)
{
	int fd;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	pthread_mutex_lock(&p->lock);
	if (p->completion_fd < 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		int ep = epoll_create1(EPOLL_CLOEXEC);

		if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, p->notify_fd, &ev) == 0 &&
		    (p->pidfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p->pidfd, &ev) == 0)) {
			p->completion_fd = ep;
		} else {
			error_set("veo_proc_completion_fd: epoll: %s", strerror(errno));
			if (ep >= 0)
				close(ep);
		}
	}
	fd = p->completion_fd;
	pthread_mutex_unlock(&p->lock);
	return fd;
}

int veo_proc_completion_ack(struct veo_proc_handle *p)
{
	uint64_t n;

	INSIDE(proc_inside(p));
	if (!proc_check(p))
		return -1;
	/* Nonblocking: nothing to read (EAGAIN) is fine. */
	if (read(p->notify_fd, &n, sizeof n) < 0 && errno != EAGAIN)
		return error_set("veo_proc_completion_ack: %s", strerror(errno));
	return 0;
}

int veo_context_notify(struct veo_thr_ctxt *c, int on)
{
	INSIDE(ctx_inside(c));
	if (!ctx_check(c))
		return -1;
	atomic_store_explicit(&c->slot->notify, on ? 1u : 0u, memory_order_relaxed);
	return 0;
}
