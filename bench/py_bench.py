#!/usr/bin/env python3
"""py_bench.py: the Python call path of openveo beside what a py-veo user
would do instead.

Three ways to call the same C function, ``int increment(int)`` from
bench/kernels.c, and get its result back in Python:

- openveo:  ``lib.increment(ctx, i).wait_result()`` through the veo package
            (a call into the worker process and back);
- ctypes:   ``ctypes.CDLL(path).increment(i)`` in-process (fast, but a crash in
            the kernel kills Python);
- pool:     ``multiprocessing.Pool(1).apply(...)``, a round trip to a worker
            process that calls the function with ctypes.

Each figure is the median, over trials, of the time per call of a loop of
calls. It prints the figures and the issue's Python goals (PASS/FAIL) and
writes them as JSON; it exits 0 whether or not a goal is met.

    python bench/py_bench.py [--kernels libbench_kernels.so] [--out py_bench.json] [--quick]
"""
import argparse
import ctypes
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def find_kernels():
    """The kernel library: built by meson, by bench/run, or here with cc."""
    for path in (os.path.join(ROOT, "build", "bench", "libbench_kernels.so"),
                 os.path.join(HERE, "out", "bin", "libbench_kernels.so")):
        if os.path.exists(path):
            return path
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    out = os.path.join(tempfile.mkdtemp(prefix="py_bench."), "libbench_kernels.so")
    subprocess.run([cc, "-O2", "-fpic", "-shared", "-o", out,
                    os.path.join(HERE, "kernels.c")], check=True)
    return out


def timed_trials(loops, trials):
    """Runs trial t of every loop before trial t+1 of any, so that a burst
    of load from elsewhere on the machine spoils one trial of each way
    rather than every trial of one. loops: {name: (loop, calls)}. Returns
    {name: (median ns per call, [ns per call of each trial])}."""
    times = {name: [] for name in loops}
    for loop, calls in loops.values():
        loop(min(calls, 100))  # warm-up
    for _ in range(trials):
        for name, (loop, calls) in loops.items():
            t0 = time.perf_counter_ns()
            loop(calls)
            times[name].append((time.perf_counter_ns() - t0) / calls)
    return {name: (statistics.median(t), t) for name, t in times.items()}


# ---- the pool worker: module level, so that the pool can find it ----------

_pool_increment = None


def _pool_init(path):
    global _pool_increment
    lib = ctypes.CDLL(path)
    _pool_increment = lib.increment
    _pool_increment.argtypes = [ctypes.c_int]
    _pool_increment.restype = ctypes.c_int


def _pool_call(i):
    return _pool_increment(i)


# ---- the three ways: each returns a loop of n calls -----------------------

def ctypes_loop(path):
    increment = ctypes.CDLL(path).increment
    increment.argtypes = [ctypes.c_int]
    increment.restype = ctypes.c_int
    assert increment(41) == 42, "ctypes: increment(41) != 42"

    def loop(n):
        for i in range(n):
            increment(i)
    return loop


def pool_loop(pool):
    assert pool.apply(_pool_call, (41,)) == 42, "pool: increment(41) != 42"

    def loop(n):
        for i in range(n):
            pool.apply(_pool_call, (i,))
    return loop


def veo_loop(proc, path):
    lib = proc.load_library(path)
    lib.increment.args_type("int")
    lib.increment.ret_type("int")
    ctx = proc.open_context()
    assert lib.increment(ctx, 41).wait_result() == 42, "veo: increment(41) != 42"
    increment = lib.increment

    def loop(n):
        for i in range(n):
            increment(ctx, i).wait_result()
    return loop


def goal(name, value, op, limit, unit="x"):
    ok = value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit
    return {"name": name, "value": value, "unit": unit, "op": op, "limit": limit,
            "pass": bool(ok)}


def fmt_ns(ns):
    if ns < 1e3:
        return "%.0f ns" % ns
    if ns < 1e6:
        return "%.2f us" % (ns / 1e3)
    return "%.2f ms" % (ns / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", help="path of libbench_kernels.so (default: found or built)")
    ap.add_argument("--out", default="py_bench.json", help="JSON output (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="fewer calls, for trying it out")
    args = ap.parse_args()
    path = os.path.abspath(args.kernels or find_kernels())
    q = 5 if args.quick else 1  # divides the number of calls

    print("Python %s, kernels %s" % (platform.python_version(), path))
    trials = 21
    loops = {"ctypes": (ctypes_loop(path), 50000 // q)}
    veo_error = None
    # The pool forks first, so that its worker holds nothing of the veo proc.
    with multiprocessing.Pool(1, initializer=_pool_init, initargs=(path,)) as pool:
        loops["pool"] = (pool_loop(pool), 300 // q)
        try:
            import veo
        except ImportError as e:
            veo_error = "the veo package does not import (%s): install it with pip" % e
            print(veo_error)
        if veo_error:
            res = timed_trials(loops, trials)
        else:
            with veo.VeoProc(0) as proc:
                loops["openveo"] = (veo_loop(proc, path), 10000 // q)
                res = timed_trials(loops, trials)

    print("\ntime per call of int increment(int), result back in Python (median):")
    for key, label in (("openveo", "lib.increment(ctx, i).wait_result()"),
                       ("ctypes", "ctypes, in-process"),
                       ("pool", "multiprocessing.Pool(1).apply")):
        if key in res:
            print("  %-40s %10s" % (label, fmt_ns(res[key][0])))

    goals = []
    ratios = {}
    if "openveo" in res:
        v, c, p = res["openveo"][0], res["ctypes"][0], res["pool"][0]
        ratios = {"openveo_over_ctypes": v / c, "pool_over_openveo": p / v}
        goals = [goal("Python call+wait / ctypes in-process call", v / c, "<=", 5),
                 goal("Pool(1).apply round trip / Python call+wait", p / v, ">=", 50)]
        print("\n== goals (issue 4), Python")
        for g in goals:
            print("  %-62s = %8.3g %-2s (goal %s %g) %s" % (
                g["name"], g["value"], g["unit"], g["op"], g["limit"],
                "PASS" if g["pass"] else "FAIL"))

    out = {
        "benchmark": "py_bench",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "kernels": path,
        "quick": args.quick,
        "veo_error": veo_error,
        "per_call_ns": {k: r[0] for k, r in res.items()},
        "trials_ns": {k: r[1] for k, r in res.items()},
        "ratios": ratios,
        "goals": goals,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print("figures written to %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
