"""quantize: float buffers to 4-bit codes and back, on top of libquantize's C ABI.

The seed API::

    from quantize import quantize_to_int4, dequantize_from_int4
    from quantize.quantize import pack_int4_to_int8, unpack_int8_to_int4

plus the fused, group-wise, ggml/GGUF block, NF4/FP4 codebook and error-statistics functions
(see ``quantize.quantize``: float16/bfloat16 inputs, ``dtype=``/``out=`` outputs, ``axis=``
rows and ``threads=`` chunking), and ``quantize.gguf``, a drop-in for ``gguf.quants``'
``quantize``/``dequantize``. Failures raise ``QuantizeError`` (a ``ValueError``) or one of its
subclasses, one per C status. The C library never starts a thread; ``threads=`` is the
binding's own thread pool.
"""

from ._ffi import (
    BufferTooSmallError,
    EmptyInputError,
    InternalError,
    InvalidArgumentError,
    LengthError,
    MisalignedError,
    NonFiniteError,
    NullPointerError,
    OverlapError,
    QuantizeError,
    ValueOutOfRangeError,
    library_path,
    status_message,
)
from ._ffi import lib as _lib
from .quantize import *  # noqa: F401,F403
from .quantize import __all__ as _functions


def version():
    """The loaded library's version, "MAJOR.MINOR.PATCH" (``quantize_version``)."""
    return _lib.quantize_version().decode("ascii")


def version_number():
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return int(_lib.quantize_version_number())


def kernel_name():
    """The SIMD level in use: "scalar", "avx2", "avx512" or "neon"."""
    return _lib.quantize_kernel_name().decode("ascii")


__version__ = version()

__all__ = list(_functions) + [
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
    "status_message",
    "library_path",
    "version",
    "version_number",
    "kernel_name",
]
