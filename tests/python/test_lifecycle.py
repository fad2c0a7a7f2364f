"""Lifecycle: interpreter exit with live procs, memory use over many calls."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

import veo
from test_proc import worker_state


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_interpreter_exit_with_live_procs_is_clean(kernels_so, tmp_path):
    script = tmp_path / "exit_with_live_procs.py"
    script.write_text(textwrap.dedent("""
        import sys
        import threading
        import numpy as np
        import veo

        p = veo.VeoProc(0)
        c = p.open_context()
        lib = p.load_library(sys.argv[1])
        lib.sleep_ms.args_type("int")
        running = lib.sleep_ms(c, 10000)     # still running at exit
        lib.fill.args_type("int *", "int", "int")
        out = np.zeros(4, dtype=np.int32)
        lib.fill(c, veo.OnStack(out, inout=veo.VEO_INTENT_OUT), 4, 1)
        cycle = [p, c, lib]
        cycle.append(cycle)                   # kept alive by a cycle
        q = veo.VeoProc("0")                  # a second one, idle
        # Daemon threads still waiting and submitting when the interpreter exits.
        threading.Thread(target=running.wait_result, daemon=True).start()
        lib.get_counter.args_type()
        def submit():
            while True:
                lib.get_counter(c).wait_result()
        threading.Thread(target=submit, daemon=True).start()
        print(p.pid, q.pid, flush=True)
    """))
    start = time.monotonic()
    r = subprocess.run([sys.executable, str(script), kernels_so], capture_output=True,
                       text=True, timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert elapsed < 9, "exit waited for the running kernel"
    for pid in map(int, r.stdout.split()):
        assert worker_state(pid) == "gone"


def test_many_calls_leave_memory_flat(proc, kernel):
    """Calls with and without buffers, collected or dropped: memory stays flat."""
    ctx = proc.open_context()
    echo = kernel("echo_i64", ["long"], "long")
    scale = kernel("scale", ["double *", "int", "double"], "void")
    mem = proc.alloc_mem(64)
    a = np.ones(8)

    def calls(n):
        for i in range(n):
            echo(ctx, i).wait_result()
        for i in range(n // 4):
            scale(ctx, veo.OnStack(a, inout=veo.VEO_INTENT_INOUT), 8, 1.0).wait_result()
            ctx.async_write_mem(mem, a, 64).wait_result()
        for i in range(n // 4):
            echo(ctx, i)  # dropped: collected later
            if i % 1000 == 0:
                ctx.context_sync()
        ctx.context_sync()

    calls(20000)  # warm up caches and allocator pools
    before = rss_bytes()
    calls(200000)
    grown = rss_bytes() - before
    proc.close_context(ctx)
    proc.free_mem(mem)
    assert grown < 8 << 20, "memory grew by %d bytes" % grown
    assert (a == 1).all()


def test_ctrl_c_interrupts_wait_result(proc, kernel):
    import _thread
    import threading
    sleep = kernel("sleep_ms", ["int"], "int")
    c = proc.open_context()
    req = sleep(c, 800)
    threading.Timer(0.2, _thread.interrupt_main).start()
    start = time.monotonic()
    try:
        req.wait_result()
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("wait_result was not interrupted")
    assert time.monotonic() - start < 0.7
    assert req.wait_result() == 800  # it can still be waited for
    proc.close_context(c)
