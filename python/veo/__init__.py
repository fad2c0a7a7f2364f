"""veo: offload kernels to a VE process from Python (py-veo's API on openveo).

The core (VeoProc, VeoCtxt, VeoLibrary, VeoFunction, VeoRequest,
VeoMemRequest, VEMemPtr, OnStack) is the C extension veo._veo, written
against the VEO C API (ve_offload.h); VeBuild (veo.vebuild) compiles kernels.

A short tour::

    from veo import *

    proc = VeoProc(0)                      # start a VE process on node 0
    ctxt = proc.open_context()             # a worker thread with a queue
    lib = proc.load_library(path)          # a kernel library (.so)
    lib.average.args_type("double *", "int")
    lib.average.ret_type("double")
    a = np.random.rand(1000)
    req = lib.average(ctxt, OnStack(a), a.size)   # queue the call
    print(req.wait_result())               # collect the result
    del proc                               # stop the VE process

Failures raise VeoError (a RuntimeError); a kernel that crashes raises
VeoException (an ArithmeticError) naming the signal and the kernel, with
the worker's report as attributes: signal, signo, address, kernel,
exit_status, backtrace, report.
"""
import atexit
import os
import sys

import numpy as np

from veo import _veo
from veo._veo import (
    COMMAND_ERROR,
    COMMAND_EXCEPTION,
    COMMAND_OK,
    COMMAND_UNFINISHED,
    INTENT_IN,
    INTENT_INOUT,
    INTENT_OUT,
    STATE_BLOCKED,
    STATE_EXIT,
    STATE_RUNNING,
    STATE_SYSCALL,
    STATE_UNKNOWN,
    VEMemPtr,
    VEO_API_VERSION,
    VEO_COMMAND_ERROR,
    VEO_COMMAND_EXCEPTION,
    VEO_COMMAND_OK,
    VEO_COMMAND_UNFINISHED,
    VEO_INTENT_IN,
    VEO_INTENT_INOUT,
    VEO_INTENT_OUT,
    VEO_STATE_BLOCKED,
    VEO_STATE_EXIT,
    VEO_STATE_RUNNING,
    VEO_STATE_SYSCALL,
    VEO_STATE_UNKNOWN,
    OnStack,
    VeoCtxt,
    VeoArgumentError,
    VeoArgumentOverflowError,
    VeoArgumentTypeError,
    VeoError,
    VeoException,
    VeoFunction,
    VeoHostView,
    VeoLibrary,
    VeoMemoryError,
    VeoMemRequest,
    VeoName,
    VeoProc,
    VeoRequest,
    VeoSymbolError,
    VeoWarning,
    del_proc_init_hook,
    set_proc_init_hook,
)
# py-veo's later API: VeoArgs, VEO_HMEM, get_ve_arch, the conversion helpers
# and veo.logging (imported before the atexit hook below: see its end).
from veo._veo import VEO_HMEM, VeoArgs, get_ve_arch
from veo.conv import ConvFromI64, ConvToI64
from veo import logging
from veo.vebuild import VeBuild, VeBuildError

__version__ = _veo.veo_version

__all__ = [
    "VeoProc", "VeoCtxt", "VeoLibrary", "VeoFunction", "VeoRequest",
    "VeoMemRequest", "VEMemPtr", "OnStack", "VeBuild",
    "set_proc_init_hook", "del_proc_init_hook",
    "VEO_INTENT_IN", "VEO_INTENT_INOUT", "VEO_INTENT_OUT",
    "INTENT_IN", "INTENT_INOUT", "INTENT_OUT",
    "VEO_STATE_UNKNOWN", "VEO_STATE_RUNNING", "VEO_STATE_SYSCALL",
    "VEO_STATE_BLOCKED", "VEO_STATE_EXIT",
    "STATE_UNKNOWN", "STATE_RUNNING", "STATE_SYSCALL", "STATE_BLOCKED",
    "STATE_EXIT",
    "VEO_COMMAND_OK", "VEO_COMMAND_EXCEPTION", "VEO_COMMAND_ERROR",
    "VEO_COMMAND_UNFINISHED",
    "COMMAND_OK", "COMMAND_EXCEPTION", "COMMAND_ERROR", "COMMAND_UNFINISHED",
    "VeoArgs", "VEO_HMEM", "get_ve_arch", "ConvToI64", "ConvFromI64",
    "np",
    # py-veo's later API: exceptions both generations catch, and the module
    # names its star import gives that scripts use
    "VeoError", "VeoException", "VeBuildError", "VeoWarning",
    "VeoArgumentError", "VeoArgumentTypeError", "VeoArgumentOverflowError",
    "VeoMemoryError", "VeoSymbolError",
    "os", "sys",
]

# Workers still running at interpreter exit are stopped here, before module
# teardown, whatever reference cycles still hold their VeoProc objects.
atexit.register(_veo._shutdown)


def load_ipython_extension(ipython):
    """%load_ext veo: the %%veo cell magic (veo.magic)."""
    from veo import magic
    magic.load_ipython_extension(ipython)
