//! AVX2 kernels of the formats whose blocks are not 32 values: Q4_K, IQ4_XS and NVFP4, both
//! directions, 8 floats per vector (the Q4_K and IQ4_XS searches: the 8 sub-blocks of one
//! super-block, one per lane). They follow the AVX-512 ones (`avx512_superblocks`) step by step,
//! and the
//! arguments of equality with the scalar references given there hold here unchanged (the same
//! operations per element; no fused multiply-add anywhere in this file).
//!
//! Every function here is `#[target_feature]` AVX2 (with F16C) and reached only through
//! `avx2_blocks::BLOCKS`, i.e. through `avx2::KERNELS`, which `kernels::levels()` hands out only
//! when `avx2::available()` is true.

use super::avx512_superblocks::{
    iq4_xs_header, iq4_xs_levels, nvfp4_thresholds, q4_k_levels, q4_k_scale_min, IQ4_KV, IQ4_MIDS,
    MAGIC, NVFP4_MIDS,
};
use crate::reference::formats::common::read_f16;
use crate::reference::formats::fp16::{f16_is_finite, f16_to_f32};
use crate::reference::formats::{iq4_nl, iq4_xs, mxfp4, nvfp4, q4_k};
use crate::{Error, Result};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// `|x|` (the sign bit cleared).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn abs_ps(x: __m256) -> __m256 {
    _mm256_castsi256_ps(_mm256_and_si256(
        _mm256_castps_si256(x),
        _mm256_set1_epi32(0x7FFF_FFFF),
    ))
}

/// The low 8 bytes of `b` (small signed integers) as floats (exact).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn bytes8_to_ps(b: __m128i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b))
}

/// Stores `f(k) op` for the 16 small integers in the bytes of `k`: 16 floats at `o`.
///
/// # Safety
/// 16 writable floats at `o`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn store16(o: *mut f32, k: __m128i, f: impl Fn(__m256) -> __m256) {
    // SAFETY: the caller guarantees 16 floats at o.
    unsafe {
        _mm256_storeu_ps(o, f(bytes8_to_ps(k)));
        _mm256_storeu_ps(o.add(8), f(bytes8_to_ps(_mm_srli_si128::<8>(k))));
    }
}

// ---------------------------------------------------------------- dequantization

/// Q4_K: `y = (d * sc) * q - (dmin * m)`, a multiply then a subtraction (no FMA).
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn dequantize_q4_k(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let nib = _mm256_set1_epi8(0x0F);
    for (b, out) in src
        .chunks_exact(q4_k::BYTES)
        .zip(dst.chunks_exact_mut(q4_k::ELEMENTS))
    {
        let (dh, mh) = (read_f16(b, 0), read_f16(b, 2));
        if !f16_is_finite(dh) || !f16_is_finite(mh) {
            return Err(Error::NonFinite);
        }
        let (d, dmin) = (f16_to_f32(dh), f16_to_f32(mh));
        let s = &b[4..16];
        for c in 0..4 {
            // SAFETY: 32 code bytes at 16 + 32 c < 144; 64 floats at 64 c < 256.
            unsafe {
                let q = _mm256_loadu_si256(b.as_ptr().add(16 + 32 * c).cast());
                let lo = _mm256_and_si256(q, nib);
                let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(q), nib);
                let o = out.as_mut_ptr().add(64 * c).cast::<f32>();
                for (k, v) in [lo, hi].into_iter().enumerate() {
                    let (sc, m) = q4_k_scale_min(2 * c + k, s);
                    let dd = _mm256_set1_ps(d * f32::from(sc));
                    let mm = _mm256_set1_ps(dmin * f32::from(m));
                    let y = |f| _mm256_sub_ps(_mm256_mul_ps(f, dd), mm);
                    store16(o.add(32 * k), _mm256_castsi256_si128(v), y);
                    store16(o.add(32 * k + 16), _mm256_extracti128_si256::<1>(v), y);
                }
            }
        }
    }
    Ok(())
}

/// IQ4_XS: `dl = d * (ls - 32)`, then `y = dl * KVALUES[q]`, one rounding.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn dequantize_iq4_xs(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: a 16-byte array.
    let t = unsafe { _mm_loadu_si128(iq4_nl::KVALUES.as_ptr().cast()) };
    let nib = _mm_set1_epi8(0x0F);
    for (b, out) in src
        .chunks_exact(iq4_xs::BYTES)
        .zip(dst.chunks_exact_mut(iq4_xs::ELEMENTS))
    {
        let dh = read_f16(b, 0);
        if !f16_is_finite(dh) {
            return Err(Error::NonFinite);
        }
        let d = f16_to_f32(dh);
        let scales_h = read_f16(b, 2);
        for ib in 0..8 {
            let low = (b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0f;
            let high = ((scales_h >> (2 * ib)) & 3) as u8;
            let ls = i32::from(low | (high << 4));
            let dl = _mm256_set1_ps(d * (ls - 32) as f32);
            // SAFETY: 16 code bytes at 8 + 16 ib < 136; 32 floats at 32 ib < 256.
            unsafe {
                let q = _mm_loadu_si128(b.as_ptr().add(8 + 16 * ib).cast());
                let lo = _mm_shuffle_epi8(t, _mm_and_si128(q, nib));
                let hi = _mm_shuffle_epi8(t, _mm_and_si128(_mm_srli_epi16::<4>(q), nib));
                let o = out.as_mut_ptr().add(32 * ib).cast::<f32>();
                let y = |f| _mm256_mul_ps(f, dl);
                store16(o, lo, y);
                store16(o.add(16), hi, y);
            }
        }
    }
    Ok(())
}

/// NVFP4: `y = KVALUES[q] * d`, one rounding, `d` the reference's decoding of the scale byte.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn dequantize_nvfp4(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: a 16-byte array.
    let t = unsafe { _mm_loadu_si128(mxfp4::KVALUES.as_ptr().cast()) };
    let nib = _mm_set1_epi8(0x0F);
    for (b, out) in src
        .chunks_exact(nvfp4::BYTES)
        .zip(dst.chunks_exact_mut(nvfp4::ELEMENTS))
    {
        for s in 0..4 {
            let d = _mm256_set1_ps(nvfp4::ue4m3_to_f32(b[s]));
            // SAFETY: 8 code bytes at 4 + 8 s < 36; 16 floats at 16 s < 64.
            unsafe {
                let q = _mm_loadl_epi64(b.as_ptr().add(4 + 8 * s).cast());
                let lo = _mm_and_si128(q, nib);
                let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), nib);
                let k = _mm_shuffle_epi8(t, _mm_unpacklo_epi64(lo, hi));
                store16(out.as_mut_ptr().add(16 * s).cast(), k, |f| {
                    _mm256_mul_ps(f, d)
                });
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- NVFP4 quantization

/// `mxfp4::best_index(x, d)` of 8 values: the number of thresholds (from
/// `avx512_superblocks::nvfp4_thresholds`) strictly below `|x|`, plus 8 for x < 0 unless that
/// number is 0. The proof is that of `avx512_superblocks::nvfp4_codes`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn nvfp4_codes(x: __m256, t: &[__m256; 7]) -> __m256i {
    let m = abs_ps(x);
    let mut idx = _mm256_setzero_si256();
    for &ti in t {
        // A true comparison is all ones, i.e. -1: subtracting it counts.
        let gt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(m, ti));
        idx = _mm256_sub_epi32(idx, gt);
    }
    let neg = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_setzero_ps()));
    let zero = _mm256_cmpeq_epi32(idx, _mm256_setzero_si256());
    let eight = _mm256_andnot_si256(zero, _mm256_and_si256(neg, _mm256_set1_epi32(8)));
    _mm256_or_si256(idx, eight)
}

/// `avx512_superblocks::ue4m3_encode16` with 8 lanes (`v = amax / 6`, finite, at most 448).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn ue4m3_encode8(v: __m256) -> __m256i {
    let bits = _mm256_castps_si256(v);
    let e = _mm256_sub_epi32(
        _mm256_and_si256(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(0xff)),
        _mm256_set1_epi32(120),
    );
    let sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(1), e); // e <= 0
    let ms = _mm256_cvttps_epi32(_mm256_add_ps(
        _mm256_mul_ps(v, _mm256_set1_ps(512.0)),
        _mm256_set1_ps(0.5),
    ));
    let seven = _mm256_set1_epi32(7);
    let ms = _mm256_min_epi32(ms, seven);
    let m = _mm256_add_epi32(
        _mm256_and_si256(_mm256_srli_epi32::<20>(bits), seven),
        _mm256_and_si256(_mm256_srli_epi32::<19>(bits), _mm256_set1_epi32(1)),
    );
    let carry = _mm256_cmpgt_epi32(m, seven);
    let m = _mm256_andnot_si256(carry, m);
    let e = _mm256_sub_epi32(e, carry); // carry is -1 where set
    let normal = _mm256_or_si256(_mm256_slli_epi32::<3>(e), m);
    let top = _mm256_cmpgt_epi32(e, _mm256_set1_epi32(14)); // e >= 15
    let normal = _mm256_blendv_epi8(normal, _mm256_set1_epi32(0x7e), top);
    _mm256_blendv_epi8(normal, ms, sub)
}

/// `avx512_superblocks::ue4m3_decode16` with 8 lanes.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn ue4m3_decode8(ue: __m256i) -> __m256 {
    let e = _mm256_srli_epi32::<3>(ue);
    let m = _mm256_and_si256(ue, _mm256_set1_epi32(7));
    let normal = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_slli_epi32::<23>(_mm256_add_epi32(e, _mm256_set1_epi32(119))),
        _mm256_slli_epi32::<20>(m),
    ));
    let sub = _mm256_mul_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(1.0 / 1024.0));
    let e0 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
    _mm256_blendv_ps(normal, sub, e0)
}

/// Two NVFP4 blocks (8 sub-blocks) at once, as `avx512_superblocks::nvfp4_x4`: `false`, having
/// written nothing, when a block holds NaN or infinity or a sub-block's `amax / 6` exceeds 448.
#[target_feature(enable = "avx2,f16c")]
unsafe fn nvfp4_x2(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    debug_assert!(x.len() >= 128 && out.len() >= 2 * nvfp4::BYTES);
    super::avx2::prefetch(x.as_ptr().wrapping_add(super::avx2::AHEAD));
    super::avx2::prefetch(x.as_ptr().wrapping_add(super::avx2::AHEAD + 64));
    let max = _mm256_set1_epi32(f32::MAX.to_bits() as i32);
    // SAFETY: 128 floats.
    let v: [__m256; 16] =
        core::array::from_fn(|i| unsafe { _mm256_loadu_ps(x.as_ptr().add(8 * i)) });
    let mut bad = _mm256_setzero_si256();
    let mut amax = [0u32; 8];
    for s in 0..8 {
        let (a0, a1) = (
            _mm256_castps_si256(abs_ps(v[2 * s])),
            _mm256_castps_si256(abs_ps(v[2 * s + 1])),
        );
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(a0, max));
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(a1, max));
        let m = _mm256_max_epu32(a0, a1);
        let m = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256::<1>(m));
        let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
        let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
        amax[s] = _mm_cvtsi128_si32(m) as u32;
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return false;
    }
    // SAFETY: an 8-element array.
    let amax = unsafe { _mm256_loadu_ps(amax.as_ptr().cast()) };
    let scaled = _mm256_div_ps(amax, _mm256_set1_ps(6.0));
    if _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(scaled, _mm256_set1_ps(448.0))) != 0 {
        return false;
    }
    let ue = ue4m3_encode8(scaled);
    let d = ue4m3_decode8(ue);
    let zero_d = _mm256_cmp_ps::<_CMP_EQ_OQ>(d, _mm256_setzero_ps());
    let t: [__m256; 7] = core::array::from_fn(|i| {
        let t = _mm256_mul_ps(_mm256_set1_ps(NVFP4_MIDS[i]), d);
        _mm256_blendv_ps(t, _mm256_set1_ps(f32::INFINITY), zero_d)
    });
    let mut ues = [0i32; 8];
    // SAFETY: an 8-element array.
    unsafe { _mm256_storeu_si256(ues.as_mut_ptr().cast(), ue) };
    let mut bytes = [0u8; 2 * nvfp4::BYTES];
    for s in 0..8 {
        let (b, j) = (s / 4, s % 4);
        bytes[b * nvfp4::BYTES + j] = ues[s] as u8;
        let lane = _mm256_set1_epi32(s as i32);
        let ts: [__m256; 7] = core::array::from_fn(|i| _mm256_permutevar8x32_ps(t[i], lane));
        let c0 = nvfp4_codes(v[2 * s], &ts);
        let c1 = nvfp4_codes(v[2 * s + 1], &ts);
        let p = _mm256_or_si256(c0, _mm256_slli_epi32::<4>(c1));
        let p16 = _mm_packs_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
        let p8 = _mm_packus_epi16(p16, p16);
        // SAFETY: 8 bytes at 36 b + 4 + 8 j <= 64 of a 72-byte array.
        unsafe {
            _mm_storel_epi64(
                bytes.as_mut_ptr().add(b * nvfp4::BYTES + 4 + 8 * j).cast(),
                p8,
            )
        };
    }
    for (o, b) in out.iter_mut().zip(bytes) {
        o.write(b);
    }
    true
}

/// NVFP4 blocks two at a time ([`nvfp4_x2`]); the rest, and any two it declines, one at a
/// time ([`nvfp4_each`]), which reports the first bad block.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn quantize_nvfp4(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    const E: usize = nvfp4::ELEMENTS;
    const B: usize = nvfp4::BYTES;
    let runs = src.len() / (2 * E);
    let (head, tail) = dst.split_at_mut(runs * 2 * B);
    for (x, out) in src[..runs * 2 * E]
        .chunks_exact(2 * E)
        .zip(head.chunks_exact_mut(2 * B))
    {
        // SAFETY: 128 floats and 72 bytes; AVX2 is enabled here.
        if !unsafe { nvfp4_x2(x, out) } {
            // SAFETY: as above.
            unsafe { nvfp4_each(x, out)? };
        }
    }
    // SAFETY: AVX2 is enabled here.
    unsafe { nvfp4_each(&src[runs * 2 * E..], tail) }
}

/// NVFP4 blocks one at a time, as `avx512_superblocks::quantize_nvfp4` does them.
#[target_feature(enable = "avx2,f16c")]
unsafe fn nvfp4_each(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    let max = _mm256_set1_epi32(f32::MAX.to_bits() as i32);
    for (x, out) in src
        .chunks_exact(nvfp4::ELEMENTS)
        .zip(dst.chunks_exact_mut(nvfp4::BYTES))
    {
        super::avx2::prefetch(x.as_ptr().wrapping_add(super::avx2::AHEAD));
        // SAFETY: 64 floats.
        let v: [__m256; 8] =
            core::array::from_fn(|i| unsafe { _mm256_loadu_ps(x.as_ptr().add(8 * i)) });
        let a: [__m256i; 8] = core::array::from_fn(|i| _mm256_castps_si256(abs_ps(v[i])));
        let mut bad = _mm256_setzero_si256();
        for &ai in &a {
            bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(ai, max));
        }
        if _mm256_testz_si256(bad, bad) == 0 {
            return Err(Error::NonFinite);
        }
        let mut ue = [0u8; 4];
        for s in 0..4 {
            // The largest magnitude (the order of the abs bits is that of the finite values).
            let m = _mm256_max_epu32(a[2 * s], a[2 * s + 1]);
            let m = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256::<1>(m));
            let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
            let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
            let amax = f32::from_bits(_mm_cvtsi128_si32(m) as u32);
            let scaled = amax / 6.0;
            if scaled > 448.0 {
                return Err(Error::ValueOutOfRange);
            }
            ue[s] = nvfp4::fp32_to_ue4m3(scaled);
        }
        let mut codes = [0u8; 32];
        for s in 0..4 {
            let t = nvfp4_thresholds(nvfp4::ue4m3_to_f32(ue[s]));
            let t: [__m256; 7] = core::array::from_fn(|i| _mm256_set1_ps(t[i]));
            let c0 = nvfp4_codes(v[2 * s], &t);
            let c1 = nvfp4_codes(v[2 * s + 1], &t);
            // Byte j: code j | code (j + 8) << 4.
            let p = _mm256_or_si256(c0, _mm256_slli_epi32::<4>(c1));
            let p16 = _mm_packs_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
            let p8 = _mm_packus_epi16(p16, p16);
            // SAFETY: 8 bytes at 8 s of a 32-byte array.
            unsafe { _mm_storel_epi64(codes.as_mut_ptr().add(8 * s).cast(), p8) };
        }
        // SAFETY: `out` holds 36 bytes: 4 scale bytes, then 32 code bytes.
        unsafe {
            let o = out.as_mut_ptr().cast::<u8>();
            o.cast::<[u8; 4]>().write_unaligned(ue);
            o.add(4).cast::<[u8; 32]>().write_unaligned(codes);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- Q4_K quantization

/// `code(nearest_int(v))` of `q4_k` as a float, 8 lanes: the proof is that of
/// `avx512_superblocks::code_ps` (NaN lanes: low bits 0, so code 0).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn code_ps(v: __m256) -> __m256 {
    let ord = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_ORD_Q>(v, v));
    let t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(MAGIC)));
    let low = _mm256_and_si256(_mm256_and_si256(t, _mm256_set1_epi32(0x007F_FFFF)), ord);
    let f = _mm256_or_si256(low, _mm256_set1_epi32(0x4B00_0000));
    let n = _mm256_sub_ps(_mm256_castsi256_ps(f), _mm256_set1_ps(MAGIC));
    _mm256_min_ps(_mm256_max_ps(n, _mm256_setzero_ps()), _mm256_set1_ps(15.0))
}

/// `q4_k`'s `weighted_error` in every lane, in element order.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn weighted_error8(
    x: &[__m256; 32],
    w: &[__m256; 32],
    q: &[__m256; 32],
    scale: __m256,
    offset: __m256,
) -> __m256 {
    let mut err = _mm256_setzero_ps();
    for i in 0..32 {
        let diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, q[i]), offset), x[i]);
        err = _mm256_add_ps(err, _mm256_mul_ps(w[i], _mm256_mul_ps(diff, diff)));
    }
    err
}

/// `b ? y : x` per lane, for a comparison mask `b`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn sel(x: __m256, b: __m256, y: __m256) -> __m256 {
    _mm256_blendv_ps(x, y, b)
}

/// `q4_k`'s `fit_sub_block` of the 8 sub-blocks of one super-block, lane j holding sub-block j:
/// `avx512_superblocks::fit16` with 8 lanes.
#[target_feature(enable = "avx2,f16c")]
fn fit8(x: &[__m256; 32]) -> (__m256, __m256, [__m256; 32]) {
    let zero = _mm256_setzero_ps();
    let mut sum_x2 = zero;
    for v in x {
        sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(*v, *v));
    }
    let av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.0)));
    let w: [__m256; 32] = core::array::from_fn(|i| _mm256_add_ps(av_x, abs_ps(x[i])));
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = w[0];
    let mut sum_x = _mm256_mul_ps(sum_w, x[0]);
    for i in 1..32 {
        min = sel(min, _mm256_cmp_ps::<_CMP_LT_OQ>(x[i], min), x[i]);
        max = sel(max, _mm256_cmp_ps::<_CMP_GT_OQ>(x[i], max), x[i]);
        sum_w = _mm256_add_ps(sum_w, w[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(w[i], x[i]));
    }
    min = sel(min, _mm256_cmp_ps::<_CMP_GT_OQ>(min, zero), zero);
    let flat = _mm256_cmp_ps::<_CMP_EQ_OQ>(max, min);
    let min0 = min;

    let iscale = _mm256_div_ps(_mm256_set1_ps(15.0), _mm256_sub_ps(max, min));
    let mut scale = _mm256_div_ps(_mm256_set1_ps(1.0), iscale);
    let mut codes: [__m256; 32] =
        core::array::from_fn(|i| code_ps(_mm256_mul_ps(iscale, _mm256_sub_ps(x[i], min))));
    let mut best_error = weighted_error8(x, &w, &codes, scale, min);

    for step in 0..=20 {
        let num = (-1.0f32 + 0.1f32 * step as f32) + 15.0f32;
        let iscale = _mm256_div_ps(_mm256_set1_ps(num), _mm256_sub_ps(max, min));
        let (mut sum_l, mut sum_l2, mut sum_xl) = (zero, zero, zero);
        let mut aux = [zero; 32];
        for i in 0..32 {
            let l = code_ps(_mm256_mul_ps(iscale, _mm256_sub_ps(x[i], min)));
            aux[i] = l;
            let wl = _mm256_mul_ps(w[i], l);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, l));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, x[i]));
        }
        let det = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        let pos = _mm256_cmp_ps::<_CMP_GT_OQ>(det, zero);
        if _mm256_movemask_ps(pos) == 0 {
            continue;
        }
        let mut this_scale = _mm256_div_ps(
            _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)),
            det,
        );
        let mut this_min = _mm256_div_ps(
            _mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)),
            det,
        );
        let up = _mm256_cmp_ps::<_CMP_GT_OQ>(this_min, zero);
        this_min = sel(this_min, up, zero);
        this_scale = sel(this_scale, up, _mm256_div_ps(sum_xl, sum_l2));
        let cur = weighted_error8(x, &w, &aux, this_scale, this_min);
        let better = _mm256_and_ps(pos, _mm256_cmp_ps::<_CMP_LT_OQ>(cur, best_error));
        for (c, a) in codes.iter_mut().zip(aux) {
            *c = sel(*c, better, a);
        }
        best_error = sel(best_error, better, cur);
        scale = sel(scale, better, this_scale);
        min = sel(min, better, this_min);
    }
    scale = sel(scale, flat, zero);
    min = sel(min, flat, min0);
    for c in &mut codes {
        *c = sel(*c, flat, zero);
    }
    (scale, _mm256_xor_ps(min, _mm256_set1_ps(-0.0)), codes)
}

/// One Q4_K super-block, or `None` (nothing written) when it holds NaN or infinity or its `d`
/// or `dmin` overflows fp16: the caller then runs the reference, which reports the error.
#[target_feature(enable = "avx2,f16c")]
unsafe fn q4_k_x1(x: &[f32]) -> Option<[u8; q4_k::BYTES]> {
    debug_assert!(x.len() >= 256);
    let lanes = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    let max = _mm256_set1_epi32(f32::MAX.to_bits() as i32);
    let mut xs = [_mm256_setzero_ps(); 32];
    let mut bad = _mm256_setzero_si256();
    for (i, v) in xs.iter_mut().enumerate() {
        // SAFETY: lane j reads x[32 j + i] < 256.
        *v = unsafe { _mm256_i32gather_ps::<4>(x.as_ptr().add(i), lanes) };
        bad = _mm256_or_si256(
            bad,
            _mm256_cmpgt_epi32(_mm256_castps_si256(abs_ps(*v)), max),
        );
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return None;
    }
    let (scale, min, first) = fit8(&xs);
    let (mut sc, mut mn) = ([0.0f32; 8], [0.0f32; 8]);
    // SAFETY: 8-element arrays.
    unsafe {
        _mm256_storeu_ps(sc.as_mut_ptr(), scale);
        _mm256_storeu_ps(mn.as_mut_ptr(), min);
    }
    let (packed, dh, mh) = q4_k_levels(&sc, &mn)?;
    let (d_all, dmin_all) = (f16_to_f32(dh), f16_to_f32(mh));
    // Codes of sub-block j in vectors 4 j .. 4 j + 4 (int32 lanes, element order).
    let mut codes = [_mm256_setzero_si256(); 32];
    for j in 0..8 {
        let (s, m) = q4_k_scale_min(j, &packed);
        let d = d_all * f32::from(s);
        if d == 0.0 {
            // The reference keeps the first-pass codes of this sub-block (lane j of `first`).
            let mut c = [0i32; 32];
            for (i, ci) in c.iter_mut().enumerate() {
                let mut l = [0.0f32; 8];
                // SAFETY: an 8-element array.
                unsafe { _mm256_storeu_ps(l.as_mut_ptr(), first[i]) };
                *ci = l[j] as i32;
            }
            for h in 0..4 {
                // SAFETY: 8 elements at 8 h of a 32-element array.
                codes[4 * j + h] = unsafe { _mm256_loadu_si256(c.as_ptr().add(8 * h).cast()) };
            }
            continue;
        }
        let (vd, vdm) = (_mm256_set1_ps(d), _mm256_set1_ps(dmin_all * f32::from(m)));
        for h in 0..4 {
            // SAFETY: 8 floats at 32 j + 8 h < 256.
            let v = unsafe { _mm256_loadu_ps(x.as_ptr().add(32 * j + 8 * h)) };
            let q = code_ps(_mm256_div_ps(_mm256_add_ps(v, vdm), vd));
            codes[4 * j + h] = _mm256_cvttps_epi32(q);
        }
    }
    let mut out = [0u8; q4_k::BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    out[2..4].copy_from_slice(&mh.to_le_bytes());
    out[4..16].copy_from_slice(&packed);
    for c in 0..4 {
        for h in 0..4 {
            // Bytes 32 c + 8 h + l: element 8 h + l of sub-block 2 c (low nibble) and of
            // sub-block 2 c + 1 (high nibble).
            let p = _mm256_or_si256(
                codes[8 * c + h],
                _mm256_slli_epi32::<4>(codes[8 * c + 4 + h]),
            );
            let p16 = _mm_packs_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
            let p8 = _mm_packus_epi16(p16, p16);
            // SAFETY: 8 bytes at 16 + 32 c + 8 h <= 136 of a 144-byte array.
            unsafe { _mm_storel_epi64(out.as_mut_ptr().add(16 + 32 * c + 8 * h).cast(), p8) };
        }
    }
    Some(out)
}

/// Quantizes Q4_K super-blocks one at a time ([`q4_k_x1`]); one it declines goes to the
/// reference, which reports its error.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn quantize_q4_k(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    for (x, out) in src
        .chunks_exact(q4_k::ELEMENTS)
        .zip(dst.chunks_exact_mut(q4_k::BYTES))
    {
        // SAFETY: 256 floats; AVX2 is enabled here.
        match unsafe { q4_k_x1(x) } {
            Some(b) => {
                for (o, v) in out.iter_mut().zip(b) {
                    o.write(v);
                }
            }
            None => crate::reference::formats::quantize_each(x, out, q4_k::quantize_block)?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- IQ4_XS quantization

/// `iq4_nl::best_index` of 8 values: the number of codebook midpoints at or below `v`, 15 for
/// NaN (see `avx512_superblocks::iq4_index`).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn iq4_index(v: __m256) -> __m256i {
    let mut idx = _mm256_setzero_si256();
    for &m in &IQ4_MIDS {
        // A true comparison is all ones, i.e. -1: subtracting it counts.
        let ge = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GE_OQ>(v, _mm256_set1_ps(m)));
        idx = _mm256_sub_epi32(idx, ge);
    }
    let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
    _mm256_blendv_epi8(idx, _mm256_set1_epi32(15), nan)
}

/// `KVALUES[i]` as floats for indices 0..16 (`lo`, `hi`: entries 0..8 and 8..16).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn iq4_value(i: __m256i, lo: __m256, hi: __m256) -> __m256 {
    let upper = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(i)); // bit 3 into the sign bit
    _mm256_blendv_ps(
        _mm256_permutevar8x32_ps(lo, i),
        _mm256_permutevar8x32_ps(hi, i),
        upper,
    )
}

/// The reference's weighted sums of `iq4_nl::search_scale` in every lane, in element order.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn iq4_sums8(
    x: &[__m256; 32],
    w: &[__m256; 32],
    id: __m256,
    kv: (__m256, __m256),
) -> (__m256, __m256) {
    let (mut sqx, mut sq2) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for j in 0..32 {
        let q = iq4_value(iq4_index(_mm256_mul_ps(id, x[j])), kv.0, kv.1);
        let wq = _mm256_mul_ps(w[j], q);
        sqx = _mm256_add_ps(sqx, _mm256_mul_ps(wq, x[j]));
        sq2 = _mm256_add_ps(sq2, _mm256_mul_ps(wq, q));
    }
    (sqx, sq2)
}

/// `iq4_nl::search_scale` of the 8 sub-blocks of one super-block, lane j holding sub-block j:
/// `avx512_superblocks::iq4_search16` with 8 lanes.
#[target_feature(enable = "avx2,f16c")]
fn iq4_search8(x: &[__m256; 32]) -> __m256 {
    // SAFETY: 8 floats at 0 and at 8 of a 16-element array.
    let kv = unsafe {
        (
            _mm256_loadu_ps(IQ4_KV.as_ptr()),
            _mm256_loadu_ps(IQ4_KV.as_ptr().add(8)),
        )
    };
    let zero = _mm256_setzero_ps();
    let w: [__m256; 32] = core::array::from_fn(|j| _mm256_mul_ps(x[j], x[j]));
    let (mut amax, mut max) = (zero, zero);
    for v in x {
        let a = abs_ps(*v);
        let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(a, amax);
        amax = sel(amax, gt, a);
        max = sel(max, gt, *v);
    }
    let nmax = _mm256_xor_ps(max, _mm256_set1_ps(-0.0));
    let d0 = _mm256_div_ps(nmax, _mm256_set1_ps(IQ4_KV[0]));
    let id0 = _mm256_div_ps(_mm256_set1_ps(1.0), d0);
    let (sqx, sq2) = iq4_sums8(x, &w, id0, kv);
    let pos = _mm256_cmp_ps::<_CMP_GT_OQ>(sq2, zero);
    let mut d = _mm256_and_ps(pos, _mm256_div_ps(sqx, sq2));
    let mut best = _mm256_mul_ps(d, sqx);
    for itry in -7..=7 {
        let num = (itry + i32::from(iq4_nl::KVALUES[0])) as f32;
        let id = _mm256_div_ps(_mm256_set1_ps(num), max);
        let (sqx, sq2) = iq4_sums8(x, &w, id, kv);
        let better = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(sq2, zero),
            _mm256_cmp_ps::<_CMP_GT_OQ>(_mm256_mul_ps(sqx, sqx), _mm256_mul_ps(best, sq2)),
        );
        d = sel(d, better, _mm256_div_ps(sqx, sq2));
        best = sel(best, better, _mm256_mul_ps(d, sqx));
    }
    let tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(amax, _mm256_set1_ps(1e-15));
    sel(d, tiny, zero)
}

/// One IQ4_XS super-block, or `None` (nothing written) when it holds NaN or infinity or its
/// fp16 `d` is not finite: the caller then runs the reference, which reports the error.
#[target_feature(enable = "avx2,f16c")]
unsafe fn iq4_xs_x1(x: &[f32]) -> Option<[u8; iq4_xs::BYTES]> {
    debug_assert!(x.len() >= 256);
    let lanes = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    let max = _mm256_set1_epi32(f32::MAX.to_bits() as i32);
    let mut xs = [_mm256_setzero_ps(); 32];
    let mut bad = _mm256_setzero_si256();
    for (i, v) in xs.iter_mut().enumerate() {
        // SAFETY: lane j reads x[32 j + i] < 256.
        *v = unsafe { _mm256_i32gather_ps::<4>(x.as_ptr().add(i), lanes) };
        bad = _mm256_or_si256(
            bad,
            _mm256_cmpgt_epi32(_mm256_castps_si256(abs_ps(*v)), max),
        );
    }
    if _mm256_testz_si256(bad, bad) == 0 {
        return None;
    }
    let mut sc = [0.0f32; 8];
    // SAFETY: an 8-element array.
    unsafe { _mm256_storeu_ps(sc.as_mut_ptr(), iq4_search8(&xs)) };
    let (dh, ls, idl) = iq4_xs_levels(&sc)?;
    let mut out = [0u8; iq4_xs::BYTES];
    iq4_xs_header(&mut out, dh, &ls);
    for (ib, &r) in idl.iter().enumerate() {
        let r = _mm256_set1_ps(r);
        let c: [__m256i; 4] = core::array::from_fn(|h| {
            // SAFETY: 8 floats at 32 ib + 8 h < 256.
            let v = unsafe { _mm256_loadu_ps(x.as_ptr().add(32 * ib + 8 * h)) };
            iq4_index(_mm256_mul_ps(r, v))
        });
        // Byte j of the sub-block: element j (low nibble) and element j + 16 (high nibble).
        for h in 0..2 {
            let p = _mm256_or_si256(c[h], _mm256_slli_epi32::<4>(c[h + 2]));
            let p16 = _mm_packs_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
            let p8 = _mm_packus_epi16(p16, p16);
            // SAFETY: 8 bytes at 8 + 16 ib + 8 h <= 128 of a 136-byte array.
            unsafe { _mm_storel_epi64(out.as_mut_ptr().add(8 + 16 * ib + 8 * h).cast(), p8) };
        }
    }
    Some(out)
}

/// Quantizes IQ4_XS super-blocks one at a time ([`iq4_xs_x1`]); one it declines goes to the
/// reference, which reports its error.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn quantize_iq4_xs(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    for (x, out) in src
        .chunks_exact(iq4_xs::ELEMENTS)
        .zip(dst.chunks_exact_mut(iq4_xs::BYTES))
    {
        // SAFETY: 256 floats; AVX2 is enabled here.
        match unsafe { iq4_xs_x1(x) } {
            Some(b) => {
                for (o, v) in out.iter_mut().zip(b) {
                    o.write(v);
                }
            }
            None => crate::reference::formats::quantize_each(x, out, iq4_xs::quantize_block)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::formats::mxfp4;

    /// Floats `k` either side of each of `points` (both signs), plus the specials.
    fn near(points: &[f32], k: u32) -> Vec<f32> {
        let mut xs = vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-30,
            -1e-30,
        ];
        for p in points {
            for q in [*p, -*p] {
                for i in 0..=k {
                    xs.push(f32::from_bits(q.to_bits().wrapping_add(i)));
                    xs.push(f32::from_bits(q.to_bits().wrapping_sub(i)));
                }
            }
        }
        xs
    }

    /// 8 lanes of `xs` at a time through `f` (int32 results), each lane's result to `check`.
    fn lanes(xs: &[f32], f: impl Fn(__m256) -> __m256i, mut check: impl FnMut(f32, i32)) {
        for chunk in xs.chunks(8) {
            let mut l = [0.0f32; 8];
            l[..chunk.len()].copy_from_slice(chunk);
            let mut r = [0i32; 8];
            // SAFETY: 8-element arrays (AVX2 is available: checked by the callers).
            unsafe { _mm256_storeu_si256(r.as_mut_ptr().cast(), f(_mm256_loadu_ps(l.as_ptr()))) };
            for (x, v) in l.iter().zip(r) {
                check(*x, v);
            }
        }
    }

    #[test]
    fn exact_lookups_match_the_references_near_every_decision() {
        if !super::super::avx2::available() {
            return;
        }
        // IQ4_XS / IQ4_NL nearest codebook entry.
        let mut points = IQ4_MIDS.to_vec();
        points.extend(IQ4_KV);
        let mut xs = near(&points, 300);
        xs.extend((0..50_000).map(|i| i as f32 * 0.006 - 150.0));
        lanes(
            &xs,
            // SAFETY: AVX2 is available.
            |v| unsafe { iq4_index(v) },
            |x, g| assert_eq!(g as usize, iq4_nl::best_index(x), "iq4 {x:e}"),
        );
        // Q4_K's clamped nearest_int.
        let mut points: Vec<f32> = (0..=16).map(|k| k as f32 + 0.5).collect();
        points.extend([4_194_304.0, 5.0e6, 16_777_216.0, 3e38]);
        let want = |x: f32| {
            if x.is_nan() {
                0
            } else {
                (((x + MAGIC).to_bits() & 0x007f_ffff) as i32 - 0x0040_0000).clamp(0, 15)
            }
        };
        lanes(
            &near(&points, 50),
            // SAFETY: AVX2 is available.
            |v| unsafe { _mm256_cvttps_epi32(code_ps(v)) },
            |x, g| assert_eq!(g, want(x), "q4_k {x:e}"),
        );
        // NVFP4 codes for every scale.
        for ue in 0..=0x7fu8 {
            let d = nvfp4::ue4m3_to_f32(ue);
            let t = nvfp4_thresholds(d);
            let mut points: Vec<f32> = t.iter().filter(|v| v.is_finite()).copied().collect();
            points.extend([12.0 * d, 18.0 * d]);
            // SAFETY: AVX2 is available.
            let tv: [__m256; 7] = core::array::from_fn(|i| unsafe { _mm256_set1_ps(t[i]) });
            lanes(
                &near(&points, 40),
                // SAFETY: AVX2 is available.
                |v| unsafe { nvfp4_codes(v, &tv) },
                |x, g| {
                    if x.is_finite() && x.abs() <= 20.0 * d.max(1e-30) {
                        assert_eq!(g as u8, mxfp4::best_index(x, d), "nvfp4 d = {d:e}, {x:e}");
                    }
                },
            );
        }
        // The UE4M3 encoding and decoding.
        let mut points: Vec<f32> = (0..=0x7eu8).map(|b| 2.0 * nvfp4::ue4m3_to_f32(b)).collect();
        points.extend((0..0x7eu8).map(|b| nvfp4::ue4m3_to_f32(b) + nvfp4::ue4m3_to_f32(b + 1)));
        points.extend([1.0 / 1024.0, 1.0 / 64.0, 248.0, 256.0, 448.0]);
        let mut xs: Vec<f32> = near(&points, 40)
            .into_iter()
            .filter(|v| (0.0..=448.0).contains(v))
            .collect();
        xs.extend((0..=448 * 64).map(|i| i as f32 / 64.0));
        lanes(
            &xs,
            // SAFETY: AVX2 is available.
            |v| unsafe { ue4m3_encode8(v) },
            |x, g| assert_eq!(g as u8, nvfp4::fp32_to_ue4m3(x), "ue4m3 {x:e}"),
        );
        let bytes: Vec<f32> = (0..=0x7e).map(f32::from_bits).collect();
        lanes(
            &bytes,
            // SAFETY: AVX2 is available.
            |v| unsafe { _mm256_castps_si256(ue4m3_decode8(_mm256_castps_si256(v))) },
            |b, g| {
                let want = nvfp4::ue4m3_to_f32(b.to_bits() as u8);
                assert_eq!(g as u32, want.to_bits(), "byte {:#04x}", b.to_bits());
            },
        );
    }
}
