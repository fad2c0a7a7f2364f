"""VeoFunction calls: argument and result conversions, OnStack, requests."""
import math
import os
import struct
import weakref

import numpy as np
import pytest

import veo

INT_TYPES = [
    # (C type names, kernel, min, max)
    (["char", "signed char", "int8_t"], "echo_i8", -2 ** 7, 2 ** 7 - 1),
    (["unsigned char", "uint8_t"], "echo_u8", 0, 2 ** 8 - 1),
    (["short", "short int", "int16_t"], "echo_i16", -2 ** 15, 2 ** 15 - 1),
    (["unsigned short", "uint16_t"], "echo_u16", 0, 2 ** 16 - 1),
    (["int", "signed", "int32_t"], "echo_i32", -2 ** 31, 2 ** 31 - 1),
    (["unsigned int", "unsigned", "uint32_t"], "echo_u32", 0, 2 ** 32 - 1),
    (["long", "long long", "int64_t", "ssize_t"], "echo_i64", -2 ** 63, 2 ** 63 - 1),
    (["unsigned long", "unsigned long long", "uint64_t", "size_t"], "echo_u64",
     0, 2 ** 64 - 1),
]


@pytest.mark.parametrize("names, kname, lo, hi", INT_TYPES,
                         ids=[t[0][0] for t in INT_TYPES])
def test_integers_roundtrip_at_the_limits_of_their_type(ctx, kernel, names, kname, lo, hi):
    for name in names:
        f = kernel(kname, [name], name)
        for v in (lo, hi, 0, 1, lo + 1, hi - 1, (lo + hi) // 2):
            assert f(ctx, v).wait_result() == v, (name, v)


@pytest.mark.parametrize("names, kname, lo, hi", INT_TYPES,
                         ids=[t[0][0] for t in INT_TYPES])
def test_integers_out_of_range_raise_overflow_error(ctx, kernel, names, kname, lo, hi):
    f = kernel(kname, [names[0]], names[0])
    for v in (lo - 1, hi + 1):
        with pytest.raises(OverflowError, match="argument 1 .*out of range"):
            f(ctx, v)


def test_numpy_integers_and_bools_are_integers(ctx, kernel):
    f = kernel("echo_i64", ["long"], "long")
    assert f(ctx, np.int16(-7)).wait_result() == -7
    assert f(ctx, np.uint32(7)).wait_result() == 7
    assert f(ctx, True).wait_result() == 1
    g = kernel("echo_i8", ["char"], "char")
    assert g(ctx, b"A").wait_result() == 65  # a one-byte bytes is a char


def test_non_integers_for_integer_arguments_raise_type_error(ctx, kernel):
    f = kernel("echo_i32", ["int"], "int")
    # (a float is truncated with a VeoWarning, as py-veo does: test_later_api.py)
    for bad in ("3", None, [1]):
        with pytest.raises(TypeError, match="echo_i32\\(\\): argument 1 .*integer"):
            f(ctx, bad)


def test_float_and_double_reach_the_kernel_and_come_back_as_floats(ctx, kernel):
    d = kernel("echo_double", ["double"], "double")
    for v in (0.0, -1.5, math.pi, 1e300, -1e-300, math.inf):
        r = d(ctx, v).wait_result()
        assert isinstance(r, float) and r == v
    assert math.isnan(d(ctx, math.nan).wait_result())
    assert d(ctx, 3).wait_result() == 3.0  # ints are accepted as doubles
    f = kernel("echo_float", ["float"], "float")
    r = f(ctx, 1.1).wait_result()
    assert isinstance(r, float)
    assert r == struct.unpack("f", struct.pack("f", 1.1))[0]
    assert f(ctx, -2.5).wait_result() == -2.5
    with pytest.raises(OverflowError, match="float"):
        f(ctx, 1e39)
    with pytest.raises(TypeError, match="real number"):
        f(ctx, "1.0")


def test_mixed_argument_types(ctx, kernel):
    mix = kernel("mix", ["int", "double", "float", "long", "unsigned char", "short"],
                 "double")
    r = mix(ctx, 3, 0.25, 0.5, 7, 9, -4).wait_result()
    assert r == 3 * 100000.0 + 0.25 + 0.5 + 7 * 1000.0 + 90 - 4


def test_twenty_arguments(ctx, kernel):
    many = kernel("many", ["double"] * 10 + ["long"] * 10, "double")
    a = [0.5 * i for i in range(10)]
    b = [i - 5 for i in range(10)]
    expect = sum((i + 1) * x for i, x in enumerate(a + b))
    assert many(ctx, *a, *b).wait_result() == expect


def test_void_function_returns_none(ctx, kernel):
    f = kernel("nothing", [], "void")
    assert f(ctx).wait_result() is None
    g = kernel("nothing", ["void"], "void")  # args_type("void"): no arguments
    assert g._args_type == ("void",)
    assert g(ctx).wait_result() is None


def test_argument_count_is_checked(ctx, kernel):
    f = kernel("echo_i32", ["int"], "int")
    with pytest.raises(TypeError, match="takes 1 argument \\(2 given\\)"):
        f(ctx, 1, 2)
    with pytest.raises(TypeError, match="takes 1 argument \\(0 given\\)"):
        f(ctx)
    with pytest.raises(TypeError, match="VeoCtxt"):
        f(1)


def test_unknown_type_names_raise_value_error(lib):
    f = lib.find_function("echo_i32")
    with pytest.raises(ValueError, match="'dobule' for argument 2"):
        f.args_type("int", "dobule")
    with pytest.raises(ValueError, match="'long double'"):
        f.ret_type("long double")
    with pytest.raises(ValueError, match="void"):
        f.args_type("int", "void")
    with pytest.raises(TypeError):
        f.args_type(3)
    f.args_type("int")  # the declaration is unchanged by the failures
    assert f._args_type == ("int",)


def test_pointer_type_spellings(lib):
    f = lib.find_function("average")
    for spelling in ["double *", "double*", "const double *", "void *", "char **",
                     "struct point *", "unsigned long*"]:
        f.args_type(spelling, "int")
        assert f._args_type == (spelling, "int")
    f.args_type(["double *", "int"])  # a list works too
    assert f._args_type == ("double *", "int")
    with pytest.raises(ValueError):
        f.args_type("* double", "int")


def test_undeclared_functions(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path / "b"))
    bld.set_c_src("undeclared", "long echo_i64(long x) { return x; }\n")
    so = os.path.abspath(bld.build_so(prototypes=False))  # as a library py-veo knows
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        f = p.load_library(so).find_function("echo_i64")
        assert f._args_type is None and f._ret_type == "int"  # py-veo's default
        with pytest.raises(RuntimeError, match="args_type"):
            f(ctx, 1)
        f.args_type("long")
        assert f(ctx, -3).wait_result() == -3
        assert f(ctx, 2 ** 40 + 5).wait_result() == 5  # read as an int


def test_function_attributes_and_caching(lib, proc):
    f = lib.find_function("average")
    assert lib.find_function("average") is f
    assert lib.average is f and lib.func["average"] is f
    assert f.lib is lib and f.name == "average" and f.addr > 0
    f.args_type("double *", "int")
    f.ret_type("double")
    assert repr(f).startswith("<VeoFunction average(double *, int) -> double")
    with pytest.raises(RuntimeError, match="no_such_function"):
        lib.find_function("no_such_function")
    with pytest.raises(AttributeError, match="no_such_function"):
        lib.no_such_function
    assert not hasattr(lib, "__array_interface__")


def test_pointers_take_vememptr_int_none_or_onstack(proc, ctx, kernel):
    avg = kernel("average", ["double *", "int"], "double")
    a = np.arange(10, dtype=np.float64)
    m = proc.alloc_mem(a.nbytes)
    proc.write_mem(m, a, a.nbytes)
    assert avg(ctx, m, 10).wait_result() == 4.5
    assert avg(ctx, m.addr, 10).wait_result() == 4.5
    assert avg(ctx, veo.OnStack(a), 10).wait_result() == 4.5
    assert math.isnan(avg(ctx, None, 0).wait_result())  # NULL, no element read
    proc.free_mem(m)
    with pytest.raises(TypeError, match="argument 1 .*OnStack"):
        avg(ctx, a, 10)
    with pytest.raises(OverflowError):
        avg(ctx, -1, 10)


def test_vememptr_of_another_proc_is_refused(ctx, kernel, other_proc):
    avg = kernel("average", ["double *", "int"], "double")
    m = other_proc.alloc_mem(8)
    with pytest.raises(ValueError, match="argument 1 .*another VeoProc"):
        avg(ctx, m, 1)
    other_proc.free_mem(m)


def test_context_of_another_proc_is_refused(kernel, other_proc):
    avg = kernel("average", ["double *", "int"], "double")
    with pytest.raises(ValueError, match="another VeoProc"):
        avg(other_proc.open_context(), None, 0)


def test_onstack_in_inout_out_with_numpy(ctx, kernel):
    scale = kernel("scale", ["double *", "int", "double"], "void")
    a = np.arange(100, dtype=np.float64)
    req = scale(ctx, veo.OnStack(a, inout=veo.VEO_INTENT_INOUT), a.size, 3.0)
    assert req.wait_result() is None
    assert np.array_equal(a, np.arange(100) * 3.0)
    b = np.arange(100, dtype=np.float64)
    scale(ctx, veo.OnStack(b), b.size, 3.0).wait_result()  # IN: b is untouched
    assert np.array_equal(b, np.arange(100, dtype=np.float64))
    fill = kernel("fill", ["int *", "int", "int"], "void")
    out = np.full(50, -1, dtype=np.int32)
    fill(ctx, veo.OnStack(out, inout=veo.INTENT_OUT), 50, 1000).wait_result()
    assert out.tolist() == list(range(1000, 1050))


def test_onstack_with_a_fortran_ordered_array(ctx, kernel):
    scale = kernel("scale", ["double *", "int", "double"], "void")
    a = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    expect = a * 2
    scale(ctx, veo.OnStack(a, inout=veo.VEO_INTENT_INOUT), a.size, 2.0).wait_result()
    assert np.array_equal(a, expect) and a.flags.f_contiguous


def test_onstack_with_bytes_bytearray_memoryview(ctx, kernel):
    sb = kernel("sum_bytes", ["const unsigned char *", "long"], "long")
    data = bytes(range(200))
    assert sb(ctx, veo.OnStack(data), 200).wait_result() == sum(range(200))
    assert sb(ctx, veo.OnStack(bytearray(data)), 200).wait_result() == sum(range(200))
    assert sb(ctx, veo.OnStack(memoryview(data)[10:20]), 10).wait_result() == \
        sum(range(10, 20))
    assert sb(ctx, veo.OnStack(data, size=5), 5).wait_result() == 0 + 1 + 2 + 3 + 4


def test_onstack_with_a_cffi_struct(ctx, kernel):
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef("struct point { int32_t x; double y; char tag[8]; };")
    p = ffi.new("struct point *", {"x": 20, "y": 1.25, "tag": b"orig"})
    psum = kernel("point_sum", ["const struct point *"], "double")
    assert psum(ctx, veo.OnStack(ffi.buffer(p))).wait_result() == 21.25
    pdouble = kernel("point_double", ["struct point *"], "void")
    pdouble(ctx, veo.OnStack(ffi.buffer(p), inout=veo.VEO_INTENT_INOUT)).wait_result()
    assert (p.x, p.y, ffi.string(p.tag)) == (40, 2.5, b"doubled")


def test_onstack_errors():
    # a read-only buffer copied back into warns (test_later_api.py)
    with pytest.warns(veo.VeoWarning, match="read-only"):
        veo.OnStack(b"abc", inout=veo.VEO_INTENT_OUT)
    with pytest.warns(veo.VeoWarning, match="read-only"):
        veo.OnStack(b"abc", inout=veo.VEO_INTENT_INOUT)
    with pytest.raises(ValueError, match="larger than the host buffer"):
        veo.OnStack(b"abc", size=4)
    with pytest.raises(ValueError, match="inout"):
        veo.OnStack(b"abc", inout=7)
    with pytest.raises(TypeError, match="buffer protocol"):
        veo.OnStack([1, 2, 3])
    with pytest.raises(BufferError, match="contiguous"):
        veo.OnStack(np.arange(10.0)[::2])
    s = veo.OnStack(bytearray(4))
    with pytest.raises(TypeError, match="re-initialised"):
        s.__init__(bytearray(8))


def test_onstack_attributes():
    a = np.zeros(4)
    s = veo.OnStack(a, inout=veo.VEO_INTENT_OUT)
    assert s.size() == 32 and s.scope() == veo.VEO_INTENT_OUT == s.inout
    assert s.buff() is a and s.c_pointer() == a.ctypes.data
    assert repr(s) == "<OnStack 32 bytes of numpy.ndarray, intent OUT>"


def test_onstack_is_passed_by_reference_whatever_the_declared_type(ctx, kernel):
    # py-veo passes an OnStack as a pointer even where "long" is declared;
    # the kernel gets the VE address of the copy, which is never 0.
    f = kernel("echo_u64", ["long"], "unsigned long")
    assert f(ctx, veo.OnStack(b"12345678")).wait_result() != 0
    sb = kernel("sum_bytes", ["long", "long"], "long")
    assert sb(ctx, veo.OnStack(b"\x01\x02\x03"), 3).wait_result() == 6


def test_requests_keep_onstack_buffers_until_collected(ctx, kernel):
    fill = kernel("fill", ["int *", "int", "int"], "void")
    out = np.zeros(16, dtype=np.int32)
    alive = weakref.ref(out)
    req = fill(ctx, veo.OnStack(out, inout=veo.VEO_INTENT_OUT), 16, 5)
    del out
    assert alive() is not None
    req.wait_result()
    assert alive() is None


def test_dropped_requests_release_their_buffers_after_the_call(ctx, kernel):
    fill = kernel("fill", ["int *", "int", "int"], "void")
    sleep = kernel("sleep_ms", ["int"], "int")
    sleep(ctx, 100)  # dropped at once: the fill below waits behind it
    out = np.zeros(16, dtype=np.int32)
    alive = weakref.ref(out)
    fill(ctx, veo.OnStack(out, inout=veo.VEO_INTENT_OUT), 16, 5)
    del out
    assert alive() is not None  # the kernel may still write into it
    ctx.context_sync()
    assert alive() is None


def test_peek_wait_and_timeout(ctx, kernel):
    sleep = kernel("sleep_ms", ["int"], "int")
    req = sleep(ctx, 300)
    assert isinstance(req, veo.VeoRequest) and req.ctx is ctx and not req.done
    assert "sleep_ms()" in repr(req) and "pending" in repr(req)
    with pytest.raises(NameError, match="unfinished"):
        req.peek_result()
    with pytest.raises(TimeoutError):
        req.wait_result(timeout=0.05)
    with pytest.raises(ValueError):
        req.wait_result(timeout=-1)
    assert req.wait_result(timeout=10) == 300
    assert req.done and req.peek_result() == 300 and req.wait_result() == 300
    req2 = sleep(ctx, 1)
    ctx.context_sync()
    assert req2.peek_result() == 1


def test_wait_result_takes_its_timeout_by_position_or_by_name(ctx, kernel):
    echo = kernel("echo_i32", ["int"], "int")
    assert echo(ctx, 1).wait_result(10) == 1
    assert echo(ctx, 2).wait_result(timeout=10) == 2
    assert echo(ctx, 3).wait_result(None) == 3
    req = echo(ctx, 4)
    with pytest.raises(TypeError, match="wait_result"):
        req.wait_result(1, 2)
    with pytest.raises(TypeError, match="wait_result"):
        req.wait_result(seconds=1)
    with pytest.raises(TypeError, match="wait_result"):
        req.wait_result(1, timeout=1)
    assert req.wait_result() == 4


def test_a_new_prototype_applies_from_the_next_call(ctx, kernel):
    # A function keeps its argument list from one call to the next; a new
    # prototype must not see the old one's result type or arguments.
    f = kernel("echo_double", ["double"], "void")
    assert f(ctx, 1.0).wait_result() is None
    f.ret_type("double")
    assert f(ctx, 4.25).wait_result() == 4.25
    f.ret_type("float")  # the double's bits read as a float's: not 4.25
    assert f(ctx, 4.25).wait_result() != 4.25
    f.ret_type("double")
    assert f(ctx, 2.5).wait_result() == 2.5
    g = kernel("mix", ["int", "double", "float", "long", "unsigned char", "short"],
               "double")
    assert g(ctx, 1, 0.5, 0.25, 2, 3, 4).wait_result() == 100000 + 0.75 + 2000 + 30 + 4
    g.args_type("int", "double", "float", "long", "unsigned char", "short")
    assert g(ctx, 0, 0.0, 0.0, 0, 0, 1).wait_result() == 1


def test_a_prototype_declared_again_while_converting_refuses_the_call(ctx, kernel):
    f = kernel("echo_i32", ["int"], "int")

    class Redeclares:
        def __index__(self):
            f.args_type("int", "int", "int")  # frees the plan being followed
            return 3

    with pytest.raises(veo.VeoError, match="declared again"):
        f(ctx, Redeclares())
    f.args_type("int")
    assert f(ctx, 3).wait_result() == 3


def test_each_request_keeps_its_own_result(ctx, kernel):
    # Request objects are recycled once dropped; those still held keep
    # their own outcome.
    echo = kernel("echo_i32", ["int"], "int")
    held = [echo(ctx, i) for i in range(5)]
    for i in range(100):
        assert echo(ctx, 1000 + i).wait_result() == 1000 + i
    assert [r.wait_result() for r in held] == list(range(5))
    done = [r for r in held if r.done]
    assert len(done) == 5 and len({id(r) for r in done}) == 5


def test_requests_run_in_submission_order(ctx, kernel):
    sleep = kernel("sleep_ms", ["int"], "int")
    fill = kernel("fill", ["int *", "int", "int"], "void")
    out = np.zeros(4, dtype=np.int32)
    s = sleep(ctx, 50)
    f = fill(ctx, veo.OnStack(out, inout=veo.VEO_INTENT_OUT), 4, 1)
    f.wait_result()
    assert s.peek_result() == 50  # finished before the later request
    assert out.tolist() == [1, 2, 3, 4]
    assert f.req > s.req


def test_a_crash_raises_an_arithmetic_error_naming_signal_and_kernel(kernels_so):
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(kernels_so)
        lib.crash_segv.args_type()
        lib.nothing.args_type()
        req = lib.crash_segv(ctx)
        with pytest.raises(ArithmeticError) as info:
            req.wait_result()
        assert isinstance(info.value, veo.VeoException)
        assert "SIGSEGV" in str(info.value) and "crash_segv" in str(info.value)
        with pytest.raises(veo.VeoException):
            req.wait_result()  # the outcome is kept
        assert ctx.state == veo.VEO_STATE_EXIT
        with pytest.raises(RuntimeError, match="SIGSEGV"):
            lib.nothing(ctx).wait_result()  # the worker is gone
