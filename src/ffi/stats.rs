//! Error statistics.

use super::boundary::run;
use super::check::{self, disjoint, reads, writes};
use super::quantize_status;
use crate::stats::{measure_error, ErrorStats};

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
    run(|| {
        check::count::<f32>(n)?;
        check::non_null(original, n)?;
        check::non_null(restored, n)?;
        check::required(out)?;
        check::aligned(original)?;
        check::aligned(restored)?;
        check::aligned(out)?;
        disjoint(&[reads(original, n), reads(restored, n), writes(out, 1)])?;
        // SAFETY: pointers checked above.
        let (x, y) = unsafe { (check::input(original, n), check::input(restored, n)) };
        let stats = measure_error(x, y)?;
        // SAFETY: required and aligned, checked above.
        unsafe { check::write(out, stats) };
        Ok(())
    })
}
