"""python -m veo (also the command veo-info): what a user needs when something is off.

One line each: openveo's and the API's versions, the Python package and
the library in use, the worker binary a proc starts, the nodes, the
compilers VeBuild would use for C, C++ and Fortran and whether each one
builds a kernel, and a self-test that builds, loads and calls a kernel and
reports the round trip. Exits with 1 when something a kernel needs fails.

    python -m veo            everything, the self-test included
    python -m veo --quick    no compiler checks and no self-test
"""
import argparse
import os
import sys
import tempfile
import time

import veo
from veo import vebuild

_SOURCES = {
    "C": ("set_c_src", "long veo_info_probe(long x) { return x + 1; }\n"),
    "C++": ("set_cpp_src", 'extern "C" long veo_info_probe(long x) { return x + 1; }\n'),
    "F": ("set_ftn_src",
          "integer(8) function veo_info_probe(x) bind(c)\n"
          "  integer(8), value :: x\n  veo_info_probe = x + 1\nend function\n"),
}
_NAMES = {"C": "C", "C++": "C++", "F": "Fortran"}


def _line(what, text):
    print("%-18s %s" % (what + ":", text))


def _worker_hint():
    env = os.environ.get("VEORUN_BIN")
    if env:
        return "%s (VEORUN_BIN)" % env
    return "the veorun next to libveo (set VEORUN_BIN to choose another)"


def _libveo():
    """The libveo this process has mapped (the extension links it)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split(None, 5)[-1].strip()
                if os.path.basename(path).startswith("libveo.so"):
                    return path
    except OSError:
        pass
    return "unknown"


def _nodes():
    arch = getattr(veo, "get_ve_arch", None)
    if arch is None:
        return "0-7"
    found = []
    for n in range(8):
        try:
            if arch(n) >= 0:
                found.append(n)
        except Exception:  # a node that does not exist: skipped
            pass
    text = ", ".join(map(str, found)) if found else "none"
    sel = os.environ.get("VE_NODE_NUMBER")
    return text + ("; VE_NODE_NUMBER=%s" % sel if sel else "")


def _build(lang, d):
    """The .so of a one-function kernel in lang, built in d (raises VeBuildError)."""
    method, src = _SOURCES[lang]
    b = veo.VeBuild()
    b.set_build_dir(d)
    getattr(b, method)("probe_" + {"C": "c", "C++": "cxx", "F": "f"}[lang], src)
    return os.path.abspath(b.build_so())


def _check_compiler(lang, d):
    try:
        cc = vebuild.default_compiler(lang)
    except veo.VeBuildError as e:
        return False, str(e)
    try:
        _build(lang, d)
    except veo.VeBuildError as e:
        first = (e.output or str(e)).strip().splitlines()
        return False, "%s: fails: %s" % (" ".join(cc), first[0] if first else e)
    return True, "%s: builds a kernel" % " ".join(cc)


def _self_test(d):
    """Builds, loads and calls a kernel; the line to print, and whether it worked."""
    so = _build("C", d)
    start = time.perf_counter()
    proc = veo.VeoProc(0)
    started = time.perf_counter() - start
    try:
        worker = os.readlink("/proc/%d/exe" % proc.pid)
        ctx = proc.open_context()
        f = proc.load_library(so).veo_info_probe
        f.args_type("long")
        f.ret_type("long")
        if f(ctx, 41).wait_result() != 42:
            return "the probe kernel returned a wrong result", worker, False
        n = 2000
        t0 = time.perf_counter()
        for i in range(n):
            f(ctx, i).wait_result()
        per_call = (time.perf_counter() - t0) / n
    finally:
        proc.close()
    return ("ok: proc started in %.1f ms, call + wait from Python %.2f us"
            % (started * 1e3, per_call * 1e6)), worker, True


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m veo", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="skip the compiler checks and the self-test")
    args = ap.parse_args(argv)
    ok = True
    version = veo.__version__.replace("openveo ", "")
    _line("openveo", "%s (VEO API version %s)" % (version, veo.VEO_API_VERSION))
    _line("python package", os.path.dirname(os.path.abspath(veo.__file__)))
    _line("extension", os.path.abspath(veo._veo.__file__))
    _line("libveo", _libveo())
    _line("nodes", _nodes())
    if args.quick:
        _line("worker", _worker_hint())
        return 0
    with tempfile.TemporaryDirectory(prefix="veo_info_") as d:
        for lang in ("C", "C++", "F"):
            works, text = _check_compiler(lang, d)
            _line(_NAMES[lang] + " compiler", text)
            ok = ok and (works or lang != "C")
        try:
            text, worker, works = _self_test(d)
            _line("worker", worker)
        except Exception as e:  # any failure is the line's content
            text, works = "fails: %s: %s" % (type(e).__name__, e), False
            _line("worker", _worker_hint())
        _line("self-test", text)
        ok = ok and works
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
