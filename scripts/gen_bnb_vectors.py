#!/usr/bin/env python3
"""Golden vectors for the NF4 / FP4 codebook formats (bitsandbytes layout).

Requirements: numpy, onnxruntime (tested with 1.32.0), ml_dtypes (tested with 0.6.0).

    python3 scripts/gen_bnb_vectors.py            # writes tests/data/bnb/

Oracle: onnxruntime's `quantize_matmul_bnb4` (onnxruntime.capi._pybind_state), onnxruntime's
CPU port of bitsandbytes' blockwise 4-bit quantizer (contrib_ops/cpu/quantization/
blockwise_quant_block_bnb4.h). Its quant_type numbering is FP4 = 0, NF4 = 1 (ours is NF4 = 0,
FP4 = 1). We call it with N = 1, K = n so its [N, K] row-major matrix is our flat stream.

onnxruntime accepts block sizes 16..256 only. For 512..4096 the codes still come from
onnxruntime: every 128-element piece of a block is quantized in a 256-element onnxruntime block
whose element 128 holds the big block's absmax (so onnxruntime's absmax, and hence its
reciprocal, is the big block's), the rest zero; the first 128 codes are kept. The script checks
that this construction reproduces the direct call exactly for every block size 32..256 and every
case before it trusts it for the larger sizes. The padding nibble of an odd n is taken from
onnxruntime's own padding (a one-element call).

Dequantized values are bitsandbytes' formula `table[code] * absmax`, one float32 multiply, in
numpy float32, with the code tables typed in from bitsandbytes' csrc/kernels.cu.

ml_dtypes' float4_e2m1fn is used to relate bitsandbytes' FP4 table to OCP E2M1 (tables file and
an assertion on the random data): the normal FP4 values are E2M1 values / 6, the subnormal one is
not (1/192 instead of 1/12), and bitsandbytes breaks ties toward the smaller magnitude where
E2M1 rounds half to even.

Output layout (little-endian), tests/data/bnb/:
  manifest.txt                     one line per vector: case codebook block_size n
  <case>.f32                       the input, n float32
  <case>.<cb>.bs<B>.bin            codes ((n+1)//2 bytes), absmax (ceil(n/B) float32),
                                   dequantized (n float32), concatenated
  tables.f32                       NF4 table (16 float32), then FP4 table (16 float32)
  fp4_e2m1.f32                     for each FP4 code: float32(E2M1 value / 6) of the E2M1 code
                                   with the same value, NaN where there is none
"""

import os
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
import onnxruntime.capi._pybind_state as ort

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "bnb")
ORT_QT = {"nf4": 1, "fp4": 0}
BLOCK_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]


def f32_literal(s):
    """float32 of a C `...f` literal: the decimal correctly rounded (ties to even)."""
    fr = Fraction(s)
    d = np.float32(float(fr))
    cands = [np.nextafter(d, np.float32(-np.inf)), d, np.nextafter(d, np.float32(np.inf))]
    best = min(cands, key=lambda v: (abs(Fraction(float(v)) - fr), int(v.view(np.uint32)) & 1))
    return np.float32(best)


# bitsandbytes csrc/kernels.cu: dDequantizeNF4 / nf4 lookup table (index = code).
NF4_TABLE = np.array([f32_literal(s) for s in [
    "-1.0", "-0.6961928009986877", "-0.5250730514526367", "-0.39491748809814453",
    "-0.28444138169288635", "-0.18477343022823334", "-0.09105003625154495", "0.0",
    "0.07958029955625534", "0.16093020141124725", "0.24611230194568634", "0.33791524171829224",
    "0.44070982933044434", "0.5626170039176941", "0.7229568362236023", "1.0"]], dtype=np.float32)
# bitsandbytes csrc/kernels.cu: dDequantizeFP4Tree (magnitudes by the low three bits; bit 3 is
# the sign, applied by an exact multiply by -1).
FP4_MAG = [f32_literal(s) for s in [
    "0.0", "5.208333333e-03", "0.66666667", "1.0", "0.33333333", "0.5", "0.16666667", "0.25"]]
FP4_TABLE = np.array(FP4_MAG + [np.float32(-m) for m in FP4_MAG], dtype=np.float32)
TABLES = {"nf4": NF4_TABLE, "fp4": FP4_TABLE}
# bitsandbytes csrc/kernels.cu: dQuantizeNF4 / dQuantizeFP4 decision thresholds (x > t).
NF4_THR = np.array([f32_literal(s) for s in [
    "-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
    "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476",
    "0.03979014977812767", "0.1202552504837513", "0.2035212516784668", "0.2920137718319893",
    "0.3893125355243683", "0.5016634166240692", "0.6427869200706482", "0.8614784181118011"]],
    dtype=np.float32)
FP4_THR = np.array([f32_literal(s) for s in [
    "0.00260417", "0.0859375", "0.20833333", "0.29166667", "0.4166667", "0.583333",
    "0.8333333"]], dtype=np.float32)


def ort_direct(x, bs, cb):
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.size
    codes = np.zeros((n + 1) // 2, np.uint8)
    absmax = np.zeros(-(-n // bs), np.float32)
    ort.quantize_matmul_bnb4(codes, x, absmax, bs, ORT_QT[cb], 1, n)
    return codes, absmax


def ort_pad_nibble(cb):
    codes, _ = ort_direct(np.array([1.0], np.float32), 32, cb)
    return int(codes[0]) & 0xF


def ort_via_pieces(x, bs, cb):
    """Codes for any block size from onnxruntime calls with block size 256 (see the docstring)."""
    x = np.asarray(x, dtype=np.float32)
    n = x.size
    nblocks = -(-n // bs)
    absmax = np.array([np.max(np.abs(x[b * bs:(b + 1) * bs])) for b in range(nblocks)],
                      dtype=np.float32)
    piece_len = min(128, bs)  # a piece never straddles two blocks
    npieces = -(-n // piece_len)
    rows = np.zeros((npieces, 256), np.float32)
    for p in range(npieces):
        piece = x[p * piece_len:(p + 1) * piece_len]
        rows[p, :piece.size] = piece
        rows[p, 128] = absmax[(p * piece_len) // bs]
    codes_rows, row_absmax = ort_direct(rows.reshape(-1), 256, cb)
    assert np.array_equal(row_absmax, absmax[(np.arange(npieces) * piece_len) // bs])
    codes = codes_rows.reshape(npieces, 128)[:, :piece_len // 2].reshape(-1)
    codes = codes[:(n + 1) // 2].copy()
    if n % 2:
        codes[-1] = (codes[-1] & 0xF0) | ort_pad_nibble(cb)
    return codes, absmax


def oracle(x, bs, cb):
    if bs <= 256:
        codes, absmax = ort_direct(x, bs, cb)
        c2, a2 = ort_via_pieces(x, bs, cb)
        assert np.array_equal(codes, c2) and np.array_equal(absmax.view(np.uint32),
                                                            a2.view(np.uint32)), (bs, cb)
        return codes, absmax
    return ort_via_pieces(x, bs, cb)


def unpack(codes, n):
    nib = np.empty(codes.size * 2, np.uint8)
    nib[0::2] = codes >> 4
    nib[1::2] = codes & 0xF
    return nib[:n]


def dequantize(codes, absmax, n, bs, cb):
    nib = unpack(codes, n)
    scale = absmax[np.arange(n) // bs]
    out = TABLES[cb][nib] * scale
    assert out.dtype == np.float32
    return out


def encode_model(v, cb):
    """Our reading of bitsandbytes' trees, used only to build tie cases and to cross-check."""
    v = np.asarray(v, np.float32)
    if cb == "nf4":
        return np.sum(v[:, None] > NF4_THR[None, :], axis=1).astype(np.uint8)
    rank = np.sum(np.abs(v)[:, None] > FP4_THR[None, :], axis=1)
    return (np.array([0, 1, 6, 7, 4, 5, 2, 3], np.uint8)[rank] | np.where(v < 0, 8, 0)).astype(
        np.uint8)


def model_codes(x, bs, cb):
    n = x.size
    nib = np.empty(n + (n % 2), np.uint8)
    for b in range(-(-n // bs)):
        blk = x[b * bs:(b + 1) * bs]
        a = np.max(np.abs(blk))
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            r = np.float32(1.0) / a if a != 0 else np.float32(0.0)
            nib[b * bs:b * bs + blk.size] = encode_model(blk * r, cb)
    if n % 2:
        nib[-1] = encode_model(np.zeros(1, np.float32), cb)[0]
    return (nib[0::2] << 4) | nib[1::2]


def nextafter(v, direction):
    return np.nextafter(np.float32(v), np.float32(direction))


def case_ties():
    """Blocks of 32 led by +-1.0 (reciprocal 1: x * r == x) or +-2.0 (r = 0.5, exact), then
    every decision threshold, its float32 neighbours and every table value."""
    vals = []
    for t in list(NF4_THR) + list(FP4_THR) + [-t for t in FP4_THR]:
        vals += [t, nextafter(t, np.inf), nextafter(t, -np.inf)]
    vals += list(NF4_TABLE) + list(FP4_TABLE)
    vals = [np.float32(v) for v in vals]
    out = []
    leads = [1.0, -1.0, 2.0, -2.0]
    per = 31
    k = 0
    for i in range(0, len(vals), per):
        lead = np.float32(leads[k % len(leads)])
        k += 1
        chunk = [v * (lead if lead > 0 else -lead) for v in vals[i:i + per]]
        block = [lead] + chunk
        block += [np.float32(0.0)] * (32 - len(block))
        out += block
    return np.array(out, np.float32)


def case_reciprocal(rng):
    """Elements whose code differs between x * (1/absmax) (bitsandbytes) and x / absmax."""
    out = []
    found = 0
    while found < 24:
        a = np.float32(rng.uniform(0.5, 4.0))
        r = np.float32(1.0) / a
        cb_thr = NF4_THR if found % 2 == 0 else FP4_THR
        cb = "nf4" if found % 2 == 0 else "fp4"
        t = cb_thr[rng.integers(cb_thr.size)]
        x0 = np.float32(t * a)
        hit = None
        cand = x0
        for _ in range(8):
            cand = nextafter(cand, -np.inf)
        for _ in range(16):
            if encode_model([cand * r], cb)[0] != encode_model([cand / a], cb)[0]:
                hit = cand
                break
            cand = nextafter(cand, np.inf)
        if hit is None:
            continue
        block = np.zeros(32, np.float32)
        block[0] = a
        noise = np.clip(rng.standard_normal(31).astype(np.float32) * np.float32(0.3), -0.9, 0.9)
        block[1:] = noise.astype(np.float32) * a
        block[5] = hit
        out.append(block)
        found += 1
    return np.concatenate(out)


def case_special():
    """Zero blocks, signed zeros, a lone value, negative maxima, subnormals, huge values."""
    blocks = []
    z = np.zeros(32, np.float32)
    blocks.append(z.copy())                                   # all zero
    b = z.copy(); b[:] = -0.0; blocks.append(b)               # all -0.0
    b = z.copy(); b[7] = 3.5; blocks.append(b)                # lone positive
    b = z.copy(); b[8] = -3.5; b[9] = 1.0; blocks.append(b)   # negative maximum
    b = z.copy(); b[0] = -0.0; b[1] = 1.0; b[2] = -1e-30; blocks.append(b)
    b = z.copy(); b[3] = 1e-40; b[4] = -5e-41; blocks.append(b)          # 1/absmax overflows
    b = z.copy(); b[3] = np.float32(2.0 ** -127); b[4] = np.float32(2.0 ** -130)
    blocks.append(b)                                                       # subnormal, 1/a finite
    b = z.copy(); b[0] = np.float32(2.0 ** -126); b[5] = np.float32(2.0 ** -149); blocks.append(b)
    b = np.linspace(-2.0 ** 126, 2.0 ** 126, 32).astype(np.float32); blocks.append(b)  # the limit
    b = np.full(32, np.float32(8e37)); b[1::2] = np.float32(-5e37); blocks.append(b)
    b = np.full(32, np.float32(7.0)); blocks.append(b)                    # constant
    b = np.full(32, np.float32(-7.0)); blocks.append(b)
    x = np.concatenate(blocks)
    # a partial, odd, all-zero last block
    return np.concatenate([x, np.zeros(17, np.float32)])


def case_special_tail():
    """Odd n whose partial last block is non-zero (the pad nibble after a real value)."""
    x = np.zeros(64 + 33, np.float32)
    x[:64] = np.arange(64, dtype=np.float32) - 31.5
    x[64:] = np.linspace(-1, 2, 33).astype(np.float32)
    return x


def main():
    rng = np.random.default_rng(20240607)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    # normal: several blocks of the largest size plus an odd partial one; the scale changes every
    # 96 elements so blocks have different absmax.
    n = 4096 + 1001
    scales = np.float32(10.0) ** rng.uniform(-3, 3, size=-(-n // 96)).astype(np.float32)
    normal = rng.standard_normal(n).astype(np.float32) * np.repeat(scales, 96)[:n]
    heavy = (rng.standard_t(2.0, size=1999) * 0.05).astype(np.float32)
    heavy[rng.integers(0, 1999, size=20)] *= np.float32(1000.0)
    small = rng.standard_normal(67).astype(np.float32)

    cases = {
        "normal": (normal, BLOCK_SIZES),
        "heavy": (heavy, [64, 128, 256, 512]),
        "ties": (case_ties(), [32, 64]),
        "reciprocal": (case_reciprocal(rng), [32]),
        "special": (case_special(), [32, 64, 128, 512]),
        "special_tail": (case_special_tail(), [32, 64, 4096]),
        "n1": (small[:1], [32, 4096]),
        "n2": (small[:2], [32]),
        "n3": (small[:3], [32, 64]),
        "n31": (small[:31], [32]),
        "n33": (small[:33], [32, 64]),
        "n67": (small[:67], [32, 64, 128]),
    }

    manifest = ["# case codebook block_size n (see scripts/gen_bnb_vectors.py)"]
    for name, (x, sizes) in cases.items():
        x = np.ascontiguousarray(x, np.float32)
        assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 2.0 ** 126
        x.tofile(os.path.join(OUT, f"{name}.f32"))
        for cb in ("nf4", "fp4"):
            for bs in sizes:
                codes, absmax = oracle(x, bs, cb)
                # cross-check our reading of the trees against the oracle
                assert np.array_equal(codes, model_codes(x, bs, cb)), (name, cb, bs)
                deq = dequantize(codes, absmax, x.size, bs, cb)
                with open(os.path.join(OUT, f"{name}.{cb}.bs{bs}.bin"), "wb") as fh:
                    fh.write(codes.tobytes())
                    fh.write(absmax.astype("<f4").tobytes())
                    fh.write(deq.astype("<f4").tobytes())
                manifest.append(f"{name} {cb} {bs} {x.size}")

    # the reciprocal case must really separate multiply-by-reciprocal from division
    xr = cases["reciprocal"][0]
    for cb in ("nf4", "fp4"):
        codes, absmax = oracle(xr, 32, cb)
        div = np.empty(xr.size, np.uint8)
        for b in range(xr.size // 32):
            blk = xr[b * 32:(b + 1) * 32]
            div[b * 32:(b + 1) * 32] = encode_model(blk / np.max(np.abs(blk)), cb)
        assert not np.array_equal(unpack(codes, xr.size), div), cb

    np.concatenate([NF4_TABLE, FP4_TABLE]).astype("<f4").tofile(os.path.join(OUT, "tables.f32"))

    # FP4 vs OCP E2M1 (ml_dtypes): value of the E2M1 code with the same value / 6, or NaN.
    e2m1 = np.arange(16, dtype=np.uint8).view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    rel = np.full(16, np.nan, np.float32)
    for c in range(16):
        for v in e2m1:
            q = np.float32(v) / np.float32(6.0)
            if q == FP4_TABLE[c] and np.signbit(q) == np.signbit(FP4_TABLE[c]):
                rel[c] = q
    assert np.isnan(rel[1]) and np.isnan(rel[9]) and np.sum(np.isnan(rel)) == 2
    rel.astype("<f4").tofile(os.path.join(OUT, "fp4_e2m1.f32"))

    # On random data, above 0.125 (the midpoint of E2M1's subnormal 0.5/6 and 1/6, a value
    # bitsandbytes' FP4 lacks), bitsandbytes' FP4 choice is E2M1's round to nearest (ties to
    # even, saturating) of 6 * x / absmax, divided by 6.
    codes, absmax = oracle(normal, 64, "fp4")
    v = normal * np.repeat(np.float32(1.0) / absmax, 64)[:normal.size]
    sel = np.abs(v) > np.float32(0.125 + 1e-6)
    e = (v[sel].astype(np.float64) * 6.0).astype(ml_dtypes.float4_e2m1fn).astype(np.float64) / 6.0
    got = FP4_TABLE[unpack(codes, normal.size)[sel]].astype(np.float64)
    assert np.allclose(got, e, rtol=0, atol=1e-7), np.sum(~np.isclose(got, e))

    with open(os.path.join(OUT, "manifest.txt"), "w") as fh:
        fh.write("\n".join(manifest) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(manifest) - 1} vectors, {total} bytes, to {os.path.normpath(OUT)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
