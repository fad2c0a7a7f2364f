"""VE memory: VEMemPtr, read_mem / write_mem and their async forms, symbols."""
import array
import ctypes
import warnings

import numpy as np
import pytest

import veo


@pytest.fixture
def mem(proc):
    m = proc.alloc_mem(4096)
    yield m
    proc.free_mem(m)


def test_vememptr_is_usable_as_an_int(proc, mem):
    assert int(mem) == mem.addr
    assert hex(mem) == hex(mem.addr)
    assert [10, 20, 30][veo.VEMemPtr(proc, 1, 0)] == 20  # __index__
    import operator
    assert operator.index(mem) == mem.addr
    assert bool(mem) and not bool(veo.VEMemPtr(proc, 0, 0))
    same = veo.VEMemPtr(proc, mem.addr, 0)
    assert same == mem and hash(same) == hash(mem)
    assert veo.VEMemPtr(proc, mem.addr + 8, 0) != mem
    assert "VEMemPtr 0x%x" % mem.addr in repr(mem) and "4096 bytes" in repr(mem)
    with pytest.raises(AttributeError):
        mem.addr = 5
    with pytest.raises(TypeError):
        veo.VEMemPtr("not a proc", 0, 0)
    with pytest.raises(OverflowError):
        veo.VEMemPtr(proc, -1, 0)


@pytest.mark.parametrize("make", [
    lambda: np.arange(512, dtype=np.float64),
    lambda: np.arange(1024, dtype=np.int32).reshape(32, 32),
    lambda: np.asfortranarray(np.arange(1024, dtype=np.float32).reshape(32, 32)),
    lambda: np.arange(4096, dtype=np.uint8),
    lambda: bytearray(range(256)) * 16,
    lambda: array.array("d", range(512)),
    lambda: (ctypes.c_int64 * 512)(*range(512)),
], ids=["f8", "i4-2d", "f4-fortran", "u8", "bytearray", "array", "ctypes"])
def test_write_then_read_roundtrips_any_contiguous_buffer(proc, mem, make):
    src = make()
    dst = make()
    if isinstance(dst, np.ndarray):
        dst[...] = 0
    else:
        memoryview(dst).cast("B")[:] = b"\0" * memoryview(dst).nbytes
    n = memoryview(src).nbytes
    proc.write_mem(mem, src, n)
    proc.read_mem(dst, mem, n)
    assert bytes(memoryview(dst)) == bytes(memoryview(src))


def test_bytes_and_memoryview_sources(proc, mem):
    proc.write_mem(mem, b"hello, VE", 9)
    proc.write_mem(veo.VEMemPtr(proc, mem.addr + 9, 0), memoryview(b"!!"), 2)
    out = bytearray(11)
    proc.read_mem(memoryview(out), mem, 11)
    assert out == b"hello, VE!!"


def test_size_defaults_to_the_host_buffer(proc, mem):
    proc.write_mem(mem, np.full(16, 7, dtype=np.int64))
    out = np.zeros(16, dtype=np.int64)
    proc.read_mem(out, mem)
    assert (out == 7).all()


def test_int_addresses_work_like_vememptr(proc, mem):
    proc.write_mem(mem.addr, b"abcd", 4)
    out = bytearray(4)
    proc.read_mem(out, mem.addr, 4)
    assert out == b"abcd"


def test_large_copies_roundtrip(proc):
    a = np.random.rand(4 << 20 >> 3)  # 4 MiB, copied with the GIL released
    m = proc.alloc_mem(a.nbytes)
    proc.write_mem(m, a, a.nbytes)
    b = np.empty_like(a)
    proc.read_mem(b, m, b.nbytes)
    proc.free_mem(m)
    assert np.array_equal(a, b)


def test_read_only_destination_is_not_written_when_veo_warnings_are_errors(proc, mem):
    # py-veo writes into read-only buffers; openveo too, with a VeoWarning
    # (test_later_api.py), which as an error forbids it
    proc.write_mem(mem, b"x" * 16, 16)
    ro = b"\0" * 16
    arr = np.zeros(2)
    arr.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error", veo.VeoWarning)
        with pytest.raises(veo.VeoWarning, match="read-only"):
            proc.read_mem(ro, mem, 16)
        with pytest.raises(veo.VeoWarning, match="read-only"):
            proc.read_mem(arr, mem, 16)
    assert ro == b"\0" * 16
    assert (arr == 0).all()


def test_transfer_argument_errors(proc, other_proc, mem):
    with pytest.raises(TypeError, match="buffer protocol"):
        proc.write_mem(mem, [1, 2, 3], 3)
    with pytest.raises(ValueError, match="larger than the host buffer"):
        proc.write_mem(mem, b"abc", 4)
    with pytest.raises(ValueError, match="larger than the VE buffer"):
        proc.write_mem(mem, bytes(8192), 8192)
    with pytest.raises(ValueError, match="negative"):
        proc.read_mem(bytearray(4), mem, -1)
    with pytest.raises(BufferError, match="contiguous"):
        proc.write_mem(mem, np.arange(10.0)[::2], 8)
    other = other_proc.alloc_mem(8)
    with pytest.raises(ValueError, match="another VeoProc"):
        proc.read_mem(bytearray(8), other, 8)
    other_proc.free_mem(other)
    with pytest.raises(RuntimeError, match="read_mem"):
        proc.read_mem(bytearray(8), 0x10, 8)  # not an address of the worker


def test_async_write_and_read(proc, ctx, mem):
    a = np.arange(256, dtype=np.float64)
    w = ctx.async_write_mem(mem, a, a.nbytes)
    assert isinstance(w, veo.VeoMemRequest) and w.ctx is ctx
    assert isinstance(w.req, int)
    assert w.wait_result() == 0
    assert "VeoMemRequest" in repr(w) and "done" in repr(w)
    b = np.zeros_like(a)
    r = ctx.async_read_mem(b, mem, b.nbytes)
    assert r.wait_result() == 0
    assert np.array_equal(a, b)
    assert r.wait_result() == 0  # the result is kept


def test_async_read_keeps_its_target_alive_until_collected(proc, ctx, mem):
    import weakref
    target = np.zeros(64)
    alive = weakref.ref(target)
    r = ctx.async_read_mem(target, mem, target.nbytes)
    del target
    assert alive() is not None
    r.wait_result()
    assert alive() is None


def test_async_errors(proc, ctx, mem, other_proc):
    with pytest.warns(veo.VeoWarning, match="read-only"):
        ctx.async_read_mem(b"\0" * 8, mem, 8).wait_result()
    other = other_proc.alloc_mem(8)
    with pytest.raises(ValueError, match="another VeoProc"):
        ctx.async_write_mem(other, b"12345678", 8)
    other_proc.free_mem(other)
    r = ctx.async_read_mem(bytearray(8), 0x10, 8)
    with pytest.raises(RuntimeError):
        r.wait_result()


def test_symbols_are_vememptrs_into_library_variables(proc, lib, ctx, kernel):
    counter = lib.get_symbol("counter")
    assert isinstance(counter, veo.VEMemPtr) and counter.proc is proc
    assert lib.symbol["counter"] is counter
    assert lib.get_symbol("counter") is counter
    value = np.zeros(1, dtype=np.int32)
    proc.read_mem(value, counter, 4)
    assert value[0] == 42
    proc.write_mem(counter, np.array([1234], dtype=np.int32), 4)
    get_counter = kernel("get_counter", [], "int")
    assert get_counter(ctx).wait_result() == 1234
    proc.write_mem(counter, np.array([42], dtype=np.int32), 4)
    table = np.zeros(4)
    proc.read_mem(table, lib.get_symbol("table"), table.nbytes)
    assert table.tolist() == [1.5, 2.5, 3.5, 4.5]
    assert lib.counter is counter  # cached symbols are attributes too
    with pytest.raises(RuntimeError, match="no_such_symbol"):
        lib.get_symbol("no_such_symbol")


def test_memory_a_kernel_allocated_is_readable(proc, ctx, kernel):
    make = kernel("make_sequence", ["size_t"], "int64_t *")
    ptr = make(ctx, 10).wait_result()
    assert isinstance(ptr, veo.VEMemPtr) and ptr.proc is proc and ptr.size == 0
    out = np.zeros(10, dtype=np.int64)
    proc.read_mem(out, ptr, out.nbytes)
    assert out.tolist() == [i * i for i in range(10)]
    release = kernel("release", ["void *"], "void")
    assert release(ctx, ptr).wait_result() is None
