//! The ggml/GGUF 4-bit block formats (every [`BlockFormat`]), bit for bit as ggml.
//!
//! Quantization equals
//! ggml's `ggml_quantize_chunk` without an importance matrix, byte for byte; dequantization
//! equals ggml's `dequantize_row_*`, bit for bit. Where ggml has no defined behaviour we choose
//! (docs/contract.md §3.5): NaN or infinity in the input is [`Error::NonFinite`]; a block whose
//! fp16 scale or minimum, as ggml computes it, is not a finite fp16 is
//! [`Error::ValueOutOfRange`]; where ggml's C is undefined for a block, the contract fixes the
//! bytes (each format's module says how); dequantizing a block whose fp16
//! fields are infinite or NaN, or whose E8M0 byte is 0xFF, is [`Error::NonFinite`].
//!
//! Each format has a scalar per-block quantizer and dequantizer in `crate::reference::formats`:
//! the reference that faster kernels are tested against. This module checks lengths; the
//! kernels of the active SIMD level (`crate::kernels`) walk the blocks.

use core::mem::MaybeUninit;

use crate::kernels::chunks::{for_each_chunk, for_each_chunk_into, CHUNK};
use crate::kernels::Kernels;
use crate::{Error, Floats, FloatsMut, FloatsUninit, Result};

pub use crate::reference::formats::BlockFormat;

/// Bytes of blocks holding `n` values.
///
/// Errors, in this order: [`Error::InvalidArgument`] when `n` float32 values would take more
/// than `isize::MAX` bytes (so the float side and the block side both fit in memory);
/// [`Error::Length`] when `n` is not a multiple of the format's block size.
pub fn blocks_len(format: BlockFormat, n: usize) -> Result<usize> {
    if n > isize::MAX as usize / core::mem::size_of::<f32>() {
        return Err(Error::InvalidArgument);
    }
    let blocks = format.blocks_in(n);
    if blocks * format.elements() != n {
        return Err(Error::Length);
    }
    // Every format has fewer bytes per block than values, so n / elements * bytes < n * 4:
    // cannot overflow after the check above.
    blocks
        .checked_mul(format.bytes())
        .ok_or(Error::InvalidArgument)
}

/// Quantizes `src` (n = `src.len()` values) into `dst`, ggml's bytes exactly.
///
/// `dst` may be longer than [`blocks_len`]; bytes past it are never written.
///
/// Errors, in this order: [`Error::Length`] (n not a multiple of 32), [`Error::BufferTooSmall`]
/// (`dst` shorter than `blocks_len(format, n)`), then block by block: [`Error::NonFinite`] for a
/// NaN or infinite element, [`Error::ValueOutOfRange`] for a block whose fp16 scale or minimum
/// would not be finite. On a data error the blocks before the bad one have been written; the
/// bad block and the ones after it are untouched.
pub fn quantize_blocks(format: BlockFormat, src: &[f32], dst: &mut [u8]) -> Result<()> {
    quantize_blocks_uninit(format, src, crate::out::uninit(dst))
}

/// [`quantize_blocks`] into possibly uninitialised memory: on success the first
/// `blocks_len(format, src.len())` bytes are initialised.
pub fn quantize_blocks_uninit(
    format: BlockFormat,
    src: &[f32],
    dst: &mut [MaybeUninit<u8>],
) -> Result<()> {
    quantize_blocks_from_uninit(format, Floats::F32(src), dst)
}

/// Dequantizes blocks from `src` into `dst` (n = `dst.len()` values), ggml's floats exactly.
///
/// `src` may be longer than [`blocks_len`]; the rest is ignored.
///
/// Errors, in this order: [`Error::Length`] (n not a multiple of 32), [`Error::BufferTooSmall`]
/// (`src` shorter than `blocks_len(format, n)`), then block by block: [`Error::NonFinite`] for a
/// block whose fp16 scale or minimum is infinite or NaN, or whose E8M0 byte is 0xFF. On such an
/// error the values of the blocks before the bad one have been written; the rest are untouched.
pub fn dequantize_blocks(format: BlockFormat, src: &[u8], dst: &mut [f32]) -> Result<()> {
    dequantize_blocks_uninit(format, src, crate::out::uninit(dst))
}

/// [`dequantize_blocks`] into possibly uninitialised memory: on success all of `dst` is
/// initialised.
pub fn dequantize_blocks_uninit(
    format: BlockFormat,
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    dequantize_blocks_into_uninit(format, src, FloatsUninit::F32(dst))
}

/// [`quantize_blocks`] from float32, float16 or bfloat16 values: bit for bit what
/// `quantize_blocks` gives on the values widened to float32 (which is exact). Errors as there.
pub fn quantize_blocks_from(format: BlockFormat, src: Floats<'_>, dst: &mut [u8]) -> Result<()> {
    quantize_blocks_from_uninit(format, src, crate::out::uninit(dst))
}

/// [`quantize_blocks_from`] into possibly uninitialised memory.
#[inline]
pub fn quantize_blocks_from_uninit(
    format: BlockFormat,
    src: Floats<'_>,
    dst: &mut [MaybeUninit<u8>],
) -> Result<()> {
    quantize_blocks_from_with(crate::kernels::active(), format, src, dst)
}

/// [`quantize_blocks_from_uninit`] on the kernels of level `k`.
#[inline(always)]
pub(crate) fn quantize_blocks_from_with(
    k: &Kernels,
    format: BlockFormat,
    src: Floats<'_>,
    dst: &mut [MaybeUninit<u8>],
) -> Result<()> {
    let need = blocks_len(format, src.len())?;
    let dst = dst.get_mut(..need).ok_or(Error::BufferTooSmall)?;
    let quantize = k.quantize_blocks(format);
    let bytes_of = |n: usize| format.blocks_in(n) * format.bytes();
    // CHUNK is a whole number of blocks of every format, so chunks start on block boundaries.
    for_each_chunk(k, src, CHUNK, |start, x| {
        quantize(x, &mut dst[bytes_of(start)..][..bytes_of(x.len())])
    })
}

/// [`dequantize_blocks`] into float32, float16 or bfloat16 values: the float32 results rounded
/// once to the output type (nearest, ties to even). Errors as there; on a bad block, the values
/// of the blocks before it may have been written, never any after it.
pub fn dequantize_blocks_into(
    format: BlockFormat,
    src: &[u8],
    mut dst: FloatsMut<'_>,
) -> Result<()> {
    dequantize_blocks_into_uninit(format, src, dst.as_uninit())
}

/// [`dequantize_blocks_into`] into possibly uninitialised memory.
#[inline]
pub fn dequantize_blocks_into_uninit(
    format: BlockFormat,
    src: &[u8],
    dst: FloatsUninit<'_>,
) -> Result<()> {
    dequantize_blocks_into_with(crate::kernels::active(), format, src, dst)
}

/// [`dequantize_blocks_into_uninit`] on the kernels of level `k`.
///
/// The `*_with` functions of every family are `inline(always)` and their public callers
/// `inline`, so that a float32 call never stores its `Floats` enum: passed by pointer, it is
/// written as two 8-byte stores and read back with one 16-byte load, a store-forwarding stall
/// that cost about 8 ns per call, as long as a one-block kernel.
#[inline(always)]
pub(crate) fn dequantize_blocks_into_with(
    k: &Kernels,
    format: BlockFormat,
    src: &[u8],
    dst: FloatsUninit<'_>,
) -> Result<()> {
    let need = blocks_len(format, dst.len())?;
    let src = src.get(..need).ok_or(Error::BufferTooSmall)?;
    let dequantize = k.dequantize_blocks(format);
    let bytes_of = |n: usize| format.blocks_in(n) * format.bytes();
    for_each_chunk_into(k, dst, CHUNK, |start, out| {
        dequantize(&src[bytes_of(start)..][..bytes_of(out.len())], out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_len_checks() {
        assert_eq!(blocks_len(BlockFormat::Q4_0, 0), Ok(0));
        assert_eq!(blocks_len(BlockFormat::Q4_1, 64), Ok(40));
        assert_eq!(blocks_len(BlockFormat::Mxfp4, 96), Ok(51));
        assert_eq!(blocks_len(BlockFormat::Iq4Nl, 33), Err(Error::Length));
        assert_eq!(
            blocks_len(BlockFormat::Iq4Nl, usize::MAX),
            Err(Error::InvalidArgument)
        );
        let max_n = isize::MAX as usize / 4;
        assert_eq!(
            blocks_len(BlockFormat::Q4_1, max_n + 1),
            Err(Error::InvalidArgument)
        );
        let top = max_n - max_n % 32;
        assert_eq!(blocks_len(BlockFormat::Q4_1, top), Ok(top / 32 * 20));
    }

    /// The chunk loops' unsafe views, under Miri too: half input across a chunk boundary
    /// through one cheap format, and back out, equal to the float32 path on the widened values.
    #[test]
    fn chunk_loops_cross_a_chunk_boundary() {
        use crate::float::{f16_to_f32, f32_to_bf16, f32_to_f16};
        use crate::kernels::scalar;
        let n = crate::kernels::chunks::CHUNK + 64;
        let h: Vec<u16> = (0..n)
            .map(|i| f32_to_f16((i % 97) as f32 * 0.03 - 1.4))
            .collect();
        let x: Vec<f32> = h.iter().map(|&v| f16_to_f32(v)).collect();
        let f = BlockFormat::Q4_0;
        let need = blocks_len(f, n).unwrap();
        let (mut a, mut b) = (vec![0u8; need], vec![0u8; need]);
        let k = &scalar::KERNELS;
        quantize_blocks_from_with(k, f, Floats::F16(&h), crate::out::uninit(&mut a)).unwrap();
        quantize_blocks_from_with(k, f, Floats::F32(&x), crate::out::uninit(&mut b)).unwrap();
        assert_eq!(a, b);
        let mut y = vec![0.0f32; n];
        dequantize_blocks_into_with(k, f, &a, FloatsUninit::F32(crate::out::uninit(&mut y)))
            .unwrap();
        let mut d = vec![0u16; n];
        dequantize_blocks_into_with(k, f, &a, FloatsUninit::Bf16(crate::out::uninit(&mut d)))
            .unwrap();
        let want: Vec<u16> = y.iter().map(|&v| f32_to_bf16(v)).collect();
        assert_eq!(d, want);
    }
}
