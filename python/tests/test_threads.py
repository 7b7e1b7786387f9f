"""threads=: chunked calls give exactly the single call's result, failures included."""

import numpy as np
import pytest

import quantize
from quantize import _parallel

FORMATS = ["q4_0", "q4_1", "iq4_nl", "mxfp4", "q4_k", "iq4_xs", "nvfp4"]


def available(fmt):
    return quantize.block_elements(fmt) > 0


def same(a, b):
    """Equal results: arrays byte for byte (dtype and shape too), tuples element-wise."""
    if isinstance(a, tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    else:
        assert a == b or (a != a and b != b)


def outcome(call):
    try:
        return "ok", call()
    except Exception as exc:  # the exception's class and text are the outcome
        return "error", (type(exc), str(exc))


def check(call, threads=(2, 3, 4, 7)):
    kind, ref = outcome(lambda: call(1))
    for k in threads:
        kind2, got = outcome(lambda: call(k))
        assert kind2 == kind, (k, got)
        if kind == "ok":
            same(ref, got)
        else:
            assert got == ref, k
    return kind, ref


rng = np.random.default_rng(11)
X = rng.standard_normal(32 * 256 * 3).astype(np.float32)
BAD = X.copy()
BAD[15000] = np.nan  # in a later chunk; the first failure must win over the one after
BAD[20000] = np.inf
HUGE = X.copy()
HUGE[13000] = 1e38  # beyond 2^126, before a NaN
HUGE[20000] = np.nan


@pytest.mark.parametrize("fmt", FORMATS)
def test_blocks(fmt):
    if not available(fmt):
        pytest.skip("the loaded libquantize has no %s yet" % fmt)
    kind, q = check(lambda t: quantize.quantize_blocks(X, fmt, threads=t))
    assert kind == "ok"
    assert check(lambda t: quantize.dequantize_blocks(q, fmt, threads=t))[0] == "ok"
    assert check(lambda t: quantize.quantize_blocks(BAD, fmt, threads=t))[0] == "error"
    assert check(lambda t: quantize.quantize_blocks(X[:-1], fmt, threads=t))[0] == "error"
    assert check(lambda t: quantize.dequantize_blocks(q[:-1], fmt, n=X.size, threads=t))[0] == "error"
    bad = q.copy()
    elems, nbytes = quantize.block_elements(fmt), quantize.block_bytes(fmt)
    if fmt in ("q4_0", "q4_1", "iq4_nl", "q4_k", "iq4_xs"):  # fp16 scale first: make it NaN
        blocks = X.size // elems
        for b in (blocks // 2, 3 * blocks // 4):  # two bad blocks past the first chunk
            bad[b * nbytes : b * nbytes + 2] = [0x00, 0x7E]
        assert check(lambda t: quantize.dequantize_blocks(bad, fmt, threads=t))[0] == "error"


@pytest.mark.parametrize("method", ["minmax", "absmax"])
@pytest.mark.parametrize("group_size", [1, 3, 32, 100, 128])
@pytest.mark.parametrize("axis", [None, -1])
def test_groups(method, group_size, axis):
    x = X.reshape(24, -1)
    kind, (codes, scales, zps) = check(
        lambda t: quantize.quantize_int4_groups(x, group_size, method, axis=axis, threads=t)
    )
    assert kind == "ok"
    n = x.size if axis is None else None
    assert check(
        lambda t: quantize.dequantize_int4_groups(
            codes, group_size, scales, zps, n=n, axis=axis, threads=t
        )
    )[0] == "ok"
    for bad in (BAD, HUGE):
        assert check(
            lambda t: quantize.quantize_int4_groups(
                bad.reshape(24, -1), group_size, method, axis=axis, threads=t
            )
        )[0] == "error"
    bad_scales = scales.copy()
    bad_scales.reshape(-1)[-3] = np.nan
    bad_zps = zps.copy()
    bad_zps.reshape(-1)[-5] = 9
    for s, z in ((bad_scales, zps), (scales, bad_zps)):
        if method == "absmax" and z is bad_zps:
            continue
        assert check(
            lambda t: quantize.dequantize_int4_groups(
                codes, group_size, s, z, n=n, axis=axis, threads=t
            )
        )[0] == "error"


@pytest.mark.parametrize("codebook", ["nf4", "fp4"])
@pytest.mark.parametrize("block_size", [32, 64, 4096])
@pytest.mark.parametrize("shape", [(24, 1024), (48, 500)])
@pytest.mark.parametrize("axis", [None, -1])
def test_codebook(codebook, block_size, shape, axis):
    x = X[: shape[0] * shape[1]].reshape(shape)
    kind, (codes, absmax) = check(
        lambda t: quantize.quantize_codebook_blocks(x, block_size, codebook, axis=axis, threads=t)
    )
    assert kind == "ok"
    n = x.size if axis is None else shape[1]
    assert check(
        lambda t: quantize.dequantize_codebook_blocks(
            codes, block_size, absmax, codebook, n=n, axis=axis, threads=t
        )
    )[0] == "ok"
    bad = BAD[: x.size].reshape(shape)
    assert check(
        lambda t: quantize.quantize_codebook_blocks(bad, block_size, codebook, axis=axis, threads=t)
    )[0] == "error"
    bad_absmax = absmax.copy()
    bad_absmax.reshape(-1)[-1] = np.inf
    assert check(
        lambda t: quantize.dequantize_codebook_blocks(
            codes, block_size, bad_absmax, codebook, n=n, axis=axis, threads=t
        )
    )[0] == "error"


def test_int4_elementwise_families():
    q, s, z = quantize.quantize_to_int4(X)
    assert check(lambda t: quantize.dequantize_from_int4(q, s, z, threads=t))[0] == "ok"
    kind, packed = check(lambda t: quantize.pack_int4_to_int8(q[:-1], threads=t))
    assert kind == "ok"
    assert check(lambda t: quantize.unpack_int8_to_int4(packed, threads=t))[0] == "ok"
    for count in (q.size - 1, None):
        assert check(
            lambda t: quantize.dequantize_from_int4_packed(packed, s, z, n=count, threads=t)
        )[0] == "ok"
    bad = q.copy()
    bad[3000], bad[6000] = 8, -9
    assert check(lambda t: quantize.dequantize_from_int4(bad, s, z, threads=t))[0] == "error"
    assert check(lambda t: quantize.pack_int4_to_int8(bad, threads=t))[0] == "error"
    assert check(
        lambda t: quantize.dequantize_from_int4_packed(packed, s, z, n=q.size + 5, threads=t)
    )[0] == "error"


def test_single_call_families_accept_threads():
    # one scale for the whole tensor, fixed-order sums: threads changes nothing
    for fn in (quantize.quantize_to_int4, quantize.quantize_to_int4_packed):
        check(lambda t: fn(X, threads=t))
        check(lambda t: fn(BAD, threads=t))
    check(lambda t: quantize.measure_error(X, X[::-1], threads=t))


def test_default_threads_chunk_large_inputs():
    x = np.random.default_rng(12).standard_normal(_parallel.THREAD_THRESHOLD + 32 * 5)
    x = x.astype(np.float32)
    assert _parallel.chunk_count(None, x.size, x.size // 32) == _parallel.default_threads()
    assert _parallel.chunk_count(None, 1000, 1000) == 1
    same(quantize.quantize_blocks(x, "q4_0"), quantize.quantize_blocks(x, "q4_0", threads=1))
    q = quantize.quantize_blocks(x, "q4_0", threads=1)
    same(quantize.dequantize_blocks(q, "q4_0"), quantize.dequantize_blocks(q, "q4_0", threads=1))


def test_threads_argument_is_checked():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="threads"):
            quantize.quantize_blocks(X, "q4_0", threads=bad)
    with pytest.raises(TypeError, match="threads"):
        quantize.quantize_blocks(X, "q4_0", threads=1.5)
    with pytest.raises(ValueError, match="threads"):
        quantize.quantize_to_int4(X, threads=0)


def test_split_covers_every_unit_once():
    for units in (0, 1, 5, 64, 1001):
        for k in (1, 2, 3, 8):
            ranges = _parallel.split(units, k)
            flat = [u for a, b in ranges for u in range(a, b)]
            assert flat == list(range(units))


def test_chunks_are_really_made(monkeypatch):
    seen = []
    real = _parallel.run

    def counting(calls):
        seen.append(len(calls))
        return real(calls)

    monkeypatch.setattr(_parallel, "run", counting)
    quantize.quantize_blocks(X, "q4_0", threads=4)
    quantize.quantize_int4_groups(X.reshape(24, -1), 100, threads=3)  # ragged rows: row chunks
    quantize.dequantize_codebook_blocks(np.zeros(4096, np.uint8), 64, np.ones(128), threads=2)
    quantize.quantize_blocks(X[:64], "q4_0", threads=4)  # two blocks: two chunks
    quantize.quantize_to_int4(X, threads=4)  # one call
    assert seen == [4, 3, 2, 2]
