"""The example scripts run unchanged as programs: the 2018 API's average.py
and later_api.py, written against py-veo's later API."""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "..", "examples", "python")


def run(script, tmp_path):
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, script)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def test_the_2018_average_program(tmp_path):
    r = run("average.py", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # "VH numpy average = np.float64(0.5...)" (numpy 2's repr) or "= 0.5..."
    vh, ve = (float(re.search(r"= (?:np\.float64\()?([0-9.e+-]+)", line).group(1))
              for line in r.stdout.splitlines()[:2])
    assert abs(vh - ve) < 1e-12


def test_a_script_against_the_later_api(tmp_path):
    r = run("later_api.py", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("x at 0x") and ", y at hmem 0x" in lines[0]
    assert lines[1:] == ["axpy returned 1000", "no memory: VeoMemoryError",
                         "no such kernel: RuntimeError", "ok"]
    # veo.logging's stream handler reported the proc, memory and call events.
    log = r.stderr
    for event in ("alloc_mem", "free_mem", "alloc_hmem"):
        assert event in log, log
