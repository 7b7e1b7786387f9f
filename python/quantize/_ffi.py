"""Loading libquantize and declaring its C functions (ctypes); the exception classes.

This module is the only place that touches ctypes. It loads the shared library bundled in the
package (``libquantize.so`` next to this file, put there by ``pip install``), or the one named
by the environment variable ``QUANTIZE_LIBRARY`` (for development against a fresh
``cargo build``). Every prototype follows ``include/quantize.h``.
"""

import ctypes
import os
import sys
from ctypes import (
    POINTER,
    c_char_p,
    c_double,
    c_float,
    c_int8,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint32,
)

__all__ = [
    "lib",
    "library_path",
    "status_message",
    "check",
    "QuantizeError",
    "NullPointerError",
    "InvalidArgumentError",
    "EmptyInputError",
    "NonFiniteError",
    "BufferTooSmallError",
    "ValueOutOfRangeError",
    "LengthError",
    "MisalignedError",
    "OverlapError",
    "InternalError",
    "ErrorStatsC",
]


def _library_file_name():
    if sys.platform == "darwin":
        return "libquantize.dylib"
    if sys.platform == "win32":
        return "quantize.dll"
    return "libquantize.so"


def _load():
    path = os.environ.get("QUANTIZE_LIBRARY") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), _library_file_name()
    )
    try:
        return ctypes.CDLL(path), path
    except OSError as exc:
        raise ImportError(
            "quantize: cannot load the libquantize shared library from %r (%s). Install the "
            "package with `pip install ./python` (it builds and bundles the library), or point "
            "QUANTIZE_LIBRARY at a built libquantize.so." % (path, exc)
        ) from exc


lib, library_path = _load()


class ErrorStatsC(ctypes.Structure):
    """``quantize_error_stats`` (docs/contract.md §3.7)."""

    _fields_ = [
        ("mean_abs_error", c_double),
        ("max_abs_error", c_double),
        ("mean_squared_error", c_double),
        ("rmse", c_double),
        ("sqnr_db", c_double),
        ("max_abs_index", c_size_t),
    ]


_f32p = POINTER(c_float)
_i8p = POINTER(c_int8)
_u8p = POINTER(c_uint8)
_status = c_int32
_sz = c_size_t
_u32 = c_uint32

# name: (restype, argtypes), as in include/quantize.h.
_FUNCTIONS = {
    "quantize_to_int4": (_status, [_f32p, _sz, _u32, _i8p, _f32p, _i8p]),
    "dequantize_from_int4": (_status, [_i8p, _sz, c_float, c_int8, _f32p]),
    "pack_int4_to_int8": (_status, [_i8p, _sz, _u8p, _sz]),
    "unpack_int8_to_int4": (_status, [_u8p, _sz, _i8p, _sz]),
    "quantize_to_int4_packed": (_status, [_f32p, _sz, _u32, _u8p, _sz, _f32p, _i8p]),
    "dequantize_from_int4_packed": (_status, [_u8p, _sz, _sz, c_float, c_int8, _f32p]),
    "quantize_int4_groups": (
        _status,
        [_f32p, _sz, _sz, _u32, _u8p, _sz, _f32p, _sz, _i8p, _sz],
    ),
    "dequantize_int4_groups": (
        _status,
        [_u8p, _sz, _sz, _sz, _f32p, _sz, _i8p, _sz, _f32p],
    ),
    "quantize_block_elements": (_sz, [_u32]),
    "quantize_block_bytes": (_sz, [_u32]),
    "quantize_blocks": (_status, [_u32, _f32p, _sz, _u8p, _sz]),
    "dequantize_blocks": (_status, [_u32, _u8p, _sz, _f32p, _sz]),
    "quantize_codebook_blocks": (_status, [_u32, _f32p, _sz, _sz, _u8p, _sz, _f32p, _sz]),
    "dequantize_codebook_blocks": (_status, [_u32, _u8p, _sz, _sz, _sz, _f32p, _sz, _f32p]),
    "quantize_measure_error": (_status, [_f32p, _f32p, _sz, POINTER(ErrorStatsC)]),
    "quantize_packed_len": (_sz, [_sz]),
    "quantize_group_count": (_sz, [_sz, _sz]),
    "quantize_status_message": (c_char_p, [_status]),
    "quantize_version": (c_char_p, []),
    "quantize_version_number": (c_uint32, []),
    "quantize_kernel_name": (c_char_p, []),
}


def _declare(name, restype, argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


for _name, (_res, _args) in _FUNCTIONS.items():
    try:
        _declare(_name, _res, _args)
    except AttributeError as _exc:
        raise ImportError(
            "quantize: %s does not export %s; it is not a compatible libquantize"
            % (library_path, _name)
        ) from _exc


def status_message(status):
    """The library's one-sentence explanation of a status code (any integer)."""
    return lib.quantize_status_message(int(status)).decode("utf-8", "replace")


# --- exceptions ------------------------------------------------------------------------------

STATUS_NAMES = {
    0: "QUANTIZE_OK",
    1: "QUANTIZE_ERR_NULL_POINTER",
    2: "QUANTIZE_ERR_INVALID_ARGUMENT",
    3: "QUANTIZE_ERR_EMPTY_INPUT",
    4: "QUANTIZE_ERR_NON_FINITE",
    5: "QUANTIZE_ERR_BUFFER_TOO_SMALL",
    6: "QUANTIZE_ERR_VALUE_OUT_OF_RANGE",
    7: "QUANTIZE_ERR_LENGTH",
    8: "QUANTIZE_ERR_MISALIGNED",
    9: "QUANTIZE_ERR_OVERLAP",
    99: "QUANTIZE_ERR_INTERNAL",
}


class QuantizeError(ValueError):
    """A libquantize call failed.

    Attributes: ``status`` (the C status code), ``name`` (e.g. ``"QUANTIZE_ERR_NON_FINITE"``),
    ``message`` (the library's explanation, from ``quantize_status_message``), ``function``
    (the C function, or the Python one for checks done before the call) and ``detail`` (what
    the binding found about the culprit, e.g. its index; may be None).
    """

    status = None

    def __init__(self, status=None, function=None, detail=None):
        if status is None:
            status = type(self).status
        self.status = int(status)
        self.name = STATUS_NAMES.get(self.status, "status %d" % self.status)
        self.message = status_message(self.status)
        self.function = function
        self.detail = detail
        text = "%s [%s]" % (self.message, self.name)
        if detail:
            text = "%s: %s" % (detail, text)
        if function:
            text = "%s: %s" % (function, text)
        super().__init__(text)


class NullPointerError(QuantizeError):
    status = 1


class InvalidArgumentError(QuantizeError):
    status = 2


class EmptyInputError(QuantizeError):
    status = 3


class NonFiniteError(QuantizeError):
    status = 4


class BufferTooSmallError(QuantizeError):
    status = 5


class ValueOutOfRangeError(QuantizeError):
    status = 6


class LengthError(QuantizeError):
    status = 7


class MisalignedError(QuantizeError):
    status = 8


class OverlapError(QuantizeError):
    status = 9


class InternalError(QuantizeError):
    status = 99


_BY_STATUS = {
    cls.status: cls
    for cls in (
        NullPointerError,
        InvalidArgumentError,
        EmptyInputError,
        NonFiniteError,
        BufferTooSmallError,
        ValueOutOfRangeError,
        LengthError,
        MisalignedError,
        OverlapError,
        InternalError,
    )
}


def error_for(status, function=None, detail=None):
    """The exception instance for a non-zero status."""
    cls = _BY_STATUS.get(int(status), QuantizeError)
    return cls(status, function, detail)


def check(status, function, explain=None):
    """Raise the exception for ``status`` unless it is QUANTIZE_OK.

    ``explain(status)`` may return a string describing the culprit; it runs only on failure.
    """
    if status != 0:
        detail = explain(status) if explain is not None else None
        raise error_for(status, function, detail)
