"""Fortran kernels: arguments by reference, arrays on the stack and in VE memory.

gfortran appends "_" to names and passes every argument by reference
unless it is declared `value`: scalars go on the stack as one-element
arrays, arrays as OnStack or as VE memory.
"""
import numpy as np
import pytest

import veo


@pytest.fixture(scope="module")
def flib(proc, fortran_so):
    return proc.load_library(fortran_so)


def by_ref(value, dtype=np.int32):
    """A Fortran scalar argument: a pointer to a copy of value."""
    return veo.OnStack(np.array([value], dtype=dtype))


def test_array_in_on_the_stack(ctx, flib):
    isum = flib.isum_
    isum.args_type("int *", "int *")
    isum.ret_type("double")
    a = np.arange(1, 101, dtype=np.int32)
    assert isum(ctx, veo.OnStack(a), by_ref(a.size)).wait_result() == 5050.0


def test_array_out_on_the_stack(ctx, flib):
    squares = flib.squares_
    squares.args_type("double *", "int *")
    squares.ret_type("void")
    out = np.zeros(20)
    squares(ctx, veo.OnStack(out, inout=veo.VEO_INTENT_OUT), by_ref(20)).wait_result()
    assert out.tolist() == [float(i * i) for i in range(1, 21)]


def test_array_inout_on_the_stack(ctx, flib):
    f = flib.twice_plus_one_
    f.args_type("double *", "int *")
    f.ret_type("void")
    a = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    expect = 2 * a + 1
    f(ctx, veo.OnStack(a, inout=veo.VEO_INTENT_INOUT), by_ref(a.size)).wait_result()
    assert np.array_equal(a, expect)


def test_array_in_ve_memory(proc, ctx, flib):
    f = flib.twice_plus_one_
    f.args_type("double *", "int *")
    f.ret_type("void")
    a = np.linspace(0, 1, 1000)
    m = proc.alloc_mem(a.nbytes)
    proc.write_mem(m, a, a.nbytes)
    f(ctx, m, by_ref(a.size)).wait_result()
    f(ctx, m, by_ref(a.size)).wait_result()
    out = np.empty_like(a)
    proc.read_mem(out, m, out.nbytes)
    proc.free_mem(m)
    assert np.allclose(out, 4 * a + 3)


def test_value_and_reference_arguments(ctx, flib):
    addv = flib.addv_
    addv.args_type("int *", "int")
    addv.ret_type("int")
    assert addv(ctx, by_ref(7), 5).wait_result() == 705
