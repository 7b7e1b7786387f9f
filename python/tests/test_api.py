"""The binding against q4ref (the README's "Numeric rules (int4)"), on random data of many sizes, shapes and dtypes."""

import numpy as np
import pytest

import q4ref
import quantize
from quantize import dequantize_from_int4, quantize_to_int4
from quantize.quantize import (
    dequantize_from_int4_packed,
    dequantize_int4_groups,
    group_count,
    measure_error,
    pack_int4_to_int8,
    packed_len,
    quantize_int4_groups,
    quantize_to_int4_packed,
    unpack_int8_to_int4,
)

SIZES = [1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 4099]
METHODS = ["minmax", "absmax"]


def samples(seed):
    """Inputs that stress the int4 rules: mixed signs, one sign only, ties, tiny, large, constant, zeros."""
    rng = np.random.default_rng(seed)
    for n in SIZES:
        yield rng.standard_normal(n).astype(np.float32)
        yield (rng.random(n) * 10).astype(np.float32)  # all >= 0
        yield (-rng.random(n) * 1e-3).astype(np.float32)  # all <= 0
        yield rng.integers(-15, 16, n).astype(np.float32) / np.float32(2)  # ties
        yield (rng.standard_normal(n) * 1e30).astype(np.float32)
        yield (rng.standard_normal(n) * 1e-38).astype(np.float32)  # subnormal scales
        yield np.full(n, 3.25, dtype=np.float32)
        yield np.zeros(n, dtype=np.float32)


@pytest.mark.parametrize("method", METHODS)
def test_quantize_and_dequantize_equal_the_reference(method):
    checked = 0
    for x in samples(1):
        q, s, z = quantize_to_int4(x, scale_method=method)
        rq, rs, rz = q4ref.quantize(x, method)
        assert q.dtype == np.int8 and q.shape == x.shape
        np.testing.assert_array_equal(q, rq)
        assert type(s) is float and s == rs
        assert type(z) is int and z == rz
        y = dequantize_from_int4(q, s, z)
        assert y.dtype == np.float32 and y.shape == x.shape
        np.testing.assert_array_equal(q4ref.bits(y), q4ref.bits(q4ref.dequantize(rq, rs, rz)))
        # the rules' invariant |x - y| <= scale / 2 (float rounding allowance of a few ulps of max|x|)
        slack = s / 2 + 4 * np.spacing(np.max(np.abs(x)))
        assert np.all(np.abs(x.astype(np.float64) - y) <= slack)
        checked += 1
    assert checked == 8 * len(SIZES)


def test_default_method_is_minmax_and_default_zero_point_is_0():
    x = np.array([0.5, 1.0, 2.0, 3.0], dtype=np.float32)
    q, s, z = quantize_to_int4(x)
    rq, rs, rz = q4ref.quantize(x, "minmax")
    assert z == rz == -8
    np.testing.assert_array_equal(q, rq)
    np.testing.assert_array_equal(
        q4ref.bits(dequantize_from_int4(q, s)), q4ref.bits(q4ref.dequantize(q, s, 0))
    )


@pytest.mark.parametrize(
    "values",
    [
        [0.1, 0.5, -1.3, 2.7, 3.9, -0.8],
        (1, 2, 3),
        np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5,
        np.linspace(-2, 3, 30, dtype=np.float16),
        np.arange(40, dtype=np.int32) - 7,
        np.linspace(-1, 1, 64, dtype=np.float32).reshape(4, 4, 4)[:, ::2, 1:],  # strided
        np.float64(2.5),  # a 0-d array
    ],
    ids=["list", "tuple", "float64-2d", "float16", "int32", "strided-3d", "scalar"],
)
def test_any_float_input_is_converted_once_to_float32(values):
    expected_shape = np.shape(values)
    for method in METHODS:
        q, s, z = quantize_to_int4(values, method)
        rq, rs, rz = q4ref.quantize(np.asarray(values, dtype=np.float32), method)
        assert q.shape == expected_shape
        np.testing.assert_array_equal(q, rq)
        assert (s, z) == (rs, rz)
        y = dequantize_from_int4(q, s, z)
        assert y.shape == expected_shape and y.dtype == np.float32


def test_contiguous_float32_is_not_copied():
    from quantize.quantize import _as_float32, _as_int8

    a = np.linspace(-1, 1, 10, dtype=np.float32)
    assert _as_float32(a) is a
    b = np.arange(-8, 8, dtype=np.int8)
    assert _as_int8(b) is b
    assert _as_float32(a[::2]) is not a  # a strided view must be made contiguous
    assert _as_float32(a.astype(np.float64)).dtype == np.float32


def test_pack_and_unpack_equal_the_reference():
    rng = np.random.default_rng(2)
    for n in list(range(0, 40)) + [255, 256, 1001]:
        q = rng.integers(-8, 8, n).astype(np.int8)
        packed = pack_int4_to_int8(q)
        assert packed.dtype == np.int8 and packed.shape == ((n + 1) // 2,)
        np.testing.assert_array_equal(packed, q4ref.pack(q))
        unpacked = unpack_int8_to_int4(packed)
        assert unpacked.dtype == np.int8 and unpacked.shape == (2 * len(packed),)
        np.testing.assert_array_equal(unpacked, q4ref.unpack(packed))
        np.testing.assert_array_equal(unpacked[:n], q)
        if n % 2:
            assert unpacked[-1] == 0  # the padding nibble


def test_pack_layout_is_the_onnx_one():
    # element 2i in the low nibble, 2i+1 in the high one, two's complement, padding 0
    assert pack_int4_to_int8([1, 2]).view(np.uint8).tolist() == [0x21]
    assert pack_int4_to_int8([-8, -1]).view(np.uint8).tolist() == [0xF8]
    assert pack_int4_to_int8([7, 0, -1]).view(np.uint8).tolist() == [0x07, 0x0F]
    assert unpack_int8_to_int4(np.array([0xF8], dtype=np.uint8)).tolist() == [-8, -1]


def test_unpack_accepts_int8_uint8_bytes_and_lists():
    expected = [1, 2, -8, -1]
    assert unpack_int8_to_int4(np.array([0x21, 0xF8], dtype=np.uint8)).tolist() == expected
    assert unpack_int8_to_int4(np.array([0x21, -8], dtype=np.int8)).tolist() == expected
    assert unpack_int8_to_int4(b"\x21\xf8").tolist() == expected
    assert unpack_int8_to_int4([0x21, 0xF8]).tolist() == expected
    assert unpack_int8_to_int4([0x21, -8]).tolist() == expected
    assert unpack_int8_to_int4([]).tolist() == []


@pytest.mark.parametrize("method", METHODS)
def test_fused_equals_quantize_then_pack(method):
    for x in samples(3):
        packed, s, z = quantize_to_int4_packed(x, method)
        q, s2, z2 = quantize_to_int4(x, method)
        assert (s, z) == (s2, z2)
        assert packed.dtype == np.int8
        np.testing.assert_array_equal(packed, pack_int4_to_int8(q))
        y = dequantize_from_int4_packed(packed, s, z, n=x.size)
        assert y.dtype == np.float32 and y.shape == (x.size,)
        np.testing.assert_array_equal(q4ref.bits(y), q4ref.bits(q4ref.dequantize(q, s, z)))
        if x.size % 2 == 0:
            y2 = dequantize_from_int4_packed(packed, s, z)
            np.testing.assert_array_equal(q4ref.bits(y2), q4ref.bits(y))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("group_size", [1, 2, 3, 8, 32, 33, 128])
def test_groups_follow_the_reference_group_by_group(method, group_size):
    rng = np.random.default_rng(group_size)
    for n in [1, 2, 31, 32, 33, 100, 257]:
        x = (rng.standard_normal(n) * rng.choice([1e-3, 1.0, 1e3], n)).astype(np.float32)
        x[rng.random(n) < 0.1] = 0
        codes, scales, zps = quantize_int4_groups(x, group_size, method)
        groups = -(-n // group_size)
        assert group_count(n, group_size) == groups
        assert codes.dtype == np.int8 and codes.shape == (packed_len(n),)
        assert scales.dtype == np.float32 and scales.shape == (groups,)
        assert zps.dtype == np.int8 and zps.shape == (groups,)
        all_q = []
        for g in range(groups):
            rq, rs, rz = q4ref.quantize(x[g * group_size : (g + 1) * group_size], method)
            assert scales[g] == rs and zps[g] == rz, g
            all_q.append(rq)
        all_q = np.concatenate(all_q)
        np.testing.assert_array_equal(codes, q4ref.pack(all_q))
        y = dequantize_int4_groups(codes, group_size, scales, zps, n=n)
        expected = np.concatenate(
            [
                q4ref.dequantize(all_q[g * group_size : (g + 1) * group_size], scales[g], zps[g])
                for g in range(groups)
            ]
        )
        np.testing.assert_array_equal(q4ref.bits(y), q4ref.bits(expected))
        if method == "absmax":
            np.testing.assert_array_equal(
                q4ref.bits(dequantize_int4_groups(codes, group_size, scales, None, n=n)),
                q4ref.bits(y),
            )


def test_measure_error_against_numpy_in_double():
    rng = np.random.default_rng(5)
    for n in [1, 2, 3, 17, 1000, 4097]:
        x = rng.standard_normal(n).astype(np.float32)
        q, s, z = quantize_to_int4(x)
        y = dequantize_from_int4(q, s, z)
        st = measure_error(x, y)
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        assert st.max_abs_error == d.max()
        assert st.max_abs_index == int(np.argmax(d))  # argmax: the first maximum
        assert st.mean_abs_error == pytest.approx(d.mean(), rel=1e-12)
        assert st.mean_squared_error == pytest.approx(np.mean(d * d), rel=1e-12)
        assert st.rmse == pytest.approx(np.sqrt(np.mean(d * d)), rel=1e-12)
        with np.errstate(divide="ignore"):  # exact for n = 1: +inf
            sqnr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(d * d))
        assert st.sqnr_db == pytest.approx(sqnr, rel=1e-9)
        assert st.max_abs_error <= s / 2 * (1 + 1e-6)


def test_measure_error_edge_cases():
    exact = measure_error([1.0, -2.0], [1.0, -2.0])
    assert exact.sqnr_db == float("inf") and exact.max_abs_error == 0 and exact.max_abs_index == 0
    assert measure_error([0.0, 0.0], [0.0, 1.0]).sqnr_db == float("-inf")
    st = measure_error(np.zeros((2, 3)), np.array([[0, 0, 1], [0, 0, -1]]))
    assert st.max_abs_index == 2 and st.max_abs_error == 1.0
    assert isinstance(st, tuple) and st._fields[0] == "mean_abs_error"


def test_sizes_and_metadata():
    assert [packed_len(n) for n in range(5)] == [0, 1, 1, 2, 2]
    assert group_count(0, 32) == 0 and group_count(10, 0) == 0 and group_count(65, 32) == 3
    major, minor, patch = (int(p) for p in quantize.version().split("."))
    assert quantize.version_number() == major * 10000 + minor * 100 + patch
    assert quantize.__version__ == quantize.version()
    assert quantize.kernel_name() in ("scalar", "avx2", "avx512", "neon")


def test_empty_arrays_where_the_library_accepts_them():
    assert dequantize_from_int4(np.zeros(0, np.int8), 1.0).shape == (0,)
    assert pack_int4_to_int8([]).shape == (0,)
    assert unpack_int8_to_int4(b"").shape == (0,)
    codes, scales, zps = quantize_int4_groups([], 32)
    assert codes.size == scales.size == zps.size == 0
