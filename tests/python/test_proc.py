"""VeoProc: starting and stopping VE processes, libraries, hooks."""
import gc
import os

import pytest

import veo


def worker_state(pid):
    """'gone', or the state letter of /proc/<pid>/status (Z for a zombie)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except FileNotFoundError:
        return "gone"
    return "?"


def test_star_import_exports_the_py_veo_names():
    ns = {}
    exec("from veo import *", ns)
    for name in ["VeoProc", "VeoCtxt", "VeoLibrary", "VeoFunction", "VeoRequest",
                 "VeoMemRequest", "VEMemPtr", "OnStack", "VeBuild",
                 "set_proc_init_hook", "del_proc_init_hook",
                 "VEO_INTENT_IN", "VEO_INTENT_INOUT", "VEO_INTENT_OUT",
                 "INTENT_IN", "INTENT_INOUT", "INTENT_OUT",
                 "VEO_STATE_RUNNING", "VEO_STATE_EXIT", "VEO_COMMAND_OK",
                 "VEO_COMMAND_EXCEPTION", "np"]:
        assert name in ns, name
    import numpy
    assert ns["np"] is numpy and veo.np is numpy
    assert (veo.VEO_INTENT_IN, veo.VEO_INTENT_INOUT, veo.VEO_INTENT_OUT) == (0, 1, 2)
    assert veo.INTENT_OUT == veo.VEO_INTENT_OUT
    assert (veo.VEO_STATE_UNKNOWN, veo.VEO_STATE_RUNNING, veo.VEO_STATE_EXIT) == (0, 1, 4)
    assert (veo.VEO_COMMAND_OK, veo.VEO_COMMAND_EXCEPTION, veo.VEO_COMMAND_ERROR,
            veo.VEO_COMMAND_UNFINISHED) == (0, 1, 2, 3)
    assert issubclass(veo.VeoException, ArithmeticError)
    assert issubclass(veo.VeoError, RuntimeError)
    assert issubclass(veo.VeoMemRequest, veo.VeoRequest)


def test_every_method_has_a_docstring():
    for cls in (veo.VeoProc, veo.VeoCtxt, veo.VeoLibrary, veo.VeoFunction,
                veo.VeoRequest, veo.VEMemPtr, veo.OnStack, veo.VeBuild):
        assert cls.__doc__, cls
        for name, member in vars(cls).items():
            if callable(member) and not name.startswith("_"):
                assert member.__doc__, "%s.%s" % (cls.__name__, name)


@pytest.mark.parametrize("nodeid", [0, "0", " 0 ", -1])
def test_nodeid_is_an_int_or_a_string_of_digits(nodeid):
    with veo.VeoProc(nodeid) as p:
        assert p.nodeid == (-1 if nodeid == -1 else 0)
        assert worker_state(p.pid) not in ("gone", "Z")


@pytest.mark.parametrize("nodeid, exc", [("abc", ValueError), ("1.5", ValueError),
                                         ("", ValueError), (1.0, TypeError),
                                         (None, TypeError), (10 ** 9, ValueError)])
def test_bad_nodeid_is_rejected(nodeid, exc):
    with pytest.raises(exc, match="nodeid"):
        veo.VeoProc(nodeid)


def test_missing_worker_binary_is_an_error():
    with pytest.raises(RuntimeError, match="cannot start"):
        veo.VeoProc(0, veorun_bin="/nonexistent/veorun")


def test_attributes_and_repr(proc, ctx, lib):
    assert proc.nodeid == 0
    assert ctx in proc.context
    assert proc.lib[lib.name] is lib
    assert proc.pid > 0 and not proc.closed
    assert proc.veorun_bin is None
    assert "VeoProc node 0" in repr(proc)
    assert "worker pid %d" % proc.pid in repr(proc)
    assert isinstance(proc.proc_identifier(), int) and proc.proc_identifier() >= 0


def test_del_stops_the_worker_without_a_zombie():
    p = veo.VeoProc(0)
    pid = p.pid
    assert worker_state(pid) not in ("gone", "Z")
    del p
    assert worker_state(pid) == "gone"


def test_garbage_collection_of_a_cycle_stops_the_worker(kernels_so):
    def make():
        p = veo.VeoProc(0)
        c = p.open_context()
        lib = p.load_library(kernels_so)
        lib.average  # a function: lib -> func -> lib, proc -> lib -> proc
        m = p.alloc_mem(16)
        return p.pid, (p, c, lib, m)
    pid, objs = make()
    cycle = [objs]
    cycle.append(cycle)
    del objs, cycle
    gc.collect()
    assert worker_state(pid) == "gone"


def test_context_manager_and_close(kernels_so):
    with veo.VeoProc(0) as p:
        pid = p.pid
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        mem = p.alloc_mem(8)
    assert p.closed and worker_state(pid) == "gone"
    assert "closed" in repr(p)
    assert p.context == [] and ctx.closed
    with pytest.raises(RuntimeError, match="closed"):
        p.alloc_mem(8)
    with pytest.raises(RuntimeError, match="closed"):
        p.load_library(kernels_so)
    with pytest.raises(RuntimeError, match="closed"):
        p.read_mem(bytearray(8), mem, 8)
    with pytest.raises(RuntimeError, match="closed"):
        lib.find_function("average")
    with pytest.raises(RuntimeError, match="closed"):
        ctx.context_sync()
    p.close()  # closing again does nothing


def test_init_hooks_run_at_the_end_of_the_constructor():
    seen = []

    def hook(p):
        seen.append((p, p.pid))
    veo.set_proc_init_hook(hook)
    try:
        with veo.VeoProc(0) as p:
            assert seen == [(p, p.pid)]
    finally:
        veo.del_proc_init_hook(hook)
    with veo.VeoProc(0):
        assert len(seen) == 1
    with pytest.raises(ValueError, match="not a registered hook"):
        veo.del_proc_init_hook(hook)
    with pytest.raises(TypeError):
        veo.set_proc_init_hook(42)


def test_a_failing_init_hook_fails_the_constructor_and_stops_the_worker():
    pids = []

    def hook(p):
        pids.append(p.pid)
        raise KeyError("hook failed")
    veo.set_proc_init_hook(hook)
    try:
        with pytest.raises(KeyError):
            veo.VeoProc(0)
    finally:
        veo.del_proc_init_hook(hook)
    gc.collect()
    assert worker_state(pids[0]) == "gone"


def test_load_library_and_unload_library(kernels_so, kernel):
    with veo.VeoProc(0) as p:
        lib = p.load_library(kernels_so)
        assert p.lib == {kernels_so: lib}
        assert lib.name == kernels_so and lib.proc is p
        assert p.load_library(kernels_so) is lib  # already loaded
        assert "VeoLibrary" in repr(lib) and kernels_so in repr(lib)
        f = lib.find_function("get_counter")
        p.unload_library(lib)
        assert p.lib == {}
        assert "unloaded" in repr(lib)
        ctx = p.open_context()
        f.args_type()
        with pytest.raises(RuntimeError, match="unloaded"):
            f(ctx)
        with pytest.raises(RuntimeError, match="already unloaded"):
            p.unload_library(lib)
        with pytest.raises(TypeError):
            p.unload_library("libfoo.so")


def test_load_library_failure_says_why(proc):
    with pytest.raises(RuntimeError, match="nonexistent.so"):
        proc.load_library("/nonexistent.so")


def test_static_library_is_named___static__(proc):
    s = proc.static_library()
    assert s.name == "__static__" and s.handle == 0
    assert proc.static_library() is s
    assert proc.lib["__static__"] is s
    with pytest.raises(ValueError, match="static"):
        proc.unload_library(s)


def test_get_function_returns_functions_found_before(proc, lib):
    assert proc.get_function("no_such_kernel") is None
    f = lib.find_function("echo_i32")
    assert proc.get_function("echo_i32") is f


def test_open_and_close_context(proc):
    c = proc.open_context()
    assert c in proc.context and c.proc is proc
    assert c.state == veo.VEO_STATE_RUNNING and not c.closed
    proc.close_context(c)
    assert c not in proc.context and c.closed
    assert c.state == veo.VEO_STATE_EXIT
    with pytest.raises(RuntimeError, match="already closed"):
        proc.close_context(c)
    with pytest.raises(RuntimeError, match="closed"):
        c.context_sync()
    with pytest.raises(TypeError):
        proc.close_context(proc)
    c2 = veo.VeoCtxt(proc)  # the same as proc.open_context()
    assert c2 in proc.context
    proc.close_context(c2)


def test_close_context_of_another_proc_is_refused(proc, other_proc):
    c = other_proc.open_context()
    with pytest.raises(ValueError, match="another VeoProc"):
        proc.close_context(c)
    other_proc.close_context(c)


def test_alloc_and_free_mem(proc):
    m = proc.alloc_mem(1024)
    assert isinstance(m, veo.VEMemPtr)
    assert m.size == 1024 and m.proc is proc and m.addr != 0
    proc.free_mem(m)
    m2 = proc.alloc_mem(16)
    proc.free_mem(m2.addr)  # an int address works too
    with pytest.raises(RuntimeError, match="free_mem"):
        proc.free_mem(0x1234)
    with pytest.raises(OverflowError):
        proc.alloc_mem(-1)
    with pytest.raises(TypeError):
        proc.alloc_mem(1.5)


def test_free_mem_of_another_proc_is_refused(proc, other_proc):
    m = other_proc.alloc_mem(8)
    with pytest.raises(ValueError, match="another VeoProc"):
        proc.free_mem(m)
    other_proc.free_mem(m)


def test_objects_that_only_a_proc_creates_cannot_be_constructed():
    for cls in (veo.VeoLibrary, veo.VeoFunction, veo.VeoRequest, veo.VeoMemRequest):
        with pytest.raises(TypeError):
            cls()


def test_several_procs_and_a_new_one_after_destroying_one():
    a, b = veo.VeoProc(0), veo.VeoProc(0)
    assert a.pid != b.pid
    assert a.proc_identifier() != b.proc_identifier()
    a.close()
    c = veo.VeoProc(0)
    assert c.alloc_mem(8).size == 8
    b.close()
    c.close()
