//! AVX2 kernels of the block-wise formats (ggml blocks, NF4/FP4 codebooks, int4 groups of 32),
//! 8 floats per vector. Each equals the scalar per-block reference bit for bit; the arguments
//! are those of the AVX-512 kernels (`avx512_blocks`), which this file follows step by step.
//! IQ4_NL quantization, 8 blocks at once, is in `avx2_iq4nl`.

use super::super::{format_table, BlockKernels};
use super::avx2::{prefetch, AHEAD, KERNELS};
use crate::kernels::groups::{dequantize_groups_with, quantize_groups_split32};
use crate::kernels::simd::multi_block::avx2 as x8;
use crate::reference::codebook::scalar::{self as cb, MAX_ABS_INPUT};
use crate::reference::codebook::tables::{FP4_CODE_BY_RANK, FP4_THRESHOLDS, NF4_THRESHOLDS};
use crate::reference::codebook::Codebook;
use crate::reference::formats::fp16::f16_is_finite;
use crate::reference::formats::{iq4_nl, mxfp4, q4_0, q4_1, BlockFormat};
use crate::reference::int4::{check_params, Params};
use crate::{Error, Result};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

// Every entry of `BLOCKS` is reachable only through `avx2::KERNELS`, which `kernels::levels()`
// hands out only when `avx2::available()` is true (AVX2 and F16C): that is the safety argument
// of each `unsafe` call of a `#[target_feature]` function in this table.
pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_table(&[
        (BlockFormat::Q4_0, |s, d| unsafe { x8::quantize_q4_0(s, d) }),
        (BlockFormat::Q4_1, |s, d| unsafe { x8::quantize_q4_1(s, d) }),
        (BlockFormat::Iq4Nl, |s, d| unsafe {
            super::avx2_iq4nl::quantize_iq4_nl(s, d)
        }),
        (BlockFormat::Mxfp4, |s, d| unsafe {
            x8::quantize_mxfp4(s, d)
        }),
        (BlockFormat::Nvfp4, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::quantize_nvfp4(s, d)
        }),
        (BlockFormat::Q4K, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::quantize_q4_k(s, d)
        }),
        (BlockFormat::Iq4Xs, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::quantize_iq4_xs(s, d)
        }),
    ]),
    dequantize_blocks: format_table(&[
        (BlockFormat::Q4_0, |s, d| unsafe { dequantize_q4_0(s, d) }),
        (BlockFormat::Q4_1, |s, d| unsafe { dequantize_q4_1(s, d) }),
        (BlockFormat::Iq4Nl, |s, d| unsafe {
            dequantize_iq4_nl(s, d)
        }),
        (BlockFormat::Mxfp4, |s, d| unsafe { dequantize_mxfp4(s, d) }),
        (BlockFormat::Q4K, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::dequantize_q4_k(s, d)
        }),
        (BlockFormat::Iq4Xs, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::dequantize_iq4_xs(s, d)
        }),
        (BlockFormat::Nvfp4, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx2::dequantize_nvfp4(s, d)
        }),
    ]),
    // Below one vector of 32 the scalar loop has no set-up to pay for.
    quantize_codebook: |b, s, bs, c, a| {
        if s.len() < 32 {
            cb::quantize_blocks(b, s, bs, c, a)
        } else {
            unsafe { quantize_codebook(b, s, bs, c, a) }
        }
    },
    dequantize_codebook: |b, c, bs, a, d| {
        if d.len() < 32 {
            cb::dequantize_blocks(b, c, bs, a, d)
        } else {
            unsafe { dequantize_codebook(b, c, bs, a, d) }
        }
    },

    quantize_groups: |s, gs, m, c, sc, z| {
        quantize_groups_split32(&KERNELS, s, gs, m, c, sc, z, |s, m, c, sc, z| {
            if is_x86_feature_detected!("fma") {
                // SAFETY: FMA as well (just checked).
                unsafe {
                    crate::kernels::simd::multi_block::avx2_fma::quantize_groups32(s, m, c, sc, z)
                }
            } else {
                unsafe { x8::quantize_groups32(s, m, c, sc, z) }
            }
        })
    },
    dequantize_groups: |c, gs, sc, z, d| {
        if gs == 32 {
            unsafe { dequantize_groups32(c, sc, z, d) }
        } else {
            dequantize_groups_with(dequantize_packed, c, gs, sc, z, d)
        }
    },
};

/// `|x|` as integer bits: for finite x, ordered as the magnitudes are.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn abs_bits(x: __m256) -> __m256i {
    _mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7FFF_FFFF))
}

/// Loads one block of 32 floats as four vectors.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn load32(x: &[f32]) -> [__m256; 4] {
    debug_assert!(x.len() >= 32);
    // SAFETY: the caller passes at least 32 floats.
    core::array::from_fn(|i| unsafe { _mm256_loadu_ps(x.as_ptr().add(8 * i)) })
}

/// The largest of 8 unsigned 32-bit lanes.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn hmax_epu32(v: __m256i) -> u32 {
    let m = _mm_max_epu32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b01_00_11_10>(m));
    let m = _mm_max_epu32(m, _mm_shuffle_epi32::<0b10_11_00_01>(m));
    _mm_cvtsi128_si32(m) as u32
}

/// The 32 codes of a block (int32 lanes, each already reduced to its low byte, 0..255) as ggml
/// packs them: byte j = code j | code (j + 16) << 4, the high part truncated to a byte.
#[inline]
#[target_feature(enable = "avx2,f16c")]
pub(super) fn pack_ggml(c: [__m256i; 4]) -> __m128i {
    let ab = _mm256_packs_epi32(c[0], c[1]);
    let cd = _mm256_packs_epi32(c[2], c[3]);
    let bytes = _mm256_packus_epi16(ab, cd);
    let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    let lo = _mm256_castsi256_si128(bytes);
    let hi = _mm256_extracti128_si256::<1>(bytes);
    _mm_or_si128(
        lo,
        _mm_and_si128(_mm_slli_epi16::<4>(hi), _mm_set1_epi8(0xF0u8 as i8)),
    )
}

/// 32 codes in element order (int32 lanes, 0..15) packed two per byte, the first element in the
/// high nibble (bitsandbytes' order).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn pack_hi_first(c: [__m256i; 4]) -> __m128i {
    let ab = _mm256_packs_epi32(c[0], c[1]);
    let cd = _mm256_packs_epi32(c[2], c[3]);
    let bytes = _mm256_packus_epi16(ab, cd);
    let bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    // Each 16-bit lane becomes 16 * first + second (at most 255).
    let pairs = _mm256_maddubs_epi16(bytes, _mm256_set1_epi16(0x0110));
    let packed = _mm256_packus_epi16(pairs, pairs);
    _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(packed))
}

// ---------------------------------------------------------------- ggml dequantization

/// Stores `d * v` (v: 8 small integers as bytes, sign- or zero-extended by `widen`) for the 32
/// elements of a ggml block: `lo` holds elements 0..15, `hi` elements 16..31 (one byte each).
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn store_block(o: *mut f32, lo: __m128i, hi: __m128i, d: __m256, signed: bool) {
    let widen = |b: __m128i| {
        if signed {
            _mm256_cvtepi8_epi32(b)
        } else {
            _mm256_cvtepu8_epi32(b)
        }
    };
    for (k, v) in [lo, hi].into_iter().enumerate() {
        let a = _mm256_cvtepi32_ps(widen(v));
        let b = _mm256_cvtepi32_ps(widen(_mm_unpackhi_epi64(v, v)));
        // SAFETY: the caller guarantees 32 writable floats at o.
        unsafe {
            _mm256_storeu_ps(o.add(16 * k), _mm256_mul_ps(a, d));
            _mm256_storeu_ps(o.add(16 * k + 8), _mm256_mul_ps(b, d));
        }
    }
}

/// The low and high nibbles of 16 code bytes at p, as bytes.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn nibble_bytes(p: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller guarantees 16 readable bytes.
    let b = unsafe { _mm_loadu_si128(p.cast()) };
    let m = _mm_set1_epi8(0x0F);
    (
        _mm_and_si128(b, m),
        _mm_and_si128(_mm_srli_epi16::<4>(b), m),
    )
}

/// A byte table for `_mm_shuffle_epi8` from an i8 codebook.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn byte_table(k: &[i8; 16]) -> __m128i {
    // SAFETY: a 16-byte array.
    unsafe { _mm_loadu_si128(k.as_ptr().cast()) }
}

/// Dequantizes blocks of the formats whose values are `d * small integer` with the integers
/// from a byte table: Q4_0 (q - 8), IQ4_NL and MXFP4 (their codebooks). `scale` reads the
/// block's scale (or the error), `at` is where its codes start.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_table<const N: usize>(
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
    table: &[i8; 16],
    at: usize,
    scale: impl Fn(&[u8]) -> Result<f32>,
) -> Result<()> {
    let t = byte_table(table);
    for (b, out) in src.chunks_exact(N).zip(dst.chunks_exact_mut(32)) {
        let d = _mm256_set1_ps(scale(b)?);
        // SAFETY: 16 code bytes at b[at..at + 16]; 32 floats in `out`. The products are the
        // reference's (exact small integers times d, one rounding; multiplication commutes).
        unsafe {
            let (lo, hi) = nibble_bytes(b.as_ptr().add(at));
            let (lo, hi) = (_mm_shuffle_epi8(t, lo), _mm_shuffle_epi8(t, hi));
            store_block(out.as_mut_ptr().cast(), lo, hi, d, true);
        }
    }
    Ok(())
}

/// The finite binary16 at b[0..2] as f32 (vcvtph2ps is exact, as `fp16::f16_to_f32`).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16_field(b: &[u8], at: usize) -> Result<f32> {
    let h = u16::from_le_bytes([b[at], b[at + 1]]);
    if !f16_is_finite(h) {
        return Err(Error::NonFinite);
    }
    Ok(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h)))))
}

const Q4_0_TABLE: [i8; 16] = [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7];

#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_q4_0(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: AVX2 and F16C are enabled here.
    unsafe { dequantize_table::<{ q4_0::BYTES }>(src, dst, &Q4_0_TABLE, 2, |b| f16_field(b, 0)) }
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_iq4_nl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: AVX2 and F16C are enabled here.
    unsafe {
        dequantize_table::<{ iq4_nl::BYTES }>(src, dst, &iq4_nl::KVALUES, 2, |b| f16_field(b, 0))
    }
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_mxfp4(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let scale = |b: &[u8]| {
        if b[0] == 0xFF {
            Err(Error::NonFinite)
        } else {
            Ok(mxfp4::e8m0_to_f32_half(b[0]))
        }
    };
    // SAFETY: AVX2 and F16C are enabled here.
    unsafe { dequantize_table::<{ mxfp4::BYTES }>(src, dst, &mxfp4::KVALUES, 1, scale) }
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_q4_1(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    for (b, out) in src.chunks_exact(q4_1::BYTES).zip(dst.chunks_exact_mut(32)) {
        // Both fp16 fields at once (vcvtph2ps is exact, as `fp16::f16_to_f32`).
        let w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if !f16_is_finite(w as u16) || !f16_is_finite((w >> 16) as u16) {
            return Err(Error::NonFinite);
        }
        let dm = _mm256_cvtph_ps(_mm_cvtsi32_si128(w as i32));
        let vd = _mm256_permutevar8x32_ps(dm, _mm256_setzero_si256());
        let vm = _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(1));
        // SAFETY: 16 code bytes at b[4..20]; 32 floats in `out`.
        unsafe {
            let (lo, hi) = nibble_bytes(b.as_ptr().add(4));
            let o = out.as_mut_ptr().cast::<f32>();
            for (k, v) in [lo, hi].into_iter().enumerate() {
                for (h, w) in [v, _mm_unpackhi_epi64(v, v)].into_iter().enumerate() {
                    let q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(w));
                    // q * d + m: a multiply, then an add (no fused multiply-add).
                    let y = _mm256_add_ps(_mm256_mul_ps(q, vd), vm);
                    _mm256_storeu_ps(o.add(16 * k + 8 * h), y);
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- codebooks

/// A 16-entry float table lookup by the low 4 bits of each lane.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn lookup16(lo: __m256, hi: __m256, idx: __m256i) -> __m256 {
    let a = _mm256_permutevar8x32_ps(lo, idx);
    let b = _mm256_permutevar8x32_ps(hi, idx);
    _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)))
}

/// `idx + step` in the lanes where `v > t` (ordered: NaN never).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn step_if_above(idx: __m256i, v: __m256, t: __m256, step: i32) -> __m256i {
    let gt = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_GT_OQ>(v, t));
    _mm256_add_epi32(idx, _mm256_and_si256(gt, _mm256_set1_epi32(step)))
}

/// NF4 codes (the binary search of `avx512_blocks::nf4_codes`).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn nf4_codes(v: __m256, t: (__m256, __m256)) -> __m256i {
    let mut idx = step_if_above(
        _mm256_setzero_si256(),
        v,
        _mm256_set1_ps(NF4_THRESHOLDS[7]),
        8,
    );
    for step in [4, 2, 1] {
        let probe = _mm256_add_epi32(idx, _mm256_set1_epi32(step - 1));
        idx = step_if_above(idx, v, lookup16(t.0, t.1, probe), step);
    }
    idx
}

/// FP4 codes (the search of `avx512_blocks::fp4_codes`; 8-entry tables).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn fp4_codes(v: __m256, t: __m256, by_rank: __m256i) -> __m256i {
    let m = _mm256_castsi256_ps(abs_bits(v));
    let mut idx = step_if_above(
        _mm256_setzero_si256(),
        m,
        _mm256_set1_ps(FP4_THRESHOLDS[3]),
        4,
    );
    for step in [2, 1] {
        let probe = _mm256_add_epi32(idx, _mm256_set1_epi32(step - 1));
        idx = step_if_above(idx, m, _mm256_permutevar8x32_ps(t, probe), step);
    }
    let code = _mm256_permutevar8x32_epi32(by_rank, idx);
    let neg = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_setzero_ps()));
    _mm256_or_si256(code, _mm256_and_si256(neg, _mm256_set1_epi32(8)))
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn quantize_codebook(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let mut nf4 = [f32::INFINITY; 16];
    nf4[..15].copy_from_slice(&NF4_THRESHOLDS);
    let mut fp4 = [f32::INFINITY; 8];
    fp4[..7].copy_from_slice(&FP4_THRESHOLDS);
    let by_rank: [i32; 8] = core::array::from_fn(|r| i32::from(FP4_CODE_BY_RANK[r]));
    // SAFETY: arrays of 16, 8 and 8 elements.
    let (nf4, fp4, by_rank) = unsafe {
        (
            (
                _mm256_loadu_ps(nf4.as_ptr()),
                _mm256_loadu_ps(nf4.as_ptr().add(8)),
            ),
            _mm256_loadu_ps(fp4.as_ptr()),
            _mm256_loadu_si256(by_rank.as_ptr().cast()),
        )
    };
    let limit = _mm256_set1_epi32(MAX_ABS_INPUT.to_bits() as i32);
    for ((block, bc), am) in src
        .chunks(block_size)
        .zip(codes.chunks_mut(block_size / 2))
        .zip(absmax.iter_mut())
    {
        let whole = block.len() / 32 * 32;
        let mut a = _mm256_setzero_si256();
        let mut bad = _mm256_setzero_si256();
        for i in (0..whole).step_by(8) {
            prefetch(block.as_ptr().wrapping_add(i + AHEAD));
            // SAFETY: i + 8 <= whole <= block.len().
            let v = abs_bits(unsafe { _mm256_loadu_ps(block.as_ptr().add(i)) });
            bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(v, limit));
            a = _mm256_max_epu32(a, v);
        }
        let mut amax = f32::from_bits(hmax_epu32(a));
        if _mm256_testz_si256(bad, bad) == 0 || whole < block.len() {
            amax = cb::block_absmax(block)?;
        }
        let r = _mm256_set1_ps(cb::reciprocal(amax));
        for i in (0..whole).step_by(32) {
            // SAFETY: 32 floats at i; 16 bytes at i / 2.
            unsafe {
                let v = load32(&block[i..]).map(|x| _mm256_mul_ps(x, r));
                let c = match book {
                    Codebook::Nf4 => v.map(|vi| nf4_codes(vi, nf4)),
                    Codebook::Fp4 => v.map(|vi| fp4_codes(vi, fp4, by_rank)),
                };
                _mm_storeu_si128(bc.as_mut_ptr().add(i / 2).cast(), pack_hi_first(c));
            }
        }
        cb::quantize_block(book, &block[whole..], amax, &mut bc[whole / 2..]);
        am.write(amax);
    }
    Ok(())
}

#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_codebook(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let t = cb::table(book);
    // SAFETY: a 16-element array.
    let (t_lo, t_hi) = unsafe {
        (
            _mm256_loadu_ps(t.as_ptr()),
            _mm256_loadu_ps(t.as_ptr().add(8)),
        )
    };
    let m = _mm_set1_epi8(0x0F);
    for ((block, bc), &s) in dst
        .chunks_mut(block_size)
        .zip(codes.chunks(block_size / 2))
        .zip(absmax)
    {
        if !s.is_finite() {
            return Err(Error::NonFinite);
        }
        let vs = _mm256_set1_ps(s);
        let whole = block.len() / 16 * 16;
        for i in (0..whole).step_by(16) {
            // SAFETY: 8 bytes at i / 2 and 16 floats at i.
            unsafe {
                let b = _mm_loadl_epi64(bc.as_ptr().add(i / 2).cast());
                // Element order: byte j's high nibble, then its low nibble.
                let nib = _mm_unpacklo_epi8(
                    _mm_and_si128(_mm_srli_epi16::<4>(b), m),
                    _mm_and_si128(b, m),
                );
                let i0 = _mm256_cvtepu8_epi32(nib);
                let i1 = _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(nib, nib));
                let o = block.as_mut_ptr().add(i).cast::<f32>();
                _mm256_storeu_ps(o, _mm256_mul_ps(lookup16(t_lo, t_hi, i0), vs));
                _mm256_storeu_ps(o.add(8), _mm256_mul_ps(lookup16(t_lo, t_hi, i1), vs));
            }
        }
        cb::dequantize_block(book, &bc[whole / 2..], s, &mut block[whole..]);
    }
    Ok(())
}

// ---------------------------------------------------------------- int4 groups

/// `avx2::dequantize_packed_impl` as a plain function (for `dequantize_groups_with`).
fn dequantize_packed(c: &[u8], s: f32, zp: i8, d: &mut [MaybeUninit<f32>]) {
    // SAFETY: only reachable through `BLOCKS` (see there).
    unsafe { super::avx2::dequantize_packed_impl(c, s, zp, d) }
}

/// Dequantizes whole groups of 32 (`(code - zp) as f32 * scale`, as `scalar::dequantize_one`:
/// an exact integer difference, converted exactly, one rounding), checking each group's
/// parameters first as the group loop does; the rest goes to that loop.
#[target_feature(enable = "avx2,f16c")]
unsafe fn dequantize_groups32(
    codes: &[u8],
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let whole = dst.len() / 32;
    let (m, eight) = (_mm_set1_epi8(0x0F), _mm_set1_epi8(8));
    for (g, out) in dst.chunks_exact_mut(32).enumerate() {
        let p = Params {
            scale: scales[g],
            zero_point: zero_points.get(g).copied().unwrap_or(0),
        };
        check_params(p)?;
        let (s, z) = (
            _mm256_set1_ps(p.scale),
            _mm256_set1_epi32(i32::from(p.zero_point)),
        );
        let b = &codes[16 * g..16 * g + 16];
        // SAFETY: 16 bytes in `b`.
        let b = unsafe { _mm_loadu_si128(b.as_ptr().cast()) };
        // Element 2j is the low nibble of byte j, 2j + 1 the high one; (n ^ 8) - 8 sign-extends.
        let (lo, hi) = (
            _mm_and_si128(b, m),
            _mm_and_si128(_mm_srli_epi16::<4>(b), m),
        );
        let ext = |v: __m128i| _mm_sub_epi8(_mm_xor_si128(v, eight), eight);
        let (e0, e1) = (
            ext(_mm_unpacklo_epi8(lo, hi)),
            ext(_mm_unpackhi_epi8(lo, hi)),
        );
        for (k, e) in [
            e0,
            _mm_unpackhi_epi64(e0, e0),
            e1,
            _mm_unpackhi_epi64(e1, e1),
        ]
        .into_iter()
        .enumerate()
        {
            let q = _mm256_sub_epi32(_mm256_cvtepi8_epi32(e), z);
            let y = _mm256_mul_ps(_mm256_cvtepi32_ps(q), s);
            // SAFETY: 32 floats in `out`.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(8 * k).cast(), y) };
        }
    }
    let zp_rest = zero_points.get(whole..).unwrap_or(&[]);
    dequantize_groups_with(
        dequantize_packed,
        &codes[16 * whole..],
        32,
        &scales[whole..],
        zp_rest,
        &mut dst[32 * whole..],
    )
}
