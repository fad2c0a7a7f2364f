"""vebuild.py: compile kernels from Python source strings (py-veo's VeBuild).

VeBuild collects C, C++ and Fortran sources under labels, compiles each into
an object in a build directory and links them into a kernel library
(build_so) or into a worker with the kernels linked in (build_veorun, via
mk_veorun_static). No shell is involved: every tool runs from an argument
list, labels are checked to be plain file names, flags given as a string
are split with shlex after $VAR / ${VAR} are replaced by the environment's
values (py-veo ran its commands through a shell, which did that).

Compilers, in order of preference:
  1. the `compiler=` argument of set_c_src / set_cpp_src / set_ftn_src;
  2. the environment variables VE_CC (C), VE_CXX (C++), VE_FC (Fortran),
     split like a command line ("ccache gcc" works);
  3. NEC's ncc / nc++ / nfort, on PATH or in /opt/nec/ve/bin;
  4. the host's cc / c++ / gfortran (or gcc, clang, g++, clang++, flang).
Default flags for host compilers: -O3 (optimisation with vectorisation)
-fpic -pthread, plus -march=native when the compiler accepts it; NEC
compilers get -O2 -fpic -pthread. Flags given to set_*_src replace the
defaults; -fpic is added when missing (objects end up in shared objects or
position-independent workers). OpenMP is only used when asked for
(flags="-O3 -fopenmp"); it is then added to the default link flags too.

An object is rebuilt only when its source text, compiler or flags changed
(a hash of them is stored next to the object, LABEL.o.hash) or a file it
includes changed: the compiler writes the files it read into LABEL.o.d
(-MMD -MF, probed once per compiler), and a listed file newer than the
object, or gone, rebuilds it. gfortran writes dependency files only when it
preprocesses (-cpp); without that, Fortran INCLUDE lines are read from the
source instead (modules a source USEs are not tracked). A shared object is
relinked only when an object or the link command changed (LABEL.so.hash);
build_so(..., force=True) and build_veorun(..., force=True) rebuild
everything, e.g. after a library given in libs= changed.

Safety: build directories VeBuild creates are private to the user (mode
0700, every level it creates); an existing one that others may write into
(world-writable, or owned by someone else) is refused, since files in it
could be replaced under the build. Sources and hashes are written to a
fresh temporary file (random name, mode 0600) in the build directory and
renamed into place, so a file or symbolic link planted under a predictable
name is replaced, never written through. Probes run in a private temporary
directory. No tool runs through a shell.
"""
import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile

from veo import prototypes

__all__ = ["VeBuild", "VeBuildError"]

_NEC_BIN = "/opt/nec/ve/bin"

# language: (file suffix, environment variable, NEC compiler, host compilers)
_LANGS = {
    "C": (".c", "VE_CC", "ncc", ("cc", "gcc", "clang")),
    "C++": (".cpp", "VE_CXX", "nc++", ("c++", "g++", "clang++")),
    "F": (".f90", "VE_FC", "nfort", ("gfortran", "flang")),
}
_TEST_SRC = {
    "C": "int vebuild_probe(void) { return 0; }\n",
    "C++": "int vebuild_probe() { return 0; }\n",
    "F": "subroutine vebuild_probe()\nend subroutine vebuild_probe\n",
}

# A label becomes file names (label.c, label.o, label.so): letters, digits,
# '_', '.', '+', '-', not starting with '.' or '-', no '/'.
_LABEL_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*\Z")

_march_native_ok = {}  # (compiler argv, language) -> bool


class VeBuildError(RuntimeError):
    """A compile or link step failed.

    Attributes: ``cmd`` (the argument list that ran), ``returncode`` and
    ``output`` (what the tool printed, stdout and stderr together); the
    message includes the output.
    """

    def __init__(self, message, cmd=None, output="", returncode=None):
        text = message
        if output:
            text += "\n" + output.rstrip()
        super().__init__(text)
        self.cmd = cmd
        self.output = output
        self.returncode = returncode


_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand_env(text):
    """$VAR and ${VAR} in text replaced by the environment's value ("" when
    unset), as a shell would do it, but nothing else a shell does: no
    commands, no globbing. Text inside single quotes is left alone."""
    parts = re.split(r"('[^']*')", text)
    for i in range(0, len(parts), 2):
        parts[i] = _VAR_RE.sub(
            lambda m: os.environ.get(m.group(1) or m.group(2), ""), parts[i])
    return "".join(parts)


def _as_args(value, what):
    """A flags/libs/compiler value as an argument list (str: $VAR expanded,
    then split like a command line; list: each item $VAR-expanded, one
    argument each)."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(_expand_env(value))
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, str) for v in value):
            raise TypeError("%s must be a string or a list of strings" % what)
        return [_expand_env(v) for v in value]
    raise TypeError("%s must be a string or a list of strings, not %s"
                    % (what, type(value).__name__))


def _source_text(content, src, fn):
    """The source text given to set_*_src as `content` (py-veo's name) or
    as `src` (openveo's earlier name), exactly one of them."""
    if content is not None and src is not None:
        raise TypeError("%s(): give the source once, as content= or src=, not both" % fn)
    text = content if content is not None else src
    if text is None:
        raise TypeError("%s(): missing the source text (content=...)" % fn)
    return text


def _check_label(label):
    if not isinstance(label, str) or not _LABEL_RE.match(label):
        raise ValueError(
            "invalid label %r: a label names files, so use letters, digits, "
            "'_', '.', '+' and '-' (not starting with '.' or '-')" % (label,))
    return label


def _find_nec(name):
    path = shutil.which(name)
    if path:
        return path
    path = os.path.join(_NEC_BIN, name)
    if os.access(path, os.X_OK):
        return path
    return None


def default_compiler(lang):
    """The compiler argv for language "C", "C++" or "F" (see the module doc)."""
    suffix, env, nec, hosts = _LANGS[lang]
    from_env = os.environ.get(env)
    if from_env and from_env.strip():
        return shlex.split(from_env)
    path = _find_nec(nec)
    if path:
        return [path]
    for name in hosts:
        path = shutil.which(name)
        if path:
            return [path]
    raise VeBuildError("no %s compiler found: install one of %s or set %s"
                       % ({"C": "C", "C++": "C++", "F": "Fortran"}[lang],
                          ", ".join((nec,) + hosts), env))


def _is_nec(compiler):
    return os.path.basename(compiler[0]) in ("ncc", "nc++", "nfort")


def _accepts_march_native(compiler, lang):
    key = (tuple(compiler), lang)
    if key not in _march_native_ok:
        with tempfile.TemporaryDirectory(prefix="vebuild-") as tmp:
            src = os.path.join(tmp, "probe" + _LANGS[lang][0])
            with open(src, "w") as f:
                f.write(_TEST_SRC[lang])
            try:
                p = subprocess.run(compiler + ["-march=native", "-c", src, "-o",
                                               os.path.join(tmp, "probe.o")],
                                   cwd=tmp, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                _march_native_ok[key] = p.returncode == 0
            except OSError:
                _march_native_ok[key] = False
    return _march_native_ok[key]


def default_flags(compiler, lang):
    """Default compile flags for a compiler argv and language."""
    if _is_nec(compiler):
        return ["-O2", "-fpic", "-pthread"]
    flags = ["-O3", "-fpic", "-pthread"]
    if _accepts_march_native(compiler, lang):
        flags.append("-march=native")
    return flags


_dep_files_ok = {}  # (compiler argv, language, flags) -> bool


def _writes_dep_files(compiler, lang, flags):
    """Whether `compiler ... -MMD -MF file` writes a dependency file."""
    key = (tuple(compiler), lang, tuple(flags))
    if key not in _dep_files_ok:
        with tempfile.TemporaryDirectory(prefix="vebuild-") as tmp:
            src = os.path.join(tmp, "probe" + _LANGS[lang][0])
            dep = os.path.join(tmp, "probe.o.d")
            with open(src, "w") as f:
                f.write(_TEST_SRC[lang])
            try:
                p = subprocess.run(compiler + flags + ["-MMD", "-MF", dep, "-c", src, "-o",
                                                       os.path.join(tmp, "probe.o")],
                                   cwd=tmp, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                _dep_files_ok[key] = p.returncode == 0 and os.path.isfile(dep)
            except OSError:
                _dep_files_ok[key] = False
    return _dep_files_ok[key]


def _make_deps(text):
    """The prerequisites of a make rule as compilers write them ("obj: a b \\
    c"), with backslash-escaped spaces."""
    text = text.replace("\\\n", " ")
    colon = re.search(r":(\s|$)", text)
    if not colon:
        return []
    deps, cur, i, body = [], "", 0, text[colon.end():]
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body) and body[i + 1] in " #":
            cur += body[i + 1]
            i += 2
            continue
        if ch.isspace():
            if cur:
                deps.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        deps.append(cur)
    return deps


_FORTRAN_INCLUDE_RE = re.compile(r"""^\s*include\s*['"]([^'"]+)['"]""", re.I | re.M)


def _fortran_includes(text, builddir, flags):
    """The files a Fortran source INCLUDEs, found as gfortran finds them
    (the source's directory, then each -I directory); missing ones left
    out (the compiler reports them)."""
    dirs = [builddir] + [f[2:] for f in flags if f.startswith("-I") and len(f) > 2]
    found = []
    for name in _FORTRAN_INCLUDE_RE.findall(text):
        for d in dirs:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                found.append(os.path.abspath(path))
                break
    return found


def _deps_newer(builddir, depfile, obj):
    """Whether a file listed in depfile (paths relative to builddir) is gone
    or newer than obj. No depfile: nothing known, so False."""
    try:
        with open(depfile) as f:
            deps = _make_deps(f.read())
        obj_mtime = os.stat(obj).st_mtime_ns
    except OSError:
        return False
    for dep in deps:
        try:
            if os.stat(os.path.join(builddir, dep)).st_mtime_ns > obj_mtime:
                return True
        except OSError:
            return True
    return False


def _write_private(path, text):
    """Writes text to path by way of a new file with a random name in the
    same directory (mode 0600), renamed over path: whatever was at path, a
    symbolic link included, is replaced, never written through."""
    d, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp", dir=d or ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _make_private_dirs(d):
    """Creates d and its missing parents with mode 0700; returns the
    topmost directory it created (None if d existed)."""
    missing = []
    p = os.path.abspath(d)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    top = None
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:
            if not os.path.isdir(p):
                raise
            continue
        if top is None:
            top = p
    return top


def _check_private_dir(d):
    """Refuses a build directory that others could write files into."""
    st = os.stat(d)
    if not stat.S_ISDIR(st.st_mode):
        raise VeBuildError("the build directory %r is not a directory" % d)
    if st.st_uid != os.getuid():
        raise VeBuildError(
            "the build directory %r belongs to another user (uid %d): files in it "
            "could be replaced under the build; use a directory of your own "
            "(set_build_dir)" % (d, st.st_uid))
    if st.st_mode & stat.S_IWOTH:
        raise VeBuildError(
            "the build directory %r is writable by everyone: files in it could be "
            "replaced under the build; use a private directory (set_build_dir)" % d)
    if not os.access(d, os.R_OK | os.W_OK | os.X_OK):
        raise VeBuildError("the build directory %r is not writable" % d)


def _run(cmd, cwd, verbose, env=None, what="command"):
    if verbose:
        print(" ".join(shlex.quote(c) for c in cmd))
    try:
        p = subprocess.run(cmd, cwd=cwd or None, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace")
    except OSError as e:
        raise VeBuildError("cannot run %s (%s): %s" % (cmd[0], what, e), cmd=cmd) from None
    if verbose and p.stdout:
        print(p.stdout, end="" if p.stdout.endswith("\n") else "\n")
    if p.returncode != 0:
        raise VeBuildError("%s failed (exit status %d): %s"
                           % (what, p.returncode, " ".join(shlex.quote(c) for c in cmd)),
                           cmd=cmd, output=p.stdout, returncode=p.returncode)
    return p.stdout


class _Source:
    def __init__(self, lang, text, flags, compiler):
        if not isinstance(text, str):
            raise TypeError("the source must be a str, not %s" % type(text).__name__)
        self.lang = lang
        self.text = text
        self.flags = _as_args(flags, "flags")
        self.compiler = _as_args(compiler, "compiler")
        if self.compiler is not None and not self.compiler:
            raise ValueError("compiler must not be empty")

    def command(self, label):
        compiler = self.compiler or default_compiler(self.lang)
        flags = self.flags if self.flags is not None else default_flags(compiler, self.lang)
        if not any(f in ("-fpic", "-fPIC") for f in flags):
            flags = flags + ["-fpic"]
        return compiler + flags + ["-c", label + _LANGS[self.lang][0], "-o", label + ".o"]

    def dep_args(self, cmd, label):
        """What makes the compile command write LABEL.o.d, or [] if this
        compiler cannot (cmd: the command() argument list)."""
        head = cmd[:cmd.index("-c")] if "-c" in cmd else cmd
        compiler = self.compiler or default_compiler(self.lang)
        flags = head[len(compiler):]
        if _writes_dep_files(compiler, self.lang, flags):
            return ["-MMD", "-MF", label + ".o.d"]
        return []

    def uses_openmp(self):
        return any(f in ("-fopenmp", "-qopenmp", "-mp") for f in (self.flags or ()))


class VeBuild:
    """Builds kernels from source strings.

    ::

        bld = VeBuild()
        bld.set_build_dir("_ve_build")
        bld.set_c_src("_average", C_SOURCE)
        so = bld.build_so()          # "_ve_build/_average.so"
        lib = proc.load_library(os.path.abspath(so))

    Files are written to the build directory (the current directory until
    set_build_dir is called): LABEL.c/.cpp/.f90, LABEL.o, LABEL.o.hash, and
    the outputs.
    """

    def __init__(self):
        self._src = {}       # label -> _Source, in the order they were set
        self._blddir = ""
        self._created_dir = None
        self._built = []     # outputs, removed by realclean()
        self._generated = set()  # labels of the prototype sources written

    def __repr__(self):
        return "<VeBuild %s in %r>" % (
            ", ".join("%s (%s)" % (k, v.lang) for k, v in self._src.items()) or "no sources",
            self._blddir or ".")

    # -- sources ---------------------------------------------------------
    def set_c_src(self, label, content=None, flags=None, compiler=None, *, src=None):
        """Adds (or replaces) the C source `content` under `label`.

        content: the source text (py-veo's name; `src=` is accepted too).
        flags: compile flags (a string or a list) replacing the defaults;
        compiler: the compiler (a string or an argv list) instead of the
        default (VE_CC, ncc, cc). $VAR and ${VAR} in flags and compiler are
        replaced by the environment's values now (as py-veo's shell did;
        no shell runs).
        """
        self._src[_check_label(label)] = _Source(
            "C", _source_text(content, src, "set_c_src"), flags, compiler)

    def set_cpp_src(self, label, content=None, flags=None, compiler=None, *, src=None):
        """Adds (or replaces) the C++ source `content` under `label` (see
        set_c_src; the default compiler is VE_CXX, nc++ or c++). Kernels
        called from VEO need extern "C" linkage."""
        self._src[_check_label(label)] = _Source(
            "C++", _source_text(content, src, "set_cpp_src"), flags, compiler)

    def set_ftn_src(self, label, content=None, flags=None, compiler=None, *, src=None):
        """Adds (or replaces) the Fortran (free form, .f90) source `content`
        under `label` (see set_c_src; the default compiler is VE_FC, nfort
        or gfortran). gfortran names a subroutine `foo` "foo_" and passes
        arguments by reference."""
        self._src[_check_label(label)] = _Source(
            "F", _source_text(content, src, "set_ftn_src"), flags, compiler)

    def set_build_dir(self, dirname):
        """Sets the directory for sources, objects and outputs. It is created
        (mode 0700, with any missing parents) when a build needs it; an
        existing directory must be the user's own and not writable by
        everyone."""
        dirname = os.fspath(dirname)
        if not isinstance(dirname, str) or not dirname:
            raise ValueError("the build directory must be a non-empty path")
        self._blddir = dirname

    # -- building --------------------------------------------------------
    def _dir(self):
        return self._blddir or "."

    def _path(self, name):
        return os.path.join(self._blddir, name) if self._blddir else name

    def _prepare_dir(self):
        d = self._dir()
        if _make_private_dirs(d) is not None and self._created_dir is None:
            self._created_dir = d  # realclean removes it (not parents it made)
        _check_private_dir(d)

    def _compile(self, label, src, verbose, force=False):
        cmd = src.command(label)
        srcname = label + _LANGS[src.lang][0]
        digest = hashlib.sha256(
            repr((cmd, src.lang)).encode() + b"\0" + src.text.encode()).hexdigest()
        obj = os.path.join(self._dir(), label + ".o")
        hashfile = obj + ".hash"
        try:
            with open(hashfile) as f:
                if (not force and f.read().strip() == digest and os.path.isfile(obj)
                        and not self._includes_changed(label, obj)):
                    if verbose:
                        print("%s: up to date" % self._path(label + ".o"))
                    return
        except OSError:
            pass
        path = os.path.join(self._dir(), srcname)
        _write_private(path, src.text)
        for stale in (hashfile, obj + ".d"):
            try:
                os.unlink(stale)
            except OSError:
                pass
        deps = src.dep_args(cmd, label)
        _run(cmd + deps, self._dir(), verbose, what="compiling %s" % self._path(srcname))
        if not deps and src.lang == "F":
            self._write_fortran_deps(label, src, cmd)
        _write_private(hashfile, digest + "\n")

    # -- dependencies (the files a source includes) ----------------------
    def _includes_changed(self, label, obj):
        """Whether a file the object's source included changed since (its
        dependency file LABEL.o.d, written at the compile)."""
        return _deps_newer(self._dir(), obj + ".d", obj)

    def _write_fortran_deps(self, label, src, cmd):
        """LABEL.o.d for a Fortran compiler that writes none: the INCLUDE
        lines of the source."""
        incs = _fortran_includes(src.text, self._dir(), cmd)
        if incs:
            _write_private(os.path.join(self._dir(), label + ".o.d"),
                           label + ".o: " + " ".join(p.replace(" ", "\\ ") for p in incs)
                           + "\n")

    def _compile_all(self, verbose, force=False):
        if not self._src:
            raise VeBuildError("no sources: call set_c_src, set_cpp_src or set_ftn_src first")
        self._prepare_dir()
        for label, src in self._src.items():
            # py-veo's progress lines, with verbose=True; a failure raises
            # VeBuildError (py-veo prints "-> failed" and returns None).
            try:
                self._compile(label, src, verbose, force)
            except VeBuildError:
                if verbose:
                    print("compile %s -> failed" % label)
                raise
            if verbose:
                print("compile %s -> ok" % label)


    def _link_digest(self, cmd):
        """A hash of the link command and of the objects it links (their
        modification times and sizes)."""
        h = hashlib.sha256(repr(cmd).encode())
        for lbl in self._src:
            st = os.stat(os.path.join(self._dir(), lbl + ".o"))
            h.update(repr((lbl, st.st_mtime_ns, st.st_size, st.st_ino)).encode())
        return h.hexdigest()

    def _link_up_to_date(self, cmd, out, force, verbose):
        """Whether `out` was linked by cmd from the objects as they are now
        (LABEL.so.hash), so that an unchanged build leaves the file, and a
        proc that loaded it, alone."""
        hashfile = os.path.join(self._dir(), out + ".hash")
        if force or not os.path.isfile(os.path.join(self._dir(), out)):
            return False
        try:
            with open(hashfile) as f:
                if f.read().strip() != self._link_digest(cmd):
                    return False
        except OSError:
            return False
        if verbose:
            print("%s: up to date" % self._path(out))
        return True

    def _link_done(self, cmd, out):
        _write_private(os.path.join(self._dir(), out + ".hash"), self._link_digest(cmd) + "\n")

    def _link_forget(self, out):
        try:
            os.unlink(os.path.join(self._dir(), out + ".hash"))
        except OSError:
            pass

    def _linker(self, linker):
        if linker is not None:
            return _as_args(linker, "linker")
        langs = {s.lang for s in self._src.values()}
        lang = "C++" if "C++" in langs else "F" if "F" in langs else "C"
        for s in self._src.values():
            if s.lang == lang and s.compiler:
                return list(s.compiler)
        return default_compiler(lang)

    def _output_label(self, label):
        if label is None:
            if not self._src:
                raise VeBuildError("no sources: call set_c_src, set_cpp_src or "
                                   "set_ftn_src first")
            label = next(iter(self._src))
        return _check_label(label)

    def _link_flags(self, flags):
        if flags is not None:
            return _as_args(flags, "flags")
        extra = ["-fopenmp"] if any(s.uses_openmp() for s in self._src.values()) else []
        return ["-pthread"] + extra

    def build_so(self, label=None, flags=None, libs=[], linker=None, verbose=False, *,
                 force=False, prototypes=True):
        """Compiles the sources that changed and links all of them into a
        shared object; returns its path, build_dir + "/" + label + ".so".

        label: name of the output; None means the label of the first source
        set. flags: link flags (string or list) instead of the default
        "-pthread" (plus -fopenmp if a source was compiled with it); -shared
        is always given. libs: libraries to link, e.g. ["-lm"]. linker: the
        program that links (default: the C++ compiler if there are C++
        sources, else the Fortran compiler if there are Fortran sources,
        else the C compiler). verbose: print commands and their output, and
        "compile LABEL -> ok" per source. $VAR and ${VAR} in flags, libs and
        linker come from the environment. force: recompile every source and
        relink, changed or not (sources are otherwise recompiled when they,
        their flags or a file they include changed, and the library relinked
        when an object did). prototypes: record the prototypes of the
        functions the sources define in the library (veo.prototypes), so
        that load_library declares them (False: leave them undeclared).
        Raises VeBuildError (a RuntimeError) with the tool's output.
        """
        out = self._output_label(label) + ".so"
        self._compile_all(verbose, force)
        protos = self._prototypes_object(out, verbose, force) if prototypes else []
        cmd = (self._linker(linker) + ["-shared"] + self._link_flags(flags) +
               ["-o", out] + [lbl + ".o" for lbl in self._src] + protos +
               (_as_args(libs, "libs") or []))
        if not self._link_up_to_date(cmd, out, force, verbose):
            self._link_forget(out)
            _run(cmd, self._dir(), verbose, what="linking %s" % self._path(out))
            self._link_done(cmd, out)
        path = self._path(out)
        if path not in self._built:
            self._built.append(path)
        return path

    def _prototypes_object(self, out, verbose, force):
        """[the object] holding the prototypes of the functions the sources
        define (veo.prototypes), linked into the library so that
        load_library declares them; [] when there are none, or no C
        compiler to build it with."""
        protos = []
        for src in self._src.values():
            protos += prototypes.scan_source(src.lang, src.text)
        if not protos:
            return []
        label = out[:-len(".so")] + ".prototypes"
        try:
            default_compiler("C")
        except VeBuildError:
            return []
        self._generated.add(label)
        self._compile(label, _Source("C", prototypes.section_source(protos), None, None),
                      verbose, force)
        return [label + ".o"]

    def build_veorun(self, label=None, flags=None, libs=[], verbose=False, linker=None, *,
                     force=False):
        """Compiles the sources that changed and links them into a worker of
        one's own with mk_veorun_static; returns its path,
        build_dir + "/" + label + ".veorun". Start it with
        VeoProc(node, veorun_bin=path); its kernels are in
        proc.static_library().

        The positional order is py-veo's: (label, flags, libs, verbose).
        flags and libs are passed to the link (e.g. flags="-fopenmp",
        libs=["-lm"]); verbose prints commands, their output and a
        "compile LABEL -> ok" line per source; linker is the program mk_veorun_static links with
        (its $CC, the whole argument list quoted as one command line;
        default as for build_so). mk_veorun_static is the one installed in
        the veo package, else the one on PATH. force: recompile every
        source, changed or not.
        """
        out = self._output_label(label) + ".veorun"
        self._compile_all(verbose, force)
        mk = _find_mk_veorun_static()
        link = self._linker(linker)
        # mk_veorun_static splits $CC like a command line ("ccache gcc").
        env = dict(os.environ, CC=shlex.join(link))
        if flags is not None:
            extra = _as_args(flags, "flags")
        else:
            extra = ["-fopenmp"] if any(s.uses_openmp() for s in self._src.values()) else []
        cmd = ([mk, "-o", out] + [lbl + ".o" for lbl in self._src] +
               (_as_args(libs, "libs") or []) + extra)
        _run(cmd, self._dir(), verbose, env=env, what="linking %s" % self._path(out))
        path = self._path(out)
        if path not in self._built:
            self._built.append(path)
        return path

    # -- cleaning --------------------------------------------------------
    def clean(self):
        """Removes the sources, objects and hashes written for the current
        labels (not the built .so / .veorun files)."""
        labels = [(label, _LANGS[src.lang][0]) for label, src in self._src.items()]
        labels += [(label, ".c") for label in sorted(self._generated)]
        for label, suffix in labels:
            for name in (label + suffix, label + ".o", label + ".o.hash", label + ".o.d"):
                try:
                    os.unlink(os.path.join(self._dir(), name))
                except OSError:
                    pass
        self._generated = set()

    def clear(self):
        """clean(), then forgets the sources and the build directory."""
        self.clean()
        self._src = {}
        self._blddir = ""
        self._created_dir = None

    def realclean(self):
        """clean(), removes the outputs built by this object, and removes the
        build directory if this object created it."""
        self.clean()
        for path in list(self._built):
            for name in (path, path + ".hash"):
                try:
                    os.unlink(name)
                except OSError:
                    pass
            self._built.remove(path)
        if self._created_dir and os.path.isdir(self._created_dir):
            shutil.rmtree(self._created_dir, ignore_errors=True)
            self._created_dir = None


def _find_mk_veorun_static():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mk_veorun_static")
    if os.access(here, os.X_OK):
        return here
    path = shutil.which("mk_veorun_static")
    if path:
        return path
    raise VeBuildError("mk_veorun_static not found (expected at %s or on PATH)" % here)
