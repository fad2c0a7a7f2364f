"""Reloading a rebuilt kernel in the same proc, and VeBuild rebuilding what
changed: load_library of a file that changed since it was loaded runs the
new code and the old VeoLibrary's functions raise VeoError; an unchanged
file is loaded once; a changed #include rebuilds; force=True rebuilds."""
import os
import time

import pytest

import veo

VERSION_C = r"""
#include "version.h"
int helper(void) { return VERSION; }
int version(void) { return helper(); }
int wait_flag(volatile int *flag) { flag[1] = 1; while (!flag[0]) ; return VERSION; }
"""


def build(bld_dir, version, **kw):
    """VeBuild of VERSION_C with version.h defining VERSION; the .so path."""
    header, text = os.path.join(bld_dir, "version.h"), "#define VERSION %d\n" % version
    if not os.path.exists(header) or open(header).read() != text:
        with open(header, "w") as f:
            f.write(text)
    bld = veo.VeBuild()
    bld.set_build_dir(bld_dir)
    bld.set_c_src("_version", VERSION_C, flags=["-O2", "-fpic", "-I."])
    return os.path.abspath(bld.build_so(**kw))


def later(path):
    """Makes sure the next write to path gets a later modification time
    than the file it was built from (coarse file system clocks)."""
    t = os.stat(path).st_mtime_ns
    deadline = time.monotonic() + 10
    while time.time_ns() <= t + 10_000_000:
        assert time.monotonic() < deadline


@pytest.fixture
def bld_dir(tmp_path):
    d = tmp_path / "vb"
    d.mkdir(mode=0o700)
    return str(d)


@pytest.fixture
def fresh():
    p = veo.VeoProc(0)
    try:
        yield p, p.open_context()
    finally:
        p.close()


def declare(lib):
    lib.version.args_type()
    lib.version.ret_type("int")
    return lib


def test_rebuilt_library_runs_new_code_in_the_same_proc(bld_dir, fresh):
    proc, ctx = fresh
    so = build(bld_dir, 1)
    lib1 = declare(proc.load_library(so))
    assert lib1.version(ctx).wait_result() == 1
    assert proc.load_library(so) is lib1  # unchanged: the same library

    later(os.path.join(bld_dir, "_version.o"))
    assert build(bld_dir, 2) == so  # the header changed: rebuilt, same path
    lib2 = declare(proc.load_library(so))
    assert lib2 is not lib1 and lib2.handle != lib1.handle
    assert lib2.version(ctx).wait_result() == 2
    assert proc.lib[so] is lib2
    assert proc.load_library(so) is lib2

    with pytest.raises(veo.VeoError, match="was reloaded"):
        lib1.version(ctx)
    with pytest.raises(veo.VeoError, match="was reloaded"):
        lib1.find_function("helper")
    assert "reloaded" in repr(lib1)
    with pytest.raises(veo.VeoError, match="already unloaded"):
        proc.unload_library(lib1)


def test_unchanged_build_leaves_the_file_and_the_library(bld_dir, fresh):
    proc, ctx = fresh
    so = build(bld_dir, 3)
    lib = proc.load_library(so)
    before = os.stat(so)
    assert build(bld_dir, 3) == so  # nothing changed: not even relinked
    after = os.stat(so)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert proc.load_library(so) is lib


def test_reload_by_another_spelling_of_the_path(bld_dir, fresh):
    proc, ctx = fresh
    so = build(bld_dir, 4)
    lib1 = declare(proc.load_library(so))
    other = os.path.join(bld_dir, ".", os.path.basename(so))
    assert proc.load_library(other) is lib1
    later(os.path.join(bld_dir, "_version.o"))
    build(bld_dir, 5)
    lib2 = declare(proc.load_library(other))
    assert lib2.version(ctx).wait_result() == 5
    with pytest.raises(veo.VeoError, match="was reloaded"):
        lib1.version(ctx)


def test_reload_while_a_kernel_of_the_old_version_runs(bld_dir, fresh):
    proc, ctx = fresh
    so = build(bld_dir, 6)
    lib = proc.load_library(so)
    lib.wait_flag.args_type("int *")
    lib.wait_flag.ret_type("int")
    flag = proc.alloc_mem(8)
    proc.write_mem(flag, bytearray(8), 8)
    req = lib.wait_flag(ctx, flag)
    deadline = time.monotonic() + 30
    words = bytearray(8)
    while words[4] == 0:  # the kernel runs once it set the second word
        assert time.monotonic() < deadline
        time.sleep(0.001)
        proc.read_mem(words, flag, 8)
    later(os.path.join(bld_dir, "_version.o"))
    build(bld_dir, 7)
    with pytest.raises(veo.VeoError, match="running"):
        proc.load_library(so)
    proc.write_mem(flag, (1).to_bytes(4, "little"), 4)
    assert req.wait_result() == 6
    lib2 = declare(proc.load_library(so))
    assert lib2.version(ctx).wait_result() == 7


def test_force_rebuilds(bld_dir):
    so = build(bld_dir, 8)
    obj = os.path.join(bld_dir, "_version.o")
    o1, s1 = os.stat(obj), os.stat(so)
    later(obj)
    build(bld_dir, 8)
    assert os.stat(obj).st_mtime_ns == o1.st_mtime_ns
    build(bld_dir, 8, force=True)
    o2, s2 = os.stat(obj), os.stat(so)
    assert o2.st_mtime_ns > o1.st_mtime_ns
    assert (s2.st_ino, s2.st_mtime_ns) != (s1.st_ino, s1.st_mtime_ns)


def test_header_change_rebuilds_and_unrelated_file_does_not(bld_dir):
    build(bld_dir, 9)
    obj = os.path.join(bld_dir, "_version.o")
    assert "version.h" in open(obj + ".d").read()
    t1 = os.stat(obj).st_mtime_ns
    later(obj)
    with open(os.path.join(bld_dir, "unrelated.h"), "w") as f:
        f.write("#define NOTHING 1\n")
    with open(os.path.join(bld_dir, "version.h"), "w") as f:
        f.write("#define VERSION 9\n")  # the same text, rewritten: newer
    build(bld_dir, 9)
    t2 = os.stat(obj).st_mtime_ns
    assert t2 > t1
    # Untouched header: up to date.
    bld = veo.VeBuild()
    bld.set_build_dir(bld_dir)
    bld.set_c_src("_version", VERSION_C, flags=["-O2", "-fpic", "-I."])
    later(obj)
    bld.build_so()
    assert os.stat(obj).st_mtime_ns == t2
    # A header that is gone: rebuilt (and the compiler says so).
    os.unlink(os.path.join(bld_dir, "version.h"))
    with pytest.raises(veo.VeBuildError, match="version.h"):
        bld.build_so()


FORTRAN_INCLUDE = """
integer function fversion()
  include 'fversion.inc'
  fversion = v
end function fversion
"""


def test_fortran_include_change_rebuilds(bld_dir, fresh):
    proc, ctx = fresh

    def fbuild(v):
        with open(os.path.join(bld_dir, "fversion.inc"), "w") as f:
            f.write("integer, parameter :: v = %d\n" % v)
        bld = veo.VeBuild()
        bld.set_build_dir(bld_dir)
        bld.set_ftn_src("_fversion", FORTRAN_INCLUDE)
        return os.path.abspath(bld.build_so())

    so = fbuild(1)
    lib = proc.load_library(so)
    lib.fversion_.args_type()
    lib.fversion_.ret_type("int")
    assert lib.fversion_(ctx).wait_result() == 1
    later(os.path.join(bld_dir, "_fversion.o"))
    fbuild(2)
    lib = proc.load_library(so)
    lib.fversion_.args_type()
    lib.fversion_.ret_type("int")
    assert lib.fversion_(ctx).wait_result() == 2
