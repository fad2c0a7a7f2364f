"""Host views: proc.view(ptr, dtype=..., shape=...) is a numpy array over VE
memory, with no copy; kernels and Python see the same bytes."""
import gc
import weakref

import numpy as np
import pytest

import veo


@pytest.fixture
def mem(proc):
    m = proc.alloc_mem(8 * 64)
    yield m
    proc.free_mem(m)


def test_python_writes_through_a_view_and_the_kernel_reads_it(proc, ctx, kernel, mem):
    a = proc.view(mem, dtype=np.float64)
    assert a.shape == (64,) and a.dtype == np.float64 and a.flags.writeable
    a[:] = np.arange(64)
    avg = kernel("average", ["double *", "int"], "double")
    assert avg(ctx, mem, 64).wait_result() == 31.5


def test_the_kernel_writes_and_the_view_sees_it(proc, ctx, kernel, mem):
    a = proc.view(mem, dtype=np.float64, count=8)
    a[:] = 1.5
    kernel("scale", ["double *", "int", "double"], "void")(ctx, mem, 8, 4.0).wait_result()
    assert a.tolist() == [6.0] * 8  # no read_mem: the same memory


def test_a_view_is_no_copy_of_read_mem_and_write_mem(proc, mem):
    a = proc.view(mem, dtype=np.int32, shape=(4, 8))
    proc.write_mem(mem, np.arange(32, dtype=np.int32))
    assert a[1].tolist() == list(range(8, 16))
    a[3, 7] = -1
    out = np.zeros(32, dtype=np.int32)
    proc.read_mem(out, mem)
    assert out[31] == -1


def test_shape_order_count_and_offset(proc, mem):
    proc.write_mem(mem, np.arange(64, dtype=np.float64))
    f = proc.view(mem, dtype=np.float64, shape=(4, 2), order="F")
    assert f.flags.f_contiguous and f[:, 1].tolist() == [4.0, 5.0, 6.0, 7.0]
    tail = proc.view(mem, dtype=np.float64, offset=8 * 60)
    assert tail.tolist() == [60.0, 61.0, 62.0, 63.0]
    assert proc.view(mem + 8, dtype="f8", count=2).tolist() == [1.0, 2.0]
    raw = proc.view(mem)  # bytes by default, the whole block
    assert raw.dtype == np.uint8 and raw.size == mem.size


def test_views_of_plain_int_addresses_need_a_size(proc, mem):
    assert proc.view(int(mem), dtype=np.float64, count=3).size == 3
    with pytest.raises(ValueError, match="shape= or count="):
        proc.view(int(mem), dtype=np.float64)


def test_bad_views_are_refused(proc, other_proc, mem, lib):
    with pytest.raises(ValueError, match="more than the block"):
        proc.view(mem, dtype=np.float64, count=65)
    with pytest.raises(ValueError, match="beyond the end"):
        proc.view(mem, offset=mem.size + 1)
    with pytest.raises(TypeError, match="not both"):
        proc.view(mem, shape=2, count=2)
    with pytest.raises(veo.VeoError, match="not VE memory from alloc_mem"):
        proc.view(lib.get_symbol("table"), dtype=np.float64, count=4)
    other = other_proc.alloc_mem(64)
    with pytest.raises(ValueError, match="another VeoProc"):
        proc.view(other)
    other_proc.free_mem(other)


def test_the_view_keeps_its_proc_alive(kernels_so):
    p = veo.VeoProc(0)
    m = p.alloc_mem(64)
    a = p.view(m, dtype=np.int64)
    assert isinstance(a.base, veo.VeoHostView) and a.base.proc is p and a.base.shared
    alive = weakref.ref(p)
    del p, m
    gc.collect()
    assert alive() is not None and not alive().closed  # held by the view
    a[:] = 3
    out = np.zeros(8, dtype=np.int64)
    alive().read_mem(out, a.base.addr)
    assert out.tolist() == [3] * 8
    del a
    gc.collect()
    assert alive() is None  # the last view gone, the proc goes


def test_after_close_a_view_keeps_the_last_contents_and_new_views_fail(kernels_so):
    p = veo.VeoProc(0)
    m = p.alloc_mem(64)
    a = p.view(m, dtype=np.int64)
    a[:] = np.arange(8)
    p.close()
    assert a.tolist() == list(range(8))  # no crash: the view has its own mapping
    a[0] = 99  # writes go to the view's memory, no worker shares it any more
    assert a[0] == 99 and not a.base.shared and "closed" in repr(a.base)
    with pytest.raises(veo.VeoError, match="closed"):
        p.view(m)


def test_after_free_mem_a_view_reads_zeros_and_aliases_nothing(proc):
    m = proc.alloc_mem(4096)
    a = proc.view(m, dtype=np.uint8)
    a[:] = 7
    proc.free_mem(m)
    assert a.base.freed and not a.base.shared and not a.any()
    n = proc.alloc_mem(4096)  # possibly the same memory again
    proc.write_mem(n, bytes([1]) * 4096)
    a[:] = 9  # into the view's own zero pages, not into n
    out = bytearray(4096)
    proc.read_mem(out, n)
    assert out == bytes([1]) * 4096
    proc.free_mem(n)


def test_views_of_other_blocks_survive_a_free(proc):
    keep, drop = proc.alloc_mem(64), proc.alloc_mem(64)
    k = proc.view(keep, dtype=np.int64)
    d = proc.view(drop, dtype=np.int64)
    k[:] = 5
    d[:] = 6
    proc.free_mem(drop)
    assert k.base.shared and k.tolist() == [5] * 8 and d.base.freed
    out = np.zeros(8, dtype=np.int64)
    proc.read_mem(out, keep)
    assert out.tolist() == [5] * 8
    proc.free_mem(keep)


def test_slices_of_a_view_are_views_too(proc, ctx, kernel, mem):
    a = proc.view(mem, dtype=np.float64)
    part = a[8:16]
    del a
    gc.collect()
    part[:] = 2.0
    kernel("scale", ["double *", "int", "double"], "void")(ctx, mem + 64, 8, 3.0).wait_result()
    assert part.tolist() == [6.0] * 8


def test_views_give_their_mappings_back(proc, mem):
    def mappings():
        with open("/proc/self/maps") as f:
            return len(f.readlines())
    before = mappings()
    views = [proc.view(mem, dtype=np.float64) for _ in range(50)]
    assert mappings() >= before + 50  # one mapping of its own each
    del views
    gc.collect()
    assert mappings() <= before + 2
