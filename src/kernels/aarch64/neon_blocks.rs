//! The table of the NEON level's block-wise kernels (`BLOCKS`: ggml blocks, codebooks, int4
//! groups). The kernels are the NEON instances (over `lanes::aarch64::neon`) of those
//! written once in `kernels::simd` (`simd::neon` lists the block-format ones; each of its files
//! lists the formats it accelerates in its `QUANTIZE`/`DEQUANTIZE` tables); each equals the
//! scalar per-block reference bit for bit.
//!
//! Safety: this module, like `neon`, is compiled only when NEON is enabled for the whole target,
//! so every `#[target_feature(enable = "neon")]` function can run on any CPU this build runs on:
//! the argument of each `unsafe` call below.

use super::super::{format_tables, simd, BlockKernels};
use super::neon::KERNELS;
use crate::kernels::groups::quantize_groups_split;
use crate::kernels::simd::multi_block::neon as multi_block;
use crate::kernels::simd::{codebook::neon as cbk, dequantize_blocks::neon as dq};
use crate::reference::codebook::Codebook;
use crate::reference::int4::ScaleMethod;
use crate::Result;
use core::mem::MaybeUninit;

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_tables(simd::neon::QUANTIZE),
    dequantize_blocks: format_tables(simd::neon::DEQUANTIZE),
    quantize_codebook,
    dequantize_codebook,
    quantize_groups,
    dequantize_groups,
};

// Named entry points, so that the optimised build's symbols show every kernel (the FMA check
// of scripts/test_aarch64.sh finds them by name).

fn quantize_codebook(
    book: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { cbk::quantize_codebook(book, src, block_size, codes, absmax) }
}

fn dequantize_codebook(
    book: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { cbk::dequantize_codebook(book, codes, block_size, absmax, dst) }
}

/// Groups of 32, 64, 128 and 256 in runs of 8 (`simd::multi_block`); other group sizes, and a
/// last partial group, take the generic loop over NEON's per-tensor kernels.
fn quantize_groups(
    src: &[f32],
    group_size: usize,
    method: ScaleMethod,
    codes: &mut [MaybeUninit<u8>],
    scales: &mut [MaybeUninit<f32>],
    zero_points: &mut [MaybeUninit<i8>],
) -> Result<()> {
    quantize_groups_split(
        &KERNELS,
        src,
        group_size,
        method,
        codes,
        scales,
        zero_points,
        // SAFETY: NEON is enabled for the whole target (see the module comment).
        |s, gs, m, c, sc, z| unsafe { multi_block::quantize_groups(&KERNELS, s, gs, m, c, sc, z) },
    )
}

fn dequantize_groups(
    codes: &[u8],
    group_size: usize,
    scales: &[f32],
    zero_points: &[i8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let (c, gs, s, z) = (codes, group_size, scales, zero_points);
    // SAFETY: NEON is enabled for the whole target (see the module comment).
    unsafe { dq::dequantize_groups(c, gs, s, z, dst, KERNELS.dequantize_packed) }
}
