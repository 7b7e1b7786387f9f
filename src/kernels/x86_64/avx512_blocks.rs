//! AVX-512 kernels of the block-wise formats (ggml blocks, NF4/FP4 codebooks, int4 groups of
//! 32). Each equals the scalar per-block reference bit for bit: the same IEEE operations, in the
//! same order, per element; table lookups return values the reference computes the same way;
//! the per-block decisions (scales, first largest element, error order) are made as the
//! reference makes them. Where a kernel computes something differently from the reference, a
//! comment proves the result identical.

use super::super::{format_table, BlockKernels};
use super::avx512::{prefetch, AHEAD, KERNELS};
use crate::kernels::groups::{dequantize_groups_with, quantize_groups_split32};
use crate::kernels::simd::multi_block::avx512 as x16;
use crate::reference::codebook::scalar::{self as cb, MAX_ABS_INPUT};
use crate::reference::codebook::tables::{FP4_CODE_BY_RANK, FP4_THRESHOLDS, NF4_THRESHOLDS};
use crate::reference::codebook::Codebook;
use crate::reference::formats::fp16::f16_is_finite;
use crate::reference::formats::{iq4_nl, mxfp4, q4_0, q4_1, BlockFormat};
use crate::{Error, Result};
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_table(&[
        (BlockFormat::Q4_0, |s, d| unsafe {
            x16::quantize_q4_0(s, d)
        }),
        (BlockFormat::Q4_1, |s, d| unsafe {
            x16::quantize_q4_1(s, d)
        }),
        (BlockFormat::Iq4Nl, |s, d| unsafe {
            super::avx512_iq4nl::quantize_iq4_nl(s, d)
        }),
        (BlockFormat::Mxfp4, |s, d| unsafe {
            x16::quantize_mxfp4(s, d)
        }),
        (BlockFormat::Nvfp4, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx512::quantize_nvfp4(s, d)
        }),
        (BlockFormat::Q4K, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx512::quantize_q4_k(s, d)
        }),
        (BlockFormat::Iq4Xs, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx512::quantize_iq4_xs(s, d)
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
            crate::kernels::simd::superblocks::avx512::dequantize_q4_k(s, d)
        }),
        (BlockFormat::Iq4Xs, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx512::dequantize_iq4_xs(s, d)
        }),
        (BlockFormat::Nvfp4, |s, d| unsafe {
            crate::kernels::simd::superblocks::avx512::dequantize_nvfp4(s, d)
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
        quantize_groups_split32(&KERNELS, s, gs, m, c, sc, z, |s, m, c, sc, z| unsafe {
            x16::quantize_groups32(s, m, c, sc, z)
        })
    },
    dequantize_groups: |c, gs, sc, z, d| {
        dequantize_groups_with(
            |c, s, zp, d| unsafe { super::avx512::dequantize_packed_impl(c, s, zp, d) },
            c,
            gs,
            sc,
            z,
            d,
        )
    },
};

// Every entry of `BLOCKS` is reachable only through `avx512::KERNELS`, which
// `kernels::levels()` hands out only when `avx512::available()` is true: that is the safety
// argument of each `unsafe` call of a `#[target_feature]` function in the table above.

/// `|x|` as integer bits: for finite x, ordered as the magnitudes are.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn abs_bits(x: __m512) -> __m512i {
    _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFF_FFFF))
}

/// Loads 16 code bytes: lane i holds byte i (its low nibble in bits 0..4, which is all that
/// `_mm512_permutexvar_*` looks at) and the second vector its high nibble.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn nibbles(p: *const u8) -> (__m512i, __m512i) {
    // SAFETY: the caller guarantees 16 readable bytes at p.
    unsafe {
        let v = _mm512_cvtepu8_epi32(_mm_loadu_si128(p.cast()));
        (v, _mm512_srli_epi32::<4>(v))
    }
}

/// The low and high nibbles of 16 code bytes at p, as bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn nibble_bytes(p: *const u8) -> (__m128i, __m128i) {
    // SAFETY: the caller guarantees 16 readable bytes.
    let b = unsafe { _mm_loadu_si128(p.cast()) };
    let m = _mm_set1_epi8(0x0F);
    (
        _mm_and_si128(b, m),
        _mm_and_si128(_mm_srli_epi16::<4>(b), m),
    )
}

/// Byte `j` = `lo[j]` in bits 0..4, `hi[j]` in bits 4..8 (ggml's block layout: element j and
/// element j + 16), from codes in 0..15 held in int32 lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn pack_ggml(lo: __m512i, hi: __m512i) -> __m128i {
    _mm512_cvtepi32_epi8(_mm512_or_si512(lo, _mm512_slli_epi32::<4>(hi)))
}

// ---------------------------------------------------------------- ggml dequantization

/// Dequantizes blocks whose values are `d * k` with small integers k from a byte table by
/// nibble: Q4_0 (q - 8), IQ4_NL and MXFP4 (their codebooks). `scale` reads a block's scale (or
/// its error), `at` is where its 16 code bytes start. The products are the reference's (exact
/// integers times d, one rounding; multiplication commutes).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_table<const N: usize>(
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
    table: &[i8; 16],
    at: usize,
    scale: impl Fn(&[u8]) -> Result<f32>,
) -> Result<()> {
    // SAFETY: a 16-byte array.
    let t = unsafe { _mm_loadu_si128(table.as_ptr().cast()) };
    for (b, out) in src.chunks_exact(N).zip(dst.chunks_exact_mut(32)) {
        let d = _mm512_set1_ps(scale(b)?);
        // SAFETY: 16 code bytes at b[at..at + 16]; 32 floats in `out`.
        unsafe {
            let (lo, hi) = nibble_bytes(b.as_ptr().add(at));
            let (lo, hi) = (_mm_shuffle_epi8(t, lo), _mm_shuffle_epi8(t, hi));
            let o = out.as_mut_ptr().cast::<f32>();
            let y0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)), d);
            let y1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), d);
            _mm512_storeu_ps(o, y0);
            _mm512_storeu_ps(o.add(16), y1);
        }
    }
    Ok(())
}

/// The finite binary16 at b[at..at + 2] as f32 (vcvtph2ps is exact, as `fp16::f16_to_f32`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn f16_field(b: &[u8], at: usize) -> Result<f32> {
    let h = u16::from_le_bytes([b[at], b[at + 1]]);
    if !f16_is_finite(h) {
        return Err(Error::NonFinite);
    }
    Ok(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(h)))))
}

const Q4_0_TABLE: [i8; 16] = [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7];

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_q4_0(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: AVX-512 is enabled here.
    unsafe { dequantize_table::<{ q4_0::BYTES }>(src, dst, &Q4_0_TABLE, 2, |b| f16_field(b, 0)) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_q4_1(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let t: [f32; 16] = core::array::from_fn(|i| i as f32);
    // SAFETY: a 16-element array.
    let t = unsafe { _mm512_loadu_ps(t.as_ptr()) };
    for (b, out) in src.chunks_exact(q4_1::BYTES).zip(dst.chunks_exact_mut(32)) {
        let dh = u16::from_le_bytes([b[0], b[1]]);
        let mh = u16::from_le_bytes([b[2], b[3]]);
        if !f16_is_finite(dh) || !f16_is_finite(mh) {
            return Err(Error::NonFinite);
        }
        let d = _mm512_cvtph_ps(_mm256_set1_epi16(dh as i16));
        let m = _mm512_cvtph_ps(_mm256_set1_epi16(mh as i16));
        // q * d + m: a multiply, then an add (no fused multiply-add), as the reference.
        // SAFETY: 16 code bytes at b[4..20]; 32 floats in `out`.
        unsafe {
            let (lo, hi) = nibbles(b.as_ptr().add(4));
            let y0 = _mm512_add_ps(_mm512_mul_ps(_mm512_permutexvar_ps(lo, t), d), m);
            let y1 = _mm512_add_ps(_mm512_mul_ps(_mm512_permutexvar_ps(hi, t), d), m);
            let o = out.as_mut_ptr().cast::<f32>();
            _mm512_storeu_ps(o, y0);
            _mm512_storeu_ps(o.add(16), y1);
        }
    }
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_iq4_nl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    // SAFETY: AVX-512 is enabled here.
    unsafe {
        dequantize_table::<{ iq4_nl::BYTES }>(src, dst, &iq4_nl::KVALUES, 2, |b| f16_field(b, 0))
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_mxfp4(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let scale = |b: &[u8]| {
        if b[0] == 0xFF {
            Err(Error::NonFinite)
        } else {
            Ok(mxfp4::e8m0_to_f32_half(b[0]))
        }
    };
    // SAFETY: AVX-512 is enabled here.
    unsafe { dequantize_table::<{ mxfp4::BYTES }>(src, dst, &mxfp4::KVALUES, 1, scale) }
}

// ---------------------------------------------------------------- ggml quantization

/// Loads one block of 32 floats.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn load32(x: &[f32]) -> (__m512, __m512) {
    debug_assert!(x.len() >= 32);
    // SAFETY: the caller passes at least 32 floats.
    unsafe {
        (
            _mm512_loadu_ps(x.as_ptr()),
            _mm512_loadu_ps(x.as_ptr().add(16)),
        )
    }
}

/// MXFP4 codes of 16 values for scale byte `e` (`d = 2^(e - 128)`), given `2 / d` as the
/// exponent `129 - e` for `vscalefps`.
///
/// Proof of equality with `mxfp4::best_index(x, d)` (first index of least
/// `|fl(KVALUES[i] * d - x)|`), for `m = |x| < 16 d` (true for every element of a block, whose
/// scale makes `amax < 16 d`): the products `k d` are exact; write M = [0, 1, 2, 3, 4, 6, 8, 12]
/// times d. For `M_j <= m` the difference `m - M_j` is exact (a multiple of ulp(m), because
/// ulp(m) <= d divides M_j, and at most m). If `M_i < m <= M_(i+1)`: the differences to
/// M_0..M_i are exact and decrease, so i beats every earlier index; `M_(i+1) - m` is exact
/// (Sterbenz, as M_(i+1) <= 2 M_i for i >= 1; for i = 0 it is at least d/2 > m when m < d/2);
/// every later `M_j - m` rounds to at least it, so cannot win with a strict `<`. So the index is
/// i + 1 exactly when `m > (M_i + M_(i+1)) / 2`, i.e. the number of the midpoints
/// [0.5, 1.5, 2.5, 3.5, 5, 7, 10] d strictly below m. A negative x: the entries with k > 0 are
/// at least as far as entry 0 (and come after it), entry 8 (k = 0) ties entry 0, and entries
/// 9..15 (k = -1..-12) see the same errors as 1..7 do for m, in the same order: the index is
/// the positive one plus 8 unless it is 0. In units of d/2 the midpoints are the integers
/// [1, 3, 5, 7, 10, 14, 20]; u = 2m/d is exact (a power-of-two scaling; where it underflows,
/// u < 1 either way), and `u > T` for an integer T exactly when `ceil(u) > T`, so the index is
/// a table lookup by `ceil(min(u, 31))`. One exception: for e = 253 (d = 2^125, blocks whose
/// amax log2f rounds to 128) the entries 8 d and 12 d overflow to infinity and never win, so
/// the index stops at 5 (6 d): `cap` is then 14 (u <= 14 gives at most 5) instead of 31.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn mxfp4_codes(
    x: __m512,
    scale2: __m512,
    cap: __m512,
    lut_lo: __m512i,
    lut_hi: __m512i,
) -> __m512i {
    let m = _mm512_castsi512_ps(abs_bits(x));
    let u = _mm512_min_ps(_mm512_scalef_ps(m, scale2), cap);
    let c = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(u);
    let idx = _mm512_permutex2var_epi32(lut_lo, c, lut_hi);
    let neg =
        _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_setzero_ps()) & _mm512_test_epi32_mask(idx, idx);
    _mm512_mask_or_epi32(idx, neg, idx, _mm512_set1_epi32(8))
}

// ---------------------------------------------------------------- codebooks

/// Indices that pick the even lanes of (a, b) as one vector, and the odd lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn even_odd(a: __m512i, b: __m512i) -> (__m512i, __m512i) {
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    (
        _mm512_permutex2var_epi32(a, even, b),
        _mm512_permutex2var_epi32(a, odd, b),
    )
}

/// Bucket tables of the codebook encoders: the scaled value's range is cut into buckets of
/// 1/16; for each, the number of thresholds below the bucket, and the one threshold inside it
/// (+inf if none). Every bucket holds at most one threshold and no threshold lies within 0.001
/// of a bucket edge (NF4's closest, 0.5016634, is 0.0017 above 1/2), far more than the one
/// rounding of the bucket position, so a value rounded into a neighbouring bucket still counts
/// the same thresholds; the count is then exact: the thresholds below the bucket, plus the one
/// inside if the value is strictly above it (as the references compare).
#[derive(Clone, Copy)]
pub(super) struct CodebookTables {
    /// NF4, 32 buckets over [-1, 1]: count below, threshold inside.
    nf4_base: (__m512i, __m512i),
    nf4_thr: (__m512, __m512),
    /// FP4 magnitudes, 16 buckets over [0, 1]: code of the rank below and of the rank above the
    /// threshold inside, and the threshold.
    fp4_lo: __m512i,
    fp4_hi: __m512i,
    fp4_thr: __m512,
}

/// For each of `B` buckets of 1/16 from `start`: the number of thresholds below it and the one
/// inside it (+inf if none). Evaluated at compile time.
const fn bucket_counts<const B: usize>(thresholds: &[f32], start: f32) -> ([i32; B], [f32; B]) {
    let mut base = [0i32; B];
    let mut thr = [f32::INFINITY; B];
    let mut b = 0;
    while b < B {
        let (lo, hi) = (start + b as f32 / 16.0, start + (b + 1) as f32 / 16.0);
        let mut i = 0;
        while i < thresholds.len() {
            let t = thresholds[i];
            if t < lo {
                base[b] += 1;
            } else if t < hi {
                thr[b] = t;
            }
            i += 1;
        }
        b += 1;
    }
    (base, thr)
}

const NF4_BUCKETS: ([i32; 32], [f32; 32]) = bucket_counts(&NF4_THRESHOLDS, -1.0);
const FP4_BUCKETS: ([i32; 16], [f32; 16]) = bucket_counts(&FP4_THRESHOLDS, 0.0);

/// FP4 codes by bucket: of the rank below the bucket's threshold (`UP` false) or above it.
const fn fp4_bucket_codes<const UP: bool>() -> [i32; 16] {
    let mut c = [0i32; 16];
    let mut b = 0;
    while b < 16 {
        let mut r = FP4_BUCKETS.0[b] as usize + UP as usize;
        if r > 7 {
            r = 7;
        }
        c[b] = FP4_CODE_BY_RANK[r] as i32;
        b += 1;
    }
    c
}

const FP4_LO: [i32; 16] = fp4_bucket_codes::<false>();
const FP4_HI: [i32; 16] = fp4_bucket_codes::<true>();

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn codebook_tables() -> CodebookTables {
    let (nb, nt) = (&NF4_BUCKETS.0, &NF4_BUCKETS.1);
    // SAFETY: arrays of 32 and 16 elements.
    unsafe {
        CodebookTables {
            nf4_base: (
                _mm512_loadu_si512(nb.as_ptr().cast()),
                _mm512_loadu_si512(nb.as_ptr().add(16).cast()),
            ),
            nf4_thr: (
                _mm512_loadu_ps(nt.as_ptr()),
                _mm512_loadu_ps(nt.as_ptr().add(16)),
            ),
            fp4_lo: _mm512_loadu_si512(FP4_LO.as_ptr().cast()),
            fp4_hi: _mm512_loadu_si512(FP4_HI.as_ptr().cast()),
            fp4_thr: _mm512_loadu_ps(FP4_BUCKETS.1.as_ptr()),
        }
    }
}

/// NF4 codes (`scalar::encode_nf4`: the number of thresholds strictly below v; NaN: 0). The
/// value is clamped to [-1, 1] first, which keeps that count (every threshold is inside) and
/// sends NaN to -1 (`max` returns its second operand for NaN), i.e. code 0; the bucket is
/// `16 v + 16`, rounded once.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn nf4_codes(v: __m512, t: &CodebookTables) -> __m512i {
    let vc = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-1.0)), _mm512_set1_ps(1.0));
    let u = _mm512_fmadd_ps(vc, _mm512_set1_ps(16.0), _mm512_set1_ps(16.0));
    let b = _mm512_min_epi32(_mm512_cvttps_epi32(u), _mm512_set1_epi32(31));
    let base = _mm512_permutex2var_epi32(t.nf4_base.0, b, t.nf4_base.1);
    let thr = _mm512_permutex2var_ps(t.nf4_thr.0, b, t.nf4_thr.1);
    let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(vc, thr);
    _mm512_mask_add_epi32(base, gt, base, _mm512_set1_epi32(1))
}

/// FP4 codes (`scalar::encode_fp4`): the rank of |v| among the magnitude thresholds (strictly
/// greater; NaN: 0) mapped through `FP4_CODE_BY_RANK`, plus the sign bit when v < 0. |v| is
/// clamped to [0, 1] first (NaN to 0 by `max`, keeping every rank), the bucket is `16 |v|`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn fp4_codes(v: __m512, t: &CodebookTables) -> __m512i {
    let m = _mm512_castsi512_ps(abs_bits(v));
    let mc = _mm512_min_ps(_mm512_max_ps(m, _mm512_setzero_ps()), _mm512_set1_ps(1.0));
    let b = _mm512_cvttps_epi32(_mm512_mul_ps(mc, _mm512_set1_ps(16.0)));
    let b = _mm512_min_epi32(b, _mm512_set1_epi32(15));
    let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(mc, _mm512_permutexvar_ps(b, t.fp4_thr));
    let code = _mm512_mask_blend_epi32(
        gt,
        _mm512_permutexvar_epi32(b, t.fp4_lo),
        _mm512_permutexvar_epi32(b, t.fp4_hi),
    );
    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, _mm512_setzero_ps());
    _mm512_mask_or_epi32(code, neg, code, _mm512_set1_epi32(8))
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn quantize_codebook(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let t = codebook_tables();
    for ((block, bc), am) in src
        .chunks(block_size)
        .zip(codes.chunks_mut(block_size / 2))
        .zip(absmax.iter_mut())
    {
        let whole = block.len() / 32 * 32;
        // Pass 1: the largest magnitude (as integer bits), and any NaN, ±Inf or |x| > 2^126.
        // (NaN and ±Inf have larger |x| bits than any finite value, so one comparison of the
        // largest bits finds all three.)
        let mut a = _mm512_setzero_si512();
        for i in (0..whole).step_by(16) {
            prefetch(block.as_ptr().wrapping_add(i + AHEAD));
            // SAFETY: i + 16 <= whole <= block.len().
            let v = abs_bits(unsafe { _mm512_loadu_ps(block.as_ptr().add(i)) });
            a = _mm512_max_epu32(a, v);
        }
        let bits = _mm512_reduce_max_epu32(a);
        let mut amax = f32::from_bits(bits);
        if bits > MAX_ABS_INPUT.to_bits() || whole < block.len() {
            // The reference finds the first bad element and its kind (or the tail's part).
            amax = cb::block_absmax(block)?;
        }
        let r = _mm512_set1_ps(cb::reciprocal(amax));
        // Pass 2: codes of x * r, two per byte, the first element in the high nibble.
        for i in (0..whole).step_by(32) {
            // SAFETY: 32 floats at i; 16 bytes at i / 2 (bc holds ceil(block.len() / 2)).
            unsafe {
                let (x0, x1) = load32(&block[i..]);
                let (v0, v1) = (_mm512_mul_ps(x0, r), _mm512_mul_ps(x1, r));
                let (c0, c1) = match book {
                    Codebook::Nf4 => (nf4_codes(v0, &t), nf4_codes(v1, &t)),
                    Codebook::Fp4 => (fp4_codes(v0, &t), fp4_codes(v1, &t)),
                };
                let (even, odd) = even_odd(c0, c1);
                let bytes = _mm512_or_si512(_mm512_slli_epi32::<4>(even), odd);
                _mm_storeu_si128(
                    bc.as_mut_ptr().add(i / 2).cast(),
                    _mm512_cvtepi32_epi8(bytes),
                );
            }
        }
        cb::quantize_block(book, &block[whole..], amax, &mut bc[whole / 2..]);
        am.write(amax);
    }
    Ok(())
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn dequantize_codebook(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let t = cb::table(book);
    // SAFETY: a 16-element array.
    let t = unsafe { _mm512_loadu_ps(t.as_ptr()) };
    let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    let good = absmax.iter().position(|s| !s.is_finite());
    for ((block, bc), &s) in dst
        .chunks_mut(block_size)
        .zip(codes.chunks(block_size / 2))
        .zip(&absmax[..good.unwrap_or(absmax.len())])
    {
        let vs = _mm512_set1_ps(s);
        let whole = block.len() / 32 * 32;
        for i in (0..whole).step_by(32) {
            // SAFETY: 16 bytes at i / 2 and 32 floats at i.
            unsafe {
                let (lo, hi) = nibbles(bc.as_ptr().add(i / 2));
                // Element 2j is byte j's high nibble, element 2j + 1 its low nibble.
                let (h, l) = (_mm512_permutexvar_ps(hi, t), _mm512_permutexvar_ps(lo, t));
                let y0 = _mm512_mul_ps(_mm512_permutex2var_ps(h, first, l), vs);
                let y1 = _mm512_mul_ps(_mm512_permutex2var_ps(h, second, l), vs);
                let o = block.as_mut_ptr().add(i).cast::<f32>();
                _mm512_storeu_ps(o, y0);
                _mm512_storeu_ps(o.add(16), y1);
            }
        }
        if whole < block.len() {
            cb::dequantize_block(book, &bc[whole / 2..], s, &mut block[whole..]);
        }
    }
    match good {
        Some(_) => Err(Error::NonFinite),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- int4 groups of 32

/// `clamp(rne(x / scale) + zp, -8, 7)` in int32 lanes, with a true division (as
/// `scalar::quantize_one`; the clamp in float equals its saturating integer one for finite x
/// and positive scale).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn codes16(x: __m512, scale: __m512, zp: __m512) -> __m512i {
    let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_div_ps(x, scale),
    );
    let q = _mm512_add_ps(q, zp);
    let q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-8.0)), _mm512_set1_ps(7.0));
    _mm512_cvtps_epi32(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::codebook::tables::{FP4_THRESHOLDS, NF4_THRESHOLDS};

    /// The bucket encoders against the scalar ones near every threshold and bucket edge, at
    /// the specials and on a dense sweep.
    #[test]
    fn codebook_encoders_match_the_reference() {
        if !super::super::avx512::available() {
            return;
        }
        let mut points: Vec<f32> = NF4_THRESHOLDS
            .iter()
            .chain(&FP4_THRESHOLDS)
            .copied()
            .collect();
        points.extend((-17..=17).map(|b| b as f32 / 16.0));
        points.extend([0.0, 1.0, -1.0, 1e-30, -1e-30]);
        let mut xs: Vec<f32> = vec![f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0];
        for p in points {
            for q in [p, -p] {
                for d in 0..2000u32 {
                    xs.push(f32::from_bits(q.to_bits().wrapping_add(d)));
                    xs.push(f32::from_bits(q.to_bits().wrapping_sub(d)));
                }
            }
        }
        xs.extend((0..100_000).map(|i| i as f32 / 40_000.0 - 1.25));
        // SAFETY: AVX-512 is available.
        let t = unsafe { codebook_tables() };
        for chunk in xs.chunks(16) {
            let mut l = [0.0f32; 16];
            l[..chunk.len()].copy_from_slice(chunk);
            let (mut nf, mut fp) = ([0i32; 16], [0i32; 16]);
            // SAFETY: AVX-512 is available; 16-element arrays.
            unsafe {
                let v = _mm512_loadu_ps(l.as_ptr());
                _mm512_storeu_si512(nf.as_mut_ptr().cast(), nf4_codes(v, &t));
                _mm512_storeu_si512(fp.as_mut_ptr().cast(), fp4_codes(v, &t));
            }
            for ((x, n), f) in l.iter().zip(nf).zip(fp) {
                assert_eq!(
                    n as u8,
                    cb::encode_nf4(*x),
                    "nf4 {x:e} ({:#010x})",
                    x.to_bits()
                );
                assert_eq!(
                    f as u8,
                    cb::encode_fp4(*x),
                    "fp4 {x:e} ({:#010x})",
                    x.to_bits()
                );
            }
        }
    }
}
