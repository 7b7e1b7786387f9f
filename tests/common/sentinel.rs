//! Sentinel values: outputs are filled with them before a call, and whatever must not be
//! written must still hold them after it.

/// A byte no successful call is likely to leave everywhere (codes, blocks, packed bytes).
pub const BYTE: u8 = 0xA5;
/// An int8 that is not a valid int4 code (90).
pub const I8: i8 = 0x5A;
/// A finite float no call produces in these tests.
pub const F32: f32 = -12345.5;
/// A NaN bit pattern no dequantizer produces: marks floats that must stay untouched.
pub const F32_NAN_BITS: u32 = 0x7fc0_1234;

/// `n` floats holding [`F32_NAN_BITS`].
pub fn nan_f32s(n: usize) -> Vec<f32> {
    vec![f32::from_bits(F32_NAN_BITS); n]
}

/// A pointer one byte past `p` when `p` is aligned to `align`, else `p`: never `align`-aligned
/// (for `align` > 1), and within one byte of `p`.
pub fn misaligned<T>(p: *mut u8, align: usize) -> *mut T {
    let off = usize::from((p as usize).is_multiple_of(align));
    p.wrapping_add(off).cast()
}
