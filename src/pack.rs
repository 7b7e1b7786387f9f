//! Two int4 codes per byte, the ONNX int4 layout: element `2i` in the low nibble of byte `i`,
//! element `2i+1` in the high nibble, two's complement; an odd count pads the last high nibble
//! with 0.

use crate::kernels;
use crate::out::uninit;
use crate::{Error, Result};
use core::mem::MaybeUninit;

/// Bytes that `n` packed codes take: `ceil(n / 2)`, without overflow.
pub const fn packed_len(n: usize) -> usize {
    n / 2 + n % 2
}

/// Packs `src` (n = `src.len()` codes in -8..7) into `dst[..packed_len(n)]`.
///
/// Errors: `BufferTooSmall`, then `ValueOutOfRange` (a code outside -8..7). `dst` is untouched on
/// error.
pub fn pack_int4_to_int8(src: &[i8], dst: &mut [u8]) -> Result<()> {
    pack_int4_to_int8_uninit(src, uninit(dst))
}

/// [`pack_int4_to_int8`] into possibly uninitialised memory.
pub fn pack_int4_to_int8_uninit(src: &[i8], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    let dst = dst
        .get_mut(..packed_len(src.len()))
        .ok_or(Error::BufferTooSmall)?;
    let k = kernels::active();
    if (k.find_invalid_code)(src).is_some() {
        return Err(Error::ValueOutOfRange);
    }
    (k.pack)(src, dst);
    Ok(())
}

/// Unpacks `dst.len()` codes (sign-extended) from `src[..packed_len(n)]`. The padding nibble of
/// an odd count is ignored. Errors: `BufferTooSmall`.
pub fn unpack_int8_to_int4(src: &[u8], dst: &mut [i8]) -> Result<()> {
    unpack_int8_to_int4_uninit(src, uninit(dst))
}

/// [`unpack_int8_to_int4`] into possibly uninitialised memory.
pub fn unpack_int8_to_int4_uninit(src: &[u8], dst: &mut [MaybeUninit<i8>]) -> Result<()> {
    let src = src
        .get(..packed_len(dst.len()))
        .ok_or(Error::BufferTooSmall)?;
    (kernels::active().unpack)(src, dst);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_len_is_ceil_half_without_overflow() {
        assert_eq!(packed_len(0), 0);
        assert_eq!(packed_len(1), 1);
        assert_eq!(packed_len(2), 1);
        assert_eq!(packed_len(7), 4);
        assert_eq!(packed_len(usize::MAX), usize::MAX / 2 + 1);
    }

    #[test]
    fn odd_count_pads_high_nibble_with_zero_and_leaves_the_rest() {
        let mut out = [0xAA; 3];
        pack_int4_to_int8(&[-1, 7, -8], &mut out).unwrap();
        assert_eq!(out, [0x7F, 0x08, 0xAA]);
        let mut codes = [5i8; 4];
        unpack_int8_to_int4(&[0x7F, 0xF8], &mut codes[..3]).unwrap();
        assert_eq!(codes, [-1, 7, -8, 5]);
    }

    #[test]
    fn bad_code_leaves_output_untouched() {
        let mut out = [0xAA; 2];
        assert_eq!(
            pack_int4_to_int8(&[1, 2, 8], &mut out),
            Err(Error::ValueOutOfRange)
        );
        assert_eq!(
            pack_int4_to_int8(&[1, 2, 8], &mut out[..1]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(out, [0xAA; 2]);
    }
}
