//! Error statistics.

use super::boundary::run;
use super::check::{self, disjoint, writes};
use super::float::{quantize_float_type, QUANTIZE_FLOAT_F32};
use super::quantize_status;
use crate::stats::{measure_error_from, ErrorStats};
use core::ffi::c_void;

/// Measures how far `restored` is from `original` (n floats each): mean and max absolute error
/// (and the first index of the max), mean squared error, RMSE and SQNR in dB. Each difference is
/// computed and accumulated in double precision in a fixed order, so every SIMD level returns
/// identical statistics.
///
/// - `original`, `restored`: n floats each (4-byte aligned; NULL only if n is 0); they may alias.
/// - `out`: never NULL, aligned for quantize_error_stats, written only on success.
///
/// Returns QUANTIZE_OK, or: INVALID_ARGUMENT (n too large), NULL_POINTER, MISALIGNED, OVERLAP
/// (out shares a byte with an input), EMPTY_INPUT (n is 0), NON_FINITE (NaN or infinity in either
/// input). Thread-safe.
///
/// # Safety
/// `original` and `restored` must be valid for n elements, `out` for one struct.
#[no_mangle]
pub unsafe extern "C" fn quantize_measure_error(
    original: *const f32,
    restored: *const f32,
    n: usize,
    out: *mut ErrorStats,
) -> quantize_status {
    // SAFETY: the caller's contract is the float32 sibling's; it checks every argument.
    unsafe {
        quantize_measure_error_from(QUANTIZE_FLOAT_F32, original.cast(), restored.cast(), n, out)
    }
}

/// quantize_measure_error of float32, float16 or bfloat16 values: `original` and `restored`
/// hold n values each of `float_type` (one of QUANTIZE_FLOAT_*; 2-byte aligned for the half
/// types). The statistics are bit for bit those of the values widened to float32; every other
/// parameter, status and rule is quantize_measure_error's. An unknown `float_type` is
/// INVALID_ARGUMENT.
///
/// # Safety
/// As for quantize_measure_error, with `original` and `restored` valid for n elements of
/// `float_type`.
#[no_mangle]
pub unsafe extern "C" fn quantize_measure_error_from(
    float_type: quantize_float_type,
    original: *const c_void,
    restored: *const c_void,
    n: usize,
    out: *mut ErrorStats,
) -> quantize_status {
    run(|| {
        let t = check::float_type(float_type)?;
        check::count_of(t, n)?;
        check::non_null(original, n)?;
        check::non_null(restored, n)?;
        check::required(out)?;
        check::aligned_of(original, t)?;
        check::aligned_of(restored, t)?;
        check::aligned(out)?;
        disjoint(&[
            check::reads_of(original, t, n),
            check::reads_of(restored, t, n),
            writes(out, 1),
        ])?;
        // SAFETY: pointers checked above.
        let (x, y) = unsafe {
            (
                check::input_floats(t, original, n),
                check::input_floats(t, restored, n),
            )
        };
        let stats = measure_error_from(x, y)?;
        // SAFETY: required and aligned, checked above.
        unsafe { check::write(out, stats) };
        Ok(())
    })
}
