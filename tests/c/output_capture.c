/*
 * output_capture.c: a proc created with VEO_PROC_CAPTURE_STDOUT and
 * _STDERR writes its kernels' output into two pipes the host reads
 * (veo_proc_output_fd), for hosts whose own output is no descriptor. Once
 * a call's wait returns, everything the kernel printed during it can be
 * read; a kernel printing 10 MiB does not hang while the host reads as it
 * waits; what a crashing kernel printed, and what exit handlers print at
 * veo_proc_destroy (read through dup'ed descriptors), arrive too. The
 * misuses fail with a message.
 */
#include <fcntl.h>
#include <poll.h>

#include "testlib.h"

#define BIG (10L << 20)

/* Appends what fd holds now (non-blocking) to buf (size cap, NUL-ended);
 * returns the bytes read, or -1 at end of file with nothing read. */
static long read_some(int fd, char *buf, size_t *len, size_t cap)
{
	long got = 0;

	for (;;) {
		char tmp[65536];
		ssize_t r = read(fd, tmp, sizeof tmp);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 && got == 0 ? -1 : got;
		for (ssize_t i = 0; i < r && buf; i++)
			if (*len + 1 < cap)
				buf[(*len)++] = tmp[i];
		if (buf)
			buf[*len] = '\0';
		got += r;
	}
}

static struct veo_proc_handle *create_captured(void)
{
	struct veo_proc_handle *proc = veo_proc_create_with_flags(
		0, NULL, VEO_PROC_CAPTURE_STDOUT | VEO_PROC_CAPTURE_STDERR);

	REQUIREF(proc != NULL, "veo_proc_create_with_flags returned NULL");
	return proc;
}

/* One call's lines, read once its wait returned. */
static void lines_after_wait(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx,
                             uint64_t lib)
{
	char out[256] = "", err[256] = "";
	size_t no = 0, ne = 0;

	CHECK_EQ_U64(test_call1(ctx, test_sym(proc, lib, "print_lines"), 7), 7);
	read_some(veo_proc_output_fd(proc, 1), out, &no, sizeof out);
	read_some(veo_proc_output_fd(proc, 2), err, &ne, sizeof err);
	CHECKF(strcmp(out, "C kernel: printf line 7\n") == 0, "stdout pipe: \"%s\"", out);
	CHECKF(strcmp(err, "C kernel: fprintf(stderr) line 7\n") == 0, "stderr pipe: \"%s\"",
	       err);
}

/* 10 MiB from one call: the host reads while it waits (a timed wait in
 * slices), so the kernel's writes never block for long. */
static void big_output(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t lib)
{
	struct veo_args *args = test_args();
	int fd = veo_proc_output_fd(proc, 1);
	uint64_t r = 0;
	long total = 0;
	int rc;
	char first[80] = "";
	size_t nf = 0;

	veo_args_set_i64(args, 0, BIG);
	uint64_t id = veo_call_async(ctx, test_sym(proc, lib, "print_bytes"), args);
	REQUIRE(id != VEO_REQUEST_ID_INVALID);
	double limit = test_now() + 30;
	while ((rc = veo_call_wait_result_timeout(ctx, id, &r, 1000)) == VEO_COMMAND_UNFINISHED &&
	       test_now() < limit) {
		long got = read_some(fd, total ? NULL : first, &nf, sizeof first);

		total += got > 0 ? got : 0;
	}
	CHECK_EQ_I64(rc, VEO_COMMAND_OK);
	CHECK_EQ_I64((int64_t)r, BIG);
	long got = read_some(fd, NULL, &nf, 0);
	total += got > 0 ? got : 0;
	CHECK_EQ_I64(total, BIG);
	CHECK_CONTAINS(first, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:\n");
	veo_args_free(args);
}

/* What exit handlers print while veo_proc_destroy ends the worker, read
 * through copies of the descriptors (destroy closes libveo's). */
static void at_destroy(struct veo_proc_handle *proc, struct veo_thr_ctxt *ctx, uint64_t lib)
{
	char out[512] = "", err[512] = "";
	size_t no = 0, ne = 0;
	int fo, fe;

	CHECK_EQ_U64(test_call0(ctx, test_sym(proc, lib, "arm_exit_handlers")), 0);
	fo = dup(veo_proc_output_fd(proc, 1));
	fe = dup(veo_proc_output_fd(proc, 2));
	REQUIRE(fo >= 0 && fe >= 0);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
	/* The worker is gone: both pipes are at their end. */
	CHECK(read_some(fo, out, &no, sizeof out) > 0);
	CHECK(read_some(fe, err, &ne, sizeof err) > 0);
	CHECK_CONTAINS(out, "C kernel: atexit handler\n");
	CHECK_CONTAINS(out, "C kernel: library destructor\n");
	CHECK_CONTAINS(err, "C kernel: atexit handler (stderr)\n");
	CHECK_EQ_I64(read_some(fo, NULL, &no, 0), -1);
	close(fo);
	close(fe);
}

/* A kernel that prints, then dies: its lines are in the pipes once the
 * wait has reported the crash. */
static void crash(void)
{
	struct veo_proc_handle *proc = create_captured();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t fn = test_sym(proc, test_load(proc, TK_LIB_CRASH), "crash_print_segv");
	struct veo_args *args = test_args();
	char out[256] = "", err[256] = "";
	size_t no = 0, ne = 0;
	uint64_t r;

	veo_set_error_print(0);
	uint64_t id = veo_call_async(ctx, fn, args);
	CHECK_EQ_I64(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_EXCEPTION);
	veo_set_error_print(1);
	read_some(veo_proc_output_fd(proc, 1), out, &no, sizeof out);
	read_some(veo_proc_output_fd(proc, 2), err, &ne, sizeof err);
	CHECK_CONTAINS(out, "crashing kernel: printf before SIGSEGV\n");
	CHECK_CONTAINS(err, "crashing kernel: fprintf(stderr) before SIGSEGV\n");
	veo_args_free(args);
	CHECK_EQ_I64(veo_proc_destroy(proc), 0);
}

static void misuse(void)
{
	struct veo_proc_handle *plain = test_proc_create();
	struct veo_proc_handle *only_err;

	veo_set_error_print(0);
	CHECK_FAILS(veo_proc_output_fd(plain, 1), -1, "the worker's stdout is the host's");
	CHECK_FAILS(veo_proc_output_fd(plain, 3), -1, "not 1 (stdout) or 2 (stderr)");
	CHECK_FAILS(veo_proc_output_fd(NULL, 1), -1, "bad proc handle");
	CHECK_FAILS(veo_proc_create_with_flags(0, NULL, 0x10), 0, "unknown flags 0x10");
	veo_set_error_print(1);
	only_err = veo_proc_create_with_flags(0, NULL, VEO_PROC_CAPTURE_STDERR);
	REQUIRE(only_err != NULL);
	veo_set_error_print(0);
	CHECK_FAILS(veo_proc_output_fd(only_err, 1), -1, "VEO_PROC_CAPTURE_STDOUT");
	veo_set_error_print(1);
	CHECK(veo_proc_output_fd(only_err, 2) >= 0);
	CHECK_EQ_I64(veo_proc_destroy(only_err), 0);
	CHECK_EQ_I64(veo_proc_destroy(plain), 0);
}

int main(void)
{
	test_init("output_capture");
	struct veo_proc_handle *proc = create_captured();
	struct veo_thr_ctxt *ctx = test_ctx_open(proc);
	uint64_t lib = test_load(proc, TK_LIB_OUTPUT);

	for (int w = 1; w <= 2; w++) {
		int fd = veo_proc_output_fd(proc, w);

		REQUIRE(fd > 2);
		CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	lines_after_wait(proc, ctx, lib);
	big_output(proc, ctx, lib);
	lines_after_wait(proc, ctx, lib);
	at_destroy(proc, ctx, lib);
	crash();
	misuse();
	return test_done();
}
