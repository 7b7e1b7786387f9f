//! ggml/GGUF 4-bit block formats (Q4_0, Q4_1, IQ4_NL, MXFP4, Q4_K, IQ4_XS, NVFP4), bit for bit
//! as ggml.

use super::boundary::run;
use super::check::{self, disjoint, reads, writes};
use super::float::{quantize_float_type, QUANTIZE_FLOAT_F32};
use super::quantize_status;
use crate::formats::{self as core_formats, blocks_len, BlockFormat};
use crate::Error;
use core::ffi::c_void;

/// A ggml/GGUF block format: one of `QUANTIZE_FORMAT_*`.
pub type quantize_block_format = u32;
/// ggml Q4_0: 32 values in 18 bytes: fp16 scale d, 16 bytes of codes; x = (q - 8) * d.
pub const QUANTIZE_FORMAT_Q4_0: quantize_block_format = 0;
/// ggml Q4_1: 32 values in 20 bytes: fp16 scale d, fp16 minimum m, 16 bytes; x = q * d + m.
pub const QUANTIZE_FORMAT_Q4_1: quantize_block_format = 1;
/// ggml IQ4_NL: 32 values in 18 bytes: fp16 scale d, 16 bytes of indices into a non-linear
/// codebook.
pub const QUANTIZE_FORMAT_IQ4_NL: quantize_block_format = 2;
/// ggml MXFP4: 32 values in 17 bytes: E8M0 scale byte, 16 bytes of E2M1 (4-bit float) codes.
pub const QUANTIZE_FORMAT_MXFP4: quantize_block_format = 3;
/// ggml Q4_K: 256 values in 144 bytes: fp16 d, fp16 dmin, 12 bytes of 6-bit sub-block scales
/// and minima (8 sub-blocks of 32), 128 bytes of codes.
pub const QUANTIZE_FORMAT_Q4_K: quantize_block_format = 4;
/// ggml IQ4_XS: 256 values in 136 bytes: fp16 d, 2 + 4 bytes of 6-bit sub-block scales, 128
/// bytes of IQ4_NL codebook indices.
pub const QUANTIZE_FORMAT_IQ4_XS: quantize_block_format = 5;
/// ggml NVFP4: 64 values in 36 bytes: 4 UE4M3 scales (one per 16 values), 32 bytes of E2M1
/// (4-bit float) codes. A sub-block with max|x| / 6 above 448 is VALUE_OUT_OF_RANGE (ggml clips it).
pub const QUANTIZE_FORMAT_NVFP4: quantize_block_format = 6;

fn format_from(v: quantize_block_format) -> crate::Result<BlockFormat> {
    BlockFormat::from_raw(v).ok_or(Error::InvalidArgument)
}

/// Values per block of `format` (32; Q4_K and IQ4_XS 256; NVFP4 64), or 0 for an unknown
/// format. Thread-safe.
#[no_mangle]
pub extern "C" fn quantize_block_elements(format: quantize_block_format) -> usize {
    BlockFormat::from_raw(format).map_or(0, BlockFormat::elements)
}

/// Bytes per block of `format` (Q4_0 18, Q4_1 20, IQ4_NL 18, MXFP4 17, Q4_K 144, IQ4_XS 136,
/// NVFP4 36), or 0 for an unknown format. n values take n / quantize_block_elements(format) * quantize_block_bytes(format)
/// bytes. Thread-safe.
#[no_mangle]
pub extern "C" fn quantize_block_bytes(format: quantize_block_format) -> usize {
    BlockFormat::from_raw(format).map_or(0, BlockFormat::bytes)
}

/// Quantizes n floats to ggml/GGUF blocks, byte for byte what ggml's ggml_quantize_chunk
/// writes without an importance matrix (IQ4_NL: with its scale search). Within a block, byte j
/// of the codes holds element j in its low nibble and element j + 16 in its high nibble.
///
/// - `format`: one of QUANTIZE_FORMAT_*.
/// - `src`: n floats (4-byte aligned; NULL only if n is 0); n a multiple of
///   quantize_block_elements(format).
/// - `dst`, `dst_len`: at least n / quantize_block_elements(format) *
///   quantize_block_bytes(format) bytes; bytes past that are never written.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown format, n too large), NULL_POINTER,
/// MISALIGNED (src), LENGTH (n not a whole number of blocks), BUFFER_TOO_SMALL, OVERLAP, then
/// for the first bad block NON_FINITE (a NaN or infinite element) or VALUE_OUT_OF_RANGE (the
/// block's fp16 scale or minimum, as ggml computes it, would not be finite: ggml would store inf
/// or NaN; NVFP4: a sub-block scale above 448); within a block a non-finite element comes first. An MXFP4 block with
/// 0 < max|x| < 2^-125 gets scale byte 0 (ggml's result is undefined there). On an argument
/// error nothing is written; on bad data the blocks before the bad one may have been written,
/// never any after it. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// `src` must be valid for n elements, `dst` for dst_len bytes.
#[no_mangle]
pub unsafe extern "C" fn quantize_blocks(
    format: quantize_block_format,
    src: *const f32,
    n: usize,
    dst: *mut u8,
    dst_len: usize,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe { quantize_blocks_from(format, QUANTIZE_FLOAT_F32, src.cast(), n, dst, dst_len) }
}

/// quantize_blocks from float32, float16 or bfloat16 values: `src` holds n values of type
/// `src_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types). The result is bit
/// for bit what quantize_blocks returns on the values widened to float32; every other parameter, status
/// and rule is quantize_blocks's. An unknown `src_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_blocks, with `src` valid for n elements of `src_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_blocks_from(
    format: quantize_block_format,
    src_type: quantize_float_type,
    src: *const c_void,
    n: usize,
    dst: *mut u8,
    dst_len: usize,
) -> quantize_status {
    run(|| {
        let t = check::float_type(src_type)?;
        let format = format_from(format)?;
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(dst, dst_len)?;
        check::aligned_of(src, t)?;
        let need = blocks_len(format, n)?;
        if dst_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[check::reads_of(src, t, n), writes(dst, need)])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input_floats(t, src, n), check::output(dst, need)) };
        core_formats::quantize_blocks_from_uninit(format, src, out)
    })
}

/// Dequantizes ggml/GGUF blocks to n floats, bit for bit what ggml's dequantize_row_* gives
/// (one rounding per value; Q4_1 rounds the product and the sum separately).
///
/// - `format`: one of QUANTIZE_FORMAT_*.
/// - `src`, `src_len`: at least n / quantize_block_elements(format) *
///   quantize_block_bytes(format) bytes; the rest is ignored.
/// - `dst`: n floats (4-byte aligned); n a multiple of quantize_block_elements(format).
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown format, n too large), NULL_POINTER,
/// MISALIGNED (dst), LENGTH (n not a whole number of blocks), BUFFER_TOO_SMALL, OVERLAP, then
/// NON_FINITE for the first block whose fp16 scale or minimum is infinite or NaN, or whose E8M0
/// byte is 0xFF (blocks ggml's own ggml_validate_row_data rejects); NVFP4 accepts every byte. Other values are accepted;
/// MXFP4 scale bytes 0xFD and 0xFE with the largest codes give +-infinity (the formula's float
/// value). On an argument error nothing is written; on bad data the blocks before the bad one
/// may have been written, never any after it. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// `src` must be valid for src_len bytes, `dst` for n elements.
#[no_mangle]
pub unsafe extern "C" fn dequantize_blocks(
    format: quantize_block_format,
    src: *const u8,
    src_len: usize,
    dst: *mut f32,
    n: usize,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe { dequantize_blocks_into(format, src, src_len, QUANTIZE_FLOAT_F32, dst.cast(), n) }
}

/// dequantize_blocks into float32, float16 or bfloat16 values: `dst` receives n values of type
/// `dst_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types), each the float32
/// result rounded once to nearest, ties to even (a float16 overflow gives +-infinity). Every
/// other parameter, status and rule is dequantize_blocks's. An unknown `dst_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for dequantize_blocks, with `dst` valid for n elements of `dst_type`.
#[no_mangle]
pub unsafe extern "C" fn dequantize_blocks_into(
    format: quantize_block_format,
    src: *const u8,
    src_len: usize,
    dst_type: quantize_float_type,
    dst: *mut c_void,
    n: usize,
) -> quantize_status {
    run(|| {
        let t = check::float_type(dst_type)?;
        let format = format_from(format)?;
        check::count_of(t, n)?;
        check::non_null(src, src_len)?;
        check::non_null(dst, n)?;
        check::aligned_of(dst, t)?;
        let need = blocks_len(format, n)?;
        if src_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[reads(src, need), check::writes_of(dst, t, n)])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input(src, need), check::output_floats(t, dst, n)) };
        core_formats::dequantize_blocks_into_uninit(format, src, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_contract_values() {
        // docs/contract.md §3.3, written out independently of the Rust enum.
        assert_eq!(
            [
                QUANTIZE_FORMAT_Q4_0,
                QUANTIZE_FORMAT_Q4_1,
                QUANTIZE_FORMAT_IQ4_NL,
                QUANTIZE_FORMAT_MXFP4,
                QUANTIZE_FORMAT_Q4_K,
                QUANTIZE_FORMAT_IQ4_XS,
                QUANTIZE_FORMAT_NVFP4,
            ],
            [0, 1, 2, 3, 4, 5, 6]
        );
        for (c, f) in [
            (QUANTIZE_FORMAT_Q4_0, BlockFormat::Q4_0),
            (QUANTIZE_FORMAT_Q4_1, BlockFormat::Q4_1),
            (QUANTIZE_FORMAT_IQ4_NL, BlockFormat::Iq4Nl),
            (QUANTIZE_FORMAT_MXFP4, BlockFormat::Mxfp4),
            (QUANTIZE_FORMAT_Q4_K, BlockFormat::Q4K),
            (QUANTIZE_FORMAT_IQ4_XS, BlockFormat::Iq4Xs),
            (QUANTIZE_FORMAT_NVFP4, BlockFormat::Nvfp4),
        ] {
            assert_eq!(format_from(c), Ok(f));
        }
        for bad in [7, 99, 0x8000_0000, u32::MAX] {
            assert_eq!(format_from(bad), Err(Error::InvalidArgument));
        }
    }
}
