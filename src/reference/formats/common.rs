//! Pieces shared by the block formats.

use crate::{Error, Result};

/// Elements per block of the 32-value formats (ggml's `QK4_0` and its siblings).
pub(crate) const QK: usize = 32;

/// [`Error::NonFinite`] if any element of the block is NaN or infinite.
#[inline]
pub(crate) fn check_finite(x: &[f32; QK]) -> Result<()> {
    if x.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFinite)
    }
}

/// The little-endian fp16 field at `at` (ggml's blocks are little-endian on every platform
/// ggml writes GGUF files on, and GGUF is little-endian by definition).
#[inline]
pub(crate) fn read_f16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The 4-bit code ggml's reference quantizers of the linear 32-value formats store for `v` (already offset by
/// 8.5 or 0.5): `(uint8_t)MIN(15, (int8_t)v)`, wrapped to a byte as C's conversions do.
///
/// For every finite `v` these quantizers produce (within 0..17) this is `min(15, trunc(v))`.
/// The C cast from float to `int8_t` is undefined for NaN, infinities and values outside the
/// `int` range; those arise only in a block whose scale is so small that `1/d` overflows to
/// infinity (max |x| below about 2^-125, where the fp16 scale is zero anyway). There we give
/// what x86-64 builds of ggml give, scalar or vectorised: the conversion instruction's
/// "integer indefinite" value 0x8000_0000, whose low byte is 0, so the code is 0.
#[inline]
pub(crate) fn c_float_to_u8_code(v: f32) -> u8 {
    // Branch-free, so that loops of it vectorise: both candidates, then a select.
    let in_range = (-2_147_483_648.0..2_147_483_648.0).contains(&v); // false for NaN
                                                                     // Clamped into range (NaN to the lower end) so the conversion is defined for every v; in
                                                                     // range the clamp changes nothing.
    let c = if v > -2_147_483_648.0 {
        v
    } else {
        -2_147_483_648.0
    };
    let c = if c < 2_147_483_520.0 {
        c
    } else {
        2_147_483_520.0
    }; // the float below 2^31
       // SAFETY: -2^31 <= c < 2^31, so its truncation fits i32.
    let t: i32 = unsafe { c.to_int_unchecked() };
    let i = if in_range { t } else { i32::MIN }; // truncation toward zero / NaN, ±inf, out of range
    let t = i as i8; // (int8_t): the low byte
    let m = i32::from(t).min(15); // MIN(15, ...)
    m as u8 // (uint8_t): modulo 256
}

/// [`c_float_to_u8_code`] for `v` in (-1, 128), where it is `min(15, trunc(v))`: the quantizers
/// take this when a bound for the whole block shows every value is there (the usual case), a
/// clamp and a truncation per value, which LLVM vectorises to a few instructions.
#[inline]
pub(crate) fn u8_code_small(v: f32) -> u8 {
    // The clamp to [0, 15] does not change min(15, trunc(v)) on (-1, 128), and makes the
    // conversion defined for any v (NaN goes to 0).
    let c = if v < 15.0 { v } else { 15.0 };
    let c = if c > 0.0 { c } else { 0.0 };
    // SAFETY: 0 <= c <= 15.
    unsafe { c.to_int_unchecked::<i32>() as u8 }
}

/// The least and the greatest element of a block (the sign of a zero result unspecified), or
/// `None` when an element is NaN or infinite.
///
/// A tree of halves in straight-line code, which LLVM turns into `minps` / `maxps` (it does not
/// vectorise a running minimum, nor a search with an early exit). Finiteness rides along:
/// `v - v` is +0.0 for a finite `v` and NaN otherwise, and a NaN survives every later addition.
// `v - v` is meant: +0.0 for a finite v, NaN for NaN and ±inf.
#[allow(clippy::eq_op)]
// Always: merely inlined, LLVM compiled one of its callers about a quarter slower (measured).
#[inline(always)]
pub(crate) fn min_max_tree(x: &[f32; QK]) -> Option<(f32, f32)> {
    let mut lo = [0.0f32; QK / 2];
    let mut hi = [0.0f32; QK / 2];
    let mut nan = [0.0f32; QK / 2];
    for i in 0..QK / 2 {
        let (a, b) = (x[i], x[i + QK / 2]);
        lo[i] = if a < b { a } else { b };
        hi[i] = if a > b { a } else { b };
        nan[i] = (a - a) + (b - b);
    }
    let mut n = QK / 2;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            lo[i] = if lo[i] < lo[i + n] { lo[i] } else { lo[i + n] };
            hi[i] = if hi[i] > hi[i + n] { hi[i] } else { hi[i + n] };
            nan[i] += nan[i + n];
        }
    }
    if nan[0] != 0.0 {
        return None;
    }
    Some((lo[0], hi[0]))
}

/// The first element of `x` of largest magnitude, with its sign, as ggml's search with strict
/// comparisons from `amax = 0.0` finds it (+0.0 for a block of zeros), from the block's least
/// and greatest element ([`min_max_tree`]). Two equal non-zero floats have the same bits, so
/// the order matters only when both `+m` and `-m` occur: only such a block is searched element
/// by element.
#[inline]
pub(crate) fn first_largest(x: &[f32; QK], (min, max): (f32, f32)) -> f32 {
    if max == -min {
        if max == 0.0 {
            return 0.0; // only zeros
        }
        // Both signs of the largest magnitude occur (rare): the first one's.
        return x.iter().copied().find(|v| v.abs() == max).unwrap_or(0.0);
    }
    // A select, not a branch: the sign is random from block to block.
    if max > -min {
        max
    } else {
        min
    }
}

/// ggml's `nearest_int` (Q4_K, IQ4_XS): the low 23 bits of `v + 1.5 · 2^23` (float32 sum), minus 2^22.
///
/// For |v| < 2^22 that is `v` rounded half to even. Larger values (and infinities) give other
/// numbers, reproduced here exactly. NaN reaches this only as the default NaN that float
/// arithmetic makes from finite or infinite operands (`0 · ∞`), whose mantissa is 0x400000 on
/// x86-64 and ARM, so ggml gets 0; we return 0 without depending on NaN payload propagation.
#[inline]
pub(crate) fn nearest_int(v: f32) -> i32 {
    if v.is_nan() {
        return 0;
    }
    let t = v + 12_582_912.0;
    (t.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_conversion() {
        assert_eq!(c_float_to_u8_code(0.5), 0);
        assert_eq!(c_float_to_u8_code(0.999_999_94), 0);
        assert_eq!(c_float_to_u8_code(1.0), 1);
        assert_eq!(c_float_to_u8_code(8.5), 8);
        assert_eq!(c_float_to_u8_code(15.999_999), 15);
        assert_eq!(c_float_to_u8_code(16.5), 15);
        assert_eq!(c_float_to_u8_code(f32::NAN), 0);
        assert_eq!(c_float_to_u8_code(f32::INFINITY), 0);
        assert_eq!(c_float_to_u8_code(f32::NEG_INFINITY), 0);
        assert_eq!(c_float_to_u8_code(-0.5), 0);
        assert_eq!(c_float_to_u8_code(-1.5), 255);
    }
}
