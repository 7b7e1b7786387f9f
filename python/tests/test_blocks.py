"""ggml/GGUF block formats through the binding, against the committed golden vectors:
tests/data/ggml (ggml's own C code) and tests/data/gguf (the gguf 0.19.0 package)."""

import json
import os

import numpy as np
import pytest

import q4ref
import quantize
from quantize import block_bytes, block_elements, dequantize_blocks, quantize_blocks

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data")
FORMATS = ["q4_0", "q4_1", "iq4_nl", "mxfp4"]


def load(directory, name, dtype):
    return np.fromfile(os.path.join(DATA, directory, name), dtype=dtype)


def test_sizes():
    assert [block_elements(f) for f in FORMATS] == [32, 32, 32, 32]
    assert [block_bytes(f) for f in FORMATS] == [18, 20, 18, 17]
    assert block_bytes(quantize.FORMAT_MXFP4) == 17
    assert block_bytes(99) == 0 and block_elements(99) == 0  # the library's answer for unknown


def test_ggml_golden_vectors():
    with open(os.path.join(DATA, "ggml", "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    assert len(cases) >= 10
    for case, info in cases.items():
        x = load("ggml", case + ".f32", "<f4")
        assert x.size == info["elements"]
        for fmt in FORMATS:
            blocks = load("ggml", "%s.%s" % (case, fmt), "u1")
            deq = load("ggml", "%s.%s.deq.f32" % (case, fmt), "<f4")
            got = quantize_blocks(x, fmt)
            assert got.dtype == np.uint8 and got.shape == blocks.shape, (case, fmt)
            np.testing.assert_array_equal(got, blocks, err_msg="%s %s" % (case, fmt))
            y = dequantize_blocks(blocks, fmt)
            assert y.dtype == np.float32 and y.shape == x.shape, (case, fmt)
            np.testing.assert_array_equal(q4ref.bits(y), deq.view(np.uint32), err_msg=case + fmt)


def test_gguf_golden_vectors():
    count = 0
    with open(os.path.join(DATA, "gguf", "manifest.txt"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            op, fmt, src, n, expected = line.split()
            n = int(n)
            if op == "quantize":
                got = quantize_blocks(load("gguf", src, "<f4"), fmt)
                np.testing.assert_array_equal(got, load("gguf", expected, "u1"), err_msg=line)
            else:
                assert op == "dequantize", line
                y = dequantize_blocks(load("gguf", src, "u1"), fmt, n=n)
                want = load("gguf", expected, "<f4")
                np.testing.assert_array_equal(q4ref.bits(y), want.view(np.uint32), err_msg=line)
            count += 1
    assert count >= 10


def test_shapes_and_names():
    x = np.linspace(-2, 2, 128, dtype=np.float64).reshape(4, 32)  # any shape and dtype
    a = quantize_blocks(x, "q4_0")
    b = quantize_blocks(x.astype(np.float32).ravel(), quantize.FORMAT_Q4_0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4 * 18,)
    assert dequantize_blocks(a, "q4_0").shape == (128,)
    assert dequantize_blocks(bytes(a), "q4_0", n=64).shape == (64,)  # the first two blocks


def test_errors():
    with pytest.raises(quantize.LengthError):
        quantize_blocks(np.zeros(33, np.float32), "q4_0")
    with pytest.raises(quantize.InvalidArgumentError, match="unknown format 'q4_2'"):
        quantize_blocks(np.zeros(32, np.float32), "q4_2")
    with pytest.raises(quantize.InvalidArgumentError, match="format 99 is not one"):
        quantize_blocks(np.zeros(32, np.float32), 99)  # the library rejects the number
    x = np.zeros(64, np.float32)
    x[40] = np.nan
    with pytest.raises(quantize.NonFiniteError, match="index 40"):
        quantize_blocks(x, "q4_1")
    with pytest.raises(quantize.ValueOutOfRangeError):  # the fp16 scale would overflow
        quantize_blocks(np.full(32, 1e30, np.float32), "q4_0")
    with pytest.raises(quantize.BufferTooSmallError):
        dequantize_blocks(bytes(18), "q4_0", n=64)
    inf_scale = bytes([0x00, 0x7C]) + bytes(16)  # fp16 +inf as the Q4_0 scale
    with pytest.raises(quantize.NonFiniteError):
        dequantize_blocks(inf_scale, "q4_0")
