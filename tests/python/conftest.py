"""Shared fixtures of the veo test suite.

The kernels every test uses are compiled once per session with VeBuild
(kernels_so, fortran_so); one VE process (proc) with one context (ctx) and
the kernel library loaded (lib) is shared by the tests that do not stop
or break it. Tests that crash a kernel or close things start their own.
"""
import os

import pytest

import veo

KERNELS_C = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each integer type comes back unchanged: checks conversions both ways. */
int8_t echo_i8(int8_t x) { return x; }
uint8_t echo_u8(uint8_t x) { return x; }
int16_t echo_i16(int16_t x) { return x; }
uint16_t echo_u16(uint16_t x) { return x; }
int32_t echo_i32(int32_t x) { return x; }
uint32_t echo_u32(uint32_t x) { return x; }
int64_t echo_i64(int64_t x) { return x; }
uint64_t echo_u64(uint64_t x) { return x; }
float echo_float(float x) { return x; }
double echo_double(double x) { return x; }

/* Mixed argument types in one call, as the C calling convention passes them. */
double mix(int a, double b, float c, long d, unsigned char e, short f)
{
    return a * 100000.0 + b + c + d * 1000.0 + e * 10.0 + f;
}

/* Ten doubles and ten longs: more arguments than registers. */
double many(double a0, double a1, double a2, double a3, double a4,
            double a5, double a6, double a7, double a8, double a9,
            long b0, long b1, long b2, long b3, long b4,
            long b5, long b6, long b7, long b8, long b9)
{
    return a0 + 2 * a1 + 3 * a2 + 4 * a3 + 5 * a4 + 6 * a5 + 7 * a6 + 8 * a7 +
           9 * a8 + 10 * a9 + 11 * b0 + 12 * b1 + 13 * b2 + 14 * b3 + 15 * b4 +
           16 * b5 + 17 * b6 + 18 * b7 + 19 * b8 + 20 * b9;
}

double average(double *a, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i];
    return sum / (double)n;
}

/* a[i] *= f: an INOUT array. */
void scale(double *a, int n, double f)
{
    for (int i = 0; i < n; i++)
        a[i] *= f;
}

/* out[i] = v + i: an OUT array. */
void fill(int32_t *out, int n, int v)
{
    for (int i = 0; i < n; i++)
        out[i] = v + i;
}

/* Sum of n bytes. */
long sum_bytes(const unsigned char *p, long n)
{
    long s = 0;
    for (long i = 0; i < n; i++)
        s += p[i];
    return s;
}

/* A struct passed by reference (cffi on the host side). */
struct point {
    int32_t x;
    double y;
    char tag[8];
};

double point_sum(const struct point *p) { return p->x + p->y; }

void point_double(struct point *p)
{
    p->x *= 2;
    p->y *= 2;
    memcpy(p->tag, "doubled", 8);
}

/* Memory the kernel allocates: the host reads it through the pointer. */
void *make_sequence(size_t n)
{
    int64_t *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (int64_t)(i * i);
    return p;
}

void release(void *p) { free(p); }

/* Library variables, found with get_symbol. */
int32_t counter = 42;
double table[4] = {1.5, 2.5, 3.5, 4.5};

int32_t get_counter(void) { return counter; }

int sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
    return ms;
}

void nothing(void) { }

int crash_segv(void)
{
    volatile int *p = NULL;
    *p = 1;
    return 0;
}

/* A fault at a chosen address, exit(), and a kernel that never returns:
 * the faults tests (test_faults.py). */
int crash_at(uintptr_t addr)
{
    *(volatile int *)addr = 1;
    return 0;
}

int exit_with(int status)
{
    exit(status);
}

long spin_forever(void)
{
    volatile long n = 0;
    for (;;)
        n++;
    return n;
}
"""

FORTRAN_F90 = r"""
! a(i) = 2 * a(i) + 1
subroutine twice_plus_one(a, n)
  implicit none
  integer, intent(in) :: n
  real(8), intent(inout) :: a(n)
  a = 2.0d0 * a + 1.0d0
end subroutine twice_plus_one

! out(i) = i * i
subroutine squares(out, n)
  implicit none
  integer, intent(in) :: n
  real(8), intent(out) :: out(n)
  integer :: i
  do i = 1, n
    out(i) = dble(i) * dble(i)
  end do
end subroutine squares

! sum of an integer array, as real(8)
real(8) function isum(a, n)
  implicit none
  integer, intent(in) :: n
  integer, intent(in) :: a(n)
  isum = dble(sum(a))
end function isum

! x by reference, y by value
integer function addv(x, y)
  implicit none
  integer, intent(in) :: x
  integer, value :: y
  addv = x * 100 + y
end function addv
"""


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernels")


@pytest.fixture(scope="session")
def kernels_so(build_dir):
    """Absolute path of the C test kernels (KERNELS_C) as a shared object."""
    bld = veo.VeBuild()
    bld.set_build_dir(str(build_dir / "c"))
    bld.set_c_src("testkernels", KERNELS_C)
    return os.path.abspath(bld.build_so())


@pytest.fixture(scope="session")
def fortran_so(build_dir):
    """Absolute path of the Fortran test kernels (FORTRAN_F90)."""
    bld = veo.VeBuild()
    bld.set_build_dir(str(build_dir / "f"))
    bld.set_ftn_src("ftnkernels", FORTRAN_F90)
    return os.path.abspath(bld.build_so())


@pytest.fixture(scope="session")
def proc():
    p = veo.VeoProc(0)
    yield p
    p.close()


@pytest.fixture(scope="session")
def ctx(proc):
    return proc.open_context()


@pytest.fixture(scope="session")
def lib(proc, kernels_so):
    return proc.load_library(kernels_so)


@pytest.fixture(scope="session")
def other_proc():
    """A second VE process, for the "belongs to another proc" checks."""
    p = veo.VeoProc(0)
    yield p
    p.close()


@pytest.fixture(scope="session")
def kernel(lib):
    """kernel(name, args, ret): lib.<name> with its prototype declared."""
    def declare(name, args, ret):
        f = getattr(lib, name)
        f.args_type(*args)
        f.ret_type(ret)
        return f
    return declare
