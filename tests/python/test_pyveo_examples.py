"""py-veo's nine example scripts, as tests of the same behaviours.

py-veo's repository ships nine small programs (examples/test*-veo.py with
their kernels): a sleeping kernel, arguments of every C type, the proc init
hook, write_mem of a string, a string passed on the stack and a buffer the
kernel mallocs, a cffi struct on the stack, asynchronous transfers around a
call, IN and INOUT arrays, and a Fortran function with arrays by reference.
Each test below does what one of them does, written anew, and checks what
that program shows on its screen: the kernel's output (through capfd, as
it reaches the terminal) and the values it prints.
"""
import os
import time
import warnings

import numpy as np
import pytest

import veo

KERNELS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>

/* 1: sleeps, returns what it was given */
int nap_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
    return ms;
}

/* 2: prints its arguments, of six types */
void show_args(int a, unsigned int b, long c, unsigned long d, double e, float f)
{
    printf("args: %d %u %ld %lu %.5f %.5f\n", a, b, c, d, e, (double)f);
}

/* 2: ten ints, more than fit in registers */
int show_ten(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9)
{
    printf("ten: %d %d %d %d %d %d %d %d %d %d\n", a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
}

/* 4: a string in VE memory */
int show_string(const char *s)
{
    printf("VE sees: %s\n", s);
    return (int)strlen(s);
}

/* 5: a copy of the string it was given, in memory it mallocs */
void *copy_to_malloc(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    memcpy(p, s, n);
    return p;
}

/* 6: a struct by reference */
struct triple { int a, b, c; };
int sum_times(const struct triple *t, int factor)
{
    return (t->a + t->b + t->c) * factor;
}

/* 7: prints the string, then turns it to upper case in place */
void shout(char *s)
{
    printf("before: %s\n", s);
    for (char *p = s; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

/* 8: sums in[], and writes in[i] + 2 into inout[] */
int plus_two(const int *in, int *inout, const int *n)
{
    int sum = 0;
    for (int i = 0; i < *n; i++) {
        sum += in[i];
        inout[i] = in[i] + 2;
    }
    return sum;
}
"""

FORTRAN = r"""
function sum_and_table(a, b, c, n, m) bind(c)
    integer, intent(in) :: n, m
    integer, dimension(n), intent(in) :: a
    integer, dimension(n) :: b
    double precision, intent(out) :: c(n, m)
    integer :: i, j, sum_and_table
    sum_and_table = 0
    do i = 1, n
        sum_and_table = sum_and_table + a(i)
        b(i) = a(i) + 2
        do j = 1, m
            c(i, j) = dble(a(i)) * dble(j)
        end do
    end do
end function
"""


@pytest.fixture(scope="module")
def example_libs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pyveo_examples")
    bld = veo.VeBuild()
    bld.set_build_dir(str(d))
    bld.set_c_src("examples_c", KERNELS)
    c_so = bld.build_so("examples_c")
    fbld = veo.VeBuild()
    fbld.set_build_dir(str(d))
    fbld.set_ftn_src("examples_f", FORTRAN)
    f_so = fbld.build_so("examples_f")
    return os.path.abspath(c_so), os.path.abspath(f_so)


@pytest.fixture(scope="module")
def ex(example_libs):
    """A proc of its own, with both libraries and one context."""
    p = veo.VeoProc(0)
    c_so, f_so = example_libs
    yield p, p.load_library(c_so), p.load_library(f_so), p.open_context()
    p.close()


def test_1_a_kernel_that_sleeps(ex):
    p, lib, _, ctx = ex
    lib.nap_ms.args_type("int")
    start = time.monotonic()
    req = lib.nap_ms(ctx, 50)
    assert req.wait_result() == 50
    assert time.monotonic() - start >= 0.05


def test_2_arguments_of_every_type(ex, capfd):
    p, lib, _, ctx = ex
    lib.show_args.args_type("int", "unsigned int", "long", "unsigned long", "double", "float")
    lib.show_args(ctx, -12, 123456, -1234, 1234567, 0.12345, 0.12345).wait_result()
    lib.show_ten.args_type(*["int"] * 10)
    lib.show_ten.ret_type("int")
    assert lib.show_ten(ctx, *range(1, 11)).wait_result() == 55
    out = capfd.readouterr().out
    assert "args: -12 123456 -1234 1234567 0.12345 0.12345\n" in out
    assert "ten: 1 2 3 4 5 6 7 8 9 10\n" in out


def test_3_the_proc_init_hook_sees_each_new_proc(example_libs, capfd):
    seen = []
    veo.set_proc_init_hook(seen.append)
    try:
        p = veo.VeoProc(0)
    finally:
        veo.del_proc_init_hook(seen.append)
    try:
        assert seen == [p]
        lib = p.load_library(example_libs[0])
        f = lib.find_function("show_args")
        f.args_type("int", "unsigned int", "long", "unsigned long", "double", "float")
        f(p.open_context(), 1, 2, 3, 4, 0.5, 0.25).wait_result()
        assert "args: 1 2 3 4 0.50000 0.25000\n" in capfd.readouterr().out
    finally:
        p.close()


def test_4_a_string_written_to_ve_memory(ex, capfd):
    p, lib, _, ctx = ex
    text = np.frombuffer(b"Hello VE!!!\x00", dtype=np.uint8)  # read-only: a fine source
    buf = p.alloc_mem((text.size + 7) // 8 * 8)
    p.write_mem(buf, text, text.size)
    lib.show_string.args_type("char *")
    lib.show_string.ret_type("int")
    assert lib.show_string(ctx, buf).wait_result() == 11
    assert "VE sees: Hello VE!!!\n" in capfd.readouterr().out
    p.free_mem(buf)


def test_5_a_string_on_the_stack_and_memory_the_kernel_mallocs(ex):
    p, lib, _, ctx = ex
    lib.copy_to_malloc.args_type("char *")
    lib.copy_to_malloc.ret_type("void *")
    addr = lib.copy_to_malloc(ctx, veo.OnStack(b"Hello from VH!\0", 15)).wait_result()
    assert addr != 0
    # py-veo's script reads into a bytes object, which Python treats as
    # immutable: openveo does it too, and warns why it is unsafe.
    dest = b" " * 40
    with pytest.warns(veo.VeoWarning, match="read-only"):
        p.read_mem(dest, addr, 15)
    assert dest[:15] == b"Hello from VH!\0"
    # A writable destination is the safe way, and never warns.
    safe = bytearray(15)
    with warnings.catch_warnings():
        warnings.simplefilter("error", veo.VeoWarning)
        p.read_mem(safe, addr, 15)
    assert bytes(safe) == b"Hello from VH!\0"


def test_6_a_cffi_struct_on_the_stack(ex):
    cffi = pytest.importorskip("cffi")
    p, lib, _, ctx = ex
    ffi = cffi.FFI()
    ffi.cdef("struct triple { int a, b, c; };")
    t = ffi.new("struct triple *")
    t.a, t.b, t.c = 1, 2, 3
    lib.sum_times.args_type("void *", "int")
    lib.sum_times.ret_type("int")
    assert lib.sum_times(ctx, veo.OnStack(ffi.buffer(t)), 5).wait_result() == 30


def test_7_asynchronous_transfers_around_a_call(ex, capfd):
    p, lib, _, ctx = ex
    text = np.frombuffer(bytearray(b"Hello VE!!!\x00"), dtype=np.uint8)
    buf = p.alloc_mem(16)
    w = ctx.async_write_mem(buf, text, text.size)
    lib.shout.args_type("char *")
    call = lib.shout(ctx, buf)
    r = ctx.async_read_mem(text, buf, text.size)
    r.wait_result()
    w.wait_result()
    call.wait_result()
    assert text.tobytes() == b"HELLO VE!!!\x00"
    assert "before: Hello VE!!!\n" in capfd.readouterr().out
    p.free_mem(buf)


def test_8_in_and_inout_arrays_on_the_stack(ex):
    p, lib, _, ctx = ex
    a = np.array([1, 2, 3, 4, 5], dtype=np.int32)
    b = np.zeros(5, dtype=np.int32)
    n = np.array([a.size], dtype=np.int32)
    lib.plus_two.args_type("int *", "int *", "int *")
    lib.plus_two.ret_type("int")
    req = lib.plus_two(ctx, veo.OnStack(a, inout=veo.INTENT_IN),
                       veo.OnStack(b, inout=veo.INTENT_INOUT), veo.OnStack(n))
    assert req.wait_result() == 15
    assert b.tolist() == [3, 4, 5, 6, 7]
    assert a.tolist() == [1, 2, 3, 4, 5]


def test_9_a_fortran_function_with_arrays_by_reference(ex):
    p, _, flib, ctx = ex
    n, m = 5, 3
    a = np.array([1, 2, 3, 4, 5], dtype=np.int32)
    b = np.zeros(n, dtype=np.int32)
    c = np.zeros((n, m), dtype=np.float64, order="F")
    b_ve = p.alloc_mem(b.nbytes + 4)  # rounded up to 8 bytes, as the script does
    p.write_mem(b_ve, b, b.nbytes)
    f = flib.find_function("sum_and_table")  # bind(c): no trailing underscore
    f.args_type("int *", "int *", "double *", "int *", "int *")
    f.ret_type("int")
    req = f(ctx, veo.OnStack(a, inout=veo.INTENT_IN), b_ve,
            veo.OnStack(c, inout=veo.INTENT_OUT),
            veo.OnStack(np.array([n], dtype=np.int32)),
            veo.OnStack(np.array([m], dtype=np.int32)))
    assert req.wait_result() == 15
    p.read_mem(b, b_ve, b.nbytes)
    assert b.tolist() == [3, 4, 5, 6, 7]
    assert np.array_equal(c, np.outer(a, np.arange(1, m + 1)).astype(np.float64))
    p.free_mem(b_ve)
