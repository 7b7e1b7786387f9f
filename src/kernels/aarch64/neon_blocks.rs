//! NEON dequantizers of the ggml block formats (Q4_0, Q4_1, IQ4_NL, MXFP4), 4 floats or 16 bytes
//! per vector, and the table of all block-wise NEON kernels (the Q4_0, Q4_1 and MXFP4
//! quantizers are `simd::multi_block`'s, 8 blocks at a time over `lanes::neon`; both directions
//! of Q4_K, IQ4_XS and NVFP4 are `simd::superblocks`', over the same lanes; IQ4_NL
//! quantization is in `neon_iq4nl`, the codebook and group kernels in `neon_codebook`). Each
//! equals the scalar per-block reference bit for bit: the same IEEE operations in the same order
//! per element (one rounding per multiply, add and subtract: never `vfma`/`vmla`), and the fp16
//! fields read and checked by the reference's own `fp16` functions. Where a kernel computes
//! something differently, a comment proves the result identical.
//!
//! Safety: this module, like `neon`, is compiled only when NEON is enabled for the whole target,
//! so every `#[target_feature(enable = "neon")]` function can run on any CPU this build runs on
//! (the argument of each `unsafe` call of one from the table below). Loads and stores through
//! raw pointers stay within a chunk whose length bounds them, as each SAFETY comment states.

use super::super::{format_tables, BlockKernels};
use super::{neon_codebook, neon_iq4nl};
use crate::kernels::simd::multi_block::neon as multi_block;
use crate::kernels::simd::superblocks::neon as superblocks;
use crate::reference::formats::common::read_f16;
use crate::reference::formats::fp16::{f16_is_finite, f16_to_f32};
use crate::reference::formats::{iq4_nl, mxfp4, q4_0, q4_1, BlockFormat};
use crate::{Error, Result};
use core::arch::aarch64::*;
use core::mem::MaybeUninit;

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_tables(&[
        multi_block::QUANTIZE,
        superblocks::QUANTIZE,
        &[(BlockFormat::Iq4Nl, neon_iq4nl::quantize_iq4_nl)],
    ]),
    dequantize_blocks: format_tables(&[
        superblocks::DEQUANTIZE,
        &[
            (BlockFormat::Q4_0, dequantize_q4_0),
            (BlockFormat::Q4_1, dequantize_q4_1),
            (BlockFormat::Iq4Nl, dequantize_iq4_nl),
            (BlockFormat::Mxfp4, dequantize_mxfp4),
        ],
    ]),
    quantize_codebook: neon_codebook::quantize_codebook,
    dequantize_codebook: neon_codebook::dequantize_codebook,
    quantize_groups: neon_codebook::quantize_groups,
    dequantize_groups,
};

/// Group-wise dequantization: the shared group loop over NEON's packed dequantizer (which has no
/// small-input cut-over, so small groups run NEON too).
fn dequantize_groups(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    crate::kernels::groups::dequantize_groups_with(
        super::neon::KERNELS.dequantize_packed,
        codes,
        group_size,
        scales,
        zero_points,
        dst,
    )
}

/// Safe entry points (named, so that the optimised build's symbols show every kernel) of the
/// `#[target_feature]` kernels `$name_impl`.
macro_rules! entry {
    ($($name:ident, $($imp:ident)::+, $t:ty, $u:ty;)*) => {$(
        fn $name(src: &[$t], dst: &mut [MaybeUninit<$u>]) -> Result<()> {
            // SAFETY: NEON is enabled for the whole target (see the module comment).
            unsafe { $($imp)::+(src, dst) }
        }
    )*};
}
entry! {
    dequantize_q4_0, dequantize_q4_0_impl, u8, f32;
    dequantize_q4_1, dequantize_q4_1_impl, u8, f32;
    dequantize_iq4_nl, dequantize_iq4_nl_impl, u8, f32;
    dequantize_mxfp4, dequantize_mxfp4_impl, u8, f32;
}

// ---------------------------------------------------------------- shared helpers

/// Loads 32 floats.
///
/// # Safety
/// 32 floats must be readable at `p`.
#[inline]
#[target_feature(enable = "neon")]
pub(super) unsafe fn load32(p: *const f32) -> [float32x4_t; 8] {
    // SAFETY: 4 floats at 4j < 32, within the caller's 32.
    core::array::from_fn(|j| unsafe { vld1q_f32(p.add(4 * j)) })
}

/// `|x|` as integer bits: for finite x ordered as the magnitudes; NaN and ±Inf above every
/// finite value.
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn abs_bits(v: float32x4_t) -> uint32x4_t {
    vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x7FFF_FFFF))
}

/// The lane-wise maximum of eight vectors.
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn max_lanes(a: &[uint32x4_t; 8]) -> uint32x4_t {
    let m = [0, 2, 4, 6].map(|j| vmaxq_u32(a[j], a[j + 1]));
    vmaxq_u32(vmaxq_u32(m[0], m[1]), vmaxq_u32(m[2], m[3]))
}

/// The low byte of each of 16 32-bit lanes (four vectors, in order).
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn low_bytes(c: [uint32x4_t; 4]) -> uint8x16_t {
    // Little-endian: the even 16-bit half of a 32-bit lane is its low half, and the even byte
    // of a 16-bit lane its low byte.
    let ab = vuzp1q_u16(vreinterpretq_u16_u32(c[0]), vreinterpretq_u16_u32(c[1]));
    let cd = vuzp1q_u16(vreinterpretq_u16_u32(c[2]), vreinterpretq_u16_u32(c[3]));
    vuzp1q_u8(vreinterpretq_u8_u16(ab), vreinterpretq_u8_u16(cd))
}

/// A 16-entry f32 table from an array.
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn load16(t: &[f32; 16]) -> [float32x4_t; 4] {
    // SAFETY: 4 floats at 4j < 16.
    core::array::from_fn(|j| unsafe { vld1q_f32(t.as_ptr().add(4 * j)) })
}

/// The byte planes of a 16-entry f32 table (entries 4j..4j+4 in `t[j]`): plane k holds byte k
/// of every entry, so that one byte lookup per plane and an interleaving store write entries
/// by index ([`store_lookup`]).
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn planes(t: [float32x4_t; 4]) -> uint8x16x4_t {
    const BYTE0: [u8; 16] = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60];
    let tbl = uint8x16x4_t(
        vreinterpretq_u8_f32(t[0]),
        vreinterpretq_u8_f32(t[1]),
        vreinterpretq_u8_f32(t[2]),
        vreinterpretq_u8_f32(t[3]),
    );
    // SAFETY: a 16-byte array.
    let i0 = unsafe { vld1q_u8(BYTE0.as_ptr()) };
    let one = vdupq_n_u8(1);
    let i1 = vaddq_u8(i0, one);
    let i2 = vaddq_u8(i1, one);
    let i3 = vaddq_u8(i2, one);
    uint8x16x4_t(
        vqtbl4q_u8(tbl, i0),
        vqtbl4q_u8(tbl, i1),
        vqtbl4q_u8(tbl, i2),
        vqtbl4q_u8(tbl, i3),
    )
}

/// Stores `table[idx[i]]` for 16 indices (each 0..15), the table given by its [`planes`]: the
/// entries are copied bit for bit.
///
/// # Safety
/// 16 floats must be writable at `p`.
#[inline]
#[target_feature(enable = "neon")]
pub(super) unsafe fn store_lookup(p: *mut f32, t: &uint8x16x4_t, idx: uint8x16_t) {
    let b = uint8x16x4_t(
        vqtbl1q_u8(t.0, idx),
        vqtbl1q_u8(t.1, idx),
        vqtbl1q_u8(t.2, idx),
        vqtbl1q_u8(t.3, idx),
    );
    // Interleaved: byte 4i + k is plane k's byte i, i.e. float i in little-endian order.
    // SAFETY: 64 bytes = 16 floats at p (caller's guarantee).
    unsafe { vst4q_u8(p.cast(), b) };
}

// ---------------------------------------------------------------- ggml dequantization

/// A 16-entry table of small integers as f32 (exact), `k[i] + offset`, at compile time.
const fn int_table(k: &[i8; 16], offset: i32) -> [f32; 16] {
    let mut t = [0.0f32; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = (k[i] as i32 + offset) as f32;
        i += 1;
    }
    t
}

const IDENTITY: [i8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// Q4_0's values by code before scaling: `q - 8`.
const Q4_0_VALUES: [f32; 16] = int_table(&IDENTITY, -8);
/// Q4_1's codes as f32: `q`.
const Q4_1_VALUES: [f32; 16] = int_table(&IDENTITY, 0);
const IQ4_NL_VALUES: [f32; 16] = int_table(&iq4_nl::KVALUES, 0);
const MXFP4_VALUES: [f32; 16] = int_table(&mxfp4::KVALUES, 0);

/// Dequantizes blocks of `N` bytes whose 16 code bytes start at `at` (low nibble: element j,
/// high nibble: element j + 16). `table` gives a block's 16 output values by code (or its
/// error); each output is then that entry, copied. Computing the 16 values once per block gives
/// exactly the reference's per-element values: each is the same expression of the same code.
#[inline]
#[target_feature(enable = "neon")]
fn dequantize_by_table<const N: usize>(
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
    at: usize,
    table: impl Fn(&[u8]) -> Result<[float32x4_t; 4]>,
) -> Result<()> {
    debug_assert_eq!(at + 16, N);
    let nib = vdupq_n_u8(0x0F);
    for (b, out) in src.chunks_exact(N).zip(dst.chunks_exact_mut(32)) {
        let t = planes(table(b)?);
        // SAFETY: 16 code bytes at b[at..N]; 32 floats in `out`.
        unsafe {
            let q = vld1q_u8(b.as_ptr().add(at));
            let o = out.as_mut_ptr().cast::<f32>();
            store_lookup(o, &t, vandq_u8(q, nib));
            store_lookup(o.add(16), &t, vshrq_n_u8::<4>(q));
        }
    }
    Ok(())
}

/// The block's finite fp16 field at `at`, as f32 (the reference's conversion).
#[inline]
fn f16_field(b: &[u8], at: usize) -> Result<f32> {
    let h = read_f16(b, at);
    if !f16_is_finite(h) {
        return Err(Error::NonFinite);
    }
    Ok(f16_to_f32(h))
}

/// `values[i] * d` for the 16 entries (the reference's `k as f32 * d`, or `d * k`: the same
/// product).
#[inline]
#[target_feature(enable = "neon")]
fn scaled(values: [float32x4_t; 4], d: f32) -> [float32x4_t; 4] {
    let d = vdupq_n_f32(d);
    values.map(|v| vmulq_f32(v, d))
}

#[target_feature(enable = "neon")]
fn dequantize_q4_0_impl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let v = load16(&Q4_0_VALUES);
    dequantize_by_table::<{ q4_0::BYTES }>(src, dst, 2, |b| Ok(scaled(v, f16_field(b, 0)?)))
}

#[target_feature(enable = "neon")]
fn dequantize_iq4_nl_impl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let v = load16(&IQ4_NL_VALUES);
    dequantize_by_table::<{ iq4_nl::BYTES }>(src, dst, 2, |b| Ok(scaled(v, f16_field(b, 0)?)))
}

#[target_feature(enable = "neon")]
fn dequantize_mxfp4_impl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let v = load16(&MXFP4_VALUES);
    dequantize_by_table::<{ mxfp4::BYTES }>(src, dst, 1, |b| {
        if b[0] == 0xFF {
            return Err(Error::NonFinite);
        }
        Ok(scaled(v, mxfp4::e8m0_to_f32_half(b[0])))
    })
}

#[target_feature(enable = "neon")]
fn dequantize_q4_1_impl(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()> {
    let v = load16(&Q4_1_VALUES);
    dequantize_by_table::<{ q4_1::BYTES }>(src, dst, 4, |b| {
        // The reference checks both fields before using either.
        let (dh, mh) = (read_f16(b, 0), read_f16(b, 2));
        if !f16_is_finite(dh) || !f16_is_finite(mh) {
            return Err(Error::NonFinite);
        }
        let m = vdupq_n_f32(f16_to_f32(mh));
        // q * d + m: a multiply, then an add (no fused multiply-add), as the reference.
        Ok(scaled(v, f16_to_f32(dh)).map(|p| vaddq_f32(p, m)))
    })
}

// ---------------------------------------------------------------- ggml quantization

/// ggml's block layout from the codes of elements 0..16 (`lo`) and 16..32 (`hi`): byte j =
/// `lo[j] | hi[j] << 4` (in bytes, as the reference's `q0 | (q1 << 4)`).
#[inline]
#[target_feature(enable = "neon")]
pub(super) fn pack_ggml(lo: uint8x16_t, hi: uint8x16_t) -> uint8x16_t {
    vorrq_u8(lo, vshlq_n_u8::<4>(hi))
}
