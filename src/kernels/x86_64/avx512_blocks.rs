//! The AVX-512 table of the block-wise formats' kernels (`BLOCKS`: ggml blocks, codebooks,
//! int4 groups), whose kernels are written once in `kernels::simd` (`simd::avx512` lists
//! the block-format ones; each of its files lists the formats it accelerates in its
//! `QUANTIZE`/`DEQUANTIZE` tables); each equals the scalar per-block reference bit for bit.

use super::super::{format_tables, simd, BlockKernels};
use super::avx512::KERNELS;
use crate::kernels::groups::quantize_groups_split;
use crate::kernels::simd::multi_block::avx512 as x16;
use crate::kernels::simd::{codebook::avx512 as cbk, dequantize_blocks::avx512 as dq};

pub(crate) static BLOCKS: BlockKernels = BlockKernels {
    quantize_blocks: format_tables(simd::avx512::QUANTIZE),
    dequantize_blocks: format_tables(simd::avx512::DEQUANTIZE),
    // Below one vector of 32 the scalar loop has no set-up to pay for.
    quantize_codebook: |b, s, bs, c, a| unsafe { cbk::quantize_codebook(b, s, bs, c, a) },
    dequantize_codebook: |b, c, bs, a, d| unsafe { cbk::dequantize_codebook(b, c, bs, a, d) },
    quantize_groups: |s, gs, m, c, sc, z| {
        quantize_groups_split(&KERNELS, s, gs, m, c, sc, z, |s, gs, m, c, sc, z| unsafe {
            x16::quantize_groups(&KERNELS, s, gs, m, c, sc, z)
        })
    },
    dequantize_groups: |c, gs, sc, z, d| unsafe {
        dq::dequantize_groups(c, gs, sc, z, d, KERNELS.dequantize_packed)
    },
};

// Every entry of `BLOCKS` is reachable only through `avx512::KERNELS`, which
// `kernels::levels()` hands out only when `avx512::available()` is true: that is the safety
// argument of each `unsafe` call of a `#[target_feature]` function in the table above.
