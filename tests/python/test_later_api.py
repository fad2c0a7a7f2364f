"""py-veo's later API (after 2018), as a script written for it uses it, next
to the 2018 API: VE addresses are ints, names are bytes, errors are
ValueError / MemoryError / RuntimeError, numpy scalars and floats are
arguments, reads go into read-only buffers. Both generations must work."""
import gc
import mmap
import os
import warnings
import weakref

import numpy as np
import pytest

import veo


@pytest.fixture
def mem(proc):
    m = proc.alloc_mem(4096)
    yield m
    proc.free_mem(m)


@pytest.fixture
def veo_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", veo.VeoWarning)
        yield


@pytest.fixture
def no_warnings():
    """Fails the test if anything warns inside it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [str(w.message) for w in caught] == []


# ---- a VE address is an int ----------------------------------------------

def test_an_address_from_alloc_mem_is_an_int(proc, mem):
    assert isinstance(mem, int) and isinstance(mem, veo.VEMemPtr)
    addr = mem.addr
    assert type(addr) is int and mem == addr and int(mem) == addr
    assert mem != 0 and not (mem == 0)
    assert veo.VEMemPtr(proc, 0, 0) == 0 and not veo.VEMemPtr(proc, 0, 0)
    assert mem + 8 == addr + 8 and type(mem + 8) is int
    assert mem - addr == 0 and mem // 8 == addr // 8 and mem & 0xfff == addr & 0xfff
    assert f"{mem:#x}" == hex(addr) and "%x" % mem == "%x" % addr and f"{mem}" == str(addr)
    assert str(mem) == str(addr)  # the number; repr says what it is
    assert repr(mem).startswith("<VEMemPtr 0x%x, 4096 bytes" % addr)
    assert np.uint64(mem) == addr and np.array([mem], dtype=np.uint64)[0] == addr
    assert {mem: "block"}[addr] == "block" and {addr: "block"}[mem] == "block"
    assert hash(mem) == hash(addr)
    assert (mem.proc, mem.size) == (proc, 4096)


def test_the_2018_constructor_and_attributes_still_work(proc, mem):
    p = veo.VEMemPtr(proc, mem.addr + 16, 32)
    assert (p, p.addr, p.size, p.proc) == (mem + 16, mem.addr + 16, 32, proc)
    assert veo.VEMemPtr(proc, np.uint64(5)) == 5 and veo.VEMemPtr(proc, 5).size == 0
    with pytest.raises(AttributeError):
        p.size = 1
    with pytest.raises(TypeError):
        veo.VEMemPtr(None, 1, 0)
    with pytest.raises(OverflowError):
        veo.VEMemPtr(proc, 1 << 64, 0)


def test_symbols_and_pointer_results_are_ints_too(ctx, lib, kernel, proc):
    counter = lib.get_symbol(b"counter")
    assert isinstance(counter, int) and counter == lib.get_symbol("counter")
    out = bytearray(4)
    proc.read_mem(out, counter, 4)  # a library variable, read through the worker
    assert int.from_bytes(out, "little") == 42
    make = kernel("make_sequence", ["size_t"], "void *")
    p = make(ctx, 4).wait_result()
    assert isinstance(p, int) and isinstance(p, veo.VEMemPtr) and p.proc is proc
    seq = np.zeros(4, dtype=np.int64)
    proc.read_mem(seq, p + 0, seq.nbytes)  # the plain int p + 0 is an address too
    assert seq.tolist() == [0, 1, 4, 9]
    kernel("release", ["void *"], "void")(ctx, p).wait_result()


def test_memory_calls_take_vememptrs_plain_ints_and_numpy_integers(proc, ctx, mem):
    proc.write_mem(mem, b"vememptr")
    proc.write_mem(int(mem) + 8, b"plainint", 8)
    proc.write_mem(np.uint64(mem + 16), b"numpyint", 8)
    ctx.async_write_mem(mem + 24, b"asyncint", 8).wait_result()
    out = bytearray(32)
    proc.read_mem(out, np.int64(mem), 32)
    assert out == b"vememptrplainintnumpyintasyncint"
    part = bytearray(8)
    ctx.async_read_mem(part, np.uint64(mem + 8), 8).wait_result()
    assert part == b"plainint"
    m = proc.alloc_mem(64)
    proc.free_mem(int(m))  # py-veo later frees by the int address
    m = proc.alloc_mem(np.int32(64))
    proc.free_mem(np.uint64(m))


def test_pointer_arguments_take_numpy_integers(ctx, kernel, proc, mem):
    proc.write_mem(mem, np.arange(8, dtype=np.float64))
    avg = kernel("average", ["double *", "int"], "double")
    assert avg(ctx, np.uint64(mem), np.int32(8)).wait_result() == 3.5
    assert avg(ctx, mem + 0, 8).wait_result() == 3.5
    with pytest.raises(TypeError, match="OnStack"):
        avg(ctx, np.arange(8.0), 8)  # an array needs OnStack(...)


# ---- names as str or bytes -------------------------------------------------

def test_functions_are_found_by_bytes_or_str_names(lib):
    f = lib.find_function(b"echo_i32")
    assert lib.find_function("echo_i32") is f and lib.echo_i32 is f
    assert lib.func[b"echo_i32"] is f and lib.func["echo_i32"] is f
    assert b"echo_i32" in lib.func and lib.func.get(b"echo_i32") is f
    assert lib.proc.get_function(b"echo_i32") is f and lib.proc.get_function("echo_i32") is f


def test_a_function_name_equals_its_str_and_its_bytes(lib):
    # py-veo's later API names functions with bytes, the 2018 one with str:
    # VeoFunction.name is a str (veo.VeoName) that equals its bytes too
    name = lib.find_function(b"echo_u8").name
    assert name == "echo_u8" and name == b"echo_u8" and b"echo_u8" == name
    assert name != b"echo_u16" and name != "echo_u16"
    assert isinstance(name, str) and name + "!" == "echo_u8!"
    assert name.decode() == "echo_u8" and type(name.decode()) is str
    assert bytes(name) == b"echo_u8" and hash(name) == hash("echo_u8")


def test_symbols_are_found_by_bytes_or_str_names(lib):
    table = lib.get_symbol(b"table")
    assert lib.get_symbol("table") is table and lib.symbol[b"table"] is table
    assert lib.symbol["table"] is table


def test_libraries_are_loaded_by_bytes_or_str_paths(proc, lib, kernels_so):
    assert proc.load_library(os.fsencode(kernels_so)) is lib
    assert proc.lib[os.fsencode(kernels_so)] is lib and proc.lib[kernels_so] is lib
    assert lib.name == kernels_so and lib.name == os.fsencode(kernels_so)


# ---- exceptions both generations catch ---------------------------------------

def test_a_wrong_argument_count_is_a_value_error_and_a_type_error(ctx, kernel):
    f = kernel("echo_i32", ["int"], "int")
    for exc in (ValueError, TypeError, veo.VeoArgumentError, veo.VeoArgumentTypeError):
        with pytest.raises(exc, match="takes 1 argument \\(2 given\\)"):
            f(ctx, 1, 2)


def test_a_conversion_error_is_a_value_error_and_the_2018_class(ctx, kernel):
    f = kernel("echo_u8", ["unsigned char"], "unsigned char")
    for exc in (ValueError, OverflowError, veo.VeoArgumentOverflowError):
        with pytest.raises(exc, match="out of range"):
            f(ctx, 256)
    for exc in (ValueError, TypeError, veo.VeoArgumentTypeError):
        with pytest.raises(exc, match="must be an integer"):
            f(ctx, "7")
    g = kernel("echo_float", ["float"], "float")
    with pytest.raises(ValueError, match="does not fit in a float"):
        g(ctx, 1e39)
    with pytest.raises(ValueError, match="real number"):
        g(ctx, "1.0")
    assert f(ctx, 255).wait_result() == 255  # the context is unharmed


def test_alloc_mem_failure_is_a_memory_error_and_a_veo_error(proc):
    for exc in (MemoryError, veo.VeoError, RuntimeError, veo.VeoMemoryError):
        with pytest.raises(exc, match="alloc_mem"):
            proc.alloc_mem(1 << 60)
    proc.free_mem(proc.alloc_mem(8))  # and the proc goes on


def test_a_missing_kernel_is_a_runtime_error_and_an_attribute_error(lib):
    for exc in (RuntimeError, AttributeError, veo.VeoError, veo.VeoSymbolError):
        with pytest.raises(exc, match="no_such_kernel"):
            lib.no_such_kernel
        with pytest.raises(exc, match="no_such_kernel"):
            lib.find_function(b"no_such_kernel")
        with pytest.raises(exc, match="no_such_symbol"):
            lib.get_symbol(b"no_such_symbol")
    assert not hasattr(lib, "no_such_kernel")


def test_the_new_classes_are_exported_and_star_imported():
    names = {}
    exec("from veo import *", names)
    for name in ("VeoError", "VeoException", "VeBuildError", "VeoWarning",
                 "VeoArgumentError", "VeoArgumentTypeError",
                 "VeoArgumentOverflowError", "VeoMemoryError", "VeoSymbolError"):
        assert names[name] is getattr(veo, name)
    # the modules py-veo's star import gives, which scripts use
    assert names["os"] is os and names["np"] is np and names["sys"].modules["veo"] is veo
    assert issubclass(veo.VeoWarning, Warning)


# ---- floats for integer arguments ------------------------------------------

def test_a_float_for_an_integer_argument_is_truncated_with_a_warning(ctx, kernel):
    f = kernel("echo_i32", ["int"], "int")
    with pytest.warns(veo.VeoWarning, match="argument 1 .*float 3.75.* truncated"):
        assert f(ctx, 3.75).wait_result() == 3
    with pytest.warns(veo.VeoWarning):
        assert f(ctx, -3.75).wait_result() == -3
    with pytest.warns(veo.VeoWarning, match="float32"):
        assert f(ctx, np.float32(2.5)).wait_result() == 2
    with pytest.warns(veo.VeoWarning):
        assert f(ctx, np.float64(7.0)).wait_result() == 7
    with pytest.raises(ValueError, match="out of range"):
        f(ctx, 1e10)
    with pytest.raises(ValueError, match="no integer"):
        f(ctx, float("nan"))


def test_float_truncation_as_an_error_queues_no_call(ctx, kernel, veo_warnings_are_errors):
    f = kernel("echo_i32", ["int"], "int")
    with pytest.raises(veo.VeoWarning, match="truncated"):
        f(ctx, 1.5)
    assert f(ctx, 4).wait_result() == 4


def test_integers_never_warn(ctx, kernel, no_warnings):
    f = kernel("echo_i64", ["long"], "long")
    for v in (7, np.int8(-7), np.uint32(7), True, veo.VEMemPtr(f.lib.proc, 9)):
        assert f(ctx, v).wait_result() == int(v)
    assert kernel("echo_double", ["double"], "double")(ctx, 2.5).wait_result() == 2.5


# ---- reads into read-only buffers --------------------------------------------

def test_a_read_into_bytes_writes_it_with_a_warning(proc, mem):
    # as py-veo's own examples do: p.read_mem(buff, r, 15) with buff = b'   ...'
    proc.write_mem(mem, b"Hello from VE!\0", 15)
    buff = bytes(bytearray(b" " * 20))  # not a constant of this code
    with pytest.warns(veo.VeoWarning, match="read_mem\\(\\): dst is read-only "
                                            "\\(bytes\\).*unsafe"):
        proc.read_mem(buff, mem, 15)
    assert buff == b"Hello from VE!\0     "


def test_a_read_into_a_frombuffer_array_writes_it_with_a_warning(proc, mem):
    proc.write_mem(mem, np.arange(4, dtype=np.int32))
    backing = bytes(16)
    a = np.frombuffer(backing, dtype=np.int32)
    assert not a.flags.writeable
    with pytest.warns(veo.VeoWarning, match="read-only"):
        proc.read_mem(a, mem, 16)
    assert a.tolist() == [0, 1, 2, 3] and backing[4] == 1


def test_an_async_read_into_bytes_writes_it_with_a_warning(proc, ctx, mem):
    proc.write_mem(mem, b"async!!!")
    buff = bytes(bytearray(8))
    with pytest.warns(veo.VeoWarning, match="async_read_mem"):
        req = ctx.async_read_mem(buff, mem, 8)
    req.wait_result()
    assert buff == b"async!!!"


def test_onstack_out_of_a_read_only_buffer_is_written_back_with_a_warning(ctx, kernel):
    fill = kernel("fill", ["int32_t *", "int", "int"], "void")
    backing = bytes(16)
    with pytest.warns(veo.VeoWarning, match="OnStack"):
        out = veo.OnStack(np.frombuffer(backing, dtype=np.int32), inout=veo.INTENT_OUT)
    fill(ctx, out, 4, 10).wait_result()
    assert np.frombuffer(backing, dtype=np.int32).tolist() == [10, 11, 12, 13]


def test_read_only_destinations_as_errors_are_not_written(proc, ctx, mem,
                                                         veo_warnings_are_errors):
    proc.write_mem(mem, b"x" * 16)
    buff = bytes(16)
    with pytest.raises(veo.VeoWarning, match="read-only"):
        proc.read_mem(buff, mem, 16)
    with pytest.raises(veo.VeoWarning, match="read-only"):
        ctx.async_read_mem(buff, mem, 16)
    with pytest.raises(veo.VeoWarning, match="read-only"):
        veo.OnStack(buff, inout=veo.INTENT_INOUT)
    assert buff == bytes(16)


def test_writable_destinations_never_warn(proc, ctx, mem, kernel, no_warnings):
    proc.write_mem(mem, b"y" * 16)
    for dst in (bytearray(16), np.zeros(16, dtype=np.uint8), memoryview(bytearray(16))):
        proc.read_mem(dst, mem, 16)
        ctx.async_read_mem(dst, mem, 16).wait_result()
        assert bytes(dst) == b"y" * 16
    fill = kernel("fill", ["int32_t *", "int", "int"], "void")
    out = np.zeros(2, dtype=np.int32)
    fill(ctx, veo.OnStack(out, inout=veo.INTENT_OUT), 2, 5).wait_result()
    assert out.tolist() == [5, 6]
    proc.write_mem(mem, b"sources are only read")  # read-only sources are fine


def test_memory_that_cannot_be_written_is_refused_not_crashed_into(proc, mem, tmp_path):
    path = tmp_path / "ro.bin"
    path.write_bytes(bytes(4096))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 4096, access=mmap.ACCESS_READ) as m:
        with pytest.raises(TypeError, match="cannot be written"):
            proc.read_mem(memoryview(m), mem, 16)
        with pytest.raises(TypeError, match="cannot be written"):
            veo.OnStack(memoryview(m), inout=veo.INTENT_OUT)
    with pytest.raises(TypeError, match="one-byte bytes"):
        proc.read_mem(b"a", mem, 1)  # the interpreter's shared b"a"
    gc.collect()


def test_a_proc_whose_vememptrs_are_cached_is_still_collected(kernels_so):
    p = veo.VeoProc(0)
    lib = p.load_library(kernels_so)
    counter = lib.get_symbol("counter")  # lib.symbol -> VEMemPtr -> p -> lib: a cycle
    mem = p.alloc_mem(64)
    pid, gone = p.pid, weakref.ref(p)
    del p, lib, counter, mem
    gc.collect()
    assert gone() is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker was stopped


def test_vememptr_can_still_be_subclassed(proc, mem):
    class Tagged(veo.VEMemPtr):
        pass
    t = Tagged(proc, mem.addr, 64)
    t.tag = "mine"  # a __dict__ after the VEMemPtr's own fields
    assert (t, t.addr, t.size, t.proc, t.tag) == (mem, mem.addr, 64, proc, "mine")
    proc.write_mem(t, b"tagged!!")
    out = bytearray(8)
    proc.read_mem(out, mem, 8)
    assert out == b"tagged!!"
