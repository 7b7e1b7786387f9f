"""float16 and bfloat16: inputs give exactly the result of x.astype(np.float32); dtype= outputs
are the float32 results rounded to nearest-even (x.astype(dtype))."""

import numpy as np
import pytest

import quantize

FORMATS = ["q4_0", "q4_1", "iq4_nl", "mxfp4", "q4_k", "iq4_xs", "nvfp4"]


def half_dtypes():
    out = [np.dtype(np.float16)]
    try:
        import ml_dtypes
    except ImportError:
        return out
    return out + [np.dtype(ml_dtypes.bfloat16)]


HALF = half_dtypes()
IDS = [d.name for d in HALF]


def bfloat16():
    return pytest.importorskip("ml_dtypes").bfloat16


def same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        assert a.tobytes() == b.tobytes()
    else:
        assert a == b


def data(dtype, n=4096, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(n) * rng.choice([1e-2, 1.0, 30.0], n)).astype(dtype)
    x[::97] = 0
    return x


def quantizers():
    yield "quantize_to_int4", lambda x: quantize.quantize_to_int4(x)
    yield "quantize_to_int4 absmax", lambda x: quantize.quantize_to_int4(x, "absmax")
    yield "quantize_to_int4_packed", lambda x: quantize.quantize_to_int4_packed(x)
    yield "groups", lambda x: quantize.quantize_int4_groups(x.reshape(8, -1), 64)
    yield "groups ragged", lambda x: quantize.quantize_int4_groups(x.reshape(8, -1), 100, threads=3)
    yield "groups flat", lambda x: quantize.quantize_int4_groups(x, 32, "absmax", axis=None)
    yield "nf4", lambda x: quantize.quantize_codebook_blocks(x.reshape(4, -1), 64)
    yield "fp4 flat", lambda x: quantize.quantize_codebook_blocks(x, 128, "fp4", axis=None)
    for fmt in FORMATS:
        if quantize.block_elements(fmt):
            yield fmt, lambda x, fmt=fmt: quantize.quantize_blocks(x, fmt, threads=2)
    yield "measure_error", lambda x: quantize.measure_error(x, x[::-1])


@pytest.mark.parametrize("dtype", HALF, ids=IDS)
def test_half_inputs_equal_their_float32_widening(dtype):
    x = data(dtype)
    wide = x.astype(np.float32)
    assert np.array_equal(wide.astype(dtype).view(np.uint16), x.view(np.uint16))  # exact
    names = []
    for name, fn in quantizers():
        same(fn(x), fn(wide))
        names.append(name)
    assert len(names) >= 10


@pytest.mark.parametrize("dtype", HALF, ids=IDS)
def test_half_inputs_report_the_same_errors(dtype):
    x = data(dtype)
    x[1000] = np.nan
    wide = x.astype(np.float32)
    for name, fn in quantizers():
        if name == "measure_error":
            continue
        with pytest.raises(quantize.NonFiniteError) as a:
            fn(x)
        with pytest.raises(quantize.NonFiniteError) as b:
            fn(wide)
        assert str(a.value) == str(b.value), name
        assert "index 1000" in str(a.value)


def dequantizers():
    x = data(np.float32)
    q, s, z = quantize.quantize_to_int4(x)
    yield "int4", lambda **k: quantize.dequantize_from_int4(q, s, z, **k)
    p, s2, z2 = quantize.quantize_to_int4_packed(x)
    yield "packed", lambda **k: quantize.dequantize_from_int4_packed(p, s2, z2, **k)
    c, sc, zp = quantize.quantize_int4_groups(x.reshape(8, -1), 64)
    yield "groups", lambda **k: quantize.dequantize_int4_groups(c, 64, sc, zp, **k)
    c3, sc3, zp3 = quantize.quantize_int4_groups(x.reshape(8, -1), 100)
    yield "groups ragged", lambda **k: quantize.dequantize_int4_groups(c3, 100, sc3, zp3, **k)
    c4, am = quantize.quantize_codebook_blocks(x.reshape(4, -1), 64, "nf4")
    yield "nf4", lambda **k: quantize.dequantize_codebook_blocks(c4, 64, am, "nf4", **k)
    c5, am5 = quantize.quantize_codebook_blocks(x, 64, "fp4", axis=None)
    yield "fp4 flat", lambda **k: quantize.dequantize_codebook_blocks(c5, 64, am5, "fp4", axis=None, **k)
    for fmt in FORMATS:
        if quantize.block_elements(fmt):
            b = quantize.quantize_blocks(x * 0.5, fmt)
            yield fmt, lambda b=b, fmt=fmt, **k: quantize.dequantize_blocks(b, fmt, **k)


@pytest.mark.parametrize("dtype", HALF, ids=IDS)
def test_outputs_are_the_float32_results_rounded(dtype):
    for name, fn in dequantizers():
        ref = fn()
        assert ref.dtype == np.float32
        same(fn(dtype=np.float32), ref)
        want = ref.astype(dtype)
        same(fn(dtype=dtype), want)
        same(fn(dtype=dtype, threads=3), want)
        out = np.empty(ref.shape, dtype)
        result = fn(out=out)
        assert result is out, name
        same(out, want)


def test_rounding_is_to_nearest_even():
    # halfway cases between two float16 / bfloat16 values, as dequantize_from_int4 results
    q = np.array([1, 3, 5, 7, -1, -3], np.int8)
    scale = 1 + 2.0**-11  # 1 + half an fp16 ulp: (q * scale) lies on fp16 rounding midpoints
    ref = quantize.dequantize_from_int4(q, scale)
    got = quantize.dequantize_from_int4(q, scale, dtype=np.float16)
    same(got, ref.astype(np.float16))
    assert got[0] == np.float16(1.0)  # 1 + 2^-11 ties to even: 1.0


def test_bfloat16_by_name():
    bf16 = bfloat16()
    q = np.array([1, -2, 3], np.int8)
    a = quantize.dequantize_from_int4(q, 0.3, dtype="bfloat16")
    assert a.dtype == np.dtype(bf16)
    same(a, quantize.dequantize_from_int4(q, 0.3).astype(bf16))


def test_bad_output_dtypes_and_out_arrays():
    q = np.array([1, -2, 3, 4], np.int8)
    for bad in (np.float64, np.int8, "complex64"):
        with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
            quantize.dequantize_from_int4(q, 0.5, dtype=bad)
    with pytest.raises(ValueError, match="shape"):
        quantize.dequantize_from_int4(q, 0.5, out=np.empty(5, np.float32))
    with pytest.raises(TypeError, match="dtype"):
        quantize.dequantize_from_int4(q, 0.5, dtype=np.float16, out=np.empty(4, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        quantize.dequantize_from_int4(q, 0.5, out=np.empty(8, np.float32)[::2])


@pytest.mark.parametrize("dtype", HALF, ids=IDS)
def test_half_inputs_are_not_copied(dtype):
    from quantize.quantize import _source

    x = data(dtype)
    got, ftype = _source(x)
    assert got is x and ftype == {"float16": 1, "bfloat16": 2}[np.dtype(dtype).name]
    strided = x[::2]
    got, _ = _source(strided)
    assert got.dtype == x.dtype and got.flags.c_contiguous  # made contiguous, not widened
