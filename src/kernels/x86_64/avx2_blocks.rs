//! The AVX2 table of the block-wise formats' kernels (`BLOCKS`: ggml blocks, NF4/FP4
//! codebooks, int4 groups of 32). The kernels are written once for every x86 level in
//! `kernels::simd` (`multi_block`, `iq4_nl`, `dequantize_blocks`, `codebook`) or are in
//! `avx2_superblocks`; each equals the scalar per-block reference bit for bit.

use super::super::{format_table, BlockKernels};
use super::avx2::KERNELS;
use crate::kernels::groups::{dequantize_groups_with, quantize_groups_split32};
use crate::kernels::simd::multi_block::avx2 as x8;
use crate::kernels::simd::{codebook::avx2 as cbk, dequantize_blocks::avx2 as dq};
use crate::reference::codebook::scalar as cb;
use crate::reference::formats::BlockFormat;
use core::mem::MaybeUninit;

// Every entry of `BLOCKS` is reachable only through `avx2::KERNELS`, which `kernels::levels()`
// hands out only when `avx2::available()` is true (AVX2 and F16C): that is the safety argument
// of each `unsafe` call of a `#[target_feature]` function in this table.
pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_table(&[
        (BlockFormat::Q4_0, |s, d| unsafe { x8::quantize_q4_0(s, d) }),
        (BlockFormat::Q4_1, |s, d| unsafe { x8::quantize_q4_1(s, d) }),
        (BlockFormat::Iq4Nl, |s, d| unsafe {
            crate::kernels::simd::iq4_nl::avx2::quantize_iq4_nl(s, d)
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
        (BlockFormat::Q4_0, |s, d| unsafe {
            dq::dequantize_q4_0(s, d)
        }),
        (BlockFormat::Q4_1, |s, d| unsafe {
            dq::dequantize_q4_1(s, d)
        }),
        (BlockFormat::Iq4Nl, |s, d| unsafe {
            dq::dequantize_iq4_nl(s, d)
        }),
        (BlockFormat::Mxfp4, |s, d| unsafe {
            dq::dequantize_mxfp4(s, d)
        }),
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
            unsafe { cbk::quantize_codebook(b, s, bs, c, a) }
        }
    },
    dequantize_codebook: |b, c, bs, a, d| {
        if d.len() < 32 {
            cb::dequantize_blocks(b, c, bs, a, d)
        } else {
            unsafe { cbk::dequantize_codebook(b, c, bs, a, d) }
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
            unsafe { dq::dequantize_groups32(c, sc, z, d, dequantize_packed) }
        } else {
            dequantize_groups_with(dequantize_packed, c, gs, sc, z, d)
        }
    },
};

/// `simd::int4::avx2::dequantize_packed` as a plain function (for `dequantize_groups_with`).
fn dequantize_packed(c: &[u8], s: f32, zp: i8, d: &mut [MaybeUninit<f32>]) {
    // SAFETY: only reachable through `BLOCKS` (see there).
    unsafe { crate::kernels::simd::int4::avx2::dequantize_packed(c, s, zp, d) }
}
