"""An independent numpy rendering of the README's "Numeric rules (int4)" (per-tensor int4),
the oracle of these tests.

Written from the text of those rules alone, with every operation in float32 as they say; it shares no code
with libquantize or with the binding.
"""

import numpy as np

F = np.float32


def quantize(values, method="minmax"):
    """(q int8 array of the input's shape, scale float, zero_point int), per the rules."""
    x = np.asarray(values, dtype=np.float32)
    shape = x.shape
    x = x.reshape(-1)
    if method == "minmax":
        lo = min(F(0), x.min())
        hi = max(F(0), x.max())
        scale = F(hi - lo) / F(15)
    elif method == "absmax":
        scale = np.max(np.abs(x)) / F(7)
    else:
        raise ValueError(method)
    assert scale.dtype == np.float32
    if scale == 0:  # all zeros, or the scale underflowed
        return np.zeros(shape, dtype=np.int8), 1.0, 0
    if method == "minmax":
        zero_point = int(np.clip(np.rint(F(-8) - lo / scale), -8, 7))
    else:
        zero_point = 0
    scaled = x / scale
    assert scaled.dtype == np.float32
    q = np.clip(np.rint(scaled) + F(zero_point), F(-8), F(7)).astype(np.int8)
    return q.reshape(shape), float(scale), zero_point


def dequantize(q, scale, zero_point=0):
    """(q - zero_point) as float32, times scale, one float32 rounding."""
    q = np.asarray(q, dtype=np.int8)
    d = (q.astype(np.int32) - np.int32(zero_point)).astype(np.float32)
    y = d * F(scale)
    assert y.dtype == np.float32
    return y


def pack(q):
    """Two's-complement nibbles, element 2i low, 2i+1 high, odd count padded with 0; int8."""
    q = np.asarray(q, dtype=np.int8).reshape(-1)
    if q.size % 2:
        q = np.concatenate([q, np.zeros(1, dtype=np.int8)])
    u = q.view(np.uint8)
    return ((u[0::2] & 0x0F) | ((u[1::2] & 0x0F) << 4)).astype(np.uint8).view(np.int8)


def unpack(packed):
    """Sign-extended nibbles, low first: 2*len(packed) int8 values."""
    b = np.asarray(packed).astype(np.int64) & 0xFF
    out = np.empty(2 * b.size, dtype=np.int64)
    out[0::2] = b & 0x0F
    out[1::2] = b >> 4
    return np.where(out >= 8, out - 16, out).astype(np.int8)


def bits(a):
    """The float32 bit patterns of ``a`` (exact comparison, -0.0 != 0.0)."""
    a = np.asarray(a)
    assert a.dtype == np.float32, a.dtype
    return a.view(np.uint32)
