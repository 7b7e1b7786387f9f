"""axis= for the group-wise and codebook functions: each row on its own, shapes kept; axis=None
is the old flattening behaviour."""

import numpy as np
import pytest

import q4ref
import quantize
from quantize import (
    dequantize_codebook_blocks,
    dequantize_int4_groups,
    quantize_codebook_blocks,
    quantize_int4_groups,
)


def same(a, b):
    assert isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def rows_of(x):
    return x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])


@pytest.mark.parametrize("method", ["minmax", "absmax"])
@pytest.mark.parametrize("shape", [(4, 64), (3, 5, 96), (6, 100), (2, 33), (5, 7), (3, 1), (1, 0)])
@pytest.mark.parametrize("group_size", [1, 3, 32, 64])
def test_groups_along_the_last_axis_are_per_row_streams(method, shape, group_size):
    rng = np.random.default_rng(sum(shape) + group_size)
    x = (rng.standard_normal(shape) * rng.choice([1e-2, 1.0, 1e2], shape)).astype(np.float32)
    codes, scales, zps = quantize_int4_groups(x, group_size, method)
    row = shape[-1]
    groups = -(-row // group_size)
    assert codes.dtype == np.int8 and codes.shape == shape[:-1] + ((row + 1) // 2,)
    assert scales.dtype == np.float32 and scales.shape == shape[:-1] + (groups,)
    assert zps.dtype == np.int8 and zps.shape == shape[:-1] + (groups,)
    for r, xr in enumerate(rows_of(x)):
        c1, s1, z1 = quantize_int4_groups(xr, group_size, method, axis=None)
        same(rows_of(codes)[r], c1)
        same(rows_of(scales)[r], s1)
        same(rows_of(zps)[r], z1)
        for g in range(groups):  # and each group follows the per-tensor rules on its own
            rq, rs, rz = q4ref.quantize(xr[g * group_size : (g + 1) * group_size], method)
            assert rows_of(scales)[r][g] == rs and rows_of(zps)[r][g] == rz
    y = dequantize_int4_groups(codes, group_size, scales, zps, n=row)
    assert y.shape == shape and y.dtype == np.float32
    for r in range(len(rows_of(x))):
        ref = dequantize_int4_groups(rows_of(codes)[r], group_size, rows_of(scales)[r],
                                     rows_of(zps)[r], n=row, axis=None)
        same(rows_of(y)[r], ref)
    if row % 2 == 0:  # the default n is 2 * bytes per row
        same(dequantize_int4_groups(codes, group_size, scales, zps), y)
    if method == "absmax":
        same(dequantize_int4_groups(codes, group_size, scales, None, n=row), y)


@pytest.mark.parametrize("codebook", ["nf4", "fp4"])
@pytest.mark.parametrize("shape", [(4, 64), (2, 3, 256), (3, 100), (2, 4097), (5, 31)])
@pytest.mark.parametrize("block_size", [32, 64, 4096])
def test_codebook_along_the_last_axis_is_per_row(codebook, shape, block_size):
    rng = np.random.default_rng(sum(shape) + block_size)
    x = rng.standard_normal(shape).astype(np.float32)
    codes, absmax = quantize_codebook_blocks(x, block_size, codebook)
    row = shape[-1]
    blocks = -(-row // block_size)
    assert codes.dtype == np.uint8 and codes.shape == shape[:-1] + ((row + 1) // 2,)
    assert absmax.dtype == np.float32 and absmax.shape == shape[:-1] + (blocks,)
    y = dequantize_codebook_blocks(codes, block_size, absmax, codebook, n=row)
    assert y.shape == shape and y.dtype == np.float32
    for r, xr in enumerate(rows_of(x)):
        c1, a1 = quantize_codebook_blocks(xr, block_size, codebook, axis=None)
        same(rows_of(codes)[r], c1)
        same(rows_of(absmax)[r], a1)
        y1 = dequantize_codebook_blocks(c1, block_size, a1, codebook, n=row, axis=None)
        same(rows_of(y)[r], y1)


def test_other_axes_move_the_groups_there():
    x = np.random.default_rng(1).standard_normal((64, 3, 5)).astype(np.float32)
    codes, scales, zps = quantize_int4_groups(x, 32, axis=0)
    assert codes.shape == (32, 3, 5) and scales.shape == (2, 3, 5) and zps.shape == (2, 3, 5)
    c2, s2, z2 = quantize_int4_groups(np.moveaxis(x, 0, -1), 32)
    same(np.ascontiguousarray(np.moveaxis(codes, 0, -1)), c2)
    same(np.ascontiguousarray(np.moveaxis(scales, 0, -1)), s2)
    y = dequantize_int4_groups(codes, 32, scales, zps, axis=0)
    assert y.shape == x.shape
    same(np.ascontiguousarray(np.moveaxis(y, 0, -1)), dequantize_int4_groups(c2, 32, s2, z2))
    nf4, absmax = quantize_codebook_blocks(x, 64, axis=-3)
    assert nf4.shape == (32, 3, 5) and absmax.shape == (1, 3, 5)
    assert dequantize_codebook_blocks(nf4, 64, absmax, axis=-3).shape == x.shape
    with pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        quantize_int4_groups(x, 32, axis=3)


def test_axis_none_is_the_flat_stream():
    x = np.random.default_rng(2).standard_normal((3, 50)).astype(np.float32)
    codes, scales, zps = quantize_int4_groups(x, 32, axis=None)
    assert codes.shape == (75,) and scales.shape == (5,)  # groups straddle rows
    c1, s1, z1 = quantize_int4_groups(x.reshape(-1), 32)
    same(codes, c1)
    same(scales, s1)
    y = dequantize_int4_groups(codes, 32, scales, zps, n=x.size, axis=None)
    assert y.shape == (150,)
    nf4, absmax = quantize_codebook_blocks(x, 32, axis=None)
    assert nf4.shape == (75,) and absmax.shape == (5,)


def test_out_is_written_in_place():
    x = np.random.default_rng(3).standard_normal((8, 128)).astype(np.float32)
    codes, scales, zps = quantize_int4_groups(x, 32)
    out = np.empty_like(x)
    assert dequantize_int4_groups(codes, 32, scales, zps, out=out) is out
    same(out, dequantize_int4_groups(codes, 32, scales, zps))
    nf4, absmax = quantize_codebook_blocks(x, 64)
    assert dequantize_codebook_blocks(nf4, 64, absmax, out=out) is out
    same(out, dequantize_codebook_blocks(nf4, 64, absmax))
    blocks = quantize.quantize_blocks(x, "q4_0")
    flat = np.empty(x.size, np.float32)
    assert quantize.dequantize_blocks(blocks, "q4_0", out=flat) is flat
    with pytest.raises(quantize.OverlapError):  # out may not be an input
        buf = np.zeros(64, np.float32)
        quantize.dequantize_codebook_blocks(buf.view(np.uint8)[:32], 32, buf[:2], n=64, out=buf,
                                            axis=None)


def test_mismatched_shapes_are_reported():
    x = np.random.default_rng(4).standard_normal((4, 64)).astype(np.float32)
    codes, scales, zps = quantize_int4_groups(x, 32)
    with pytest.raises(quantize.InvalidArgumentError, match="same shape"):
        dequantize_int4_groups(codes, 32, scales[:3], zps)
    with pytest.raises(quantize.BufferTooSmallError):
        dequantize_int4_groups(codes, 32, scales[:, :1], zps[:, :1])
    with pytest.raises(quantize.BufferTooSmallError):
        dequantize_int4_groups(codes, 32, scales, zps, n=65)
    nf4, absmax = quantize_codebook_blocks(x, 32)
    with pytest.raises(quantize.InvalidArgumentError, match="same shape"):
        dequantize_codebook_blocks(nf4, 32, absmax.reshape(-1))
    with pytest.raises(quantize.InvalidArgumentError, match="axis=None"):
        quantize_int4_groups(np.float32(1.0), 32)
