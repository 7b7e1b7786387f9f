//! AVX-512 kernels (16 floats per vector; F, BW, DQ and VL). Each equals the scalar reference bit
//! for bit: the same operations in the same order per element, with the remainder of a slice
//! handled by the scalar code itself.
//! The int4 kernels other than `error_sums` are written once for every x86 level in
//! `kernels::simd::int4`; `error_sums` stays here: its eight f64 partial sums take two vectors
//! with AVX2 and one with AVX-512, and a shared form would need more f64 primitives than the
//! kernel has lines.

use super::super::{scalar, ErrorSums, Kernels};
use crate::kernels::simd::int4::avx512 as int4;
use crate::Result;
use core::arch::x86_64::*;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Avx512,
    // SAFETY (these eight): see below.
    scan: |s| unsafe { int4::scan(s) },
    quantize: |s, sc, z, d| unsafe { int4::quantize(s, sc, z, d) },
    quantize_packed: |s, sc, z, d| unsafe { int4::quantize_packed(s, sc, z, d) },
    dequantize: |s, sc, z, d| unsafe { int4::dequantize(s, sc, z, d) },
    dequantize_packed: |s, sc, z, d| unsafe { int4::dequantize_packed(s, sc, z, d) },
    find_invalid_code: |s| unsafe { int4::find_invalid_code(s) },
    pack: |s, d| unsafe { int4::pack(s, d) },
    unpack: |s, d| unsafe { int4::unpack(s, d) },
    error_sums,
    widen_f16: super::half::avx512_widen_f16,
    widen_bf16: super::half::avx512_widen_bf16,
    narrow_f16: super::half::avx512_narrow_f16,
    narrow_bf16: super::half::avx512_narrow_bf16,
    blocks: &super::avx512_blocks::BLOCKS,
};

/// True when this CPU can run these kernels.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
}

// The wrappers in `KERNELS` and below are only reachable through `KERNELS`, which
// `kernels::levels()` hands out only when `available()` is true: that is the safety argument of
// every `unsafe` call of a `#[target_feature]` function in this file.

/// Scales for which [`codes16_fast`] is used: `scale` and `1 / scale` normal with room to spare
/// (2^-100 ..= 2^100), so `32 * scale` is exact and no step below over- or underflows where it
/// matters.
#[inline]
pub(crate) fn fast_scale(scale: f32) -> bool {
    const LO: f32 = f32::from_bits((127 - 100) << 23); // 2^-100
    const HI: f32 = f32::from_bits((127 + 100) << 23); // 2^100
    (LO..=HI).contains(&scale)
}

/// `RN(x / scale)` for `|x| <= 32 scale`, from `r = RN(1 / scale)` without a division: the
/// product `q0 = RN(x r)` is within two ulps of the quotient; one correction
/// `q1 = RN(q0 + RN(x - q0 scale) r)` (fused multiply-adds) brings it within one ulp (its
/// error is that of `q0` times about 2^-23, plus the final rounding); then Markstein's theorem
/// (with `r` correctly rounded and `q1` faithful, the residual `x - q1 scale` is exact and
/// `RN(q1 + (x - q1 scale) r)` is the correctly rounded quotient) gives exactly what the
/// division gives, ties and all. For `|x / scale| < 1/4`, where exponents could underflow, every
/// step stays below 1/2 in magnitude, so the code (0 after rounding) is the same either way.
/// Tested exhaustively against the division over every float in `[scale/4, 32 scale]` for many
/// scales (`markstein_quotient_is_exact`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(crate) fn quotient16(x: __m512, scale: __m512, r: __m512) -> __m512 {
    let q0 = _mm512_mul_ps(x, r);
    let e0 = _mm512_fnmadd_ps(q0, scale, x);
    let q1 = _mm512_fmadd_ps(e0, r, q0);
    let e1 = _mm512_fnmadd_ps(q1, scale, x);
    _mm512_fmadd_ps(e1, r, q1)
}

/// `clamp(rne(q) + zp, -8, 7)` for quotients `|q| <= 32` (rounded to an integer with an
/// explicit ties-to-even, independent of MXCSR; then the scalar's integer arithmetic).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn codes_from_quotient(q: __m512, zp: __m512) -> __m512i {
    let n = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
    let n = _mm512_add_epi32(n, _mm512_cvttps_epi32(zp));
    _mm512_min_epi32(
        _mm512_max_epi32(n, _mm512_set1_epi32(-8)),
        _mm512_set1_epi32(7),
    )
}

/// `avx512_blocks::codes16` without a division, for a scale with [`fast_scale`] and `r = 1 / scale`: x is
/// first clamped to `[-32 scale, 32 scale]` (exact bounds; beyond them the quotient rounds to
/// at least 32 in magnitude and the code saturates either way), then [`quotient16`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn codes16_fast(x: __m512, scale: __m512, r: __m512, zp: __m512) -> __m512i {
    let lim = _mm512_mul_ps(scale, _mm512_set1_ps(32.0));
    let neg = _mm512_xor_ps(lim, _mm512_set1_ps(-0.0));
    let xc = _mm512_min_ps(_mm512_max_ps(x, neg), lim);
    codes_from_quotient(quotient16(xc, scale, r), zp)
}

/// [`codes16_fast`] for values known to satisfy `|x| <= 32 scale` (no clamp): a group's own
/// elements with the parameters `params_for` derives from its minimum and maximum, for which
/// `|x / scale|` is at most 15 (minmax) or 7 (absmax) up to rounding, or x is 0 (or below the
/// smallest subnormal times 15) where the scale is the identity's 1.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn codes16_bounded(x: __m512, scale: __m512, r: __m512, zp: __m512) -> __m512i {
    codes_from_quotient(quotient16(x, scale, r), zp)
}

fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    // SAFETY: AVX-512 is available.
    unsafe { error_sums_impl(x, y) }
}

/// The scalar reference's eight partial sums are the eight f64 lanes of one vector; each lane
/// adds its elements in index order, exactly as the reference does.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn error_sums_impl(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let n = x.len().min(y.len());
    let whole = n / 8 * 8;
    let (mut abs, mut sq, mut xsq, mut max) = (
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
        _mm512_setzero_pd(),
    );
    let mut max_i = _mm512_setzero_si512();
    // |v| as an integer is above f32::MAX's bits exactly for NaN and ±Inf.
    let (abs_mask, finite_max) = (
        _mm256_set1_epi32(0x7FFF_FFFF),
        _mm256_set1_epi32(0x7F7F_FFFF),
    );
    let mut bad: __mmask8 = 0;
    for i in (0..whole).step_by(8) {
        // SAFETY: 8 floats at i < whole <= n.
        let (xf, yf) = unsafe {
            (
                _mm256_loadu_ps(x.as_ptr().add(i)),
                _mm256_loadu_ps(y.as_ptr().add(i)),
            )
        };
        for v in [xf, yf] {
            let a = _mm256_and_si256(_mm256_castps_si256(v), abs_mask);
            bad |= _mm256_cmpgt_epi32_mask(a, finite_max);
        }
        let (a, b) = (_mm512_cvtps_pd(xf), _mm512_cvtps_pd(yf));
        let d = _mm512_sub_pd(a, b);
        let ad = _mm512_abs_pd(d);
        abs = _mm512_add_pd(abs, ad);
        sq = _mm512_add_pd(sq, _mm512_mul_pd(d, d));
        xsq = _mm512_add_pd(xsq, _mm512_mul_pd(a, a));
        // Strictly greater: a lane keeps the first index of its maximum.
        let gt = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(ad, max);
        max = _mm512_mask_blend_pd(gt, max, ad);
        max_i = _mm512_mask_blend_epi64(gt, max_i, _mm512_set1_epi64(i as i64));
    }
    if bad != 0 {
        return Err(crate::Error::NonFinite);
    }
    let mut lanes = [[0.0f64; 8]; 4];
    let mut idx = [0i64; 8];
    // SAFETY: stores of 8 lanes into 8-element arrays.
    unsafe {
        _mm512_storeu_pd(lanes[0].as_mut_ptr(), abs);
        _mm512_storeu_pd(lanes[1].as_mut_ptr(), sq);
        _mm512_storeu_pd(lanes[2].as_mut_ptr(), xsq);
        _mm512_storeu_pd(lanes[3].as_mut_ptr(), max);
        _mm512_storeu_si512(idx.as_mut_ptr().cast(), max_i);
    }
    let lane_max: [(f64, usize); 8] = core::array::from_fn(|l| (lanes[3][l], idx[l] as usize + l));
    scalar::finish_error_sums(x, y, whole, [lanes[0], lanes[1], lanes[2]], lane_max)
}
