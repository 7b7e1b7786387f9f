//! Error statistics of a reconstruction.

use crate::kernels;
use crate::kernels::chunks::{widen, CHUNK};
use crate::{Error, Floats, Result};
use core::mem::MaybeUninit;

/// How far `restored` is from `original`. Every difference is computed, and every sum
/// accumulated, in double precision, in the fixed order of the scalar reference.
///
/// This is the C struct `quantize_error_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ErrorStats {
    /// mean of |x - y|
    pub mean_abs_error: f64,
    /// max of |x - y|
    pub max_abs_error: f64,
    /// mean of (x - y)^2
    pub mean_squared_error: f64,
    /// sqrt(mean_squared_error)
    pub rmse: f64,
    /// 10*log10(sum x^2 / sum (x-y)^2): +INFINITY when exact, -INFINITY when x is all zero and
    /// y is not.
    pub sqnr_db: f64,
    /// Where max_abs_error occurs (the first such index).
    pub max_abs_index: usize,
}

/// Measures the error of `restored` against `original` (n = `original.len()`).
///
/// Errors: `BufferTooSmall` (`restored` shorter than n), `EmptyInput` (n = 0), `NonFinite` (NaN
/// or ±Inf in either input).
pub fn measure_error(original: &[f32], restored: &[f32]) -> Result<ErrorStats> {
    measure_error_from(Floats::F32(original), Floats::F32(restored))
}

/// The statistics from the sums of `n` elements.
fn stats_of(s: kernels::ErrorSums, n: usize) -> ErrorStats {
    let n = n as f64;
    let mse = s.sum_sq / n;
    ErrorStats {
        mean_abs_error: s.sum_abs / n,
        max_abs_error: s.max_abs,
        mean_squared_error: mse,
        rmse: mse.sqrt(),
        sqnr_db: if s.sum_sq == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (s.sum_x_sq / s.sum_sq).log10()
        },
        max_abs_index: s.max_abs_index,
    }
}

/// [`measure_error`] of float32, float16 or bfloat16 values (each input of its own type): bit
/// for bit the statistics of the values widened to float32. Errors as there.
pub fn measure_error_from(original: Floats<'_>, restored: Floats<'_>) -> Result<ErrorStats> {
    measure_error_from_with(kernels::active(), original, restored)
}

#[inline(always)]
pub(crate) fn measure_error_from_with(
    k: &kernels::Kernels,
    original: Floats<'_>,
    restored: Floats<'_>,
) -> Result<ErrorStats> {
    let n = original.len();
    let restored = restored.get(n).ok_or(Error::BufferTooSmall)?;
    if n == 0 {
        return Err(Error::EmptyInput);
    }
    if let (Floats::F32(x), Floats::F32(y)) = (original, restored) {
        let s = (k.error_sums)(x, y)?;
        return Ok(stats_of(s, n));
    }
    // The reference's sums, fed one widened chunk of each input at a time (CHUNK is a multiple
    // of the lane count, so every element keeps its lane): the same sums as one float32 call on
    // every level, since every level reproduces the reference's order.
    let mut acc = kernels::scalar::ErrorAcc::new();
    let mut xs = [MaybeUninit::<f32>::uninit(); CHUNK];
    let mut ys = [MaybeUninit::<f32>::uninit(); CHUNK];
    let mut start = 0;
    while start < n {
        let end = n.min(start + CHUNK);
        let x = widen(k, original.slice(start..end), &mut xs);
        let y = widen(k, restored.slice(start..end), &mut ys);
        acc.add(x, y, start)?;
        start = end;
    }
    Ok(stats_of(acc.finish(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_all_zero_cases() {
        let s = measure_error(&[1.0, -2.0], &[1.0, -2.0]).unwrap();
        assert_eq!(s.sqnr_db, f64::INFINITY);
        assert_eq!(s.max_abs_error, 0.0);
        let s = measure_error(&[0.0, 0.0], &[0.0, 0.5]).unwrap();
        assert_eq!(s.sqnr_db, f64::NEG_INFINITY);
        assert_eq!(s.max_abs_index, 1);
        assert_eq!(
            measure_error(&[0.0, 0.0], &[0.0, -0.0]).unwrap().sqnr_db,
            f64::INFINITY
        );
    }

    #[test]
    fn values_by_hand() {
        // d = [0.5, -1, 1, 0.5]: |d| sum 3, d^2 sum 2.5, x^2 sum 1+4+9+16 = 30.
        let s = measure_error(&[1.0, 2.0, 3.0, 4.0], &[0.5, 3.0, 2.0, 3.5]).unwrap();
        assert_eq!(s.mean_abs_error, 0.75);
        assert_eq!(s.max_abs_error, 1.0);
        assert_eq!(s.max_abs_index, 1, "first of the two maxima");
        assert_eq!(s.mean_squared_error, 0.625);
        assert_eq!(s.rmse, 0.625f64.sqrt());
        // log10 is the platform's; Miri deliberately perturbs it by a few ulps.
        assert!((s.sqnr_db - 10.791_812_460_476_25).abs() < 1e-12);
    }

    #[test]
    fn errors() {
        assert_eq!(measure_error(&[], &[]), Err(Error::EmptyInput));
        assert_eq!(
            measure_error(&[1.0, 2.0], &[1.0]),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(measure_error(&[1.0], &[f32::NAN]), Err(Error::NonFinite));
        assert_eq!(
            measure_error(&[f32::INFINITY], &[1.0]),
            Err(Error::NonFinite)
        );
    }
}
