"""quantize.gguf against the PyPI gguf package's quants module (when installed) and against
ggml's own golden vectors (tests/data/ggml) for the types gguf cannot quantize."""

import json
import os

import numpy as np
import pytest

import quantize
import quantize.gguf as qg

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "ggml")

# GGMLQuantizationType values, written out so these tests also run without gguf.
TYPES = {"q4_0": 2, "q4_1": 3, "q4_k": 12, "iq4_nl": 20, "iq4_xs": 23, "mxfp4": 39, "nvfp4": 40}
FORMAT_NUMBERS = {"q4_0": 0, "q4_1": 1, "iq4_nl": 2, "mxfp4": 3, "q4_k": 4, "iq4_xs": 5, "nvfp4": 6}
GGUF_QUANTIZES = ["q4_0", "q4_1", "mxfp4"]  # the others raise NotImplementedError in gguf
HEADER_BYTES = {"q4_0": 2, "q4_1": 4, "iq4_nl": 2, "mxfp4": 1, "q4_k": 4, "iq4_xs": 2, "nvfp4": 4}


def needs(fmt):
    """Skip a format the loaded library does not have yet (block_elements 0)."""
    if quantize.block_elements(FORMAT_NUMBERS[fmt]) == 0:
        pytest.skip("the loaded libquantize has no %s yet" % fmt)


def gguf_quants():
    gguf = pytest.importorskip("gguf")
    return gguf, gguf.quants


def bits(a):
    return np.asarray(a).view(np.uint32)


def samples(rng, row):
    """Random and structured inputs of shape [..., row]."""
    yield rng.standard_normal((3, row)).astype(np.float32)
    yield (rng.standard_normal((2, 2, row)) * 1e-3).astype(np.float32)
    yield (rng.standard_normal((2, row)) * 1e3).astype(np.float32)
    yield rng.standard_t(2, (4, row)).astype(np.float32)  # heavy tails
    yield (rng.random((2, row)) * 5).astype(np.float32)  # one sign
    yield rng.integers(-16, 17, (2, row)).astype(np.float32) / np.float32(4)  # many ties
    yield np.zeros((1, row), np.float32)
    yield np.full((1, row), -2.5, np.float32)
    one_hot = np.zeros((2, row), np.float32)
    one_hot[:, ::37] = 3.0
    yield one_hot
    sparse = rng.standard_normal((2, row)).astype(np.float32)
    sparse[rng.random((2, row)) < 0.3] = 0
    yield sparse


def test_type_numbers_are_gguf_s():
    gguf, _ = gguf_quants()
    T = gguf.GGMLQuantizationType
    for fmt, number in TYPES.items():
        assert int(getattr(T, fmt.upper())) == number
        assert qg.GGML_TYPES[number][0] == fmt.upper()
        assert qg.GGML_TYPES[number][1] == FORMAT_NUMBERS[fmt]
        if quantize.block_elements(fmt):
            assert gguf.GGML_QUANT_SIZES[T(number)] == (
                quantize.block_elements(fmt),
                quantize.block_bytes(fmt),
            )


@pytest.mark.parametrize("fmt", GGUF_QUANTIZES)
def test_quantize_equals_gguf(fmt):
    gguf, quants = gguf_quants()
    qtype = gguf.GGMLQuantizationType(TYPES[fmt])
    rng = np.random.default_rng(TYPES[fmt])
    checked = 0
    for row in (32, 256, 4096):
        for x in samples(rng, row):
            want = quants.quantize(x, qtype)
            got = qg.quantize(x, qtype)
            assert got.dtype == want.dtype == np.uint8
            assert got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg="%s %s" % (fmt, x.shape))
            np.testing.assert_array_equal(qg.quantize(x, int(qtype)), want)  # the integer too
            checked += 1
    assert checked == 30


@pytest.mark.parametrize("fmt", GGUF_QUANTIZES)
def test_input_dtypes_and_layouts_as_gguf(fmt):
    gguf, quants = gguf_quants()
    qtype = gguf.GGMLQuantizationType(TYPES[fmt])
    rng = np.random.default_rng(7)
    base = rng.standard_normal((4, 6, 64))
    inputs = [
        base,  # float64
        base.astype(np.float16),
        base.astype(np.float32)[:, ::2, :],  # rows not adjacent
        np.asfortranarray(base.astype(np.float32)),
        base.astype(np.float32).transpose(1, 0, 2),
        (base * 4).astype(np.int32),
        base[0, 0].astype(np.float32),  # 1-D
    ]
    for x in inputs:
        want = quants.quantize(x, qtype)
        got = qg.quantize(x, qtype)
        assert got.shape == want.shape and got.dtype == np.uint8, (x.dtype, x.shape)
        np.testing.assert_array_equal(got, want, err_msg=str((x.dtype, x.shape)))


def test_q4_1_negative_zero_minimum_follows_ggml_c():
    # A block of zeros holding one -0.0: ggml's C scan (min starts at x[0], replaced only by a
    # smaller value) keeps -0.0 only when it comes first; gguf's numpy min picks it elsewhere.
    # libquantize follows the C code; everything but the fp16 minimum (bytes 2-3) is the same.
    gguf, quants = gguf_quants()
    differs = 0
    for pos in (0, 5, 16, 31):
        x = np.zeros((1, 32), np.float32)
        x[0, pos] = -0.0
        ours = qg.quantize(x, gguf.GGMLQuantizationType.Q4_1)[0]
        theirs = quants.quantize(x, gguf.GGMLQuantizationType.Q4_1)[0]
        assert ours[2:4].tolist() == ([0x00, 0x80] if pos == 0 else [0x00, 0x00]), pos
        np.testing.assert_array_equal(np.delete(ours, [2, 3]), np.delete(theirs, [2, 3]))
        differs += ours[3] != theirs[3]
    assert differs  # the documented difference is real in this gguf version
    # and ggml's own C output agrees with ours on the golden case that holds such a block
    golden = np.fromfile(os.path.join(DATA, "special_blocks.q4_1"), "u1")
    source = np.fromfile(os.path.join(DATA, "special_blocks.f32"), "<f4")
    np.testing.assert_array_equal(qg.quantize(source.reshape(1, -1), 3).reshape(-1), golden)


def random_blocks(fmt, rng, rows, blocks_per_row):
    """Blocks with the scales of real data and random code bytes (all of them valid)."""
    elems = quantize.block_elements(fmt)
    x = rng.standard_normal((rows, blocks_per_row * elems)).astype(np.float32)
    x *= rng.choice([1e-3, 1.0, 1e2], (rows, blocks_per_row, 1)).repeat(elems, -1).reshape(x.shape)
    blocks = qg.quantize(x, TYPES[fmt]).reshape(rows, blocks_per_row, -1)
    h = HEADER_BYTES[fmt]
    blocks[..., h:] = rng.integers(0, 256, blocks[..., h:].shape, dtype=np.uint8)
    return blocks.reshape(rows, -1)


@pytest.mark.parametrize("fmt", sorted(TYPES))
def test_dequantize_equals_gguf(fmt):
    needs(fmt)
    gguf, quants = gguf_quants()
    qtype = gguf.GGMLQuantizationType(TYPES[fmt])
    rng = np.random.default_rng(100 + TYPES[fmt])
    for rows, per_row in ((1, 1), (3, 4), (5, 17)):
        data = random_blocks(fmt, rng, rows, per_row)
        want = quants.dequantize(data, qtype)
        got = qg.dequantize(data, qtype)
        assert got.dtype == want.dtype == np.float32
        assert got.shape == want.shape
        np.testing.assert_array_equal(bits(got), bits(want), err_msg=fmt)
        np.testing.assert_array_equal(bits(qg.dequantize(data.view(np.int8), TYPES[fmt])), bits(want))
        three_d = data.reshape(1, rows, -1)
        assert qg.dequantize(three_d, qtype).shape == quants.dequantize(three_d, qtype).shape


def golden_cases():
    with open(os.path.join(DATA, "cases.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("fmt", sorted(TYPES))
def test_golden_ggml_vectors(fmt):
    needs(fmt)
    checked = 0
    for case, info in golden_cases().items():
        if fmt not in info["formats"]:
            continue
        x = np.fromfile(os.path.join(DATA, case + ".f32"), "<f4")
        blocks = np.fromfile(os.path.join(DATA, "%s.%s" % (case, fmt)), "u1")
        deq = np.fromfile(os.path.join(DATA, "%s.%s.deq.f32" % (case, fmt)), "<f4")
        elems, nbytes = quantize.block_elements(fmt), quantize.block_bytes(fmt)
        rows = 2 if x.size % (2 * elems) == 0 else 1
        y = qg.dequantize(blocks.reshape(rows, -1), TYPES[fmt])
        assert y.shape == (rows, x.size // rows)
        np.testing.assert_array_equal(bits(y).reshape(-1), bits(deq), err_msg=case)
        try:
            got = qg.quantize(x.reshape(rows, -1), TYPES[fmt])
        except quantize.ValueOutOfRangeError:
            # NVFP4: ggml clamps a sub-block scale beyond UE4M3's range where the library
            # reports the block; compare the others block by block.
            assert fmt == "nvfp4", case
            for i in range(x.size // elems):
                xb = x[i * elems : (i + 1) * elems].reshape(1, -1)
                want = blocks[i * nbytes : (i + 1) * nbytes]
                try:
                    np.testing.assert_array_equal(qg.quantize(xb, TYPES[fmt])[0], want)
                except quantize.ValueOutOfRangeError:
                    pass
        else:
            assert got.shape == (rows, blocks.size // rows)
            np.testing.assert_array_equal(got.reshape(-1), blocks, err_msg=case)
        checked += 1
    assert checked >= 10


def test_errors_as_gguf():
    x = np.zeros((2, 33), np.float32)
    with pytest.raises(qg.QuantError, match=r"shape \(2, 33\) to Q4_0") as excinfo:
        qg.quantize(x, 2)
    assert isinstance(excinfo.value, quantize.LengthError)
    with pytest.raises(ValueError, match="19 bytes"):
        qg.dequantize(np.zeros((2, 19), np.uint8), 2)
    with pytest.raises(NotImplementedError) if not _has_gguf() else _no_raise():
        qg.quantize(np.zeros((1, 32), np.float32), 8)  # Q8_0: gguf's own when installed
    with pytest.raises(NotImplementedError):
        qg.quantize(np.zeros((1, 256), np.float32), 13)  # Q5_K: neither quantizes it
    with pytest.raises(TypeError):
        qg.quantize(x, "q4_0")


def _has_gguf():
    try:
        import gguf  # noqa: F401
    except ImportError:
        return False
    return True


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_gguf_quant_error_is_caught_as_gguf_s():
    gguf, _ = gguf_quants()
    with pytest.raises(gguf.QuantError):
        qg.quantize(np.zeros((3, 40), np.float32), gguf.GGMLQuantizationType.MXFP4)


def test_f32_f16_and_fallback_types_as_gguf():
    gguf, quants = gguf_quants()
    T = gguf.GGMLQuantizationType
    x = np.random.default_rng(3).standard_normal((2, 64))
    for t in (T.F32, T.F16, T.Q8_0, T.BF16):
        np.testing.assert_array_equal(qg.quantize(x, t), quants.quantize(x, t))
        q = quants.quantize(x, t)
        np.testing.assert_array_equal(qg.dequantize(q, t), quants.dequantize(q, t))


def test_lazy_tensors_stay_lazy():
    gguf, quants = gguf_quants()
    from gguf.lazy import LazyNumpyTensor

    x = np.random.default_rng(4).standard_normal((4, 128)).astype(np.float32)
    lazy = LazyNumpyTensor.from_eager(x)
    q = qg.quantize(lazy, gguf.GGMLQuantizationType.Q4_0)
    assert isinstance(q, LazyNumpyTensor) and q.shape == (4, 72)
    eager = LazyNumpyTensor.to_eager(q)
    np.testing.assert_array_equal(eager, quants.quantize(x, gguf.GGMLQuantizationType.Q4_0))
    y = qg.dequantize(LazyNumpyTensor.from_eager(eager), gguf.GGMLQuantizationType.Q4_0)
    assert isinstance(y, LazyNumpyTensor) and y.shape == (4, 128)
    np.testing.assert_array_equal(
        LazyNumpyTensor.to_eager(y), quants.dequantize(eager, gguf.GGMLQuantizationType.Q4_0)
    )


def test_patch_replaces_and_restores_gguf_functions():
    gguf, quants = gguf_quants()
    original = quants.quantize
    x = np.random.default_rng(5).standard_normal((2, 64)).astype(np.float32)
    want = original(x, gguf.GGMLQuantizationType.Q4_0)
    qg.patch()
    try:
        assert gguf.quants.quantize is qg.quantize
        np.testing.assert_array_equal(
            gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q4_0), want
        )
        # a type the library does not have still reaches gguf's original
        q8 = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0)
        assert q8.shape == (2, 68)
    finally:
        qg.unpatch()
    assert quants.quantize is original


def test_threads_and_dtype_keywords():
    x = np.random.default_rng(6).standard_normal((8, 1024)).astype(np.float32)
    one = qg.quantize(x, 2, threads=1)
    np.testing.assert_array_equal(qg.quantize(x, 2, threads=3), one)
    y = qg.dequantize(one, 2, threads=1)
    np.testing.assert_array_equal(bits(qg.dequantize(one, 2, threads=4)), bits(y))
    np.testing.assert_array_equal(qg.dequantize(one, 2, dtype=np.float16), y.astype(np.float16))
