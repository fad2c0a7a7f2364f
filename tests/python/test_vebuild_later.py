"""VeBuild as py-veo's later scripts call it: set_c_src(label, content=...),
$VAR in flags taken from the environment, build_veorun(label, flags, libs,
verbose) in that order, and the "compile X -> ok" lines of verbose=True."""
import os

import pytest

import veo
from veo.vebuild import VeBuildError, _expand_env

VALUE_C = "long value(void) { return VALUE; }\n"


def call_value(proc, ctx, so):
    lib = proc.load_library(os.path.abspath(so))
    f = lib.find_function("value")
    f.args_type()
    f.ret_type("long")
    try:
        return f(ctx).wait_result()
    finally:
        proc.unload_library(lib)


def test_set_src_content_keyword_for_each_language(tmp_path, proc, ctx):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("kc", content="long from_c(void) { return 3; }\n")
    bld.set_cpp_src("kcpp", content='extern "C" long from_cpp() { return 4; }\n')
    bld.set_ftn_src("kf", content="integer function from_f()\n  from_f = 5\nend function\n")
    lib = proc.load_library(os.path.abspath(bld.build_so("three")))
    for name, expect in (("from_c", 3), ("from_cpp", 4), ("from_f_", 5)):
        f = lib.find_function(name)
        f.args_type()
        f.ret_type("int")
        assert f(ctx).wait_result() == expect
    proc.unload_library(lib)


def test_the_source_is_given_once():
    bld = veo.VeBuild()
    bld.set_c_src("a", src="int a;\n")  # openveo's earlier keyword still works
    with pytest.raises(TypeError, match="not both"):
        bld.set_c_src("b", "int b;\n", src="int b;\n")
    with pytest.raises(TypeError, match="content"):
        bld.set_cpp_src("c")


def test_dollar_variables_in_flags_come_from_the_environment(tmp_path, proc, ctx,
                                                             monkeypatch):
    monkeypatch.setenv("VEB_DEFS", "-DVALUE=7 -DUNUSED=1")
    monkeypatch.delenv("VEB_UNSET", raising=False)
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    # $VEB_DEFS splits into two flags, ${VEB_UNSET} vanishes, as in a shell
    bld.set_c_src("v", content=VALUE_C, flags="-O2 -fpic $VEB_DEFS ${VEB_UNSET}")
    assert call_value(proc, ctx, bld.build_so()) == 7
    # libs and link flags are expanded too
    monkeypatch.setenv("VEB_LIB", "-lm")
    so = bld.build_so("v2", flags="-pthread ${VEB_UNSET}", libs=["$VEB_LIB"])
    assert call_value(proc, ctx, so) == 7


def test_expansion_is_no_shell():
    os.environ["VEB_X"] = "a b"
    try:
        assert _expand_env("-D$VEB_X-${VEB_X}") == "-Da b-a b"
        assert _expand_env("'$VEB_X' $VEB_X") == "'$VEB_X' a b"  # quoted: left alone
        assert _expand_env("$(echo hi) `id` $1 $$") == "$(echo hi) `id` $1 $$"
    finally:
        del os.environ["VEB_X"]


def test_verbose_prints_compile_ok_lines(tmp_path, capsys):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("one", content="long one(void) { return 1; }\n")
    bld.set_c_src("two", content="long two(void) { return 2; }\n")
    bld.build_so(verbose=True)
    out = capsys.readouterr().out
    assert "compile one -> ok" in out and "compile two -> ok" in out
    bld.build_so()  # quiet without verbose
    assert "->" not in capsys.readouterr().out


def test_a_failed_compile_says_failed_and_raises(tmp_path, capsys):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("broken", content="this is not C\n")
    with pytest.raises(VeBuildError) as e:
        bld.build_so(verbose=True)
    assert "compile broken -> failed" in capsys.readouterr().out
    assert e.value.returncode != 0 and e.value.output  # the compiler's message


def test_build_veorun_positional_order_label_flags_libs_verbose(tmp_path, capsys):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path))
    bld.set_c_src("sv", content="long sq(long x) { return x * x; }\n")
    path = bld.build_veorun("svrun", None, ["-lm"], True)
    assert path == os.path.join(str(tmp_path), "svrun.veorun")
    assert "compile sv -> ok" in capsys.readouterr().out
    with veo.VeoProc(0, veorun_bin=path) as p:
        f = p.static_library().find_function("sq")
        f.args_type("long")
        f.ret_type("long")
        assert f(p.open_context(), 9).wait_result() == 81
