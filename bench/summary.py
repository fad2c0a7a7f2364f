#!/usr/bin/env python3
"""summary.py: one table of every goal of issue 4, from the JSON that
veo_bench and py_bench wrote in this run, with PASS/FAIL beside each, and
the headline figures next to the published VEO and AVEO ones.

    python bench/summary.py [out/veo_bench.json] [out/py_bench.json]

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
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def main(argv):
    vb_path = argv[1] if len(argv) > 1 else os.path.join(HERE, "out", "veo_bench.json")
    pb_path = argv[2] if len(argv) > 2 else os.path.join(HERE, "out", "py_bench.json")
    vb, pb = load(vb_path), load(pb_path)
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

    goals = list(vb.get("goals", [])) + list((pb or {}).get("goals", []))
    print("\n== goals (issue 4)")
    for g in goals:
        value = g["value"]
        print("  %-62s = %8s %-2s (goal %s %g) %s" % (
            g["name"], "%.3g" % value if value is not None else "-", g["unit"], g["op"],
            g["limit"], "PASS" if g["pass"] else "FAIL"))
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
