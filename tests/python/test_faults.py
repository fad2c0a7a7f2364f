"""Faults: crashing kernels, workers killed from outside, hung kernels.

A kernel that crashes raises veo.VeoException, an ArithmeticError whose
attributes carry the worker's report (signal, address, kernel, backtrace);
the proc's other requests raise VeoError; other procs carry on. A worker
killed from outside is noticed within a fraction of a second. A hung kernel
gives TimeoutError to a timed wait, and closing or dropping its proc takes
well under a second, even while another thread is stuck in that proc.
"""
import gc
import os
import signal
import threading
import time

import pytest

import veo
from test_proc import worker_state


def declare(lib, name, args, ret):
    f = getattr(lib, name)
    f.args_type(*args)
    f.ret_type(ret)
    return f


def test_a_crash_carries_signal_address_kernel_and_backtrace(kernels_so):
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        crash_at = declare(lib, "crash_at", ["unsigned long"], "int")
        with pytest.raises(veo.VeoException) as info:
            crash_at(ctx, 0xdead0000).wait_result()
        e = info.value
        assert isinstance(e, ArithmeticError)
        assert e.signal == "SIGSEGV"
        assert e.signo == signal.SIGSEGV
        assert e.address == 0xdead0000
        assert e.kernel == "crash_at"
        assert e.library == os.path.basename(kernels_so)
        assert e.exit_status is None
        assert isinstance(e.backtrace, list) and len(e.backtrace) >= 2
        assert e.backtrace[0].startswith("#0 0x") and "crash_at" in e.backtrace[0]
        # The frames are the report's lines, in its order.
        assert e.report.split("\nbacktrace:\n", 1)[1].split("\n") == [
            "  " + f for f in e.backtrace]
        assert e.report.startswith("kernel crash_at")
        # The message says it all too.
        text = str(e)
        for part in ("crash_at", "SIGSEGV", "at address 0xdead0000", "backtrace:"):
            assert part in text


def test_other_requests_of_the_proc_fail_and_other_procs_carry_on(kernels_so):
    with veo.VeoProc(0) as p, veo.VeoProc(0) as q:
        c1, c2 = p.open_context(), p.open_context()
        lib = p.load_library(kernels_so)
        sleep = declare(lib, "sleep_ms", ["int"], "int")
        crash = declare(lib, "crash_segv", [], "int")
        qlib = q.load_library(kernels_so)
        qsleep = declare(qlib, "sleep_ms", ["int"], "int")
        qc = q.open_context()
        long_req = sleep(c1, 60000)
        queued = sleep(c1, 1)
        busy_q = qsleep(qc, 200)
        with pytest.raises(veo.VeoException):
            crash(c2).wait_result()
        start = time.monotonic()
        for req in (long_req, queued):
            with pytest.raises(veo.VeoError, match="request not run.*SIGSEGV"):
                req.wait_result()
            assert not isinstance(req, ArithmeticError)
        assert time.monotonic() - start < 1
        # Later calls fail at once, naming the crash.
        with pytest.raises(veo.VeoError, match="SIGSEGV"):
            p.alloc_mem(64)
        with pytest.raises(veo.VeoError, match="SIGSEGV"):
            sleep(c1, 1)
        assert c1.state == veo.VEO_STATE_EXIT
        # q did not notice.
        assert busy_q.wait_result() == 200
        assert qsleep(qc, 1).wait_result() == 1


def test_a_kernel_calling_exit_raises_with_its_status(kernels_so):
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        exit_with = declare(lib, "exit_with", ["int"], "int")
        with pytest.raises(veo.VeoException, match=r"exit\(3\)") as info:
            exit_with(ctx, 3).wait_result()
        assert info.value.exit_status == 3
        assert info.value.kernel == "exit_with"
        assert info.value.library == os.path.basename(kernels_so)
        assert info.value.backtrace == [] and info.value.signal is None
        assert info.value.kernel == "exit_with"
        assert info.value.signal is None and info.value.address is None


def test_a_worker_killed_from_outside_is_noticed_quickly(kernels_so):
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        sleep = declare(lib, "sleep_ms", ["int"], "int")
        req = sleep(ctx, 60000)
        start = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        with pytest.raises(veo.VeoError, match="killed by signal 9") as info:
            req.wait_result()
        elapsed = time.monotonic() - start
        print("a kill was noticed after %.1f ms" % (elapsed * 1e3))
        assert elapsed < 1
        assert not isinstance(info.value, ArithmeticError)
        assert ctx.state == veo.VEO_STATE_EXIT


def test_a_hung_kernel_times_out_and_close_is_quick(kernels_so):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = p.load_library(kernels_so)
    spin = declare(lib, "spin_forever", [], "long")
    req = spin(ctx)
    with pytest.raises(TimeoutError):
        req.wait_result(timeout=0.1)
    with pytest.raises(TimeoutError):
        req.wait_result(timeout=0)
    pid = p.pid
    start = time.monotonic()
    p.close()
    elapsed = time.monotonic() - start
    print("close() of a proc with a hung kernel took %.1f ms" % (elapsed * 1e3))
    assert elapsed < 1
    assert worker_state(pid) == "gone"
    with pytest.raises(veo.VeoError):
        req.wait_result()


def test_del_of_a_proc_with_a_hung_kernel_is_quick(kernels_so):
    def start_hung():
        p = veo.VeoProc(0)
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        declare(lib, "spin_forever", [], "long")(ctx)  # dropped: an orphan
        return p, p.pid
    p, pid = start_hung()
    start = time.monotonic()
    del p
    gc.collect()
    elapsed = time.monotonic() - start
    print("del of a proc with a hung kernel took %.1f ms" % (elapsed * 1e3))
    assert elapsed < 1
    assert worker_state(pid) == "gone"


def test_close_while_another_thread_is_stuck_closing_a_hung_context(kernels_so):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = p.load_library(kernels_so)
    declare(lib, "spin_forever", [], "long")(ctx)
    stuck = threading.Thread(target=p.close_context, args=(ctx,), daemon=True)
    stuck.start()
    # Most likely the thread is inside close_context after this; if it is
    # not, close() makes its close_context return at once: the checks below
    # hold either way.
    time.sleep(0.1)
    pid = p.pid
    start = time.monotonic()
    p.close()
    elapsed = time.monotonic() - start
    stuck.join(5)
    print("close() with a thread stuck in close_context took %.1f ms" % (elapsed * 1e3))
    assert elapsed < 2
    assert not stuck.is_alive()
    assert worker_state(pid) == "gone"
