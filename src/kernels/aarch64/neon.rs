//! NEON kernels (4 floats, 2 doubles or 16 bytes per vector). Each equals the scalar reference
//! bit for bit: the same operations in the same order per element (true division `vdivq_f32`,
//! ties-to-even rounding `vrndnq_f32`, one rounding per multiply and per add — never `vmla`/
//! `vfma` — and saturating float-to-int conversion as Rust's `as`), with the remainder of a slice
//! handled by the scalar code itself.
//!
//! The module is compiled only when NEON is enabled for the whole target (as it is on every
//! aarch64 Linux target). That is the safety argument of every `unsafe { ..._impl(..) }` call
//! below: the `#[target_feature(enable = "neon")]` functions it calls can run on any CPU this
//! build runs on. Inside them, only loads and stores through raw pointers need `unsafe`, each
//! within a chunk whose length bounds it.

use super::super::{scalar, ErrorSums, Kernels, Range};
use crate::Result;
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

pub(crate) static KERNELS: Kernels = Kernels {
    level: super::super::Level::Neon,
    scan,
    quantize,
    quantize_packed,
    dequantize,
    dequantize_packed,
    find_invalid_code,
    pack,
    unpack,
    error_sums,
    widen_f16: super::neon_half::widen_f16,
    widen_bf16: super::neon_half::widen_bf16,
    narrow_f16: super::neon_half::narrow_f16,
    narrow_bf16: super::neon_half::narrow_bf16,
    blocks: &super::neon_blocks::BLOCKS,
};

/// True when this CPU can run these kernels: always, since the module exists only when NEON is
/// a compile-time feature of the target.
pub(crate) fn available() -> bool {
    cfg!(target_feature = "neon")
}

/// All-ones in each lane whose float has `|x|` (as bits) above `limit` (as bits).
#[inline]
#[target_feature(enable = "neon")]
fn above(v: float32x4_t, limit: uint32x4_t) -> uint32x4_t {
    vcgtq_u32(
        vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7FFF_FFFF)),
        limit,
    )
}

fn scan(src: &[f32]) -> Result<Range> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { scan_impl(src) }
}

#[target_feature(enable = "neon")]
fn scan_impl(src: &[f32]) -> Result<Range> {
    // |x| as an integer is above this for NaN, ±Inf and beyond ±2^126.
    let limit = vdupq_n_u32(scalar::MAX_INPUT.to_bits());
    let mut bad = vdupq_n_u32(0);
    let mut lo = [vdupq_n_f32(f32::INFINITY); 4];
    let mut hi = [vdupq_n_f32(f32::NEG_INFINITY); 4];
    // Four independent accumulators over 16 floats, then one over 4, then scalar.
    let wide = src.chunks_exact(16);
    let rest = wide.remainder();
    for c in wide {
        for (j, (lo, hi)) in lo.iter_mut().zip(&mut hi).enumerate() {
            // SAFETY: 4 floats at 4j < 16 == c.len().
            let v = unsafe { vld1q_f32(c.as_ptr().add(4 * j)) };
            bad = vorrq_u32(bad, above(v, limit));
            *lo = vminq_f32(*lo, v);
            *hi = vmaxq_f32(*hi, v);
        }
    }
    let narrow = rest.chunks_exact(4);
    let tail = narrow.remainder();
    for c in narrow {
        // SAFETY: c.len() == 4.
        let v = unsafe { vld1q_f32(c.as_ptr()) };
        bad = vorrq_u32(bad, above(v, limit));
        lo[0] = vminq_f32(lo[0], v);
        hi[0] = vmaxq_f32(hi[0], v);
    }
    if vmaxvq_u32(bad) != 0 {
        // The scalar scan finds the first bad element and its kind.
        return scalar::scan(src);
    }
    // No NaN is left, so the vector min/max agree with the reference's comparisons (up to the
    // sign of a zero, which compares equal and which nothing downstream depends on).
    let min = vminvq_f32(vminq_f32(vminq_f32(lo[0], lo[1]), vminq_f32(lo[2], lo[3])));
    let max = vmaxvq_f32(vmaxq_f32(vmaxq_f32(hi[0], hi[1]), vmaxq_f32(hi[2], hi[3])));
    let mut r = if tail.is_empty() {
        Range {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
        }
    } else {
        scalar::scan(tail)?
    };
    if min < r.min {
        r.min = min;
    }
    if max > r.max {
        r.max = max;
    }
    Ok(r)
}

/// `clamp(rne(x / scale) + zp, -8, 7)` in 4 int32 lanes, step for step as
/// `scalar::quantize_one`: `vcvtq_s32_f32` saturates and maps NaN to 0 exactly like `as i32`,
/// and `vqaddq_s32` is `saturating_add`.
#[inline]
#[target_feature(enable = "neon")]
fn codes4(x: float32x4_t, scale: float32x4_t, zp: int32x4_t) -> int32x4_t {
    let q = vcvtq_s32_f32(vrndnq_f32(vdivq_f32(x, scale)));
    let q = vqaddq_s32(q, zp);
    vminq_s32(vmaxq_s32(q, vdupq_n_s32(-8)), vdupq_n_s32(7))
}

/// 16 codes, in element order, as bytes.
///
/// # Safety
/// 16 floats must be readable at `p`.
#[inline]
#[target_feature(enable = "neon")]
pub(super) unsafe fn codes16(p: *const f32, scale: float32x4_t, zp: int32x4_t) -> int8x16_t {
    // SAFETY: the caller guarantees 16 readable floats at `p`.
    let [a, b, c, d] = unsafe {
        [
            vld1q_f32(p),
            vld1q_f32(p.add(4)),
            vld1q_f32(p.add(8)),
            vld1q_f32(p.add(12)),
        ]
    }
    .map(|v| codes4(v, scale, zp));
    // Every code is in -8..7, so plain narrowing is exact.
    let ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
    let cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
    vcombine_s8(vmovn_s16(ab), vmovn_s16(cd))
}

/// Packs 32 codes (`a` = elements 0..16, `b` = 16..32) into 16 bytes, low nibble first, as
/// `scalar::pack_pair`: `(even & 0x0F) | (odd << 4)`.
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn pack32(a: int8x16_t, b: int8x16_t) -> uint8x16_t {
    let (a, b) = (vreinterpretq_u8_s8(a), vreinterpretq_u8_s8(b));
    // Shift-left-and-insert keeps the low 4 bits of the even code under the odd one.
    vsliq_n_u8::<4>(vuzp1q_u8(a, b), vuzp2q_u8(a, b))
}

/// The low and high nibbles of 16 bytes, sign-extended, as `scalar::unpack_pair`.
#[inline]
#[target_feature(enable = "neon")]
fn nibbles16(b: uint8x16_t) -> (int8x16_t, int8x16_t) {
    let b = vreinterpretq_s8_u8(b);
    (vshrq_n_s8::<4>(vshlq_n_s8::<4>(b)), vshrq_n_s8::<4>(b))
}

fn quantize(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { quantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "neon")]
fn quantize_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<i8>]) {
    let (s, z) = (vdupq_n_f32(scale), vdupq_n_s32(i32::from(zp)));
    let whole = src.len().min(dst.len()) / 16 * 16;
    for (c, d) in src[..whole]
        .chunks_exact(16)
        .zip(dst[..whole].chunks_exact_mut(16))
    {
        // SAFETY: 16 floats in c, 16 bytes in d.
        unsafe { vst1q_s8(d.as_mut_ptr().cast(), codes16(c.as_ptr(), s, z)) };
    }
    (scalar::KERNELS.quantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn quantize_packed(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { quantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "neon")]
fn quantize_packed_impl(src: &[f32], scale: f32, zp: i8, dst: &mut [MaybeUninit<u8>]) {
    let (s, z) = (vdupq_n_f32(scale), vdupq_n_s32(i32::from(zp)));
    let whole = src.len().min(dst.len() * 2) / 32 * 32;
    for (c, d) in src[..whole]
        .chunks_exact(32)
        .zip(dst[..whole / 2].chunks_exact_mut(16))
    {
        // SAFETY: 32 floats in c, 16 bytes in d.
        unsafe {
            let (a, b) = (codes16(c.as_ptr(), s, z), codes16(c.as_ptr().add(16), s, z));
            vst1q_u8(d.as_mut_ptr().cast(), pack32(a, b));
        }
    }
    (scalar::KERNELS.quantize_packed)(&src[whole..], scale, zp, &mut dst[whole / 2..]);
}

/// `(q - zp) as f32 * scale` for 16 codes: the difference is exact in 16 bits, the conversion
/// exact, and the multiply the one rounding, as in `scalar::dequantize_one`.
#[inline]
#[target_feature(enable = "neon")]
fn values16(q: int8x16_t, scale: float32x4_t, zp: int8x8_t) -> [float32x4_t; 4] {
    let lo = vsubl_s8(vget_low_s8(q), zp);
    let hi = vsubl_s8(vget_high_s8(q), zp);
    [
        vmovl_s16(vget_low_s16(lo)),
        vmovl_high_s16(lo),
        vmovl_s16(vget_low_s16(hi)),
        vmovl_high_s16(hi),
    ]
    .map(|d| vmulq_f32(vcvtq_f32_s32(d), scale))
}

/// Stores 16 floats.
///
/// # Safety
/// 16 floats must be writable at `p`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn store16(p: *mut f32, v: [float32x4_t; 4]) {
    for (j, v) in v.into_iter().enumerate() {
        // SAFETY: 4 floats at 4j < 16 (caller's guarantee).
        unsafe { vst1q_f32(p.add(4 * j), v) };
    }
}

fn dequantize(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { dequantize_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "neon")]
fn dequantize_impl(src: &[i8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    let (s, z) = (vdupq_n_f32(scale), vdup_n_s8(zp));
    let whole = src.len().min(dst.len()) / 16 * 16;
    for (c, d) in src[..whole]
        .chunks_exact(16)
        .zip(dst[..whole].chunks_exact_mut(16))
    {
        // SAFETY: 16 codes in c, 16 floats in d.
        unsafe { store16(d.as_mut_ptr().cast(), values16(vld1q_s8(c.as_ptr()), s, z)) };
    }
    (scalar::KERNELS.dequantize)(&src[whole..], scale, zp, &mut dst[whole..]);
}

fn dequantize_packed(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { dequantize_packed_impl(src, scale, zp, dst) }
}

#[target_feature(enable = "neon")]
fn dequantize_packed_impl(src: &[u8], scale: f32, zp: i8, dst: &mut [MaybeUninit<f32>]) {
    let (s, z) = (vdupq_n_f32(scale), vdup_n_s8(zp));
    let whole = dst.len().min(src.len() * 2) / 32 * 32;
    for (c, d) in src[..whole / 2]
        .chunks_exact(16)
        .zip(dst[..whole].chunks_exact_mut(32))
    {
        // SAFETY: 16 bytes in c, 32 floats in d.
        unsafe {
            let (lo, hi) = nibbles16(vld1q_u8(c.as_ptr()));
            // Interleaving the nibbles restores element order: lo0, hi0, lo1, hi1, ...
            let p: *mut f32 = d.as_mut_ptr().cast();
            store16(p, values16(vzip1q_s8(lo, hi), s, z));
            store16(p.add(16), values16(vzip2q_s8(lo, hi), s, z));
        }
    }
    (scalar::KERNELS.dequantize_packed)(&src[whole / 2..], scale, zp, &mut dst[whole..]);
}

fn find_invalid_code(src: &[i8]) -> Option<usize> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { find_invalid_code_impl(src) }
}

#[target_feature(enable = "neon")]
fn find_invalid_code_impl(src: &[i8]) -> Option<usize> {
    let eight = vdupq_n_s8(8);
    let whole = src.len() / 64 * 64;
    for (k, c) in src[..whole].chunks_exact(64).enumerate() {
        let mut any = vdupq_n_u8(0);
        for j in 0..4 {
            // SAFETY: 16 bytes at 16j < 64 == c.len().
            let v = unsafe { vld1q_s8(c.as_ptr().add(16 * j)) };
            // Valid codes -8..7 become 0..15: any bit of the high nibble marks a bad one.
            any = vorrq_u8(any, vreinterpretq_u8_s8(vaddq_s8(v, eight)));
        }
        if vmaxvq_u8(any) > 15 {
            return (scalar::KERNELS.find_invalid_code)(c).map(|i| i + 64 * k);
        }
    }
    (scalar::KERNELS.find_invalid_code)(&src[whole..]).map(|i| i + whole)
}

fn pack(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { pack_impl(src, dst) }
}

#[target_feature(enable = "neon")]
fn pack_impl(src: &[i8], dst: &mut [MaybeUninit<u8>]) {
    let whole = src.len().min(dst.len() * 2) / 32 * 32;
    for (c, d) in src[..whole]
        .chunks_exact(32)
        .zip(dst[..whole / 2].chunks_exact_mut(16))
    {
        // SAFETY: 32 codes in c, 16 bytes in d.
        unsafe {
            let (a, b) = (vld1q_s8(c.as_ptr()), vld1q_s8(c.as_ptr().add(16)));
            vst1q_u8(d.as_mut_ptr().cast(), pack32(a, b));
        }
    }
    (scalar::KERNELS.pack)(&src[whole..], &mut dst[whole / 2..]);
}

fn unpack(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { unpack_impl(src, dst) }
}

#[target_feature(enable = "neon")]
fn unpack_impl(src: &[u8], dst: &mut [MaybeUninit<i8>]) {
    let whole = dst.len().min(src.len() * 2) / 32 * 32;
    for (c, d) in src[..whole / 2]
        .chunks_exact(16)
        .zip(dst[..whole].chunks_exact_mut(32))
    {
        // SAFETY: 16 bytes in c, 32 codes in d.
        unsafe {
            let (lo, hi) = nibbles16(vld1q_u8(c.as_ptr()));
            // The two-register interleaving store writes lo0, hi0, lo1, hi1, ...
            vst2q_s8(d.as_mut_ptr().cast(), int8x16x2_t(lo, hi));
        }
    }
    (scalar::KERNELS.unpack)(&src[whole / 2..], &mut dst[whole..]);
}

/// The scalar reference's eight partial sums live in four vectors of two lanes (vector k holds
/// lanes 2k and 2k+1); each lane adds its elements in index order, exactly as the reference does.
fn error_sums(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { error_sums_impl(x, y) }
}

#[target_feature(enable = "neon")]
fn error_sums_impl(x: &[f32], y: &[f32]) -> Result<ErrorSums> {
    let whole = x.len().min(y.len()) / 8 * 8;
    let zero = vdupq_n_f64(0.0);
    let (mut abs, mut sq, mut xsq, mut max) = ([zero; 4], [zero; 4], [zero; 4], [zero; 4]);
    let mut max_i = [vdupq_n_u64(0); 4];
    // |v| as an integer is above f32::MAX's bits exactly for NaN and ±Inf.
    let finite_max = vdupq_n_u32(f32::MAX.to_bits());
    let mut bad = vdupq_n_u32(0);
    for (blk, (xc, yc)) in x[..whole]
        .chunks_exact(8)
        .zip(y[..whole].chunks_exact(8))
        .enumerate()
    {
        let start = vdupq_n_u64((8 * blk) as u64);
        for h in 0..2 {
            // SAFETY: 4 floats at 4h < 8 == xc.len() == yc.len().
            let (xf, yf) = unsafe {
                (
                    vld1q_f32(xc.as_ptr().add(4 * h)),
                    vld1q_f32(yc.as_ptr().add(4 * h)),
                )
            };
            bad = vorrq_u32(bad, vorrq_u32(above(xf, finite_max), above(yf, finite_max)));
            let a = [vcvt_f64_f32(vget_low_f32(xf)), vcvt_high_f64_f32(xf)];
            let b = [vcvt_f64_f32(vget_low_f32(yf)), vcvt_high_f64_f32(yf)];
            for q in 0..2 {
                let k = 2 * h + q;
                let d = vsubq_f64(a[q], b[q]);
                let ad = vabsq_f64(d);
                // Separate multiplies and adds: no fused multiply-add, as in the reference.
                abs[k] = vaddq_f64(abs[k], ad);
                sq[k] = vaddq_f64(sq[k], vmulq_f64(d, d));
                xsq[k] = vaddq_f64(xsq[k], vmulq_f64(a[q], a[q]));
                // Strictly greater: a lane keeps the first index of its maximum.
                let gt = vcgtq_f64(ad, max[k]);
                max[k] = vbslq_f64(gt, ad, max[k]);
                max_i[k] = vbslq_u64(gt, start, max_i[k]);
            }
        }
    }
    if vmaxvq_u32(bad) != 0 {
        return Err(crate::Error::NonFinite);
    }
    let mut lanes = [[0.0f64; 8]; 4];
    let mut idx = [0u64; 8];
    for k in 0..4 {
        // SAFETY: 2 lanes at 2k < 8 in each 8-element array.
        unsafe {
            vst1q_f64(lanes[0].as_mut_ptr().add(2 * k), abs[k]);
            vst1q_f64(lanes[1].as_mut_ptr().add(2 * k), sq[k]);
            vst1q_f64(lanes[2].as_mut_ptr().add(2 * k), xsq[k]);
            vst1q_f64(lanes[3].as_mut_ptr().add(2 * k), max[k]);
            vst1q_u64(idx.as_mut_ptr().add(2 * k), max_i[k]);
        }
    }
    // A lane's index is its block start plus the lane number (an index below x.len()).
    let lane_max: [(f64, usize); 8] = core::array::from_fn(|l| (lanes[3][l], idx[l] as usize + l));
    scalar::finish_error_sums(x, y, whole, [lanes[0], lanes[1], lanes[2]], lane_max)
}
