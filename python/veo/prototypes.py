"""C prototypes for kernels: argument and result types from a declaration.

    lib.average.prototype("double average(const double *a, int n)")

declares what args_type("double *", "int") and ret_type("double") would.
`parse` reads one declaration; `scan_c` finds the functions a C (or C++,
inside extern "C") source defines, which VeBuild records in the library
it builds (a section named .veo_prototypes holding one declaration per
line), and `read_library` reads them back, so that load_library declares
every such function by itself. No compiler is involved: the reader knows
C's declaration syntax for the types a kernel can be called with (the
integer and floating types, fixed-width and size types, pointers to
anything, arrays as parameters, function pointers), and names the token it
cannot read. Fortran sources are scanned by `scan_fortran` for what their
declarations say (see its doc).
"""
import re
import struct

__all__ = ["Prototype", "PrototypeError", "parse", "scan_c", "scan_fortran",
           "scan_source", "read_library", "declare", "SECTION"]

SECTION = ".veo_prototypes"


class PrototypeError(ValueError):
    """A declaration this reader cannot read; the message names the token."""


class Prototype:
    """A function's name, result type and (type, name or None) parameters."""

    __slots__ = ("name", "ret", "params")

    def __init__(self, name, ret, params):
        self.name, self.ret, self.params = name, ret, list(params)

    @property
    def arg_types(self):
        return [t for t, _ in self.params]

    @property
    def arg_names(self):
        return [n or "arg%d" % i for i, (_, n) in enumerate(self.params)]

    def declaration(self):
        """One line of C, which parse() reads back as this prototype."""
        args = ", ".join("%s %s" % (t, n) for t, n in zip(self.arg_types, self.arg_names))
        return "%s %s(%s)" % (self.ret, self.name, args or "void")

    def __eq__(self, other):
        return (isinstance(other, Prototype) and
                (self.name, self.ret, self.params) == (other.name, other.ret, other.params))

    def __repr__(self):
        return "Prototype(%r)" % self.declaration()


# ---- reading one declaration ----------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\.\.\.)|([A-Za-z_]\w*)|(\d\w*)|(\S))")
_QUALIFIERS = {"const", "volatile", "restrict", "__restrict", "__restrict__"}
_IGNORED = {"extern", "static", "inline", "__inline", "__inline__", "register"}
_BASIC = {"void", "char", "short", "int", "long", "signed", "unsigned", "float", "double",
          "_Bool", "bool"}
_NAMED = {"int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t",
          "uint64_t", "size_t", "ssize_t", "ptrdiff_t", "intptr_t", "uintptr_t", "off_t"}
_TAGS = {"struct", "union", "enum"}


def _tokens(text):
    out, pos = [], 0
    text = text.strip().rstrip(";").strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        tok = m.group(m.lastindex)
        if m.group(4) and tok not in "*(),[]":
            raise PrototypeError("cannot read %r in %r" % (tok, text))
        out.append(tok)
        pos = m.end()
    return out


def _skip_attributes(toks):
    """toks without __attribute__((...)) and __declspec(...) groups."""
    out, i = [], 0
    while i < len(toks):
        if toks[i] in ("__attribute__", "__declspec", "__asm__", "asm"):
            i += 1
            depth = 0
            while i < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[i], 0)
                i += 1
                if depth == 0:
                    break
            continue
        out.append(toks[i])
        i += 1
    return out


def _type_of(words, stars, where):
    """The type name args_type takes, from a type's words and its stars."""
    words = [w for w in words if w not in _QUALIFIERS and w not in _IGNORED]
    if not words:
        raise PrototypeError("no type in %s" % where)
    if words[0] in _TAGS:
        if len(words) != 2:
            raise PrototypeError("cannot read %r in %s" % (" ".join(words), where))
        if stars:
            return "%s %s %s" % (words[0], words[1], "*" * stars)
        if words[0] == "enum":
            return "int"
        raise PrototypeError("%s %s is passed by value in %s: only pointers to structs "
                             "and unions can be passed" % (words[0], words[1], where))
    for w in words:
        if w not in _BASIC and w not in _NAMED:
            if stars:  # a pointer to a type we need not know
                return "%s %s" % (" ".join(words), "*" * stars)
            raise PrototypeError("unknown type %r in %s (a typedef? declare it with "
                                 "args_type)" % (w, where))
    base = " ".join(words)
    return "%s %s" % (base, "*" * stars) if stars else base


def _split_type_and_name(toks, where, allow_name=True):
    """(type, name or None) of a parameter's (or a result's) tokens."""
    # A function pointer: type ( * name ) ( ... ), passed as a pointer.
    if "(" in toks:
        i = toks.index("(")
        if toks[i + 1:i + 2] == ["*"] and ")" in toks[i:]:
            inner = [t for t in toks[i + 2:toks.index(")", i)] if t not in _QUALIFIERS]
            return "void *", inner[-1] if inner else None
        raise PrototypeError("cannot read '(' in %s" % where)
    words, stars, i = [], 0, 0
    while i < len(toks):
        t = toks[i]
        if t == "*":
            stars += 1
        elif t == "[":  # an array parameter is a pointer
            if "]" not in toks[i:]:
                raise PrototypeError("missing ']' in %s" % where)
            stars += 1
            i = toks.index("]", i)
        elif re.match(r"[A-Za-z_]\w*$", t):
            if t not in _QUALIFIERS and t not in _IGNORED:
                words.append(t)
        else:
            raise PrototypeError("cannot read %r in %s" % (t, where))
        i += 1
    # The last word names the parameter when the words before it make a
    # type: "int n", "size_t len", "struct abc *p"; not "unsigned long",
    # "struct abc" or a lone "size_t".
    name = None
    if len(words) >= 2 and words[-1] not in _BASIC and words[-1] not in _NAMED and \
            words[:-1] not in (["struct"], ["union"], ["enum"]):
        name = words.pop()
        if not allow_name:
            raise PrototypeError("cannot read %r in %s" % (name, where))
    return _type_of(words, stars, where), name


def parse(decl):
    """The Prototype of one C declaration, e.g. "double average(double *a, int n)"."""
    if isinstance(decl, bytes):
        decl = decl.decode()
    toks = _skip_attributes(_tokens(decl))
    if "(" not in toks or toks[-1] != ")":
        raise PrototypeError("not a function declaration: %r" % decl)
    i = toks.index("(")
    if i == 0 or not re.match(r"[A-Za-z_]\w*$", toks[i - 1]):
        raise PrototypeError("no function name before '(' in %r" % decl)
    name = toks[i - 1]
    head = toks[:i - 1]
    ret, _ = _split_type_and_name(head, "the result of %s" % name, allow_name=False)
    params, depth, cur = [], 0, []
    for t in toks[i + 1:-1]:
        if t == "," and depth == 0:
            params.append(cur)
            cur = []
            continue
        depth += {"(": 1, ")": -1}.get(t, 0)
        cur.append(t)
    if cur or params:
        params.append(cur)
    if params == [["void"]]:
        params = []
    out = []
    for n, p in enumerate(params, 1):
        where = "parameter %d of %s" % (n, name)
        if p == ["..."]:
            raise PrototypeError("cannot read '...' in %s: a variadic kernel takes "
                                 "args_type with the types of one call" % where)
        if not p:
            raise PrototypeError("empty %s" % where)
        t, pname = _split_type_and_name(p, where)
        if t == "void":
            raise PrototypeError("void %s" % where)
        out.append((t, pname))
    return Prototype(name, ret, out)


# ---- the functions a source defines ---------------------------------------

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


def _strip(src):
    """src without comments, string contents and preprocessor lines."""
    src = _COMMENT.sub(" ", src)
    src = re.sub(r"\\\n", " ", src)
    src = "\n".join("" if line.lstrip().startswith("#") else line for line in src.split("\n"))
    return src


def scan_c(src, cplusplus=False):
    """Prototypes of the functions src defines and exports: not static ones,
    not those a reader cannot read (those keep needing args_type); in C++,
    only those with C linkage (extern "C" or inside an extern "C" block)."""
    src = _strip(src)
    protos, depth, start, i = [], 0, 0, 0
    c_blocks = []  # depths at which an extern "C" { block opened
    text = _STRING.sub(lambda m: '"C"' if m.group(0) == '"C"' else '""', src)
    while i < len(text):
        ch = text[i]
        if ch == "{":
            head = text[start:i].strip()
            if depth == len(c_blocks) and re.fullmatch(r'(?s).*\bextern\s*"C"\s*', head):
                c_blocks.append(depth)
                depth += 1
                start = i + 1
                i += 1
                continue
            if depth == len(c_blocks) and head.endswith(")"):
                linkage_c = not cplusplus or bool(c_blocks) or re.match(r'extern\s*"C"', head)
                decl = re.sub(r'^\s*extern\s*"C"\s*', "", head)
                if linkage_c and not re.search(r"\bstatic\b", decl):
                    try:
                        protos.append(parse(decl))
                    except PrototypeError:
                        pass
            depth += 1
        elif ch == "}":
            depth -= 1
            if c_blocks and c_blocks[-1] == depth:
                c_blocks.pop()
            if depth == len(c_blocks):
                start = i + 1
        elif ch == ";" and depth == len(c_blocks):
            start = i + 1
        i += 1
    return protos


_FTN_TYPES = {
    "integer": "int", "integer(4)": "int", "integer(kind=4)": "int",
    "integer(8)": "long", "integer(kind=8)": "long", "integer(c_int)": "int",
    "integer(c_long)": "long", "integer(c_int64_t)": "long",
    "real": "float", "real(4)": "float", "real(kind=4)": "float", "real(c_float)": "float",
    "real(8)": "double", "real(kind=8)": "double", "real(c_double)": "double",
    "double precision": "double", "doubleprecision": "double",
}


def scan_fortran(src):
    """What Fortran declarations say, for functions and subroutines whose
    arguments all have a declared type this reader knows (integer, real,
    double precision, of kinds 4 and 8): a `value` argument is passed as
    itself, any other by reference (a pointer); a name gets gfortran's
    trailing underscore unless bind(c) is given (bind(c, name=...) is not
    followed). Logical, character, complex and derived types, and
    interfaces, are not declared: they keep needing args_type."""
    protos = []
    lines = [re.sub(r"!.*", "", l).strip().lower() for l in src.split("\n")]
    unit = re.compile(r"^(?:(.*?)\s+)?(function|subroutine)\s+(\w+)\s*\(([^)]*)\)\s*(.*)$")
    i = 0
    while i < len(lines):
        m = unit.match(lines[i])
        if not m or lines[i].startswith("end"):
            i += 1
            continue
        prefix, kind, name, args, rest = m.groups()
        args = [a.strip() for a in args.split(",") if a.strip()]
        result = re.search(r"result\s*\(\s*(\w+)\s*\)", rest)
        result_name = result.group(1) if result else name
        decls = {}
        j = i + 1
        while j < len(lines) and not re.match(r"end\b", lines[j]):
            d = re.match(r"^(integer(?:\s*\([^)]*\))?|real(?:\s*\([^)]*\))?|"
                         r"double\s*precision)\s*(,[^:]*)?::\s*(.*)$", lines[j])
            if d:
                ftype = re.sub(r"\s+", "", d.group(1)).replace("doubleprecision",
                                                                "double precision")
                attrs = d.group(2) or ""
                for v in re.split(r",(?![^(]*\))", d.group(3)):
                    decls[re.match(r"\s*(\w+)", v).group(1)] = (ftype, "value" in attrs,
                                                               "(" in v or "dimension" in attrs)
            j += 1
        i = j
        ctype = None
        if kind == "function":
            p = re.sub(r"\s+", "", prefix or "").replace("doubleprecision", "double precision")
            ftype = p if p in _FTN_TYPES else decls.get(result_name, (None,))[0]
            ctype = _FTN_TYPES.get(ftype)
            if ctype is None:
                continue
        params, ok = [], True
        for a in args:
            if a not in decls or decls[a][0] not in _FTN_TYPES:
                ok = False
                break
            ftype, by_value, array = decls[a]
            t = _FTN_TYPES[ftype]
            params.append((t if by_value and not array else t + " *", a))
        if not ok:
            continue
        cname = name if "bind(c" in rest.replace(" ", "") else name + "_"
        protos.append(Prototype(cname, ctype or "void", params))
    return protos


def scan_source(lang, text):
    """The prototypes a source in lang ("C", "C++" or "F", VeBuild's names) gives."""
    if lang == "F":
        return scan_fortran(text)
    return scan_c(text, cplusplus=lang == "C++")


# ---- in the library file ----------------------------------------------------

def section_source(protos):
    """A C source that puts protos into the library's SECTION."""
    text = "".join(p.declaration() + ";\n" for p in protos)
    body = ", ".join(str(b) for b in text.encode()) or "0"
    return ('__attribute__((section("%s"), used))\n'
            "static const unsigned char veo_prototypes[] = { %s, 0 };\n" % (SECTION, body))


def read_library(path):
    """The prototypes recorded in the library at path ([] if none: not built by
    VeBuild, or not a 64-bit little-endian ELF file)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if data[:6] != b"\x7fELF\x02\x01":
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if not shoff or shstrndx >= shnum:
        return []

    def section(k):
        return struct.unpack_from("<IIQQQQ", data, shoff + k * shentsize)

    strtab = section(shstrndx)
    names = data[strtab[4]:strtab[4] + strtab[5]]
    for k in range(shnum):
        name_off, _, _, _, off, size = section(k)
        end = names.find(b"\0", name_off)
        if names[name_off:end] == SECTION.encode():
            text = data[off:off + size].split(b"\0", 1)[0].decode()
            out = []
            for line in text.splitlines():
                try:
                    out.append(parse(line))
                except PrototypeError:
                    pass
            return out
    return []


def declare(lib):
    """Declares the functions of a VeoLibrary whose prototypes its file
    records (VeoProc.load_library calls this for every library it loads);
    a recorded function the library does not export is skipped. Returns
    the names declared."""
    from veo import VeoSymbolError  # the package imports this module

    path = str(lib.name)
    if path == "__static__":
        return []
    names = []
    for p in read_library(path):
        try:
            f = lib.find_function(p.name)
        except VeoSymbolError:
            continue
        f.prototype(p.declaration())  # the types, and the names for signatures
        names.append(p.name)
    return names
