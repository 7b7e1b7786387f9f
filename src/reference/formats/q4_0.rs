//! Q4_0: 32 values in 18 bytes: fp16 scale `d`, then 16 bytes of 4-bit codes (`x ≈ (q - 8) * d`).
//!
//! As ggml's `quantize_row_q4_0_ref` (what `ggml_quantize_chunk` runs without an importance
//! matrix): `d = max / -8` where `max` is the first element of largest magnitude, keeping its
//! sign; codes come from the float32 `d` (only the stored copy is rounded to fp16) as
//! `min(15, trunc(x * (1/d) + 8.5))`, the product and the sum each rounded on their own.

use super::common::{c_float_to_u8_code, first_largest, min_max_tree, read_f16, u8_code_small, QK};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 18;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "q4_0",
    elements: QK,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Quantizes one block of 32 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element; [`Error::ValueOutOfRange`] when
/// the scale rounds to an infinite fp16 (|max| / 8 >= 65520).
#[inline]
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    // Written so that LLVM vectorises it for baseline x86-64 (the scalar level): no early exits,
    // integer reductions, branch-free conversions. Every float operation is ggml's, per element.
    let Some(extremes) = min_max_tree(x) else {
        return Err(Error::NonFinite);
    };
    // The first element of largest magnitude, with its sign.
    let max = first_largest(x, extremes);

    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return Err(Error::ValueOutOfRange);
    }

    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    // Every |x * id| is at most |max * id| (rounding is monotonic), so when that is at most 8.5
    // (always, but for blocks whose 1/d overflowed) every x * id + 8.5 is in [0, 17].
    if (max * id).abs() <= 8.5 {
        for j in 0..QK / 2 {
            let q0 = u8_code_small(x[j] * id + 8.5);
            let q1 = u8_code_small(x[j + QK / 2] * id + 8.5);
            out[2 + j] = q0 | (q1 << 4);
        }
    } else {
        for j in 0..QK / 2 {
            let q0 = c_float_to_u8_code(x[j] * id + 8.5);
            let q1 = c_float_to_u8_code(x[j + QK / 2] * id + 8.5);
            out[2 + j] = q0 | (q1 << 4);
        }
    }
    Ok(out)
}

/// Dequantizes one block: `y = (q - 8) * d`, one rounding.
///
/// Errors: [`Error::NonFinite`] when the stored fp16 scale is infinite or NaN.
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; QK]> {
    let dh = read_f16(b, 0);
    if !f16_is_finite(dh) {
        return Err(Error::NonFinite);
    }
    let d = f16_to_f32(dh);
    let mut y = [0.0f32; QK];
    for j in 0..QK / 2 {
        let q = b[2 + j];
        y[j] = (i32::from(q & 0x0f) - 8) as f32 * d;
        y[j + QK / 2] = (i32::from(q >> 4) - 8) as f32 * d;
    }
    Ok(y)
}
