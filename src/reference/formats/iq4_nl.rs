//! IQ4_NL: 32 values in 18 bytes: fp16 scale `d`, then 16 bytes of 4-bit indices into a fixed
//! non-linear codebook (`x ≈ d * KVALUES[q]`).
//!
//! GGUF files hold what ggml's `ggml_quantize_chunk` writes, i.e. `quantize_iq4_nl` with no
//! importance matrix, which runs `quantize_row_iq4_nl_impl` for one 32-element block with
//! `ntry = 7`: a least-squares scale search with weights `x[j]^2` (ggml's choice when there are
//! no importance weights), over the initial scale `max / 127` and the 15 candidate inverse
//! scales `(t - 127) / max`, t = -7..=7, where `max` is the first element of largest magnitude.
//! Blocks whose largest magnitude is below 1e-15 get scale 0. The codes are then recomputed from
//! the float32 scale (only the stored copy is rounded to fp16). `quantize_row_iq4_nl_ref`
//! (`ntry = -1`, no search) is not what GGUF files contain.

use super::common::{check_finite, read_f16, QK};
use super::fp16::{f16_is_finite, f16_to_f32, f32_to_f16};
use super::nl_codebook::{best_index, kv, search_scale};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 18;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "iq4_nl",
    elements: QK,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

/// Quantizes one block of 32 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element; [`Error::ValueOutOfRange`] when
/// the scale the search finds is not a finite fp16 (max |x| above about 8.3e6, or intermediate
/// sums overflowing float32).
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    check_finite(x)?;
    let d = search_scale(x);
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return Err(Error::ValueOutOfRange);
    }
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut out = [0u8; BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    for j in 0..QK / 2 {
        let l0 = best_index(id * x[j]) as u8;
        let l1 = best_index(id * x[j + QK / 2]) as u8;
        out[2 + j] = l0 | (l1 << 4);
    }
    Ok(out)
}

/// Dequantizes one block: `y = d * KVALUES[q]`, one rounding.
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
        y[j] = d * kv(usize::from(q & 0x0f));
        y[j + QK / 2] = d * kv(usize::from(q >> 4));
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::super::nl_codebook::KVALUES;
    use super::*;

    #[test]
    fn best_index_picks_nearest_and_upper_on_ties() {
        assert_eq!(best_index(-1000.0), 0);
        assert_eq!(best_index(1000.0), 15);
        assert_eq!(best_index(0.0), 8); // 1 is nearer than -10
        assert_eq!(best_index(-4.5), 8); // tie between -10 and 1: the upper one
        assert_eq!(best_index(-4.6), 7);
        assert_eq!(best_index(101.0), 15); // tie between 89 and 113
        for (i, &v) in KVALUES.iter().enumerate() {
            assert_eq!(best_index(f32::from(v)), i);
        }
    }
}
