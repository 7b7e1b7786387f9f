//! Q4_1: 32 values in 20 bytes: fp16 scale `d`, fp16 minimum `m`, then 16 bytes of 4-bit codes
//! (`x ≈ q * d + m`).
//!
//! As ggml's `quantize_row_q4_1_ref`: `min` and `max` are found with strict comparisons from
//! `FLT_MAX` / `-FLT_MAX` (so among equal minima the first one wins: a block of zeros holding a
//! -0.0 after a +0.0 stores +0.0), `d = (max - min) / 15`, codes from the float32 `d` and `min`
//! as `min(15, trunc((x - min) * (1/d) + 0.5))`, each operation rounded on its own.

use super::common::{c_float_to_u8_code, check_finite, read_f16, QK};
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
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    check_finite(x)?;

    let mut min = f32::MAX;
    let mut max = -f32::MAX;
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }

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
    for j in 0..QK / 2 {
        let x0 = (x[j] - min) * id;
        let x1 = (x[j + QK / 2] - min) * id;
        let q0 = c_float_to_u8_code(x0 + 0.5);
        let q1 = c_float_to_u8_code(x1 + 0.5);
        out[4 + j] = q0 | (q1 << 4);
    }
    Ok(out)
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
