//! Group-wise int4.

use super::boundary::run;
use super::check::{self, disjoint, reads, writes};
use super::float::{quantize_float_type, QUANTIZE_FLOAT_F32};
use super::{quantize_scale_method, quantize_status, scale_method};
use crate::groups::{self as core_groups, check_group_lengths};
use crate::int4::ScaleMethod;
use crate::pack::packed_len;
use core::ffi::c_void;

/// Quantizes n floats group by group: group g covers elements [g*group_size,
/// min((g+1)*group_size, n)) and gets its own scale and zero point by the per-tensor rules. The
/// codes of all n values form one packed stream (the layout of pack_int4_to_int8).
///
/// - `src`: n floats (4-byte aligned; NULL only if n is 0).
/// - `group_size`: elements per group, > 0 (the last group may be shorter).
/// - `codes`, `codes_len`: at least QUANTIZE_PACKED_LEN(n) bytes.
/// - `scales`, `scales_len`: at least QUANTIZE_GROUP_COUNT(n, group_size) floats.
/// - `zero_points`, `zero_points_len`: MINMAX needs QUANTIZE_GROUP_COUNT(n, group_size) of them;
///   for ABSMAX they are optional (zero_points_len 0: none written; otherwise all are written,
///   as 0).
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (unknown method, group_size 0, n too large),
/// NULL_POINTER, MISALIGNED (src, scales), BUFFER_TOO_SMALL, OVERLAP, then NON_FINITE or
/// VALUE_OUT_OF_RANGE (|x| > 2^126) for the first bad element. On an argument error nothing is
/// written; on bad data the groups before the bad one may have been written, never any after
/// it. n = 0 is QUANTIZE_OK. Bytes and entries past what n needs are never written. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for its stated length (src: n elements).
#[no_mangle]
pub unsafe extern "C" fn quantize_int4_groups(
    src: *const f32,
    n: usize,
    group_size: usize,
    method: quantize_scale_method,
    codes: *mut u8,
    codes_len: usize,
    scales: *mut f32,
    scales_len: usize,
    zero_points: *mut i8,
    zero_points_len: usize,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        quantize_int4_groups_from(
            QUANTIZE_FLOAT_F32,
            src.cast(),
            n,
            group_size,
            method,
            codes,
            codes_len,
            scales,
            scales_len,
            zero_points,
            zero_points_len,
        )
    }
}

/// quantize_int4_groups from float32, float16 or bfloat16 values: `src` holds n values of type
/// `src_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types). The result is bit
/// for bit what quantize_int4_groups returns on the values widened to float32; every other parameter, status
/// and rule is quantize_int4_groups's. An unknown `src_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_int4_groups, with `src` valid for n elements of `src_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_int4_groups_from(
    src_type: quantize_float_type,
    src: *const c_void,
    n: usize,
    group_size: usize,
    method: quantize_scale_method,
    codes: *mut u8,
    codes_len: usize,
    scales: *mut f32,
    scales_len: usize,
    zero_points: *mut i8,
    zero_points_len: usize,
) -> quantize_status {
    run(|| {
        let t = check::float_type(src_type)?;
        let method = scale_method(method)?;
        if group_size == 0 {
            return Err(crate::Error::InvalidArgument);
        }
        check::count_of(t, n)?;
        check::non_null(src, n)?;
        check::non_null(codes, codes_len)?;
        check::non_null(scales, scales_len)?;
        check::non_null(zero_points, zero_points_len)?;
        check::aligned_of(src, t)?;
        check::aligned(scales)?;
        let absmax = method == ScaleMethod::AbsMax;
        let count = check_group_lengths(
            n,
            group_size,
            codes_len,
            scales_len,
            zero_points_len,
            absmax,
        )?;
        let zp_count = if zero_points_len == 0 { 0 } else { count };
        let need = packed_len(n);
        disjoint(&[
            check::reads_of(src, t, n),
            writes(codes, need),
            writes(scales, count),
            writes(zero_points, zp_count),
        ])?;
        // SAFETY: pointers and lengths checked above.
        let (src, codes, scales, zero_points) = unsafe {
            (
                check::input_floats(t, src, n),
                check::output(codes, need),
                check::output(scales, count),
                check::output(zero_points, zp_count),
            )
        };
        core_groups::quantize_int4_groups_from_uninit(
            src,
            group_size,
            method,
            codes,
            scales,
            zero_points,
        )
    })
}

/// Dequantizes n values group by group (the layout of quantize_int4_groups):
/// `dst[i] = (float)(q[i] - zero_points[g]) * scales[g]`.
///
/// - `codes`, `codes_len`: at least QUANTIZE_PACKED_LEN(n) bytes.
/// - `group_size`: > 0.
/// - `scales`, `scales_len`: at least QUANTIZE_GROUP_COUNT(n, group_size) finite floats.
/// - `zero_points`, `zero_points_len`: 0 (every zero point is 0) or at least
///   QUANTIZE_GROUP_COUNT(n, group_size) values in -8..7.
/// - `dst`: n floats (4-byte aligned).
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (group_size 0, n too large), NULL_POINTER,
/// MISALIGNED (scales, dst), BUFFER_TOO_SMALL, OVERLAP, then for each group in order its zero
/// point (VALUE_OUT_OF_RANGE) and its scale (NON_FINITE). On an argument error nothing is
/// written; on bad data the groups before the bad one may have been written, never any after
/// it. n = 0 is QUANTIZE_OK. Thread-safe.
///
/// # Safety
/// Each pointer must be valid for its stated length (dst: n elements).
#[no_mangle]
pub unsafe extern "C" fn dequantize_int4_groups(
    codes: *const u8,
    codes_len: usize,
    n: usize,
    group_size: usize,
    scales: *const f32,
    scales_len: usize,
    zero_points: *const i8,
    zero_points_len: usize,
    dst: *mut f32,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        dequantize_int4_groups_into(
            codes,
            codes_len,
            n,
            group_size,
            scales,
            scales_len,
            zero_points,
            zero_points_len,
            QUANTIZE_FLOAT_F32,
            dst.cast(),
        )
    }
}

/// dequantize_int4_groups into float32, float16 or bfloat16 values: `dst` receives n values of type
/// `dst_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half types), each the float32
/// result rounded once to nearest, ties to even (a float16 overflow gives +-infinity). Every
/// other parameter, status and rule is dequantize_int4_groups's. An unknown `dst_type` is INVALID_ARGUMENT.
///
/// # Safety
/// As for dequantize_int4_groups, with `dst` valid for n elements of `dst_type`.
#[no_mangle]
pub unsafe extern "C" fn dequantize_int4_groups_into(
    codes: *const u8,
    codes_len: usize,
    n: usize,
    group_size: usize,
    scales: *const f32,
    scales_len: usize,
    zero_points: *const i8,
    zero_points_len: usize,
    dst_type: quantize_float_type,
    dst: *mut c_void,
) -> quantize_status {
    run(|| {
        let t = check::float_type(dst_type)?;
        if group_size == 0 {
            return Err(crate::Error::InvalidArgument);
        }
        check::count_of(t, n)?;
        check::non_null(codes, codes_len)?;
        check::non_null(scales, scales_len)?;
        check::non_null(zero_points, zero_points_len)?;
        check::non_null(dst, n)?;
        check::aligned(scales)?;
        check::aligned_of(dst, t)?;
        let count =
            check_group_lengths(n, group_size, codes_len, scales_len, zero_points_len, true)?;
        let zp_count = if zero_points_len == 0 { 0 } else { count };
        let need = packed_len(n);
        disjoint(&[
            reads(codes, need),
            reads(scales, count),
            reads(zero_points, zp_count),
            check::writes_of(dst, t, n),
        ])?;
        // SAFETY: pointers and lengths checked above.
        let (codes, scales, zero_points, dst) = unsafe {
            (
                check::input(codes, need),
                check::input(scales, count),
                check::input(zero_points, zp_count),
                check::output_floats(t, dst, n),
            )
        };
        core_groups::dequantize_int4_groups_into_uninit(codes, group_size, scales, zero_points, dst)
    })
}
