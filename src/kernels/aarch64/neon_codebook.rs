//! NEON kernels of the NF4/FP4 codebooks and of group-wise int4 (groups of 32), equal to the
//! scalar references bit for bit (see `neon_blocks` for the conventions and the safety
//! argument: NEON is enabled for the whole target wherever this module is compiled).

use super::neon::KERNELS;
use super::neon_blocks::{abs_bits, load16, load32, low_bytes, max_lanes, planes, store_lookup};
use crate::kernels::groups::quantize_groups_split32;
use crate::kernels::simd::multi_block::neon as multi_block;
use crate::reference::codebook::scalar::{self as cb, MAX_ABS_INPUT};
use crate::reference::codebook::tables::{FP4_CODE_BY_RANK, FP4_THRESHOLDS, NF4_THRESHOLDS};
use crate::reference::codebook::Codebook;
use crate::reference::int4::ScaleMethod;
use crate::{Error, Result};
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

// ---------------------------------------------------------------- codebooks

/// NF4 codes (`scalar::encode_nf4`): the number of thresholds strictly below v, counted
/// directly (each true comparison is all-ones, i.e. -1); NaN compares false everywhere: 0.
#[inline]
#[target_feature(enable = "neon")]
fn nf4_codes(v: float32x4_t, t: &[float32x4_t; 15]) -> uint32x4_t {
    let mut c = vdupq_n_u32(0);
    for &ti in t {
        c = vsubq_u32(c, vcgtq_f32(v, ti));
    }
    c
}

/// The rank of |v| among the FP4 magnitude thresholds (strictly greater; NaN: 0), counted as
/// in [`nf4_codes`].
#[inline]
#[target_feature(enable = "neon")]
fn fp4_ranks(v: float32x4_t, t: &[float32x4_t; 7]) -> uint32x4_t {
    let m = vabsq_f32(v);
    let mut c = vdupq_n_u32(0);
    for &ti in t {
        c = vsubq_u32(c, vcgtq_f32(m, ti));
    }
    c
}

/// Codes of 32 scaled values as bytes in element order (two vectors of 16).
#[inline]
#[target_feature(enable = "neon")]
fn codebook_codes(
    book: Codebook,
    v: [float32x4_t; 8],
    nf4: &[float32x4_t; 15],
    fp4: &[float32x4_t; 7],
    by_rank: uint8x16_t,
) -> [uint8x16_t; 2] {
    let half = |h: usize| {
        let q = [v[4 * h], v[4 * h + 1], v[4 * h + 2], v[4 * h + 3]];
        match book {
            Codebook::Nf4 => low_bytes(q.map(|x| nf4_codes(x, nf4))),
            Codebook::Fp4 => {
                // FP4_CODE_BY_RANK[rank], plus the sign bit 8 when v < 0 (-0.0, NaN: none).
                let code = vqtbl1q_u8(by_rank, low_bytes(q.map(|x| fp4_ranks(x, fp4))));
                let neg = low_bytes(q.map(|x| vcltzq_f32(x)));
                vorrq_u8(code, vandq_u8(neg, vdupq_n_u8(8)))
            }
        }
    };
    [half(0), half(1)]
}

/// 32 codes in element order (bytes 0..15) packed two per byte, the first element in the high
/// nibble (bitsandbytes' order).
#[inline]
#[target_feature(enable = "neon")]
fn pack_hi_first(c: [uint8x16_t; 2]) -> uint8x16_t {
    let (even, odd) = (vuzp1q_u8(c[0], c[1]), vuzp2q_u8(c[0], c[1]));
    // (even << 4) | (odd & 0x0F); the codes are 0..15.
    vsliq_n_u8::<4>(odd, even)
}

/// The kernel of `BlockKernels::quantize_codebook`. Below one vector of 32 elements the scalar
/// loop has no set-up to pay for.
pub(super) fn quantize_codebook(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    if src.len() < 32 {
        return cb::quantize_blocks(book, src, block_size, codes, absmax);
    }
    // SAFETY: NEON is enabled for the whole target (see `neon_blocks`).
    unsafe { quantize_codebook_impl(book, src, block_size, codes, absmax) }
}

#[target_feature(enable = "neon")]
fn quantize_codebook_impl(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let nf4: [float32x4_t; 15] = NF4_THRESHOLDS.map(|t| vdupq_n_f32(t));
    let fp4: [float32x4_t; 7] = FP4_THRESHOLDS.map(|t| vdupq_n_f32(t));
    let mut by_rank = [0u8; 16];
    by_rank[..8].copy_from_slice(&FP4_CODE_BY_RANK);
    // SAFETY: a 16-byte array.
    let by_rank = unsafe { vld1q_u8(by_rank.as_ptr()) };
    for ((block, bc), am) in src
        .chunks(block_size)
        .zip(codes.chunks_mut(block_size / 2))
        .zip(absmax.iter_mut())
    {
        let whole = block.len() / 32 * 32;
        // Pass 1: the largest magnitude as integer bits; NaN and ±Inf have larger |x| bits than
        // any finite value, so one comparison of the largest bits with 2^126's finds all three.
        let mut a = vdupq_n_u32(0);
        for c in block[..whole].chunks_exact(32) {
            // SAFETY: 32 floats.
            let v = unsafe { load32(c.as_ptr()) };
            a = vmaxq_u32(a, max_lanes(&v.map(|x| abs_bits(x))));
        }
        let bits = vmaxvq_u32(a);
        let mut amax = f32::from_bits(bits);
        if bits > MAX_ABS_INPUT.to_bits() || whole < block.len() {
            // The reference finds the first bad element and its kind (or covers the tail).
            amax = cb::block_absmax(block)?;
        }
        let r = vdupq_n_f32(cb::reciprocal(amax));
        // Pass 2: codes of x * r (one rounding, as the reference), two per byte.
        for (c, o) in block[..whole]
            .chunks_exact(32)
            .zip(bc[..whole / 2].chunks_exact_mut(16))
        {
            // SAFETY: 32 floats in c; 16 bytes in o.
            unsafe {
                let v = load32(c.as_ptr()).map(|x| vmulq_f32(x, r));
                let q = codebook_codes(book, v, &nf4, &fp4, by_rank);
                vst1q_u8(o.as_mut_ptr().cast(), pack_hi_first(q));
            }
        }
        cb::quantize_block(book, &block[whole..], amax, &mut bc[whole / 2..]);
        am.write(amax);
    }
    Ok(())
}

/// The kernel of `BlockKernels::dequantize_codebook` (below 32 elements: the scalar loop).
pub(super) fn dequantize_codebook(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    if dst.len() < 32 {
        return cb::dequantize_blocks(book, codes, block_size, absmax, dst);
    }
    // SAFETY: NEON is enabled for the whole target (see `neon_blocks`).
    unsafe { dequantize_codebook_impl(book, codes, block_size, absmax, dst) }
}

/// Each block's 16 outputs `table[code] * absmax` are computed once (the reference's product
/// for each code, one rounding) and copied by code.
#[target_feature(enable = "neon")]
fn dequantize_codebook_impl(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let t = load16(cb::table(book));
    let nib = vdupq_n_u8(0x0F);
    for ((block, bc), &s) in dst
        .chunks_mut(block_size)
        .zip(codes.chunks(block_size / 2))
        .zip(absmax)
    {
        if !s.is_finite() {
            return Err(Error::NonFinite);
        }
        let vs = vdupq_n_f32(s);
        let p = planes(t.map(|ti| vmulq_f32(ti, vs)));
        let whole = block.len() / 32 * 32;
        for (c, o) in bc[..whole / 2]
            .chunks_exact(16)
            .zip(block[..whole].chunks_exact_mut(32))
        {
            // SAFETY: 16 bytes in c; 32 floats in o.
            unsafe {
                let b = vld1q_u8(c.as_ptr());
                let (hi, lo) = (vshrq_n_u8::<4>(b), vandq_u8(b, nib));
                // Element 2j is byte j's high nibble, element 2j + 1 its low nibble.
                let po = o.as_mut_ptr().cast::<f32>();
                store_lookup(po, &p, vzip1q_u8(hi, lo));
                store_lookup(po.add(16), &p, vzip2q_u8(hi, lo));
            }
        }
        cb::dequantize_block(book, &bc[whole / 2..], s, &mut block[whole..]);
    }
    Ok(())
}

// ---------------------------------------------------------------- int4 groups of 32

/// The kernel of `BlockKernels::quantize_groups`: groups of 32 in runs of 8
/// (`simd::multi_block`, over `lanes::neon`); other group sizes, and a last partial group, take
/// the generic loop over NEON's per-tensor kernels (`neon::KERNELS.scan` and
/// `.quantize_packed`).
pub(super) fn quantize_groups(
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    quantize_groups_split32(
        &KERNELS,
        src,
        group_size,
        method,
        codes,
        scales,
        zero_points,
        // SAFETY: NEON is enabled for the whole target (see `neon_blocks`).
        |s, m, c, sc, z| unsafe { multi_block::quantize_groups32(s, m, c, sc, z) },
    )
}
