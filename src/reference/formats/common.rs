//! Pieces shared by the block formats.

use crate::{Error, Result};

/// Elements per block, for every format here (ggml's `QK4_0`, `QK4_1`, `QK4_NL`, `QK_MXFP4`).
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

/// The bits of +infinity: an element's magnitude bits (sign cleared) are at least this exactly
/// when it is NaN or infinite.
pub(crate) const INF_BITS: u32 = 0x7f80_0000;

/// The largest magnitude of `x` as bits, sign cleared: `>= INF_BITS` when some element is NaN or
/// infinite, else the bits of `max |x|`. Non-negative floats order as their bits do, so this is
/// one integer max reduction, which LLVM vectorises (a float comparison chain with an early exit
/// it does not).
#[inline]
pub(crate) fn max_abs_bits(x: &[f32]) -> u32 {
    // As i32: the values are below 2^31, and SSE2 compares signed 32-bit integers only.
    x.iter()
        .fold(0i32, |m, v| m.max((v.to_bits() & 0x7fff_ffff) as i32)) as u32
}

/// The little-endian fp16 field at `at` (ggml's blocks are little-endian on every platform
/// ggml writes GGUF files on, and GGUF is little-endian by definition).
#[inline]
pub(crate) fn read_f16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The 4-bit code ggml's Q4_0 and Q4_1 reference quantizers store for `v` (already offset by
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
    let i = if (-2_147_483_648.0..2_147_483_648.0).contains(&v) {
        v as i32 // truncation toward zero, in range
    } else {
        i32::MIN // NaN, ±inf, out of range
    };
    let t = i as i8; // (int8_t): the low byte
    let m = i32::from(t).min(15); // MIN(15, ...)
    m as u8 // (uint8_t): modulo 256
}

/// [`c_float_to_u8_code`] of every element: one range check for the block, then a loop LLVM
/// vectorises (the per-element branch of the general conversion stops it). The quantizers'
/// values are always in range but for the degenerate scales the conversion's doc names.
#[inline]
pub(crate) fn c_float_to_u8_codes<const N: usize>(v: &[f32; N]) -> [u8; N] {
    // An all-ones mask per element (what a vector compare gives), ANDed over the block.
    let in_range = v.iter().fold(-1i32, |ok, &v| {
        ok & -i32::from((-2_147_483_648.0..2_147_483_648.0).contains(&v))
    });
    let mut out = [0u8; N];
    if in_range != 0 {
        for (o, &v) in out.iter_mut().zip(v) {
            // SAFETY: `in_range` says every v is in [-2^31, 2^31), so its truncation fits i32
            // (a saturating `as` would not vectorise on SSE2).
            let i: i32 = unsafe { v.to_int_unchecked() };
            // As c_float_to_u8_code: the low byte, MIN(15, ...).
            *o = i32::from(i as i8).min(15) as u8;
        }
    } else {
        for (o, &v) in out.iter_mut().zip(v) {
            *o = c_float_to_u8_code(v);
        }
    }
    out
}

/// The first element of `x` whose magnitude bits (sign cleared) are `abs_bits`, or +0.0 when
/// `abs_bits` is 0 (as ggml's search from `amax = 0` with strict comparisons keeps its initial
/// 0.0) or no element has them.
///
/// Only that element's sign is unknown, and it depends on the order only when both signs occur:
/// two OR reductions (which LLVM vectorises) say which signs do, and only a block holding both
/// `+m` and `-m` is searched in element order (a search loop in every block would exit at an
/// unpredictable place).
#[inline]
pub(crate) fn first_with_abs_bits(x: &[f32], abs_bits: u32) -> f32 {
    // All-ones masks (what a vector compare gives), so the reductions stay in vector registers.
    let (mut pos, mut neg) = (0i32, 0i32);
    for v in x {
        pos |= -i32::from(v.to_bits() == abs_bits);
        neg |= -i32::from(v.to_bits() == abs_bits | 0x8000_0000);
    }
    match (abs_bits, pos, neg) {
        (0, _, _) | (_, 0, 0) => 0.0,
        (_, _, 0) => f32::from_bits(abs_bits),
        (_, 0, _) => f32::from_bits(abs_bits | 0x8000_0000),
        _ => x
            .iter()
            .copied()
            .find(|v| v.to_bits() & 0x7fff_ffff == abs_bits)
            .unwrap_or(0.0),
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
