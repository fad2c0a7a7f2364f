/*
 * capture.h: for the tests of kernel output. The test runs itself again as
 * a child (`test_x --child ROLE`), with stdout and stderr on two files or
 * two pipes, as a user's program run with `> out 2> err` or `| ...` is, so
 * that the child's stdout is fully buffered and its worker writes to the
 * same open files; when the child and its worker have ended, the parent
 * has what arrived in each, and compares it with what must have.
 *
 *     if (argc == 3 && strcmp(argv[1], "--child") == 0) {
 *             capture_child_init();   (not test_init: stdio stays as it is)
 *             return child(argv[2]);
 *     }
 *     ...
 *     struct capture c;
 *     capture_run("role", CAPTURE_FILES, &c);
 *     CHECK_OUTPUT("role", "stdout", c.out, "line 1\nline 2\n");
 */
#ifndef OPENVEO_CAPTURE_H
#define OPENVEO_CAPTURE_H

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include "testlib.h"

enum capture_mode { CAPTURE_FILES, CAPTURE_PIPES };

#define CAPTURE_MAX 16384

struct capture {
	int status;              /* the child's, from waitpid */
	char out[CAPTURE_MAX];   /* what arrived on its stdout, NUL-terminated */
	char err[CAPTURE_MAX];   /* and on its stderr */
};

static inline const char *capture_mode_name(enum capture_mode m)
{
	return m == CAPTURE_FILES ? "files" : "pipes";
}

/* In the child: a time limit of its own (fork does not pass the parent's
 * on), which ends it with SIGALRM. */
static inline void capture_child_init(void)
{
	alarm(TEST_TIME_LIMIT / 2);
}

/* An unlinked temporary file, open for reading and writing. */
static inline int capture_tmpfile(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	test_join(path, sizeof path, dir && *dir ? dir : "/tmp", "openveo-output-XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	REQUIREF(fd >= 0, "mkostemp(%s): %s", path, strerror(errno));
	unlink(path);
	return fd;
}

/* Reads fd to its end (a pipe: until every writer closed it) into buf. */
static inline void capture_read_all(int fd, char *buf, size_t size, size_t *len)
{
	ssize_t n;

	while (*len + 1 < size && ((n = read(fd, buf + *len, size - 1 - *len)) > 0 ||
	                           (n < 0 && errno == EINTR)))
		if (n > 0)
			*len += (size_t)n;
	buf[*len] = '\0';
}

/* Runs `this-test --child role` with stdout and stderr on files or pipes;
 * fills c when it and its worker have ended. */
static inline void capture_run(const char *role, enum capture_mode mode, struct capture *c)
{
	int out[2], err[2]; /* [0] the parent reads, [1] the child's */
	size_t nout = 0, nerr = 0;
	pid_t pid;

	if (mode == CAPTURE_FILES) {
		out[0] = out[1] = capture_tmpfile();
		err[0] = err[1] = capture_tmpfile();
	} else {
		REQUIRE(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	}
	fflush(NULL);
	pid = fork();
	REQUIREF(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "test", "--child", (char *)role, NULL };

		if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	if (mode == CAPTURE_PIPES) {
		/* Both at once: the child must never block on a full pipe. */
		struct pollfd p[2] = { { .fd = out[0], .events = POLLIN },
		                       { .fd = err[0], .events = POLLIN } };
		char *bufs[2] = { c->out, c->err };
		size_t *lens[2] = { &nout, &nerr };

		close(out[1]);
		close(err[1]);
		while (p[0].fd >= 0 || p[1].fd >= 0) {
			if (poll(p, 2, -1) < 0) {
				REQUIREF(errno == EINTR, "poll: %s", strerror(errno));
				continue;
			}
			for (int i = 0; i < 2; i++) {
				ssize_t n;

				if (p[i].fd < 0 || !p[i].revents)
					continue;
				n = read(p[i].fd, bufs[i] + *lens[i], CAPTURE_MAX - 1 - *lens[i]);
				if (n > 0) {
					*lens[i] += (size_t)n;
				} else if (n == 0 || errno != EINTR) {
					close(p[i].fd);
					p[i].fd = -1;
				}
			}
		}
		c->out[nout] = c->err[nerr] = '\0';
	}
	while (waitpid(pid, &c->status, 0) < 0)
		REQUIREF(errno == EINTR, "waitpid: %s", strerror(errno));
	if (mode == CAPTURE_FILES) {
		/* The worker may outlive the child by a moment (killed by its
		 * watchdog when the host died): only a child that ended
		 * normally has destroyed its proc. */
		REQUIRE(lseek(out[0], 0, SEEK_SET) == 0 && lseek(err[0], 0, SEEK_SET) == 0);
		capture_read_all(out[0], c->out, sizeof c->out, &nout);
		capture_read_all(err[0], c->err, sizeof c->err, &nerr);
		close(out[0]);
		close(err[0]);
	}
}

/* Exit status 0 from the child, else a failure naming what it was. */
#define CHECK_CHILD_OK(role, mode, c)                                          \
	CHECKF(WIFEXITED((c)->status) && WEXITSTATUS((c)->status) == 0,         \
	       "child %s (%s): status 0x%x, want exit 0; its stderr:\n%s",     \
	       role, capture_mode_name(mode), (unsigned)(c)->status, (c)->err)

/* What arrived is exactly want. */
#define CHECK_OUTPUT(role, mode, stream, got, want)                            \
	CHECKF(strcmp(got, want) == 0,                                         \
	       "child %s (%s): its %s is\n----\n%s----\nwant\n----\n%s----",   \
	       role, capture_mode_name(mode), stream, got, want)

#endif
