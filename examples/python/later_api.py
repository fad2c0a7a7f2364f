"""A script in the style of py-veo's later API: addresses are ints, names are
bytes, arguments go through VeoArgs, memory through VEO_HMEM, and the
library's events are logged. It runs unchanged on openveo."""
import logging
import os
import sys

import numpy as np

import veo
import veo.logging as veo_logging
from veo import VEO_HMEM, VeBuild, VeoArgs, VeoProc

veo_logging.set_stream_handler(stream=sys.stderr, level=logging.INFO)

bld = VeBuild()
bld.set_build_dir("_ve_build")
bld.set_c_src("_later", content=r"""
#include <stdint.h>
int64_t axpy(int64_t n, double a, const double *x, double *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
    return n;
}
""")
so = bld.build_so()
proc = VeoProc(0)
ctx = proc.open_context()
lib = proc.load_library((os.getcwd() + "/" + so).encode())   # bytes path
axpy = lib.find_function(b"axpy")                              # bytes name

n = 1000
x = np.arange(n, dtype=np.float64)
y = np.ones(n)
x_ve = proc.alloc_mem(x.nbytes)        # an int: arithmetic and formatting work
y_hmem = proc.alloc_hmem(y.nbytes)     # an hmem pointer: an int with the proc's tag
assert isinstance(x_ve, int) and VEO_HMEM.is_ve_addr(y_hmem)
print("x at %#x, y at hmem %#x" % (x_ve, y_hmem))
proc.write_mem(x_ve, x, x.nbytes)
VEO_HMEM.hmemcpy(y_hmem, y, y.nbytes)

args = VeoArgs()
args.set_i64(0, n)
args.set_double(1, 2.0)
args.set_u64(2, x_ve)
args.set_hmem(3, y_hmem)
req = ctx.call_async(axpy, args)
print("axpy returned", req.wait_result())

out = np.empty(n)
VEO_HMEM.hmemcpy(out, y_hmem, out.nbytes)
proc.free_hmem(y_hmem)
proc.free_mem(x_ve)
try:
    proc.alloc_mem(1 << 60)
except MemoryError as e:                # py-veo's later exception classes
    print("no memory:", type(e).__name__)
try:
    lib.no_such_kernel
except RuntimeError:
    print("no such kernel: RuntimeError")
proc.proc_destroy()
veo_logging.reset_handler()

if not np.array_equal(out, 1.0 + 2.0 * x):
    raise SystemExit("axpy gave the wrong result")
print("ok")
