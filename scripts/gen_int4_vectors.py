#!/usr/bin/env python3
# Requirements (see scripts/requirements.txt): numpy, onnx>=1.16 (INT4 QuantizeLinear, opset 21),
# ml_dtypes.   pip install numpy onnx ml_dtypes
"""Golden vectors for the per-tensor int4 API of libquantize (docs/contract.md §2).

What this script does
---------------------
1. An independent numpy float32 implementation of docs/contract.md §2:
     minmax: lo = min(0, min x), hi = max(0, max x), scale = (hi - lo) / 15 (binary32),
             zero_point = clamp(rne(-8 - lo / scale), -8, 7)
     absmax: a = max |x|, scale = a / 7, zero_point = 0
     both:   q = clamp(rne(x / scale) + zero_point, -8, 7)   (a float32 division)
             every input 0, or scale == 0 after rounding: scale = 1, zero_point = 0, q = 0
             y = float32(q - zero_point) * scale             (one rounding)
   Packing: byte i = (q[2i] & 0xF) | (q[2i+1] & 0xF) << 4, an odd count pads the high nibble
   with 0 (the ONNX int4 layout).
2. Every case is cross-checked against the ONNX reference evaluator
   (onnx.reference.ReferenceEvaluator): QuantizeLinear (opset 21) with an INT4 zero point, fed
   our scale and zero point, must give our codes; DequantizeLinear must give our dequantized
   values bit for bit (both from our codes and chained from ONNX's). The packing is checked
   against onnx.numpy_helper.from_array (raw_data), onnx.helper.make_tensor (int32_data) and
   onnx.numpy_helper.to_array (unpacking). Group-wise cases are checked against ONNX blocked
   quantization (block_size attribute, axis 0). Any disagreement raises and nothing is written.
3. Writes tests/data/int4/*.txt (read by tests/int4_golden.rs) and
   tests/data/int4/seed_example.txt (for the C seed example test).

Per-tensor file format (tests/data/int4/{seed,ties,special,random_small,random_large,traps}.txt)
-----------------------------------------------------------------------------------------------
Lines starting with '#' are comments; blank lines are ignored. One case per line, fields
separated by single spaces, with '|' as a separate field:

    name method n scale_bits zp x_bits... | q... | packed_hex | y_bits...

  name        identifier without spaces
  method      "minmax" or "absmax"
  n           element count (>= 1)
  scale_bits  the float32 scale as 8 lowercase hex digits (its u32 bit pattern)
  zp          zero point, signed decimal in -8..7
  x_bits      n inputs, float32 bit patterns, 8 hex digits each
  q           n codes, signed decimal in -8..7
  packed_hex  the (n + 1) / 2 packed bytes as one string of 2 hex digits per byte, byte 0 first
  y_bits      n dequantized values, float32 bit patterns, 8 hex digits each

Group-wise file format (tests/data/int4/groups.txt)
---------------------------------------------------
    name method n group_size | x_bits... | scale_bits... | zp... | packed_hex | y_bits...

  one scale and one zero point per group (ceil(n / group_size) of each; for absmax all zero
  points are 0); packed_hex is the one packed stream of all n codes; group g covers elements
  [g*group_size, min((g+1)*group_size, n)) and follows section 2 on its own.

Seed example file (tests/data/int4/seed_example.txt)
----------------------------------------------------
See write_seed_example() below: '#' comments, then one line per quantity `name: v1 v2 ...`.
"""

from __future__ import annotations

import math
import os
import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

F32 = np.float32
MAX_ABS = F32(2.0**126)
OPSET = 21

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(os.path.dirname(HERE), "tests", "data", "int4")


class Mismatch(AssertionError):
    pass


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise Mismatch(msg)


# --------------------------------------------------------------------------------------------
# Independent numpy implementation of docs/contract.md §2
# --------------------------------------------------------------------------------------------


def f32(v) -> np.float32:
    return np.float32(v)


def bits(v) -> int:
    return int(np.asarray(v, dtype=F32).reshape(()).view(np.uint32))


def from_bits(b: int) -> np.float32:
    return np.array(b, dtype=np.uint32).view(F32).reshape(())[()]


def rne(v: np.ndarray) -> np.ndarray:
    """Round half to even, on float32 values (exact: np.rint on binary32)."""
    return np.rint(v)


def compute_params(x: np.ndarray, method: str) -> tuple[np.float32, int]:
    """Scale and zero point of docs/contract.md §2, all arithmetic in binary32."""
    assert x.dtype == F32 and x.ndim == 1 and x.size >= 1
    assert np.all(np.isfinite(x)), "inputs the API rejects are not golden cases"
    assert np.all(np.abs(x) <= MAX_ABS), "inputs the API rejects are not golden cases"
    if method == "minmax":
        lo = min(F32(0.0), x.min())
        hi = max(F32(0.0), x.max())
        scale = F32(hi - lo) / F32(15.0)
        assert isinstance(scale, np.float32)
        if scale == 0:  # every input 0, or (hi - lo) / 15 underflowed
            return F32(1.0), 0
        t = F32(-8.0) - F32(lo / scale)
        assert isinstance(t, np.float32)
        zp = int(min(max(rne(t), -8.0), 7.0))
        return scale, zp
    if method == "absmax":
        a = np.abs(x).max()
        scale = F32(a) / F32(7.0)
        assert isinstance(scale, np.float32)
        if scale == 0:
            return F32(1.0), 0
        return scale, 0
    raise ValueError(method)


def quantize_with(x: np.ndarray, scale: np.float32, zp: int) -> np.ndarray:
    d = x / scale
    assert d.dtype == F32
    r = rne(d).astype(np.int64)
    return np.clip(r + zp, -8, 7).astype(np.int8)


def quantize(x: np.ndarray, method: str) -> tuple[np.ndarray, np.float32, int]:
    scale, zp = compute_params(x, method)
    q = quantize_with(x, scale, zp)
    return q, scale, zp


def dequantize(q: np.ndarray, scale: np.float32, zp: int) -> np.ndarray:
    d = (q.astype(np.int32) - np.int32(zp)).astype(F32)  # exact: |q - zp| <= 15
    y = d * scale
    assert y.dtype == F32
    return y


def pack(q: np.ndarray) -> bytes:
    n = q.size
    out = bytearray((n + 1) // 2)
    for i, v in enumerate(q.tolist()):
        assert -8 <= v <= 7
        nib = v & 0xF
        if i % 2 == 0:
            out[i // 2] |= nib
        else:
            out[i // 2] |= nib << 4
    return bytes(out)


def unpack(b: bytes, n: int) -> np.ndarray:
    out = []
    for i in range(n):
        nib = (b[i // 2] >> (4 * (i % 2))) & 0xF
        out.append(nib - 16 if nib >= 8 else nib)
    return np.array(out, dtype=np.int8)


# --------------------------------------------------------------------------------------------
# ONNX cross-checks
# --------------------------------------------------------------------------------------------


def _per_tensor_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
    s = helper.make_tensor_value_info("scale", TensorProto.FLOAT, [])
    z = helper.make_tensor_value_info("zp", TensorProto.INT4, [])
    qin = helper.make_tensor_value_info("qin", TensorProto.INT4, ["N"])
    q = helper.make_tensor_value_info("q", TensorProto.INT4, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    y2 = helper.make_tensor_value_info("y_chain", TensorProto.FLOAT, ["N"])
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zp"], ["q"]),
        helper.make_node("DequantizeLinear", ["qin", "scale", "zp"], ["y"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zp"], ["y_chain"]),
    ]
    graph = helper.make_graph(nodes, "int4_per_tensor", [x, s, z, qin], [q, y, y2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    return model


_PT = None


def onnx_per_tensor(x, scale, zp, q_ours):
    global _PT
    if _PT is None:
        _PT = ReferenceEvaluator(_per_tensor_model())
    feeds = {
        "x": x,
        "scale": np.array(scale, dtype=F32),
        "zp": np.array(zp, dtype=ml_dtypes.int4),
        "qin": q_ours.astype(ml_dtypes.int4),
    }
    q, y, y2 = _PT.run(None, feeds)
    check(q.dtype == ml_dtypes.int4, f"onnx q dtype {q.dtype}")
    check(y.dtype == F32 and y2.dtype == F32, "onnx y dtype")
    return q.astype(np.int8), y, y2


_BLOCKED = {}


def onnx_blocked(x, scales, zps, group_size, q_ours):
    if group_size not in _BLOCKED:
        xv = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
        s = helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["G"])
        z = helper.make_tensor_value_info("zp", TensorProto.INT4, ["G"])
        qin = helper.make_tensor_value_info("qin", TensorProto.INT4, ["N"])
        q = helper.make_tensor_value_info("q", TensorProto.INT4, ["N"])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
        nodes = [
            helper.make_node(
                "QuantizeLinear", ["x", "scale", "zp"], ["q"], axis=0, block_size=group_size
            ),
            helper.make_node(
                "DequantizeLinear", ["qin", "scale", "zp"], ["y"], axis=0, block_size=group_size
            ),
        ]
        graph = helper.make_graph(nodes, "int4_blocked", [xv, s, z, qin], [q, y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        onnx.checker.check_model(model, full_check=True)
        _BLOCKED[group_size] = ReferenceEvaluator(model)
    feeds = {
        "x": x,
        "scale": np.array(scales, dtype=F32),
        "zp": np.array(zps, dtype=ml_dtypes.int4),
        "qin": q_ours.astype(ml_dtypes.int4),
    }
    q, y = _BLOCKED[group_size].run(None, feeds)
    return q.astype(np.int8), y


def check_packing(name: str, q: np.ndarray, packed: bytes) -> None:
    n = q.size
    q4 = q.astype(ml_dtypes.int4)
    t_raw = numpy_helper.from_array(q4, name="q")
    check(t_raw.data_type == TensorProto.INT4, f"{name}: from_array type")
    check(t_raw.raw_data == packed, f"{name}: packing differs from onnx from_array")
    t_vals = helper.make_tensor("q", TensorProto.INT4, [n], q.tolist())
    check(
        bytes(v & 0xFF for v in t_vals.int32_data) == packed,
        f"{name}: packing differs from onnx make_tensor",
    )
    for t in (t_raw, t_vals):
        back = numpy_helper.to_array(t).astype(np.int8)
        check(np.array_equal(back, q), f"{name}: onnx to_array unpacking differs")
    check(np.array_equal(unpack(packed, n), q), f"{name}: our unpacking differs")
    if n % 2 == 1:
        check(packed[-1] >> 4 == 0, f"{name}: padding nibble not 0")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


class Case:
    def __init__(self, name: str, method: str, x):
        self.name = name
        self.method = method
        self.x = np.array(x, dtype=F32).reshape(-1)
        assert " " not in name and "|" not in name
        self.q, self.scale, self.zp = quantize(self.x, method)
        self.packed = pack(self.q)
        self.y = dequantize(self.q, self.scale, self.zp)
        self.verify()

    def verify(self) -> None:
        name, x, q, scale, zp, y = self.name, self.x, self.q, self.scale, self.zp, self.y
        # basic contract of section 2
        check(np.isfinite(scale) and scale > 0, f"{name}: scale {scale}")
        check(-8 <= zp <= 7, f"{name}: zp {zp}")
        check(self.method != "absmax" or zp == 0, f"{name}: absmax zp {zp}")
        check(np.all(np.isfinite(y)), f"{name}: non-finite y")
        # ONNX reference evaluator, bit for bit
        oq, oy, oy2 = onnx_per_tensor(x, scale, zp, q)
        check(np.array_equal(oq, q), f"{name}: codes differ from ONNX QuantizeLinear")
        check(same_bits(oy, y), f"{name}: dequantized differs from ONNX DequantizeLinear")
        check(same_bits(oy2, y), f"{name}: chained ONNX dequantize differs")
        check_packing(name, q, self.packed)

    def line(self) -> str:
        parts = [self.name, self.method, str(self.x.size), f"{bits(self.scale):08x}", str(self.zp)]
        parts += [f"{b:08x}" for b in self.x.view(np.uint32).tolist()]
        parts.append("|")
        parts += [str(v) for v in self.q.tolist()]
        parts.append("|")
        parts.append(self.packed.hex())
        parts.append("|")
        parts += [f"{b:08x}" for b in self.y.view(np.uint32).tolist()]
        return " ".join(parts)


METHODS = ("minmax", "absmax")

SEED_X = [0.1, 0.5, -1.3, 2.7, 3.9, -0.8, 5.2, -4.7]


def both(name, x):
    return [Case(f"{name}_{m}", m, x) for m in METHODS]


def cases_seed():
    out = both("seed_example", SEED_X)
    out += both("seed_usage_6", SEED_X[:6])  # the six-value snippet of USAGE.rst
    return out


def cases_ties():
    out = []
    # absmax, scale exactly 1 (a = 7): x / 1 lands on every half-integer, both signs
    halves = [k + 0.5 for k in range(-8, 7)]  # -7.5 .. 6.5
    out.append(
        Case("ties_absmax_scale1", "absmax", [7.0] + [h for h in halves if abs(h) < 7] + [-7.0])
    )
    # absmax, scale 0.5 (a = 3.5) and scale 2^-20 * 3 ... (a = 7 * 2^k) at other exponents
    for k in (-1, -20, 30, -126):
        s = 2.0**k
        xs = [7.0 * s] + [h * s for h in halves if abs(h * s) <= 7.0 * s]
        out.append(Case(f"ties_absmax_pow2_{k}".replace("-", "m"), "absmax", xs))
    # minmax with scale exactly 1: lo = -7, hi = 8 -> zp = rne(-1) = -1
    xs = [-7.0, 8.0] + [h for h in halves if -7.0 <= h <= 8.0] + [7.5]
    out.append(Case("ties_minmax_scale1_zp_m1", "minmax", xs))
    # minmax where the zero point itself is a tie: -8 - lo/scale = -0.5, -1.5, -2.5, ..., 6.5
    for j in range(-8, 8):
        lo = -(j + 8.5)  # -8 - lo = j + 0.5
        if lo > 0 or lo < -15:
            continue
        hi = lo + 15.0
        xs = [lo, hi] + [h for h in np.arange(lo, hi + 0.25, 0.5).tolist()]
        out.append(Case(f"ties_minmax_zp_{j}_5".replace("-", "m"), "minmax", xs))
    # minmax ties with a non-unit exact scale: lo = -3 * 0.25, hi = 12 * 0.25 -> scale 0.25
    xs = [-0.75, 3.0] + [(k + 0.5) * 0.25 for k in range(-3, 12)]
    out.append(Case("ties_minmax_scale_quarter", "minmax", xs))
    # all-positive and all-negative tie sets (zp -8 and 7)
    out.append(Case("ties_minmax_pos", "minmax", [15.0] + [k + 0.5 for k in range(0, 15)]))
    out.append(Case("ties_minmax_neg", "minmax", [-15.0] + [-(k + 0.5) for k in range(0, 15)]))
    out.append(Case("ties_absmax_pos", "absmax", [7.0] + [k + 0.5 for k in range(0, 7)]))
    out.append(Case("ties_absmax_neg", "absmax", [-7.0] + [-(k + 0.5) for k in range(0, 7)]))
    # x / scale that *rounds* (in binary32) onto a half-integer although the exact quotient
    # is not one: an f64 division or a reciprocal multiply would round differently.
    out += cases_rounded_ties()
    return out


def cases_rounded_ties():
    rng = np.random.default_rng(0x71E5)
    out = []
    for method in METHODS:
        for trial in range(4):
            if method == "absmax":
                a = F32(rng.uniform(0.5, 2.0) * 2.0 ** rng.integers(-20, 20))
                lo, hi = -a, a
            else:
                lo = F32(-rng.uniform(0.0, 4.0) * 2.0 ** (trial - 2))
                hi = F32(rng.uniform(0.1, 8.0) * 2.0 ** (trial - 2))
            xs = [lo, hi]
            scale, _ = compute_params(np.array(xs, dtype=F32), method)
            k_lo = int(math.floor(float(lo) / float(scale))) - 1
            k_hi = int(math.floor(float(hi) / float(scale))) + 1
            for k in range(k_lo, k_hi + 1):
                c = F32((k + 0.5) * float(scale))
                for direction in (-1, 1):
                    v = c
                    for _ in range(64):
                        if not (lo < v < hi):
                            break
                        d = v / scale
                        if float(d) == k + 0.5 and float(v) / float(scale) != k + 0.5:
                            xs.append(v)  # quotient rounds (in binary32) onto the tie
                        elif float(d) != k + 0.5:
                            break
                        v = np.nextafter(v, F32(direction * np.inf))
            check(len(xs) > 6, f"rounded_ties {method} {trial}: only {len(xs) - 2} found")
            c = Case(f"rounded_ties_{method}_{trial}", method, xs)
            # the case must separate a binary32 division from a binary64 one
            x64 = c.x.astype(np.float64) / np.float64(c.scale)
            q64 = np.clip(np.rint(x64).astype(np.int64) + c.zp, -8, 7)
            check(not np.array_equal(q64, c.q), f"{c.name}: f64 division gives the same codes")
            out.append(c)
    return out


def cases_special():
    out = []
    tiny = float(from_bits(1))  # 2^-149
    sub_max = float(from_bits(0x007FFFFF))
    normal_min = 2.0**-126
    big = 2.0**126
    # subnormals
    out += both("subnormal_mixed", [tiny, -3 * tiny, sub_max, -sub_max / 3, normal_min, 0.0])
    out += both("subnormal_only", [from_bits(b) for b in (0x00400000, 0x80123456, 0x00000abc, 0x0007ffff)])
    out += both("subnormal_with_normal", [1.0, tiny, -tiny, sub_max, -sub_max, 2.5e-39])
    # subnormal (nonzero) scales just above underflow
    out += both("scale_subnormal_8ulp", [8 * tiny, 0.0])  # minmax (8/15 -> 1 ulp), absmax (8/7)
    out += both("scale_subnormal_22ulp", [22 * tiny, -5 * tiny, 3 * tiny, 11 * tiny])
    out += both("scale_subnormal_mid", [1e-39, -3e-40, 5e-40, -1e-45, 7e-40])
    out.append(Case("scale_subnormal_absmax_4ulp", "absmax", [4 * tiny, -tiny, 2 * tiny, -4 * tiny]))
    # a subnormal scale rounded far down: codes saturate, |x - y| reaches several ulps of 2^-149
    out.append(Case("scale_subnormal_clamp_minmax", "minmax", [22 * tiny, 0.0, 21 * tiny, 15 * tiny]))
    out.append(Case("scale_subnormal_clamp_absmax", "absmax", [10 * tiny, -10 * tiny, 9 * tiny, 8 * tiny]))
    # scale underflow: (hi - lo) / 15 or a / 7 rounds to 0 -> scale 1, zp 0, q 0
    out += both("underflow_min_subnormal", [tiny])
    out += both("underflow_neg_min_subnormal", [-tiny])
    out.append(Case("underflow_minmax_7ulp", "minmax", [4 * tiny, -3 * tiny, tiny, 0.0]))
    out.append(Case("underflow_minmax_7ulp_pos", "minmax", [7 * tiny, 2 * tiny]))
    out.append(Case("underflow_absmax_3ulp", "absmax", [3 * tiny, -2 * tiny, tiny, -3 * tiny]))
    out += both("underflow_two_ulp", [2 * tiny, -tiny, 0.0, -0.0])
    # the largest accepted magnitudes
    out += both("pow126_pos", [big])
    out += both("pow126_neg", [-big])
    out += both("pow126_both", [big, -big])
    out += both("pow126_mixed", [big, 1.0, -3.0, 0.0, big / 3, -big / 7])
    out += both("pow126_and_tiny", [-big, tiny, 1e-30, -big / 2])
    out += both("near_pow126", [float(from_bits(0x7E7FFFFF)), float(from_bits(0xFE7FFFFF)), 1.0])
    # negative zero
    out += both("neg_zero_single", [-0.0])
    out += both("neg_zero_pair", [-0.0, 0.0])
    out += both("neg_zero_mixed", [-0.0, 1.0, -0.0, -2.0, 0.0, 0.25])
    out += both("neg_zero_pos", [-0.0, 3.0, 1.5])
    out += both("neg_zero_neg", [-0.0, -3.0, -1.5])
    # constants
    out += both("const_pos", [2.75] * 5)
    out += both("const_neg", [-1.3] * 7)
    out += both("const_one", [1.0] * 4)
    out += both("const_tiny_normal", [1.2e-38] * 3)
    out += both("const_large", [3.0e37] * 6)
    out += both("const_third", [1.0 / 3.0] * 9)
    # all zeros
    for n in (1, 2, 3, 8, 17):
        out += both(f"zeros_{n}", [0.0] * n)
    # single elements
    singles = [1.0, -1.0, 0.1, -0.1, 7.0, -8.0, 1e-20, -1e20, 3.4028235e30, 0.5, 123.456, -6.02e23]
    for i, v in enumerate(singles):
        out += both(f"single_{i}", [v])
    # odd lengths with structure
    for n in (3, 5, 7, 9, 15, 31, 33, 63, 65):
        xs = np.linspace(-1.0, 2.0, n, dtype=F32)
        out += both(f"odd_linspace_{n}", xs)
    # saturation at both ends and codes -8 / 7 exactly
    out += both("full_range_int", [float(k) for k in range(-8, 8)])
    out += both("asym_neg_heavy", [-100.0, 1.0, 0.5, -50.0, 0.0])
    out += both("asym_pos_heavy", [100.0, -1.0, -0.5, 50.0, 0.0])
    return out


def random_vector(rng, n: int, kind: str) -> np.ndarray:
    exp = float(2.0 ** rng.integers(-30, 30))
    if kind == "normal":
        v = rng.standard_normal(n) * exp
    elif kind == "uniform":
        v = rng.uniform(-1.0, 1.0, n) * exp
    elif kind == "positive":
        v = rng.uniform(0.0, 1.0, n) * exp
    elif kind == "negative":
        v = -rng.uniform(0.0, 1.0, n) * exp
    elif kind == "offset":
        v = (rng.uniform(-1.0, 1.0, n) + 3.0) * exp
    elif kind == "heavy":
        v = rng.standard_t(1.5, n) * exp
    elif kind == "sparse":
        v = rng.standard_normal(n) * exp
        v[rng.uniform(size=n) < 0.6] = 0.0
    elif kind == "grid":  # exact multiples of an exact scale: lots of ties
        v = (rng.integers(-16, 17, n) * 0.5) * (2.0 ** rng.integers(-4, 4))
    else:
        raise ValueError(kind)
    x = v.astype(F32)
    return np.clip(x, -MAX_ABS, MAX_ABS)


KINDS = ("normal", "uniform", "positive", "negative", "offset", "heavy", "sparse", "grid")


def cases_random_small():
    rng = np.random.default_rng(20240611)
    out = []
    for n in range(1, 71):
        for method in METHODS:
            kind = KINDS[(n + (method == "absmax") * 3) % len(KINDS)]
            out.append(Case(f"rand_{n}_{kind}_{method}", method, random_vector(rng, n, kind)))
    return out


def cases_random_large():
    rng = np.random.default_rng(4096)
    out = []
    x = rng.standard_normal(4096).astype(F32)
    out.append(Case("large_normal_minmax", "minmax", x))
    x = rng.uniform(-3.0, 5.0, 4096).astype(F32)
    out.append(Case("large_uniform_absmax", "absmax", x))
    x = (rng.standard_t(2.0, 4096) * 0.01).astype(F32)
    out.append(Case("large_heavy_minmax", "minmax", x))
    x = (rng.standard_cauchy(777) * 1e-3).astype(F32)
    out.append(Case("large_cauchy_absmax", "absmax", x))
    return out


def cases_traps():
    """Inputs where x / scale and x * (1 / scale) round to different codes (a division is
    required), and where (hi - lo) / 15 differs from (hi - lo) * (1 / 15)."""
    rng = np.random.default_rng(0xD1F)
    out = []
    for method in METHODS:
        for trial in range(3):
            while True:
                x = random_vector(rng, 24, "uniform" if trial % 2 else "normal")
                scale, zp = compute_params(x, method)
                if method == "minmax":
                    lo, hi = min(F32(0), x.min()), max(F32(0), x.max())
                    alt = F32(hi - lo) * (F32(1.0) / F32(15.0))
                else:
                    alt = F32(np.abs(x).max()) * (F32(1.0) / F32(7.0))
                if alt != scale or trial > 0:
                    break
            recip = F32(1.0) / scale
            traps = []
            lo_r, hi_r = float(x.min()), float(x.max())
            for _ in range(400000):
                k = rng.integers(-8, 8)
                v = F32((k + 0.5) * float(scale))
                for step in range(-4, 5):
                    w = v
                    for _ in range(abs(step)):
                        w = np.nextafter(w, F32(np.inf) if step > 0 else F32(-np.inf))
                    if not (lo_r < float(w) < hi_r):
                        continue
                    a = np.rint(w / scale)
                    b = np.rint(F32(w * recip))
                    if a != b:
                        traps.append(float(w))
                if len(traps) >= 12:
                    break
            xs = np.concatenate([x, np.array(traps, dtype=F32)])
            c = Case(f"trap_recip_{method}_{trial}", method, xs)
            # the trap must really separate division from reciprocal multiplication
            alt_q = np.clip(np.rint(xs * recip).astype(np.int64) + c.zp, -8, 7)
            if traps:
                check(not np.array_equal(alt_q, c.q), f"{c.name}: trap does not trap")
            out.append(c)
    return out


# --------------------------------------------------------------------------------------------
# Group-wise
# --------------------------------------------------------------------------------------------


class GroupCase:
    def __init__(self, name, method, x, group_size):
        self.name, self.method, self.group_size = name, method, group_size
        self.x = np.array(x, dtype=F32).reshape(-1)
        n = self.x.size
        g = -(-n // group_size)
        self.scales, self.zps, qs = [], [], []
        for i in range(g):
            q, s, z = quantize(self.x[i * group_size : (i + 1) * group_size], method)
            qs.append(q)
            self.scales.append(s)
            self.zps.append(z)
        self.q = np.concatenate(qs)
        self.packed = pack(self.q)
        ys = [
            dequantize(qs[i], self.scales[i], self.zps[i]) for i in range(g)
        ]
        self.y = np.concatenate(ys)
        oq, oy = onnx_blocked(self.x, self.scales, self.zps, group_size, self.q)
        check(np.array_equal(oq, self.q), f"{name}: codes differ from ONNX blocked QuantizeLinear")
        check(same_bits(oy, self.y), f"{name}: y differs from ONNX blocked DequantizeLinear")
        check_packing(name, self.q, self.packed)

    def line(self) -> str:
        parts = [self.name, self.method, str(self.x.size), str(self.group_size), "|"]
        parts += [f"{b:08x}" for b in self.x.view(np.uint32).tolist()]
        parts.append("|")
        parts += [f"{bits(s):08x}" for s in self.scales]
        parts.append("|")
        parts += [str(z) for z in self.zps]
        parts.append("|")
        parts.append(self.packed.hex())
        parts.append("|")
        parts += [f"{b:08x}" for b in self.y.view(np.uint32).tolist()]
        return " ".join(parts)


def cases_groups():
    rng = np.random.default_rng(0x6A0)
    out = []
    tiny = float(from_bits(1))
    base = random_vector(rng, 77, "normal")
    # a zero group, an underflowing group, a subnormal-scale group, a ±2^126 group
    special = np.array(
        [0.0] * 8
        + [tiny, -2 * tiny, 0.0, tiny, -tiny, 3 * tiny, 0.0, -0.0]
        + [22 * tiny, -5 * tiny, 3 * tiny, 11 * tiny, 1e-40, 0.0, -1e-40, 2e-40]
        + [2.0**126, -(2.0**126), 1.0, -1.0, 0.0, 3.0, 2.0**120, -5.0]
        + [7.0, 0.5, -1.5, 2.5, -3.5, 4.5, -5.5, 6.5]
        + [-3.0, 1.0, 2.0]
        , dtype=F32,
    )
    for method in METHODS:
        for gs in (1, 3, 8, 32, 77, 100):
            out.append(GroupCase(f"groups_normal77_g{gs}_{method}", method, base, gs))
        for gs in (8, 5, 16):
            out.append(GroupCase(f"groups_special_g{gs}_{method}", method, special, gs))
        x = random_vector(rng, 257, "heavy")
        out.append(GroupCase(f"groups_heavy257_g32_{method}", method, x, 32))
        x = random_vector(rng, 64, "grid")
        out.append(GroupCase(f"groups_grid64_g16_{method}", method, x, 16))
    return out


# --------------------------------------------------------------------------------------------
# Seed example (printed quantities for the C seed-example test)
# --------------------------------------------------------------------------------------------


def g9(v) -> str:
    """C's printf("%.9g", (double)v)."""
    return "%.9g" % float(v)


def write_seed_example(path: str) -> None:
    x = np.array(SEED_X, dtype=F32)
    lines = [
        "# Expected output quantities of the seed example (docs/seed/USAGE.rst, 'Complete",
        "# Example') for libquantize, generated by scripts/gen_int4_vectors.py. Do not edit.",
        "# Input: the 8 values below converted to float32.",
        "# Format: one quantity per line, `name: v1 v2 ...` (a single space after the colon and",
        "# between values; no trailing space). Floats are printed as C printf(\"%.9g\", (double)v);",
        "# integers (codes, zero point) as \"%d\"; packed bytes as unsigned decimal \"%u\" (0..255).",
        "# Names are prefixed by the scale method: `minmax.` (the seed's default) and `absmax.`.",
        "#   original            the float32 inputs",
        "#   M.quantized         n codes in -8..7",
        "#   M.scale             the scale",
        "#   M.zero_point        the zero point",
        "#   M.packed            (n + 1) / 2 packed bytes (ONNX int4 layout)",
        "#   M.unpacked          n codes unpacked from the packed bytes",
        "#   M.dequantized       (q - zero_point) * scale in float32 -- WITH the zero point (the",
        "#                       seed's snippet calls dequantize_from_int4(quantized, scale), whose",
        "#                       default zero point 0 is wrong for minmax; the C API takes the zero",
        "#                       point explicitly)",
        "#   M.error             original - dequantized per element (x - y is exact in float32",
        "#                       for these inputs, so float or double subtraction agree)",
        "#   M.mean_abs_error    sum over i of |(double)x - (double)y|, summed in index order in",
        "#                       double, divided by n (what quantize_measure_error computes)",
        "#   M.max_abs_error     max over i of |(double)x - (double)y|",
    ]
    lines.append("original: " + " ".join(g9(v) for v in x))
    for method in METHODS:
        q, scale, zp = quantize(x, method)
        packed = pack(q)
        unpacked = unpack(packed, x.size)
        y = dequantize(q, scale, zp)
        err32 = x - y
        err64 = [float(a) - float(b) for a, b in zip(x.tolist(), y.tolist())]
        check(
            [float(e) for e in err32.tolist()] == err64,
            f"seed {method}: float32 error not exact; pick one convention",
        )
        s = 0.0
        for e in err64:
            s += abs(e)
        mae = s / x.size
        mx = max(abs(e) for e in err64)
        m = method
        lines.append(f"{m}.quantized: " + " ".join(str(v) for v in q.tolist()))
        lines.append(f"{m}.scale: " + g9(scale))
        lines.append(f"{m}.zero_point: {zp}")
        lines.append(f"{m}.packed: " + " ".join(str(b) for b in packed))
        lines.append(f"{m}.unpacked: " + " ".join(str(v) for v in unpacked.tolist()))
        lines.append(f"{m}.dequantized: " + " ".join(g9(v) for v in y))
        lines.append(f"{m}.error: " + " ".join(g9(v) for v in err64))
        lines.append(f"{m}.mean_abs_error: " + g9(mae))
        lines.append(f"{m}.max_abs_error: " + g9(mx))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

PER_TENSOR_HEADER = """\
# libquantize per-tensor int4 golden vectors (docs/contract.md §2), generated by
# scripts/gen_int4_vectors.py (independent numpy float32 implementation, cross-checked bit for
# bit against the ONNX reference evaluator's QuantizeLinear/DequantizeLinear with INT4 and
# onnx's int4 packing). Do not edit by hand.
# Format: '#' lines are comments. One case per line, single spaces between fields:
#   name method n scale_bits zp x_bits... | q... | packed_hex | y_bits...
# method: minmax | absmax. scale_bits, x_bits, y_bits: float32 bit patterns, 8 hex digits.
# zp and q: signed decimal in -8..7. packed_hex: (n+1)/2 bytes, 2 hex digits each, byte 0
# first; byte i = q[2i] & 0xF | (q[2i+1] & 0xF) << 4, odd n pads the last high nibble with 0.
"""

GROUPS_HEADER = """\
# libquantize group-wise int4 golden vectors: each group of group_size consecutive elements
# (the last may be shorter) quantized on its own per docs/contract.md §2. Generated by
# scripts/gen_int4_vectors.py, cross-checked against ONNX blocked QuantizeLinear/
# DequantizeLinear (axis 0, block_size = group_size, INT4). Do not edit by hand.
# Format: '#' lines are comments. One case per line, single spaces between fields:
#   name method n group_size | x_bits... | scale_bits... | zp... | packed_hex | y_bits...
# ceil(n/group_size) scales and zero points (absmax: all 0); packed_hex is one packed stream of
# all n codes (ONNX int4 layout, see the per-tensor files); floats as 8-hex-digit u32 patterns.
"""


def write_cases(path: str, header: str, cases) -> None:
    names = set()
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(header)
        for c in cases:
            check(c.name not in names, f"duplicate case name {c.name}")
            names.add(c.name)
            f.write(c.line() + "\n")


def main() -> int:
    print(f"numpy {np.__version__}, onnx {onnx.__version__}, ml_dtypes {ml_dtypes.__version__}")
    self_test()
    os.makedirs(OUT_DIR, exist_ok=True)
    sets = {
        "seed.txt": cases_seed(),
        "ties.txt": cases_ties(),
        "special.txt": cases_special(),
        "traps.txt": cases_traps(),
        "random_small.txt": cases_random_small(),
        "random_large.txt": cases_random_large(),
    }
    all_names = set()
    for fname, cases in sets.items():
        for c in cases:
            check(c.name not in all_names, f"duplicate case name {c.name}")
            all_names.add(c.name)
        write_cases(os.path.join(OUT_DIR, fname), PER_TENSOR_HEADER, cases)
        print(f"{fname}: {len(cases)} cases")
    groups = cases_groups()
    write_cases(os.path.join(OUT_DIR, "groups.txt"), GROUPS_HEADER, groups)
    print(f"groups.txt: {len(groups)} cases")
    write_seed_example(os.path.join(OUT_DIR, "seed_example.txt"))
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"total {total} bytes in {OUT_DIR}")
    check(total < 500_000, "golden data too large")
    return 0


def self_test() -> None:
    """The checks must be able to fail: a wrong code, a wrong y bit, or a wrong packing must
    be caught by the ONNX cross-checks."""
    x = np.array(SEED_X, dtype=F32)
    q, scale, zp = quantize(x, "minmax")
    oq, oy, _ = onnx_per_tensor(x, scale, zp, q)
    assert np.array_equal(oq, q)
    bad = q.copy()
    bad[3] = bad[3] - 1 if bad[3] > -8 else bad[3] + 1
    _, oy_bad, _ = onnx_per_tensor(x, scale, zp, bad)
    assert not same_bits(oy_bad, dequantize(q, scale, zp))
    oq2, _, _ = onnx_per_tensor(x, scale, zp + 1 if zp < 7 else zp - 1, q)
    assert not np.array_equal(oq2, q)
    packed = bytearray(pack(q))
    packed[0] ^= 0x10
    try:
        check_packing("self_test", q, bytes(packed))
    except Mismatch:
        pass
    else:
        raise AssertionError("packing check cannot fail")
    y = dequantize(q, scale, zp)
    y2 = y.copy()
    y2.view(np.uint32)[0] ^= 1
    assert not same_bits(y, y2)


if __name__ == "__main__":
    sys.exit(main())
