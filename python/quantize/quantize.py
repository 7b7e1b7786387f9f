"""The quantize functions: numpy in, numpy out, libquantize's C ABI underneath.

Every function converts its inputs once (codes to int8, packed data to bytes, floats to a
C-contiguous float32, float16 or bfloat16 array; no copy when an array already has one of those
forms), calls the C function of the same name (include/quantize.h) and turns a non-zero status
into an exception (``QuantizeError``, a ``ValueError``). The arithmetic is the library's; this
module only moves memory.

Dtypes follow the seed package: int4 values are int8 arrays, packed int4 streams are int8
arrays (two values per byte, the ONNX layout), a scale is a Python float and a zero point a
Python int. ggml/GGUF blocks and codebook codes (NF4, FP4) are uint8 bytes. Float inputs may be
float32, float16 or bfloat16 (``ml_dtypes.bfloat16``), read as they are and widened exactly
(the result is the float32 function's on ``x.astype(np.float32)``); any other real dtype is
converted to float32 first. Dequantized values are float32 by default; ``dtype=np.float16`` or
``dtype=ml_dtypes.bfloat16`` rounds the float32 results to nearest-even.

Common keyword arguments:

- ``threads``: ``None`` (default) splits an input of at least ``THREAD_THRESHOLD`` (1 Mi) values
  into one chunk per CPU; an integer k splits into at most k chunks whatever the size (1: one
  call). Chunks are whole blocks, groups or rows, one C call each on a thread pool, and the result
  is identical to one call, failures included. The per-tensor int4 quantizers
  (``quantize_to_int4``, ``quantize_to_int4_packed``) and ``measure_error`` always make one call:
  the scale depends on the whole tensor, and the error sums are accumulated in a fixed order.
  The C library itself never starts a thread.
- ``axis`` (group-wise and codebook functions): ``-1`` (default) quantizes along the last axis,
  each row on its own (a group never straddles two rows) and keeps the shape; ``None`` flattens
  the input in C order into one stream, as earlier versions did.
- ``out`` (every dequantizer): a C-contiguous array of the result's shape and of float32, float16
  or bfloat16 dtype, written in place and returned (its dtype is the output dtype).
"""

from __future__ import annotations

import ctypes
import operator
from collections import namedtuple
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import _ffi, _parallel
from ._ffi import (
    BufferTooSmallError,
    InvalidArgumentError,
    NonFiniteError,
    ValueOutOfRangeError,
    check,
    lib,
)
from ._parallel import THREAD_THRESHOLD

__all__ = [
    "quantize_to_int4",
    "dequantize_from_int4",
    "pack_int4_to_int8",
    "unpack_int8_to_int4",
    "quantize_to_int4_packed",
    "dequantize_from_int4_packed",
    "quantize_int4_groups",
    "dequantize_int4_groups",
    "measure_error",
    "quantize_blocks",
    "dequantize_blocks",
    "block_elements",
    "block_bytes",
    "FORMAT_Q4_0",
    "FORMAT_Q4_1",
    "FORMAT_IQ4_NL",
    "FORMAT_MXFP4",
    "FORMAT_Q4_K",
    "FORMAT_IQ4_XS",
    "FORMAT_NVFP4",
    "quantize_codebook_blocks",
    "dequantize_codebook_blocks",
    "CODEBOOK_NF4",
    "CODEBOOK_FP4",
    "ErrorStats",
    "packed_len",
    "group_count",
    "SCALE_MINMAX",
    "SCALE_ABSMAX",
    "THREAD_THRESHOLD",
]

SCALE_MINMAX = 0
SCALE_ABSMAX = 1
_SCALE_METHODS = {"minmax": SCALE_MINMAX, "absmax": SCALE_ABSMAX}
FORMAT_Q4_0 = 0
FORMAT_Q4_1 = 1
FORMAT_IQ4_NL = 2
FORMAT_MXFP4 = 3
FORMAT_Q4_K = 4
FORMAT_IQ4_XS = 5
FORMAT_NVFP4 = 6
_FORMATS = {
    "q4_0": FORMAT_Q4_0,
    "q4_1": FORMAT_Q4_1,
    "iq4_nl": FORMAT_IQ4_NL,
    "mxfp4": FORMAT_MXFP4,
    "q4_k": FORMAT_Q4_K,
    "iq4_xs": FORMAT_IQ4_XS,
    "nvfp4": FORMAT_NVFP4,
}
CODEBOOK_NF4 = 0
CODEBOOK_FP4 = 1
_CODEBOOKS = {"nf4": CODEBOOK_NF4, "fp4": CODEBOOK_FP4}

# quantize_float_type
_FLOAT_F32 = 0
_FLOAT_F16 = 1
_FLOAT_BF16 = 2

_F32 = ctypes.POINTER(ctypes.c_float)
_I8 = ctypes.POINTER(ctypes.c_int8)
_U8 = ctypes.POINTER(ctypes.c_uint8)
_LIMIT = 2.0**126  # larger finite inputs are QUANTIZE_ERR_VALUE_OUT_OF_RANGE (int4, codebooks)
_CHUNK = 64  # element-wise functions split on multiples of this many values

Threads = Optional[int]
Format = Union[str, int]


# --- conversions -----------------------------------------------------------------------------


def _f32(arr, start=0):
    return ctypes.cast(arr.ctypes.data + 4 * start, _F32)


def _i8(arr, start=0):
    return ctypes.cast(arr.ctypes.data + start, _I8)


def _u8(arr, start=0):
    return ctypes.cast(arr.ctypes.data + start, _U8)


def _bfloat16():
    """numpy's dtype for ``ml_dtypes.bfloat16``, or None without ml_dtypes."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def _float_type(dtype):
    """The quantize_float_type of a numpy dtype, or None if it is not float32/16 or bfloat16."""
    if dtype == np.float32:
        return _FLOAT_F32
    if dtype == np.float16:
        return _FLOAT_F16
    if dtype.name == "bfloat16" and dtype.itemsize == 2 and dtype == _bfloat16():
        return _FLOAT_BF16
    return None


def _as_float32(values, what="values", function=None):
    """``values`` as a C-contiguous, aligned float32 array (the same object if it already is)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu" and _float_type(arr.dtype) is None:
        raise TypeError("%s must be real numbers, got an array of dtype %s" % (what, arr.dtype))
    if arr.dtype == np.float32 and arr.flags.c_contiguous and arr.flags.aligned:
        return arr
    with np.errstate(over="raise"):
        try:
            return np.require(arr, dtype=np.float32, requirements=["C", "A"])
        except FloatingPointError:
            pass
    # A finite value beyond float32's range: beyond 2^126 too, which the library rejects.
    big = np.abs(arr.astype(np.float64)) > _LIMIT
    raise ValueOutOfRangeError(
        function=function,
        detail="%s is too large for float32" % _culprit(arr, big, what),
    )


def _source(values, what="values", function=None):
    """(array, quantize_float_type): float32, float16 and bfloat16 arrays as they are (made
    C-contiguous and aligned only if they are not), anything else converted to float32."""
    arr = np.asarray(values)
    ftype = _float_type(arr.dtype)
    if ftype is None:
        return _as_float32(arr, what, function), _FLOAT_F32
    return np.require(arr, requirements=["C", "A"]), ftype


def _as_int8(codes, what="values", function=None):
    """Integer codes as a C-contiguous int8 array (the same object if it already is)."""
    arr = np.asarray(codes)
    if arr.dtype == np.int8:
        return np.require(arr, requirements=["C", "A"])
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int8)
    if arr.dtype.kind not in "iu":
        raise TypeError("%s must be integers, got an array of dtype %s" % (what, arr.dtype))
    bad = (arr < -128) | (arr > 127)
    if bad.any():
        raise ValueOutOfRangeError(
            function=function,
            detail="%s is not an int4 value (-8..7)" % _culprit(arr, bad, what),
        )
    return np.ascontiguousarray(arr, dtype=np.int8)


def _as_bytes(data, what="packed", function=None, flat=True):
    """Packed data (int8 or uint8 array, bytes-like, or a list of ints) as a C-contiguous uint8
    array, flattened unless ``flat`` is false."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    shape = (-1,) if flat else arr.shape
    if arr.dtype in (np.uint8, np.int8):
        return np.ascontiguousarray(arr.reshape(shape)).view(np.uint8)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint8).reshape(shape)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            "%s must be bytes or integers, got an array of dtype %s" % (what, arr.dtype)
        )
    bad = (arr < -128) | (arr > 255)
    if bad.any():
        raise ValueOutOfRangeError(
            function=function, detail="%s is not a byte" % _culprit(arr, bad, what)
        )
    return (arr.reshape(shape).astype(np.int64) & 0xFF).astype(np.uint8)


def _enum(value, names, what, function):
    """A name from ``names`` (or a number, which the library itself checks) as a uint32_t."""
    if isinstance(value, str):
        try:
            return names[value]
        except KeyError:
            expected = ", ".join(repr(k) for k in names)
            raise InvalidArgumentError(
                function=function,
                detail="unknown %s %r; expected one of %s" % (what, value, expected),
            ) from None
    try:
        number = operator.index(value)
    except TypeError:
        expected = ", ".join(repr(k) for k in names)
        raise TypeError("%s must be one of %s or an int, got %r" % (what, expected, value)) from None
    if not 0 <= number < 2**32:
        raise InvalidArgumentError(function=function, detail="unknown %s %d" % (what, number))
    return number  # the library itself rejects unknown numbers


def _method(scale_method, function):
    return _enum(scale_method, _SCALE_METHODS, "scale_method", function)


def _size(value, what, function):
    try:
        size = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an integer, got %r" % (what, value)) from None
    if size < 0 or size >= 2**63:
        raise InvalidArgumentError(function=function, detail="%s=%d is out of range" % (what, size))
    return size


def _zero_point(zero_point, function):
    try:
        zp = operator.index(zero_point)
    except TypeError:
        raise TypeError("zero_point must be an integer, got %r" % (zero_point,)) from None
    if not -128 <= zp <= 127:
        raise ValueOutOfRangeError(
            function=function, detail="zero_point=%d is not an int4 value (-8..7)" % zp
        )
    return zp


def _scale(scale):
    try:
        return float(scale)
    except (TypeError, ValueError):
        raise TypeError("scale must be a real number, got %r" % (scale,)) from None


def _out_dtype(dtype, out, function):
    """The output dtype and its quantize_float_type, from ``dtype=`` and ``out=``."""
    if dtype is None:
        dtype = out.dtype if isinstance(out, np.ndarray) else np.float32
    elif isinstance(dtype, str) and dtype == "bfloat16":
        if _bfloat16() is None:
            raise TypeError("dtype='bfloat16' needs the ml_dtypes package (pip install ml_dtypes)")
        dtype = _bfloat16()
    dtype = np.dtype(dtype)
    ftype = _float_type(dtype)
    if ftype is None:
        raise TypeError(
            "%s: dtype must be float32, float16 or bfloat16 (ml_dtypes), got %s" % (function, dtype)
        )
    return dtype, ftype


class _Output:
    """The float output of a dequantizer (``out=`` or a new array) and its quantize_float_type;
    the C calls write it directly (``*_into`` for float16 and bfloat16)."""

    def __init__(self, shape, dtype, out, function):
        dtype, self.ftype = _out_dtype(dtype, out, function)
        if out is None:
            self.result = np.empty(shape, dtype=dtype)
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError("%s: out must be a numpy array, got %r" % (function, type(out)))
            if out.dtype != dtype:
                raise TypeError(
                    "%s: out has dtype %s but dtype=%s was asked for" % (function, out.dtype, dtype)
                )
            if out.shape != tuple(shape):
                raise ValueError(
                    "%s: out has shape %s but the result has shape %s"
                    % (function, out.shape, tuple(shape))
                )
            if not (out.flags.c_contiguous and out.flags.aligned and out.flags.writeable):
                raise ValueError("%s: out must be a C-contiguous, aligned, writeable array" % function)
            self.result = out
        self.write_type = self.ftype

    def addr(self, start=0):
        """Address of element ``start`` (C order) of the result."""
        return self.result.ctypes.data + start * self.result.itemsize

    def f32(self, start=0):
        return ctypes.cast(self.addr(start), _F32)

    def finish(self):
        return self.result


def _row_axis(arr, axis, function):
    """``arr`` with ``axis`` moved last (a view), and the normalised axis."""
    if arr.ndim == 0:
        raise InvalidArgumentError(
            function=function, detail="a 0-d input has no axis %d; pass axis=None" % axis
        )
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError("axis must be an integer or None, got %r" % (axis,)) from None
    moved = np.moveaxis(arr, ax, -1)  # numpy's AxisError for an axis out of bounds
    return moved, ax % arr.ndim


# --- describing the culprit after a failure (never used to decide anything) ------------------


def _culprit(arr, mask, what):
    """'the value at index i of WHAT (v)' for the first true element of ``mask`` (C order)."""
    flat = np.flatnonzero(np.asarray(mask).reshape(-1))
    if flat.size == 0:
        return what
    i = int(flat[0])
    arr = np.asarray(arr)
    value = arr.reshape(-1)[i]
    value = int(value) if arr.dtype.kind in "iu" else float(value)
    return "the value at index %d of %s (%r)" % (i, what, value)


def _explain_floats(x, what="values"):
    def explain(status):
        x32 = np.asarray(x).astype(np.float32) if _float_type(np.asarray(x).dtype) else x
        if status == NonFiniteError.status:
            bad = ~np.isfinite(x32)
            if bad.any():
                return "%s is NaN or infinite; the values must be finite" % _culprit(x, bad, what)
        if status == ValueOutOfRangeError.status:
            with np.errstate(invalid="ignore"):
                bad = np.abs(x32) > _LIMIT
            if bad.any():
                return "%s exceeds 2^126 in magnitude, the largest this quantizer accepts" % (
                    _culprit(x, bad, what)
                )
        return None

    return explain


def _explain_codes(codes, zero_point=None, scale=None, what="values"):
    def explain(status):
        if status == ValueOutOfRangeError.status:
            if zero_point is not None and not -8 <= zero_point <= 7:
                return "zero_point=%d is not an int4 value (-8..7)" % zero_point
            bad = (codes < -8) | (codes > 7)
            if bad.any():
                return "%s is not an int4 value (-8..7)" % _culprit(codes, bad, what)
        if status == NonFiniteError.status and scale is not None:
            return "scale=%r is not finite in float32" % (scale,)
        return None

    return explain


# --- chunked calls ---------------------------------------------------------------------------


def _chunked(n, unit, threads, call, units=None):
    """Run ``call(start, stop)`` (element ranges, one C call each, returning a status) over
    ``n`` elements cut on multiples of ``unit``; the last chunk ends at n. Returns the first
    non-zero status in order, or 0."""
    if units is None:
        units = n // unit if unit else 0
    k = _parallel.chunk_count(threads, n, units)
    if k <= 1:
        return call(0, n)
    ranges = _parallel.split(units, k)
    calls = []
    for i, (a, b) in enumerate(ranges):
        start = a * unit
        stop = n if i == len(ranges) - 1 else b * unit
        calls.append(lambda start=start, stop=stop: call(start, stop))
    return _parallel.run(calls)


# --- the seed's four functions ---------------------------------------------------------------


def quantize_to_int4(
    values: ArrayLike, scale_method: Union[str, int] = "minmax", *, threads: Threads = None
) -> Tuple[np.ndarray, float, int]:
    """Quantize float values to int4 with one scale for the whole input.

    ``values``: a list or array of any real dtype and shape (float16 and bfloat16 read without
    a copy). ``scale_method``: "minmax" (asymmetric, with a zero point) or "absmax" (symmetric,
    zero point 0). Returns ``(quantized, scale, zero_point)``: an int8 array of ``values``'
    shape holding -8..7, the scale as a float and the zero point as an int.

    ``threads`` is accepted for uniformity and checked, but this is always one C call: the
    scale depends on every value.
    """
    fn = "quantize_to_int4"
    method = _method(scale_method, fn)
    x, ftype = _source(values, function=fn)
    _parallel.chunk_count(threads, 0, 1)
    q = np.empty(x.shape, dtype=np.int8)
    scale = ctypes.c_float()
    zero_point = ctypes.c_int8()
    if ftype == _FLOAT_F32:
        status = lib.quantize_to_int4(
            _f32(x), x.size, method, _i8(q), ctypes.byref(scale), ctypes.byref(zero_point)
        )
    else:
        status = lib.quantize_to_int4_from(
            ftype, x.ctypes.data, x.size, method, _i8(q), ctypes.byref(scale),
            ctypes.byref(zero_point),
        )
    check(status, fn, _explain_floats(x))
    return q, float(scale.value), int(zero_point.value)


def dequantize_from_int4(
    quantized: ArrayLike,
    scale: float,
    zero_point: int = 0,
    *,
    dtype: Optional[DTypeLike] = None,
    out: Optional[np.ndarray] = None,
    threads: Threads = None,
) -> np.ndarray:
    """Turn int4 values back into floats: ``(q - zero_point) * scale`` in float32.

    Returns an array of ``quantized``' shape: float32, or ``dtype`` (float16, bfloat16; the
    float32 result rounded to nearest-even), or ``out`` filled in.
    """
    fn = "dequantize_from_int4"
    q = _as_int8(quantized, "quantized", fn)
    zp = _zero_point(zero_point, fn)
    s = _scale(scale)
    o = _Output(q.shape, dtype, out, fn)
    qf = q.reshape(-1)

    def call(start, stop):
        if o.write_type == _FLOAT_F32:
            return lib.dequantize_from_int4(_i8(qf, start), stop - start, s, zp, o.f32(start))
        return lib.dequantize_from_int4_into(
            _i8(qf, start), stop - start, s, zp, o.write_type, o.addr(start)
        )

    status = _chunked(q.size, _CHUNK, threads, call, units=-(-q.size // _CHUNK))
    check(status, fn, _explain_codes(q, zp, s, "quantized"))
    return o.finish()


def pack_int4_to_int8(values: ArrayLike, *, threads: Threads = None) -> np.ndarray:
    """Pack int4 values (-8..7) two per byte: element 2i in the low nibble, 2i+1 in the high.

    ``values`` is read in C order. Returns a 1-D int8 array of ``(n + 1) // 2`` bytes; an odd
    count pads the last high nibble with 0.
    """
    fn = "pack_int4_to_int8"
    q = _as_int8(values, "values", fn).reshape(-1)
    out = np.empty(packed_len(q.size), dtype=np.uint8)

    def call(start, stop):
        return lib.pack_int4_to_int8(
            _i8(q, start), stop - start, _u8(out, start // 2), out.size - start // 2
        )

    status = _chunked(q.size, _CHUNK, threads, call, units=-(-q.size // _CHUNK))
    check(status, fn, _explain_codes(q))
    return out.view(np.int8)


def unpack_int8_to_int4(packed: ArrayLike, *, threads: Threads = None) -> np.ndarray:
    """Unpack bytes into int4 values (sign-extended), two per byte.

    ``packed``: int8 or uint8 array, bytes, or a list of byte values. Returns a 1-D int8 array
    of ``2 * len(packed)`` values; trim the padding of an odd count yourself.
    """
    fn = "unpack_int8_to_int4"
    b = _as_bytes(packed, "packed", fn)
    out = np.empty(2 * b.size, dtype=np.int8)

    def call(start, stop):  # in bytes
        return lib.unpack_int8_to_int4(
            _u8(b, start), b.size - start, _i8(out, 2 * start), 2 * (stop - start)
        )

    status = _chunked(b.size, _CHUNK, threads, call, units=-(-b.size // _CHUNK))
    check(status, fn)
    return out


# --- fused -----------------------------------------------------------------------------------


def quantize_to_int4_packed(
    values: ArrayLike, scale_method: Union[str, int] = "minmax", *, threads: Threads = None
) -> Tuple[np.ndarray, float, int]:
    """``quantize_to_int4`` then ``pack_int4_to_int8`` in one pass.

    Returns ``(packed, scale, zero_point)`` with ``packed`` a 1-D int8 array. Always one C call
    (see ``quantize_to_int4``).
    """
    fn = "quantize_to_int4_packed"
    method = _method(scale_method, fn)
    x, ftype = _source(values, function=fn)
    _parallel.chunk_count(threads, 0, 1)
    out = np.empty(packed_len(x.size), dtype=np.uint8)
    scale = ctypes.c_float()
    zero_point = ctypes.c_int8()
    if ftype == _FLOAT_F32:
        status = lib.quantize_to_int4_packed(
            _f32(x), x.size, method, _u8(out), out.size, ctypes.byref(scale),
            ctypes.byref(zero_point),
        )
    else:
        status = lib.quantize_to_int4_packed_from(
            ftype, x.ctypes.data, x.size, method, _u8(out), out.size, ctypes.byref(scale),
            ctypes.byref(zero_point),
        )
    check(status, fn, _explain_floats(x))
    return out.view(np.int8), float(scale.value), int(zero_point.value)


def dequantize_from_int4_packed(
    packed: ArrayLike,
    scale: float,
    zero_point: int = 0,
    n: Optional[int] = None,
    *,
    dtype: Optional[DTypeLike] = None,
    out: Optional[np.ndarray] = None,
    threads: Threads = None,
) -> np.ndarray:
    """``unpack_int8_to_int4`` then ``dequantize_from_int4`` in one pass.

    ``n``: how many values to produce (default ``2 * len(packed)``; pass it for an odd count).
    Returns a 1-D array of ``n`` values (float32 unless ``dtype`` or ``out`` says otherwise).
    """
    fn = "dequantize_from_int4_packed"
    b = _as_bytes(packed, "packed", fn)
    count = 2 * b.size if n is None else _size(n, "n", fn)
    zp = _zero_point(zero_point, fn)
    s = _scale(scale)
    o = _Output((count,), dtype, out, fn)

    def call(start, stop):
        src = _u8(b, start // 2)
        if o.write_type == _FLOAT_F32:
            return lib.dequantize_from_int4_packed(
                src, b.size - start // 2, stop - start, s, zp, o.f32(start)
            )
        return lib.dequantize_from_int4_packed_into(
            src, b.size - start // 2, stop - start, s, zp, o.write_type, o.addr(start)
        )

    whole = b.size >= packed_len(count)  # else one call reports the short buffer
    units = -(-count // _CHUNK) if whole else 1
    status = _chunked(count, _CHUNK, threads, call, units=units)
    check(status, fn, _explain_codes(_nibbles(b), zp, s, "packed"))
    return o.finish()


def _nibbles(b):
    """The sign-extended nibbles of ``b`` (for error messages only: all are in -8..7)."""
    out = np.empty(2 * b.size, dtype=np.int8)
    out[0::2] = (b & 0xF).astype(np.int8)
    out[1::2] = (b >> 4).astype(np.int8)
    return ((out ^ 8) - 8).astype(np.int8)


# --- rows: the axis= machinery of the group-wise and codebook functions ----------------------


def _rows_run(rows, threads, values, call_row):
    """``call_row(r)`` for every row r, rows split among the threads; first failure in order."""

    def chunk(start, stop):
        for r in range(start, stop):
            status = call_row(r)
            if status != 0:
                return status
        return 0

    k = _parallel.chunk_count(threads, values, rows)
    if k <= 1:
        return chunk(0, rows)
    return _parallel.run(
        [lambda a=a, b=b: chunk(a, b) for a, b in _parallel.split(rows, k)]
    )


# --- group-wise ------------------------------------------------------------------------------


def _c_quantize_groups(x, ftype, start, n, gs, method, codes, cstart, scales, zps, gstart, groups, zlen):
    if ftype == _FLOAT_F32:
        return lib.quantize_int4_groups(
            _f32(x, start), n, gs, method, _u8(codes, cstart), packed_len(n),
            _f32(scales, gstart), groups, _i8(zps, gstart), zlen,
        )
    return lib.quantize_int4_groups_from(
        ftype, x.ctypes.data + start * x.itemsize, n, gs, method, _u8(codes, cstart),
        packed_len(n), _f32(scales, gstart), groups, _i8(zps, gstart), zlen,
    )


def quantize_int4_groups(
    values: ArrayLike,
    group_size: int,
    scale_method: Union[str, int] = "minmax",
    *,
    axis: Optional[int] = -1,
    threads: Threads = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantize with one scale (and zero point) per group of ``group_size`` values.

    With ``axis=-1`` (the default) each row along the last axis is quantized on its own: its
    group g covers row elements ``[g*group_size, (g+1)*group_size)`` (the last one may be
    shorter), and no group straddles two rows. Returns ``(codes, scales, zero_points)``:
    ``codes`` int8 of shape ``[..., (row + 1) // 2]`` (each row packed as
    ``pack_int4_to_int8``), ``scales`` float32 and ``zero_points`` int8 of shape
    ``[..., groups]`` with ``groups = ceil(row / group_size)`` (zero points all 0 for
    "absmax"). Another ``axis`` puts that axis last for the computation and back in place in
    the results.

    With ``axis=None`` the input is flattened in C order into one stream: ``codes`` is 1-D
    (``(n + 1) // 2`` bytes) and ``scales``/``zero_points`` 1-D, one per group of the stream.
    """
    fn = "quantize_int4_groups"
    method = _method(scale_method, fn)
    gs = _size(group_size, "group_size", fn)
    x, ftype = _source(values, function=fn)
    if axis is not None:
        moved, ax = _row_axis(x, axis, fn)
    if axis is None or gs == 0:  # one stream (the library rejects group_size 0 itself)
        flat = x.reshape(-1)
        n = flat.size
        groups = group_count(n, gs)
        codes = np.empty(packed_len(n), dtype=np.uint8)
        scales = np.empty(groups, dtype=np.float32)
        zps = np.zeros(groups, dtype=np.int8)
        unit = gs if gs % 2 == 0 else 2 * gs

        def call(start, stop):
            g0 = start // gs if gs else 0
            return _c_quantize_groups(
                flat, ftype, start, stop - start, gs, method, codes, start // 2, scales, zps,
                g0, groups - g0, groups - g0,
            )

        status = _chunked(n, unit, threads, call) if gs else call(0, n)
        check(status, fn, _explain_floats(flat))
        return codes.view(np.int8), scales, zps

    lead, row = moved.shape[:-1], moved.shape[-1]
    rows = int(np.prod(lead, dtype=np.int64))
    groups = group_count(row, gs)
    nbytes = packed_len(row)
    codes = np.empty(lead + (nbytes,), dtype=np.uint8)
    scales = np.empty(lead + (groups,), dtype=np.float32)
    zps = np.zeros(lead + (groups,), dtype=np.int8)
    if row % gs == 0 and row % 2 == 0:
        # Rows are whole groups of whole bytes: one stream is the rows side by side.
        flat = np.require(moved, requirements=["C", "A"]).reshape(-1)
        n = flat.size
        total = rows * groups
        unit = gs if gs % 2 == 0 else 2 * gs

        def call(start, stop):
            g0 = start // gs
            return _c_quantize_groups(
                flat, ftype, start, stop - start, gs, method, codes, start // 2, scales, zps,
                g0, total - g0, total - g0,
            )

        status = _chunked(n, unit, threads, call)
    else:
        flat = np.require(moved, requirements=["C", "A"]).reshape(rows, row)

        def call_row(r):
            return _c_quantize_groups(
                flat[r], ftype, 0, row, gs, method, codes.reshape(rows, nbytes)[r], 0,
                scales.reshape(rows, groups)[r], zps.reshape(rows, groups)[r], 0, groups, groups,
            )

        status = _rows_run(rows, threads, rows * row, call_row)
    check(status, fn, _explain_floats(x))
    codes = codes.view(np.int8)
    return tuple(np.moveaxis(a, -1, ax) for a in (codes, scales, zps))  # type: ignore[return-value]


def _c_dequantize_groups(codes, cstart, clen, n, gs, scales, gstart, slen, zps, zlen, o, ostart):
    args = (
        _u8(codes, cstart), clen, n, gs, _f32(scales, gstart), slen, _i8(zps, gstart), zlen,
    )
    if o.write_type == _FLOAT_F32:
        return lib.dequantize_int4_groups(*args, o.f32(ostart))
    return lib.dequantize_int4_groups_into(*args, o.write_type, o.addr(ostart))


def dequantize_int4_groups(
    codes: ArrayLike,
    group_size: int,
    scales: ArrayLike,
    zero_points: Optional[ArrayLike] = None,
    n: Optional[int] = None,
    *,
    axis: Optional[int] = -1,
    dtype: Optional[DTypeLike] = None,
    out: Optional[np.ndarray] = None,
    threads: Threads = None,
) -> np.ndarray:
    """Inverse of ``quantize_int4_groups``.

    ``zero_points`` None means all 0. With ``axis=-1``: ``codes`` ``[..., bytes]``, ``scales``
    (and ``zero_points``) ``[..., groups]`` with the same leading shape, ``n`` the row length
    (default ``2 * bytes``; pass it for an odd row); returns ``[..., n]``. With
    ``axis=None``: every argument is flattened, ``n`` counts all values (default
    ``2 * len(codes)``) and the result is 1-D. Float32 unless ``dtype`` or ``out`` says
    otherwise.
    """
    fn = "dequantize_int4_groups"
    gs = _size(group_size, "group_size", fn)
    s = _as_float32(scales, "scales", fn)
    zps: np.ndarray
    if zero_points is None:
        zps = np.zeros(0, dtype=np.int8)
    else:
        zps = _as_int8(zero_points, "zero_points", fn)

    def explain(st):
        if st == ValueOutOfRangeError.status:
            bad = (zps < -8) | (zps > 7)
            if bad.any():
                return "%s is not an int4 value (-8..7)" % _culprit(zps, bad, "zero_points")
        if st == NonFiniteError.status:
            return _explain_floats(s, "scales")(st)
        return None

    if axis is None:
        b = _as_bytes(codes, "codes", fn)
        count = 2 * b.size if n is None else _size(n, "n", fn)
        sf, zf = s.reshape(-1), zps.reshape(-1)
        o = _Output((count,), dtype, out, fn)
        groups = group_count(count, gs)
        whole = (
            gs > 0
            and b.size >= packed_len(count)
            and sf.size >= groups
            and (zf.size == 0 or zf.size >= groups)
        )
        unit = gs if gs % 2 == 0 else 2 * gs

        def call(start, stop):
            g0 = start // gs if gs else 0
            return _c_dequantize_groups(
                b, start // 2, b.size - start // 2, stop - start, gs, sf, g0, sf.size - g0,
                zf, zf.size - g0 if zf.size else 0, o, start,
            )

        status = _chunked(count, unit, threads, call) if whole else call(0, count)
        check(status, fn, explain)
        return o.finish()

    b = _as_bytes(codes, "codes", fn, flat=False)
    b, ax = _row_axis(b, axis, fn)
    s, _ = _row_axis(s, axis, fn)
    if zero_points is not None:
        zps, _ = _row_axis(zps, axis, fn)
    lead, nbytes = b.shape[:-1], b.shape[-1]
    row = 2 * nbytes if n is None else _size(n, "n", fn)
    if s.shape[:-1] != lead or (zero_points is not None and zps.shape[:-1] != lead):
        raise InvalidArgumentError(
            function=fn,
            detail="codes, scales and zero_points must have the same shape apart from the "
            "quantized axis; got %s, %s and %s"
            % (b.shape, s.shape, None if zero_points is None else zps.shape),
        )
    rows = int(np.prod(lead, dtype=np.int64))
    groups = group_count(row, gs)
    b = np.require(b, requirements=["C"]).reshape(rows, nbytes)
    s = np.require(s, requirements=["C", "A"]).reshape(rows, s.shape[-1])
    if zero_points is None:
        zps = np.zeros((rows, 0), dtype=np.int8)
    else:
        zps = np.require(zps, requirements=["C"]).reshape(rows, zps.shape[-1])
    shape = lead + (row,)
    if ax != len(shape) - 1:
        if out is not None:
            raise ValueError("%s: out= needs the quantized axis last (axis=-1)" % fn)
    o = _Output(shape, dtype, out, fn)
    ok = gs > 0 and nbytes == packed_len(row) and s.shape[1] == groups
    ok = ok and zps.shape[1] in (0, groups) and (zero_points is None or zps.shape[1] == groups)
    if ok and row % gs == 0 and row % 2 == 0:
        bf, sf, zf = b.reshape(-1), s.reshape(-1), zps.reshape(-1)
        count = rows * row
        unit = gs if gs % 2 == 0 else 2 * gs

        def call(start, stop):
            g0 = start // gs
            return _c_dequantize_groups(
                bf, start // 2, bf.size - start // 2, stop - start, gs, sf, g0, sf.size - g0,
                zf, zf.size - g0 if zf.size else 0, o, start,
            )

        status = _chunked(count, unit, threads, call)
    else:
        zlen = zps.shape[1]

        def call_row(r):
            return _c_dequantize_groups(
                b[r], 0, nbytes, row, gs, s[r], 0, s.shape[1], zps[r], zlen, o, r * row
            )

        status = _rows_run(rows, threads, rows * row, call_row)
    check(status, fn, explain)
    result = o.finish()
    return result if ax == result.ndim - 1 else np.moveaxis(result, -1, ax)


# --- ggml/GGUF block formats ----------------------------------------------------------------


def _format(format, function):
    return _enum(format, _FORMATS, "format", function)


def _explain_format(fmt, format, then=None):
    """Explains INVALID_ARGUMENT for a format the loaded library does not know."""

    def explain(status):
        if status == InvalidArgumentError.status and lib.quantize_block_elements(fmt) == 0:
            return "format %r is not one the loaded libquantize knows" % (format,)
        return then(status) if then is not None else None

    return explain


def block_elements(format: Format) -> int:
    """Values per block of ``format`` ("q4_0", "q4_1", "iq4_nl", "mxfp4": 32; "nvfp4": 64;
    "q4_k", "iq4_xs": 256; or a ``FORMAT_*`` number); 0 for a format the loaded library does
    not know."""
    return int(lib.quantize_block_elements(_format(format, "quantize_block_elements")))


def block_bytes(format: Format) -> int:
    """Bytes per block of ``format``: Q4_0 18, Q4_1 20, IQ4_NL 18, MXFP4 17, Q4_K 144,
    IQ4_XS 136, NVFP4 36; 0 for a format the loaded library does not know."""
    return int(lib.quantize_block_bytes(_format(format, "quantize_block_bytes")))


def quantize_blocks(values: ArrayLike, format: Format, *, threads: Threads = None) -> np.ndarray:
    """Quantize to ggml/GGUF blocks, byte for byte what ggml's ``ggml_quantize_chunk`` writes.

    ``format``: "q4_0", "q4_1", "iq4_nl", "mxfp4", "q4_k", "iq4_xs" or "nvfp4" (or a
    ``FORMAT_*`` number). The number of values (in C order) must be a multiple of
    ``block_elements(format)`` (else ``LengthError``). Returns a 1-D uint8 array of
    ``n / block_elements * block_bytes`` bytes: the tensor data of a GGUF file. For the
    shape-keeping GGUF convention see ``quantize.gguf``.
    """
    fn = "quantize_blocks"
    fmt = _format(format, fn)
    x, ftype = _source(values, function=fn)
    flat = x.reshape(-1)
    per_block, nbytes = lib.quantize_block_elements(fmt), lib.quantize_block_bytes(fmt)
    out = np.empty(flat.size // per_block * nbytes if per_block else 0, dtype=np.uint8)

    def call(start, stop):
        dst = _u8(out, start // per_block * nbytes if per_block else 0)
        dst_len = out.size - (start // per_block * nbytes if per_block else 0)
        if ftype == _FLOAT_F32:
            return lib.quantize_blocks(fmt, _f32(flat, start), stop - start, dst, dst_len)
        return lib.quantize_blocks_from(
            fmt, ftype, flat.ctypes.data + start * flat.itemsize, stop - start, dst, dst_len
        )

    whole = per_block and flat.size % per_block == 0
    status = _chunked(flat.size, per_block, threads, call) if whole else call(0, flat.size)
    check(status, fn, _explain_format(fmt, format, _explain_floats(flat)))
    return out


def dequantize_blocks(
    data: ArrayLike,
    format: Format,
    n: Optional[int] = None,
    *,
    dtype: Optional[DTypeLike] = None,
    out: Optional[np.ndarray] = None,
    threads: Threads = None,
) -> np.ndarray:
    """Dequantize ggml/GGUF blocks, bit for bit what ggml's ``dequantize_row_*`` gives.

    ``data``: the blocks' bytes (uint8 or int8 array, or bytes). ``n``: how many values
    (default: every whole block in ``data``). Returns a 1-D array of ``n`` values (float32
    unless ``dtype`` or ``out`` says otherwise).
    """
    fn = "dequantize_blocks"
    fmt = _format(format, fn)
    b = _as_bytes(data, "data", fn)
    per_block, nbytes = lib.quantize_block_elements(fmt), lib.quantize_block_bytes(fmt)
    if n is None:
        count = b.size // nbytes * per_block if nbytes else 0
    else:
        count = _size(n, "n", fn)
    o = _Output((count,), dtype, out, fn)

    def call(start, stop):
        off = start // per_block * nbytes if per_block else 0
        if o.write_type == _FLOAT_F32:
            return lib.dequantize_blocks(fmt, _u8(b, off), b.size - off, o.f32(start), stop - start)
        return lib.dequantize_blocks_into(
            fmt, _u8(b, off), b.size - off, o.write_type, o.addr(start), stop - start
        )

    whole = per_block and count % per_block == 0 and b.size >= count // per_block * nbytes
    status = _chunked(count, per_block, threads, call) if whole else call(0, count)
    check(status, fn, _explain_format(fmt, format))
    return o.finish()


# --- 4-bit float codebooks (NF4, FP4) with one absmax per block -------------------------------


def _block_size_ok(bs):
    return 32 <= bs <= 4096 and bs & (bs - 1) == 0


def _c_quantize_codebook(book, x, ftype, start, n, bs, codes, cstart, absmax, gstart, glen):
    if ftype == _FLOAT_F32:
        return lib.quantize_codebook_blocks(
            book, _f32(x, start), n, bs, _u8(codes, cstart), packed_len(n),
            _f32(absmax, gstart), glen,
        )
    return lib.quantize_codebook_blocks_from(
        book, ftype, x.ctypes.data + start * x.itemsize, n, bs, _u8(codes, cstart),
        packed_len(n), _f32(absmax, gstart), glen,
    )


def quantize_codebook_blocks(
    values: ArrayLike,
    block_size: int,
    codebook: Union[str, int] = "nf4",
    *,
    axis: Optional[int] = -1,
    threads: Threads = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Quantize to a 4-bit codebook ("nf4" or "fp4") with one absmax per block, as bitsandbytes.

    ``block_size``: a power of two from 32 to 4096. Codes are packed two per byte in
    bitsandbytes' layout (the first element of each pair in the HIGH nibble, unlike
    ``pack_int4_to_int8``). With ``axis=-1`` (the default) each row along the last axis is
    quantized on its own: returns ``(codes, absmax)`` with ``codes`` uint8 ``[..., (row + 1)
    // 2]`` and ``absmax`` float32 ``[..., ceil(row / block_size)]``. With ``axis=None`` the
    input is flattened in C order: ``codes`` is 1-D and ``absmax`` has one entry per block of
    the stream.
    """
    fn = "quantize_codebook_blocks"
    book = _enum(codebook, _CODEBOOKS, "codebook", fn)
    bs = _size(block_size, "block_size", fn)
    x, ftype = _source(values, function=fn)
    if axis is None or not _block_size_ok(bs):
        if axis is not None:
            _row_axis(x, axis, fn)
        flat = x.reshape(-1)
        n = flat.size
        codes = np.empty(packed_len(n), dtype=np.uint8)
        absmax = np.empty(group_count(n, bs), dtype=np.float32)

        def call(start, stop):
            g0 = start // bs
            return _c_quantize_codebook(
                book, flat, ftype, start, stop - start, bs, codes, start // 2, absmax, g0,
                absmax.size - g0,
            )

        status = _chunked(n, bs, threads, call) if _block_size_ok(bs) else call(0, n)
        check(status, fn, _explain_floats(flat))
        return codes, absmax

    moved, ax = _row_axis(x, axis, fn)
    lead, row = moved.shape[:-1], moved.shape[-1]
    rows = int(np.prod(lead, dtype=np.int64))
    groups = group_count(row, bs)
    nbytes = packed_len(row)
    codes = np.empty(lead + (nbytes,), dtype=np.uint8)
    absmax = np.empty(lead + (groups,), dtype=np.float32)
    flat = np.require(moved, requirements=["C", "A"]).reshape(-1)
    if row % bs == 0:
        total = rows * groups

        def call(start, stop):
            g0 = start // bs
            return _c_quantize_codebook(
                book, flat, ftype, start, stop - start, bs, codes, start // 2, absmax, g0,
                total - g0,
            )

        status = _chunked(flat.size, bs, threads, call)
    else:
        c2, a2 = codes.reshape(rows, nbytes), absmax.reshape(rows, groups)

        def call_row(r):
            return _c_quantize_codebook(
                book, flat, ftype, r * row, row, bs, c2[r], 0, a2[r], 0, groups
            )

        status = _rows_run(rows, threads, rows * row, call_row)
    check(status, fn, _explain_floats(x))
    return np.moveaxis(codes, -1, ax), np.moveaxis(absmax, -1, ax)


def _c_dequantize_codebook(book, codes, cstart, clen, n, bs, absmax, gstart, glen, o, ostart):
    args = (book, _u8(codes, cstart), clen, n, bs, _f32(absmax, gstart), glen)
    if o.write_type == _FLOAT_F32:
        return lib.dequantize_codebook_blocks(*args, o.f32(ostart))
    return lib.dequantize_codebook_blocks_into(*args, o.write_type, o.addr(ostart))


def dequantize_codebook_blocks(
    codes: ArrayLike,
    block_size: int,
    absmax: ArrayLike,
    codebook: Union[str, int] = "nf4",
    n: Optional[int] = None,
    *,
    axis: Optional[int] = -1,
    dtype: Optional[DTypeLike] = None,
    out: Optional[np.ndarray] = None,
    threads: Threads = None,
) -> np.ndarray:
    """Inverse of ``quantize_codebook_blocks``: ``table[code] * absmax[block]``.

    With ``axis=-1``: ``codes`` ``[..., bytes]`` and ``absmax`` ``[..., blocks]`` with the same
    leading shape, ``n`` the row length (default ``2 * bytes``; pass it for an odd row); returns
    ``[..., n]``. With ``axis=None``: flattened, ``n`` counts all values (default
    ``2 * len(codes)``), 1-D result. Float32 unless ``dtype`` or ``out`` says otherwise.
    """
    fn = "dequantize_codebook_blocks"
    book = _enum(codebook, _CODEBOOKS, "codebook", fn)
    bs = _size(block_size, "block_size", fn)
    a = _as_float32(absmax, "absmax", fn)
    explain = _explain_floats(a, "absmax")
    if axis is None:
        b = _as_bytes(codes, "codes", fn)
        af = a.reshape(-1)
        count = 2 * b.size if n is None else _size(n, "n", fn)
        o = _Output((count,), dtype, out, fn)
        whole = (
            _block_size_ok(bs) and b.size >= packed_len(count) and af.size >= group_count(count, bs)
        )

        def call(start, stop):
            g0 = start // bs
            return _c_dequantize_codebook(
                book, b, start // 2, b.size - start // 2, stop - start, bs, af, g0,
                af.size - g0, o, start,
            )

        status = _chunked(count, bs, threads, call) if whole else call(0, count)
        check(status, fn, explain)
        return o.finish()

    b = _as_bytes(codes, "codes", fn, flat=False)
    b, ax = _row_axis(b, axis, fn)
    a, _ = _row_axis(a, axis, fn)
    lead, nbytes = b.shape[:-1], b.shape[-1]
    if a.shape[:-1] != lead:
        raise InvalidArgumentError(
            function=fn,
            detail="codes and absmax must have the same shape apart from the quantized axis; "
            "got %s and %s" % (b.shape, a.shape),
        )
    row = 2 * nbytes if n is None else _size(n, "n", fn)
    rows = int(np.prod(lead, dtype=np.int64))
    groups = group_count(row, bs)
    b = np.require(b, requirements=["C"]).reshape(rows, nbytes)
    a = np.require(a, requirements=["C", "A"]).reshape(rows, a.shape[-1])
    shape = lead + (row,)
    if ax != len(shape) - 1 and out is not None:
        raise ValueError("%s: out= needs the quantized axis last (axis=-1)" % fn)
    o = _Output(shape, dtype, out, fn)
    ok = _block_size_ok(bs) and nbytes == packed_len(row) and a.shape[1] == groups
    if ok and row % bs == 0:
        bf, af = b.reshape(-1), a.reshape(-1)

        def call(start, stop):
            g0 = start // bs
            return _c_dequantize_codebook(
                book, bf, start // 2, bf.size - start // 2, stop - start, bs, af, g0,
                af.size - g0, o, start,
            )

        status = _chunked(rows * row, bs, threads, call)
    else:

        def call_row(r):
            return _c_dequantize_codebook(
                book, b[r], 0, nbytes, row, bs, a[r], 0, a.shape[1], o, r * row
            )

        status = _rows_run(rows, threads, rows * row, call_row)
    check(status, fn, explain)
    result = o.finish()
    return result if ax == result.ndim - 1 else np.moveaxis(result, -1, ax)


# --- error statistics ------------------------------------------------------------------------

ErrorStats = namedtuple(
    "ErrorStats",
    ["mean_abs_error", "max_abs_error", "mean_squared_error", "rmse", "sqnr_db", "max_abs_index"],
)
ErrorStats.__doc__ = """Error of a reconstruction (``quantize_error_stats``).

Differences and sums are computed in double precision. ``sqnr_db`` is
``10*log10(sum x^2 / sum (x-y)^2)``: ``inf`` when exact, ``-inf`` when x is all zero and y is
not. ``max_abs_index`` is the first index (C order) where ``max_abs_error`` occurs."""


def measure_error(
    original: ArrayLike, restored: ArrayLike, *, threads: Threads = None
) -> ErrorStats:
    """Error statistics of ``restored`` against ``original`` (same number of elements).

    Float16 and bfloat16 pairs of the same dtype are read as they are; mixed dtypes are
    compared in float32 (exact widening). Always one C call: the sums run in a fixed order.
    """
    fn = "quantize_measure_error"
    x, xt = _source(original, "original", fn)
    y, yt = _source(restored, "restored", fn)
    _parallel.chunk_count(threads, 0, 1)
    if x.size != y.size:
        raise InvalidArgumentError(
            function=fn,
            detail="original has %d elements but restored has %d; they must have as many"
            % (x.size, y.size),
        )
    if xt != yt:
        x, xt = _as_float32(x), _FLOAT_F32
        y, yt = _as_float32(y), _FLOAT_F32
    stats = _ffi.ErrorStatsC()
    if xt == _FLOAT_F32:
        status = lib.quantize_measure_error(_f32(x), _f32(y), x.size, ctypes.byref(stats))
    else:
        status = lib.quantize_measure_error_from(
            xt, x.ctypes.data, y.ctypes.data, x.size, ctypes.byref(stats)
        )

    def explain(st):
        return _explain_floats(x, "original")(st) or _explain_floats(y, "restored")(st)

    check(status, fn, explain)
    return ErrorStats(
        stats.mean_abs_error,
        stats.max_abs_error,
        stats.mean_squared_error,
        stats.rmse,
        stats.sqnr_db,
        int(stats.max_abs_index),
    )


# --- sizes -----------------------------------------------------------------------------------


def packed_len(n: int) -> int:
    """Bytes needed to pack ``n`` int4 values: ``(n + 1) // 2``."""
    return int(lib.quantize_packed_len(_size(n, "n", "quantize_packed_len")))


def group_count(n: int, group_size: int) -> int:
    """Groups of ``group_size`` covering ``n`` values (0 when either is 0)."""
    fn = "quantize_group_count"
    return int(lib.quantize_group_count(_size(n, "n", fn), _size(group_size, "group_size", fn)))
