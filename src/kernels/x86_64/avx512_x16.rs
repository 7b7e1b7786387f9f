//! AVX-512 kernels that take 16 blocks of 32 floats at once: each block's reductions (largest
//! magnitude, minimum, maximum) end up in one lane of a vector through a transposing reduction
//! tree, so the per-block parameters (scales, zero points, fp16 conversions) are computed for 16
//! blocks with one vector operation each, with the same IEEE operations the scalar references
//! apply to each block. The element-wise parts then run block by block as in `avx512_blocks`.
//!
//! A group of 16 blocks in which any block is bad (NaN or infinity, a value beyond a limit, a
//! scale its fp16 field cannot hold) is redone by the per-block kernel, which reports the first
//! bad block exactly and writes only the blocks before it: nothing of the group is written here
//! before every block of it has passed.

use super::avx512::{codes16_bounded, fast_scale, prefetch, AHEAD};
use super::avx512_blocks::{self as per_block, abs_bits, codes16, even_odd, pack_ggml, trunc_code};
use crate::formats::{mxfp4, q4_0, q4_1, quantize_runs};
use crate::int4::ScaleMethod;
use crate::kernels::scalar;
use crate::Result;
use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Floats in 16 blocks of 32.
const N16: usize = 512;

/// Reduces 16 vectors to one: lane b of the result combines all lanes of `m[b]` with `op`
/// (associative and commutative: max, min). Four levels pair the halves, quarters, pairs and
/// single lanes of two inputs at a time (each step combines partial results of one block only),
/// then a permutation puts block b in lane b.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn reduce16(m: [__m512i; 16], op: impl Fn(__m512i, __m512i) -> __m512i) -> __m512i {
    // Level 1: [a.q0, a.q1, b.q0, b.q1] with [a.q2, a.q3, b.q2, b.q3]: blocks 2k, 2k+1 in halves.
    let r1: [__m512i; 8] = core::array::from_fn(|k| {
        let (a, b) = (m[2 * k], m[2 * k + 1]);
        op(
            _mm512_shuffle_i32x4::<0x44>(a, b),
            _mm512_shuffle_i32x4::<0xEE>(a, b),
        )
    });
    // Level 2: [a.q0, a.q2, b.q0, b.q2] with [a.q1, a.q3, b.q1, b.q3]: blocks 4k..4k+3 in quarters.
    let r2: [__m512i; 4] = core::array::from_fn(|k| {
        let (a, b) = (r1[2 * k], r1[2 * k + 1]);
        op(
            _mm512_shuffle_i32x4::<0x88>(a, b),
            _mm512_shuffle_i32x4::<0xDD>(a, b),
        )
    });
    // Level 3: within each quarter, [a.l0, a.l1, b.l0, b.l1] with [a.l2, a.l3, b.l2, b.l3].
    let r3: [__m512i; 2] = core::array::from_fn(|k| {
        let (a, b) = (r2[2 * k], r2[2 * k + 1]);
        op(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
    });
    // Level 4: within each quarter, [a.l0, a.l2, b.l0, b.l2] with [a.l1, a.l3, b.l1, b.l3].
    let (a, b) = (_mm512_castsi512_ps(r3[0]), _mm512_castsi512_ps(r3[1]));
    let r4 = op(
        _mm512_castps_si512(_mm512_shuffle_ps::<0b10_00_10_00>(a, b)),
        _mm512_castps_si512(_mm512_shuffle_ps::<0b11_01_11_01>(a, b)),
    );
    // Lane 4q + r now holds block 4r + q.
    let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    _mm512_permutexvar_epi32(order, r4)
}

/// Loads vector `h` (0 or 1) of block `b` of a 16-block group.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn ld(x: &[f32], b: usize, h: usize) -> __m512 {
    debug_assert!(x.len() >= N16);
    // SAFETY: the caller passes 512 floats.
    unsafe { _mm512_loadu_ps(x.as_ptr().add(32 * b + 16 * h)) }
}

/// Prefetches block b's two lines `AHEAD` floats on.
#[inline(always)]
fn prefetch_block(x: &[f32], b: usize) {
    let p = x.as_ptr().wrapping_add(32 * b + AHEAD);
    prefetch(p);
    prefetch(p.wrapping_add(16));
}

/// Largest |x| of each block as integer bits (lane b: block b).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn amax16(x: &[f32]) -> __m512i {
    // SAFETY: the caller passes 512 floats.
    let m = core::array::from_fn(|b| unsafe {
        prefetch_block(x, b);
        _mm512_max_epu32(abs_bits(ld(x, b, 0)), abs_bits(ld(x, b, 1)))
    });
    reduce16(m, |a, b| _mm512_max_epu32(a, b))
}

/// Minimum and maximum of each block, exact up to the sign of a zero (lane b: block b), when no
/// element is NaN; and whether any element is NaN (the minimum and maximum may then be
/// anything).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn min_max16(x: &[f32]) -> (__m512, __m512, bool) {
    let mut lo = [_mm512_setzero_si512(); 16];
    let mut hi = [_mm512_setzero_si512(); 16];
    let mut nan: __mmask16 = 0;
    for b in 0..16 {
        prefetch_block(x, b);
        // SAFETY: the caller passes 512 floats.
        let (v0, v1) = unsafe { (ld(x, b, 0), ld(x, b, 1)) };
        // One compare finds a NaN in either vector (cheaper than tracking magnitudes).
        nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v0, v1);
        lo[b] = _mm512_castps_si512(_mm512_min_ps(v0, v1));
        hi[b] = _mm512_castps_si512(_mm512_max_ps(v0, v1));
    }
    let min = reduce16(lo, |a, b| {
        _mm512_castps_si512(_mm512_min_ps(
            _mm512_castsi512_ps(a),
            _mm512_castsi512_ps(b),
        ))
    });
    let max = reduce16(hi, |a, b| {
        _mm512_castps_si512(_mm512_max_ps(
            _mm512_castsi512_ps(a),
            _mm512_castsi512_ps(b),
        ))
    });
    (_mm512_castsi512_ps(min), _mm512_castsi512_ps(max), nan != 0)
}

/// True when [`min_max16`] saw a NaN or some |x| above `limit` (±Inf are above `f32::MAX`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn any_beyond(min: __m512, max: __m512, nan: bool, limit: f32) -> bool {
    nan || _mm512_cmp_ps_mask::<_CMP_GT_OQ>(max, _mm512_set1_ps(limit))
        | _mm512_cmp_ps_mask::<_CMP_LT_OQ>(min, _mm512_set1_ps(-limit))
        != 0
}

/// True when some lane's |x| bits exceed `limit`'s (NaN and ±Inf exceed `f32::MAX`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn any_above(bits: __m512i, limit: f32) -> bool {
    _mm512_cmpgt_epu32_mask(bits, _mm512_set1_epi32(limit.to_bits() as i32)) != 0
}

/// The fp16 encodings of 16 floats, rounded to nearest even: `vcvtps2ph` equals
/// `fp16::f32_to_f16` for every finite input (including overflow to infinity at 65520 and
/// subnormal results; tested over all binary16 rounding boundaries), and our inputs are finite.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn to_f16(v: __m512) -> __m256i {
    _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v)
}

/// True when some fp16 encoding is infinite or NaN.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn any_f16_non_finite(h: __m256i) -> bool {
    let e = _mm256_set1_epi16(0x7C00);
    _mm256_cmpeq_epi16_mask(_mm256_and_si256(h, e), e) != 0
}

/// Stores a vector into an array (for per-block scalar reads).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn lanes_f32(v: __m512) -> [f32; 16] {
    let mut a = [0.0f32; 16];
    // SAFETY: a 16-element array.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
    a
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn lanes_u16(v: __m256i) -> [u16; 16] {
    let mut a = [0u16; 16];
    // SAFETY: a 16-element array.
    unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
    a
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn lanes_u32(v: __m512i) -> [u32; 16] {
    let mut a = [0u32; 16];
    // SAFETY: a 16-element array.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
    a
}

/// `id = d != 0 ? 1 / d : 0`, lane by lane (a true division, as the references).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn inverse_or_zero(d: __m512) -> __m512 {
    let nz = _mm512_cmp_ps_mask::<_CMP_NEQ_OQ>(d, _mm512_setzero_ps());
    _mm512_maskz_div_ps(nz, _mm512_set1_ps(1.0), d)
}

// ---------------------------------------------------------------- Q4_0

/// Quantizes whole groups of 16 Q4_0 blocks, then the rest block by block.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_q4_0(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    quantize_runs(
        src,
        dst,
        (16, q4_0::BYTES),
        // SAFETY (both): run: 512 floats and 16 blocks of bytes; AVX-512 is enabled here.
        |x, out| unsafe { q4_0_x16(x, out) },
        |x, out| unsafe { per_block::quantize_q4_0(x, out) },
    )
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn q4_0_x16(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    // SAFETY: the caller passes 512 floats.
    let (min, max, nan) = unsafe { min_max16(x) };
    if any_beyond(min, max, nan, f32::MAX) {
        return false;
    }
    // The reference keeps the first element of largest magnitude, with its sign. If the maximum
    // is larger than -minimum, every element of that magnitude is the maximum (and vice versa);
    // only where they are equal (both signs present, or all zeros: +0.0) does the first one
    // decide, which a scan of that block finds.
    let nmin = _mm512_xor_ps(min, _mm512_set1_ps(-0.0));
    let mut first = _mm512_mask_mov_ps(min, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(max, nmin), max);
    let ties = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(max, nmin);
    if ties != 0 {
        let mut a = lanes_f32(first);
        let am = lanes_u32(_mm512_castps_si512(max));
        for (b, m) in a.iter_mut().enumerate() {
            if ties & (1 << b) != 0 {
                // |max| bits; zero (of either sign) means a block of zeros: +0.0.
                let bits = am[b] & 0x7FFF_FFFF;
                *m = if bits == 0 {
                    0.0
                } else {
                    let v = _mm512_set1_epi32(bits as i32);
                    // SAFETY: 512 floats.
                    let hits = unsafe {
                        u32::from(_mm512_cmpeq_epi32_mask(abs_bits(ld(x, b, 0)), v))
                            | u32::from(_mm512_cmpeq_epi32_mask(abs_bits(ld(x, b, 1)), v)) << 16
                    };
                    x[32 * b + (hits.trailing_zeros() as usize).min(31)]
                };
            }
        }
        // SAFETY: a 16-element array.
        first = unsafe { _mm512_loadu_ps(a.as_ptr()) };
    }
    // d = max / -8, id = 1 / d (or 0), the fp16 field of d: the reference's operations.
    let d = _mm512_div_ps(first, _mm512_set1_ps(-8.0));
    let dh = to_f16(d);
    if any_f16_non_finite(dh) {
        return false;
    }
    let (id, dh) = (lanes_f32(inverse_or_zero(d)), lanes_u16(dh));
    let half = _mm512_set1_ps(8.5);
    for b in 0..16 {
        let vid = _mm512_set1_ps(id[b]);
        // SAFETY: 512 floats; block b's 18 bytes.
        unsafe {
            let c0 = trunc_code(_mm512_add_ps(_mm512_mul_ps(ld(x, b, 0), vid), half));
            let c1 = trunc_code(_mm512_add_ps(_mm512_mul_ps(ld(x, b, 1), vid), half));
            let o = out.as_mut_ptr().add(b * q4_0::BYTES).cast::<u8>();
            o.cast::<[u8; 2]>().write_unaligned(dh[b].to_le_bytes());
            _mm_storeu_si128(o.add(2).cast(), pack_ggml(c0, c1));
        }
    }
    true
}

// ---------------------------------------------------------------- Q4_1

/// Quantizes whole groups of 16 Q4_1 blocks, then the rest block by block.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_q4_1(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    quantize_runs(
        src,
        dst,
        (16, q4_1::BYTES),
        // SAFETY (both): run: 512 floats and 16 blocks of bytes; AVX-512 is enabled here.
        |x, out| unsafe { q4_1_x16(x, out) },
        |x, out| unsafe { per_block::quantize_q4_1(x, out) },
    )
}

/// For the blocks whose `v` lane is a zero of either sign, the first zero of the block with its
/// sign (what the reference's strict comparisons keep among equal extremes).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn first_zeros(x: &[f32], v: __m512) -> __m512 {
    let zeros = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, _mm512_setzero_ps());
    if zeros == 0 {
        return v;
    }
    let mut a = lanes_f32(v);
    for (b, e) in a.iter_mut().enumerate() {
        if zeros & (1 << b) != 0 {
            // SAFETY: 512 floats.
            let (v0, v1) = unsafe { (ld(x, b, 0), ld(x, b, 1)) };
            *e = per_block::first_zero(&x[32 * b..32 * b + 32], v0, v1);
        }
    }
    // SAFETY: a 16-element array.
    unsafe { _mm512_loadu_ps(a.as_ptr()) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn q4_1_x16(x: &[f32], out: &mut [MaybeUninit<u8>]) -> bool {
    // SAFETY: the caller passes 512 floats.
    let (min, max, nan) = unsafe { min_max16(x) };
    if any_beyond(min, max, nan, f32::MAX) {
        return false;
    }
    // SAFETY: 512 floats.
    let (min, max) = unsafe { (first_zeros(x, min), first_zeros(x, max)) };
    let d = _mm512_div_ps(_mm512_sub_ps(max, min), _mm512_set1_ps(15.0));
    let (dh, mh) = (to_f16(d), to_f16(min));
    if any_f16_non_finite(dh) || any_f16_non_finite(mh) {
        return false;
    }
    let (id, dh, mh, mn) = (
        lanes_f32(inverse_or_zero(d)),
        lanes_u16(dh),
        lanes_u16(mh),
        lanes_f32(min),
    );
    let half = _mm512_set1_ps(0.5);
    for b in 0..16 {
        let (vmin, vid) = (_mm512_set1_ps(mn[b]), _mm512_set1_ps(id[b]));
        // SAFETY: 512 floats; block b's 20 bytes.
        unsafe {
            let v0 = _mm512_mul_ps(_mm512_sub_ps(ld(x, b, 0), vmin), vid);
            let v1 = _mm512_mul_ps(_mm512_sub_ps(ld(x, b, 1), vmin), vid);
            let c0 = trunc_code(_mm512_add_ps(v0, half));
            let c1 = trunc_code(_mm512_add_ps(v1, half));
            let o = out.as_mut_ptr().add(b * q4_1::BYTES).cast::<u8>();
            o.cast::<[u8; 2]>().write_unaligned(dh[b].to_le_bytes());
            o.add(2)
                .cast::<[u8; 2]>()
                .write_unaligned(mh[b].to_le_bytes());
            _mm_storeu_si128(o.add(4).cast(), pack_ggml(c0, c1));
        }
    }
    true
}

// ---------------------------------------------------------------- MXFP4

/// `mxfp4::scale_byte` of 16 finite magnitudes (as bits), lane by lane, with the same integer
/// steps: `floor(log2f(amax))` is the exponent of amax, plus one when amax is among the
/// `floats_rounding_up_to(k)` floats just below 2^k, k = exponent + 1; that count is 0 for
/// k = 0 and otherwise depends on j = 24 - floor(log2 |k|) (25 - for positive powers of two).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn scale_bytes16(amax: __m512i) -> __m512i {
    let one = _mm512_set1_epi32(1);
    let ebits = _mm512_srli_epi32::<23>(amax);
    let e = _mm512_sub_epi32(ebits, _mm512_set1_epi32(127));
    let k = _mm512_add_epi32(e, one);
    let next_power = _mm512_slli_epi32::<23>(_mm512_add_epi32(ebits, one));
    let a = _mm512_abs_epi32(k);
    // floor(log2 a) from the exponent of a as a float (exact: a <= 128).
    let fa = _mm512_castps_si512(_mm512_cvtepi32_ps(a));
    let e2 = _mm512_sub_epi32(_mm512_srli_epi32::<23>(fa), _mm512_set1_epi32(127));
    let pow2 = _mm512_testn_epi32_mask(a, _mm512_sub_epi32(a, one));
    let pos = _mm512_cmpgt_epi32_mask(k, _mm512_setzero_si512());
    let j = _mm512_sub_epi32(_mm512_set1_epi32(24), e2);
    let j = _mm512_mask_add_epi32(j, pos & pow2, j, one);
    // Counts by j - 16 (j is 18..=25 for k != 0; see `mxfp4::floats_rounding_up_to`).
    let table = _mm512_setr_epi32(0, 0, 44, 22, 11, 5, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    let cnt = _mm512_permutexvar_epi32(_mm512_sub_epi32(j, _mm512_set1_epi32(16)), table);
    let k_zero = _mm512_cmpeq_epi32_mask(k, _mm512_setzero_si512());
    let cnt = _mm512_mask_mov_epi32(cnt, k_zero, _mm512_setzero_si512());
    let up = _mm512_cmpge_epu32_mask(amax, _mm512_sub_epi32(next_power, cnt));
    let fl = _mm512_mask_mov_epi32(e, up, k);
    let byte = _mm512_add_epi32(fl, _mm512_set1_epi32(125));
    // amax < 2^-125 (zero included): byte 0.
    let tiny = _mm512_cmplt_epu32_mask(amax, _mm512_set1_epi32((127 - 125) << 23));
    _mm512_maskz_mov_epi32(!tiny, byte)
}

/// Quantizes whole groups of 16 MXFP4 blocks, then the rest block by block.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_mxfp4(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()> {
    let full = src.len() / N16 * N16;
    let (head, tail) = dst.split_at_mut(full / 32 * mxfp4::BYTES);
    let lut = per_block::mxfp4_lut();
    // SAFETY: a 32-element array.
    let (lut_lo, lut_hi) = unsafe {
        (
            _mm512_loadu_si512(lut.as_ptr().cast()),
            _mm512_loadu_si512(lut.as_ptr().add(16).cast()),
        )
    };
    for (x, out) in src[..full]
        .chunks_exact(N16)
        .zip(head.chunks_exact_mut(16 * mxfp4::BYTES))
    {
        // SAFETY: 512 floats.
        let amax = unsafe { amax16(x) };
        if any_above(amax, f32::MAX) {
            // SAFETY: AVX-512 is enabled here.
            unsafe { per_block::quantize_mxfp4(x, out)? };
            continue;
        }
        let e = scale_bytes16(amax);
        let scale2 = lanes_f32(_mm512_cvtepi32_ps(_mm512_sub_epi32(
            _mm512_set1_epi32(129),
            e,
        )));
        let e = lanes_u32(e);
        for b in 0..16 {
            let s = _mm512_set1_ps(scale2[b]);
            let cap = _mm512_set1_ps(if e[b] == 253 { 14.0 } else { 31.0 });
            // SAFETY: 512 floats; block b's 17 bytes.
            unsafe {
                let c0 = per_block::mxfp4_codes(ld(x, b, 0), s, cap, lut_lo, lut_hi);
                let c1 = per_block::mxfp4_codes(ld(x, b, 1), s, cap, lut_lo, lut_hi);
                let o = out.as_mut_ptr().add(b * mxfp4::BYTES).cast::<u8>();
                o.write(e[b] as u8);
                _mm_storeu_si128(o.add(1).cast(), pack_ggml(c0, c1));
            }
        }
    }
    // SAFETY: AVX-512 is enabled here.
    unsafe { per_block::quantize_mxfp4(&src[full..], tail) }
}

// ---------------------------------------------------------------- int4 groups of 32

/// `params_for` of 16 groups (lane g: group g) from their exact minima and maxima, with the
/// same operations: MinMax `scale = (hi - lo) / 15`, `zp = clamp(rne(-8 - lo / scale), -8,
/// 7)`; AbsMax `scale = max(-min, max) / 7` (the larger by `-min > max`), `zp = 0`; scale 1 and
/// zero point 0 where the scale is not > 0. Signs of zero extremes do not matter (`params_for`
/// compares them with 0 and uses 0.0 itself).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) fn params16(min: __m512, max: __m512, method: ScaleMethod) -> (__m512, __m512) {
    let zero = _mm512_setzero_ps();
    let (scale, zp) = match method {
        ScaleMethod::MinMax => {
            let lo = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(min, zero), min);
            let hi = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(max, zero), max);
            let scale = _mm512_div_ps(_mm512_sub_ps(hi, lo), _mm512_set1_ps(15.0));
            let z = _mm512_sub_ps(_mm512_set1_ps(-8.0), _mm512_div_ps(lo, scale));
            let z = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(z);
            let z = _mm512_max_ps(_mm512_min_ps(z, _mm512_set1_ps(7.0)), _mm512_set1_ps(-8.0));
            (scale, z)
        }
        ScaleMethod::AbsMax => {
            // -min: a sign flip, as the reference's negation.
            let nmin = _mm512_xor_ps(min, _mm512_set1_ps(-0.0));
            let a = _mm512_mask_mov_ps(max, _mm512_cmp_ps_mask::<_CMP_GT_OQ>(nmin, max), nmin);
            (_mm512_div_ps(a, _mm512_set1_ps(7.0)), zero)
        }
    };
    let ok = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(scale, zero);
    (
        _mm512_mask_mov_ps(_mm512_set1_ps(1.0), ok, scale),
        _mm512_maskz_mov_ps(ok, zp),
    )
}

/// Quantizes whole runs of 16 groups of 32, then hands the rest (from a group boundary) back.
/// Returns how many floats it did.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn quantize_groups32(
    src: &[f32],
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> usize {
    let full = src.len() / N16 * N16;
    let nib = _mm512_set1_epi32(0x0F);
    for (r, x) in src[..full].chunks_exact(N16).enumerate() {
        // SAFETY: 512 floats.
        let (min, max, nan) = unsafe { min_max16(x) };
        if any_beyond(min, max, nan, scalar::MAX_INPUT) {
            // The caller's per-group loop takes it from here (and finds the bad element).
            return N16 * r;
        }
        let (scale, zp) = params16(min, max, method);
        // SAFETY: 16 scales (and zero points) of run r.
        unsafe {
            _mm512_storeu_ps(scales.as_mut_ptr().add(16 * r).cast(), scale);
            if !zero_points.is_empty() {
                _mm_storeu_si128(
                    zero_points.as_mut_ptr().add(16 * r).cast(),
                    _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(zp)),
                );
            }
        }
        // The reciprocals for the division-free codes (`avx512::codes16_bounded`), where the scale
        // allows them; elsewhere a true division.
        let inv = lanes_f32(_mm512_div_ps(_mm512_set1_ps(1.0), scale));
        let (s, z) = (lanes_f32(scale), lanes_f32(zp));
        for g in 0..16 {
            let (vs, vz) = (_mm512_set1_ps(s[g]), _mm512_set1_ps(z[g]));
            // SAFETY: 512 floats; group (16 r + g)'s 16 bytes.
            unsafe {
                let (x0, x1) = (ld(x, g, 0), ld(x, g, 1));
                let (c0, c1) = if fast_scale(s[g]) {
                    let vr = _mm512_set1_ps(inv[g]);
                    (
                        codes16_bounded(x0, vs, vr, vz),
                        codes16_bounded(x1, vs, vr, vz),
                    )
                } else {
                    (codes16(x0, vs, vz), codes16(x1, vs, vz))
                };
                let (even, odd) = even_odd(c0, c1);
                let bytes = _mm512_or_si512(
                    _mm512_and_si512(even, nib),
                    _mm512_slli_epi32::<4>(_mm512_and_si512(odd, nib)),
                );
                _mm_storeu_si128(
                    codes.as_mut_ptr().add(256 * r + 16 * g).cast(),
                    _mm512_cvtepi32_epi8(bytes),
                );
            }
        }
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available() -> bool {
        super::super::avx512::available()
    }

    #[test]
    fn scale_bytes_match_the_reference_near_every_power_of_two() {
        if !available() {
            return;
        }
        let mut amax: Vec<u32> = vec![0, 1, 0x0020_0000, 0x7F7F_FFFF];
        for k in -127i32..=128 {
            let p = ((k + 127).max(0) as u32) << 23;
            for d in 0..100u32 {
                amax.push(p.saturating_sub(d).min(0x7F7F_FFFF));
                amax.push((p + d).min(0x7F7F_FFFF));
            }
        }
        for chunk in amax.chunks(16) {
            let mut lanes = [0u32; 16];
            lanes[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: AVX-512 is available; 16-element arrays.
            let got = unsafe {
                let v = _mm512_loadu_si512(lanes.as_ptr().cast());
                lanes_u32(scale_bytes16(v))
            };
            for (l, g) in lanes.iter().zip(got) {
                let want = mxfp4::scale_byte(f32::from_bits(*l));
                assert_eq!(g, u32::from(want), "amax bits {l:#010x}");
            }
        }
    }

    #[test]
    fn hardware_f16_conversion_equals_ours() {
        use crate::formats::fp16::{f16_to_f32, f32_to_f16};
        if !available() {
            return;
        }
        // Every binary16 value, the midpoints between neighbours and their f32 neighbours, plus
        // a stride over all f32 bit patterns (NaN excluded: our inputs are finite).
        let mut xs: Vec<f32> = Vec::new();
        for h in 0u16..0x7C00 {
            let lo = f16_to_f32(h);
            let hi = if h == 0x7BFF {
                65536.0
            } else {
                f16_to_f32(h + 1)
            };
            let mid = ((f64::from(lo) + f64::from(hi)) / 2.0) as f32;
            for v in [
                lo,
                mid,
                f32::from_bits(mid.to_bits() + 1),
                f32::from_bits(mid.to_bits().wrapping_sub(1)),
            ] {
                xs.push(v);
                xs.push(-v);
            }
        }
        xs.extend(
            (0..u32::MAX / 4099)
                .map(|i| f32::from_bits(i * 4099))
                .filter(|v| !v.is_nan()),
        );
        for chunk in xs.chunks(16) {
            let mut lanes = [0.0f32; 16];
            lanes[..chunk.len()].copy_from_slice(chunk);
            // SAFETY: AVX-512 is available; 16-element arrays.
            let got = unsafe { lanes_u16(to_f16(_mm512_loadu_ps(lanes.as_ptr()))) };
            for (x, g) in lanes.iter().zip(got) {
                assert_eq!(g, f32_to_f16(*x), "{x:e} ({:#010x})", x.to_bits());
            }
        }
    }
}
