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
    """The C struct ``quantize_error_stats`` (include/quantize.h)."""

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


_vp = ctypes.c_void_p
_ftype = c_uint32  # quantize_float_type: QUANTIZE_FLOAT_F32 0, _F16 1, _BF16 2

# The float16/bfloat16 entry points (src_type / dst_type plus a void pointer).
_FROM_FUNCTIONS = {
    "quantize_to_int4_from": (_status, [_ftype, _vp, _sz, _u32, _i8p, _f32p, _i8p]),
    "quantize_to_int4_packed_from": (_status, [_ftype, _vp, _sz, _u32, _u8p, _sz, _f32p, _i8p]),
    "quantize_int4_groups_from": (
        _status,
        [_ftype, _vp, _sz, _sz, _u32, _u8p, _sz, _f32p, _sz, _i8p, _sz],
    ),
    "quantize_blocks_from": (_status, [_u32, _ftype, _vp, _sz, _u8p, _sz]),
    "quantize_codebook_blocks_from": (
        _status,
        [_u32, _ftype, _vp, _sz, _sz, _u8p, _sz, _f32p, _sz],
    ),
    "quantize_measure_error_from": (_status, [_ftype, _vp, _vp, _sz, POINTER(ErrorStatsC)]),
    "dequantize_from_int4_into": (_status, [_i8p, _sz, c_float, c_int8, _ftype, _vp]),
    "dequantize_from_int4_packed_into": (_status, [_u8p, _sz, _sz, c_float, c_int8, _ftype, _vp]),
    "dequantize_int4_groups_into": (
        _status,
        [_u8p, _sz, _sz, _sz, _f32p, _sz, _i8p, _sz, _ftype, _vp],
    ),
    "dequantize_blocks_into": (_status, [_u32, _u8p, _sz, _ftype, _vp, _sz]),
    "dequantize_codebook_blocks_into": (
        _status,
        [_u32, _u8p, _sz, _sz, _sz, _f32p, _sz, _ftype, _vp],
    ),
}

_FUNCTIONS.update(_FROM_FUNCTIONS)


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
    """A libquantize call failed; the base class of one subclass per C status code.

    It is a ``ValueError``, so ``except ValueError`` catches it. Attributes: ``status`` (the C
    status code), ``name`` (e.g. ``"QUANTIZE_ERR_NON_FINITE"``), ``message`` (the library's
    explanation of the status, from ``quantize_status_message``), ``function`` (the C function,
    or the Python one for checks done before the call) and ``detail`` (what the binding found
    about the culprit, e.g. its index; may be None).

    ``str(error)`` is one sentence: ``"function: what went wrong (NAME)"``. What went wrong is
    ``detail`` when the binding knows it, otherwise the library's ``message``; the library's
    generic text is never appended to a specific detail, since the two would describe different
    things (the binding's own checks borrow a status only to choose the exception class).
    """

    status: int = 0

    def __init__(self, status=None, function=None, detail=None):
        if status is None:
            status = type(self).status
        self.status = int(status)
        self.name = STATUS_NAMES.get(self.status, "status %d" % self.status)
        self.message = status_message(self.status)
        self.function = function
        self.detail = detail
        text = "%s (%s)" % (detail or self.message, self.name)
        if function:
            text = "%s: %s" % (function, text)
        super().__init__(text)


class NullPointerError(QuantizeError):
    """A required pointer was NULL (``QUANTIZE_ERR_NULL_POINTER``); the binding never passes
    one, so seeing this means a bug in the binding."""

    status = 1


class InvalidArgumentError(QuantizeError):
    """An unknown enum value (format, codebook, scale method), an unsupported group or block
    size, or inputs that do not fit together (``QUANTIZE_ERR_INVALID_ARGUMENT``)."""

    status = 2


class EmptyInputError(QuantizeError):
    """Statistics (scale, zero point, error measures) of zero values were asked for
    (``QUANTIZE_ERR_EMPTY_INPUT``)."""

    status = 3


class NonFiniteError(QuantizeError):
    """A NaN or infinite input value, scale or absmax (``QUANTIZE_ERR_NON_FINITE``)."""

    status = 4


class BufferTooSmallError(QuantizeError):
    """Codes, scales or blocks shorter than the number of values asked for needs
    (``QUANTIZE_ERR_BUFFER_TOO_SMALL``)."""

    status = 5


class ValueOutOfRangeError(QuantizeError):
    """An int4 code or zero point outside -8..7, or a value the format cannot represent
    (``QUANTIZE_ERR_VALUE_OUT_OF_RANGE``)."""

    status = 6


class LengthError(QuantizeError):
    """The number of values is not a whole number of blocks (``QUANTIZE_ERR_LENGTH``)."""

    status = 7


class MisalignedError(QuantizeError):
    """A buffer not aligned for its type (``QUANTIZE_ERR_MISALIGNED``); the binding aligns
    every buffer, so seeing this means a bug in the binding."""

    status = 8


class OverlapError(QuantizeError):
    """An output buffer overlaps another buffer of the same call (``QUANTIZE_ERR_OVERLAP``),
    e.g. an ``out=`` array that is also an input."""

    status = 9


class InternalError(QuantizeError):
    """A bug in libquantize was caught at the C boundary (``QUANTIZE_ERR_INTERNAL``); please
    report it."""

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
