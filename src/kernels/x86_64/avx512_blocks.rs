//! The AVX-512 table of the block-wise formats' kernels (`BLOCKS`: ggml blocks, NF4/FP4
//! codebooks, int4 groups of 32), whose kernels are written once in `kernels::simd`
//! (`multi_block`, `iq4_nl`, `superblocks`, `dequantize_blocks`, `codebook`; each module lists
//! the formats it accelerates in its `QUANTIZE`/`DEQUANTIZE` tables), and the AVX-512 steps behind some lane primitives (`mxfp4_codes`,
//! `even_odd`, `codes16`). Where a step computes something differently from the reference, a
//! comment proves the result identical.

use super::super::{format_tables, simd, BlockKernels};
use super::avx512::KERNELS;
use crate::kernels::groups::quantize_groups_split32;
use crate::kernels::simd::multi_block::avx512 as x16;
use crate::kernels::simd::{codebook::avx512 as cbk, dequantize_blocks::avx512 as dq};
use core::arch::x86_64::*;

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_tables(&[
        simd::multi_block::avx512::QUANTIZE,
        simd::iq4_nl::avx512::QUANTIZE,
        simd::superblocks::avx512::QUANTIZE,
    ]),
    dequantize_blocks: format_tables(&[
        simd::dequantize_blocks::avx512::DEQUANTIZE,
        simd::superblocks::avx512::DEQUANTIZE,
    ]),
    // Below one vector of 32 the scalar loop has no set-up to pay for.
    quantize_codebook: |b, s, bs, c, a| unsafe { cbk::quantize_codebook(b, s, bs, c, a) },
    dequantize_codebook: |b, c, bs, a, d| unsafe { cbk::dequantize_codebook(b, c, bs, a, d) },
    quantize_groups: |s, gs, m, c, sc, z| {
        quantize_groups_split32(&KERNELS, s, gs, m, c, sc, z, |s, m, c, sc, z| unsafe {
            x16::quantize_groups32(s, m, c, sc, z)
        })
    },
    dequantize_groups: |c, gs, sc, z, d| unsafe {
        dq::dequantize_groups(c, gs, sc, z, d, KERNELS.dequantize_packed)
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

// ---------------------------------------------------------------- ggml quantization

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
