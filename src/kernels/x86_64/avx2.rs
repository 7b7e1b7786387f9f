//! AVX2 kernels (8 floats per vector). Each equals the scalar reference bit for bit: the same
//! operations in the same order per element (true division, ties-to-even rounding, one rounding
//! per multiply, no fused multiply-add), with the remainder of a slice handled by the scalar
//! code itself.
//! The int4 kernels other than `error_sums`, and the half-precision conversions, are written
//! once for every level in `kernels::simd` (`int4`, `half`); `error_sums` stays here: its eight f64 partial sums take two vectors
//! with AVX2 and one with AVX-512, and a shared form would need more f64 primitives than the
//! kernel has lines.

use super::super::{scalar, ErrorSums, Kernels};
use crate::kernels::simd::{half::avx2 as half, int4::avx2 as int4};
use crate::Result;
use core::arch::x86_64::*;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Avx2,
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
    widen_f16: |s, d| unsafe { half::widen_f16(s, d) },
    widen_bf16: |s, d| unsafe { half::widen_bf16(s, d) },
    narrow_f16: |s, d| unsafe { half::narrow_f16(s, d) },
    narrow_bf16: |s, d| unsafe { half::narrow_bf16(s, d) },
    blocks: &super::avx2_blocks::BLOCKS,
};

pub(crate) use crate::kernels::lanes::x86_64::avx2_available as available;

// The wrappers in `KERNELS` and below are only reachable through `KERNELS`, which
// `kernels::levels()` hands out only when `available()` is true: that is the safety argument of
// every `unsafe` call of a `#[target_feature]` function in this file.

fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    // SAFETY: AVX2 is available.
    unsafe { error_sums_impl(x, y) }
}

/// Lanes 0..3 and 4..7 of the scalar reference's eight partial sums live in two vectors; each
/// lane adds its elements in index order, exactly as the reference does.
#[target_feature(enable = "avx2")]
unsafe fn error_sums_impl(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let n = x.len().min(y.len());
    let whole = n / 8 * 8;
    let sign = _mm256_set1_pd(-0.0);
    let zero = _mm256_setzero_pd();
    let (mut abs, mut sq, mut xsq, mut max) = ([zero; 2], [zero; 2], [zero; 2], [zero; 2]);
    let mut max_i = [_mm256_setzero_si256(); 2];
    // |v| as an integer is above f32::MAX's bits exactly for NaN and ±Inf.
    let (abs_mask, finite_max) = (_mm_set1_epi32(0x7FFF_FFFF), _mm_set1_epi32(0x7F7F_FFFF));
    let mut bad = _mm_setzero_si128();
    for i in (0..whole).step_by(8) {
        for h in 0..2 {
            // SAFETY: 4 floats at i + 4h < whole <= n.
            let (xf, yf) = unsafe {
                (
                    _mm_loadu_ps(x.as_ptr().add(i + 4 * h)),
                    _mm_loadu_ps(y.as_ptr().add(i + 4 * h)),
                )
            };
            for v in [xf, yf] {
                let a = _mm_and_si128(_mm_castps_si128(v), abs_mask);
                bad = _mm_or_si128(bad, _mm_cmpgt_epi32(a, finite_max));
            }
            let (a, b) = (_mm256_cvtps_pd(xf), _mm256_cvtps_pd(yf));
            let d = _mm256_sub_pd(a, b);
            let ad = _mm256_andnot_pd(sign, d);
            abs[h] = _mm256_add_pd(abs[h], ad);
            sq[h] = _mm256_add_pd(sq[h], _mm256_mul_pd(d, d));
            xsq[h] = _mm256_add_pd(xsq[h], _mm256_mul_pd(a, a));
            // Strictly greater: a lane keeps the first index of its maximum.
            let gt = _mm256_cmp_pd::<_CMP_GT_OQ>(ad, max[h]);
            max[h] = _mm256_blendv_pd(max[h], ad, gt);
            let idx = _mm256_set1_epi64x(i as i64);
            max_i[h] = _mm256_blendv_epi8(max_i[h], idx, _mm256_castpd_si256(gt));
        }
    }
    if _mm_testz_si128(bad, bad) == 0 {
        return Err(crate::Error::NonFinite);
    }
    let mut lanes = [[0.0f64; 8]; 4];
    let mut idx = [0i64; 8];
    for h in 0..2 {
        // SAFETY: stores of 4 lanes into 8-element arrays at offset 4h.
        unsafe {
            _mm256_storeu_pd(lanes[0].as_mut_ptr().add(4 * h), abs[h]);
            _mm256_storeu_pd(lanes[1].as_mut_ptr().add(4 * h), sq[h]);
            _mm256_storeu_pd(lanes[2].as_mut_ptr().add(4 * h), xsq[h]);
            _mm256_storeu_pd(lanes[3].as_mut_ptr().add(4 * h), max[h]);
            _mm256_storeu_si256(idx.as_mut_ptr().add(4 * h).cast(), max_i[h]);
        }
    }
    let lane_max: [(f64, usize); 8] = core::array::from_fn(|l| (lanes[3][l], idx[l] as usize + l));
    scalar::finish_error_sums(x, y, whole, [lanes[0], lanes[1], lanes[2]], lane_max)
}
