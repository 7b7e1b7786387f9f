//! MXFP4: 32 values in 17 bytes: one E8M0 scale byte `e`, then 16 bytes of E2M1 (4-bit float) codes
//! (`x ≈ E2M1[q] * 2^(e - 127)`).
//!
//! ggml stores the E2M1 values doubled (`kvalues_mxfp4`, integers) and halves the scale
//! (`GGML_E8M0_TO_FP32_HALF(e) = 2^(e - 128)`), which gives the same products. As ggml's
//! `quantize_row_mxfp4_ref`: `e = floor(log2f(amax)) - 2 + 127` with the float logarithm (so an
//! amax just below a power of two whose float log2 rounds up to the integer gets the larger
//! exponent; we find which ones from the bits, see [`floor_log2f`], not from a libm call), and
//! each code is the first entry of least `|kvalues[i] * d - x|`, the product and the difference
//! rounded as ggml rounds them.

use super::common::{check_finite, QK};
use super::e2m1::{best_index, KVALUES};
use crate::{Error, Result};

/// Bytes per block.
pub(crate) const BYTES: usize = 17;

/// The format's description (see [`super::Spec`]).
pub(crate) const SPEC: super::Spec = super::Spec {
    name: "mxfp4",
    elements: QK,
    bytes: BYTES,
    quantize: |src, dst| super::quantize_each(src, dst, quantize_block),
    dequantize: |src, dst| super::dequantize_each(src, dst, dequantize_block),
};

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

/// How many binary32 values just below 2^k have a logarithm that rounds to nearest (as glibc's
/// `log2f` does) up to the integer k, for k in -125..=128.
///
/// For x = 2^k (1 - m 2^-24), the m-th float below 2^k, log2(x) = k + log2(1 - m 2^-24). Half
/// the spacing of binary32 values just below k is 2^-j with 2^-j = 2^(e-24), e = floor(log2 |k|),
/// or 2^(e-25) when k is a positive power of two (the spacing halves below a power of two); so
/// log2f(x) = k exactly when -log2(1 - m 2^-24) < 2^-j, that is when
/// m < 2^24 (1 - 2^(-2^-j)) ≈ 2^(24-j) ln 2: 44.4, 22.2, 11.1, 5.5, 2.8, 1.4, 0.7, 0.3 for
/// j = 18..=25, none close to an integer. (Checked against glibc on every such float in the
/// tests; 7404 floats round up in all.)
fn floats_rounding_up_to(k: i32) -> u32 {
    if k == 0 {
        return 0; // log2 of x just below 1 is a tiny negative number, exact enough in binary32
    }
    let a = k.unsigned_abs();
    let e = 31 - a.leading_zeros(); // floor(log2 |k|), 0..=7
    let j = if k > 0 && a.is_power_of_two() {
        25 - e
    } else {
        24 - e
    };
    match j {
        18 => 44,
        19 => 22,
        20 => 11,
        21 => 5,
        22 => 2,
        23 => 1,
        _ => 0, // 24, 25
    }
}

/// `floor(log2f(x))` for a positive normal binary32 `x`, where `log2f` rounds the exact
/// logarithm to nearest (glibc's does, for every input where it matters here): the exponent of
/// x, plus one when x is among the floats just below the next power of two whose logarithm
/// rounds up to it. Integer-only, so identical on every platform and under Miri.
#[inline]
pub(crate) fn floor_log2f(x: f32) -> i32 {
    let bits = x.to_bits();
    let e = ((bits >> 23) & 0xff) as i32 - 127; // x in [2^e, 2^(e+1))
    let k = e + 1;
    let next_power = ((k + 127) as u32) << 23; // bit pattern of 2^k (of +inf for k = 128)
    if bits >= next_power - floats_rounding_up_to(k) {
        k
    } else {
        e
    }
}

/// The scale byte ggml stores for a block whose largest magnitude is `amax` (finite, >= 0):
/// `floor(log2f(amax)) - 2 + 127`.
#[inline]
pub(crate) fn scale_byte(amax: f32) -> u8 {
    if amax < TINY {
        // amax == 0 (ggml: 0), or 0 < amax < 2^-125 (ggml: undefined; our contract: 0).
        return 0;
    }
    // floor(log2f(amax)) is -125..=128 here, so the byte is 0..=253.
    (floor_log2f(amax) - 2 + 127) as u8
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

    /// 2^e as a normal binary32, built from its bits (exact everywhere, Miri included).
    fn pow2(e: i32) -> f32 {
        f32::from_bits(((127 + e) as u32) << 23)
    }

    #[test]
    fn e8m0_half_values() {
        assert_eq!(e8m0_to_f32_half(0).to_bits(), 1 << 21); // 2^-128 = 2^21 * 2^-149
        assert_eq!(e8m0_to_f32_half(1).to_bits(), 1 << 22); // 2^-127
        assert_eq!(e8m0_to_f32_half(2), pow2(-126));
        assert_eq!(e8m0_to_f32_half(127), 0.5);
        assert_eq!(e8m0_to_f32_half(128), 1.0);
        assert_eq!(e8m0_to_f32_half(254), pow2(126));
        assert_eq!(TINY, pow2(-125));
    }

    #[test]
    fn scale_byte_examples() {
        assert_eq!(scale_byte(0.0), 0);
        assert_eq!(scale_byte(1.0e-40), 0);
        assert_eq!(scale_byte(TINY), 0);
        assert_eq!(scale_byte(pow2(-124)), 1);
        assert_eq!(scale_byte(1.0), 125);
        assert_eq!(scale_byte(6.0), 127);
        assert_eq!(scale_byte(8.0), 128);
        assert_eq!(scale_byte(f32::MAX), 253); // log2f(FLT_MAX) rounds up to 128
                                               // Just below a power of two: log2f(1024 - 1 ulp) is 10.0 in float, but not for 4.
        assert_eq!(scale_byte(f32::from_bits(1024f32.to_bits() - 1)), 135);
        assert_eq!(scale_byte(f32::from_bits(4f32.to_bits() - 1)), 126);
    }

    /// The count of floats whose log2f rounds up to the next integer, from an exhaustive run of
    /// glibc's log2f over all positive normal floats (7404).
    #[test]
    fn rounding_up_count_matches_glibc_total() {
        let total: u32 = (-125..=128).map(floats_rounding_up_to).sum();
        assert_eq!(total, 7404);
    }

    /// `floor(log2f(x))` can only differ from the exponent of x just below a power of two.
    /// Compare with the platform's log2f (glibc's, which the golden vectors were made with) and
    /// with a double-precision log2 on every float within 2^12 ulps below each power of two and
    /// a few above.
    #[test]
    #[cfg_attr(miri, ignore = "libm is perturbed under Miri, and this is 1M calls")]
    fn floor_log2_matches_log2f_near_powers_of_two() {
        for k in -125i32..=128 {
            let top = ((k + 127) as u32) << 23; // 2^k (+inf for k = 128)
            for bits in top - (1 << 12)..top + 4 {
                let x = f32::from_bits(bits);
                if !x.is_finite() || x < f32::MIN_POSITIVE {
                    continue;
                }
                let ours = floor_log2f(x);
                let f64_rounded = (f64::from(x).log2() as f32).floor() as i32;
                assert_eq!(ours, f64_rounded, "x = {x:e} ({bits:#010x})");
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                assert_eq!(
                    ours,
                    x.log2().floor() as i32,
                    "glibc, x = {x:e} ({bits:#010x})"
                );
            }
        }
    }
}
