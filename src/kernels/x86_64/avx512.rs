//! AVX-512 kernels (16 floats per vector; F, BW, DQ and VL). Each equals the scalar reference bit
//! for bit: the same operations in the same order per element, with the remainder of a slice
//! handled by the scalar code itself.
//! The int4 kernels other than `error_sums` are written once for every x86 level in
//! `kernels::simd::int4`; `error_sums` stays here: its eight f64 partial sums take two vectors
//! with AVX2 and one with AVX-512, and a shared form would need more f64 primitives than the
//! kernel has lines.

use super::super::{scalar, ErrorSums, Kernels};
use crate::kernels::simd::{half::avx512 as half, int4::avx512 as int4};
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
    widen_f16: |s, d| unsafe { half::widen_f16(s, d) },
    widen_bf16: |s, d| unsafe { half::widen_bf16(s, d) },
    narrow_f16: |s, d| unsafe { half::narrow_f16(s, d) },
    narrow_bf16: |s, d| unsafe { half::narrow_bf16(s, d) },
    blocks: &super::avx512_blocks::BLOCKS,
};

pub(crate) use crate::kernels::lanes::x86_64::avx512_available as available;

// The wrappers in `KERNELS` and below are only reachable through `KERNELS`, which
// `kernels::levels()` hands out only when `available()` is true: that is the safety argument of
// every `unsafe` call of a `#[target_feature]` function in this file.

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
