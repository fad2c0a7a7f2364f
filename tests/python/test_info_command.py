"""python -m veo and veo-info: one line per fact, and a self-test that runs a kernel."""
import os
import shutil
import subprocess
import sys


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "veo", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def fields(out):
    return dict(line.split(":", 1) for line in out.splitlines())


def test_reports_versions_worker_compilers_and_a_working_self_test():
    r = run()
    assert r.returncode == 0, r.stdout + r.stderr
    f = {k: v.strip() for k, v in fields(r.stdout).items()}
    assert "VEO API version 16" in f["openveo"]
    assert os.path.basename(f["worker"]) == "veorun" and os.access(f["worker"], os.X_OK)
    assert f["C compiler"].endswith("builds a kernel")
    assert f["self-test"].startswith("ok: proc started in")
    assert "call + wait from Python" in f["self-test"]


def test_a_broken_c_compiler_is_named_and_fails_the_command():
    env = dict(os.environ, VE_CC="/bin/false")
    r = run(env=env)
    assert r.returncode == 1
    f = {k: v.strip() for k, v in fields(r.stdout).items()}
    assert f["C compiler"].startswith("/bin/false: fails")
    assert f["self-test"].startswith("fails: VeBuildError")


def test_quick_and_the_console_script():
    script = shutil.which("veo-info", path=os.path.dirname(sys.executable))
    assert script, "the console script veo-info is installed beside python"
    r = subprocess.run([script, "--quick"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    f = fields(r.stdout)
    assert set(f) == {"openveo", "python package", "extension", "libveo", "nodes", "worker"}
    assert "libveo.so" in f["libveo"]
