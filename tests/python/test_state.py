"""State you can see: proc.alive, proc.closed and the reprs of procs and
contexts say whether they can be used and why not; dir(lib) lists the
kernels (tab completion); a declared VeoFunction has a signature and a
docstring for inspect, help() and IPython's `?`."""
import inspect
import os
import rlcompleter
import signal
import time

import pytest

import veo
from intr_helpers import declare, intr_so

__all__ = ["intr_so"]  # the fixture, imported for pytest


def test_alive_and_repr_of_a_proc_whose_kernel_crashed(intr_so):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    lib = declare(p.load_library(intr_so))
    assert p.alive and not p.closed
    assert "worker pid %d, 1 context, 1 library>" % p.pid in repr(p)
    with pytest.raises(veo.VeoException):
        lib.crash_segv(ctx).wait_result()
    assert not p.alive
    assert not p.closed  # not closed yet: its worker died
    assert "(worker died: SIGSEGV in kernel crash_segv)" in repr(p)
    assert "(worker died: SIGSEGV in kernel crash_segv)" in repr(ctx)
    p.close()
    assert p.closed and not p.alive
    assert repr(p) == "<VeoProc node 0 (closed)>"
    assert repr(ctx).endswith("(closed: its VeoProc was closed)>")


def test_alive_of_a_proc_whose_worker_was_killed(intr_so):
    p = veo.VeoProc(0)
    os.kill(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while p.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not p.alive
    assert "(worker died: killed by SIGKILL)" in repr(p)
    p.close()


def test_repr_of_closed_contexts(intr_so):
    p = veo.VeoProc(0)
    ctx = p.open_context()
    assert repr(ctx).startswith("<VeoCtxt 0x") and "worker pid %d>" % p.pid in repr(ctx)
    p.close_context(ctx)
    assert repr(ctx) == "<VeoCtxt of VeoProc node 0 (closed)>"
    p.close()


def test_dir_of_a_library_lists_its_kernels(intr_so):
    p = veo.VeoProc(0)
    lib = p.load_library(intr_so)
    names = dir(lib)
    # The functions its file exports, before any was looked up ...
    for k in ("wait_flag", "add", "average", "crash_segv"):
        assert k in names
    assert "_init" not in names and "_fini" not in names
    # ... the attributes and methods ...
    for a in ("find_function", "get_symbol", "func", "symbol", "name", "proc"):
        assert a in names
    assert names == sorted(names)
    # ... and what was found so far: a variable is listed once looked up.
    assert "seven" not in names
    lib.get_symbol("seven")
    assert "seven" in dir(lib)
    # Tab completion (the standard completer) offers them.
    completer = rlcompleter.Completer({"lib": lib})
    offered = []
    for i in range(20):
        c = completer.complete("lib.wai", i)
        if c is None:
            break
        offered.append(c)
    assert offered == ["lib.wait_flag("]
    p.close()


def test_signature_and_doc_of_a_declared_function(intr_so):
    p = veo.VeoProc(0)
    lib = p.load_library(intr_so)
    f = lib.average
    # Before args_type: ctx, then anything.
    sig = inspect.signature(f)
    assert list(sig.parameters) == ["ctx", "args"]
    assert sig.parameters["args"].kind is inspect.Parameter.VAR_POSITIONAL
    assert f.__text_signature__ == "(ctx, /, *args)"
    assert "args_type(" in f.__doc__
    f.args_type("double *", "int")
    f.ret_type("double")
    sig = inspect.signature(f)
    assert str(sig) == "(ctx: 'VeoCtxt', arg0: 'double *', arg1: 'int', /) -> 'double'"
    assert [q.kind for q in sig.parameters.values()] == \
        [inspect.Parameter.POSITIONAL_ONLY] * 3
    assert sig.return_annotation == "double"
    assert f.__text_signature__ == "(ctx, arg0, arg1, /)"
    doc = inspect.getdoc(f)
    assert doc.splitlines()[0] == "average(ctx, arg0: double *, arg1: int) -> double"
    assert repr(intr_so) in doc and "VeoRequest" in doc
    # Declared again, it says so; the class keeps its own docstring.
    f.args_type("double *", "long")
    assert str(inspect.signature(f)).startswith("(ctx: 'VeoCtxt', arg0: 'double *', arg1: 'long'")
    assert veo.VeoFunction.__doc__.startswith("A kernel of a VeoLibrary")
    p.close()
