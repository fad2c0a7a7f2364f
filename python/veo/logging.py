"""veo.logging: py-veo's logging switches for the binding's events.

Events go to the standard logging logger named "veo" (``VEO``), which does
not propagate to the root logger:

  INFO   procs created and destroyed; memory allocated, freed, read and
         written (alloc_mem, free_mem, alloc_hmem, free_hmem, read_mem,
         write_mem, async_read_mem, async_write_mem, hmemcpy); calls
         queued; results collected (wait_result, peek_result);
  DEBUG  libraries loaded and unloaded, contexts opened and closed.

::

    import veo.logging
    veo.logging.set_stream_handler(veo.logging.VEO)            # stderr, INFO
    veo.logging.set_file_handler(veo.logging.VEO, "veo.log", level=logging.DEBUG)
    veo.logging.reset_handler(veo.logging.VEO)                 # off again

While no handler was set, the binding does not log at all: each event site
costs one load and a branch in C (no Python call). A program that configures
the "veo" logger by itself turns the events on with ``enable()``.
"""
# This module is named like the standard library's `logging`. Imports are
# absolute (Python 3), so `import logging` below is the standard one, unless
# this package's directory itself were on sys.path; that is checked.
import atexit as _atexit
import logging as _logging
import sys as _sys

if not hasattr(_logging, "StreamHandler"):  # pragma: no cover
    raise ImportError("veo.logging: the standard library's logging module is shadowed "
                      "by %r; do not put the veo package's directory on sys.path"
                      % getattr(_logging, "__file__", _logging))

from veo import _veo

__all__ = ["VEO", "get_logger", "set_stream_handler", "set_file_handler",
           "reset_handler", "enable"]

VEO = "veo"

_logger = _logging.getLogger(VEO)
_logger.propagate = False
_null = _logging.NullHandler()
_logger.addHandler(_null)
_own = []  # the handlers installed here, removed by reset_handler


def _check_name(logger_name):
    if logger_name != VEO:
        raise ValueError("unknown logger %r: the binding logs to %r (veo.logging.VEO)"
                         % (logger_name, VEO))


def get_logger(logger_name=VEO):
    """The logging.Logger the binding's events go to."""
    _check_name(logger_name)
    return _logger


def enable(on=True):
    """Turns the binding's events on (or off) without touching handlers,
    for programs that configure the "veo" logger themselves."""
    _veo._set_log(_logger if on else None)


def _add(handler, level, format):
    handler.setLevel(level)
    handler.setFormatter(_logging.Formatter(format or _logging.BASIC_FORMAT))
    _logger.addHandler(handler)
    _own.append(handler)
    # the logger lets through what the most talkative handler wants
    _logger.setLevel(min(h.level for h in _own))
    enable(True)
    return _logger


def set_stream_handler(logger_name=VEO, stream=None, level=_logging.INFO, format=None):
    """Logs the binding's events at `level` and above to `stream` (default
    sys.stderr at the time of the call), formatted with `format` (default
    logging.BASIC_FORMAT). Returns the logger."""
    _check_name(logger_name)
    return _add(_logging.StreamHandler(_sys.stderr if stream is None else stream),
                level, format)


def set_file_handler(logger_name=VEO, filename=None, mode="a", encoding=None, delay=False,
                     level=_logging.INFO, format=None):
    """Logs the binding's events at `level` and above to the file
    `filename` (opened with mode, encoding, delay as logging.FileHandler).
    Returns the logger."""
    _check_name(logger_name)
    if filename is None:
        raise TypeError("set_file_handler(): a filename is required")
    return _add(_logging.FileHandler(filename, mode=mode, encoding=encoding, delay=delay),
                level, format)


def reset_handler(logger_name=VEO, level=_logging.WARN):
    """Removes the handlers set here (closing them), sets the logger's level
    to `level`, and stops the binding's events. Returns the logger."""
    _check_name(logger_name)
    enable(False)
    while _own:
        h = _own.pop()
        _logger.removeHandler(h)
        h.close()
    _logger.setLevel(level)
    return _logger


@_atexit.register
def _stop_at_exit():
    # No events once the interpreter shuts down (logging's own atexit hook
    # closes the handlers). veo imports this module before it registers its
    # hook that stops the procs, so that one runs first (atexit is last in,
    # first out) and its events are still logged.
    _veo._set_log(None)
