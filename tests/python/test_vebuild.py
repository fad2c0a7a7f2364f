"""VeBuild: compiling kernels from source strings into .so files and workers."""
import os
import stat

import numpy as np
import pytest

import veo
from veo.vebuild import VeBuildError

SQUARE_C = "long square(long x) { return x * x; }\n"
CUBE_CPP = 'extern "C" long cube(long x) { return x * x * x; }\n'
TWICE_F90 = """
integer function twice(x)
  integer, intent(in) :: x
  twice = 2 * x
end function twice
"""


def object_mtime(bld_dir, label):
    return os.stat(os.path.join(bld_dir, label + ".o")).st_mtime_ns


def test_build_so_with_c_cpp_and_fortran(tmp_path, proc, ctx):
    bld = veo.VeBuild()
    d = str(tmp_path / "new" / "dir")
    bld.set_build_dir(d)
    bld.set_c_src("sq", SQUARE_C)
    bld.set_cpp_src("cu", CUBE_CPP)
    bld.set_ftn_src("tw", TWICE_F90)
    so = bld.build_so("mixed")
    assert so == os.path.join(d, "mixed.so") and os.path.isfile(so)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert "sq (C)" in repr(bld) and "tw (F)" in repr(bld)
    lib = proc.load_library(os.path.abspath(so))
    for name, args, arg, expect in [("square", ["long"], 7, 49),
                                    ("cube", ["long"], 3, 27),
                                    ("twice_", ["int *"], veo.OnStack(np.array([21], np.int32)),
                                     42)]:
        f = lib.find_function(name)
        f.args_type(*args)
        f.ret_type("long" if name != "twice_" else "int")
        assert f(ctx, arg).wait_result() == expect
    proc.unload_library(lib)


def test_label_defaults_to_the_first_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bld = veo.VeBuild()
    bld.set_c_src("first", SQUARE_C)
    bld.set_c_src("second", "int two(void) { return 2; }\n")
    assert bld.build_so() == "first.so"  # no build dir: the current directory
    assert os.path.isfile("first.so")


def test_unchanged_sources_are_not_recompiled(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("sq", SQUARE_C)
    bld.set_c_src("other", "int one(void) { return 1; }\n")
    bld.build_so()
    t_sq, t_other = object_mtime(tmp_path, "sq"), object_mtime(tmp_path, "other")
    bld.build_so()
    assert object_mtime(tmp_path, "sq") == t_sq
    bld.set_c_src("sq", SQUARE_C, flags="-O1 -fpic")  # flags changed
    bld.set_c_src("other", "int one(void) { return 1; }\n")  # same text
    bld.build_so()
    assert object_mtime(tmp_path, "sq") != t_sq
    assert object_mtime(tmp_path, "other") == t_other
    bld.set_c_src("other", "int one(void) { return 11; }\n")  # text changed
    bld.build_so()
    assert object_mtime(tmp_path, "other") != t_other


def test_a_failed_build_raises_with_the_compiler_output(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("broken", "int f(void) { return undeclared_name; }\n")
    with pytest.raises(VeBuildError) as info:
        bld.build_so()
    e = info.value
    assert isinstance(e, RuntimeError)
    assert "undeclared_name" in e.output and "undeclared_name" in str(e)
    assert e.returncode != 0 and "broken.c" in e.cmd
    assert not os.path.exists(os.path.join(str(tmp_path), "broken.so"))


def test_link_failure_and_missing_sources(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    with pytest.raises(VeBuildError, match="no sources"):
        bld.build_so()
    bld.set_c_src("x", SQUARE_C)
    with pytest.raises(VeBuildError, match="linking"):
        bld.build_so(libs=["-lno_such_library_anywhere"])


def test_labels_are_file_names_and_no_shell_is_involved(tmp_path):
    bld = veo.VeBuild()
    for bad in ["../up", "a/b", "", "-rf", ".hidden", "x; touch pwned", "$(id)", 3]:
        with pytest.raises(ValueError, match="label"):
            bld.set_c_src(bad, SQUARE_C)
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("ok", SQUARE_C)
    marker = tmp_path / "pwned"
    # Shell syntax in flags reaches the compiler as literal arguments.
    with pytest.raises(VeBuildError):
        bld.build_so(flags=["-shared", "; touch %s" % marker])
    with pytest.raises(VeBuildError):
        bld.build_so(flags="-shared $(touch %s)" % marker)
    assert not marker.exists()
    with pytest.raises(ValueError, match="label"):
        bld.build_so(label="../../evil")


def test_compiler_can_be_chosen_per_source_and_by_environment(tmp_path, monkeypatch):
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "mycc"
    wrapper.write_text('#!/bin/sh\necho "$@" >> %s\nexec cc "$@"\n' % log)
    wrapper.chmod(0o755)
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path / "b"))
    bld.set_c_src("a", SQUARE_C, compiler=str(wrapper), flags=["-O2"])
    bld.build_so()
    assert "-O2 -fpic -c a.c -o a.o" in log.read_text()  # -fpic added
    log.write_text("")
    monkeypatch.setenv("VE_CC", str(wrapper))
    bld2 = veo.VeBuild()
    bld2.set_build_dir(str(tmp_path / "c"))
    bld2.set_c_src("b", SQUARE_C)
    bld2.build_so()
    calls = log.read_text()
    assert "-O3" in calls and "-c b.c -o b.o" in calls and "-shared" in calls


def test_default_flags_optimise_and_vectorise():
    from veo import vebuild
    cc = vebuild.default_compiler("C")
    flags = vebuild.default_flags(cc, "C")
    assert "-O3" in flags and "-fpic" in flags
    assert "-fopenmp" not in flags


def test_openmp_only_when_asked(tmp_path, proc, ctx):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("omp", """
        #include <omp.h>
        int threads(void) {
            int n = 0;
            #pragma omp parallel
            {
                #pragma omp single
                n = omp_get_num_threads();
            }
            return n;
        }
    """, flags="-O3 -fpic -fopenmp")
    lib = proc.load_library(os.path.abspath(bld.build_so()))
    lib.threads.args_type()
    assert lib.threads(ctx).wait_result() >= 1
    proc.unload_library(lib)


def test_build_veorun_links_kernels_into_a_worker(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("statk", SQUARE_C)
    path = bld.build_veorun()
    assert path == os.path.join(str(tmp_path), "statk.veorun")
    assert os.access(path, os.X_OK)

    def init(p):
        if p.veorun_bin == path:
            p.static_library().square.args_type("long")
    veo.set_proc_init_hook(init)
    try:
        with veo.VeoProc(0, veorun_bin=path) as p:
            f = p.get_function("square")  # found and declared by the hook
            f.ret_type("long")
            assert f.lib.name == "__static__"
            assert f(p.open_context(), 12).wait_result() == 144
    finally:
        veo.del_proc_init_hook(init)


def test_build_veorun_with_c_cpp_fortran_and_a_linker_of_several_words(tmp_path):
    # The C compiler links (through `env`, a linker of two words); the
    # worker still gets libstdc++ and libgfortran, which mk_veorun_static
    # adds as needed.
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("sq", SQUARE_C)
    bld.set_cpp_src("cu", CUBE_CPP)
    bld.set_ftn_src("tw", TWICE_F90)
    cc = veo.vebuild.default_compiler("C")
    path = bld.build_veorun("mixed", linker=["env", "OPENVEO_UNUSED=a b"] + cc)
    with veo.VeoProc(0, veorun_bin=path) as p:
        ctx = p.open_context()
        lib = p.static_library()
        for name, args, arg, expect in [("square", ["long"], 7, 49),
                                        ("cube", ["long"], 3, 27),
                                        ("twice_", ["int *"],
                                         veo.OnStack(np.array([21], np.int32)), 42)]:
            f = lib.find_function(name)
            f.args_type(*args)
            f.ret_type("long" if name != "twice_" else "int")
            assert f(ctx, arg).wait_result() == expect


def test_clean_clear_realclean(tmp_path):
    d = tmp_path / "bd"
    bld = veo.VeBuild()
    bld.set_build_dir(str(d))
    bld.set_c_src("k", SQUARE_C)
    so = bld.build_so()
    assert sorted(os.listdir(d)) == ["k.c", "k.o", "k.o.d", "k.o.hash", "k.prototypes.c",
                                     "k.prototypes.o", "k.prototypes.o.d",
                                     "k.prototypes.o.hash", "k.so", "k.so.hash"]
    bld.clean()
    assert sorted(os.listdir(d)) == ["k.so", "k.so.hash"]
    bld.build_so()
    bld.realclean()
    assert not d.exists() and not os.path.exists(so)
    bld.set_build_dir(str(d))
    bld.build_so()
    bld.clear()
    assert repr(bld) == "<VeBuild no sources in '.'>"
    assert sorted(os.listdir(d)) == ["k.so", "k.so.hash"]


# -- safety: private directories, no shell, no predictable temporary names --

def test_build_directories_it_creates_are_private(tmp_path):
    d = tmp_path / "a" / "b" / "c"
    bld = veo.VeBuild()
    bld.set_build_dir(str(d))
    bld.set_c_src("k", SQUARE_C)
    old = os.umask(0o002)  # a permissive umask: 0700 all the same
    try:
        bld.build_so()
    finally:
        os.umask(old)
    for level in (tmp_path / "a", tmp_path / "a" / "b", d):
        assert stat.S_IMODE(os.stat(level).st_mode) == 0o700, level
    for name in ("k.c", "k.o.hash"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o600, name


def test_a_build_directory_everyone_can_write_to_is_refused(tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    d.chmod(0o777)
    bld = veo.VeBuild()
    bld.set_build_dir(str(d))
    bld.set_c_src("k", SQUARE_C)
    with pytest.raises(VeBuildError, match="writable by everyone"):
        bld.build_so()
    assert os.listdir(d) == []  # nothing written, nothing compiled


def test_files_planted_under_predictable_names_are_replaced_not_followed(tmp_path):
    d = tmp_path / "b"
    d.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (d / "k.c").symlink_to(victim)
    (d / "k.o.hash").symlink_to(victim)
    (d / "k.o.d").symlink_to(victim)  # the compiler's dependency file
    (d / "k.so.hash").symlink_to(victim)
    bld = veo.VeBuild()
    bld.set_build_dir(str(d))
    bld.set_c_src("k", SQUARE_C)
    bld.build_so()
    assert victim.read_text() == "precious"
    assert not os.path.islink(d / "k.c") and (d / "k.c").read_text() == SQUARE_C
    assert sorted(os.listdir(d)) == ["k.c", "k.o", "k.o.d", "k.o.hash", "k.prototypes.c",
                                     "k.prototypes.o", "k.prototypes.o.d",
                                     "k.prototypes.o.hash", "k.so",
                                     "k.so.hash"]  # no leftovers


def test_tools_run_from_argument_lists_never_through_a_shell(tmp_path, monkeypatch):
    import subprocess
    from veo import vebuild

    seen = []
    real_popen = subprocess.Popen

    class CheckedPopen(real_popen):
        def __init__(self, args, *a, **kw):
            seen.append(args)
            assert not kw.get("shell"), "a shell was asked for: %r" % (args,)
            assert isinstance(args, (list, tuple)), "a command line string: %r" % (args,)
            super().__init__(args, *a, **kw)

    def no_shell(*a, **kw):
        raise AssertionError("os.system / os.popen used: %r" % (a,))

    monkeypatch.setattr(subprocess, "Popen", CheckedPopen)
    monkeypatch.setattr(os, "system", no_shell)
    monkeypatch.setattr(os, "popen", no_shell)
    monkeypatch.setattr(vebuild, "_march_native_ok", {})  # the probe runs too
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path / "b"))
    bld.set_c_src("k", SQUARE_C)
    bld.build_so()
    assert len(seen) >= 3  # probe, compile, link
    assert not any(os.path.basename(str(cmd[0])) in ("sh", "bash", "dash") for cmd in seen)


def test_temporary_names_are_random_and_private(tmp_path, monkeypatch):
    import tempfile
    from veo import vebuild

    made = []
    real_mkstemp, real_tmpdir = tempfile.mkstemp, tempfile.TemporaryDirectory

    def mkstemp(*a, **kw):
        fd, path = real_mkstemp(*a, **kw)
        made.append((path, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd, path

    class TemporaryDirectory(real_tmpdir):
        def __enter__(self):
            name = super().__enter__()
            made.append((name, stat.S_IMODE(os.stat(name).st_mode)))
            return name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", TemporaryDirectory)
    monkeypatch.setattr(vebuild, "_march_native_ok", {})
    for run in range(2):
        bld = veo.VeBuild()
        bld.set_build_dir(str(tmp_path / "b"))
        bld.set_c_src("k", SQUARE_C + "/* %d */\n" % run)
        bld.build_so()
    names = [os.path.basename(p) for p, _ in made]
    assert len(made) >= 5 and len(set(names)) == len(names)  # never the same name
    for path, mode in made:
        assert mode in (0o600, 0o700), (path, oct(mode))
    # The module itself never builds a temporary name by hand.
    src = open(vebuild.__file__).read()
    assert "mktemp(" not in src.replace("mkstemp(", "")
    assert "/tmp" not in src
