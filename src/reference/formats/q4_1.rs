//! Q4_1: 32 values in 20 bytes: fp16 scale `d`, fp16 minimum `m`, then 16 bytes of 4-bit codes
//! (`x ≈ q * d + m`).
//!
//! As ggml's `quantize_row_q4_1_ref`: `min` and `max` are found with strict comparisons from
//! `FLT_MAX` / `-FLT_MAX` (so among equal minima the first one wins: a block of zeros holding a
//! -0.0 after a +0.0 stores +0.0), `d = (max - min) / 15`, codes from the float32 `d` and `min`
//! as `min(15, trunc((x - min) * (1/d) + 0.5))`, each operation rounded on its own.

use super::common::{c_float_to_u8_code, min_max_tree, read_f16, u8_code_small, QK};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 20;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "q4_1",
    elements: QK,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Quantizes one block of 32 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element; [`Error::ValueOutOfRange`] when
/// the scale or the minimum is not a finite fp16 (|min| >= 65520, (max - min) / 15 >= 65520, or
/// max - min overflowing float32).
#[inline]
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    // Written so that LLVM vectorises it for baseline x86-64 (as the scale-only format); every float
    // operation is ggml's, per element.
    let Some((min, max)) = min_max(x) else {
        return Err(Error::NonFinite);
    };

    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let dh = f32_to_f16(d);
    let mh = f32_to_f16(min);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return Err(Error::ValueOutOfRange);
    }

    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    out[2..4].copy_from_slice(&mh.to_le_bytes());
    // Every x - min is in [0, max - min] and id >= 0, so (rounding being monotonic) every value
    // is in [0.5, (max - min) * id + 0.5]: below 128 always, but for blocks whose 1/d overflowed.
    if (max - min) * id + 0.5 < 128.0 {
        for j in 0..QK / 2 {
            let q0 = u8_code_small((x[j] - min) * id + 0.5);
            let q1 = u8_code_small((x[j + QK / 2] - min) * id + 0.5);
            out[4 + j] = q0 | (q1 << 4);
        }
    } else {
        for j in 0..QK / 2 {
            let q0 = c_float_to_u8_code((x[j] - min) * id + 0.5);
            let q1 = c_float_to_u8_code((x[j + QK / 2] - min) * id + 0.5);
            out[4 + j] = q0 | (q1 << 4);
        }
    }
    Ok(out)
}

/// ggml's `min` and `max` of the block (strict comparisons from `FLT_MAX` / `-FLT_MAX` in
/// element order, so among equal values the first one wins), or `None` when an element is NaN or
/// infinite.
///
/// The element order only shows in the sign of a zero (two equal non-zero floats have the same
/// bits), so the block is reduced as a tree ([`min_max_tree`]), and only when the minimum is a
/// zero is it redone in element order (the maximum's zero sign matters only then, through
/// `max - min`: with a non-zero minimum, `±0 - min` is the same float).
#[inline]
fn min_max(x: &[f32; QK]) -> Option<(f32, f32)> {
    let (min, max) = min_max_tree(x)?;
    if min != 0.0 {
        return Some((min, max));
    }
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    Some((min, max))
}

/// Dequantizes one block: `y = q * d + m`, the product and the sum rounded separately (no FMA).
///
/// Errors: [`Error::NonFinite`] when the stored scale or minimum is infinite or NaN.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; QK]> {
    let dh = read_f16(b, 0);
    let mh = read_f16(b, 2);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return Err(Error::NonFinite);
    }
    let d = f16_to_f32(dh);
    let m = f16_to_f32(mh);
    let mut y = [0.0f32; QK];
    for j in 0..QK / 2 {
        let q = b[4 + j];
        y[j] = f32::from(q & 0x0f) * d + m;
        y[j + QK / 2] = f32::from(q >> 4) * d + m;
    }
    Ok(y)
}
