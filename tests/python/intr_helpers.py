"""Kernels and helpers of the interrupt, fork and state tests.

A module of its own (not conftest.py) so that multiprocessing's "spawn"
children can import the functions they run, and the scripts the tests start
in fresh interpreters can share the kernels' source.
"""
import os
import signal
import sys
import threading
import time

import pytest

import veo

# Ctrl-C must reach a blocking call within 0.2 s (issue 13); it takes a few
# ms here. The tests allow more: the machine they run on may be loaded.
INTERRUPT_LIMIT_S = 0.5

KERNELS_C = r"""
#include <stdint.h>
#include <unistd.h>

/* Holds its context until *flag is not 0, then returns it: a kernel that
 * runs for as long as the test wants. */
int64_t wait_flag(volatile int64_t *flag)
{
    while (*flag == 0)
        usleep(200);
    return *flag;
}

int64_t add(int64_t a, int64_t b) { return a + b; }

/* A variable: get_symbol finds it, the function list of dir(lib) not. */
int64_t seven = 7;

double average(double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s / n;
}

int crash_segv(void)
{
    volatile int *p = 0;
    *p = 1;
    return 0;
}
"""

# A library whose constructor waits until the file GO_FILE exists (at most
# a minute): loading it blocks the proc's control slot that long. GO_FILE
# is defined in front of it (slow_init_source).
SLOW_INIT_C = r"""
#include <stdint.h>
#include <unistd.h>

__attribute__((constructor)) static void wait_for_go(void)
{
    for (int i = 0; i < 60000 && access(GO_FILE, F_OK) != 0; i++)
        usleep(1000);
}

int64_t slow_hello(void) { return 4242; }
"""


def slow_init_source(go_file):
    return '#define GO_FILE "%s"\n' % go_file + SLOW_INIT_C


def build(tmp_dir, label, source):
    """Compiles `source` with VeBuild into tmp_dir; the .so's absolute path."""
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_dir))
    bld.set_c_src(label, source)
    return os.path.abspath(bld.build_so(prototypes=False))  # undeclared, as py-veo has it


@pytest.fixture(scope="session")
def intr_so(tmp_path_factory):
    """The kernels of KERNELS_C as a shared object."""
    return build(tmp_path_factory.mktemp("intr"), "intrkernels", KERNELS_C)


def declare(lib):
    """The kernels of KERNELS_C in lib, their prototypes declared."""
    lib.wait_flag.args_type("int64_t *")
    lib.wait_flag.ret_type("int64_t")
    lib.add.args_type("int64_t", "int64_t")
    lib.add.ret_type("int64_t")
    lib.average.args_type("double *", "int")
    lib.average.ret_type("double")
    lib.crash_segv.args_type()
    return lib


class Flag:
    """An int64 in VE memory that wait_flag watches."""

    def __init__(self, proc):
        import numpy as np
        self.np = np
        self.proc = proc
        self.ptr = proc.alloc_mem(8)
        self.set(0)

    def set(self, value):
        self.proc.write_mem(self.ptr, self.np.array([value], dtype=self.np.int64))

    def free(self):
        self.proc.free_mem(self.ptr)


def interrupt_inside(fn, timeout=60.0):
    """Calls fn() in the main thread and, once fn's own frame is the main
    thread's innermost one (fn is a lambda around one blocking call, and the
    main thread let go of the GIL: it is inside that call), sends SIGINT to
    the process as a terminal's Ctrl-C would. Returns the seconds from the
    signal to the KeyboardInterrupt; fails if fn returns without one."""
    assert threading.current_thread() is threading.main_thread()
    main = threading.main_thread().ident
    sent = []
    stop = threading.Event()

    def watch():
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            frame = sys._current_frames().get(main)
            if frame is not None and frame.f_code is fn.__code__:
                sent.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.001)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        fn()
    except KeyboardInterrupt:
        caught = time.monotonic()
    else:
        stop.set()
        watcher.join()
        raise AssertionError("%r returned without a KeyboardInterrupt" % fn)
    watcher.join()
    assert sent, "KeyboardInterrupt before the signal was sent"
    return caught - sent[0]


# ---- run in multiprocessing children (fork and spawn) --------------------

def child_sum(so, a, b):
    """In a child process: a VeoProc of its own adds a and b on the VE."""
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = declare(p.load_library(so))
        return os.getpid(), lib.add(ctx, a, b).wait_result()
