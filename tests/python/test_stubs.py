"""Types for editors: veo/_veo.pyi matches the extension (mypy's stubtest), and
mypy reads the package's types (py.typed) and finds a deliberate mistake."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

GOOD = """
import numpy as np
import veo

def run(so: str) -> float:
    with veo.VeoProc(0) as proc:
        ctx = proc.open_context()
        lib = proc.load_library(so)
        f = lib.average.prototype("double average(double *a, int n)")
        a = np.ones(10)
        req: veo.VeoRequest = f(ctx, veo.OnStack(a), a.size)
        ptr: int = proc.alloc_mem(8)  # a VEMemPtr is an int
        proc.free_mem(ptr)
        return float(req.wait_result())
"""

BAD = GOOD + """
def wrong(proc: veo.VeoProc) -> None:
    name: str = proc.alloc_mem(8)
"""


def mypy(tmp_path, text):
    script = tmp_path / "script.py"
    script.write_text(text)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                           "--cache-dir", str(tmp_path / "cache"), str(script)],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path))


def test_stubtest_finds_the_stub_and_the_module_agree():
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--ignore-disjoint-bases",
                        "--allowlist", os.path.join(HERE, "stubtest_allowlist.txt"),
                        "veo._veo"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_accepts_correct_code_and_reports_a_type_error(tmp_path):
    ok = mypy(tmp_path, GOOD)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = mypy(tmp_path, BAD)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert 'Incompatible types in assignment (expression has type "VEMemPtr", ' \
           'variable has type "str")' in bad.stdout
