//! IEEE 754 binary16 ("fp16", ggml's `ggml_half`) to and from binary32, in software.
//!
//! Both directions are exact integer manipulations of the bit patterns, the same on every target:
//! - [`f16_to_f32`] is exact for every one of the 65536 encodings (every binary16 value, normal
//!   or subnormal, is a binary32 value); infinities stay infinities and NaNs stay NaNs (payload
//!   shifted into the high mantissa bits, quiet bit set).
//! - [`f32_to_f16`] rounds to nearest, ties to even, like `_cvtss_sh(x, 0)`, ARM's `__fp16`
//!   conversion and ggml's portable fallback: results below half the smallest subnormal become
//!   ±0, results at or above 65520 (the midpoint between 65504, the largest finite binary16, and
//!   65536) become ±infinity, NaN becomes a quiet NaN with the input's sign.

/// Sign bit of a binary16 encoding.
const SIGN: u16 = 0x8000;
/// Exponent field of a binary16 encoding (all ones: infinity or NaN).
const EXP_MASK: u16 = 0x7c00;

/// True when the binary16 encoding `h` is a finite value (not infinity, not NaN).
#[inline]
pub(crate) fn f16_is_finite(h: u16) -> bool {
    h & EXP_MASK != EXP_MASK
}

/// The binary32 value of the binary16 encoding `h` (exact).
#[inline]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & SIGN) << 16;
    let exp = u32::from((h & EXP_MASK) >> 10);
    let mant = u32::from(h & 0x03ff);
    let bits = if exp == 0x1f {
        // Infinity (mant == 0) or NaN (mant != 0, forced quiet).
        let quiet = if mant != 0 { 0x0040_0000 } else { 0 };
        sign | 0x7f80_0000 | quiet | (mant << 13)
    } else if exp != 0 {
        // Normal: rebias the exponent from 15 to 127.
        sign | ((exp + (127 - 15)) << 23) | (mant << 13)
    } else if mant == 0 {
        sign
    } else {
        // Subnormal: mant * 2^-24. Normalise: shift the leading one up to bit 10.
        let shift = mant.leading_zeros() - 21; // 1..=10, leading one of mant lands on bit 10
        let m = (mant << shift) & 0x03ff;
        let e = 127 - 15 + 1 - shift; // exponent of 2^(-14 - shift), biased
        sign | (e << 23) | (m << 13)
    };
    f32::from_bits(bits)
}

/// The binary16 encoding nearest to `x`, ties to even (overflow to ±infinity, NaN to quiet NaN).
#[inline]
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let abs = bits & 0x7fff_ffff;
    if abs > 0x7f80_0000 {
        // NaN: quiet, keep the top payload bits.
        return sign | EXP_MASK | 0x0200 | ((abs >> 13) & 0x03ff) as u16;
    }
    if abs >= 0x477f_f000 {
        // |x| >= 65520 (or infinity): rounds to infinity.
        return sign | EXP_MASK;
    }
    let exp = (abs >> 23) as i32 - 127; // unbiased exponent of x (-127 for zero and subnormals)
    if exp >= -14 {
        // Normal binary16 result (possibly rounding up into the next binade; the threshold
        // above keeps it finite).
        let mant = abs & 0x007f_ffff;
        let h = (((exp + 15) as u32) << 10) | (mant >> 13);
        let rest = mant & 0x1fff;
        let up = rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1);
        return sign | (h + u32::from(up)) as u16;
    }
    if exp < -25 {
        // |x| < 2^-25, half the smallest subnormal: rounds to zero (f32 subnormals included).
        return sign;
    }
    // Subnormal binary16 result: count units of 2^-24. x = m * 2^(exp - 23) with a 24-bit m,
    // so the count is m >> s with s = -(exp + 1), 14..=24.
    let m = (abs & 0x007f_ffff) | 0x0080_0000;
    let s = (-(exp + 1)) as u32;
    let h = m >> s;
    let rest = m & ((1u32 << s) - 1);
    let half = 1u32 << (s - 1);
    let up = rest > half || (rest == half && (h & 1) == 1);
    // A carry out of the subnormal range yields 0x0400, the smallest normal: still correct.
    sign | (h + u32::from(up)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2^e in f64, from its bits (exact; no libm, which Miri perturbs).
    fn p2(e: i32) -> f64 {
        f64::from_bits(((1023 + e) as u64) << 52)
    }

    /// The value of a binary16 encoding computed independently, from the definition, in f64.
    fn reference_value(h: u16) -> f64 {
        let s = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let e = i32::from((h >> 10) & 0x1f);
        let m = f64::from(h & 0x3ff);
        if e == 0 {
            s * m * p2(-24)
        } else {
            s * (1.0 + m / 1024.0) * p2(e - 15)
        }
    }

    #[test]
    fn every_f16_converts_exactly_and_round_trips() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            let exp = (h >> 10) & 0x1f;
            if exp == 0x1f {
                if h & 0x3ff == 0 {
                    assert!(f.is_infinite(), "{h:#06x}");
                    assert_eq!(f.is_sign_negative(), h & 0x8000 != 0);
                    assert_eq!(f32_to_f16(f), h);
                } else {
                    assert!(f.is_nan(), "{h:#06x}");
                    assert_eq!(f.is_sign_negative(), h & 0x8000 != 0);
                    let back = f32_to_f16(f);
                    assert_eq!(back & 0x7c00, 0x7c00);
                    assert_ne!(back & 0x3ff, 0, "NaN must stay NaN");
                    assert_eq!(back & 0x8000, h & 0x8000);
                }
                continue;
            }
            assert_eq!(f64::from(f), reference_value(h), "{h:#06x}");
            assert_eq!(f.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
            assert_eq!(f32_to_f16(f), h, "round trip of {h:#06x}");
        }
    }

    /// Every rounding decision: for each pair of adjacent finite binary16 values (and the pair
    /// 65504 / 65536 that decides overflow), the midpoint is exact in f32, so check the midpoint
    /// and its two f32 neighbours.
    #[test]
    fn midpoints_round_to_nearest_even() {
        for h in 0u16..0x7c00 {
            let lo = f64::from(f16_to_f32(h));
            let hi = if h == 0x7bff {
                65536.0
            } else {
                f64::from(f16_to_f32(h + 1))
            };
            let mid = ((lo + hi) / 2.0) as f32;
            assert_eq!(f64::from(mid), (lo + hi) / 2.0, "midpoint exact");
            let even = if h & 1 == 0 { h } else { h + 1 };
            for sign in [0u16, 0x8000] {
                let sgn = if sign == 0 { 1.0f32 } else { -1.0f32 };
                let m = sgn * mid;
                assert_eq!(f32_to_f16(m), sign | even, "midpoint above {h:#06x}");
                let below = f32::from_bits(m.to_bits() - 1);
                let above = f32::from_bits(m.to_bits() + 1);
                assert_eq!(
                    f32_to_f16(below),
                    sign | h,
                    "just below midpoint above {h:#06x}"
                );
                assert_eq!(
                    f32_to_f16(above),
                    sign | (h + 1),
                    "just above midpoint above {h:#06x}"
                );
            }
        }
    }

    #[test]
    fn known_cases() {
        let p2 = |e: i32| f32::from_bits(((127 + e) as u32) << 23); // 2^e, normal f32
        let next_up = |x: f32| f32::from_bits(x.to_bits() + 1);
        let cases: [(f32, u16); 22] = [
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (0.5, 0x3800),
            (0.1, 0x2e66),
            (1.0 / 3.0, 0x3555),
            (65504.0, 0x7bff),
            (65520.0 - 1.0 / 256.0, 0x7bff), // largest f32 below the overflow midpoint
            (65520.0, 0x7c00),               // the midpoint: ties to even is 65536, i.e. inf
            (-65520.0, 0xfc00),
            (1.0e10, 0x7c00),
            (f32::MAX, 0x7c00),
            (f32::INFINITY, 0x7c00),
            (f32::NEG_INFINITY, 0xfc00),
            (p2(-14), 0x0400),          // smallest normal
            (p2(-24), 0x0001),          // smallest subnormal
            (p2(-25), 0x0000),          // half of it: a tie, to even (zero)
            (next_up(p2(-25)), 0x0001), // just above the tie
            (1.5 * p2(-24), 0x0002),    // tie between 1 and 2 units: to even (2)
            (1.0e-40, 0x0000),          // f32 subnormal
            (-f32::MIN_POSITIVE, 0x8000),
        ];
        for (x, h) in cases {
            assert_eq!(f32_to_f16(x), h, "{x:e}");
        }
        assert_eq!(f16_to_f32(0x0001), p2(-24)); // the local binary32 2^e
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * p2(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f32_to_f16(f32::NAN) & 0x7e00, 0x7e00);
        assert!(f16_is_finite(0x7bff) && !f16_is_finite(0x7c00) && !f16_is_finite(0xfe00));
    }
}
