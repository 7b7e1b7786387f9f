//! MXFP4: 32 values in 17 bytes: one E8M0 scale byte `e`, then 16 bytes of FP4 (E2M1) codes
//! (`x ≈ E2M1[q] * 2^(e - 127)`).
//!
//! ggml stores the E2M1 values doubled (`kvalues_mxfp4`, integers) and halves the scale
//! (`GGML_E8M0_TO_FP32_HALF(e) = 2^(e - 128)`), which gives the same products. As ggml's
//! `quantize_row_mxfp4_ref`: `e = floor(log2f(amax)) - 2 + 127` computed in float (so an amax
//! just below a power of two whose float log2 rounds up to the integer gets the larger
//! exponent), and each code is the first entry of least `|kvalues[i] * d - x|`.

use super::common::{check_finite, QK};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 17;

/// ggml's `kvalues_mxfp4`: the E2M1 values times two, indexed by the 4-bit code.
pub(crate) const KVALUES: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/// 2^-125: below it ggml's `(uint8_t)` cast of a negative exponent is undefined; we give 0.
const TINY: f32 = 2.350_988_7e-38;

/// `2^(e - 128)`, ggml's `GGML_E8M0_TO_FP32_HALF`: subnormal 2^-128 and 2^-127 for e = 0, 1.
/// (e = 255 gives 2^127, as in ggml; dequantization rejects that byte before using it.)
#[inline]
pub(crate) fn e8m0_to_f32_half(e: u8) -> f32 {
    let bits = if e < 2 {
        0x0020_0000u32 << e
    } else {
        u32::from(e - 1) << 23
    };
    f32::from_bits(bits)
}

/// `log2f(x)` as glibc returns it, for a positive normal float: the binary32 value nearest to
/// the exact logarithm. Computed in f64 and rounded once; the f64 result is accurate to far
/// better than the distance of any exact binary32 logarithm from a binary32 rounding midpoint
/// near an integer, which is all `floor` can see (checked against glibc over every input near a
/// power of two in the tests).
#[inline]
fn log2f(x: f32) -> f32 {
    f64::from(x).log2() as f32
}

/// The scale byte ggml stores for a block whose largest magnitude is `amax` (finite, >= 0).
#[inline]
pub(crate) fn scale_byte(amax: f32) -> u8 {
    if amax < TINY {
        // amax == 0 (ggml: 0), or 0 < amax < 2^-125 (ggml: undefined; our contract: 0).
        return 0;
    }
    // floor(log2f(amax)) is -125..=128 here, so the byte is 0..=253.
    let e = log2f(amax).floor() - 2.0 + 127.0;
    e as u8
}

/// Index of the first entry of least `|KVALUES[i] * d - x|` (ggml's `best_index_mxfp4`).
#[inline]
pub(crate) fn best_index(x: f32, d: f32) -> u8 {
    let mut best = 0u8;
    let mut best_err = (f32::from(KVALUES[0]) * d - x).abs();
    for (i, &k) in KVALUES.iter().enumerate().skip(1) {
        let err = (f32::from(k) * d - x).abs();
        if err < best_err {
            best = i as u8;
            best_err = err;
        }
    }
    best
}

/// Quantizes one block of 32 values (the scalar reference).
///
/// Errors: [`Error::NonFinite`] for a NaN or infinite element. Every finite block has a scale.
pub(crate) fn quantize_block(x: &[f32; QK]) -> Result<[u8; BYTES]> {
    check_finite(x)?;
    let mut amax = 0.0f32;
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
        }
    }
    let e = scale_byte(amax);
    let d = e8m0_to_f32_half(e);
    let mut out = [0u8; BYTES];
    out[0] = e;
    for j in 0..QK / 2 {
        let q0 = best_index(x[j], d);
        let q1 = best_index(x[j + QK / 2], d);
        out[1 + j] = q0 | (q1 << 4);
    }
    Ok(out)
}

/// Dequantizes one block: `y = KVALUES[q] * 2^(e - 128)`, one rounding (±inf is possible for
/// e = 253 and 254 with the largest codes: no quantizer writes such blocks).
///
/// Errors: [`Error::NonFinite`] when the scale byte is 0xFF (NaN in E8M0).
pub(crate) fn dequantize_block(b: &[u8; BYTES]) -> Result<[f32; QK]> {
    if b[0] == 0xff {
        return Err(Error::NonFinite);
    }
    let d = e8m0_to_f32_half(b[0]);
    let mut y = [0.0f32; QK];
    for j in 0..QK / 2 {
        let q = b[1 + j];
        y[j] = f32::from(KVALUES[usize::from(q & 0x0f)]) * d;
        y[j + QK / 2] = f32::from(KVALUES[usize::from(q >> 4)]) * d;
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8m0_half_values() {
        assert_eq!(e8m0_to_f32_half(0), 2f64.powi(-128) as f32);
        assert_eq!(e8m0_to_f32_half(1), 2f64.powi(-127) as f32);
        assert_eq!(e8m0_to_f32_half(2), 2f64.powi(-126) as f32);
        assert_eq!(e8m0_to_f32_half(127), 0.5);
        assert_eq!(e8m0_to_f32_half(128), 1.0);
        assert_eq!(e8m0_to_f32_half(254), 2f32.powi(126));
        assert_eq!(TINY, 2f64.powi(-125) as f32);
    }

    #[test]
    fn scale_byte_examples() {
        assert_eq!(scale_byte(0.0), 0);
        assert_eq!(scale_byte(1.0e-40), 0);
        assert_eq!(scale_byte(TINY), 0);
        assert_eq!(scale_byte(1.0), 125);
        assert_eq!(scale_byte(6.0), 127);
        assert_eq!(scale_byte(8.0), 128);
        assert_eq!(scale_byte(f32::MAX), 253); // log2f rounds up to 128
                                               // Just below a power of two: 1024 - 1 ulp has log2f == 10 exactly in float.
        assert_eq!(scale_byte(f32::from_bits(1024f32.to_bits() - 1)), 135);
        assert_eq!(scale_byte(f32::from_bits(4f32.to_bits() - 1)), 126);
    }

    /// `floor(log2f(x))` is all the quantizer uses; it can only differ from the exponent of x
    /// just below a power of two. Compare with the platform's log2f (glibc's, which the golden
    /// vectors were made with) on every float within 2^16 ulps below each power of two and a
    /// few above.
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn floor_log2_matches_glibc_near_powers_of_two() {
        let mut rounded_up = 0u32;
        for k in -124i32..=128 {
            let p = if k == 128 {
                f32::INFINITY
            } else {
                f32::from_bits(((127 + k) as u32) << 23)
            };
            let top = p.to_bits();
            for bits in top - (1 << 16)..top + 4 {
                let x = f32::from_bits(bits);
                if !x.is_finite() {
                    continue;
                }
                let ours = log2f(x).floor();
                let glibc = x.log2().floor();
                assert_eq!(ours, glibc, "x = {x:e} ({bits:#010x})");
                if ours as i32 == k {
                    rounded_up += u32::from(bits < top);
                }
            }
        }
        assert!(
            rounded_up > 1000,
            "the interesting cases were exercised ({rounded_up})"
        );
    }
}
