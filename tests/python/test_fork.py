"""fork: a child never harms its parent's procs. Its interpreter exit
(atexit's _shutdown), garbage collection and close() only let go of its
copies; using an inherited proc raises VeoError naming the fork; a child's
own procs work, with os.fork and with multiprocessing's "fork" and "spawn"
start methods."""
import multiprocessing
import os
import subprocess
import sys

import pytest

import veo
from intr_helpers import Flag, child_sum, declare, intr_so

__all__ = ["intr_so"]  # the fixture, imported for pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# Forks three children while a kernel runs and a thread waits for it: one
# leaves by sys.exit (atexit runs _shutdown), one closes the proc, one drops
# every reference and collects. After each, the parent's proc answers; at
# the end the waiting thread gets its result.
EXITING_CHILDREN = r"""
import gc, os, sys, threading
import veo
sys.path.insert(0, sys.argv[2])
from intr_helpers import Flag, declare

p = veo.VeoProc(0)
ctx = p.open_context()
lib = declare(p.load_library(sys.argv[1]))
flag = Flag(p)
req = lib.wait_flag(ctx, flag.ptr)
got = []
waiter = threading.Thread(target=lambda: got.append(req.wait_result()))
waiter.start()

def child(how):
    global p, ctx, lib, req
    if how == "close":
        p.close()
        assert p.closed and not p.alive
    elif how == "gc":
        del p, ctx, lib, req
        gc.collect()
    sys.exit(0)

other = p.open_context()
for how in ("exit", "close", "gc"):
    pid = os.fork()
    if pid == 0:
        child(how)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, (how, status)
    assert p.alive, how
    assert lib.add(other, 40, 2).wait_result() == 42, how
    print("after", how, "ok", flush=True)
flag.set(9)
waiter.join()
print("MARKER waited=%s alive=%s" % (got, p.alive), flush=True)
"""


def test_exiting_children_leave_the_parents_proc(intr_so, tmp_path):
    script = tmp_path / "children.py"
    script.write_text(EXITING_CHILDREN)
    run = subprocess.run([sys.executable, str(script), intr_so, HERE],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for how in ("exit", "close", "gc"):
        assert "after %s ok" % how in run.stdout, run.stdout + run.stderr
    assert "MARKER waited=[9] alive=True" in run.stdout, run.stdout + run.stderr


def test_child_use_of_inherited_proc_raises(intr_so):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = declare(p.load_library(intr_so))
    flag = Flag(p)
    req = lib.wait_flag(ctx, flag.ptr)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        # The child: never back into pytest; reports through the pipe.
        code = 1
        try:
            lines = [repr(p), str(p.alive), repr(ctx)]
            for what, call in (("call", lambda: lib.add(ctx, 1, 2)),
                               ("wait", lambda: req.wait_result()),
                               ("sync", lambda: ctx.context_sync()),
                               ("alloc", lambda: p.alloc_mem(8)),
                               ("open", lambda: p.open_context())):
                try:
                    call()
                    lines.append("%s: no error" % what)
                except veo.VeoError as e:
                    lines.append("%s: VeoError: %s" % (what, e))
            with veo.VeoProc(0) as own:
                own_lib = declare(own.load_library(intr_so))
                lines.append("own: %d" % own_lib.add(own.open_context(), 20, 22).wait_result())
            os.write(wr, "\n".join(lines).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wr)
    with os.fdopen(rd) as f:
        report = f.read().splitlines()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report
    parent = os.getpid()
    assert "inherited from process %d" % parent in report[0]
    assert report[1] == "False"
    assert "inherited from process %d" % parent in report[2]
    for what in ("call", "wait", "sync", "alloc", "open"):
        line = [l for l in report if l.startswith(what + ":")][0]
        assert "VeoError" in line and "inherited across fork" in line, line
        assert "belongs to process %d" % parent in line, line
    assert "own: 42" in report
    # The parent's proc and its running kernel were not touched.
    assert p.alive
    assert lib.add(p.open_context(), 2, 3).wait_result() == 5
    flag.set(6)
    assert req.wait_result() == 6
    p.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_children_with_procs_of_their_own(intr_so, method):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = declare(p.load_library(intr_so))
    mp = multiprocessing.get_context(method)
    with mp.Pool(2) as pool:
        results = pool.starmap(child_sum, [(intr_so, i, 100 * i) for i in range(4)])
    assert [r for _, r in results] == [101 * i for i in range(4)]
    assert all(pid != os.getpid() for pid, _ in results)
    assert p.alive
    assert lib.add(ctx, 1, 2).wait_result() == 3
    p.close()
