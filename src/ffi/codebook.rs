//! 4-bit float codebooks (NF4, FP4) with block absmax scales, in bitsandbytes' layout.

use super::boundary::run;
use super::check::{self, disjoint, reads, writes};
use super::float::{quantize_float_type, QUANTIZE_FLOAT_F32};
use super::quantize_status;
use crate::codebook::{self as core_codebook, check_block_size, Codebook};
use crate::codebook::{absmax_len as absmax_needed, codes_len as codes_needed};
use crate::Error;
use core::ffi::c_void;

/// A 4-bit codebook: one of `QUANTIZE_CODEBOOK_*`.
pub type quantize_codebook = u32;
/// bitsandbytes' NF4 (4-bit NormalFloat of QLoRA): 16 normal quantiles in [-1, 1], exact zero.
pub const QUANTIZE_CODEBOOK_NF4: quantize_codebook = 0;
/// bitsandbytes' FP4: a sign bit and the magnitudes 0, 1/192, 1/6, 1/4, 1/3, 1/2, 2/3, 1.
pub const QUANTIZE_CODEBOOK_FP4: quantize_codebook = 1;

fn codebook_from(v: quantize_codebook) -> crate::Result<Codebook> {
    Codebook::from_raw(v).ok_or(Error::InvalidArgument)
}

/// Quantizes n floats to a 4-bit codebook with one absmax scale per block of block_size
/// elements (the last block may be partial), exactly as bitsandbytes' quantize_4bit:
/// code = the table entry nearest x * (1 / absmax), by bitsandbytes' decision thresholds.
/// Codes are one packed stream, the FIRST element of each pair in the HIGH nibble (bitsandbytes'
/// order, unlike pack_int4_to_int8); an odd n pads the last low nibble with the code of 0.0.
///
/// - `codebook`: QUANTIZE_CODEBOOK_NF4 or QUANTIZE_CODEBOOK_FP4.
/// - `src`: n floats (4-byte aligned; NULL only if n is 0).
/// - `block_size`: a power of two from 32 to 4096.
/// - `codes`, `codes_len`: at least QUANTIZE_PACKED_LEN(n) bytes.
/// - `absmax`, `absmax_len`: at least QUANTIZE_GROUP_COUNT(n, block_size) floats.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown codebook, bad block size, n too large),
/// NULL_POINTER, MISALIGNED (src, absmax), BUFFER_TOO_SMALL, OVERLAP, then for the first bad
/// block NON_FINITE (a NaN or infinite element anywhere in it) or else VALUE_OUT_OF_RANGE
/// (|x| > 2^126). On an argument error nothing is written; on bad data the blocks before the
/// bad one may have been written, never any after it. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for its stated length (src: n elements).
#[no_mangle]
pub unsafe extern "C" fn quantize_codebook_blocks(
    codebook: quantize_codebook,
    src: *const f32,
    n: usize,
    block_size: usize,
    codes: *mut u8,
    codes_len: usize,
    absmax: *mut f32,
    absmax_len: usize,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        quantize_codebook_blocks_from(
            codebook,
            QUANTIZE_FLOAT_F32,
            src.cast(),
            n,
            block_size,
            codes,
            codes_len,
            absmax,
            absmax_len,
        )
    }
}

/// quantize_codebook_blocks from float32, float16 or bfloat16 values: `src` holds n values of type
/// `src_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types). The result is bit
/// for bit what quantize_codebook_blocks returns on the values widened to float32; every other parameter, status
/// and rule is quantize_codebook_blocks's. An unknown `src_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_codebook_blocks, with `src` valid for n elements of `src_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_codebook_blocks_from(
    codebook: quantize_codebook,
    src_type: quantize_float_type,
    src: *const c_void,
    n: usize,
    block_size: usize,
    codes: *mut u8,
    codes_len: usize,
    absmax: *mut f32,
    absmax_len: usize,
) -> quantize_status {
    run(|| {
        let t = check::float_type(src_type)?;
        let book = codebook_from(codebook)?;
        check_block_size(block_size)?;
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(codes, codes_len)?;
        check::non_null(absmax, absmax_len)?;
        check::aligned_of(src, t)?;
        check::aligned(absmax)?;
        let (need_codes, need_absmax) = (codes_needed(n), absmax_needed(n, block_size));
        if codes_len < need_codes || absmax_len < need_absmax {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[
            check::reads_of(src, t, n),
            writes(codes, need_codes),
            writes(absmax, need_absmax),
        ])?;
        // SAFETY: pointers and lengths checked above.
        let (src, codes, absmax) = unsafe {
            (
                check::input_floats(t, src, n),
                check::output(codes, need_codes),
                check::output(absmax, need_absmax),
            )
        };
        core_codebook::quantize_codebook_from_uninit(book, src, block_size, codes, absmax)
    })
}

/// Dequantizes n values of a 4-bit codebook (the layout of quantize_codebook_blocks):
/// `dst[i] = table[code[i]] * absmax[i / block_size]`, one rounding.
///
/// - `codes`, `codes_len`: at least QUANTIZE_PACKED_LEN(n) bytes (any byte values are valid).
/// - `block_size`: a power of two from 32 to 4096.
/// - `absmax`, `absmax_len`: at least QUANTIZE_GROUP_COUNT(n, block_size) finite floats (negative
///   ones are accepted and negate the block).
/// - `dst`: n floats (4-byte aligned).
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown codebook, bad block size, n too large),
/// NULL_POINTER, MISALIGNED (absmax, dst), BUFFER_TOO_SMALL, OVERLAP, NON_FINITE (a NaN or
/// infinite absmax; blocks before it may have been written, never any after it). n = 0 is
/// QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for its stated length (dst: n elements).
#[no_mangle]
pub unsafe extern "C" fn dequantize_codebook_blocks(
    codebook: quantize_codebook,
    codes: *const u8,
    codes_len: usize,
    n: usize,
    block_size: usize,
    absmax: *const f32,
    absmax_len: usize,
    dst: *mut f32,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        dequantize_codebook_blocks_into(
            codebook,
            codes,
            codes_len,
            n,
            block_size,
            absmax,
            absmax_len,
            QUANTIZE_FLOAT_F32,
            dst.cast(),
        )
    }
}

/// dequantize_codebook_blocks into float32, float16 or bfloat16 values: `dst` receives n values of type
/// `dst_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types), each the float32
/// result rounded once to nearest, ties to even (a float16 overflow gives +-infinity). Every
/// other parameter, status and rule is dequantize_codebook_blocks's. An unknown `dst_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for dequantize_codebook_blocks, with `dst` valid for n elements of `dst_type`.
#[no_mangle]
pub unsafe extern "C" fn dequantize_codebook_blocks_into(
    codebook: quantize_codebook,
    codes: *const u8,
    codes_len: usize,
    n: usize,
    block_size: usize,
    absmax: *const f32,
    absmax_len: usize,
    dst_type: quantize_float_type,
    dst: *mut c_void,
) -> quantize_status {
    run(|| {
        let t = check::float_type(dst_type)?;
        let book = codebook_from(codebook)?;
        check_block_size(block_size)?;
        check::count_of(t, n)?;
        check::non_null(codes, codes_len)?;
        check::non_null(absmax, absmax_len)?;
        check::non_null(dst, n)?;
        check::aligned(absmax)?;
        check::aligned_of(dst, t)?;
        let (need_codes, need_absmax) = (codes_needed(n), absmax_needed(n, block_size));
        if codes_len < need_codes || absmax_len < need_absmax {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[
            reads(codes, need_codes),
            reads(absmax, need_absmax),
            check::writes_of(dst, t, n),
        ])?;
        // SAFETY: pointers and lengths checked above.
        let (codes, absmax, dst) = unsafe {
            (
                check::input(codes, need_codes),
                check::input(absmax, need_absmax),
                check::output_floats(t, dst, n),
            )
        };
        core_codebook::dequantize_codebook_into_uninit(book, codes, block_size, absmax, dst)
    })
}
