//! float16 and bfloat16 conversions of the x86-64 levels (`Kernels::widen_*` / `narrow_*`), equal
//! bit for bit to the scalar reference in `crate::float::scalar`:
//!
//! - float16 goes through the F16C / AVX-512F conversion instructions (`vcvtph2ps`, `vcvtps2ph`
//!   with round-to-nearest-even in the immediate, so MXCSR's rounding mode does not matter). Both
//!   convert a NaN as the reference does: quiet bit set, sign and top payload bits kept
//!   (`tests_half` checks every float16 pattern and every NaN class of float32); `vcvtph2ps`
//!   converts float16 subnormals exactly and `vcvtps2ph` produces float16 subnormals, ignoring
//!   MXCSR.DAZ/FTZ for the half-precision side (a float32 subnormal input rounds to ±0 either
//!   way).
//! - bfloat16 is integer arithmetic: widening is a shift into the upper half; narrowing is the
//!   reference's add-and-shift rounding with NaN lanes replaced by the reference's quiet NaN.
//!   AVX-512 BF16's `vcvtneps2bf16` is not used: it treats float32 subnormal inputs as zero and
//!   flushes subnormal results, where the reference rounds them (`0x0001_8000` becomes `0x0002`).
//!
//! Whole steps (one vector, two for AVX2's bfloat16 narrowing) run here; the remainder of a slice
//! (fewer than one step) runs the scalar code.
//! Each `avx2_*` function is referenced only by `avx2::KERNELS` and each `avx512_*` one only by
//! `avx512::KERNELS`, which `kernels::levels()` hands out only when that level's `available()`
//! is true (AVX2 with F16C; AVX-512 F, BW, DQ, VL): that is the safety argument of every
//! `unsafe { ..._impl(..) }` call in this file.

use crate::float::scalar;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// The rounding immediate of `vcvtps2ph`: to nearest, ties to even, regardless of MXCSR.
const RNE: i32 = _MM_FROUND_TO_NEAREST_INT;

// --- AVX2 (F16C) ----------------------------------------------------------------------------

pub(super) fn avx2_widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX2 and F16C are available (see the module comment).
    unsafe { avx2_widen_f16_impl(src, dst) }
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn avx2_widen_f16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 halves of `src` and 8 floats of `dst` at i are in bounds.
        unsafe { _mm256_storeu_ps(d.add(i), _mm256_cvtph_ps(_mm_loadu_si128(s.add(i).cast()))) }
    }
    scalar::widen_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn avx2_narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: AVX2 and F16C are available (see the module comment).
    unsafe { avx2_narrow_f16_impl(src, dst) }
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn avx2_narrow_f16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 floats of `src` and 8 halves of `dst` at i are in bounds.
        unsafe {
            _mm_storeu_si128(
                d.add(i).cast(),
                _mm256_cvtps_ph::<RNE>(_mm256_loadu_ps(s.add(i))),
            )
        }
    }
    scalar::narrow_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn avx2_widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX2 is available (see the module comment).
    unsafe { avx2_widen_bf16_impl(src, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn avx2_widen_bf16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n: 8 halves of `src` and 8 floats of `dst` at i are in bounds.
        unsafe {
            let h = _mm256_cvtepu16_epi32(_mm_loadu_si128(s.add(i).cast()));
            _mm256_storeu_si256(d.add(i).cast(), _mm256_slli_epi32::<16>(h));
        }
    }
    scalar::widen_bf16(&src[whole..n], &mut dst[whole..n]);
}

/// The bfloat16 patterns of 8 floats (as bits) in the low half of each 32-bit lane, rounded as
/// `crate::float::f32_to_bf16` does: `(b + 0x7fff + lsb) >> 16`, or `(b >> 16) | 0x40` for NaN.
#[inline]
#[target_feature(enable = "avx2")]
fn bf16x8(b: __m256i) -> __m256i {
    let hi = _mm256_srli_epi32::<16>(b);
    let lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    let bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb);
    let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(b, bias));
    let abs = _mm256_and_si256(b, _mm256_set1_epi32(0x7fff_ffff));
    let nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f80_0000));
    let quiet = _mm256_or_si256(hi, _mm256_set1_epi32(0x40));
    _mm256_blendv_epi8(rounded, quiet, nan)
}

pub(super) fn avx2_narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: AVX2 is available (see the module comment).
    unsafe { avx2_narrow_bf16_impl(src, dst) }
}

#[target_feature(enable = "avx2")]
unsafe fn avx2_narrow_bf16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n: 16 floats of `src` and 16 halves of `dst` at i are in bounds.
        unsafe {
            let a = bf16x8(_mm256_loadu_si256(s.add(i).cast()));
            let b = bf16x8(_mm256_loadu_si256(s.add(i + 8).cast()));
            // Every lane is at most 0xffff, so the unsigned saturation never saturates; the
            // pack works within 128-bit lanes and the permute restores element order.
            let h = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(a, b));
            _mm256_storeu_si256(d.add(i).cast(), h);
        }
    }
    scalar::narrow_bf16(&src[whole..n], &mut dst[whole..n]);
}

// --- AVX-512 --------------------------------------------------------------------------------

pub(super) fn avx512_widen_f16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX-512 F is available (see the module comment).
    unsafe { avx512_widen_f16_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn avx512_widen_f16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n: 16 halves of `src` and 16 floats of `dst` at i are in bounds.
        unsafe {
            _mm512_storeu_ps(
                d.add(i),
                _mm512_cvtph_ps(_mm256_loadu_si256(s.add(i).cast())),
            )
        }
    }
    scalar::widen_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn avx512_narrow_f16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: AVX-512 F is available (see the module comment).
    unsafe { avx512_narrow_f16_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn avx512_narrow_f16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n: 16 floats of `src` and 16 halves of `dst` at i are in bounds.
        unsafe {
            let h = _mm512_cvtps_ph::<RNE>(_mm512_loadu_ps(s.add(i)));
            _mm256_storeu_si256(d.add(i).cast(), h);
        }
    }
    scalar::narrow_f16(&src[whole..n], &mut dst[whole..n]);
}

pub(super) fn avx512_widen_bf16(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: AVX-512 F is available (see the module comment).
    unsafe { avx512_widen_bf16_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn avx512_widen_bf16_impl(src: &[u16], dst: &mut [MaybeUninit<f32>]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n: 16 halves of `src` and 16 floats of `dst` at i are in bounds.
        unsafe {
            let h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(s.add(i).cast()));
            _mm512_storeu_si512(d.add(i).cast(), _mm512_slli_epi32::<16>(h));
        }
    }
    scalar::widen_bf16(&src[whole..n], &mut dst[whole..n]);
}

/// As `bf16x8`, 16 lanes, narrowed to 16 halves.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn bf16x16(b: __m512i) -> __m256i {
    let hi = _mm512_srli_epi32::<16>(b);
    let lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    let bias = _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb);
    let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(b, bias));
    let abs = _mm512_and_si512(b, _mm512_set1_epi32(0x7fff_ffff));
    let nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
    let quiet = _mm512_or_si512(hi, _mm512_set1_epi32(0x40));
    // Every lane is at most 0xffff: the truncating narrow keeps it whole.
    _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet))
}

pub(super) fn avx512_narrow_bf16(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    // SAFETY: AVX-512 F is available (see the module comment).
    unsafe { avx512_narrow_bf16_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn avx512_narrow_bf16_impl(src: &[f32], dst: &mut [MaybeUninit<u16>]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<u16>());
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n: 16 floats of `src` and 16 halves of `dst` at i are in bounds.
        unsafe {
            let h = bf16x16(_mm512_loadu_si512(s.add(i).cast()));
            _mm256_storeu_si256(d.add(i).cast(), h);
        }
    }
    scalar::narrow_bf16(&src[whole..n], &mut dst[whole..n]);
}
