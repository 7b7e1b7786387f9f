"""Compares libquantize with ggml's own C code on whole models and on random data, for the seven
ggml block formats, both directions. Not part of the tests or CI: it needs a ggml source tree,
which the repository does not contain (nothing of ggml is committed; this script compiles the
given tree's ggml-quants.c into a temporary shared library).

    cargo build --release
    python3 scripts/compare_with_ggml.py --ggml /path/to/ggml [--model a.safetensors ...]
        [--values 4000000] [--seed 1]

Quantization: ggml's `quantize_<type>(src, dst, 1, n, NULL)`, which is what
`ggml_quantize_chunk` runs without an importance matrix, against `quantize_blocks`, block by
block. Blocks where docs/contract.md departs from ggml are counted apart, not compared: those
the contract rejects with VALUE_OUT_OF_RANGE (a scale its fp16 field cannot hold, where ggml
stores inf; NVFP4 |x| > 2688, which ggml clips) and MXFP4 blocks with 0 < max|x| < 2^-125,
where ggml's result is undefined C. Dequantization: ggml's `dequantize_row_<type>` against
`dequantize_blocks` on ggml's own bytes, compared as bit patterns; blocks holding an inf/NaN
scale (which ggml wrote for the blocks above) are NON_FINITE by contract and counted apart.

Needs numpy and a C compiler. Model files: float32, float16 or bfloat16 safetensors; every tensor
is flattened, widened to float32 and cut to a whole number of blocks.
"""
import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (our format constant, ggml's type name in function names, values per block, bytes per block)
FORMATS = [
    (0, "q4_0", 32, 18),
    (1, "q4_1", 32, 20),
    (2, "iq4_nl", 32, 18),
    (3, "mxfp4", 32, 17),
    (4, "q4_K", 256, 144),
    (5, "iq4_xs", 256, 136),
    (6, "nvfp4", 64, 36),
]
OK, NON_FINITE, VALUE_OUT_OF_RANGE = 0, 4, 6

# The symbols ggml-quants.c takes from the rest of ggml; none matters for one row without an
# importance matrix (ggml_row_size only sizes the return value and the step between rows).
STUBS = r"""
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include "ggml.h"
void ggml_abort(const char *file, int line, const char *fmt, ...) { (void)file; (void)line; (void)fmt; abort(); }
size_t ggml_row_size(enum ggml_type t, int64_t n) { (void)t; (void)n; return 0; }
size_t ggml_type_size(enum ggml_type t) { (void)t; abort(); }
const char *ggml_type_name(enum ggml_type t) { (void)t; abort(); }
"""


def build_ggml(src, out_dir):
    stubs = os.path.join(out_dir, "stubs.c")
    with open(stubs, "w") as f:
        f.write(STUBS)
    lib = os.path.join(out_dir, "libggmlq.so")
    cmd = ["cc", "-O2", "-DNDEBUG", "-fPIC", "-shared", "-w", "-o", lib,
           "-I", os.path.join(src, "include"), "-I", os.path.join(src, "src"),
           os.path.join(src, "src", "ggml-quants.c"), stubs, "-lm"]
    # (ggml.h declares these three; ggml.c, which defines them, is not built. NDEBUG as in
    # ggml's release builds: its nearest_int asserts |x| <= 2^22 only in debug builds.)
    subprocess.run(cmd, check=True)
    return ctypes.CDLL(lib)


def load_ours():
    lib = ctypes.CDLL(os.path.join(ROOT, "target", "release", "libquantize.so"))
    for name in ("quantize_blocks", "dequantize_blocks"):
        getattr(lib, name).restype = ctypes.c_int32
    return lib


def ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


def ggml_quantize(g, name, x, nbytes):
    out = np.zeros(nbytes, np.uint8)
    f = getattr(g, "quantize_" + name)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    f(ptr(x), ptr(out), 1, x.size, None)
    return out


def ggml_dequantize(g, name, b, n):
    y = np.zeros(n, np.float32)
    f = getattr(g, "dequantize_row_" + name)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    f(ptr(b), ptr(y), n)
    return y


def our_quantize(lib, fmt, x, nbytes):
    out = np.zeros(nbytes, np.uint8)
    st = lib.quantize_blocks(ctypes.c_uint32(fmt), ptr(x), ctypes.c_size_t(x.size), ptr(out),
                             ctypes.c_size_t(nbytes))
    return st, out


def our_dequantize(lib, fmt, b, n):
    y = np.zeros(n, np.float32)
    st = lib.dequantize_blocks(ctypes.c_uint32(fmt), ptr(b), ctypes.c_size_t(b.size), ptr(y),
                               ctypes.c_size_t(n))
    return st, y


def ggml_undefined(name, xb):
    """Blocks (rows of xb) where ggml's result is undefined C, for which the contract fixes its
    own: MXFP4 with 0 < max|x| < 2^-125 (a negative float cast to uint8_t)."""
    if name != "mxfp4":
        return np.zeros(xb.shape[0], bool)
    amax = np.abs(xb).max(axis=1)
    return (amax > 0) & (amax < np.float32(2.0**-125))


def compare(lib, g, x, counts):
    """Adds to counts[format] = [blocks equal, different, set apart (the contract rejects the
    block, or ggml's result is undefined C), dequantized blocks equal, different, set apart
    (ggml's own bytes hold an inf/NaN scale, which dequantize_blocks rejects)]."""
    for fmt, name, bs, bb in FORMATS:
        n = x.size // bs * bs
        if n == 0:
            continue
        xs = np.ascontiguousarray(x[:n])
        c = counts.setdefault(name, [0] * 6)
        theirs = ggml_quantize(g, name, xs, n // bs * bb)
        st, ours = our_quantize(lib, fmt, xs, n // bs * bb)
        tb = theirs.reshape(-1, bb)
        if st == OK:
            status = np.full(n // bs, OK)
            ob = ours.reshape(-1, bb)
        else:
            # Block by block, to find the blocks the contract rejects.
            status = np.empty(n // bs, int)
            ob = np.empty_like(tb)
            for i in range(n // bs):
                status[i], ob[i] = our_quantize(lib, fmt, np.ascontiguousarray(xs[i * bs:(i + 1) * bs]), bb)
        apart = (status == VALUE_OUT_OF_RANGE) | ggml_undefined(name, xs.reshape(-1, bs))
        same = (status == OK) & (tb == ob).all(axis=1)
        c[0] += int((same & ~apart).sum())
        c[1] += int((~same & ~apart).sum())
        c[2] += int(apart.sum())
        y_theirs = ggml_dequantize(g, name, theirs, n)
        st, y_ours = our_dequantize(lib, fmt, theirs, n)
        if st == OK:
            status = np.full(n // bs, OK)
        else:
            status = np.empty(n // bs, int)
            for i in range(n // bs):
                status[i], y_ours[i * bs:(i + 1) * bs] = our_dequantize(lib, fmt, tb[i].copy(), bs)
        yt, yo = y_theirs.reshape(-1, bs), y_ours.reshape(-1, bs)
        # NaN payloads are ggml's business; a NaN where ggml has one counts as equal.
        same = (yt.view(np.uint32) == yo.view(np.uint32)) | (np.isnan(yt) & np.isnan(yo))
        ok = (status == OK) & same.all(axis=1)
        apart = status == NON_FINITE
        c[3] += int(ok.sum())
        c[4] += int((~ok & ~apart).sum())
        c[5] += int(apart.sum())


def safetensors_tensors(path):
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        base = 8 + hlen
        for name, t in header.items():
            if name == "__metadata__":
                continue
            a, b = t["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            if t["dtype"] == "F32":
                x = np.frombuffer(raw, "<f4")
            elif t["dtype"] == "F16":
                x = np.frombuffer(raw, "<f2").astype(np.float32)
            elif t["dtype"] == "BF16":
                x = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                continue
            yield name, x


def random_sets(rng, n):
    """Distributions that reach the formats' decisions: smooth weights, heavy tails, outliers,
    per-block scale changes over many binades, ties, zeros, tiny and huge magnitudes."""
    yield "normal", rng.standard_normal(n).astype(np.float32)
    yield "uniform", rng.uniform(-1, 1, n).astype(np.float32)
    yield "student-t(2)", rng.standard_t(2, n).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    x[rng.random(n) < 0.01] *= 100
    yield "normal+1% outliers x100", x
    for e in (16, 60):
        scales = np.exp2(rng.integers(-e, e, n // 32 + 1)).astype(np.float32)
        x = rng.standard_normal(n) * np.repeat(scales, 32)[:n]
        yield f"per-block binades 2^-{e}..2^{e}", x.astype(np.float32)
    yield "small integers", rng.integers(-8, 8, n).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    x[rng.random(n) < 0.3] = 0
    yield "30% zeros", x
    yield "subnormal-scale", (rng.standard_normal(n) * 1e-39).astype(np.float32)
    yield "near NVFP4/fp16 limits", (rng.uniform(-1, 1, n) * 3000).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ggml", required=True, help="a ggml source tree (src/ggml-quants.c, include/)")
    ap.add_argument("--model", action="append", default=[], help="a safetensors file (repeatable)")
    ap.add_argument("--values", type=int, default=4_000_000, help="values per random set")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        g = build_ggml(args.ggml, tmp)
        lib = load_ours()
        print("| data | format | blocks equal | different | set apart | dequantized equal | different | set apart |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        bad = 0

        def report(label, counts):
            nonlocal bad
            for _, name, _, _ in FORMATS:
                if name in counts:
                    c = counts[name]
                    bad += c[1] + c[4]
                    print(f"| {label} | {name} | " + " | ".join(map(str, c)) + " |")

        for path in args.model:
            counts = {}
            for _, x in safetensors_tensors(path):
                compare(lib, g, x, counts)
            report(os.path.basename(os.path.dirname(path)) or path, counts)
        rng = np.random.default_rng(args.seed)
        for label, x in random_sets(rng, args.values):
            counts = {}
            compare(lib, g, x, counts)
            report(label, counts)
        print(f"\n{bad} blocks differ" if bad else "\nevery compared block is equal")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
