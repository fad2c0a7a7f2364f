"""Prototypes: a kernel's types from its C declaration (veo.prototypes)."""
import inspect
import os

import numpy as np
import pytest

import veo
from veo.prototypes import PrototypeError, parse, read_library, scan_c, scan_fortran


@pytest.mark.parametrize("decl, ret, params", [
    ("double average(double *a, int n)", "double", [("double *", "a"), ("int", "n")]),
    ("void tick(void);", "void", []),
    ("unsigned long sum(const unsigned char *restrict p, size_t n)", "unsigned long",
     [("unsigned char *", "p"), ("size_t", "n")]),
    ("int8_t f(int8_t, uint64_t x, struct abc *s, float v[10], int (*cb)(int))", "int8_t",
     [("int8_t", None), ("uint64_t", "x"), ("struct abc *", "s"), ("float *", "v"),
      ("void *", "cb")]),
    ("static inline long long g(long long int x, unsigned y)", "long long",
     [("long long int", "x"), ("unsigned", "y")]),
    ("char *dup(const char *s)", "char *", [("char *", "s")]),
    ("struct node *next(enum color c)", "struct node *", [("int", "c")]),
    ("my_t *opaque(my_t *h)", "my_t *", [("my_t *", "h")]),
])
def test_declarations_parse(decl, ret, params):
    p = parse(decl)
    assert (p.ret, p.params) == (ret, params)
    again = parse(p.declaration())  # what VeBuild records reads back the same
    assert (again.name, again.ret, again.arg_types) == (p.name, p.ret, p.arg_types)
    assert again.arg_names == p.arg_names


@pytest.mark.parametrize("decl, token", [
    ("int f(my_int x)", "'my_int'"),
    ("int f(int n, ...)", "'...'"),
    ("int f(struct abc s)", "struct abc is passed by value"),
    ("int f(int x @)", "'@'"),
    ("int x", "not a function declaration"),
])
def test_what_cannot_be_read_is_named(decl, token):
    with pytest.raises(PrototypeError, match=token.replace("(", r"\(").replace(".", r"\.")):
        parse(decl)
    assert issubclass(PrototypeError, ValueError)


def test_the_functions_a_c_source_defines():
    src = r'''
    #include <stdio.h>
    /* not code: int fake(int x) { } */
    static int helper(int x) { return x; }
    double average(double *a, int n) { double s = 0; for (int i = 0; i < n; i++) { s += a[i]; } return s / n; }
    struct abc { int a, b; };
    int first(const struct abc *p) { return p->a; }
    void hello(void) { printf("{ not a block }\n"); }
    int declared_only(int);
    '''
    assert [p.declaration() for p in scan_c(src)] == [
        "double average(double * a, int n)", "int first(struct abc * p)", "void hello(void)"]


def test_cplusplus_declares_only_c_linkage():
    src = r'''
    int mangled(int x) { return x; }
    extern "C" int one(int x) { return x; }
    extern "C" {
        double two(double *a, long n) { return a[n - 1]; }
    }
    '''
    assert [p.name for p in scan_c(src, cplusplus=True)] == ["one", "two"]


def test_fortran_declarations():
    src = """
    function isum(a, n) result(s)
      integer, intent(in) :: n
      integer, dimension(n), intent(in) :: a
      double precision :: s
      s = sum(a)
    end function
    integer(8) function plus_one(x) bind(c)
      integer(8), value :: x
      plus_one = x + 1
    end function
    subroutine greet(name)
      character(len=*) :: name
    end subroutine
    """
    assert [p.declaration() for p in scan_fortran(src)] == [
        "double isum_(int * a, int * n)", "long plus_one(long x)"]


def test_a_library_not_built_by_vebuild_has_none(tmp_path):
    assert read_library(str(tmp_path / "missing.so")) == []
    (tmp_path / "text.so").write_text("not ELF")
    assert read_library(str(tmp_path / "text.so")) == []


def test_prototype_declares_a_kernel(lib, ctx):
    a = np.random.rand(1000)
    f = lib.average.prototype("double average(const double *a, int n)")
    assert f is lib.average
    assert abs(f(ctx, veo.OnStack(a), a.size).wait_result() - np.average(a)) < 1e-12
    assert str(inspect.signature(f)) == \
        "(ctx: 'VeoCtxt', a: 'double *', n: 'int', /) -> 'double'"
    lib.average.args_type("double *", "int")  # an explicit args_type still wins
    assert lib.average._args_type == ("double *", "int")
    assert str(inspect.signature(f)) == \
        "(ctx: 'VeoCtxt', arg0: 'double *', arg1: 'int', /) -> 'double'"
    g = lib.echo_i64.prototype("int64_t echo_i64(int64_t ctx)")  # "ctx" is taken
    assert list(inspect.signature(g).parameters) == ["ctx", "arg0"]


def test_prototype_errors(lib):
    with pytest.raises(ValueError, match="is of 'sum', not of 'average'"):
        lib.average.prototype("double sum(double *a, int n)")
    with pytest.raises(PrototypeError, match="'my_int'"):
        lib.average.prototype("double average(my_int n)")


def test_a_vebuild_library_declares_its_functions_when_loaded(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path / "b"))
    bld.set_c_src("protos", r"""
double average(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s / n;
}
static int hidden(int x) { return x; }
unsigned char low_byte(unsigned long x) { return (unsigned char)(x + hidden(0)); }
""")
    so = os.path.abspath(bld.build_so())
    assert [p.name for p in read_library(so)] == ["average", "low_byte"]
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(so)
        assert lib.average._args_type == ("double *", "int") and lib.average._ret_type == "double"
        a = np.random.rand(100)
        assert abs(lib.average(ctx, veo.OnStack(a), a.size).wait_result() - np.average(a)) < 1e-12
        assert lib.low_byte(ctx, 0x1234).wait_result() == 0x34
        lib.low_byte.args_type("long")  # an explicit args_type still wins
        assert lib.low_byte._args_type == ("long",)


def test_fortran_and_cplusplus_libraries_declare_what_they_can(tmp_path):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path / "b"))
    bld.set_ftn_src("f", """
function twice(x) result(y)
  double precision, intent(in) :: x
  double precision :: y
  y = 2 * x
end function
""")
    bld.set_cpp_src("cxx", 'extern "C" long add3(long a, long b, long c) { return a + b + c; }\n')
    so = os.path.abspath(bld.build_so())
    with veo.VeoProc(0) as p:
        ctx = p.open_context()
        lib = p.load_library(so)
        assert lib.twice_(ctx, veo.OnStack(np.array([21.0]))).wait_result() == 42.0
        assert lib.add3(ctx, 1, 2, 3).wait_result() == 6
