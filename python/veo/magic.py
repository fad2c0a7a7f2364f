"""The %%veo cell magic: a kernel written in a notebook cell, callable at once.

    %load_ext veo

    %%veo
    double average(double *a, int n)
    {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += a[i];
        return s / n;
    }

    average(OnStack(a), a.size)          # runs on the proc's default context

The cell is compiled with VeBuild (C by default; --lang c++ or fortran;
--flags "..." adds compiler flags), loaded into a proc (one default proc
per notebook, started on first use; --proc NAME names another), and every
function it defines is declared from its prototype (veo.prototypes) and
bound in the notebook's namespace as a Kernel: calling it submits the call
and waits for the result; .submit(...) returns the VeoRequest; .function
is the VeoFunction. Rerunning the cell after an edit builds a new library
(its name carries a hash of the source and flags), binds the names to its
functions and unloads the library of the cell's earlier version once all
its functions are defined anew, so that kernels still bound to it fail
clearly (VeoError) instead of running old code; an unchanged cell is not
rebuilt. A compiler error shows as
a short cell error with the compiler's diagnostics.
"""
import hashlib
import os
import shlex
import tempfile

import veo
from veo import prototypes

_LANGS = {"c": "set_c_src", "c++": "set_cpp_src", "cpp": "set_cpp_src",
          "fortran": "set_ftn_src", "f90": "set_ftn_src"}


class CellBuildError(Exception):
    """A %%veo cell that did not build: shown as its message alone (IPython
    renders an exception's _render_traceback_ in place of the traceback)."""

    def _render_traceback_(self):
        return ["\x1b[0;31mCellBuildError\x1b[0m: " + str(self).splitlines()[0]] + \
            str(self).splitlines()[1:]


class Kernel:
    """A kernel bound by %%veo: call it like a Python function."""

    def __init__(self, function, proc, ctx, name):
        self.function, self.proc, self.ctx, self.__name__ = function, proc, ctx, name
        self.__doc__ = "%s, built by %%%%veo; runs on %r" % (function, ctx)

    def __call__(self, *args):
        """Runs the kernel with args and returns its result."""
        return self.function(self.ctx, *args).wait_result()

    def submit(self, *args):
        """Queues the kernel on the proc's default context; the VeoRequest."""
        return self.function(self.ctx, *args)

    def __repr__(self):
        return "<veo kernel %s in %r>" % (self.__name__, self.proc)


class _Procs:
    """The notebook's procs by name, each with its default context."""

    def __init__(self):
        self.procs = {}
        self.build_dir = None
        self.defined = {}  # (proc name, function name) -> the VeoLibrary defining it

    def get(self, name):
        entry = self.procs.get(name)
        if entry is not None and entry[0].alive:
            return entry
        proc = veo.VeoProc(0)
        entry = self.procs[name] = (proc, proc.open_context())
        return entry

    def directory(self):
        if self.build_dir is None:
            self.build_dir = tempfile.mkdtemp(prefix="veo_magic_")
        return self.build_dir


_procs = _Procs()


def _options(line):
    words = shlex.split(line)
    opts = {"lang": "c", "flags": None, "proc": "default"}
    i = 0
    while i < len(words):
        w = words[i]
        key, _, value = w.partition("=")
        if key in ("--lang", "--flags", "--proc"):
            if not value:
                if i + 1 >= len(words):
                    raise ValueError("%s needs a value" % key)
                i += 1
                value = words[i]
            opts[key[2:]] = value
        else:
            raise ValueError("unknown option %r (use --lang, --flags, --proc)" % w)
        i += 1
    opts["lang"] = opts["lang"].lower()
    if opts["lang"] not in _LANGS:
        raise ValueError("--lang must be c, c++ or fortran, not %r" % opts["lang"])
    return opts


def _declarations(lang, src):
    if lang in ("fortran", "f90"):
        return prototypes.scan_fortran(src)
    return prototypes.scan_c(src, cplusplus=lang in ("c++", "cpp"))


def build_cell(line, cell):
    """Builds and loads a cell; {python name: Kernel}. Raises ValueError for
    bad options and veo.VeBuildError when the compiler fails."""
    opts = _options(line)
    digest = hashlib.sha256(("%s\0%s\0%s" % (opts["lang"], opts["flags"], cell)).encode())
    label = "cell_" + digest.hexdigest()[:16]
    b = veo.VeBuild()
    b.set_build_dir(_procs.directory())
    getattr(b, _LANGS[opts["lang"]])(label, cell, flags=opts["flags"])
    so = os.path.abspath(b.build_so(label))  # an unchanged cell: nothing recompiled or relinked
    proc, ctx = _procs.get(opts["proc"])
    lib = proc.load_library(so)
    decls = _declarations(opts["lang"], cell)
    _retire(opts["proc"], proc, lib, [p.name for p in decls])
    kernels = {}
    for p in decls:
        f = lib.find_function(p.name)
        f.args_type(*p.arg_types)
        f.ret_type(p.ret)
        name = p.name[:-1] if opts["lang"] in ("fortran", "f90") and p.name.endswith("_") \
            else p.name
        kernels[name] = Kernel(f, proc, ctx, name)
    return kernels


def _retire(proc_name, proc, lib, names):
    """Records that lib now defines names; an earlier cell's library whose
    every function is defined anew is unloaded, so that its kernels, still
    bound to older names, fail clearly instead of running the old code
    (refused while one of them runs: then it stays)."""
    older = set()
    for n in names:
        prev = _procs.defined.get((proc_name, n))
        if prev is not None and prev is not lib:
            older.add(prev)
        _procs.defined[(proc_name, n)] = lib
    for old in older:
        if any(l is old for (pn, _), l in _procs.defined.items() if pn == proc_name):
            continue  # some of its functions are still the current ones
        try:
            proc.unload_library(old)
        except veo.VeoError:
            pass


def load_ipython_extension(ipython):
    """%load_ext veo: registers %%veo."""
    def veo_magic(line, cell):
        try:
            kernels = build_cell(line, cell)
        except ValueError as e:
            raise CellBuildError("%%%%veo: %s" % e) from None
        except veo.VeBuildError as e:
            raise CellBuildError("%%%%veo: the compiler failed:\n%s"
                                 % (e.output or str(e)).rstrip()) from None
        ipython.push(kernels)
        if not kernels:
            print("%%veo: built, but found no function to declare; use "
                  "veo.magic.procs() and load_library to reach it")

    veo_magic.__doc__ = __doc__
    ipython.register_magic_function(veo_magic, "cell", "veo")


def procs():
    """{name: (VeoProc, VeoCtxt)} of the procs %%veo started."""
    return dict(_procs.procs)
