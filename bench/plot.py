#!/usr/bin/env python3
"""plot.py: draws the benchmark figures as SVG, for a reader to look at
instead of the tables.

Reads the JSON that veo_bench (required) and py_bench (optional) wrote and
writes three charts, each with logarithmic axes:

- latency.svg:   time per call against N, in AVEO's four call patterns, with
                 the shared-cache-line floor, the Python figures of this run
                 and the published VEO / AVEO / veo-stubs figures beside them;
- bandwidth.svg: GB/s against transfer size: memcpy and the four transfers;
- transfer_time.svg: time per transfer against size, with the published
                 one-byte write of VEO and AVEO and veo-stubs' figures;
- placements.svg: time per call against N in each placement of the host
                 thread and the worker (unpinned, apart, one CPU), with the
                 paired floor and the same-CPU futex round trip;
- medium.svg:    the medium kernels (5 us to 3 ms): the tax per call
                 (openveo - in-process) and the host thread's CPU while it
                 waits, against D, in each placement, with the goals;
- app_loop.svg:  py_bench's time step (30 calls, 3 transfers), openveo
                 against in-process, every trial;
- omp.svg:       veo_omp's ratios: each OpenMP kernel and team size through
                 openveo / in-process, and the worker's triad on VE heap /
                 on malloc'ed pages in both orders of allocation, every pair
                 of trials and the medians, with the goals (a linear axis).

The SVG is written by hand (no plotting library): a few primitives and a
log-log axes object that maps data to the page.

    python bench/plot.py [--veo out/veo_bench.json] [--py out/py_bench.json]
                         [--omp out/veo_omp.json] [--out out/]
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Published figures the issue judges openveo against (time in ns).
VEO_CALL_NS = 100e3             # NEC VEO, per call
VEO_WRITE_1B_NS = 97e3          # NEC VEO, one-byte write
AVEO_PIPELINED_NS = 5.6e3       # AVEO on VE10B, per pipelined call
AVEO_CALL_WAIT_NS = 10e3        # AVEO on VE10B, call and wait
AVEO_WRITE_1B_NS = 12e3         # AVEO on VE10B, one-byte write
STUBS_CALL_NS = (77e3, 111e3)   # veo-stubs on this machine, per call
STUBS_WRITE_1MIB_GBPS = 0.006   # veo-stubs, 1 MiB write
STUBS_READ_8B_NS = 40e6         # veo-stubs, 8-byte read

# Okabe-Ito colours: distinguishable with every common colour blindness.
COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
STUBS = "#882255"  # veo-stubs, wherever it appears


# ---- a minimal SVG writer ----------------------------------------------------

def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    """An SVG document built from a few primitives, written out at the end."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.items = []

    def line(self, x1, y1, x2, y2, colour="#000", width=1, dash=None, opacity=1):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.items.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" '
                          'stroke-width="%g" stroke-opacity="%g"%s/>'
                          % (x1, y1, x2, y2, colour, width, opacity, d))

    def polyline(self, points, colour, width=2, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        pts = " ".join("%.1f,%.1f" % p for p in points)
        self.items.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="%g" '
                          'stroke-linejoin="round"%s/>' % (pts, colour, width, d))

    def marker(self, x, y, colour, shape=0, size=4):
        """A data point: circle, square, triangle or diamond (by shape % 4)."""
        s = size
        shape %= 4
        if shape == 0:
            self.items.append('<circle cx="%.1f" cy="%.1f" r="%g" fill="%s"/>' % (x, y, s, colour))
        elif shape == 1:
            self.items.append('<rect x="%.1f" y="%.1f" width="%g" height="%g" fill="%s"/>'
                              % (x - s, y - s, 2 * s, 2 * s, colour))
        else:
            pts = ([(x, y - s * 1.3), (x + s * 1.2, y + s), (x - s * 1.2, y + s)] if shape == 2
                   else [(x, y - s * 1.4), (x + s * 1.2, y), (x, y + s * 1.4), (x - s * 1.2, y)])
            self.items.append('<polygon points="%s" fill="%s"/>'
                              % (" ".join("%.1f,%.1f" % p for p in pts), colour))

    def rect(self, x, y, w, h, fill="none", stroke="none", opacity=1):
        self.items.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" '
                          'fill-opacity="%g" stroke="%s"/>' % (x, y, w, h, fill, opacity, stroke))

    def text(self, x, y, text, size=12, anchor="start", colour="#222", weight="normal",
             rotate=None):
        r = ' transform="rotate(%g %.1f %.1f)"' % (rotate, x, y) if rotate else ""
        self.items.append('<text x="%.1f" y="%.1f" font-size="%g" text-anchor="%s" fill="%s" '
                          'font-weight="%s"%s>%s</text>'
                          % (x, y, size, anchor, colour, weight, r, esc(text)))

    def save(self, path):
        with open(path, "w") as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">\n'
                    % (self.width, self.height, self.width, self.height))
            f.write('<rect width="100%" height="100%" fill="white"/>\n')
            for item in self.items:
                f.write(item + "\n")
            f.write("</svg>\n")


# ---- log-log axes ------------------------------------------------------------

def fmt_ns(ns):
    """3 significant digits: "61.9 ns", "5.6 us", "100 ms"."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fmt_size(b):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            return "%g %s" % (b / scale, unit)
    return "%g B" % b


def fmt_count(n):
    return "{:,}".format(int(n)) if n >= 1 else "%g" % n


def fmt_plain(v):
    return "%g" % v


class LogAxes:
    """A plot area with logarithmic x and y axes, drawn on an Svg.

    x and y ticks are at powers of xbase / ybase; the ranges are widened to
    whole powers so that every tick has a label."""

    def __init__(self, svg, box, xlim, ylim, xbase=10, ybase=10):
        self.svg = svg
        self.x0, self.y0, self.w, self.h = box
        self.xbase, self.ybase = xbase, ybase
        self.xlo, self.xhi = self._widen(xlim, xbase)
        self.ylo, self.yhi = self._widen(ylim, ybase)

    @staticmethod
    def _widen(lim, base):
        lo, hi = lim
        return (base ** math.floor(math.log(lo, base) + 1e-9),
                base ** math.ceil(math.log(hi, base) - 1e-9))

    def px(self, x):
        f = math.log(x / self.xlo) / math.log(self.xhi / self.xlo)
        return self.x0 + f * self.w

    def py(self, y):
        f = math.log(y / self.ylo) / math.log(self.yhi / self.ylo)
        return self.y0 + self.h - f * self.h

    def inside_y(self, y):
        return self.ylo <= y <= self.yhi

    def frame(self, title, xlabel, ylabel, xfmt, yfmt):
        s = self.svg
        # grid: powers of the base, and 2..9 between decades of a base-10 axis
        for axis, (lo, hi, base) in (("x", (self.xlo, self.xhi, self.xbase)),
                                     ("y", (self.ylo, self.yhi, self.ybase))):
            v = lo
            while v <= hi * 1.0001:
                if axis == "x":
                    s.line(self.px(v), self.y0, self.px(v), self.y0 + self.h, "#ccc")
                    s.text(self.px(v), self.y0 + self.h + 16, xfmt(v), 11, "middle")
                else:
                    s.line(self.x0, self.py(v), self.x0 + self.w, self.py(v), "#ccc")
                    s.text(self.x0 - 6, self.py(v) + 4, yfmt(v), 11, "end")
                if base == 10 and v < hi:
                    for m in range(2, 10):
                        if axis == "x":
                            s.line(self.px(v * m), self.y0, self.px(v * m), self.y0 + self.h,
                                   "#eee")
                        else:
                            s.line(self.x0, self.py(v * m), self.x0 + self.w, self.py(v * m),
                                   "#eee")
                v *= base
        s.rect(self.x0, self.y0, self.w, self.h, stroke="#444")
        s.text(self.x0 + self.w / 2, self.y0 - 14, title, 15, "middle", weight="bold")
        s.text(self.x0 + self.w / 2, self.y0 + self.h + 38, xlabel, 12, "middle")
        s.text(self.x0 - 62, self.y0 + self.h / 2, ylabel, 12, "middle",
               rotate=-90)

    def series(self, points, colour, shape, dash=None):
        pts = [(self.px(x), self.py(y)) for x, y in points if x > 0 and y and y > 0]
        if len(pts) > 1:
            self.svg.polyline(pts, colour, 2, dash)
        for x, y in pts:
            self.svg.marker(x, y, colour, shape)

    def hline(self, y, colour, dash, width=1.5):
        if self.inside_y(y):
            self.svg.line(self.x0, self.py(y), self.x0 + self.w, self.py(y), colour, width, dash)

    def band(self, y1, y2, colour):
        y1, y2 = max(y1, self.ylo), min(y2, self.yhi)
        if y1 < y2:
            self.svg.rect(self.x0, self.py(y2), self.w, self.py(y1) - self.py(y2), colour,
                          opacity=0.18)

    def point_label(self, x, y, text, colour):
        if self.inside_y(y):
            self.svg.marker(self.px(x), self.py(y), colour, 3, 5)
            self.svg.text(self.px(x) + 9, self.py(y) + 4, text, 11, colour=colour)


class Legend:
    """Entries stacked at (x, y): a line sample (with a marker or a dash
    pattern) and its text."""

    def __init__(self, svg, x, y, title=None):
        self.svg, self.x, self.y = svg, x, y
        if title:
            svg.text(x, y, title, 12, weight="bold")
            self.y += 18

    def entry(self, text, colour, shape=None, dash=None, band=False):
        s, x, y = self.svg, self.x, self.y
        if band:
            s.rect(x, y - 7, 26, 10, colour, opacity=0.3)
        else:
            s.line(x, y - 2, x + 26, y - 2, colour, 2, dash)
        if shape is not None:
            s.marker(x + 13, y - 2, colour, shape)
        for i, line in enumerate(text.split("\n")):
            s.text(x + 34, y + 2 + 14 * i, line, 11)
        self.y += 18 + 14 * text.count("\n")


# ---- the charts ----------------------------------------------------------------

def latency_chart(vb, pb, path):
    svg = Svg(960, 540)
    floor = vb["floors"]["round_trip_ns"]
    py = (pb or {}).get("per_call_ns", {})
    values = [p["per_call_ns"] for c in vb["calls"] for p in c["points"] if p["per_call_ns"]]
    values += [floor, VEO_CALL_NS, STUBS_CALL_NS[1]] + [v for v in py.values() if v]
    ns = [p["n"] for p in vb["calls"][0]["points"]]
    ax = LogAxes(svg, (90, 50, 560, 420), (min(ns), max(ns)), (min(values), max(values)))
    ax.frame("Time per call of an empty kernel (openveo %s, %s)" % (
        vb.get("openveo", "").replace("openveo ", ""), vb.get("date", "")[:10]),
        "N (calls per trial)", "time per call (log)", fmt_count, fmt_ns)

    leg = Legend(svg, 670, 60, "openveo, this run")
    for i, c in enumerate(vb["calls"]):
        ax.series([(p["n"], p["per_call_ns"]) for p in c["points"]], COLOURS[i], i)
        leg.entry("%d: %s" % (c["pattern"], c["name"]), COLOURS[i], i)

    leg.y += 8
    leg.svg.text(leg.x, leg.y, "references", 12, weight="bold")
    leg.y += 18
    ax.hline(floor, "#000", None, 1.2)
    leg.entry("floor: shared cache line\nround trip (%s)" % fmt_ns(floor), "#000")
    refs = [("openveo", "py-veo call+wait (Python)", COLOURS[4]),
            ("ctypes", "ctypes in-process (Python)", COLOURS[5]),
            ("pool", "Pool(1).apply (Python)", "#777")]
    for key, label, colour in refs:
        if py.get(key):
            ax.hline(py[key], colour, "6,3", 1.8)
            leg.entry("%s\n%s" % (label, fmt_ns(py[key])), colour, dash="6,3")
    ax.hline(AVEO_PIPELINED_NS, COLOURS[0], "2,3", 1.8)
    leg.entry("AVEO pipelined 5.6 us\n(published, VE10B)", COLOURS[0], dash="2,3")
    ax.hline(AVEO_CALL_WAIT_NS, COLOURS[1], "2,3", 1.8)
    leg.entry("AVEO call+wait 10 us\n(published, VE10B)", COLOURS[1], dash="2,3")
    ax.hline(VEO_CALL_NS, "#000", "2,3", 1.8)
    leg.entry("NEC VEO ~100 us per call", "#000", dash="2,3")
    ax.band(STUBS_CALL_NS[0], STUBS_CALL_NS[1], STUBS)
    leg.entry("veo-stubs 77-111 us\n(this machine)", STUBS, band=True)
    svg.save(path)


XFER_STYLE = {"write": (COLOURS[0], 0, None), "read": (COLOURS[1], 1, None),
              "async_write": (COLOURS[2], 2, "6,3"), "async_read": (COLOURS[3], 3, "6,3")}


def bandwidth_chart(vb, path):
    svg = Svg(960, 540)
    mc = vb["floors"]["memcpy"]
    values = [p["gbps"] for p in mc] + [p["gbps"] for t in vb["transfers"] for p in t["points"]]
    values.append(STUBS_WRITE_1MIB_GBPS)
    sizes = [p["size"] for p in mc]
    ax = LogAxes(svg, (90, 50, 560, 420), (min(sizes), max(sizes)),
                 (min(v for v in values if v), max(values)), xbase=16)
    ax.frame("Transfer bandwidth, host <-> memory from veo_alloc_mem",
             "transfer size", "GB/s (log)", fmt_size, fmt_plain)
    leg = Legend(svg, 670, 60, "this run")
    ax.series([(p["size"], p["gbps"]) for p in mc], "#000", 0, "2,2")
    leg.entry("memcpy, host to host\n(the floor)", "#000", 0, "2,2")
    for t in vb["transfers"]:
        colour, shape, dash = XFER_STYLE.get(t["key"], ("#777", 0, None))
        ax.series([(p["size"], p["gbps"]) for p in t["points"]], colour, shape, dash)
        leg.entry(t["name"], colour, shape, dash)
    leg.y += 8
    svg.text(leg.x, leg.y, "references", 12, weight="bold")
    leg.y += 18
    ax.point_label(1 << 20, STUBS_WRITE_1MIB_GBPS, "veo-stubs, 1 MiB write", STUBS)
    leg.entry("veo-stubs 1 MiB write\n0.006 GB/s (this machine)", STUBS, 3)
    svg.save(path)


def transfer_time_chart(vb, path):
    svg = Svg(960, 540)
    mc = vb["floors"]["memcpy"]
    floor = vb["floors"]["round_trip_ns"]
    stubs_1mib_ns = (1 << 20) / STUBS_WRITE_1MIB_GBPS
    values = [p["ns"] for p in mc] + [p["ns"] for t in vb["transfers"] for p in t["points"]]
    values += [floor, VEO_WRITE_1B_NS, STUBS_READ_8B_NS, stubs_1mib_ns]
    sizes = [p["size"] for p in mc]
    ax = LogAxes(svg, (90, 50, 560, 420), (1, max(sizes)),
                 (min(v for v in values if v), max(values)), xbase=16)
    ax.frame("Time per transfer, host <-> memory from veo_alloc_mem",
             "transfer size", "time per transfer (log)", fmt_size, fmt_ns)
    leg = Legend(svg, 670, 60, "this run")
    ax.series([(p["size"], p["ns"]) for p in mc], "#000", 0, "2,2")
    leg.entry("memcpy, host to host", "#000", 0, "2,2")
    for t in vb["transfers"]:
        colour, shape, dash = XFER_STYLE.get(t["key"], ("#777", 0, None))
        ax.series([(p["size"], p["ns"]) for p in t["points"]], colour, shape, dash)
        leg.entry(t["name"], colour, shape, dash)
    ax.hline(floor, "#000", None, 1.0)
    leg.entry("floor: shared cache line\nround trip (%s)" % fmt_ns(floor), "#000")
    leg.y += 8
    svg.text(leg.x, leg.y, "references", 12, weight="bold")
    leg.y += 18
    ax.point_label(1, VEO_WRITE_1B_NS, "NEC VEO 1-byte write", "#000")
    leg.entry("NEC VEO 1-byte write 97 us", "#000", 3)
    ax.point_label(1, AVEO_WRITE_1B_NS, "AVEO 1-byte write", COLOURS[0])
    leg.entry("AVEO 1-byte write 12 us\n(published, VE10B)", COLOURS[0], 3)
    ax.point_label(8, STUBS_READ_8B_NS, "veo-stubs 8-byte read", STUBS)
    ax.point_label(1 << 20, stubs_1mib_ns, "veo-stubs 1 MiB write", STUBS)
    leg.entry("veo-stubs (this machine):\n8 B read 40 ms, 1 MiB write", STUBS, 3)
    svg.save(path)


PLACE_STYLE = {"unpinned": (COLOURS[6], 0, None), "apart": (COLOURS[0], 1, None),
               "same": (COLOURS[1], 2, "6,3")}
PLACE_LABEL = {"unpinned": "unpinned", "apart": "apart (CPU 0 / CPU 1)",
               "same": "one CPU (CPU 0)"}


def placements_chart(vb, path):
    """One panel per placement: the four call patterns against N."""
    pls = vb["placements"]
    svg = Svg(1240, 520)
    values = [p["per_call_ns"] for pl in pls for c in pl["calls"] for p in c["points"]
              if p["per_call_ns"]]
    values += [pl[k] for pl in pls for k in ("round_trip_paired_ns", "futex_round_trip_ns")
               if pl.get(k)]
    values += [2 * pl["futex_round_trip_ns"] for pl in pls if pl.get("futex_round_trip_ns")]
    ns = [p["n"] for p in pls[0]["calls"][0]["points"]]
    for i, pl in enumerate(pls):
        ax = LogAxes(svg, (80 + i * 330, 76, 260, 360), (min(ns), max(ns)),
                     (min(values), max(values)))
        ax.frame(PLACE_LABEL.get(pl["key"], pl["key"]), "N (calls per trial)",
                 "time per call (log)" if i == 0 else "", fmt_count, fmt_ns)
        for j, c in enumerate(pl["calls"]):
            ax.series([(p["n"], p["per_call_ns"]) for p in c["points"]], COLOURS[j], j)
        ax.hline(pl["round_trip_paired_ns"], "#000", None, 1.2)
        if pl.get("futex_round_trip_ns"):
            ax.hline(pl["futex_round_trip_ns"], COLOURS[4], "6,3", 1.8)
            ax.hline(2 * pl["futex_round_trip_ns"], COLOURS[4], "2,3", 1.8)
    svg.text(560, 22, "Time per call of an empty kernel in each placement (openveo %s, %s)" % (
        vb.get("openveo", "").replace("openveo ", ""), vb.get("date", "")[:10]),
        15, "middle", weight="bold")
    leg = Legend(svg, 1060, 86, "patterns")
    for j, c in enumerate(pls[0]["calls"]):
        leg.entry("%d: %s" % (c["pattern"], c["name"]), COLOURS[j], j)
    leg.y += 8
    svg.text(leg.x, leg.y, "references", 12, weight="bold")
    leg.y += 18
    leg.entry("floor: shared cache line\nround trip (paired)", "#000")
    leg.entry("futex round trip,\none CPU", COLOURS[4], dash="6,3")
    leg.entry("2x futex round trip:\none CPU's goal", COLOURS[4], dash="2,3")
    svg.save(path)


def medium_chart(vb, path):
    """Left: tax per call against D; right: host CPU while waiting / D."""
    pls = vb["placements"]
    svg = Svg(1100, 520)
    ds = [m["d_us"] for m in pls[0]["medium"]]
    taxes = [m["tax_ns"] for pl in pls for m in pl["medium"] if m["tax_ns"] and m["tax_ns"] > 0]
    # the goal: 1 us at 5 us, 2% of D from 20 us on
    goal_tax = [(d, 1e3 if d < 20 else 0.02 * d * 1e3) for d in ds]
    taxes += [t for _, t in goal_tax]
    ax = LogAxes(svg, (90, 50, 360, 380), (min(ds), max(ds)), (min(taxes), max(taxes)))
    ax.frame("Tax per call: openveo - in-process", "kernel duration D (us)",
             "tax per call (log)", fmt_plain, fmt_ns)
    for pl in pls:
        colour, shape, dash = PLACE_STYLE.get(pl["key"], ("#777", 3, None))
        ax.series([(m["d_us"], m["tax_ns"]) for m in pl["medium"]], colour, shape, dash)
    pts = [(ax.px(d), ax.py(t)) for d, t in goal_tax]
    svg.polyline(pts, "#000", 1.5, "2,3")

    cpus = [100 * m["host_cpu_fraction"] for pl in pls for m in pl["medium"]
            if m["host_cpu_fraction"] and m["host_cpu_fraction"] > 0] + [10]
    bx = LogAxes(svg, (560, 50, 360, 380), (min(ds), max(ds)), (min(cpus), max(cpus)))
    bx.frame("Host thread's CPU while waiting", "kernel duration D (us)",
             "CPU time / D, % (log)", fmt_plain, fmt_plain)
    for pl in pls:
        colour, shape, dash = PLACE_STYLE.get(pl["key"], ("#777", 3, None))
        bx.series([(m["d_us"], 100 * m["host_cpu_fraction"]) for m in pl["medium"]],
                  colour, shape, dash)
    if bx.inside_y(10):
        svg.line(bx.px(100), bx.py(10), bx.px(max(ds)), bx.py(10), "#000", 1.5, "2,3")

    leg = Legend(svg, 940, 60, "placement")
    for pl in pls:
        colour, shape, dash = PLACE_STYLE.get(pl["key"], ("#777", 3, None))
        leg.entry(PLACE_LABEL.get(pl["key"], pl["key"]), colour, shape, dash)
    leg.y += 8
    leg.entry("goal: 1 us at 5 us,\n2% of D from 20 us;\n10% of D from 100 us",
              "#000", dash="2,3")
    svg.text(90, 500, "Medium kernels: compute of D us called N times in a row (call + wait), "
             "against the same in-process; medians of interleaved trial pairs. "
             "Points at or below zero tax are left out.", 11)
    svg.save(path)


def app_loop_chart(pb, path):
    """Every trial of the time-step loop as a point on a time axis, one row
    for openveo and one for in-process, with the medians and the goal."""
    app = pb["app_loop"]
    svg = Svg(860, 300)
    rows = [("in-process (ctypes)", app["trials_in_process_step_ns"],
             app["in_process_step_ns"], COLOURS[2], 0),
            ("openveo", app["trials_openveo_step_ns"], app["openveo_step_ns"], COLOURS[0], 1)]
    vals = [t for _, ts, _, _, _ in rows for t in ts]
    ax = LogAxes(svg, (170, 50, 520, 170), (min(vals) / 1.05, max(vals) * 1.05), (1, 10),
                 xbase=2)
    ax.frame("Python time step: 30 calls of 5-100 us and 3 transfers, every trial",
             "time per step (log)", "", fmt_ns, lambda v: "")
    for i, (label, ts, med, colour, shape) in enumerate(rows):
        y = 2.5 if i == 0 else 6
        svg.text(ax.x0 - 8, ax.py(y) + 4, label, 12, "end")
        for t in ts:
            svg.marker(ax.px(t), ax.py(y), colour, shape, 3)
        svg.line(ax.px(med), ax.py(y) - 14, ax.px(med), ax.py(y) + 14, colour, 2.5)
    goal = app["in_process_step_ns"] * 1.05
    svg.line(ax.px(goal), ax.y0, ax.px(goal), ax.y0 + ax.h, "#000", 1.5, "2,3")
    leg = Legend(svg, 710, 70)
    leg.entry("median", "#444")
    leg.entry("goal: 1.05x the\nin-process median", "#000", dash="2,3")
    svg.text(170, 285, "openveo / in-process, median of per-pair ratios: %.3fx (%d pairs of "
             "%d steps)" % (app["ratio"], app["trials"], app["steps_per_trial"]), 12)
    svg.save(path)


class RatioPanel:
    """A plot area for ratios near 1: categories along x, a linear y axis
    from lo to hi with a grid at a round step. Values beyond the axis are
    drawn at its edge."""

    def __init__(self, svg, box, ncat, lo, hi):
        self.svg = svg
        self.x0, self.y0, self.w, self.h = box
        self.ncat = ncat
        span = hi - lo
        self.step = next(s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1)
                         if span / s <= 10)
        self.lo = math.floor(lo / self.step + 1e-9) * self.step
        self.hi = math.ceil(hi / self.step - 1e-9) * self.step

    def cx(self, i):
        """The centre of category i."""
        return self.x0 + (i + 0.5) * self.w / self.ncat

    def py(self, y):
        y = min(max(y, self.lo), self.hi)
        return self.y0 + self.h - (y - self.lo) / (self.hi - self.lo) * self.h

    def frame(self, title, ylabel, labels):
        s = self.svg
        v = self.lo
        while v <= self.hi + 1e-9:
            s.line(self.x0, self.py(v), self.x0 + self.w, self.py(v),
                   "#999" if abs(v - 1) < 1e-9 else "#ddd")
            s.text(self.x0 - 6, self.py(v) + 4, "%g" % round(v, 3), 11, "end")
            v += self.step
        s.rect(self.x0, self.y0, self.w, self.h, stroke="#444")
        s.text(self.x0 + self.w / 2, self.y0 - 14, title, 15, "middle", weight="bold")
        s.text(self.x0 - 46, self.y0 + self.h / 2, ylabel, 12, "middle", rotate=-90)
        for i, label in enumerate(labels):
            for k, line in enumerate(label.split("\n")):
                s.text(self.cx(i), self.y0 + self.h + 16 + 14 * k, line, 11, "middle")

    def goal(self, limit, text):
        y = self.py(limit)
        self.svg.line(self.x0, y, self.x0 + self.w, y, "#000", 1.5, "2,3")
        self.svg.text(self.x0 + self.w + 6, y + 4, text, 11)  # right of the frame

    def category(self, i, trials, med, colour, shape):
        """Every trial of category i as a small point (spread sideways so
        that equal values stay visible), the median as a bar, its value
        under the category's two-line label."""
        s, x = self.svg, self.cx(i)
        half = 0.3 * self.w / self.ncat
        for k, r in enumerate(trials):
            if r is None:
                continue
            dx = half * (((k * 7) % 11) / 10.0 - 0.5)
            out = not (self.lo <= r <= self.hi)
            s.marker(x + dx, self.py(r), colour, 2 if out else shape, 2.5)
        if med is not None:
            s.line(x - half, self.py(med), x + half, self.py(med), colour, 3)
            s.text(x, self.y0 + self.h + 48, "%.3fx" % med, 12, "middle", colour,
                   weight="bold")


def omp_chart(vo, path):
    """Left: each OpenMP kernel and team, openveo / in-process; right: the
    worker's triad, VE heap / malloc'ed, in each order of allocation."""
    svg = Svg(1040, 540)
    cases, orders = vo.get("openmp", []), vo.get("ve_heap", [])
    values = [r for c in cases + orders for r in c.get("pair_ratios", []) if r is not None]
    values += [c["ratio"] for c in cases + orders if c.get("ratio") is not None]
    # the axis spans the goals and 1, and the trials up to 0.5x-2x
    lo = max(0.5, min(values + [0.95]))
    hi = min(2.0, max(values + [1.1]))
    if cases:
        ax = RatioPanel(svg, (80, 50, 520, 360), len(cases), lo, hi)
        ax.frame("OpenMP kernels: openveo / in-process", "ratio (linear)",
                 ["%s\nT=%s" % (c["kernel"], c["threads"] or "default") for c in cases])
        ax.goal(1.05, "goal: 1.05x")
        for i, c in enumerate(cases):
            colour = COLOURS[0] if c["kernel"] == "triad" else COLOURS[1]
            ax.category(i, c.get("pair_ratios", []), c.get("ratio"), colour, i % 2)
    if orders:
        bx = RatioPanel(svg, (710, 50, 240, 360), len(orders), lo, hi)
        bx.frame("Worker's triad: VE heap / malloc", "",
                 ["%s\nfirst" % o["allocated_first"].replace("_", " ") for o in orders])
        bx.goal(1.02, "goal: 1.02x")
        for i, o in enumerate(orders):
            bx.category(i, o.get("pair_ratios", []), o.get("ratio"), COLOURS[2 + i], 0)
    settings = vo.get("settings", {})
    notes = ["Points: the ratio of every pair of interleaved trials (a triangle at the "
             "axis's edge: beyond it); bars: their medians, the figures judged.",
             "Triad over 3 x %s MiB, compute %g us at one thread, called back to back; "
             "VE heap against malloc: one worker thread, 3 x %s MiB each." % (
                 settings.get("triad_array_mib", "?"), settings.get("compute_us", 0),
                 settings.get("ve_heap_array_mib", "?")),
             "openveo %s, %s%s" % (vo.get("openveo", "").replace("openveo ", ""),
                                   vo.get("date", "")[:10],
                                   ", quick run" if vo.get("quick") else "")]
    for k, note in enumerate(notes):
        svg.text(80, 486 + 16 * k, note, 11)
    svg.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--veo", default=os.path.join(HERE, "out", "veo_bench.json"))
    ap.add_argument("--py", default=os.path.join(HERE, "out", "py_bench.json"))
    ap.add_argument("--omp", default=os.path.join(HERE, "out", "veo_omp.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="directory for the SVGs")
    args = ap.parse_args()

    try:
        with open(args.veo) as f:
            vb = json.load(f)
    except OSError as e:
        print("plot.py: cannot read %s (%s): run veo_bench first" % (args.veo, e.strerror),
              file=sys.stderr)
        return 1
    pb = None
    if os.path.exists(args.py):
        with open(args.py) as f:
            pb = json.load(f)
    vo = None
    if os.path.exists(args.omp):
        with open(args.omp) as f:
            vo = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    written = []
    charts = [("latency.svg", lambda p: latency_chart(vb, pb, p)),
              ("bandwidth.svg", lambda p: bandwidth_chart(vb, p)),
              ("transfer_time.svg", lambda p: transfer_time_chart(vb, p))]
    if vb.get("placements"):
        charts += [("placements.svg", lambda p: placements_chart(vb, p)),
                   ("medium.svg", lambda p: medium_chart(vb, p))]
    if (pb or {}).get("app_loop"):
        charts.append(("app_loop.svg", lambda p: app_loop_chart(pb, p)))
    if vo and (vo.get("openmp") or vo.get("ve_heap")):
        charts.append(("omp.svg", lambda p: omp_chart(vo, p)))
    for name, draw in charts:
        path = os.path.join(args.out, name)
        draw(path)
        written.append(path)
    print("plots written: %s" % ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
