"""Build a kernel with VeBuild, run it on the VE (openveo's worker process)
and compare with numpy. This is the py-veo introduction's second program,
unchanged apart from this comment and the check at the end."""
import os
from veo import *

bld = VeBuild()
bld.set_build_dir("_ve_build")
bld.set_c_src("_average", r"""
double average(double *a, int n)
{
    int i;
    double sum = 0;

    for (i = 0; i < n; i++)
        sum += a[i];

    return sum / (double)n;
}
""")
ve_so_name = bld.build_so()
nodeid = os.environ.get("VE_NODE_NUMBER", 0)
proc = VeoProc(nodeid)
ctxt = proc.open_context()
lib = proc.load_library(os.getcwd() + "/" + ve_so_name)
lib.average.args_type("double *", "int")
lib.average.ret_type("double")
n = 1000000
a = np.random.rand(n)
print("VH numpy average = %r" % np.average(a))
req = lib.average(ctxt, OnStack(a), n)
avg = req.wait_result()
print("VE kernel average = %r" % avg)
del proc

if abs(avg - np.average(a)) > 1e-12:
    raise SystemExit("the VE average differs from numpy's")
