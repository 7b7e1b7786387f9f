//! AVX-512 kernels (16 floats per vector; F, BW, DQ and VL). Each equals the scalar reference bit
//! for bit: the same operations in the same order per element, with the remainder of a slice
//! handled by the scalar code itself.

use super::super::{scalar, ErrorSums, Kernels, Range};
use crate::Result;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Avx512,
    scan,
    quantize,
    quantize_packed,
    dequantize,
    dequantize_packed,
    find_invalid_code,
    pack,
    unpack,
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

// The wrappers below are only reachable through `KERNELS`, which `kernels::levels()` hands out
// only when `available()` is true: that is the safety argument of every `unsafe { ..._impl(..) }`
// call in this file.

fn scan(src: &[f32]) -> Result<Range> {
    if src.len() < 16 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return scalar::scan(src);
    }
    // SAFETY: AVX-512 is available (see above).
    unsafe { scan_impl(src) }
}

/// How far ahead (in floats) the streaming loops prefetch: far enough to cover DRAM latency at
/// these kernels' speeds (a compute-heavy loop keeps too few loads in flight on its own).
pub(super) const AHEAD: usize = 2048;

/// Prefetches the 64-byte line holding `p` (any address: a prefetch never faults).
#[inline(always)]
pub(super) fn prefetch(p: *const f32) {
    // SAFETY: prefetching has no architectural effect and accepts any address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn scan_impl(src: &[f32]) -> Result<Range> {
    let abs_mask = _mm512_set1_epi32(0x7FFF_FFFF);
    // |x| as an integer is above this for NaN, ±Inf and beyond ±2^126.
    let limit = _mm512_set1_epi32(scalar::MAX_INPUT.to_bits() as i32);
    let mut mag = _mm512_setzero_si512();
    let (mut lo, mut hi) = (
        [_mm512_set1_ps(f32::INFINITY); 4],
        [_mm512_set1_ps(f32::NEG_INFINITY); 4],
    );
    // Four independent accumulators over 64 floats, then one over 16, then scalar.
    let (n, p) = (src.len(), src.as_ptr());
    let mut i = 0;
    while i + 64 <= n {
        for l in 0..4 {
            prefetch(p.wrapping_add(i + AHEAD + 16 * l));
        }
        // SAFETY: i + 64 <= n.
        let v: [__m512; 4] =
            core::array::from_fn(|j| unsafe { _mm512_loadu_ps(p.add(i + 16 * j)) });
        let a: [__m512i; 4] =
            core::array::from_fn(|j| _mm512_and_si512(_mm512_castps_si512(v[j]), abs_mask));
        mag = _mm512_max_epu32(
            mag,
            _mm512_max_epu32(_mm512_max_epu32(a[0], a[1]), _mm512_max_epu32(a[2], a[3])),
        );
        for j in 0..4 {
            lo[j] = _mm512_min_ps(lo[j], v[j]);
            hi[j] = _mm512_max_ps(hi[j], v[j]);
        }
        i += 64;
    }
    while i + 16 <= n {
        // SAFETY: i + 16 <= n.
        let v = unsafe { _mm512_loadu_ps(p.add(i)) };
        mag = _mm512_max_epu32(mag, _mm512_and_si512(_mm512_castps_si512(v), abs_mask));
        lo[0] = _mm512_min_ps(lo[0], v);
        hi[0] = _mm512_max_ps(hi[0], v);
        i += 16;
    }
    let tail = &src[i..];
    if _mm512_cmpgt_epu32_mask(mag, limit) != 0 {
        // The scalar scan finds the first bad element and its kind.
        return scalar::scan(src);
    }
    let lo = _mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3]));
    let hi = _mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3]));
    let mut r = if tail.is_empty() {
        Range {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    } else {
        scalar::scan(tail)?
    };
    let (l, h) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
    if l < r.min {
        r.min = l;
    }
    if h > r.max {
        r.max = h;
    }
    Ok(r)
}

/// `clamp(rne(x / scale) + zp, -8, 7)` as 16 int32 lanes (clamped in float, which for finite x
/// and positive scale equals the scalar's saturating integer arithmetic).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn codes16(x: __m512, scale: __m512, zp: __m512) -> __m512i {
    let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_div_ps(x, scale),
    );
    let q = _mm512_add_ps(q, zp);
    let q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-8.0)), _mm512_set1_ps(7.0));
    _mm512_cvtps_epi32(q)
}

/// Packs 16 int32 codes (in -8..7, element order) into 8 bytes, low nibble first.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn pack16(codes: __m512i) -> __m128i {
    // Each 64-bit lane holds codes 2i (low dword) and 2i+1 (high dword).
    let v = _mm512_and_si512(codes, _mm512_set1_epi64(0x0000_000F_0000_000F));
    _mm512_cvtepi64_epi8(_mm512_or_si512(v, _mm512_srli_epi64::<28>(v)))
}

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

/// [`codes16`] without a division, for a scale with [`fast_scale`] and `r = 1 / scale`: x is
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

fn quantize(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    if src.len() < 16 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.quantize)(src, scale, zp, dst);
    }
    // SAFETY: AVX-512 is available.
    unsafe { quantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn quantize_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    let (s, z) = (_mm512_set1_ps(scale), _mm512_set1_ps(f32::from(zp)));
    let (fast, r) = (fast_scale(scale), _mm512_set1_ps(1.0 / scale));
    let whole = src.len() / 16 * 16;
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= whole <= src.len() == dst.len().
        unsafe {
            prefetch(src.as_ptr().wrapping_add(i + AHEAD));
            let x = _mm512_loadu_ps(src.as_ptr().add(i));
            let c = if fast {
                codes16_fast(x, s, r, z)
            } else {
                codes16(x, s, z)
            };
            _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi8(c));
        }
    }
    (scalar::KERNELS.quantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn quantize_packed(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    if src.len() < 32 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.quantize_packed)(src, scale, zp, dst);
    }
    // SAFETY: AVX-512 is available.
    unsafe { quantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn quantize_packed_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    let (s, z) = (_mm512_set1_ps(scale), _mm512_set1_ps(f32::from(zp)));
    let (fast, r) = (fast_scale(scale), _mm512_set1_ps(1.0 / scale));
    let whole = src.len() / 32 * 32;
    for i in (0..whole).step_by(32) {
        // SAFETY: 32 floats at i; 16 bytes at i/2 (dst.len() == ceil(src.len()/2)).
        unsafe {
            prefetch(src.as_ptr().wrapping_add(i + AHEAD));
            prefetch(src.as_ptr().wrapping_add(i + AHEAD + 16));
            let (x0, x1) = (
                _mm512_loadu_ps(src.as_ptr().add(i)),
                _mm512_loadu_ps(src.as_ptr().add(i + 16)),
            );
            let (c0, c1) = if fast {
                (codes16_fast(x0, s, r, z), codes16_fast(x1, s, r, z))
            } else {
                (codes16(x0, s, z), codes16(x1, s, z))
            };
            let (a, b) = (pack16(c0), pack16(c1));
            _mm_storeu_si128(dst.as_mut_ptr().add(i / 2).cast(), _mm_unpacklo_epi64(a, b));
        }
    }
    (scalar::KERNELS.quantize_packed)(&src[whole..], scale, zp, &mut dst[whole / 2..]);
}

fn dequantize(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    if dst.len() < 16 {
        // Less than one vector: the scalar loop has no set-up to pay for.
        return (scalar::KERNELS.dequantize)(src, scale, zp, dst);
    }
    // SAFETY: AVX-512 is available.
    unsafe { dequantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_impl(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    let s = _mm512_set1_ps(scale);
    let z = _mm512_set1_epi32(i32::from(zp));
    let whole = src.len() / 16 * 16;
    for i in (0..whole).step_by(16) {
        // SAFETY: 16 codes and 16 floats at i are in bounds.
        unsafe {
            let q = _mm512_cvtepi8_epi32(_mm_loadu_si128(src.as_ptr().add(i).cast()));
            let y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, z)), s);
            _mm512_storeu_ps(dst.as_mut_ptr().add(i).cast(), y);
        }
    }
    (scalar::KERNELS.dequantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn dequantize_packed(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    if dst.len() < 64 {
        // Below two iterations of 32 the scalar loop (which the compiler vectorises) is as fast.
        return (scalar::KERNELS.dequantize_packed)(src, scale, zp, dst);
    }
    // SAFETY: AVX-512 is available.
    unsafe { dequantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn dequantize_packed_impl(
    src: &[u8],
    scale: f32,
    zp: i8,
    dst: &mut [MaybeUninit<f32>],
) {
    // `code - zp` by nibble, as bytes (-15..=15): converted exactly to float and multiplied once,
    // this is `scalar::dequantize_one`.
    let codes = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
    let table = _mm_sub_epi8(codes, _mm_set1_epi8(zp));
    let (s, m) = (_mm512_set1_ps(scale), _mm_set1_epi8(0x0F));
    let whole = dst.len() / 32 * 32;
    for i in (0..whole).step_by(32) {
        // SAFETY: 16 bytes at i/2 (src.len() == ceil(dst.len()/2)) and 32 floats at i.
        unsafe {
            let b = _mm_loadu_si128(src.as_ptr().add(i / 2).cast());
            let (lo, hi) = (
                _mm_and_si128(b, m),
                _mm_and_si128(_mm_srli_epi16::<4>(b), m),
            );
            // Element order: byte j's low nibble, then its high nibble.
            let first = _mm_shuffle_epi8(table, _mm_unpacklo_epi8(lo, hi));
            let second = _mm_shuffle_epi8(table, _mm_unpackhi_epi8(lo, hi));
            let o = dst.as_mut_ptr().add(i).cast::<f32>();
            _mm512_storeu_ps(
                o,
                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(first)), s),
            );
            _mm512_storeu_ps(
                o.add(16),
                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(second)), s),
            );
        }
    }
    (scalar::KERNELS.dequantize_packed)(&src[whole / 2..], scale, zp, &mut dst[whole..]);
}

fn find_invalid_code(src: &[i8]) -> Option<usize> {
    // SAFETY: AVX-512 is available.
    unsafe { find_invalid_code_impl(src) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn find_invalid_code_impl(src: &[i8]) -> Option<usize> {
    let whole = src.len() / 64 * 64;
    let mut bad = _mm512_setzero_si512();
    for i in (0..whole).step_by(64) {
        // SAFETY: 64 bytes at i.
        let v = unsafe { _mm512_loadu_si512(src.as_ptr().add(i).cast()) };
        // Valid codes -8..7 become 0..15: any bit of the high nibble marks a bad one.
        bad = _mm512_or_si512(bad, _mm512_add_epi8(v, _mm512_set1_epi8(8)));
    }
    if _mm512_test_epi8_mask(bad, _mm512_set1_epi8(-16)) != 0 {
        return (scalar::KERNELS.find_invalid_code)(&src[..whole]);
    }
    (scalar::KERNELS.find_invalid_code)(&src[whole..]).map(|i| i + whole)
}

fn pack(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    // SAFETY: AVX-512 is available.
    unsafe { pack_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn pack_impl(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    let whole = src.len() / 64 * 64;
    for i in (0..whole).step_by(64) {
        // SAFETY: 64 codes at i, 32 bytes at i/2.
        unsafe {
            let c = _mm512_loadu_si512(src.as_ptr().add(i).cast());
            let nibbles = _mm512_and_si512(c, _mm512_set1_epi8(0x0F));
            // Each 16-bit lane becomes lo + 16 * hi (at most 255), then one byte.
            let pairs = _mm512_maddubs_epi16(nibbles, _mm512_set1_epi16(0x1001));
            _mm256_storeu_si256(
                dst.as_mut_ptr().add(i / 2).cast(),
                _mm512_cvtepi16_epi8(pairs),
            );
        }
    }
    (scalar::KERNELS.pack)(&src[whole..], &mut dst[whole / 2..]);
}

fn unpack(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    // SAFETY: AVX-512 is available.
    unsafe { unpack_impl(src, dst) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn unpack_impl(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    let eight = _mm512_set1_epi8(8);
    let whole = dst.len() / 64 * 64;
    for i in (0..whole).step_by(64) {
        // SAFETY: 32 bytes at i/2, 64 codes at i.
        unsafe {
            let b = _mm512_cvtepu8_epi16(_mm256_loadu_si256(src.as_ptr().add(i / 2).cast()));
            // Each 16-bit lane: low byte = low nibble (element 2i), high byte = high nibble.
            let lo = _mm512_and_si512(b, _mm512_set1_epi16(0x0F));
            let hi = _mm512_slli_epi16::<4>(_mm512_and_si512(b, _mm512_set1_epi16(0xF0)));
            let nibbles = _mm512_or_si512(lo, hi);
            // Sign-extend a nibble n: (n ^ 8) - 8.
            let codes = _mm512_sub_epi8(_mm512_xor_si512(nibbles, eight), eight);
            _mm512_storeu_si512(dst.as_mut_ptr().add(i).cast(), codes);
        }
    }
    (scalar::KERNELS.unpack)(&src[whole / 2..], &mut dst[whole..]);
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
