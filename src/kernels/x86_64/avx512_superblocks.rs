//! AVX-512 kernels of the formats whose blocks are not 32 values: Q4_K (256 values, 144
//! bytes), IQ4_XS (256, 136) and NVFP4 (64, 36), both directions. The dequantizers and the NVFP4
//! quantizer go block by block along the values; the Q4_K and IQ4_XS quantizers run their
//! sub-block scale searches for two super-blocks at once, one sub-block per lane, and the rest
//! of the super-block (the reference's scalar steps, then the codes) per super-block. Each
//! equals its scalar reference
//! (`formats::q4_k`, `formats::iq4_xs`, `formats::nvfp4`) bit for bit: the same IEEE operations
//! per element, in the same order (no fused multiply-add anywhere in this file); where a kernel
//! computes something differently, a comment proves the result identical.
//!
//! Every function here is `#[target_feature]` AVX-512 and reached only through
//! `avx512_blocks::BLOCKS`, i.e. through `avx512::KERNELS`, which `kernels::levels()` hands out
//! only when `avx512::available()` is true.

use crate::reference::formats::common::read_f16;
use crate::reference::formats::fp16::{f16_is_finite, f16_to_f32};
use crate::reference::formats::{iq4_nl, iq4_xs, mxfp4, nvfp4, q4_k};
use crate::{Error, Result};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// `|x|` as integer bits: for finite x, ordered as the magnitudes are.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn abs_bits(x: __m512) -> __m512i {
    _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFF_FFFF))
}

/// Lanes holding NaN or ±Inf (abs bits above those of `f32::MAX`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn non_finite(a: __m512i) -> __mmask16 {
    _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(f32::MAX.to_bits() as i32))
}

/// 16 bytes of small signed integers as floats (exact).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn bytes_to_ps(b: __m128i) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b))
}

/// The 6-bit scale and minimum of Q4_K sub-block `j` from the 12 packed bytes `s` (the layout
/// of `q4_k`'s module docs, as its `scale_min` reads it).
#[inline]
pub(super) fn q4_k_scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

// ---------------------------------------------------------------- dequantization

/// Q4_K: `y = (d * sc) * q - (dmin * m)`: the two products per sub-block are the reference's
/// scalar float32 products; per element a multiply and a subtraction, each rounded (no FMA).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
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
                    let dd = _mm512_set1_ps(d * f32::from(sc));
                    let mm = _mm512_set1_ps(dmin * f32::from(m));
                    let f0 = bytes_to_ps(_mm256_castsi256_si128(v));
                    let f1 = bytes_to_ps(_mm256_extracti128_si256::<1>(v));
                    _mm512_storeu_ps(o.add(32 * k), _mm512_sub_ps(_mm512_mul_ps(f0, dd), mm));
                    _mm512_storeu_ps(o.add(32 * k + 16), _mm512_sub_ps(_mm512_mul_ps(f1, dd), mm));
                }
            }
        }
    }
    Ok(())
}

/// IQ4_XS: `dl = d * (ls - 32)` per sub-block (the reference's scalar product), then
/// `y = dl * KVALUES[q]`, one rounding (multiplication commutes).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
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
            let dl = _mm512_set1_ps(d * (ls - 32) as f32);
            // SAFETY: 16 code bytes at 8 + 16 ib < 136; 32 floats at 32 ib < 256.
            unsafe {
                let q = _mm_loadu_si128(b.as_ptr().add(8 + 16 * ib).cast());
                let lo = _mm_shuffle_epi8(t, _mm_and_si128(q, nib));
                let hi = _mm_shuffle_epi8(t, _mm_and_si128(_mm_srli_epi16::<4>(q), nib));
                let o = out.as_mut_ptr().add(32 * ib).cast::<f32>();
                _mm512_storeu_ps(o, _mm512_mul_ps(bytes_to_ps(lo), dl));
                _mm512_storeu_ps(o.add(16), _mm512_mul_ps(bytes_to_ps(hi), dl));
            }
        }
    }
    Ok(())
}

/// NVFP4: `y = KVALUES[q] * d` with `d` the decoded scale of the value's sub-block (the
/// reference's own decoding), one rounding. Every byte is accepted.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn dequantize_nvfp4(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: a 16-byte array.
    let t = unsafe { _mm_loadu_si128(mxfp4::KVALUES.as_ptr().cast()) };
    let nib = _mm_set1_epi8(0x0F);
    for (b, out) in src
        .chunks_exact(nvfp4::BYTES)
        .zip(dst.chunks_exact_mut(nvfp4::ELEMENTS))
    {
        for s in 0..4 {
            let d = _mm512_set1_ps(nvfp4::ue4m3_to_f32(b[s]));
            // SAFETY: 8 code bytes at 4 + 8 s < 36; 16 floats at 16 s < 64.
            unsafe {
                let q = _mm_loadl_epi64(b.as_ptr().add(4 + 8 * s).cast());
                // Bytes 0..8: the low nibbles (elements 0..8), bytes 8..16 the high ones.
                let lo = _mm_and_si128(q, nib);
                let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), nib);
                let k = _mm_shuffle_epi8(t, _mm_unpacklo_epi64(lo, hi));
                let o = out.as_mut_ptr().add(16 * s).cast::<f32>();
                _mm512_storeu_ps(o, _mm512_mul_ps(bytes_to_ps(k), d));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- NVFP4 quantization

/// The midpoints of neighbouring E2M1 magnitudes, in units of the scale `d`: (0 + 1) / 2,
/// (1 + 2) / 2, ..., (8 + 12) / 2 (`mxfp4::KVALUES` 0..8 are 0, 1, 2, 3, 4, 6, 8, 12).
pub(super) const NVFP4_MIDS: [f32; 7] = [0.5, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0];

/// The thresholds of [`nvfp4_codes`] for the decoded scale `d`: `NVFP4_MIDS[i] * d` (exact), or
/// +inf when `d` is 0 (every entry is then equally far and the reference keeps entry 0).
#[inline]
pub(super) fn nvfp4_thresholds(d: f32) -> [f32; 7] {
    core::array::from_fn(|i| {
        if d == 0.0 {
            f32::INFINITY
        } else {
            NVFP4_MIDS[i] * d
        }
    })
}

/// `mxfp4::best_index(x, d)` of 16 values with `d` an NVFP4 decoded scale, as the number of
/// thresholds `t` (from [`nvfp4_thresholds`]) strictly below `m = |x|`, plus 8 for x < 0 unless
/// that number is 0.
///
/// Proof. The reference takes the first index of least `|fl(KVALUES[i] * d - x)|` over all 16
/// entries. Sign: for x >= 0 (and -0.0) the entries 8..15 (k = -K) have errors
/// `|fl(-K d - x)| = fl(K d + x) >= x`, entry 0's (rounding is monotone), and come later, so
/// they never win with a strict `<`. For x < 0, entries 1..7 have errors `fl(K d + m) >= m`,
/// entry 0's; entry 8 (k = 0) ties it; entries 9..15 have `|fl(-K d - x)| = |fl(K d - m)|`,
/// the errors entries 1..7 have for m, in the same order: the index is the one for m plus 8,
/// unless it is 0. Magnitude: `d` is 0 (all errors are m: index 0, and every threshold is
/// +inf) or has at most 4 significant bits (UE4M3), so the products `M_j = K_j d` and the
/// thresholds `(M_j + M_(j+1)) / 2` (at most 9 significant bits) are exact, and all are
/// multiples of `u = 2^-10` or of the UE4M3 exponent's unit, which is at least the spacing of
/// floats near any `m >= d`. If `M_i <= m < M_(i+1)` with i >= 1: `m - M_i` is a multiple of
/// ulp(m) below m, so exact, and `M_(i+1) - m` is exact by Sterbenz (`M_(i+1) <= 2 M_i <= 2 m`);
/// the entries before i and after i + 1 have larger exact errors, which round to no less
/// (monotone), and the earlier of equal errors wins, so the index is i + 1 exactly when
/// `M_(i+1) - m < m - M_i`, i.e. `m > (M_i + M_(i+1)) / 2`. For m < d (i = 0): the error of
/// entry 0 is m (exact); if m >= d / 2, `d - m` is exact (Sterbenz) and the same holds; if
/// m < d / 2, entry 0's error m is below d / 2 <= fl(d - m): index 0, and m is below the first
/// threshold. For m >= 12 d every threshold is below m: index 7, the nearest entry. So the
/// index for m is the number of thresholds below m.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn nvfp4_codes(x: __m512, t: &[__m512; 7]) -> __m512i {
    let m = _mm512_castsi512_ps(abs_bits(x));
    let one = _mm512_set1_epi32(1);
    let mut idx = _mm512_setzero_si512();
    for &ti in t {
        let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(m, ti);
        idx = _mm512_mask_add_epi32(idx, gt, idx, one);
    }
    let neg =
        _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps()) & _mm512_test_epi32_mask(idx, idx);
    _mm512_mask_or_epi32(idx, neg, idx, _mm512_set1_epi32(8))
}

/// `nvfp4::fp32_to_ue4m3` of 16 values `v = amax / 6` (finite, `0 <= v <= 448`), as int32
/// lanes: the reference's steps as lane operations. Below 2^-6 (float32 exponent at most -7,
/// which includes zero and float32 subnormals): `min((int)(v * 512 + 0.5), 7)`, the float
/// operations rounded as there (the sum is below 8.5, so the truncation is in range); otherwise
/// exponent `E + 7` and the top three mantissa bits plus the fourth, a carry into the exponent,
/// and 0x7E from exponent 15 on. (No clamp to 448 is needed: larger values are declined.)
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn ue4m3_encode16(v: __m512) -> __m512i {
    let bits = _mm512_castps_si512(v);
    let e = _mm512_sub_epi32(
        _mm512_and_si512(_mm512_srli_epi32::<23>(bits), _mm512_set1_epi32(0xff)),
        _mm512_set1_epi32(120),
    );
    let sub = _mm512_cmple_epi32_mask(e, _mm512_setzero_si512());
    let ms = _mm512_cvttps_epi32(_mm512_add_ps(
        _mm512_mul_ps(v, _mm512_set1_ps(512.0)),
        _mm512_set1_ps(0.5),
    ));
    let ms = _mm512_min_epi32(ms, _mm512_set1_epi32(7));
    let seven = _mm512_set1_epi32(7);
    let m = _mm512_add_epi32(
        _mm512_and_si512(_mm512_srli_epi32::<20>(bits), seven),
        _mm512_and_si512(_mm512_srli_epi32::<19>(bits), _mm512_set1_epi32(1)),
    );
    let carry = _mm512_cmpgt_epi32_mask(m, seven);
    let m = _mm512_mask_mov_epi32(m, carry, _mm512_setzero_si512());
    let e = _mm512_mask_add_epi32(e, carry, e, _mm512_set1_epi32(1));
    let normal = _mm512_or_si512(_mm512_slli_epi32::<3>(e), m);
    let top = _mm512_cmpge_epi32_mask(e, _mm512_set1_epi32(15));
    let normal = _mm512_mask_mov_epi32(normal, top, _mm512_set1_epi32(0x7e));
    _mm512_mask_mov_epi32(normal, sub, ms)
}

/// `nvfp4::ue4m3_to_f32` of 16 bytes (int32 lanes 0..=0x7E, never 0x7F): `m * 2^-10` for
/// exponent field 0, else `(8 + m) * 2^(e - 11)`, whose float32 bits are `(e + 119) << 23 | m <<
/// 20` (exact, as in the reference).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn ue4m3_decode16(ue: __m512i) -> __m512 {
    let e = _mm512_srli_epi32::<3>(ue);
    let m = _mm512_and_si512(ue, _mm512_set1_epi32(7));
    let normal = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_slli_epi32::<23>(_mm512_add_epi32(e, _mm512_set1_epi32(119))),
        _mm512_slli_epi32::<20>(m),
    ));
    let sub = _mm512_mul_ps(_mm512_cvtepi32_ps(m), _mm512_set1_ps(1.0 / 1024.0));
    _mm512_mask_mov_ps(
        normal,
        _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512()),
        sub,
    )
}

/// Four NVFP4 blocks (16 sub-blocks) at once: the scales of all 16 sub-blocks in one vector
/// ([`ue4m3_encode16`], [`ue4m3_decode16`]), then the codes of each sub-block. `false`, having
/// written nothing, when a block holds NaN or infinity or a sub-block's `amax / 6` exceeds 448
/// (the caller then goes block by block, which reports the first bad one).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn nvfp4_x4(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    debug_assert!(x.len() >= 256 && out.len() >= 4 * nvfp4::BYTES);
    super::avx512::prefetch(x.as_ptr().wrapping_add(super::avx512::AHEAD));
    super::avx512::prefetch(x.as_ptr().wrapping_add(super::avx512::AHEAD + 128));
    // SAFETY: 256 floats.
    let v: [__m512; 16] =
        core::array::from_fn(|s| unsafe { _mm512_loadu_ps(x.as_ptr().add(16 * s)) });
    let mut mag = _mm512_setzero_si512();
    let mut amax = [0u32; 16];
    for s in 0..16 {
        let a = abs_bits(v[s]);
        mag = _mm512_max_epu32(mag, a);
        amax[s] = _mm512_reduce_max_epu32(a);
    }
    if non_finite(mag) != 0 {
        return false;
    }
    // SAFETY: a 16-element array.
    let amax = unsafe { _mm512_loadu_ps(amax.as_ptr().cast()) };
    let scaled = _mm512_div_ps(amax, _mm512_set1_ps(6.0));
    if _mm512_cmp_ps_mask::<_CMP_GT_OQ>(scaled, _mm512_set1_ps(448.0)) != 0 {
        return false;
    }
    let ue = ue4m3_encode16(scaled);
    let d = ue4m3_decode16(ue);
    let zero_d = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(d, _mm512_setzero_ps());
    let t: [__m512; 7] = core::array::from_fn(|i| {
        let t = _mm512_mul_ps(_mm512_set1_ps(NVFP4_MIDS[i]), d);
        _mm512_mask_mov_ps(t, zero_d, _mm512_set1_ps(f32::INFINITY))
    });
    let mut bytes = [0u8; 4 * nvfp4::BYTES];
    let mut ues = [0u8; 16];
    // SAFETY: 16 bytes.
    unsafe { _mm_storeu_si128(ues.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(ue)) };
    for s in 0..16 {
        let (b, j) = (s / 4, s % 4);
        bytes[b * nvfp4::BYTES + j] = ues[s];
        let lane = _mm512_set1_epi32(s as i32);
        let ts: [__m512; 7] = core::array::from_fn(|i| _mm512_permutexvar_ps(lane, t[i]));
        let c = _mm512_cvtepi32_epi8(nvfp4_codes(v[s], &ts));
        let p = _mm_or_si128(c, _mm_slli_epi16::<4>(_mm_srli_si128::<8>(c)));
        // SAFETY: 8 bytes at 36 b + 4 + 8 j <= 136 of a 144-byte array.
        unsafe {
            _mm_storel_epi64(
                bytes.as_mut_ptr().add(b * nvfp4::BYTES + 4 + 8 * j).cast(),
                p,
            )
        };
    }
    for (o, b) in out.iter_mut().zip(bytes) {
        o.write(b);
    }
    true
}

/// NVFP4 blocks four at a time ([`nvfp4_x4`]); the rest, and any four it declines, one at a
/// time: validation of the whole block first (NaN or infinity, then a sub-block scale above
/// 448, as the reference checks), then per sub-block the reference's scalar scale (`amax / 6.0`,
/// its UE4M3 encoding and decoding) and the codes of [`nvfp4_codes`]. A bad block returns its
/// error before anything of it is written.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_nvfp4(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    const E: usize = nvfp4::ELEMENTS;
    const B: usize = nvfp4::BYTES;
    let runs = src.len() / (4 * E);
    let (head, tail) = dst.split_at_mut(runs * 4 * B);
    for (x, out) in src[..runs * 4 * E]
        .chunks_exact(4 * E)
        .zip(head.chunks_exact_mut(4 * B))
    {
        // SAFETY: 256 floats and 144 bytes; AVX-512 is enabled here.
        if !unsafe { nvfp4_x4(x, out) } {
            // SAFETY: as above.
            unsafe { nvfp4_each(x, out)? };
        }
    }
    // SAFETY: AVX-512 is enabled here.
    unsafe { nvfp4_each(&src[runs * 4 * E..], tail) }
}

/// NVFP4 blocks one at a time (see [`quantize_nvfp4`]).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn nvfp4_each(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    for (x, out) in src
        .chunks_exact(nvfp4::ELEMENTS)
        .zip(dst.chunks_exact_mut(nvfp4::BYTES))
    {
        super::avx512::prefetch(x.as_ptr().wrapping_add(super::avx512::AHEAD));
        // SAFETY: 64 floats.
        let v: [__m512; 4] =
            core::array::from_fn(|s| unsafe { _mm512_loadu_ps(x.as_ptr().add(16 * s)) });
        let a: [__m512i; 4] = core::array::from_fn(|s| abs_bits(v[s]));
        if non_finite(a[0]) | non_finite(a[1]) | non_finite(a[2]) | non_finite(a[3]) != 0 {
            return Err(Error::NonFinite);
        }
        let mut ue = [0u8; 4];
        for s in 0..4 {
            // The largest magnitude (the order of the abs bits is that of the finite values).
            let amax = f32::from_bits(_mm512_reduce_max_epu32(a[s]));
            let scaled = amax / 6.0;
            if scaled > 448.0 {
                return Err(Error::ValueOutOfRange);
            }
            ue[s] = nvfp4::fp32_to_ue4m3(scaled);
        }
        let mut codes = [0u8; 32];
        for s in 0..4 {
            let t = nvfp4_thresholds(nvfp4::ue4m3_to_f32(ue[s]));
            let t: [__m512; 7] = core::array::from_fn(|i| _mm512_set1_ps(t[i]));
            let c = _mm512_cvtepi32_epi8(nvfp4_codes(v[s], &t));
            // Byte j: code j | code (j + 8) << 4 (codes below 16: the 16-bit shift keeps each
            // byte's nibble in its byte).
            let p = _mm_or_si128(c, _mm_slli_epi16::<4>(_mm_srli_si128::<8>(c)));
            // SAFETY: 8 bytes at 8 s of a 32-byte array.
            unsafe { _mm_storel_epi64(codes.as_mut_ptr().add(8 * s).cast(), p) };
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

/// 1.5 * 2^23, ggml's `nearest_int` constant.
pub(super) const MAGIC: f32 = 12_582_912.0;

/// `code(nearest_int(v))` of `q4_k` (the low 23 bits of `fl(v + 1.5 * 2^23)` minus 2^22,
/// clamped to 0..=15) as a float, for 16 lanes.
///
/// Proof. OR-ing the low 23 bits of the sum into the exponent of 2^23 gives the float
/// `2^23 + low` exactly; subtracting 1.5 * 2^23 gives `low - 2^22` exactly (an integer of
/// magnitude at most 2^22); the float clamp to [0, 15] is the reference's integer clamp. NaN
/// lanes (the reference gives 0, so code 0) get `low = 0`, i.e. -2^22, clamped to 0 too.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn code_ps(v: __m512) -> __m512 {
    let ord = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(v, v);
    let t = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(MAGIC)));
    // (t & 0x7FFFFF) | 0x4B000000 (bits of 2^23), zero in NaN lanes.
    let f = _mm512_maskz_ternarylogic_epi32::<0xEA>(
        ord,
        t,
        _mm512_set1_epi32(0x007F_FFFF),
        _mm512_set1_epi32(0x4B00_0000),
    );
    let n = _mm512_sub_ps(_mm512_castsi512_ps(f), _mm512_set1_ps(MAGIC));
    _mm512_min_ps(_mm512_max_ps(n, _mm512_setzero_ps()), _mm512_set1_ps(15.0))
}

/// `q4_k`'s `weighted_error` in every lane: `Σ w (scale q + offset - x)^2` in element order,
/// each operation rounded on its own.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn weighted_error16(
    x: &[__m512; 32],
    w: &[__m512; 32],
    q: &[__m512; 32],
    scale: __m512,
    offset: __m512,
) -> __m512 {
    let mut err = _mm512_setzero_ps();
    for i in 0..32 {
        let diff = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(scale, q[i]), offset), x[i]);
        err = _mm512_add_ps(err, _mm512_mul_ps(w[i], _mm512_mul_ps(diff, diff)));
    }
    err
}

/// `q4_k`'s `fit_sub_block` (ggml's `make_qkx2_quants`) of 16 sub-blocks at once, lane b
/// holding sub-block b (`x[i]`: element i of each): the same operations in the same order in
/// every lane, the reference's branches as lane masks. Returns the scale, the minimum as the
/// reference returns it (the negated final offset) and the codes (as floats).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn fit16(x: &[__m512; 32]) -> (__m512, __m512, [__m512; 32]) {
    let zero = _mm512_setzero_ps();
    let mut sum_x2 = zero;
    for v in x {
        sum_x2 = _mm512_add_ps(sum_x2, _mm512_mul_ps(*v, *v));
    }
    let av_x = _mm512_sqrt_ps(_mm512_div_ps(sum_x2, _mm512_set1_ps(32.0)));
    let w: [__m512; 32] =
        core::array::from_fn(|i| _mm512_add_ps(av_x, _mm512_castsi512_ps(abs_bits(x[i]))));
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = w[0];
    let mut sum_x = _mm512_mul_ps(sum_w, x[0]);
    for i in 1..32 {
        min = _mm512_mask_mov_ps(min, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x[i], min), x[i]);
        max = _mm512_mask_mov_ps(max, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x[i], max), x[i]);
        sum_w = _mm512_add_ps(sum_w, w[i]);
        sum_x = _mm512_add_ps(sum_x, _mm512_mul_ps(w[i], x[i]));
    }
    min = _mm512_mask_mov_ps(min, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(min, zero), zero);
    // Lanes with max == min return scale 0, codes 0 and -min (blended in at the end).
    let flat = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(max, min);
    let min0 = min;

    let iscale = _mm512_div_ps(_mm512_set1_ps(15.0), _mm512_sub_ps(max, min));
    let mut scale = _mm512_div_ps(_mm512_set1_ps(1.0), iscale);
    let mut codes: [__m512; 32] =
        core::array::from_fn(|i| code_ps(_mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min))));
    let mut best_error = weighted_error16(x, &w, &codes, scale, min);

    for step in 0..=20 {
        // The reference's candidate, the same float32 operations on the same constants.
        let num = (-1.0f32 + 0.1f32 * step as f32) + 15.0f32;
        let iscale = _mm512_div_ps(_mm512_set1_ps(num), _mm512_sub_ps(max, min));
        let (mut sum_l, mut sum_l2, mut sum_xl) = (zero, zero, zero);
        let mut aux = [zero; 32];
        for i in 0..32 {
            let l = code_ps(_mm512_mul_ps(iscale, _mm512_sub_ps(x[i], min)));
            aux[i] = l;
            let wl = _mm512_mul_ps(w[i], l);
            sum_l = _mm512_add_ps(sum_l, wl);
            sum_l2 = _mm512_add_ps(sum_l2, _mm512_mul_ps(wl, l));
            sum_xl = _mm512_add_ps(sum_xl, _mm512_mul_ps(wl, x[i]));
        }
        let det = _mm512_sub_ps(_mm512_mul_ps(sum_w, sum_l2), _mm512_mul_ps(sum_l, sum_l));
        let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(det, zero);
        if pos == 0 {
            continue;
        }
        let mut this_scale = _mm512_div_ps(
            _mm512_sub_ps(_mm512_mul_ps(sum_w, sum_xl), _mm512_mul_ps(sum_x, sum_l)),
            det,
        );
        let mut this_min = _mm512_div_ps(
            _mm512_sub_ps(_mm512_mul_ps(sum_l2, sum_x), _mm512_mul_ps(sum_l, sum_xl)),
            det,
        );
        let up = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(this_min, zero);
        this_min = _mm512_mask_mov_ps(this_min, up, zero);
        this_scale = _mm512_mask_div_ps(this_scale, up, sum_xl, sum_l2);
        let cur = weighted_error16(x, &w, &aux, this_scale, this_min);
        let better = pos & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(cur, best_error);
        for (c, a) in codes.iter_mut().zip(aux) {
            *c = _mm512_mask_mov_ps(*c, better, a);
        }
        best_error = _mm512_mask_mov_ps(best_error, better, cur);
        scale = _mm512_mask_mov_ps(scale, better, this_scale);
        min = _mm512_mask_mov_ps(min, better, this_min);
    }
    scale = _mm512_mask_mov_ps(scale, flat, zero);
    min = _mm512_mask_mov_ps(min, flat, min0);
    for c in &mut codes {
        *c = _mm512_mask_mov_ps(*c, flat, zero);
    }
    // The reference returns -min: negation flips the sign bit only.
    (scale, _mm512_xor_ps(min, _mm512_set1_ps(-0.0)), codes)
}

/// `q4_k`'s `nearest_int` (scalar, for the per-super-block levels).
#[inline]
fn nearest_int(v: f32) -> i32 {
    if v.is_nan() {
        return 0;
    }
    let t = v + MAGIC;
    (t.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// `q4_k`'s `level6`: `nearest_int` as a byte (modulo 256), capped at 63.
#[inline]
fn level6(v: f32) -> u8 {
    (nearest_int(v) as u8).min(63)
}

/// `q4_k`'s packing of eight 6-bit scales and minima into 12 bytes.
fn pack_scales(ls: &[u8; 8], lm: &[u8; 8]) -> [u8; 12] {
    let mut s = [0u8; 12];
    s[..4].copy_from_slice(&ls[..4]);
    s[4..8].copy_from_slice(&lm[..4]);
    for j in 4..8 {
        s[j + 4] = (ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4);
        s[j - 4] |= (ls[j] >> 4) << 6;
        s[j] |= (lm[j] >> 4) << 6;
    }
    s
}

/// The reference's scalar super-block step of `q4_k::quantize_block` after the eight sub-block
/// fits: the largest scale and minimum, the 6-bit levels, their packing and the fp16 `d` and
/// `dmin`; `None` when either overflows fp16 (the reference then reports `ValueOutOfRange`).
pub(super) fn q4_k_levels(scales: &[f32], mins: &[f32]) -> Option<([u8; 12], u16, u16)> {
    use crate::reference::formats::fp16::f32_to_f16;
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for j in 0..8 {
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let ls: [u8; 8] = core::array::from_fn(|j| level6(inv_scale * scales[j]));
    let lm: [u8; 8] = core::array::from_fn(|j| level6(inv_min * mins[j]));
    let packed = pack_scales(&ls, &lm);
    let dh = f32_to_f16(max_scale / 63.0);
    let mh = f32_to_f16(max_min / 63.0);
    if !f16_is_finite(dh) || !f16_is_finite(mh) {
        return None;
    }
    Some((packed, dh, mh))
}

/// The rest of `q4_k::quantize_block` for one super-block after its eight sub-block fits
/// (`scales`, `mins`, first-pass codes `first[i][lane0 + j]`: element i of sub-block j):
/// [`q4_k_levels`], then the second pass, 16 elements per vector with the reference's
/// operations (`(x + dm) / d`, `nearest_int`, clamp). `None` when `d` or `dmin` overflows fp16.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn finish_q4_k(
    x: &[f32],
    scales: &[f32],
    mins: &[f32],
    first: &[[f32; 16]; 32],
    lane0: usize,
) -> Option<[u8; q4_k::BYTES]> {
    let (packed, dh, mh) = q4_k_levels(scales, mins)?;
    let (d_all, dmin_all) = (f16_to_f32(dh), f16_to_f32(mh));
    // Codes of each sub-block, element i in lane i % 16 of vector 2 j + i / 16 (int32).
    let mut codes = [_mm512_setzero_si512(); 16];
    for j in 0..8 {
        let (sc, m) = q4_k_scale_min(j, &packed);
        let d = d_all * f32::from(sc);
        if d == 0.0 {
            // The reference keeps the first-pass codes of this sub-block.
            let c: [i32; 32] = core::array::from_fn(|i| first[i][lane0 + j] as i32);
            // SAFETY: a 32-element array.
            unsafe {
                codes[2 * j] = _mm512_loadu_si512(c.as_ptr().cast());
                codes[2 * j + 1] = _mm512_loadu_si512(c.as_ptr().add(16).cast());
            }
            continue;
        }
        let (vd, vdm) = (_mm512_set1_ps(d), _mm512_set1_ps(dmin_all * f32::from(m)));
        for h in 0..2 {
            // SAFETY: 16 floats at 32 j + 16 h < 256 = x.len().
            let v = unsafe { _mm512_loadu_ps(x.as_ptr().add(32 * j + 16 * h)) };
            let q = code_ps(_mm512_div_ps(_mm512_add_ps(v, vdm), vd));
            codes[2 * j + h] = _mm512_cvttps_epi32(q);
        }
    }
    let mut out = [0u8; q4_k::BYTES];
    out[..2].copy_from_slice(&dh.to_le_bytes());
    out[2..4].copy_from_slice(&mh.to_le_bytes());
    out[4..16].copy_from_slice(&packed);
    for c in 0..4 {
        for h in 0..2 {
            // Byte 32 c + 16 h + l: element 16 h + l of sub-block 2 c (low nibble) and of
            // sub-block 2 c + 1 (high nibble).
            let lo = codes[4 * c + h];
            let hi = codes[4 * c + 2 + h];
            let b = _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)));
            // SAFETY: 16 bytes at 16 + 32 c + 16 h <= 128 of a 144-byte array.
            unsafe { _mm_storeu_si128(out.as_mut_ptr().add(16 + 32 * c + 16 * h).cast(), b) };
        }
    }
    Some(out)
}

/// Two Q4_K super-blocks (512 values) at once, or `false` (nothing written) when one of them
/// holds NaN or infinity or overflows fp16: the caller then runs the reference, which reports
/// the first bad one.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn q4_k_x2(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    debug_assert!(x.len() >= 512 && out.len() >= 2 * q4_k::BYTES);
    let lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(32),
    );
    let mut xs = [_mm512_setzero_ps(); 32];
    let mut mag = _mm512_setzero_si512();
    for (i, v) in xs.iter_mut().enumerate() {
        // SAFETY: lane b reads x[32 b + i] < 512.
        *v = unsafe { _mm512_i32gather_ps::<4>(lanes, x.as_ptr().add(i).cast()) };
        mag = _mm512_max_epu32(mag, abs_bits(*v));
    }
    if non_finite(mag) != 0 {
        return false;
    }
    let (scale, min, codes) = fit16(&xs);
    let (mut sc, mut mn) = ([0.0f32; 16], [0.0f32; 16]);
    let mut first = [[0.0f32; 16]; 32];
    // SAFETY: 16-element arrays.
    unsafe {
        _mm512_storeu_ps(sc.as_mut_ptr(), scale);
        _mm512_storeu_ps(mn.as_mut_ptr(), min);
        for (f, c) in first.iter_mut().zip(codes) {
            _mm512_storeu_ps(f.as_mut_ptr(), c);
        }
    }
    let Some(b0) = finish_q4_k(&x[..256], &sc[..8], &mn[..8], &first, 0) else {
        return false;
    };
    let Some(b1) = finish_q4_k(&x[256..512], &sc[8..], &mn[8..], &first, 8) else {
        return false;
    };
    // SAFETY: `out` holds two blocks of 144 bytes.
    unsafe {
        let o = out.as_mut_ptr().cast::<u8>();
        o.cast::<[u8; q4_k::BYTES]>().write_unaligned(b0);
        o.add(q4_k::BYTES)
            .cast::<[u8; q4_k::BYTES]>()
            .write_unaligned(b1);
    }
    true
}

/// Quantizes Q4_K super-blocks two at a time ([`q4_k_x2`]), a last odd one with itself as its
/// pair ([`last_alone`]); a pair it declines goes to the reference, which reports the first bad
/// one.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_q4_k(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    const E: usize = q4_k::ELEMENTS;
    const B: usize = q4_k::BYTES;
    let pairs = src.len() / (2 * E);
    let (head, tail) = dst.split_at_mut(pairs * 2 * B);
    for (x, out) in src[..pairs * 2 * E]
        .chunks_exact(2 * E)
        .zip(head.chunks_exact_mut(2 * B))
    {
        // SAFETY: 512 floats and 288 bytes; AVX-512 is enabled here.
        if !unsafe { q4_k_x2(x, out) } {
            crate::reference::formats::quantize_each(x, out, q4_k::quantize_block)?;
        }
    }
    last_alone(&src[pairs * 2 * E..], tail, q4_k_x2, q4_k::quantize_block)
}

// ---------------------------------------------------------------- IQ4_XS quantization

/// `iq4_nl::KVALUES` as floats.
pub(super) const IQ4_KV: [f32; 16] = {
    let mut k = [0.0f32; 16];
    let mut i = 0;
    while i < 16 {
        k[i] = iq4_nl::KVALUES[i] as f32;
        i += 1;
    }
    k
};

/// The midpoints of neighbouring codebook values (exact: halves of small integers).
pub(super) const IQ4_MIDS: [f32; 15] = {
    let mut m = [0.0f32; 15];
    let mut i = 0;
    while i < 15 {
        m[i] = (IQ4_KV[i] + IQ4_KV[i + 1]) * 0.5;
        i += 1;
    }
    m
};

/// `iq4_nl::best_index` of 16 values: the number of codebook midpoints at or below `v`, and 15
/// for NaN. That the reference's clamp, binary search and strict comparison give exactly this
/// count for every non-NaN float (ties going up) is proved at `avx512_iq4nl::best_index16`; the
/// reference sends NaN past both clamps (comparisons with NaN are false) and its binary search
/// up to 15.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn iq4_index(v: __m512) -> __m512i {
    let one = _mm512_set1_epi32(1);
    let mut idx = _mm512_setzero_si512();
    for &m in &IQ4_MIDS {
        let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(v, _mm512_set1_ps(m));
        idx = _mm512_mask_add_epi32(idx, ge, idx, one);
    }
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
    _mm512_mask_mov_epi32(idx, nan, _mm512_set1_epi32(15))
}

/// The reference's weighted sums `(Σ w q x, Σ w q q)` (`q = KVALUES[best_index(id x)]`) in every
/// lane, in element order, each product and sum rounded on its own.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn iq4_sums16(x: &[__m512; 32], w: &[__m512; 32], id: __m512, kv: __m512) -> (__m512, __m512) {
    let (mut sqx, mut sq2) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    for j in 0..32 {
        let q = _mm512_permutexvar_ps(iq4_index(_mm512_mul_ps(id, x[j])), kv);
        let wq = _mm512_mul_ps(w[j], q);
        sqx = _mm512_add_ps(sqx, _mm512_mul_ps(wq, x[j]));
        sq2 = _mm512_add_ps(sq2, _mm512_mul_ps(wq, q));
    }
    (sqx, sq2)
}

/// `iq4_nl::search_scale` of 16 sub-blocks of 32 (lane b: sub-block b; `x[j]` element j of
/// each): the reference's operations in its order in every lane, its branches as lane masks.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn iq4_search16(x: &[__m512; 32]) -> __m512 {
    // SAFETY: a 16-element array.
    let kv = unsafe { _mm512_loadu_ps(IQ4_KV.as_ptr()) };
    let zero = _mm512_setzero_ps();
    let w: [__m512; 32] = core::array::from_fn(|j| _mm512_mul_ps(x[j], x[j]));
    // The first element of largest magnitude, with its sign (strict `>` from 0).
    let (mut amax, mut max) = (zero, zero);
    for v in x {
        let a = _mm512_castsi512_ps(abs_bits(*v));
        let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, amax);
        amax = _mm512_mask_mov_ps(amax, gt, a);
        max = _mm512_mask_mov_ps(max, gt, *v);
    }
    let nmax = _mm512_xor_ps(max, _mm512_set1_ps(-0.0));
    let d0 = _mm512_div_ps(nmax, _mm512_set1_ps(IQ4_KV[0]));
    let id0 = _mm512_div_ps(_mm512_set1_ps(1.0), d0);
    let (sqx, sq2) = iq4_sums16(x, &w, id0, kv);
    let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(sq2, zero);
    let mut d = _mm512_maskz_div_ps(pos, sqx, sq2);
    let mut best = _mm512_mul_ps(d, sqx);
    for itry in -7..=7 {
        let num = (itry + i32::from(iq4_nl::KVALUES[0])) as f32;
        let id = _mm512_div_ps(_mm512_set1_ps(num), max);
        let (sqx, sq2) = iq4_sums16(x, &w, id, kv);
        let better = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(sq2, zero)
            & _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_mul_ps(sqx, sqx), _mm512_mul_ps(best, sq2));
        d = _mm512_mask_div_ps(d, better, sqx, sq2);
        best = _mm512_mask_mul_ps(best, better, d, sqx);
    }
    // Sub-blocks of near-zeros get scale 0.
    let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(amax, _mm512_set1_ps(1e-15));
    _mm512_mask_mov_ps(d, tiny, zero)
}

/// The reference's scalar super-block step of `iq4_xs::quantize_block` after the eight
/// sub-block scales: the fp16 `d` (`None` when not finite, where the reference reports
/// `ValueOutOfRange`), and per sub-block the stored 6-bit level `l + 32` and the inverse scale
/// `idl` its codes are computed with.
pub(super) fn iq4_xs_levels(scales: &[f32]) -> Option<(u16, [u8; 8], [f32; 8])> {
    use crate::reference::formats::fp16::f32_to_f16;
    let (mut max_scale, mut amax_scale) = (0.0f32, 0.0f32);
    for &s in scales {
        if s.abs() > amax_scale {
            amax_scale = s.abs();
            max_scale = s;
        }
    }
    let d = -max_scale / 32.0;
    let dh = f32_to_f16(d);
    if !f16_is_finite(dh) {
        return None;
    }
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (mut ls, mut idl) = ([0u8; 8], [0.0f32; 8]);
    for (ib, &s) in scales.iter().enumerate() {
        let l = nearest_int(id * s).clamp(-32, 31);
        let dl = d * l as f32;
        idl[ib] = if dl != 0.0 { 1.0 / dl } else { 0.0 };
        ls[ib] = (l + 32) as u8; // 0..=63
    }
    Some((dh, ls, idl))
}

/// Writes the fp16 `d` and the packed 6-bit levels of an IQ4_XS block (bytes 0..8).
pub(super) fn iq4_xs_header(out: &mut [u8; iq4_xs::BYTES], dh: u16, ls: &[u8; 8]) {
    out[..2].copy_from_slice(&dh.to_le_bytes());
    let mut scales_h = 0u16;
    for (ib, &l) in ls.iter().enumerate() {
        out[4 + ib / 2] |= (l & 0x0f) << (4 * (ib % 2));
        scales_h |= u16::from(l >> 4) << (2 * ib);
    }
    out[2..4].copy_from_slice(&scales_h.to_le_bytes());
}

/// The rest of `iq4_xs::quantize_block` for one super-block after its eight sub-block scales:
/// [`iq4_xs_levels`], then the codes 16 elements per vector (`best_index(idl * x)`). `None`
/// when the fp16 `d` is not finite.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn finish_iq4_xs(x: &[f32], scales: &[f32]) -> Option<[u8; iq4_xs::BYTES]> {
    let (dh, ls, idl) = iq4_xs_levels(scales)?;
    let mut out = [0u8; iq4_xs::BYTES];
    iq4_xs_header(&mut out, dh, &ls);
    for (ib, &r) in idl.iter().enumerate() {
        let r = _mm512_set1_ps(r);
        // SAFETY: 32 floats at 32 ib < 256 = x.len(); 16 bytes at 8 + 16 ib < 136.
        unsafe {
            let p = x.as_ptr().add(32 * ib);
            let c0 = iq4_index(_mm512_mul_ps(r, _mm512_loadu_ps(p)));
            let c1 = iq4_index(_mm512_mul_ps(r, _mm512_loadu_ps(p.add(16))));
            let b = _mm512_cvtepi32_epi8(_mm512_or_si512(c0, _mm512_slli_epi32::<4>(c1)));
            _mm_storeu_si128(out.as_mut_ptr().add(8 + 16 * ib).cast(), b);
        }
    }
    Some(out)
}

/// Two IQ4_XS super-blocks (512 values) at once, or `false` (nothing written) when one holds
/// NaN or infinity or its `d` overflows fp16 (the reference then reports the first bad one).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn iq4_xs_x2(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    debug_assert!(x.len() >= 512 && out.len() >= 2 * iq4_xs::BYTES);
    let lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(32),
    );
    let mut xs = [_mm512_setzero_ps(); 32];
    let mut mag = _mm512_setzero_si512();
    for (i, v) in xs.iter_mut().enumerate() {
        // SAFETY: lane b reads x[32 b + i] < 512.
        *v = unsafe { _mm512_i32gather_ps::<4>(lanes, x.as_ptr().add(i).cast()) };
        mag = _mm512_max_epu32(mag, abs_bits(*v));
    }
    if non_finite(mag) != 0 {
        return false;
    }
    let mut sc = [0.0f32; 16];
    // SAFETY: a 16-element array.
    unsafe { _mm512_storeu_ps(sc.as_mut_ptr(), iq4_search16(&xs)) };
    let Some(b0) = finish_iq4_xs(&x[..256], &sc[..8]) else {
        return false;
    };
    let Some(b1) = finish_iq4_xs(&x[256..512], &sc[8..]) else {
        return false;
    };
    // SAFETY: `out` holds two blocks of 136 bytes.
    unsafe {
        let o = out.as_mut_ptr().cast::<u8>();
        o.cast::<[u8; iq4_xs::BYTES]>().write_unaligned(b0);
        o.add(iq4_xs::BYTES)
            .cast::<[u8; iq4_xs::BYTES]>()
            .write_unaligned(b1);
    }
    true
}

/// Quantizes IQ4_XS super-blocks two at a time ([`iq4_xs_x2`]), a last odd one with itself as
/// its pair ([`last_alone`]); a pair it declines goes to the reference, which reports the first
/// bad one.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_iq4_xs(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    const E: usize = iq4_xs::ELEMENTS;
    const B: usize = iq4_xs::BYTES;
    let pairs = src.len() / (2 * E);
    let (head, tail) = dst.split_at_mut(pairs * 2 * B);
    for (x, out) in src[..pairs * 2 * E]
        .chunks_exact(2 * E)
        .zip(head.chunks_exact_mut(2 * B))
    {
        // SAFETY: 512 floats and 272 bytes; AVX-512 is enabled here.
        if !unsafe { iq4_xs_x2(x, out) } {
            crate::reference::formats::quantize_each(x, out, iq4_xs::quantize_block)?;
        }
    }
    last_alone(
        &src[pairs * 2 * E..],
        tail,
        iq4_xs_x2,
        iq4_xs::quantize_block,
    )
}

/// The last super-block of an odd count (`x` and `out` hold 0 or 1 of them): run by `pair` on the
/// super-block twice (the lanes of the second copy are computed and dropped), or by the
/// reference `each` when `pair` declines (which then reports its error).
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn last_alone<const N: usize>(
    x: &[f32],
    out: &mut [MaybeUninit<u8>],
    pair: unsafe fn(&[f32], &mut [MaybeUninit<u8>]) -> bool,
    each: fn(&[f32; 256]) -> Result<[u8; N]>,
) -> Result<()> {
    if x.len() != 256 {
        return crate::reference::formats::quantize_each(x, out, each);
    }
    let mut two = [0.0f32; 512];
    two[..256].copy_from_slice(x);
    two[256..].copy_from_slice(x);
    let mut bytes = [MaybeUninit::new(0u8); 2 * 144];
    // SAFETY: 512 floats and at least 2 N bytes (N <= 144); AVX-512 is enabled here.
    if unsafe { pair(&two, &mut bytes[..2 * N]) } {
        out.copy_from_slice(&bytes[..N]);
        Ok(())
    } else {
        crate::reference::formats::quantize_each(x, out, each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floats `k` either side of each of `points` (and the points), plus the specials.
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

    /// 16 lanes of `xs` at a time through `f`, the lanes' results to `check`.
    fn lanes<T: Copy + Default>(
        xs: &[f32],
        f: impl Fn(__m512) -> [T; 16],
        mut check: impl FnMut(f32, T),
    ) {
        for chunk in xs.chunks(16) {
            let mut l = [0.0f32; 16];
            l[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: a 16-element array (and AVX-512 is available: checked by the callers).
            let r = f(unsafe { _mm512_loadu_ps(l.as_ptr()) });
            for (x, v) in l.iter().zip(r) {
                check(*x, v);
            }
        }
    }

    fn i32s(v: __m512i) -> [i32; 16] {
        let mut a = [0i32; 16];
        // SAFETY: a 16-element array.
        unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
        a
    }

    fn f32s(v: __m512) -> [f32; 16] {
        let mut a = [0.0f32; 16];
        // SAFETY: a 16-element array.
        unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
        a
    }

    #[test]
    fn iq4_index_matches_best_index_near_every_midpoint() {
        if !super::super::avx512::available() {
            return;
        }
        let mut points = IQ4_MIDS.to_vec();
        points.extend(IQ4_KV);
        points.extend([1e10, 3e38]);
        let mut xs = near(&points, 300);
        xs.extend((0..100_000).map(|i| i as f32 * 0.003 - 150.0));
        // SAFETY (both closures): AVX-512 is available.
        lanes(
            &xs,
            |v| i32s(unsafe { iq4_index(v) }),
            |x, g| {
                assert_eq!(
                    g as usize,
                    iq4_nl::best_index(x),
                    "{x:e} ({:#010x})",
                    x.to_bits()
                )
            },
        );
    }

    #[test]
    fn nvfp4_codes_match_best_index_for_every_scale() {
        if !super::super::avx512::available() {
            return;
        }
        for ue in 0..=0x7fu8 {
            let d = nvfp4::ue4m3_to_f32(ue);
            let mids: Vec<f32> = NVFP4_MIDS.iter().map(|m| m * d).collect();
            let mut points = mids.clone();
            points.extend(mxfp4::KVALUES.iter().map(|&k| f32::from(k) * d));
            points.extend([13.7 * d, 18.0 * d, 19.9 * d]);
            let xs = near(&points, 40);
            let t = nvfp4_thresholds(d);
            // SAFETY: AVX-512 is available.
            let t: [__m512; 7] = core::array::from_fn(|i| unsafe { _mm512_set1_ps(t[i]) });
            lanes(
                &xs,
                // SAFETY: AVX-512 is available.
                |v| i32s(unsafe { nvfp4_codes(v, &t) }),
                |x, g| {
                    if x.is_finite() && x.abs() <= 20.0 * d.max(1e-30) {
                        let want = mxfp4::best_index(x, d);
                        assert_eq!(
                            g as u8,
                            want,
                            "d = {d:e}, x = {x:e} ({:#010x})",
                            x.to_bits()
                        );
                    }
                },
            );
        }
    }

    /// `code_ps` against `q4_k`'s `code(nearest_int(v))`, i.e. `nearest_int` clamped.
    #[test]
    fn q4_k_codes_match_nearest_int() {
        if !super::super::avx512::available() {
            return;
        }
        let mut points: Vec<f32> = (0..=16).map(|k| k as f32 + 0.5).collect();
        points.extend((0..=16).map(|k| k as f32));
        points.extend([4_194_304.0, 5.0e6, 12_582_912.0, 16_777_216.0, 3e38]);
        let xs = near(&points, 50);
        lanes(
            &xs,
            // SAFETY: AVX-512 is available.
            |v| f32s(unsafe { code_ps(v) }),
            |x, g| assert_eq!(g, nearest_int(x).clamp(0, 15) as f32, "{x:e}"),
        );
    }

    /// The vector UE4M3 encoding and decoding against the reference's, near every boundary of
    /// the encoding (every byte's value and the midpoints, 2^-10, 2^-6, 248, 256, 448) and on a
    /// sweep of all magnitudes.
    #[test]
    fn ue4m3_vector_encoding_matches_the_reference() {
        if !super::super::avx512::available() {
            return;
        }
        let mut points: Vec<f32> = (0..=0x7eu8).map(|b| 2.0 * nvfp4::ue4m3_to_f32(b)).collect();
        points.extend((0..0x7eu8).map(|b| nvfp4::ue4m3_to_f32(b) + nvfp4::ue4m3_to_f32(b + 1)));
        points.extend([1.0 / 1024.0, 1.0 / 64.0, 248.0, 256.0, 448.0, 1.0 / 512.0]);
        let mut xs: Vec<f32> = near(&points, 40)
            .into_iter()
            .filter(|v| (0.0..=448.0).contains(v))
            .collect();
        xs.extend((0..=448 * 64).map(|i| i as f32 / 64.0));
        xs.extend(
            (1..2000)
                .map(|i| f32::from_bits(i * 0x0004_0000))
                .filter(|v| *v <= 448.0),
        );
        lanes(
            &xs,
            // SAFETY: AVX-512 is available.
            |v| i32s(unsafe { ue4m3_encode16(v) }),
            |x, g| {
                assert_eq!(
                    g as u8,
                    nvfp4::fp32_to_ue4m3(x),
                    "{x:e} ({:#010x})",
                    x.to_bits()
                )
            },
        );
        let bytes: Vec<f32> = (0..=0x7e).map(f32::from_bits).collect();
        lanes(
            &bytes,
            // SAFETY: AVX-512 is available.
            |v| f32s(unsafe { ue4m3_decode16(_mm512_castps_si512(v)) }),
            |b, g| {
                let want = nvfp4::ue4m3_to_f32(b.to_bits() as u8);
                assert_eq!(g.to_bits(), want.to_bits(), "byte {:#04x}", b.to_bits());
            },
        );
    }
}
