"""py-veo's later API, as a script written for it uses it: VeoArgs with
ctx.call_async, VEO_HMEM and the proc's hmem methods, set_proc_identifier,
i64_to_addr, proc_destroy, context_close, tid, get_ve_arch, the conversion
helpers ConvToI64 / ConvFromI64, and veo.logging."""
import io
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

import veo
import veo.logging
from veo import VEO_HMEM, ConvFromI64, ConvToI64, OnStack, VeoArgs, VeoProc

# Kernels of this file only: a context's thread id, and hmem users.
LATER_C = r"""
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

long my_tid(void) { return (long)syscall(SYS_gettid); }

/* buf[i] = start + i for n int32_t values (buf: an hmem pointer the
 * binding passed with set_hmem, so the kernel gets the VE address). */
void iota32(int32_t *buf, int n, int32_t start)
{
    for (int i = 0; i < n; i++)
        buf[i] = start + i;
}
"""

VE_TAG = 1 << 63
IDENT_MASK = 0xF << 59


@pytest.fixture(scope="module")
def later_lib(proc, tmp_path_factory):
    bld = veo.VeBuild()
    bld.set_build_dir(str(tmp_path_factory.mktemp("later")))
    bld.set_c_src("later", content=LATER_C)
    return proc.load_library(os.path.abspath(bld.build_so()))


# ---------------------------------------------------------------------------
# VeoArgs and ctx.call_async
# ---------------------------------------------------------------------------
def test_veoargs_setters_reach_the_kernel_as_their_c_types(ctx, kernel):
    mix = kernel("mix", ["int", "double", "float", "long", "unsigned char", "short"],
                 "double")
    args = VeoArgs()
    args.set_i32(0, 3)
    args.set_double(1, 0.25)
    args.set_float(2, 0.5)
    args.set_i64(3, -2)
    args.set_u8(4, 7)
    args.set_i16(5, -9)
    assert ctx.call_async(mix, args).wait_result() == 3 * 100000 + 0.25 + 0.5 - 2000 + 70 - 9


@pytest.mark.parametrize("setter,name,value", [
    ("set_i8", "echo_i8", -128), ("set_u8", "echo_u8", 255),
    ("set_i16", "echo_i16", -32768), ("set_u16", "echo_u16", 65535),
    ("set_i32", "echo_i32", -2**31), ("set_u32", "echo_u32", 2**32 - 1),
    ("set_i64", "echo_i64", -2**63), ("set_u64", "echo_u64", 2**64 - 1),
])
def test_each_integer_setter_at_the_edge_of_its_range(ctx, lib, setter, name, value):
    f = lib.find_function(name)
    args = VeoArgs()
    getattr(args, setter)(0, value)
    # By address: the result is the raw 64-bit word, read with ConvFromI64.
    word = ctx.call_async(f.addr, args).wait_result()
    reader = {"set_i8": ConvFromI64.to_char, "set_u8": ConvFromI64.to_uchar,
              "set_i16": ConvFromI64.to_short, "set_u16": ConvFromI64.to_ushort,
              "set_i32": ConvFromI64.to_int, "set_u32": ConvFromI64.to_uint,
              "set_i64": ConvFromI64.to_long, "set_u64": ConvFromI64.to_ulong}[setter]
    assert reader(word) == value


def test_veoargs_refuses_values_out_of_range_and_bad_argnums():
    args = VeoArgs()
    with pytest.raises(OverflowError, match="set_i8"):
        args.set_i8(0, 128)
    with pytest.raises(OverflowError, match="set_u32"):
        args.set_u32(0, -1)
    with pytest.raises(OverflowError):
        args.set_u64(0, 2**64)
    with pytest.raises(TypeError, match="float"):
        args.set_i32(0, 1.5)
    with pytest.raises(ValueError, match="argnum 256"):
        args.set_i64(256, 1)
    with pytest.raises(ValueError, match="argnum -1"):
        args.set_double(-1, 1.0)
    with pytest.raises(TypeError):
        args.set_double(0, "1.0")
    args.set_i32(0, np.int16(5))  # numpy integers are integers


def test_set_stack_with_an_onstack_inout(ctx, kernel):
    scale = kernel("scale", ["double *", "int", "double"], "void")
    a = np.arange(5, dtype=np.float64)
    args = VeoArgs()
    args.set_stack(OnStack(a, inout=veo.VEO_INTENT_INOUT), 0)
    args.set_i32(1, a.size)
    args.set_double(2, 3.0)
    assert len(args.stacks) == 1
    assert ctx.call_async(scale, args).wait_result() is None
    assert a.tolist() == [0.0, 3.0, 6.0, 9.0, 12.0]


def test_set_stack_in_the_2018_order_intent_argnum_buffer_size(ctx, kernel):
    fill = kernel("fill", ["int32_t *", "int", "int"], "void")
    out = np.zeros(4, dtype=np.int32)
    args = VeoArgs()
    args.set_stack(veo.VEO_INTENT_OUT, 0, out, out.nbytes)
    args.set_i32(1, 4)
    args.set_i32(2, 10)
    req = ctx.call_async(fill, args)
    del args  # the request holds the buffer until its result is collected
    req.wait_result()
    assert out.tolist() == [10, 11, 12, 13]


def test_set_stack_raw_address_form(ctx, kernel):
    sum_bytes = kernel("sum_bytes", ["unsigned char *", "long"], "long")
    data = bytes(range(1, 11))
    os_ = OnStack(data)
    args = VeoArgs()
    args.set_stack(veo.VEO_INTENT_IN, 0, os_.c_pointer(), os_.size())
    args.set_i64(1, len(data))
    assert ctx.call_async(sum_bytes, args).wait_result() == 55


def test_set_stack_refuses_bad_intents_and_short_buffers(proc):
    args = VeoArgs()
    with pytest.raises(TypeError, match="VEMemPtr"):
        args.set_stack(veo.VEO_INTENT_IN, 0, proc.alloc_mem(8), 8)
    with pytest.raises(ValueError, match="inout"):
        args.set_stack(7, 0, bytearray(8), 8)
    with pytest.raises(ValueError):
        args.set_stack(veo.VEO_INTENT_IN, 0, bytearray(8), 16)
    with pytest.raises(TypeError, match="set_stack"):
        args.set_stack(0)


def test_clear_forgets_the_arguments_and_the_args_can_be_reused(ctx, lib, kernel):
    echo = kernel("echo_i64", ["long"], "long")
    args = VeoArgs()
    args.set_i64(0, 99)
    args.set_stack(OnStack(bytearray(8)), 1)
    assert ctx.call_async(echo, args).wait_result() == 99
    assert ctx.call_async(echo, args).wait_result() == 99  # reused as it is
    args.clear()
    assert args.stacks == []
    assert ctx.call_async(echo, args).wait_result() == 0  # unset: passed as 0
    args.set_i64(0, 7)
    assert ctx.call_async(echo, args).wait_result() == 7


def test_call_async_checks_its_function(ctx, other_proc, kernels_so):
    args = VeoArgs()
    with pytest.raises(TypeError):
        ctx.call_async(0x1000, "not args")
    with pytest.raises(ValueError, match="address 0"):
        ctx.call_async(0, args)
    other_lib = other_proc.load_library(kernels_so)
    with pytest.raises(ValueError, match="another VeoProc"):
        ctx.call_async(other_lib.find_function("nothing"), args)


def test_call_async_with_a_declared_result_type(ctx, lib):
    args = VeoArgs()
    args.set_float(0, 2.5)
    f = lib.find_function("echo_float")
    assert ctx.call_async(f.addr, args, "float").wait_result() == 2.5
    args.clear()
    args.set_double(0, -1.75)
    d = lib.find_function("echo_double")
    assert ctx.call_async(d.addr, args, ret_type="double").wait_result() == -1.75
    with pytest.raises(ValueError):
        ctx.call_async(d.addr, args, ret_type="doubel")


def test_conversion_helpers_read_words_as_the_ve_returns_them(ctx, lib):
    # An int64 result word read back as narrower types, as py-veo's
    # ConvFromI64 does with the register.
    f = lib.find_function("echo_i64")
    args = VeoArgs()
    args.set_i64(0, ConvToI64.from_ulong(0xFFFF_FFFF_8000_00FF))
    word = ctx.call_async(f.addr, args, "long").wait_result()
    assert word == ConvToI64.from_ulong(0xFFFF_FFFF_8000_00FF)
    assert ConvFromI64.to_uchar(word) == 0xFF and ConvFromI64.to_char(word) == -1
    assert ConvFromI64.to_int(word) == -2**31 + 0xFF
    assert ConvFromI64.to_ulong(word) == 0xFFFF_FFFF_8000_00FF
    # floats: the VE's layout (upper 32 bits), both ways
    assert ConvFromI64.to_float(ConvToI64.from_float(2.5)) == 2.5
    assert ConvFromI64.to_double(ConvToI64.from_double(-1.75)) == -1.75


def test_conv_to_and_from_i64():
    assert ConvToI64.from_char(-1) == -1 and ConvToI64.from_uchar(255) == 255
    assert ConvToI64.from_ulong(2**64 - 1) == -1
    assert ConvToI64.from_addr(0x8000000000000000) == -2**63
    assert ConvToI64.from_void(5) == 5
    assert ConvToI64.from_float(1.0) == 0x3F800000 << 32
    for bad in (lambda: ConvToI64.from_char(128), lambda: ConvToI64.from_uint(-1),
                lambda: ConvToI64.from_long(2**63)):
        with pytest.raises(OverflowError):
            bad()
    with pytest.raises(TypeError):
        ConvToI64.from_int(1.5)
    assert ConvFromI64.to_char(0x1FF) == -1 and ConvFromI64.to_uchar(-1) == 255
    assert ConvFromI64.to_short(0x18000) == -32768 and ConvFromI64.to_ushort(-1) == 65535
    assert ConvFromI64.to_int(2**32 + 5) == 5 and ConvFromI64.to_uint(-1) == 2**32 - 1
    assert ConvFromI64.to_long(2**64 - 1) == -1 and ConvFromI64.to_ulong(-1) == 2**64 - 1
    assert ConvFromI64.to_void(3) is None
    with pytest.raises(OverflowError):
        ConvFromI64.to_long(2**64)


# ---------------------------------------------------------------------------
# hmem
# ---------------------------------------------------------------------------
def test_alloc_hmem_gives_a_tagged_int_of_this_proc(proc):
    h = proc.alloc_hmem(256)
    try:
        assert type(h) is int
        assert h & VE_TAG
        ident = proc.proc_identifier()
        assert (h & IDENT_MASK) >> 59 == ident
        assert VEO_HMEM.is_ve_addr(h) is True
        assert VEO_HMEM.get_proc_identifier_from_hmem(h) == ident
        assert VEO_HMEM.get_hmem_addr(h) == h & ~(VE_TAG | IDENT_MASK)
        assert VEO_HMEM.get_proc_handle_from_hmem(h) == proc._proc_handle != 0
        assert VEO_HMEM.get_proc_from_hmem(h) is proc
        assert VEO_HMEM.get_pid_from_hmem(h) == proc.pid
        assert VEO_HMEM.get_venum_from_hmem(h) == proc.nodeid
        assert VEO_HMEM.get_max_proc_identifier() == 16
        # set_proc_identifier puts the tag back on the bare VE address
        assert proc.set_proc_identifier(VEO_HMEM.get_hmem_addr(h), ident) == h
    finally:
        proc.free_hmem(h)


def test_host_addresses_are_not_ve_addresses():
    buf = np.zeros(4)
    host = buf.ctypes.data
    assert VEO_HMEM.is_ve_addr(host) is False
    assert VEO_HMEM.get_proc_identifier_from_hmem(host) == -1
    assert VEO_HMEM.get_hmem_addr(host) == host
    with pytest.raises(veo.VeoError, match="no live proc"):
        VEO_HMEM.get_proc_handle_from_hmem(host)


def test_hmemcpy_both_ways_and_a_kernel_through_set_hmem(proc, ctx, later_lib):
    n = 16
    h = proc.alloc_hmem(n * 4)
    try:
        src = np.arange(n, dtype=np.int32) * 3
        VEO_HMEM.hmemcpy(h, src, src.nbytes)            # host -> VE (a buffer)
        back = np.zeros(n, dtype=np.int32)
        VEO_HMEM.hmemcpy(back.ctypes.data, h, back.nbytes)  # VE -> host (an address)
        assert back.tolist() == src.tolist()

        iota = later_lib.find_function("iota32")
        iota.args_type("int32_t *", "int", "int32_t")
        iota.ret_type("void")
        args = VeoArgs()
        args.set_hmem(0, h)
        args.set_i32(1, n)
        args.set_i32(2, 100)
        ctx.call_async(iota, args).wait_result()
        out = bytearray(n * 4)
        VEO_HMEM.hmemcpy(out, h, len(out))
        assert np.frombuffer(out, dtype=np.int32).tolist() == list(range(100, 100 + n))
        # VE -> VE within the proc
        h2 = proc.alloc_hmem(n * 4)
        try:
            VEO_HMEM.hmemcpy(h2, h, n * 4)
            VEO_HMEM.hmemcpy(out, h2, len(out))
            assert np.frombuffer(out, dtype=np.int32)[0] == 100
        finally:
            proc.free_hmem(h2)
    finally:
        proc.free_hmem(h)


def test_an_hmem_int_as_a_pointer_argument(proc, ctx, other_proc, later_lib):
    # py-veo's later scripts pass alloc_hmem's result straight to a kernel
    iota = later_lib.find_function("iota32")
    iota.args_type("int32_t *", "int", "int32_t")
    iota.ret_type("void")
    h = proc.alloc_hmem(4 * 4)
    try:
        iota(ctx, h, 4, -2).wait_result()
        out = np.zeros(4, dtype=np.int32)
        VEO_HMEM.hmemcpy(out, h, out.nbytes)
        assert out.tolist() == [-2, -1, 0, 1]
    finally:
        proc.free_hmem(h)
    foreign = other_proc.alloc_hmem(16)
    try:
        with pytest.raises(ValueError, match="hmem pointer .* of another proc"):
            iota(ctx, foreign, 4, 0)
    finally:
        other_proc.free_hmem(foreign)


def test_hmem_errors(proc, other_proc):
    h = other_proc.alloc_hmem(64)
    with pytest.raises(ValueError, match="another proc"):
        proc.free_hmem(h)
    other_proc.free_hmem(h)
    with pytest.raises(veo.VeoError, match="free_hmem"):
        other_proc.free_hmem(h)
    with pytest.raises(ValueError, match="not an hmem pointer"):
        proc.free_hmem(np.zeros(2).ctypes.data)  # a host address is never freed
    with pytest.raises(MemoryError, match="alloc_hmem"):
        proc.alloc_hmem(1 << 60)
    with pytest.raises(ValueError, match="set_proc_identifier"):
        proc.set_proc_identifier(0x1000, 16)
    with pytest.raises(ValueError, match="fewer than size"):
        VEO_HMEM.hmemcpy(bytearray(4), bytearray(8), 8)
    with pytest.raises(TypeError):
        VEO_HMEM.hmemcpy(bytes(8), bytearray(8), 8)  # a read-only destination


# ---------------------------------------------------------------------------
# proc and context methods and attributes
# ---------------------------------------------------------------------------
def test_i64_to_addr_reads_a_pointer_word(proc):
    p = proc.i64_to_addr(-1)
    assert p.addr == 2**64 - 1 and p.proc is proc
    assert int(proc.i64_to_addr(0x1234)) == 0x1234
    assert proc.i64_to_addr(2**63).addr == 2**63
    with pytest.raises(OverflowError):
        proc.i64_to_addr(2**64)


def test_proc_destroy_stops_the_worker_once():
    p = VeoProc(0)
    p.proc_destroy()
    assert p.closed
    p.proc_destroy()  # again: nothing to do
    with pytest.raises(veo.VeoError, match="closed"):
        p.alloc_mem(8)
    assert p not in veo._veo._live_procs()


def test_context_close_closes_and_forgets_the_context(proc, kernel):
    c = proc.open_context()
    assert c in proc.context
    echo = kernel("echo_i32", ["int"], "int")
    req = echo(c, 5)
    c.context_close()  # waits for what was queued
    assert c.closed and c not in proc.context
    with pytest.raises(veo.VeoError, match="closed before the result"):
        req.wait_result()  # as with close_context: uncollected results are lost
    c.context_close()  # closing a closed context does nothing
    with pytest.raises(veo.VeoError, match="closed"):
        echo(c, 1)


def test_tid_of_procs_and_contexts(proc, later_lib):
    assert proc.tid == proc.pid
    c = proc.open_context()
    assert c._thr_ctxt != 0
    proc.close_context(c)
    assert c._thr_ctxt == 0
    my_tid = later_lib.find_function("my_tid")
    my_tid.args_type()
    my_tid.ret_type("long")
    c1, c2 = proc.open_context(), proc.open_context()
    try:
        tasks = {int(t) for t in os.listdir("/proc/%d/task" % proc.pid)}
        assert c1.tid in tasks and c2.tid in tasks
        assert len({c1.tid, c2.tid, proc.pid}) == 3
        # the thread that runs the context's kernels is the one named
        assert my_tid(c1).wait_result() == c1.tid
        assert my_tid(c2).wait_result() == c2.tid
    finally:
        proc.close_context(c1)
        proc.close_context(c2)


def test_get_ve_arch():
    assert veo.get_ve_arch(0) == 1
    with pytest.raises(veo.VeoError, match="get_ve_arch"):
        veo.get_ve_arch(8)
    with pytest.raises(TypeError):
        veo.get_ve_arch("zero")


def test_star_import_gives_the_later_names():
    ns = {}
    exec("from veo import *", ns)
    for name in ("VeoArgs", "VEO_HMEM", "get_ve_arch", "ConvToI64", "ConvFromI64"):
        assert ns[name] is getattr(veo, name)


# ---------------------------------------------------------------------------
# veo.logging
# ---------------------------------------------------------------------------
def test_logging_is_off_until_a_handler_is_set():
    code = ("import veo, veo.logging, io; a = veo._veo._log_enabled(); "
            "veo.logging.set_stream_handler(veo.logging.VEO, io.StringIO()); "
            "b = veo._veo._log_enabled(); veo.logging.reset_handler(veo.logging.VEO); "
            "print(a, b, veo._veo._log_enabled())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["False", "True", "False"], out.stderr


def test_veo_logging_is_not_the_standard_logging():
    assert veo.logging is not logging
    assert logging.StreamHandler is not None and hasattr(logging, "getLogger")
    assert veo.logging.VEO == "veo"


def test_stream_handler_logs_proc_memory_call_and_wait_events(proc, ctx, kernel):
    echo = kernel("echo_i32", ["int"], "int")
    stream = io.StringIO()
    logger = veo.logging.set_stream_handler(veo.logging.VEO, stream=stream,
                                            format="%(levelname)s %(message)s")
    try:
        assert logger is logging.getLogger("veo")
        assert veo._veo._log_enabled()
        p = VeoProc(0)
        m = p.alloc_mem(64)
        p.write_mem(m, bytearray(64), 64)
        p.free_mem(m)
        assert echo(ctx, 21).wait_result() == 21
        p.close()
    finally:
        veo.logging.reset_handler(veo.logging.VEO)
    text = stream.getvalue()
    for needle in ("INFO proc created: node 0", "alloc_mem: node 0", "write_mem: node 0",
                   "free_mem: node 0", "call echo_i32 queued", "(call echo_i32): node 0, ok",
                   "INFO proc destroyed"):
        assert needle in text, (needle, text)
    assert "DEBUG" not in text  # INFO level: the context events are left out
    # reset: nothing more is logged, and the C side knows it
    assert not veo._veo._log_enabled()
    echo(ctx, 1).wait_result()
    assert stream.getvalue() == text


def test_file_handler_at_debug_level_beside_a_stream_at_info(tmp_path, proc):
    path = tmp_path / "veo.log"
    stream = io.StringIO()
    veo.logging.set_file_handler(veo.logging.VEO, str(path), level=logging.DEBUG)
    veo.logging.set_stream_handler(veo.logging.VEO, stream, level=logging.INFO)
    try:
        c = proc.open_context()
        proc.close_context(c)
        proc.free_mem(proc.alloc_mem(8))
    finally:
        veo.logging.reset_handler(veo.logging.VEO)
    text = path.read_text()
    assert "context opened: node 0" in text and "context closed: node 0" in text
    assert "alloc_mem: node 0" in text
    assert "alloc_mem: node 0" in stream.getvalue()
    assert "context opened" not in stream.getvalue()
    assert logging.getLogger("veo").level == logging.WARN


def test_enable_uses_handlers_configured_elsewhere(proc):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    h = Keep()
    logger = logging.getLogger("veo")
    logger.addHandler(h)
    old = logger.level
    logger.setLevel(logging.INFO)
    veo.logging.enable()
    try:
        proc.free_mem(proc.alloc_mem(8))
    finally:
        veo.logging.enable(False)
        logger.removeHandler(h)
        logger.setLevel(old)
    assert any(r.startswith("alloc_mem:") for r in records)
    assert any(r.startswith("free_mem:") for r in records)


def test_logging_a_name_other_than_veo_is_refused():
    with pytest.raises(ValueError, match="veo"):
        veo.logging.set_stream_handler("nlcpy")
