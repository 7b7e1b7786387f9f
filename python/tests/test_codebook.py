"""NF4 / FP4 codebooks through the binding, against the committed golden vectors of
tests/data/bnb (onnxruntime's port of bitsandbytes' quantizer; scripts/gen_bnb_vectors.py)."""

import os

import numpy as np
import pytest

import q4ref
import quantize
from quantize import dequantize_codebook_blocks, quantize_codebook_blocks

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "bnb")


def golden():
    with open(os.path.join(DATA, "manifest.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            case, book, block_size, n = line.split()
            block_size, n = int(block_size), int(n)
            x = np.fromfile(os.path.join(DATA, case + ".f32"), dtype="<f4")
            blob = np.fromfile(
                os.path.join(DATA, "%s.%s.bs%d.bin" % (case, book, block_size)), "u1"
            )
            nbytes, blocks = (n + 1) // 2, -(-n // block_size)
            codes = blob[:nbytes]
            absmax = blob[nbytes : nbytes + 4 * blocks].view("<f4")
            deq = blob[nbytes + 4 * blocks :].view("<f4")
            assert x.size == n and deq.size == n, line
            yield line, book, block_size, x, codes, absmax, deq


def test_golden_vectors():
    count = 0
    for line, book, block_size, x, codes, absmax, deq in golden():
        got_codes, got_absmax = quantize_codebook_blocks(x, block_size, book)
        assert got_codes.dtype == np.uint8 and got_absmax.dtype == np.float32, line
        np.testing.assert_array_equal(got_codes, codes, err_msg=line)
        np.testing.assert_array_equal(q4ref.bits(got_absmax), absmax.view(np.uint32), err_msg=line)
        y = dequantize_codebook_blocks(codes, block_size, absmax, book, n=x.size)
        assert y.dtype == np.float32 and y.shape == (x.size,), line
        np.testing.assert_array_equal(q4ref.bits(y), deq.view(np.uint32), err_msg=line)
        count += 1
    assert count >= 50  # the manifest was read


def test_names_and_numbers():
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    for name, number in (("nf4", quantize.CODEBOOK_NF4), ("fp4", quantize.CODEBOOK_FP4)):
        a = quantize_codebook_blocks(x, 32, name)
        b = quantize_codebook_blocks(x, 32, number)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    nf4 = quantize_codebook_blocks(x, 32)  # NF4 is the default
    np.testing.assert_array_equal(nf4[0], quantize_codebook_blocks(x, 32, "nf4")[0])


def test_errors():
    with pytest.raises(quantize.InvalidArgumentError, match="unknown codebook 'nf5'"):
        quantize_codebook_blocks([1.0, 2.0], 32, "nf5")
    with pytest.raises(quantize.InvalidArgumentError):  # the library rejects the number
        quantize_codebook_blocks([1.0, 2.0], 32, 9)
    with pytest.raises(quantize.InvalidArgumentError):  # not a power of two from 32 to 4096
        quantize_codebook_blocks([1.0, 2.0], 48)
    with pytest.raises(quantize.NonFiniteError, match="index 1"):
        quantize_codebook_blocks([1.0, float("nan")], 32)
    with pytest.raises(quantize.NonFiniteError, match="index 0 of absmax"):
        dequantize_codebook_blocks(b"\x12", 32, [float("inf")])
    with pytest.raises(quantize.BufferTooSmallError):
        dequantize_codebook_blocks(b"\x12" * 40, 32, [1.0, 2.0])  # 80 values need 3 absmax
