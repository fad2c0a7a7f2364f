"""Ctrl-C (SIGINT, Python's KeyboardInterrupt) reaches every call that may
block: wait_result, context_sync, close_context, large read_mem/write_mem,
VeoProc start-up, load_library and open_context. The proc stays usable: the
interrupted request can still be waited for, and other contexts and procs
carry on. Each test sends a real SIGINT to the process once the main thread
is inside the call (intr_helpers.interrupt_inside)."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import veo
from intr_helpers import (INTERRUPT_LIMIT_S, Flag, build, declare, interrupt_inside,
                          intr_so, slow_init_source)

__all__ = ["intr_so"]  # the fixture, imported for pytest


@pytest.fixture
def setup(intr_so):
    """A proc with two contexts and the kernels, a flag for wait_flag, and
    a second proc."""
    p = veo.VeoProc(0)
    other = veo.VeoProc(0)
    lib = declare(p.load_library(intr_so))
    other_lib = declare(other.load_library(intr_so))
    c1, c2 = p.open_context(), p.open_context()
    flag = Flag(p)
    yield p, lib, c1, c2, flag, other, other_lib
    flag.set(-1)  # lets a kernel still running end
    other.close()
    p.close()


def test_ctrl_c_reaches_wait_result(setup):
    p, lib, c1, c2, flag, other, other_lib = setup
    req = lib.wait_flag(c1, flag.ptr)
    latency = interrupt_inside(lambda: req.wait_result())
    assert latency < INTERRUPT_LIMIT_S
    assert "pending" in repr(req)
    # The kernel goes on; the rest of the proc and other procs answer.
    assert lib.add(c2, 2, 3).wait_result() == 5
    assert other_lib.add(other.open_context(), 4, 5).wait_result() == 9
    flag.set(7)
    assert req.wait_result() == 7  # the interrupted request, waited for again
    assert lib.add(c1, 1, 1).wait_result() == 2


def test_ctrl_c_reaches_wait_result_with_timeout(setup):
    p, lib, c1, c2, flag, other, other_lib = setup
    req = lib.wait_flag(c1, flag.ptr)
    assert interrupt_inside(lambda: req.wait_result(timeout=60)) < INTERRUPT_LIMIT_S
    flag.set(8)
    assert req.wait_result(timeout=60) == 8


def test_ctrl_c_reaches_context_sync(setup):
    p, lib, c1, c2, flag, other, other_lib = setup
    req = lib.wait_flag(c1, flag.ptr)
    after = lib.add(c1, 10, 20)
    assert interrupt_inside(lambda: c1.context_sync()) < INTERRUPT_LIMIT_S
    assert lib.add(c2, 2, 3).wait_result() == 5
    flag.set(3)
    c1.context_sync()  # now it returns, and the results are kept
    assert after.peek_result() == 30
    assert req.wait_result() == 3


def test_ctrl_c_reaches_close_context(setup):
    p, lib, c1, c2, flag, other, other_lib = setup
    req = lib.wait_flag(c1, flag.ptr)
    assert interrupt_inside(lambda: p.close_context(c1)) < INTERRUPT_LIMIT_S
    # Still open and usable.
    assert not c1.closed
    assert c1 in p.context
    later = lib.add(c1, 5, 6)
    flag.set(4)
    assert req.wait_result() == 4
    assert later.wait_result() == 11
    p.close_context(c1)
    assert c1.closed and c1 not in p.context
    assert lib.add(c2, 1, 2).wait_result() == 3


@pytest.mark.parametrize("direction", ["read_mem", "write_mem"])
def test_ctrl_c_reaches_large_copies(setup, direction):
    """A 256 MiB copy goes in chunks: interrupted, part of it is done and
    the rest is not. Several tries, as a copy may end before the signal is
    sent; one must be caught half-way."""
    p, lib, c1, c2, flag, other, other_lib = setup
    n = 256 << 20
    ve = p.alloc_mem(n)
    ones = np.ones(n, dtype=np.uint8)
    halfway = 0
    for attempt in range(8):
        host = np.zeros(n, dtype=np.uint8)
        if direction == "read_mem":
            p.write_mem(ve, ones)
            latency = interrupt_inside(lambda: p.read_mem(host, ve, n))
            copied = host
        else:
            p.write_mem(ve, host)
            latency = interrupt_inside(lambda: p.write_mem(ve, ones, n))
            copied = np.zeros(n, dtype=np.uint8)
            p.read_mem(copied, ve, n)
        assert latency < INTERRUPT_LIMIT_S
        done = int(np.count_nonzero(copied))
        if 0 < done < n:
            halfway += 1
            # chunks from the start: a prefix is copied
            assert copied[:done].all() and not copied[done:].any()
            break
    assert halfway, "no copy was interrupted half-way in 8 tries"
    assert lib.add(c1, 1, 2).wait_result() == 3
    p.free_mem(ve)


def test_ctrl_c_reaches_proc_start(tmp_path):
    """A worker that takes long to start (a script that waits for a file,
    then becomes the real worker): VeoProc() is interrupted, and the start
    given up on is stopped once it is done."""
    go = tmp_path / "go"
    pidfile = tmp_path / "pid"
    real = os.path.join(os.path.dirname(veo.__file__), "veorun")
    script = tmp_path / "slow_worker.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo $$ > {pidfile}
        i=0
        while [ ! -e {go} ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i + 1)); done
        exec {real} "$@"
        """.format(pidfile=pidfile, go=go, real=real)))
    script.chmod(0o755)
    assert interrupt_inside(lambda: veo.VeoProc(0, str(script))) < INTERRUPT_LIMIT_S
    go.write_text("")
    # The helper thread finishes the start, then stops that worker.
    deadline = time.monotonic() + 60
    pid = None
    while time.monotonic() < deadline:
        if pid is None and pidfile.exists() and pidfile.read_text().strip():
            pid = int(pidfile.read_text())
        if pid is not None and not os.path.exists("/proc/%d" % pid):
            break
        time.sleep(0.01)
    assert pid is not None and not os.path.exists("/proc/%d" % pid), \
        "the worker of the start given up on still runs"
    assert veo.VeoProc(0, str(script)).alive  # go exists: it starts now


def test_ctrl_c_reaches_load_library(setup, tmp_path):
    """A library whose constructor takes long: load_library is interrupted,
    and so are open_context and symbol lookups, which wait behind it.
    Contexts already open go on; once the constructor is done the library
    can be loaded."""
    p, lib, c1, c2, flag, other, other_lib = setup
    go = tmp_path / "go"
    slow = build(tmp_path / "b", "slowinit", slow_init_source(str(go)))
    assert interrupt_inside(lambda: p.load_library(slow)) < INTERRUPT_LIMIT_S
    assert slow not in p.lib
    assert lib.add(c1, 20, 22).wait_result() == 42
    nctx = len(p.context)
    assert interrupt_inside(lambda: p.open_context()) < INTERRUPT_LIMIT_S
    assert len(p.context) == nctx
    assert interrupt_inside(lambda: lib.get_symbol("seven")) < INTERRUPT_LIMIT_S
    assert "seven" not in lib.symbol
    go.write_text("")
    slow_lib = p.load_library(slow)
    slow_lib.slow_hello.args_type()
    slow_lib.slow_hello.ret_type("int64_t")
    assert slow_lib.slow_hello(c2).wait_result() == 4242
    assert lib.add(p.open_context(), 1, 2).wait_result() == 3
    assert lib.get_symbol("seven")


GROUP_SCRIPT = r"""
import sys, threading, time
import veo
sys.path.insert(0, sys.argv[2])
from intr_helpers import Flag, declare

p = veo.VeoProc(0)
ctx = p.open_context()
lib = declare(p.load_library(sys.argv[1]))
flag = Flag(p)
req = lib.wait_flag(ctx, flag.ptr)

def announce():
    # The main thread is inside wait_result once the request says so.
    deadline = time.monotonic() + 60
    while "waited for" not in repr(req) and time.monotonic() < deadline:
        time.sleep(0.001)
    print("waiting", flush=True)

threading.Thread(target=announce, daemon=True).start()
interrupted = False
try:
    req.wait_result()
except KeyboardInterrupt:
    interrupted = True
flag.set(7)
result = req.wait_result()
print("MARKER interrupted=%s result=%d add=%d alive=%s"
      % (interrupted, result, lib.add(ctx, 2, 3).wait_result(), p.alive), flush=True)
"""


def test_ctrl_c_to_the_process_group(intr_so, tmp_path):
    """A terminal's Ctrl-C goes to the whole foreground process group: the
    script gets KeyboardInterrupt in wait_result and goes on with the same
    proc (whose worker is in a process group of its own)."""
    script = tmp_path / "group.py"
    script.write_text(GROUP_SCRIPT)
    child = subprocess.Popen([sys.executable, str(script), intr_so,
                              os.path.dirname(os.path.abspath(__file__))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "waiting"
        os.killpg(child.pid, 2)  # SIGINT to the script's process group
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "MARKER interrupted=True result=7 add=5 alive=True" in out, (out, err)
    assert child.returncode == 0, err


def test_close_after_a_load_given_up_on(intr_so, tmp_path):
    """close() does not wait for a constructor that hangs: the threads
    inside libveo get 0.5 s, then the worker is killed."""
    slow = build(tmp_path / "b", "slowinit", slow_init_source(str(tmp_path / "never")))
    p = veo.VeoProc(0)
    assert interrupt_inside(lambda: p.load_library(slow)) < INTERRUPT_LIMIT_S
    t0 = time.monotonic()
    p.close()
    assert time.monotonic() - t0 < 10
    assert p.closed and not p.alive
