"""``gguf.quants.quantize`` / ``dequantize`` on libquantize: same signatures, shapes, dtypes.

A converter written against the PyPI ``gguf`` package switches with one line::

    import quantize.gguf as quants      # instead of: from gguf import quants

or, to leave its code untouched, patches the package once at start-up::

    import quantize.gguf
    quantize.gguf.patch()               # gguf.quants.quantize/dequantize now use libquantize

``quantize(data, qtype)`` takes an array of shape ``[..., row]`` (any real dtype; float32,
float16 and bfloat16 are read as they are, anything else converted to float32 as gguf does) and
returns uint8 ``[..., row // block_elems * block_bytes]``; ``row`` must be a whole number of
blocks, else ``QuantError`` (gguf's own ``QuantError`` class when gguf is installed, and a
``quantize.LengthError`` too). ``dequantize(data, qtype)`` takes the bytes ``[..., nbytes]``
and returns float32 ``[..., nbytes // block_bytes * block_elems]``; ``nbytes`` not a whole
number of blocks is a ``ValueError`` (``quantize.LengthError``), as in gguf. ``qtype`` is a
``gguf.GGMLQuantizationType`` or its integer value; ``gguf`` itself is optional.

The library's block formats: Q4_0 (2), Q4_1 (3), Q4_K (12), IQ4_NL (20), IQ4_XS (23),
MXFP4 (39) and NVFP4 (40); the numbers are ``GGMLQuantizationType``'s. F32 (0) and F16 (1)
are the same numpy casts as in gguf. Any other type goes to ``gguf.quants`` when gguf is
installed (so a converter keeps its Q8_0, BF16, ... tensors), else raises
``NotImplementedError``, as gguf does for the types it cannot do. Quantizing is byte for byte
ggml's C code (``ggml_quantize_chunk``); this differs from gguf's numpy port in one documented
place, a Q4_1 block of zeros holding -0.0, where ggml stores the minimum as +0.0 and gguf -0.0.

Extra keyword-only arguments: ``threads`` (see ``quantize.quantize``: by default inputs of
1 Mi values or more are split into one chunk per CPU) and, for ``dequantize``, ``dtype``.
gguf's lazy tensors (``gguf.lazy.LazyNumpyTensor``, what converters build by default) are
accepted and give lazy results, as in gguf.
"""

from __future__ import annotations

import operator
from typing import Any, Dict, Optional, Tuple

import numpy as np
from numpy.typing import DTypeLike

from . import quantize as _q
from ._ffi import LengthError, lib

__all__ = [
    "quantize",
    "dequantize",
    "QuantError",
    "GGML_TYPES",
    "supported",
    "patch",
    "unpatch",
]

_gguf_quants: Any
try:  # optional: only for its QuantError class, its lazy tensors and the fallback types
    from gguf import quants as _gguf_quants
except ImportError:  # pragma: no cover - exercised by the tests that run without gguf
    _gguf_quants = None

F32 = 0
F16 = 1
GGML_TYPES: Dict[int, Tuple[str, int]] = {
    2: ("Q4_0", _q.FORMAT_Q4_0),
    3: ("Q4_1", _q.FORMAT_Q4_1),
    12: ("Q4_K", _q.FORMAT_Q4_K),
    20: ("IQ4_NL", _q.FORMAT_IQ4_NL),
    23: ("IQ4_XS", _q.FORMAT_IQ4_XS),
    39: ("MXFP4", _q.FORMAT_MXFP4),
    40: ("NVFP4", _q.FORMAT_NVFP4),
}
"""``GGMLQuantizationType`` value -> (name, ``quantize.FORMAT_*``) for the library's formats."""

if _gguf_quants is not None:
    _Base: Any = (LengthError, _gguf_quants.QuantError)
else:
    _Base = (LengthError,)


class QuantError(*_Base):  # type: ignore[misc]
    """A tensor whose rows are not a whole number of blocks: gguf's ``QuantError`` (when gguf
    is installed, this class derives from it, so ``except gguf.QuantError`` still catches it)
    and a ``quantize.LengthError``."""

    def __init__(self, text: str):
        super().__init__(function="quantize.gguf.quantize", detail=text)
        self.args = (text,)

    def __str__(self) -> str:
        return self.args[0]


def _number(qtype: Any) -> int:
    try:
        return operator.index(qtype)
    except TypeError:
        raise TypeError("qtype must be a GGMLQuantizationType or an int, got %r" % (qtype,)) from None


def _name(number: int) -> str:
    if number in GGML_TYPES:
        return GGML_TYPES[number][0]
    try:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(number).name
    except (ImportError, ValueError):
        return "type %d" % number


def supported(qtype: Any) -> bool:
    """Whether the loaded library quantizes and dequantizes ``qtype`` itself."""
    number = _number(qtype)
    return number in GGML_TYPES and lib.quantize_block_elements(GGML_TYPES[number][1]) > 0


def _lazy(data: Any) -> bool:
    if _gguf_quants is None:
        return False
    return isinstance(data, _gguf_quants.LazyNumpyTensor)


def _sizes(number: int) -> Tuple[int, int, int]:
    fmt = GGML_TYPES[number][1]
    return fmt, int(lib.quantize_block_elements(fmt)), int(lib.quantize_block_bytes(fmt))


def _byte_shape(shape: Tuple[int, ...], number: int) -> Tuple[int, ...]:
    _fmt, elems, nbytes = _sizes(number)
    if len(shape) == 0 or shape[-1] % elems != 0:
        row = shape[-1] if shape else None
        raise QuantError(
            "Can't quantize tensor with shape %s to %s: its rows of %s values are not a whole "
            "number of %d-value blocks" % (tuple(shape), _name(number), row, elems)
        )
    return tuple(shape[:-1]) + (shape[-1] // elems * nbytes,)


def _value_shape(shape: Tuple[int, ...], number: int) -> Tuple[int, ...]:
    _fmt, elems, nbytes = _sizes(number)
    if len(shape) == 0 or shape[-1] % nbytes != 0:
        row = shape[-1] if shape else None
        raise LengthError(
            function="quantize.gguf.dequantize",
            detail="quantized tensor rows of %s bytes are not a whole number of %s blocks of %d "
            "bytes" % (row, _name(number), nbytes),
        )
    return tuple(shape[:-1]) + (shape[-1] // nbytes * elems,)


def _quantize_array(data: np.ndarray, number: int, threads: Optional[int]) -> np.ndarray:
    fmt = GGML_TYPES[number][1]
    arr = np.asarray(data)
    shape = _byte_shape(arr.shape, number)
    return _q.quantize_blocks(arr, fmt, threads=threads).reshape(shape)


def _dequantize_array(
    data: np.ndarray, number: int, threads: Optional[int], dtype: Optional[DTypeLike]
) -> np.ndarray:
    fmt = GGML_TYPES[number][1]
    arr = np.asarray(data)
    if arr.dtype != np.uint8:
        arr = arr.view(np.uint8)  # as gguf: the bytes of whatever dtype came in
    shape = _value_shape(arr.shape, number)
    return _q.dequantize_blocks(arr, fmt, threads=threads, dtype=dtype).reshape(shape)


_ORIGINAL: Dict[str, Any] = {}


def _fallback(op: str, data: Any, number: int) -> Any:
    """The type is not one of the library's: gguf's own function, or NotImplementedError."""
    original = _ORIGINAL.get(op) or (getattr(_gguf_quants, op) if _gguf_quants else None)
    if original is None:
        what = "Quantization" if op == "quantize" else "Dequantization"
        raise NotImplementedError(
            "%s for %s is not implemented by libquantize (install the gguf package for its "
            "numpy implementation of other types)" % (what, _name(number))
        )
    from gguf import GGMLQuantizationType

    return original(data, GGMLQuantizationType(number))


def quantize(data: Any, qtype: Any, *, threads: Optional[int] = None) -> Any:
    """``gguf.quants.quantize`` on libquantize: float ``[..., row]`` -> uint8
    ``[..., row // block_elems * block_bytes]`` (see the module's documentation)."""
    number = _number(qtype)
    if number == F32:
        return data.astype(np.float32, copy=False)
    if number == F16:
        return data.astype(np.float16, copy=False)
    if not supported(number):
        return _fallback("quantize", data, number)
    if _lazy(data):
        wrapped = _gguf_quants.LazyNumpyTensor._wrap_fn(
            lambda a: _quantize_array(a, number, threads),
            meta_noop=(np.uint8, lambda shape: _byte_shape(shape, number)),
        )
        if data.shape[-1] % _sizes(number)[1] != 0:
            _byte_shape(data.shape, number)  # raises QuantError now, as gguf does
        return wrapped(data)
    return _quantize_array(data, number, threads)


def dequantize(
    data: Any, qtype: Any, *, threads: Optional[int] = None, dtype: Optional[DTypeLike] = None
) -> Any:
    """``gguf.quants.dequantize`` on libquantize: uint8 ``[..., nbytes]`` -> float32
    ``[..., nbytes // block_bytes * block_elems]`` (or ``dtype``: float16, bfloat16)."""
    number = _number(qtype)
    if number == F32:
        return data.view(np.float32)
    if number == F16:
        return data.view(np.float16).astype(np.float32)
    if not supported(number):
        return _fallback("dequantize", data, number)
    if _lazy(data):
        out = np.dtype(np.float32 if dtype is None else dtype)
        wrapped = _gguf_quants.LazyNumpyTensor._wrap_fn(
            lambda a: _dequantize_array(a, number, threads, dtype),
            meta_noop=(out, lambda shape: _value_shape(shape, number)),
        )
        return wrapped(data)
    return _dequantize_array(data, number, threads, dtype)


def patch() -> None:
    """Make ``gguf.quants.quantize`` and ``gguf.quants.dequantize`` these functions (other
    types still reach gguf's originals). Needs the gguf package."""
    if _gguf_quants is None:
        raise ImportError("quantize.gguf.patch() needs the gguf package (pip install gguf)")
    if not _ORIGINAL:
        _ORIGINAL["quantize"] = _gguf_quants.quantize
        _ORIGINAL["dequantize"] = _gguf_quants.dequantize
    _gguf_quants.quantize = quantize
    _gguf_quants.dequantize = dequantize


def unpatch() -> None:
    """Undo ``patch()``."""
    if _ORIGINAL:
        _gguf_quants.quantize = _ORIGINAL.pop("quantize")
        _gguf_quants.dequantize = _ORIGINAL.pop("dequantize")
