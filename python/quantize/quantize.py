"""The quantize functions: numpy in, numpy out, libquantize's C ABI underneath.

Every function converts its inputs once (floats to contiguous float32, codes to int8, packed
data to bytes; no copy when an array already has that form), calls the C function of the same
name (docs/contract.md §3.2 in the repository) and turns a non-zero status into an exception
(``QuantizeError``, a ``ValueError``). The arithmetic is the library's; this module only moves
memory.

Dtypes follow the seed package: int4 values are int8 arrays, packed int4 streams are int8
arrays (two values per byte, the ONNX layout), dequantized values are float32 arrays, a scale
is a Python float and a zero point a Python int. ggml/GGUF blocks and codebook codes (NF4, FP4)
are uint8 bytes.
"""

import ctypes
import operator
from collections import namedtuple

import numpy as np

from . import _ffi
from ._ffi import (
    InvalidArgumentError,
    NonFiniteError,
    ValueOutOfRangeError,
    check,
    lib,
)

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
    "quantize_codebook_blocks",
    "dequantize_codebook_blocks",
    "CODEBOOK_NF4",
    "CODEBOOK_FP4",
    "ErrorStats",
    "packed_len",
    "group_count",
    "SCALE_MINMAX",
    "SCALE_ABSMAX",
]

SCALE_MINMAX = 0
SCALE_ABSMAX = 1
_SCALE_METHODS = {"minmax": SCALE_MINMAX, "absmax": SCALE_ABSMAX}
FORMAT_Q4_0 = 0
FORMAT_Q4_1 = 1
FORMAT_IQ4_NL = 2
FORMAT_MXFP4 = 3
_FORMATS = {
    "q4_0": FORMAT_Q4_0,
    "q4_1": FORMAT_Q4_1,
    "iq4_nl": FORMAT_IQ4_NL,
    "mxfp4": FORMAT_MXFP4,
}
CODEBOOK_NF4 = 0
CODEBOOK_FP4 = 1
_CODEBOOKS = {"nf4": CODEBOOK_NF4, "fp4": CODEBOOK_FP4}

_F32 = ctypes.POINTER(ctypes.c_float)
_I8 = ctypes.POINTER(ctypes.c_int8)
_U8 = ctypes.POINTER(ctypes.c_uint8)
# docs/contract.md §2.8: larger finite inputs are QUANTIZE_ERR_VALUE_OUT_OF_RANGE
_LIMIT = 2.0**126


# --- conversions -----------------------------------------------------------------------------


def _f32(arr):
    return arr.ctypes.data_as(_F32)


def _i8(arr):
    return arr.ctypes.data_as(_I8)


def _u8(arr):
    return arr.ctypes.data_as(_U8)


def _as_float32(values, what="values", function=None):
    """``values`` as a C-contiguous, aligned float32 array (the same object if it already is)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
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
        function=function, detail="%s%s is too large for float32" % (what, _where(arr, big))
    )


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
            function=function, detail="%s%s is not an int4 value (-8..7)" % (what, _where(arr, bad))
        )
    return np.ascontiguousarray(arr, dtype=np.int8)


def _as_bytes(data, what="packed", function=None):
    """Packed data (int8 or uint8 array, bytes-like, or a list of ints) as a flat uint8 array."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype in (np.uint8, np.int8):
        return np.ascontiguousarray(arr.reshape(-1)).view(np.uint8)
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint8)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            "%s must be bytes or integers, got an array of dtype %s" % (what, arr.dtype)
        )
    bad = (arr < -128) | (arr > 255)
    if bad.any():
        raise ValueOutOfRangeError(
            function=function, detail="%s%s is not a byte" % (what, _where(arr, bad))
        )
    return (arr.reshape(-1).astype(np.int64) & 0xFF).astype(np.uint8)


def _enum(value, names, what, function):
    """A name from ``names`` (or a number, which the library itself checks) as a uint32_t."""
    if isinstance(value, str):
        try:
            return names[value]
        except KeyError:
            expected = " or ".join(repr(k) for k in names)
            raise InvalidArgumentError(
                function=function, detail="unknown %s %r (expected %s)" % (what, value, expected)
            ) from None
    try:
        number = operator.index(value)
    except TypeError:
        expected = ", ".join(repr(k) for k in names)
        raise TypeError("%s must be %s or an int, got %r" % (what, expected, value)) from None
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


# --- describing the culprit after a failure (never used to decide anything) ------------------


def _where(arr, mask):
    flat = np.flatnonzero(np.asarray(mask).reshape(-1))
    if flat.size == 0:
        return ""
    i = int(flat[0])
    return " at index %d (value %r)" % (i, np.asarray(arr).reshape(-1)[i].item())


def _explain_floats(x, what="values"):
    def explain(status):
        if status == NonFiniteError.status:
            where = _where(x, ~np.isfinite(x))
            return "%s%s is NaN or infinite" % (what, where) if where else None
        if status == ValueOutOfRangeError.status:
            with np.errstate(invalid="ignore"):
                where = _where(x, np.abs(x) > _LIMIT)
            return "%s%s exceeds 2^126" % (what, where) if where else None
        return None

    return explain


def _explain_codes(codes, zero_point=None, scale=None, what="values"):
    def explain(status):
        if status == ValueOutOfRangeError.status:
            if zero_point is not None and not -8 <= zero_point <= 7:
                return "zero_point=%d is not an int4 value (-8..7)" % zero_point
            where = _where(codes, (codes < -8) | (codes > 7))
            return "%s%s is not an int4 value (-8..7)" % (what, where) if where else None
        if status == NonFiniteError.status and scale is not None:
            return "scale=%r is not finite in float32" % (scale,)
        return None

    return explain


# --- the seed's four functions ---------------------------------------------------------------


def quantize_to_int4(values, scale_method="minmax"):
    """Quantize float values to int4 (docs/contract.md §2).

    ``values``: a list or array of any real dtype and shape. ``scale_method``: "minmax"
    (asymmetric, with a zero point) or "absmax" (symmetric, zero point 0).
    Returns ``(quantized, scale, zero_point)``: an int8 array of ``values``' shape holding
    -8..7, the scale as a float and the zero point as an int.
    """
    fn = "quantize_to_int4"
    method = _method(scale_method, fn)
    x = _as_float32(values, function=fn)
    q = np.empty(x.shape, dtype=np.int8)
    scale = ctypes.c_float()
    zero_point = ctypes.c_int8()
    status = lib.quantize_to_int4(
        _f32(x), x.size, method, _i8(q), ctypes.byref(scale), ctypes.byref(zero_point)
    )
    check(status, fn, _explain_floats(x))
    return q, float(scale.value), int(zero_point.value)


def dequantize_from_int4(quantized, scale, zero_point=0):
    """Turn int4 values back into floats: ``(q - zero_point) * scale`` in float32.

    Returns a float32 array of ``quantized``' shape.
    """
    fn = "dequantize_from_int4"
    q = _as_int8(quantized, "quantized", fn)
    zp = _zero_point(zero_point, fn)
    s = _scale(scale)
    out = np.empty(q.shape, dtype=np.float32)
    status = lib.dequantize_from_int4(_i8(q), q.size, s, zp, _f32(out))
    check(status, fn, _explain_codes(q, zp, s, "quantized"))
    return out


def pack_int4_to_int8(values):
    """Pack int4 values (-8..7) two per byte: element 2i in the low nibble, 2i+1 in the high.

    ``values`` is read in C order. Returns a 1-D int8 array of ``(n + 1) // 2`` bytes; an odd
    count pads the last high nibble with 0.
    """
    fn = "pack_int4_to_int8"
    q = _as_int8(values, "values", fn)
    out = np.empty(packed_len(q.size), dtype=np.uint8)
    status = lib.pack_int4_to_int8(_i8(q), q.size, _u8(out), out.size)
    check(status, fn, _explain_codes(q))
    return out.view(np.int8)


def unpack_int8_to_int4(packed):
    """Unpack bytes into int4 values (sign-extended), two per byte.

    ``packed``: int8 or uint8 array, bytes, or a list of byte values. Returns a 1-D int8 array
    of ``2 * len(packed)`` values; trim the padding of an odd count yourself.
    """
    fn = "unpack_int8_to_int4"
    b = _as_bytes(packed, "packed", fn)
    out = np.empty(2 * b.size, dtype=np.int8)
    status = lib.unpack_int8_to_int4(_u8(b), b.size, _i8(out), out.size)
    check(status, fn)
    return out


# --- fused -----------------------------------------------------------------------------------


def quantize_to_int4_packed(values, scale_method="minmax"):
    """``quantize_to_int4`` then ``pack_int4_to_int8`` in one pass.

    Returns ``(packed, scale, zero_point)`` with ``packed`` a 1-D int8 array.
    """
    fn = "quantize_to_int4_packed"
    method = _method(scale_method, fn)
    x = _as_float32(values, function=fn)
    out = np.empty(packed_len(x.size), dtype=np.uint8)
    scale = ctypes.c_float()
    zero_point = ctypes.c_int8()
    status = lib.quantize_to_int4_packed(
        _f32(x),
        x.size,
        method,
        _u8(out),
        out.size,
        ctypes.byref(scale),
        ctypes.byref(zero_point),
    )
    check(status, fn, _explain_floats(x))
    return out.view(np.int8), float(scale.value), int(zero_point.value)


def dequantize_from_int4_packed(packed, scale, zero_point=0, n=None):
    """``unpack_int8_to_int4`` then ``dequantize_from_int4`` in one pass.

    ``n``: how many values to produce (default ``2 * len(packed)``; pass it for an odd count).
    Returns a 1-D float32 array of ``n`` values.
    """
    fn = "dequantize_from_int4_packed"
    b = _as_bytes(packed, "packed", fn)
    count = 2 * b.size if n is None else _size(n, "n", fn)
    zp = _zero_point(zero_point, fn)
    s = _scale(scale)
    out = np.empty(count, dtype=np.float32)
    status = lib.dequantize_from_int4_packed(_u8(b), b.size, count, s, zp, _f32(out))
    check(status, fn, _explain_codes(_nibbles(b), zp, s, "packed value"))
    return out


def _nibbles(b):
    """The sign-extended nibbles of ``b`` (for error messages only: all are in -8..7)."""
    out = np.empty(2 * b.size, dtype=np.int8)
    out[0::2] = (b & 0xF).astype(np.int8)
    out[1::2] = (b >> 4).astype(np.int8)
    return ((out ^ 8) - 8).astype(np.int8)


# --- group-wise ------------------------------------------------------------------------------


def quantize_int4_groups(values, group_size, scale_method="minmax"):
    """Quantize with one scale (and zero point) per group of ``group_size`` values.

    Group g covers elements ``[g*group_size, (g+1)*group_size)`` of ``values`` in C order and
    follows docs/contract.md §2 on its own. Returns ``(codes, scales, zero_points)``: ``codes``
    one packed int8 stream of all n values (as ``pack_int4_to_int8``), ``scales`` a float32
    array and ``zero_points`` an int8 array, one per group (all 0 for "absmax").
    """
    fn = "quantize_int4_groups"
    method = _method(scale_method, fn)
    gs = _size(group_size, "group_size", fn)
    x = _as_float32(values, function=fn)
    groups = group_count(x.size, gs)
    codes = np.empty(packed_len(x.size), dtype=np.uint8)
    scales = np.empty(groups, dtype=np.float32)
    zero_points = np.zeros(groups, dtype=np.int8)
    status = lib.quantize_int4_groups(
        _f32(x),
        x.size,
        gs,
        method,
        _u8(codes),
        codes.size,
        _f32(scales),
        scales.size,
        _i8(zero_points),
        zero_points.size,
    )
    check(status, fn, _explain_floats(x))
    return codes.view(np.int8), scales, zero_points


def dequantize_int4_groups(codes, group_size, scales, zero_points=None, n=None):
    """Inverse of ``quantize_int4_groups``.

    ``zero_points`` None means all 0. ``n``: how many values (default ``2 * len(codes)``;
    pass it for an odd count). Returns a 1-D float32 array of ``n`` values.
    """
    fn = "dequantize_int4_groups"
    b = _as_bytes(codes, "codes", fn)
    gs = _size(group_size, "group_size", fn)
    count = 2 * b.size if n is None else _size(n, "n", fn)
    s = _as_float32(scales, "scales", fn).reshape(-1)
    if zero_points is None:
        zps = np.zeros(0, dtype=np.int8)
    else:
        zps = _as_int8(zero_points, "zero_points", fn).reshape(-1)
    out = np.empty(count, dtype=np.float32)
    status = lib.dequantize_int4_groups(
        _u8(b), b.size, count, gs, _f32(s), s.size, _i8(zps), zps.size, _f32(out)
    )

    def explain(st):
        if st == ValueOutOfRangeError.status:
            where = _where(zps, (zps < -8) | (zps > 7))
            return "zero_points%s is not an int4 value (-8..7)" % where if where else None
        if st == NonFiniteError.status:
            return _explain_floats(s, "scales")(st)
        return None

    check(status, fn, explain)
    return out


# --- ggml/GGUF block formats ----------------------------------------------------------------


def _format(format, function):
    return _enum(format, _FORMATS, "format", function)


def block_elements(format):
    """Values per block of ``format`` ("q4_0", "q4_1", "iq4_nl", "mxfp4" or a number): 32;
    0 for an unknown number."""
    return int(lib.quantize_block_elements(_format(format, "quantize_block_elements")))


def block_bytes(format):
    """Bytes per block of ``format``: Q4_0 18, Q4_1 20, IQ4_NL 18, MXFP4 17; 0 for an unknown
    number."""
    return int(lib.quantize_block_bytes(_format(format, "quantize_block_bytes")))


def quantize_blocks(values, format):
    """Quantize to ggml/GGUF blocks, byte for byte what ggml's ``ggml_quantize_chunk`` writes.

    ``format``: "q4_0", "q4_1", "iq4_nl" or "mxfp4" (or a ``FORMAT_*`` number). The number of
    values (in C order) must be a multiple of 32 (else ``LengthError``). Returns a 1-D uint8
    array of ``n / 32 * block_bytes(format)`` bytes: the tensor data of a GGUF file.
    """
    fn = "quantize_blocks"
    fmt = _format(format, fn)
    x = _as_float32(values, function=fn)
    per_block, nbytes = lib.quantize_block_elements(fmt), lib.quantize_block_bytes(fmt)
    out = np.empty(x.size // per_block * nbytes if per_block else 0, dtype=np.uint8)
    status = lib.quantize_blocks(fmt, _f32(x), x.size, _u8(out), out.size)
    check(status, fn, _explain_floats(x))
    return out


def dequantize_blocks(data, format, n=None):
    """Dequantize ggml/GGUF blocks, bit for bit what ggml's ``dequantize_row_*`` gives.

    ``data``: the blocks' bytes (uint8 or int8 array, or bytes). ``n``: how many values
    (default: every whole block in ``data``). Returns a 1-D float32 array of ``n`` values.
    """
    fn = "dequantize_blocks"
    fmt = _format(format, fn)
    b = _as_bytes(data, "data", fn)
    per_block, nbytes = lib.quantize_block_elements(fmt), lib.quantize_block_bytes(fmt)
    if n is None:
        count = b.size // nbytes * per_block if nbytes else 0
    else:
        count = _size(n, "n", fn)
    out = np.empty(count, dtype=np.float32)
    status = lib.dequantize_blocks(fmt, _u8(b), b.size, _f32(out), count)
    check(status, fn)
    return out


# --- 4-bit float codebooks (NF4, FP4) with one absmax per block -------------------------------


def quantize_codebook_blocks(values, block_size, codebook="nf4"):
    """Quantize to a 4-bit codebook ("nf4" or "fp4") with one absmax per block, as bitsandbytes.

    ``block_size``: a power of two from 32 to 4096. Returns ``(codes, absmax)``: ``codes`` a
    1-D uint8 array of ``(n + 1) // 2`` bytes in bitsandbytes' layout (the first element of each
    pair in the HIGH nibble, unlike ``pack_int4_to_int8``), ``absmax`` a float32 array, one per
    block.
    """
    fn = "quantize_codebook_blocks"
    book = _enum(codebook, _CODEBOOKS, "codebook", fn)
    bs = _size(block_size, "block_size", fn)
    x = _as_float32(values, function=fn)
    codes = np.empty(packed_len(x.size), dtype=np.uint8)
    absmax = np.empty(group_count(x.size, bs), dtype=np.float32)
    status = lib.quantize_codebook_blocks(
        book, _f32(x), x.size, bs, _u8(codes), codes.size, _f32(absmax), absmax.size
    )
    check(status, fn, _explain_floats(x))
    return codes, absmax


def dequantize_codebook_blocks(codes, block_size, absmax, codebook="nf4", n=None):
    """Inverse of ``quantize_codebook_blocks``: ``table[code] * absmax[block]``.

    ``n``: how many values (default ``2 * len(codes)``; pass it for an odd count). Returns a
    1-D float32 array of ``n`` values.
    """
    fn = "dequantize_codebook_blocks"
    book = _enum(codebook, _CODEBOOKS, "codebook", fn)
    b = _as_bytes(codes, "codes", fn)
    bs = _size(block_size, "block_size", fn)
    count = 2 * b.size if n is None else _size(n, "n", fn)
    a = _as_float32(absmax, "absmax", fn).reshape(-1)
    out = np.empty(count, dtype=np.float32)
    status = lib.dequantize_codebook_blocks(
        book, _u8(b), b.size, count, bs, _f32(a), a.size, _f32(out)
    )
    check(status, fn, _explain_floats(a, "absmax"))
    return out


# --- error statistics ------------------------------------------------------------------------

ErrorStats = namedtuple(
    "ErrorStats",
    ["mean_abs_error", "max_abs_error", "mean_squared_error", "rmse", "sqnr_db", "max_abs_index"],
)
ErrorStats.__doc__ = """Error of a reconstruction (``quantize_error_stats``).

Differences and sums are computed in double precision. ``sqnr_db`` is
``10*log10(sum x^2 / sum (x-y)^2)``: ``inf`` when exact, ``-inf`` when x is all zero and y is
not. ``max_abs_index`` is the first index (C order) where ``max_abs_error`` occurs."""


def measure_error(original, restored):
    """Error statistics of ``restored`` against ``original`` (same number of elements)."""
    fn = "quantize_measure_error"
    x = _as_float32(original, "original", fn)
    y = _as_float32(restored, "restored", fn)
    if x.size != y.size:
        raise InvalidArgumentError(
            function=fn,
            detail="original has %d elements but restored has %d" % (x.size, y.size),
        )
    stats = _ffi.ErrorStatsC()
    status = lib.quantize_measure_error(_f32(x), _f32(y), x.size, ctypes.byref(stats))

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


def packed_len(n):
    """Bytes needed to pack ``n`` int4 values: ``(n + 1) // 2``."""
    return int(lib.quantize_packed_len(_size(n, "n", "quantize_packed_len")))


def group_count(n, group_size):
    """Groups of ``group_size`` covering ``n`` values (0 when either is 0)."""
    fn = "quantize_group_count"
    return int(lib.quantize_group_count(_size(n, "n", fn), _size(group_size, "group_size", fn)))
