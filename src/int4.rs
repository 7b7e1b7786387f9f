//! Per-tensor int4 quantization: the seed's API (docs/contract.md §2).

use crate::kernels::chunks::{for_each_chunk, for_each_chunk_into, CHUNK};
use crate::kernels::{self, Kernels};
use crate::out::uninit;
use crate::pack::packed_len;
use crate::{Error, Floats, FloatsMut, FloatsUninit, Result};
use core::mem::MaybeUninit;

use crate::reference::int4::{check_params, params_for, Range};
pub use crate::reference::int4::{Params, ScaleMethod};

/// Quantizes `src` (n = `src.len()`) to one int4 code per `i8` in `dst[..n]`.
///
/// Errors: `BufferTooSmall` (`dst` shorter than n), `EmptyInput` (n = 0), then the first bad
/// element: `NonFinite` (NaN, ±Inf) or `ValueOutOfRange` (|x| > 2^126). `dst` is untouched on
/// error.
pub fn quantize_to_int4(src: &[f32], method: ScaleMethod, dst: &mut [i8]) -> Result<Params> {
    quantize_to_int4_uninit(src, method, uninit(dst))
}

/// [`quantize_to_int4`] into possibly uninitialised memory.
pub fn quantize_to_int4_uninit(
    src: &[f32],
    method: ScaleMethod,
    dst: &mut [MaybeUninit<i8>],
) -> Result<Params> {
    quantize_to_int4_from_uninit(Floats::F32(src), method, dst)
}

/// Dequantizes `src[..n]` into `dst` (n = `dst.len()`): `y = (q - zero_point) * scale`.
///
/// Errors: `BufferTooSmall` (`src` shorter than n), then `ValueOutOfRange` (zero point outside
/// -8..7), `NonFinite` (scale NaN or ±Inf), `ValueOutOfRange` (a code outside -8..7). `dst` is
/// untouched on error.
pub fn dequantize_from_int4(src: &[i8], params: Params, dst: &mut [f32]) -> Result<()> {
    dequantize_from_int4_uninit(src, params, uninit(dst))
}

/// [`dequantize_from_int4`] into possibly uninitialised memory.
pub fn dequantize_from_int4_uninit(
    src: &[i8],
    params: Params,
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    dequantize_from_int4_into_uninit(src, params, FloatsUninit::F32(dst))
}

/// Quantizes and packs in one pass: the same bytes as [`quantize_to_int4`] followed by
/// [`crate::pack::pack_int4_to_int8`]. `dst` needs `packed_len(n)` bytes.
pub fn quantize_to_int4_packed(src: &[f32], method: ScaleMethod, dst: &mut [u8]) -> Result<Params> {
    quantize_to_int4_packed_uninit(src, method, uninit(dst))
}

/// [`quantize_to_int4_packed`] into possibly uninitialised memory.
pub fn quantize_to_int4_packed_uninit(
    src: &[f32],
    method: ScaleMethod,
    dst: &mut [MaybeUninit<u8>],
) -> Result<Params> {
    quantize_to_int4_packed_from_uninit(Floats::F32(src), method, dst)
}

/// Unpacks and dequantizes in one pass (n = `dst.len()`); `src` needs `packed_len(n)` bytes.
///
/// Errors: `BufferTooSmall`, then `ValueOutOfRange` (zero point), `NonFinite` (scale).
pub fn dequantize_from_int4_packed(src: &[u8], params: Params, dst: &mut [f32]) -> Result<()> {
    dequantize_from_int4_packed_uninit(src, params, uninit(dst))
}

/// [`dequantize_from_int4_packed`] into possibly uninitialised memory.
pub fn dequantize_from_int4_packed_uninit(
    src: &[u8],
    params: Params,
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    dequantize_from_int4_packed_into_uninit(src, params, FloatsUninit::F32(dst))
}

/// The validated range of `src` (non-empty), scanned chunk by chunk: the same result as one scan
/// of the widened values (the first of equal extremes is kept either way; its sign of zero
/// does not matter to [`params_for`]).
fn analyse_from(k: &Kernels, src: Floats<'_>, method: ScaleMethod) -> Result<Params> {
    if src.is_empty() {
        return Err(Error::EmptyInput);
    }
    let mut all: Option<Range> = None;
    for_each_chunk(k, src, CHUNK, |_, x| {
        let r = (k.scan)(x)?;
        all = Some(match all {
            None => r,
            Some(a) => Range {
                min: if r.min < a.min { r.min } else { a.min },
                max: if r.max > a.max { r.max } else { a.max },
            },
        });
        Ok(())
    })?;
    Ok(params_for(
        all.unwrap_or(Range { min: 0.0, max: 0.0 }),
        method,
    ))
}

/// [`quantize_to_int4`] from float32, float16 or bfloat16 values: bit for bit what it gives on
/// the values widened to float32. Errors as there; `dst` is untouched on error.
pub fn quantize_to_int4_from(
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [i8],
) -> Result<Params> {
    quantize_to_int4_from_uninit(src, method, uninit(dst))
}

/// [`quantize_to_int4_from`] into possibly uninitialised memory.
#[inline]
pub fn quantize_to_int4_from_uninit(
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [MaybeUninit<i8>],
) -> Result<Params> {
    quantize_to_int4_from_with(kernels::active(), src, method, dst)
}

#[inline(always)]
pub(crate) fn quantize_to_int4_from_with(
    k: &Kernels,
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [MaybeUninit<i8>],
) -> Result<Params> {
    let dst = dst.get_mut(..src.len()).ok_or(Error::BufferTooSmall)?;
    // Validate everything first (the scan), then write.
    let p = analyse_from(k, src, method)?;
    for_each_chunk(k, src, CHUNK, |start, x| {
        (k.quantize)(x, p.scale, p.zero_point, &mut dst[start..start + x.len()]);
        Ok(())
    })?;
    Ok(p)
}

/// [`quantize_to_int4_packed`] from float32, float16 or bfloat16 values (see
/// [`quantize_to_int4_from`]).
pub fn quantize_to_int4_packed_from(
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [u8],
) -> Result<Params> {
    quantize_to_int4_packed_from_uninit(src, method, uninit(dst))
}

/// [`quantize_to_int4_packed_from`] into possibly uninitialised memory.
#[inline]
pub fn quantize_to_int4_packed_from_uninit(
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [MaybeUninit<u8>],
) -> Result<Params> {
    quantize_to_int4_packed_from_with(kernels::active(), src, method, dst)
}

#[inline(always)]
pub(crate) fn quantize_to_int4_packed_from_with(
    k: &Kernels,
    src: Floats<'_>,
    method: ScaleMethod,
    dst: &mut [MaybeUninit<u8>],
) -> Result<Params> {
    let dst = dst
        .get_mut(..packed_len(src.len()))
        .ok_or(Error::BufferTooSmall)?;
    let p = analyse_from(k, src, method)?;
    // CHUNK is even: every chunk starts on a byte boundary.
    for_each_chunk(k, src, CHUNK, |start, x| {
        let out = &mut dst[start / 2..][..packed_len(x.len())];
        (k.quantize_packed)(x, p.scale, p.zero_point, out);
        Ok(())
    })?;
    Ok(p)
}

/// [`dequantize_from_int4`] into float32, float16 or bfloat16 values: the float32 results
/// rounded once to the output type. Errors as there; `dst` is untouched on error.
pub fn dequantize_from_int4_into(src: &[i8], params: Params, mut dst: FloatsMut<'_>) -> Result<()> {
    dequantize_from_int4_into_uninit(src, params, dst.as_uninit())
}

/// [`dequantize_from_int4_into`] into possibly uninitialised memory.
#[inline]
pub fn dequantize_from_int4_into_uninit(
    src: &[i8],
    params: Params,
    dst: FloatsUninit<'_>,
) -> Result<()> {
    dequantize_from_int4_into_with(kernels::active(), src, params, dst)
}

#[inline(always)]
pub(crate) fn dequantize_from_int4_into_with(
    k: &Kernels,
    src: &[i8],
    params: Params,
    dst: FloatsUninit<'_>,
) -> Result<()> {
    let src = src.get(..dst.len()).ok_or(Error::BufferTooSmall)?;
    if dst.is_empty() {
        return Ok(());
    }
    check_params(params)?;
    if (k.find_invalid_code)(src).is_some() {
        return Err(Error::ValueOutOfRange);
    }
    for_each_chunk_into(k, dst, CHUNK, |start, out| {
        let codes = &src[start..start + out.len()];
        (k.dequantize)(codes, params.scale, params.zero_point, out);
        Ok(())
    })
}

/// [`dequantize_from_int4_packed`] into float32, float16 or bfloat16 values (see
/// [`dequantize_from_int4_into`]).
pub fn dequantize_from_int4_packed_into(
    src: &[u8],
    params: Params,
    mut dst: FloatsMut<'_>,
) -> Result<()> {
    dequantize_from_int4_packed_into_uninit(src, params, dst.as_uninit())
}

/// [`dequantize_from_int4_packed_into`] into possibly uninitialised memory.
#[inline]
pub fn dequantize_from_int4_packed_into_uninit(
    src: &[u8],
    params: Params,
    dst: FloatsUninit<'_>,
) -> Result<()> {
    dequantize_from_int4_packed_into_with(kernels::active(), src, params, dst)
}

#[inline(always)]
pub(crate) fn dequantize_from_int4_packed_into_with(
    k: &Kernels,
    src: &[u8],
    params: Params,
    dst: FloatsUninit<'_>,
) -> Result<()> {
    let src = src
        .get(..packed_len(dst.len()))
        .ok_or(Error::BufferTooSmall)?;
    if dst.is_empty() {
        return Ok(());
    }
    check_params(params)?;
    for_each_chunk_into(k, dst, CHUNK, |start, out| {
        let codes = &src[start / 2..][..packed_len(out.len())];
        (k.dequantize_packed)(codes, params.scale, params.zero_point, out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: f32, max: f32) -> Range {
        Range { min, max }
    }

    #[test]
    fn minmax_range_always_contains_zero() {
        // All positive: lo = 0, so zero point is -8 and 0.0 maps to code -8 exactly.
        let p = params_for(range(1.0, 15.0), ScaleMethod::MinMax);
        assert_eq!(
            p,
            Params {
                scale: 1.0,
                zero_point: -8
            }
        );
        // All negative: hi = 0, zero point 7.
        let p = params_for(range(-15.0, -1.0), ScaleMethod::MinMax);
        assert_eq!(
            p,
            Params {
                scale: 1.0,
                zero_point: 7
            }
        );
    }

    #[test]
    fn absmax_uses_the_larger_magnitude() {
        assert_eq!(
            params_for(range(-14.0, 7.0), ScaleMethod::AbsMax).scale,
            2.0
        );
        assert_eq!(
            params_for(range(-7.0, 14.0), ScaleMethod::AbsMax).scale,
            2.0
        );
    }

    #[test]
    fn zero_or_underflowing_scale_gives_identity() {
        for m in ScaleMethod::ALL {
            assert_eq!(params_for(range(0.0, 0.0), m), Params::IDENTITY);
            assert_eq!(params_for(range(-0.0, -0.0), m), Params::IDENTITY);
            let tiny = f32::from_bits(1); // smallest subnormal: tiny / 15 and tiny / 7 round to 0
            assert_eq!(params_for(range(tiny, tiny), m), Params::IDENTITY);
        }
    }

    #[test]
    fn dequantize_checks_zero_point_before_scale_before_codes() {
        let mut out = [7.0f32; 2];
        let bad_both = Params {
            scale: f32::NAN,
            zero_point: 8,
        };
        assert_eq!(
            dequantize_from_int4(&[9, 0], bad_both, &mut out),
            Err(Error::ValueOutOfRange)
        );
        let bad_scale = Params {
            scale: f32::INFINITY,
            zero_point: 0,
        };
        assert_eq!(
            dequantize_from_int4(&[9, 0], bad_scale, &mut out),
            Err(Error::NonFinite)
        );
        let ok = Params {
            scale: 1.0,
            zero_point: 0,
        };
        assert_eq!(
            dequantize_from_int4(&[0, -9], ok, &mut out),
            Err(Error::ValueOutOfRange)
        );
        assert_eq!(out, [7.0; 2], "untouched on error");
    }

    #[test]
    fn first_bad_element_wins() {
        let mut q = [0i8; 3];
        let big = 2f32.powi(127);
        assert_eq!(
            quantize_to_int4(&[1.0, big, f32::NAN], ScaleMethod::MinMax, &mut q),
            Err(Error::ValueOutOfRange)
        );
        assert_eq!(
            quantize_to_int4(&[1.0, f32::NEG_INFINITY, big], ScaleMethod::AbsMax, &mut q),
            Err(Error::NonFinite)
        );
        assert_eq!(q, [0; 3]);
    }

    #[test]
    fn lengths_before_empty_before_data() {
        let mut q = [0i8; 1];
        assert_eq!(
            quantize_to_int4(&[f32::NAN; 2], ScaleMethod::MinMax, &mut q),
            Err(Error::BufferTooSmall)
        );
        assert_eq!(
            quantize_to_int4(&[], ScaleMethod::MinMax, &mut q),
            Err(Error::EmptyInput)
        );
        let mut b = [0u8; 1];
        assert_eq!(
            quantize_to_int4_packed(&[1.0; 3], ScaleMethod::MinMax, &mut b),
            Err(Error::BufferTooSmall)
        );
    }
}
