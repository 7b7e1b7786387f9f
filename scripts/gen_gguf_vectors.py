#!/usr/bin/env python3
"""Random test vectors for the ggml/GGUF block formats, from the PyPI `gguf` package.

Requirements: gguf==0.19.0, numpy (pip install gguf==0.19.0 numpy).
Run from the repository root:  python3 scripts/gen_gguf_vectors.py
Writes tests/data/gguf/ (read by tests/blocks_gguf.rs; cargo test needs no Python).

What it writes (all little-endian):
- for each input case NAME: NAME.f32 (float32 input, whole blocks of 32);
  NAME.FMT for FMT in q4_0, q4_1, mxfp4: gguf.quants.quantize's bytes;
  NAME.FMT.deq.f32: gguf.quants.dequantize of those bytes.
- for each format FMT in q4_0, q4_1, iq4_nl, mxfp4, q4_k, iq4_xs, nvfp4: rand_FMT.blocks, random valid blocks (random
  code bytes, random finite fp16 scales/minimums incl. subnormals and negatives, or random E8M0
  bytes 0..254), and rand_FMT.deq.f32, gguf.quants.dequantize of them.
- manifest.txt: one line per check, `quantize FMT INPUT N EXPECTED` or
  `dequantize FMT BLOCKS N EXPECTED` (N = element count).

gguf has no IQ4_NL quantizer (ggml's C golden vectors in tests/data/ggml cover it). Inputs are
kept where ggml's behaviour is defined and gguf agrees with ggml's C code: magnitudes are clipped
to 6e4 so every fp16 scale and minimum is finite, blocks have max |x| far above 2^-125, and
zeros are +0.0 only (for a block of zeros holding -0.0, gguf's numpy min differs from ggml's C).
The seed is fixed: running the script again reproduces the files byte for byte.
"""

import os
import sys
from importlib.metadata import version

import numpy as np
from gguf.quants import quantize, dequantize
from gguf.constants import GGMLQuantizationType as T

SEED = 0x6C717A34  # fixed: reproducible output
OUT = os.path.join("tests", "data", "gguf")
QK = 32
CLIP = 6.0e4

QUANT_FORMATS = {"q4_0": T.Q4_0, "q4_1": T.Q4_1, "mxfp4": T.MXFP4}
ALL_FORMATS = {
    "q4_0": T.Q4_0, "q4_1": T.Q4_1, "iq4_nl": T.IQ4_NL, "mxfp4": T.MXFP4,
    "q4_k": T.Q4_K, "iq4_xs": T.IQ4_XS, "nvfp4": T.NVFP4,
}
BLOCK_BYTES = {"q4_0": 18, "q4_1": 20, "iq4_nl": 18, "mxfp4": 17, "q4_k": 144, "iq4_xs": 136, "nvfp4": 36}
BLOCK_ELEMENTS = {"q4_k": 256, "iq4_xs": 256, "nvfp4": 64}  # the others: QK


def inputs(rng):
    """Input cases: name -> float32 array (a whole number of blocks)."""
    cases = {}
    cases["one_block"] = rng.standard_normal(QK)
    cases["normal_7"] = rng.standard_normal(7 * QK)
    # Student t with 2 degrees of freedom: heavy tails, outliers dominate blocks.
    cases["heavy_tailed_64"] = rng.standard_t(2, 64 * QK) * 3.0
    # Every block scaled by its own 10^U(-6, 4).
    scales = 10.0 ** rng.uniform(-6.0, 4.0, size=(512, 1))
    cases["scaled_512"] = (rng.standard_normal((512, QK)) * scales).reshape(-1)
    # Heavy tails at large scales, clipped: many blocks with +-CLIP twice (sign ties).
    cases["heavy_large_128"] = rng.standard_t(2, 128 * QK) * 1.0e4
    # 40% exact zeros (+0.0), some all-zero blocks.
    z = rng.standard_normal((128, QK)) * 10.0 ** rng.uniform(-3.0, 2.0, size=(128, 1))
    z[rng.uniform(size=z.shape) < 0.4] = 0.0
    z[::16] = 0.0
    cases["sparse_zeros_128"] = z.reshape(-1)
    # Uniform positive (Q4_1 minimum > 0), and small integers (many exact ties).
    cases["uniform_positive_64"] = rng.uniform(0.5, 7.0, 64 * QK)
    cases["small_integers_64"] = rng.integers(-9, 10, 64 * QK).astype(np.float64)
    cases["rounding_sensitive_64"] = rounding_sensitive(rng, 64)
    out = {}
    for name, x in cases.items():
        x = np.clip(x, -CLIP, CLIP).astype(np.float32)
        x[x == 0] = 0.0  # +0.0 only
        assert x.size % QK == 0 and np.all(np.isfinite(x))
        amax = np.abs(x.reshape(-1, QK)).max(axis=1)
        assert np.all((amax == 0) | (amax > 2.0 ** -100))
        out[name] = x
    return out


def sensitive_elements(b, q4_1, m):
    """Candidate values near the code boundary m of block b whose code differs between two
    roundings and one fused multiply-add (under Q4_0's or Q4_1's formula)."""
    f32 = np.float32
    mn, mx = b.min(), b.max()
    ia = int(np.argmax(np.abs(b)))
    if q4_1:  # code = trunc((x - min) * id + 0.5)
        inv = f32(f32(1.0) / f32(f32(mx - mn) / f32(15.0)))
        shift, off = mn, f32(0.5)
    else:  # code = trunc(x * id + 8.5)
        inv = f32(f32(1.0) / f32(b[ia] / f32(-8.0)))
        shift, off = f32(0.0), f32(8.5)
    guess = f32((m - float(off)) / float(inv) + float(shift))
    x = (guess + np.spacing(guess) * np.arange(-256, 257)).astype(f32)
    ok = (x > mn) & (x < mx) & (np.abs(x) < abs(b[ia]))
    t = (x - shift).astype(f32)
    two = np.trunc(((t * inv).astype(f32) + off).astype(f32))
    fused = np.trunc((t.astype(np.float64) * float(inv) + float(off)).astype(f32))
    return x[ok & (two != fused)]


def rounding_sensitive(rng, nblocks):
    """Blocks holding elements where Q4_0's and Q4_1's two roundings (product, then sum) give
    another code than one fused multiply-add would: ggml's C rounds twice, so must we. Even
    blocks hold four such elements for Q4_0; odd blocks one for Q4_1, which needs a product just
    below 0.5 (the sum's rounding just below 1 is coarser than the product's just below 0.5),
    found by drawing blocks until one admits such an element.

    Only the choice of inputs uses this emulation; the expected bytes come from gguf."""
    out = []
    for i in range(nblocks):
        q4_1 = i % 2 == 1
        want = 1 if q4_1 else 4
        for _ in range(100000):
            b = rng.standard_normal(QK).astype(np.float32) * np.float32(3.0)
            ia = int(np.argmax(np.abs(b)))
            free = [j for j in rng.permutation(QK) if j != ia and b[j] not in (b.min(), b.max())]
            placed = 0
            for _ in range(want * 8):
                if placed == want:
                    break
                m = 1 if q4_1 else int(rng.integers(1, 15))
                cand = sensitive_elements(b, q4_1, m)
                if cand.size:
                    b[free.pop()] = cand[0]
                    placed += 1
            if placed == want:
                out.append(b)
                break
        else:
            raise AssertionError(f"block {i}: no rounding-sensitive element found")
    return np.concatenate(out)


def random_fp16(rng, n):
    """Random finite fp16 bit patterns: normals of every exponent, subnormals, zeros, both signs."""
    bits = rng.integers(0, 0x7C00, n, dtype=np.uint16)  # finite magnitudes
    bits[rng.uniform(size=n) < 0.05] = 0
    bits[rng.uniform(size=n) < 0.10] &= np.uint16(0x03FF)  # subnormals
    bits |= (rng.integers(0, 2, n, dtype=np.uint16) << np.uint16(15))
    return bits


def random_blocks(rng, fmt, nblocks):
    """Random valid blocks of a format, as uint8 array of shape (nblocks, bytes)."""
    b = rng.integers(0, 256, (nblocks, BLOCK_BYTES[fmt]), dtype=np.uint8)
    if fmt in ("q4_0", "iq4_nl", "iq4_xs"):
        b[:, 0:2] = random_fp16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
    elif fmt in ("q4_1", "q4_k"):
        b[:, 0:2] = random_fp16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
        b[:, 2:4] = random_fp16(rng, nblocks).view(np.uint8).reshape(nblocks, 2)
    elif fmt == "mxfp4":
        e = rng.integers(0, 255, nblocks, dtype=np.uint8)  # 0..254 (0xFF is NaN: an error)
        e[:8] = [0, 1, 2, 126, 127, 128, 253, 254]
        b[:, 0] = e
    # nvfp4: every byte is valid (its UE4M3 scales are all finite)
    return b


def write(path, data):
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(data).tobytes())


def main():
    assert version("gguf") == "0.19.0", "the vectors are pinned to gguf 0.19.0"
    assert sys.byteorder == "little", "writes native little-endian arrays"
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT, exist_ok=True)
    manifest = ["# generated by scripts/gen_gguf_vectors.py (gguf==0.19.0); do not edit"]

    for name, x in inputs(rng).items():
        n = x.size
        write(os.path.join(OUT, f"{name}.f32"), x.astype("<f4"))
        for fmt, qt in QUANT_FORMATS.items():
            q = quantize(x.reshape(-1, QK), qt)  # one row per block
            q = np.asarray(q, dtype=np.uint8).reshape(-1)
            assert q.size == n // QK * BLOCK_BYTES[fmt]
            blocks = q.reshape(-1, BLOCK_BYTES[fmt])
            if fmt in ("q4_0", "q4_1"):
                fields = blocks[:, 0:4 if fmt == "q4_1" else 2].copy().view("<f2")
                assert np.all(np.isfinite(fields)), f"{name} {fmt}: non-finite fp16 field"
            y = dequantize(q, qt).astype("<f4").reshape(-1)
            assert y.size == n
            write(os.path.join(OUT, f"{name}.{fmt}"), q)
            write(os.path.join(OUT, f"{name}.{fmt}.deq.f32"), y)
            manifest.append(f"quantize {fmt} {name}.f32 {n} {name}.{fmt}")
            manifest.append(f"dequantize {fmt} {name}.{fmt} {n} {name}.{fmt}.deq.f32")

    for fmt, qt in ALL_FORMATS.items():
        nblocks = 512 if fmt not in BLOCK_ELEMENTS else 64
        elems = BLOCK_ELEMENTS.get(fmt, QK)
        b = random_blocks(rng, fmt, nblocks)
        with np.errstate(over="ignore", invalid="ignore"):  # E8M0 253/254, largest codes: +-inf
            y = dequantize(b.reshape(-1), qt).astype("<f4").reshape(-1)
        assert y.size == nblocks * elems
        write(os.path.join(OUT, f"rand_{fmt}.blocks"), b)
        write(os.path.join(OUT, f"rand_{fmt}.deq.f32"), y)
        manifest.append(f"dequantize {fmt} rand_{fmt}.blocks {nblocks * elems} rand_{fmt}.deq.f32")

    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, p)) for p in os.listdir(OUT))
    print(f"wrote {len(manifest) - 1} checks, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
