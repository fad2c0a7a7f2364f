"""The two programs of the py-veo introduction, run verbatim in a fresh
directory: the VE average must equal numpy's within 1e-12."""
import os
import re
import subprocess
import sys
import textwrap

AVERAGE_C = r"""
double average(double *a, int n)
{
    int i;
    double sum = 0;

    for (i = 0; i < n; i++)
        sum += a[i];

    return sum / (double)n;
}
"""

PROGRAM_1 = '''\
import os
import veo

nodeid = os.environ.get("VE_NODE_NUMBER", 0)
proc = veo.VeoProc(nodeid)
ctxt = proc.open_context()
lib = proc.load_library(os.getcwd() + "/ve_average.so")
lib.average.args_type("double *", "int")
lib.average.ret_type("double")
np = veo.np
n = 100000
a = np.random.rand(n)
a_ve = proc.alloc_mem(n * 8)
proc.write_mem(a_ve, a, n * 8)
req = ctxt.async_write_mem(a_ve, a, n * 8)
req.wait_result()
req = lib.average(ctxt, a_ve, n)
avg = req.wait_result()
print("avg = %r" % avg)
proc.free_mem(a_ve)
del proc
'''

PROGRAM_2 = '''\
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
'''

FLOAT = r"(?:np\.float64\()?([-+0-9.eE]+|nan)\)?"


def run(args, cwd):
    env = dict(os.environ)
    env.pop("VE_NODE_NUMBER", None)
    r = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout


def test_program_1_prints_numpys_average(tmp_path):
    (tmp_path / "average.c").write_text(AVERAGE_C)
    subprocess.run(["cc", "-O3", "-fpic", "-pthread", "-shared", "-o", "ve_average.so",
                    "average.c"], cwd=tmp_path, check=True)
    (tmp_path / "program1.py").write_text(PROGRAM_1)
    out = run(["program1.py"], tmp_path)
    assert re.fullmatch(r"avg = " + FLOAT + r"\n", out), out
    # The same file once more, keeping its globals to compare with numpy.
    out = run(["-c", textwrap.dedent("""
        import runpy, numpy
        g = runpy.run_path("program1.py")
        print("numpy = %r" % float(numpy.average(g["a"])))
    """)], tmp_path)
    ve = float(re.search(r"avg = " + FLOAT, out).group(1))
    ref = float(re.search(r"numpy = " + FLOAT, out).group(1))
    assert abs(ve - ref) <= 1e-12


def test_program_2_builds_with_vebuild_and_matches_numpy(tmp_path):
    (tmp_path / "program2.py").write_text(PROGRAM_2)
    out = run(["program2.py"], tmp_path)
    ref = float(re.search(r"VH numpy average = " + FLOAT, out).group(1))
    ve = float(re.search(r"VE kernel average = " + FLOAT, out).group(1))
    assert abs(ve - ref) <= 1e-12
    assert (tmp_path / "_ve_build" / "_average.so").is_file()
    assert (tmp_path / "_ve_build").stat().st_mode & 0o777 == 0o700
