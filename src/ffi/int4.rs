//! The seed's four functions and their fused forms.

use super::boundary::run;
use super::check::{self, disjoint, reads, writes};
use super::float::{quantize_float_type, QUANTIZE_FLOAT_F32};
use super::{quantize_scale_method, quantize_status, scale_method};
use crate::int4::{self as core_int4, Params};
use crate::pack::{self, packed_len};
use crate::Error;
use core::ffi::c_void;

/// Quantizes n floats to int4 codes, one per int8_t in -8..7, by the per-tensor rules of the
/// README (MINMAX: asymmetric with a zero point; ABSMAX: symmetric, zero point 0).
///
/// - `src`: n floats (4-byte aligned; NULL only if n is 0).
/// - `method`: QUANTIZE_SCALE_MINMAX or QUANTIZE_SCALE_ABSMAX.
/// - `dst`: n codes (written only on success).
/// - `scale`, `zero_point`: out-pointers, never NULL, written only on success.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown method, n too large), NULL_POINTER,
/// MISALIGNED (src or scale), OVERLAP (dst, scale or zero_point share a byte with another
/// buffer), EMPTY_INPUT (n is 0), NON_FINITE or VALUE_OUT_OF_RANGE (|x| > 2^126) for the first
/// bad element. On any error nothing is written. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for the number of elements stated above.
#[no_mangle]
pub unsafe extern "C" fn quantize_to_int4(
    src: *const f32,
    n: usize,
    method: quantize_scale_method,
    dst: *mut i8,
    scale: *mut f32,
    zero_point: *mut i8,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        quantize_to_int4_from(
            QUANTIZE_FLOAT_F32,
            src.cast(),
            n,
            method,
            dst,
            scale,
            zero_point,
        )
    }
}

/// quantize_to_int4 from float32, float16 or bfloat16 values: `src` holds n values of type
/// `src_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types). The result is bit
/// for bit what quantize_to_int4 returns on the values widened to float32; every other parameter, status
/// and rule is quantize_to_int4's. An unknown `src_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_to_int4, with `src` valid for n elements of `src_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_to_int4_from(
    src_type: quantize_float_type,
    src: *const c_void,
    n: usize,
    method: quantize_scale_method,
    dst: *mut i8,
    scale: *mut f32,
    zero_point: *mut i8,
) -> quantize_status {
    run(|| {
        let t = check::float_type(src_type)?;
        let method = scale_method(method)?;
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(dst, n)?;
        check::required(scale)?;
        check::required(zero_point)?;
        check::aligned_of(src, t)?;
        check::aligned(scale)?;
        disjoint(&[
            check::reads_of(src, t, n),
            writes(dst, n),
            writes(scale, 1),
            writes(zero_point, 1),
        ])?;
        // SAFETY: pointers checked above; lengths are the caller's stated n.
        let (src, out) = unsafe { (check::input_floats(t, src, n), check::output(dst, n)) };
        let p = core_int4::quantize_to_int4_from_uninit(src, method, out)?;
        // SAFETY: required and aligned, checked above.
        unsafe {
            check::write(scale, p.scale);
            check::write(zero_point, p.zero_point);
        }
        Ok(())
    })
}

/// Dequantizes n int4 codes (one per int8_t): `dst[i] = (float)(src[i] - zero_point) * scale`,
/// one rounding.
///
/// - `src`: n codes, each in -8..7 (NULL only if n is 0).
/// - `scale`: any finite float (negative too); `zero_point`: in -8..7.
/// - `dst`: n floats (4-byte aligned), written only on success.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (n too large), NULL_POINTER, MISALIGNED (dst),
/// OVERLAP (dst shares a byte with src), VALUE_OUT_OF_RANGE (zero point), NON_FINITE (scale),
/// VALUE_OUT_OF_RANGE (a code), checked in that order. On any error nothing is written. n = 0
/// is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for n elements.
#[no_mangle]
pub unsafe extern "C" fn dequantize_from_int4(
    src: *const i8,
    n: usize,
    scale: f32,
    zero_point: i8,
    dst: *mut f32,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe { dequantize_from_int4_into(src, n, scale, zero_point, QUANTIZE_FLOAT_F32, dst.cast()) }
}

/// dequantize_from_int4 into float32, float16 or bfloat16 values: `dst` receives n values of type
/// `dst_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types), each the float32
/// result rounded once to nearest, ties to even (a float16 overflow gives +-infinity). Every
/// other parameter, status and rule is dequantize_from_int4's. An unknown `dst_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for dequantize_from_int4, with `dst` valid for n elements of `dst_type`.
#[no_mangle]
pub unsafe extern "C" fn dequantize_from_int4_into(
    src: *const i8,
    n: usize,
    scale: f32,
    zero_point: i8,
    dst_type: quantize_float_type,
    dst: *mut c_void,
) -> quantize_status {
    run(|| {
        let t = check::float_type(dst_type)?;
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(dst, n)?;
        check::aligned_of(dst, t)?;
        disjoint(&[reads(src, n), check::writes_of(dst, t, n)])?;
        // SAFETY: pointers checked above.
        let (src, out) = unsafe { (check::input(src, n), check::output_floats(t, dst, n)) };
        core_int4::dequantize_from_int4_into_uninit(src, Params { scale, zero_point }, out)
    })
}

/// Packs n int4 codes (one per int8_t, in -8..7) two per byte: element 2i in the low nibble of
/// byte i, element 2i+1 in the high nibble, two's complement; an odd n pads the last high nibble
/// with 0.
///
/// - `src`: n codes (NULL only if n is 0).
/// - `dst`, `dst_len`: at least QUANTIZE_PACKED_LEN(n) bytes; bytes past that are not written.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (n too large), NULL_POINTER, BUFFER_TOO_SMALL,
/// OVERLAP, VALUE_OUT_OF_RANGE (a code outside -8..7). On any error nothing is written. n = 0 is
/// QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// `src` must be valid for n elements, `dst` for dst_len bytes.
#[no_mangle]
pub unsafe extern "C" fn pack_int4_to_int8(
    src: *const i8,
    n: usize,
    dst: *mut u8,
    dst_len: usize,
) -> quantize_status {
    run(|| {
        check::count::<i8>(n)?;
        check::non_null(src, n)?;
        check::non_null(dst, dst_len)?;
        let need = packed_len(n);
        if dst_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[reads(src, n), writes(dst, need)])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input(src, n), check::output(dst, need)) };
        pack::pack_int4_to_int8_uninit(src, out)
    })
}

/// Unpacks n int4 codes from packed bytes (the layout of pack_int4_to_int8), sign-extended to
/// int8_t. The padding nibble of an odd n is ignored.
///
/// - `src`, `src_len`: at least QUANTIZE_PACKED_LEN(n) bytes.
/// - `dst`: n codes.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (n too large), NULL_POINTER, BUFFER_TOO_SMALL,
/// OVERLAP. On any error nothing is written. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// `src` must be valid for src_len bytes, `dst` for n elements.
#[no_mangle]
pub unsafe extern "C" fn unpack_int8_to_int4(
    src: *const u8,
    src_len: usize,
    dst: *mut i8,
    n: usize,
) -> quantize_status {
    run(|| {
        check::count::<i8>(n)?;
        check::non_null(src, src_len)?;
        check::non_null(dst, n)?;
        let need = packed_len(n);
        if src_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[reads(src, need), writes(dst, n)])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input(src, need), check::output(dst, n)) };
        pack::unpack_int8_to_int4_uninit(src, out)
    })
}

/// quantize_to_int4 and pack_int4_to_int8 in one pass, with identical results.
///
/// - `src`: n floats (4-byte aligned; NULL only if n is 0).
/// - `dst`, `dst_len`: at least QUANTIZE_PACKED_LEN(n) bytes; bytes past that are not written.
/// - `scale`, `zero_point`: out-pointers, never NULL, written only on success.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown method, n too large), NULL_POINTER,
/// MISALIGNED, BUFFER_TOO_SMALL, OVERLAP, EMPTY_INPUT (n is 0), NON_FINITE or
/// VALUE_OUT_OF_RANGE for the first bad element. On any error nothing is written. Thread-safe.
///
/// # Safety
/// `src` must be valid for n elements, `dst` for dst_len bytes.
#[no_mangle]
pub unsafe extern "C" fn quantize_to_int4_packed(
    src: *const f32,
    n: usize,
    method: quantize_scale_method,
    dst: *mut u8,
    dst_len: usize,
    scale: *mut f32,
    zero_point: *mut i8,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        quantize_to_int4_packed_from(
            QUANTIZE_FLOAT_F32,
            src.cast(),
            n,
            method,
            dst,
            dst_len,
            scale,
            zero_point,
        )
    }
}

/// quantize_to_int4_packed from float32, float16 or bfloat16 values: `src` holds n values of type
/// `src_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types). The result is bit
/// for bit what quantize_to_int4_packed returns on the values widened to float32; every other parameter, status
/// and rule is quantize_to_int4_packed's. An unknown `src_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_to_int4_packed, with `src` valid for n elements of `src_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_to_int4_packed_from(
    src_type: quantize_float_type,
    src: *const c_void,
    n: usize,
    method: quantize_scale_method,
    dst: *mut u8,
    dst_len: usize,
    scale: *mut f32,
    zero_point: *mut i8,
) -> quantize_status {
    run(|| {
        let t = check::float_type(src_type)?;
        let method = scale_method(method)?;
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(dst, dst_len)?;
        check::required(scale)?;
        check::required(zero_point)?;
        check::aligned_of(src, t)?;
        check::aligned(scale)?;
        let need = packed_len(n);
        if dst_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[
            check::reads_of(src, t, n),
            writes(dst, need),
            writes(scale, 1),
            writes(zero_point, 1),
        ])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input_floats(t, src, n), check::output(dst, need)) };
        let p = core_int4::quantize_to_int4_packed_from_uninit(src, method, out)?;
        // SAFETY: required and aligned, checked above.
        unsafe {
            check::write(scale, p.scale);
            check::write(zero_point, p.zero_point);
        }
        Ok(())
    })
}

/// unpack_int8_to_int4 and dequantize_from_int4 in one pass, with identical results.
///
/// - `src`, `src_len`: at least QUANTIZE_PACKED_LEN(n) bytes.
/// - `scale`: any finite float; `zero_point`: in -8..7.
/// - `dst`: n floats (4-byte aligned), written only on success.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (n too large), NULL_POINTER, MISALIGNED,
/// BUFFER_TOO_SMALL, OVERLAP, VALUE_OUT_OF_RANGE (zero point), NON_FINITE (scale). On any error
/// nothing is written. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// `src` must be valid for src_len bytes, `dst` for n elements.
#[no_mangle]
pub unsafe extern "C" fn dequantize_from_int4_packed(
    src: *const u8,
    src_len: usize,
    n: usize,
    scale: f32,
    zero_point: i8,
    dst: *mut f32,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        dequantize_from_int4_packed_into(
            src,
            src_len,
            n,
            scale,
            zero_point,
            QUANTIZE_FLOAT_F32,
            dst.cast(),
        )
    }
}

/// dequantize_from_int4_packed into float32, float16 or bfloat16 values: `dst` receives n values of type
/// `dst_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types), each the float32
/// result rounded once to nearest, ties to even (a float16 overflow gives +-infinity). Every
/// other parameter, status and rule is dequantize_from_int4_packed's. An unknown `dst_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for dequantize_from_int4_packed, with `dst` valid for n elements of `dst_type`.
#[no_mangle]
pub unsafe extern "C" fn dequantize_from_int4_packed_into(
    src: *const u8,
    src_len: usize,
    n: usize,
    scale: f32,
    zero_point: i8,
    dst_type: quantize_float_type,
    dst: *mut c_void,
) -> quantize_status {
    run(|| {
        let t = check::float_type(dst_type)?;
        check::count_of(t, n)?;
        check::non_null(src, src_len)?;
        check::non_null(dst, n)?;
        check::aligned_of(dst, t)?;
        let need = packed_len(n);
        if src_len < need {
            return Err(Error::BufferTooSmall);
        }
        disjoint(&[reads(src, need), check::writes_of(dst, t, n)])?;
        // SAFETY: pointers and lengths checked above.
        let (src, out) = unsafe { (check::input(src, need), check::output_floats(t, dst, n)) };
        core_int4::dequantize_from_int4_packed_into_uninit(src, Params { scale, zero_point }, out)
    })
}
