#!/usr/bin/env python3
"""summary.py: one table of every goal of issues 4 and 15, from the JSON
that veo_bench, veo_omp and py_bench wrote in this run, with PASS/FAIL
beside each, the headline figures next to the published VEO and AVEO ones,
the calls and medium kernels in each placement (unpinned, apart, one CPU),
and veo_omp's OpenMP kernels and VE heap.

    python bench/summary.py [out/veo_bench.json] [out/py_bench.json] [out/veo_omp.json]

It reports; it exits 0 whatever the figures say.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns < 0:
        return "-" + fmt_ns(-ns)
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def placements(vb):
    """The call figures at the largest N and the medium kernels' ratios,
    one column per placement."""
    pls = vb.get("placements")
    if not pls:
        return
    print("\n== placements: unpinned, apart (host CPU 0, worker CPU 1), one CPU (both CPU 0)")
    print("  %-40s" % "per call (largest N)" + "".join("%14s" % p["key"] for p in pls))
    for i, c in enumerate(pls[0]["calls"]):
        n = c["points"][-1]["n"]
        print("  %-40s" % ("%s, N=%d" % (c["name"], n)) + "".join(
            "%14s" % fmt_ns(p["calls"][i]["points"][-1]["per_call_ns"]) for p in pls))
    print("  %-40s" % "round-trip floor (paired)" + "".join(
        "%14s" % fmt_ns(p["round_trip_paired_ns"]) for p in pls))
    print("  %-40s" % "same-CPU futex round trip" + "".join(
        "%14s" % fmt_ns(p.get("futex_round_trip_ns")) for p in pls))
    print("  %-40s" % "medium kernel D: openveo / in-process" + "".join(
        "%14s" % p["key"] for p in pls) + "   host CPU waiting / D (%s)"
        % ", ".join(p["key"] for p in pls))
    for j, m in enumerate(pls[0]["medium"]):
        def cell(p, key, fmt):
            v = p["medium"][j].get(key)
            return "%14s" % (fmt % v if v is not None else "-")
        print("  %-40s" % ("D = %g us" % m["d_us"])
              + "".join(cell(p, "ratio", "%.3fx") for p in pls)
              + "  " + " ".join("%6.1f%%" % (100 * p["medium"][j]["host_cpu_fraction"])
                                if p["medium"][j].get("host_cpu_fraction") is not None
                                else "      -" for p in pls))


def openmp(vo):
    """veo_omp's figures: each OpenMP kernel and team through openveo
    against in-process, and the worker's triad on VE heap against malloc."""
    if not vo:
        return
    print("\n== OpenMP kernels through openveo / in-process (veo_omp, medians of paired trials)")
    print("  %-10s %8s %12s %12s %9s %6s" % ("kernel", "T", "in-process", "openveo", "ratio",
                                            "pairs"))
    for c in vo.get("openmp", []):
        print("  %-10s %8s %12s %12s %8sx %6d" % (
            c["kernel"], c["threads"] or "default", fmt_ns(c["in_process_ns"]),
            fmt_ns(c["openveo_ns"]), "%.3f" % c["ratio"] if c["ratio"] is not None else "-",
            c["pairs"]))
    for h in vo.get("ve_heap", []):
        print("  worker's triad, %-15s VE heap %s, malloc %s: %s (%d pairs)" % (
            "%s first:" % h["allocated_first"].replace("_", " "), fmt_ns(h["ve_heap_ns"]),
            fmt_ns(h["malloc_ns"]),
            "%.3fx" % h["ratio"] if h["ratio"] is not None else "-", h["pairs"]))


def main(argv):
    vb_path = argv[1] if len(argv) > 1 else os.path.join(HERE, "out", "veo_bench.json")
    pb_path = argv[2] if len(argv) > 2 else os.path.join(HERE, "out", "py_bench.json")
    vo_path = argv[3] if len(argv) > 3 else os.path.join(HERE, "out", "veo_omp.json")
    vb, pb, vo = load(vb_path), load(pb_path), load(vo_path)
    if not vb:
        print("summary.py: no %s: run veo_bench first" % vb_path, file=sys.stderr)
        return 1

    calls = {c["key"]: c["points"][-1] for c in vb["calls"]}
    xfer8 = {t["key"]: t["points"][0] for t in vb["transfers"]}
    py = (pb or {}).get("per_call_ns", {})
    n = calls["call_and_wait"]["n"]
    print("\n== openveo beside the references (this run; published figures for VEO/AVEO)")
    rows = [
        ("floor: round trip over one shared cache line",
         fmt_ns(vb["floors"]["round_trip_ns"]), ""),
        ("pipelined call (submit N, wait N), N=%d" % n,
         fmt_ns(calls["submit_all_wait_all"]["per_call_ns"]), "AVEO 5.6 us"),
        ("call+wait, N=%d" % n, fmt_ns(calls["call_and_wait"]["per_call_ns"]),
         "AVEO 10 us, VEO ~100 us, veo-stubs 77-111 us"),
        ("8-byte veo_write_mem", fmt_ns(xfer8["write"]["ns"]),
         "AVEO 12 us, VEO 97 us (1 byte)"),
        ("8-byte veo_read_mem", fmt_ns(xfer8["read"]["ns"]), "veo-stubs 40 ms"),
        ("Python lib.f(ctx, i).wait_result()", fmt_ns(py.get("openveo")),
         "ctypes %s, Pool(1).apply %s" % (fmt_ns(py.get("ctypes")), fmt_ns(py.get("pool")))),
        ("proc create + destroy", fmt_ns(vb["lifecycle"]["proc_create_destroy_ns"]), ""),
    ]
    for name, value, ref in rows:
        print("  %-44s %10s   %s" % (name, value, ref))

    app = (pb or {}).get("app_loop")
    if app:
        print("  %-44s %10s   in-process %s (%.3gx)" % (
            "Python time step (30 calls, 3 transfers)", fmt_ns(app["openveo_step_ns"]),
            fmt_ns(app["in_process_step_ns"]), app["ratio"]))

    placements(vb)
    openmp(vo)

    goals = (list(vb.get("goals", [])) + list((vo or {}).get("goals", []))
             + list((pb or {}).get("goals", [])))
    print("\n== goals (issues 4 and 15)")
    for g in goals:
        value = g["value"]
        print("  %-68s = %8s %-2s (goal %s %g) %s" % (
            g["name"], "%.3g" % value if value is not None else "-", g["unit"], g["op"],
            g["limit"], "PASS" if g["pass"] else "FAIL"))
    if not vo:
        print("  (no veo_omp figures: the OpenMP and VE heap goals were not measured)")
    if not pb:
        print("  (no py_bench figures: the Python goals were not measured)")
    elif pb.get("veo_error"):
        print("  (Python goals not measured: %s)" % pb["veo_error"])
    met = sum(1 for g in goals if g["pass"])
    print("  %d of %d goals met%s" % (met, len(goals),
                                       " (quick run)" if vb.get("quick") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
