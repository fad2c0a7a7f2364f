"""Kernel output where the user looks: when sys.stdout / sys.stderr are not
the process's descriptors 1 and 2 (Jupyter, pytest's capsys), what kernels
write to stdout and stderr comes through sys.stdout and sys.stderr, before
the wait that completes their call returns, in order with Python's own
prints; capture_output=False leaves it on the descriptors, as in C."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import veo

OUTPUT_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int say(int n)
{
    printf("kernel says %d\n", n);
    return n;
}

int complain(int n)
{
    fprintf(stderr, "kernel complains %d\n", n);
    return n;
}

/* A line without its end: the next call ends it. */
int say_part(int n)
{
    printf("part %d, ", n);
    return n;
}

/* n bytes in lines of 64. */
long spew(long n)
{
    static const char line[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:\n";
    for (long i = 0; i < n; i += 64)
        fwrite(line, 1, (size_t)(n - i < 64 ? n - i : 64), stdout);
    return n;
}

/* UTF-8 text written one byte at a time, so a character may be split
 * between two reads of the pipe. */
int say_utf8(void)
{
    const char *s = "gr\xc3\xbc\xc3\x9f dich \xe2\x82\xac\n";
    for (const char *p = s; *p; p++) {
        putchar(*p);
        fflush(stdout);
    }
    return 0;
}

int print_then_crash(void)
{
    printf("last words on stdout\n");
    fprintf(stderr, "last words on stderr\n");
    *(volatile int *)0 = 1;
    return 0;
}

static void at_exit(void)
{
    printf("atexit handler of the kernel library\n");
}

int arm_at_exit(void)
{
    return atexit(at_exit);
}

/* Prints, then sleeps about ms milliseconds, n times: progress of a long kernel. */
int progress(int n, int ms)
{
    for (int i = 0; i < n; i++) {
        printf("step %d\n", i);
        fflush(stdout);
        usleep(ms * 1000);
    }
    return n;
}
"""


@pytest.fixture(scope="module")
def output_so(build_dir):
    bld = veo.VeBuild()
    bld.set_build_dir(str(build_dir / "output"))
    bld.set_c_src("_output", OUTPUT_C)
    return os.path.abspath(bld.build_so())


def declare(lib):
    for name in ("say", "complain", "say_part"):
        getattr(lib, name).args_type("int")
        getattr(lib, name).ret_type("int")
    lib.spew.args_type("long")
    lib.spew.ret_type("long")
    lib.progress.args_type("int", "int")
    lib.progress.ret_type("int")
    return lib


@pytest.fixture
def captured(output_so, capsys):
    """A proc created while capsys holds sys.stdout and sys.stderr."""
    p = veo.VeoProc(0)
    try:
        yield p, p.open_context(), declare(p.load_library(output_so))
    finally:
        p.close()


def test_default_captures_when_sys_stdout_is_replaced(captured):
    proc, _, _ = captured
    assert proc.capture_output is True


def test_kernel_stdout_between_two_prints(captured, capsys):
    proc, ctx, lib = captured
    print("before")
    assert lib.say(ctx, 1).wait_result() == 1
    print("after")
    assert lib.say(ctx, 2).wait_result() == 2
    assert capsys.readouterr().out == "before\nkernel says 1\nafter\nkernel says 2\n"


def test_kernel_stderr_between_two_prints(captured, capsys):
    proc, ctx, lib = captured
    print("before", file=sys.stderr)
    assert lib.complain(ctx, 3).wait_result() == 3
    print("after", file=sys.stderr)
    out, err = capsys.readouterr()
    assert err == "before\nkernel complains 3\nafter\n"
    assert out == ""


def test_peek_and_context_sync_drain_too(captured, capsys):
    proc, ctx, lib = captured
    req = lib.say(ctx, 4)
    ctx.context_sync()
    print("synced")
    assert req.peek_result() == 4
    assert capsys.readouterr().out == "kernel says 4\nsynced\n"


def test_partial_lines_and_utf8(captured, capsys):
    proc, ctx, lib = captured
    lib.say_part(ctx, 1).wait_result()
    lib.say(ctx, 5).wait_result()
    lib.say_utf8.args_type()
    lib.say_utf8.ret_type("int")
    lib.say_utf8(ctx).wait_result()
    assert capsys.readouterr().out == "part 1, kernel says 5\ngr\u00fc\u00df dich \u20ac\n"


def test_big_output_does_not_deadlock(captured, capsys):
    proc, ctx, lib = captured
    n = 10 << 20
    assert lib.spew(ctx, n).wait_result(timeout=120) == n
    out = capsys.readouterr().out
    assert len(out) == n
    assert out.startswith("abcdefghijklmnopqrstuvwxyz")
    assert out.count("\n") == n // 64


def test_big_output_while_nobody_waits(captured, capsys):
    """The reader thread empties the pipe while Python does something else:
    the kernel finishes (seen through a peek) although nobody waits."""
    proc, ctx, lib = captured
    n = 4 << 20
    req = lib.spew(ctx, n)
    deadline = time.monotonic() + 60
    while True:
        try:
            assert req.peek_result() == n
            break
        except NameError:
            assert time.monotonic() < deadline, "the printing kernel never finished"
            time.sleep(0.01)
    assert len(capsys.readouterr().out) == n


def test_progress_of_a_long_kernel_shows_while_it_waits(captured):
    """Output is handed to sys.stdout on each slice of a wait, not only at
    its end: a stream that records when each line came sees the first step
    before the kernel is done."""
    proc, ctx, lib = captured

    class Recorder:
        def __init__(self):
            self.lines = []

        def write(self, s):
            self.lines.append((time.monotonic(), s))
            return len(s)

        def flush(self):
            pass

    rec = Recorder()
    old, sys.stdout = sys.stdout, rec
    try:
        t0 = time.monotonic()
        assert lib.progress(ctx, 3, 400).wait_result() == 3
        t1 = time.monotonic()
    finally:
        sys.stdout = old
    text = "".join(s for _, s in rec.lines)
    assert text == "step 0\nstep 1\nstep 2\n"
    first = next(t for t, s in rec.lines if "step 0" in s)
    assert first < t1 - 0.3, (first - t0, t1 - t0)


def test_crash_output_arrives(output_so, capsys):
    p = veo.VeoProc(0)
    try:
        ctx = p.open_context()
        lib = p.load_library(output_so)
        lib.print_then_crash.args_type()
        lib.print_then_crash.ret_type("int")
        print("calling")
        with pytest.raises(veo.VeoException):
            lib.print_then_crash(ctx).wait_result()
        print("crashed")
    finally:
        p.close()
    out, err = capsys.readouterr()
    assert out == "calling\nlast words on stdout\ncrashed\n"
    assert "last words on stderr\n" in err


def test_output_at_close_arrives(output_so, capsys):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = p.load_library(output_so)
    lib.arm_at_exit.args_type()
    lib.arm_at_exit.ret_type("int")
    assert lib.arm_at_exit(ctx).wait_result() == 0
    print("closing")
    p.close()
    print("closed")
    assert capsys.readouterr().out == (
        "closing\natexit handler of the kernel library\nclosed\n")


def test_capture_off_goes_to_the_descriptor(output_so, capfd):
    p = veo.VeoProc(0, capture_output=False)
    try:
        assert p.capture_output is False
        ctx = p.open_context()
        lib = declare(p.load_library(output_so))
        assert lib.say(ctx, 6).wait_result() == 6
        assert lib.complain(ctx, 7).wait_result() == 7
    finally:
        p.close()
    out, err = capfd.readouterr()
    assert "kernel says 6\n" in out
    assert "kernel complains 7\n" in err


def test_terminal_or_file_is_not_captured(output_so, tmp_path):
    """A script whose stdout is a plain file: the default leaves the worker on
    the descriptors (nothing changes against C), and the kernel's line lands
    in the file between the script's flushed prints."""
    script = tmp_path / "plain.py"
    script.write_text(textwrap.dedent("""
        import sys, veo
        p = veo.VeoProc(0)
        print("capture", p.capture_output, flush=True)
        ctx = p.open_context()
        lib = p.load_library(sys.argv[1])
        lib.say.args_type("int")
        print("before", flush=True)
        lib.say(ctx, 8).wait_result()
        print("after", flush=True)
        p.close()
    """))
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        r = subprocess.run([sys.executable, str(script), output_so], stdout=f,
                           stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "capture False\nbefore\nkernel says 8\nafter\n"


def test_forced_capture_in_a_subprocess(output_so, tmp_path):
    """capture_output=True at a plain file: the kernel's output becomes
    Python's own, through sys.stdout (in order with unflushed prints)."""
    script = tmp_path / "forced.py"
    script.write_text(textwrap.dedent("""
        import sys, veo
        p = veo.VeoProc(0, capture_output=True)
        ctx = p.open_context()
        lib = p.load_library(sys.argv[1])
        lib.say.args_type("int")
        print("before")
        lib.say(ctx, 9).wait_result()
        print("after")
    """))
    r = subprocess.run([sys.executable, str(script), output_so], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "before\nkernel says 9\nafter\n"


def test_threads_on_two_contexts_lose_no_line(captured, capsys):
    """Two threads calling printing kernels on two contexts, each waiting for
    its own requests: every line arrives once, whole."""
    import threading
    proc, ctx, lib = captured
    ctx2 = proc.open_context()
    errors = []

    def run(c, base):
        try:
            for i in range(200):
                assert lib.say(c, base + i).wait_result() == base + i
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c, b))
               for c, b in ((ctx, 1000), (ctx2, 2000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    lines = capsys.readouterr().out.splitlines()
    want = ["kernel says %d" % n for b in (1000, 2000) for n in range(b, b + 200)]
    assert sorted(lines) == sorted(want)
    # Each thread's lines in its own order.
    for b in (1000, 2000):
        mine = [ln for ln in lines if ln.startswith("kernel says %d" % (b // 1000))]
        assert mine == ["kernel says %d" % n for n in range(b, b + 200)]
