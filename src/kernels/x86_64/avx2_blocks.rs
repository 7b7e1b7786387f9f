//! The AVX2 table of the block-wise formats' kernels (`BLOCKS`: ggml blocks, codebooks, int4
//! groups), whose kernels are written once in `kernels::simd` (`simd::avx2` lists the
//! block-format ones; each of its files lists the formats it accelerates in its
//! `QUANTIZE`/`DEQUANTIZE` tables); each equals the scalar per-block reference bit for bit.

use super::super::{format_tables, simd, BlockKernels};
use super::avx2::KERNELS;
use crate::kernels::groups::quantize_groups_split;
use crate::kernels::simd::multi_block::avx2 as x8;
use crate::kernels::simd::{codebook::avx2 as cbk, dequantize_blocks::avx2 as dq};

// Every entry of `BLOCKS` is reachable only through `avx2::KERNELS`, which `kernels::levels()`
// hands out only when `avx2::available()` is true (AVX2 and F16C): that is the safety argument
// of each `unsafe` call of a `#[target_feature]` function in this table.
pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_tables(simd::avx2::QUANTIZE),
    dequantize_blocks: format_tables(simd::avx2::DEQUANTIZE),
    // Below one vector of 32 the scalar loop has no set-up to pay for.
    quantize_codebook: |b, s, bs, c, a| unsafe { cbk::quantize_codebook(b, s, bs, c, a) },
    dequantize_codebook: |b, c, bs, a, d| unsafe { cbk::dequantize_codebook(b, c, bs, a, d) },
    quantize_groups: |s, gs, m, c, sc, z| {
        quantize_groups_split(&KERNELS, s, gs, m, c, sc, z, |s, gs, m, c, sc, z| {
            if is_x86_feature_detected!("fma") {
                // SAFETY: FMA as well (just checked).
                unsafe {
                    crate::kernels::simd::multi_block::avx2_fma::quantize_groups(
                        &KERNELS, s, gs, m, c, sc, z,
                    )
                }
            } else {
                unsafe { x8::quantize_groups(&KERNELS, s, gs, m, c, sc, z) }
            }
        })
    },
    dequantize_groups: |c, gs, sc, z, d| unsafe {
        dq::dequantize_groups(c, gs, sc, z, d, KERNELS.dequantize_packed)
    },
};
