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
