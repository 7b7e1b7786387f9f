//! 4-bit float codebooks with block absmax scales, in bitsandbytes' layout: NF4 and FP4.
//!
//! The input is cut into blocks of `block_size` elements (a power of two from 32 to 4096); the
//! last block may be partial. Each block stores one `f32` absmax (its largest magnitude) and each
//! element a 4-bit code: the index of the table value nearest to `x / absmax`, chosen exactly as
//! bitsandbytes' quantizer chooses it (`x * (1 / absmax)` against fixed decision thresholds,
//! ties toward the lower code). Codes are one packed stream of all `n` values, two per byte,
//! the FIRST element in the HIGH nibble (bitsandbytes' order, the opposite of the ONNX int4
//! packing); an odd `n` pads the last low nibble with the code of 0.0 (NF4: 7, FP4: 0), as
//! bitsandbytes does. Dequantization is `table[code] * absmax`.
//!
//! Output equals onnxruntime's `quantize_matmul_bnb4` (its CPU port of bitsandbytes' kernel)
//! byte for byte, and bitsandbytes' CUDA kernel except where that kernel's fast-math build
//! (approximate reciprocal, subnormals flushed) or its `0 * inf = NaN` in all-zero blocks (NF4
//! codes 0 there, ours 7) make it differ. See `crate::reference::codebook` for the exact
//! semantics and the code tables.

use core::mem::MaybeUninit;

use crate::kernels::chunks::{for_each_chunk, for_each_chunk_into, CHUNK};
use crate::kernels::Kernels;
use crate::{Error, Floats, FloatsMut, FloatsUninit, Result};

pub use crate::reference::codebook::{
    absmax_len, check_block_size, codes_len, Codebook, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE,
};

/// Quantizes `src` (n = `src.len()`) into packed `codes` and one `absmax` per block.
///
/// Errors, in this order: [`Error::InvalidArgument`] for a bad block size;
/// [`Error::BufferTooSmall`] when `codes` is shorter than [`codes_len`]`(n)`, then when `absmax`
/// is shorter than [`absmax_len`]; then, block by block, [`Error::NonFinite`] for NaN or
/// infinity and [`Error::ValueOutOfRange`] for a magnitude above 2^126. On a data error the
/// blocks before the bad one have been written, the bad one and those after it have not.
/// Bytes and values past what `n` needs are never written.
pub fn quantize_codebook(
    codebook: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [u8],
    absmax: &mut [f32],
) -> Result<()> {
    quantize_codebook_uninit(
        codebook,
        src,
        block_size,
        crate::out::uninit(codes),
        crate::out::uninit(absmax),
    )
}

/// [`quantize_codebook`] writing into possibly uninitialised memory. On success the first
/// [`codes_len`]`(n)` bytes and [`absmax_len`]`(n, block_size)` values are initialised.
pub fn quantize_codebook_uninit(
    codebook: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    quantize_codebook_from_uninit(codebook, Floats::F32(src), block_size, codes, absmax)
}

/// Dequantizes `dst.len()` values from packed `codes` and per-block `absmax`:
/// `dst[i] = table[code_i] * absmax[i / block_size]`, one `f32` multiply.
///
/// Errors, in this order: [`Error::InvalidArgument`] for a bad block size;
/// [`Error::BufferTooSmall`] when `codes` is shorter than [`codes_len`]`(n)`, then when `absmax`
/// is shorter than [`absmax_len`]; then, block by block, [`Error::NonFinite`] for a NaN or
/// infinite absmax (blocks before it are written, it and those after are not). Any finite
/// absmax is accepted, negative ones too (the formula's value is returned). Every code is
/// valid; the padding nibble of an odd `n` is ignored.
pub fn dequantize_codebook(
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [f32],
) -> Result<()> {
    dequantize_codebook_uninit(codebook, codes, block_size, absmax, crate::out::uninit(dst))
}

/// [`dequantize_codebook`] writing into possibly uninitialised memory; on success all of `dst`
/// is initialised.
pub fn dequantize_codebook_uninit(
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let dst = FloatsUninit::F32(dst);
    dequantize_codebook_into_uninit(codebook, codes, block_size, absmax, dst)
}

/// [`quantize_codebook`] from float32, float16 or bfloat16 values: bit for bit what it gives on
/// the values widened to float32. Lengths and errors as there.
pub fn quantize_codebook_from(
    codebook: Codebook,
    src: Floats<'_>,
    block_size: usize,
    codes: &mut [u8],
    absmax: &mut [f32],
) -> Result<()> {
    quantize_codebook_from_uninit(
        codebook,
        src,
        block_size,
        crate::out::uninit(codes),
        crate::out::uninit(absmax),
    )
}

/// [`quantize_codebook_from`] into possibly uninitialised memory.
#[inline]
pub fn quantize_codebook_from_uninit(
    codebook: Codebook,
    src: Floats<'_>,
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let k = crate::kernels::active();
    quantize_codebook_from_with(k, codebook, src, block_size, codes, absmax)
}

#[inline(always)]
pub(crate) fn quantize_codebook_from_with(
    k: &Kernels,
    codebook: Codebook,
    src: Floats<'_>,
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    check_block_size(block_size)?;
    let n = src.len();
    if codes.len() < codes_len(n) || absmax.len() < absmax_len(n, block_size) {
        return Err(Error::BufferTooSmall);
    }
    // Block sizes are powers of two up to CHUNK: chunks start on block and byte boundaries.
    for_each_chunk(k, src, CHUNK, |start, x| {
        (k.blocks.quantize_codebook)(
            codebook,
            x,
            block_size,
            &mut codes[start / 2..][..codes_len(x.len())],
            &mut absmax[start / block_size..][..absmax_len(x.len(), block_size)],
        )
    })
}

/// [`dequantize_codebook`] into float32, float16 or bfloat16 values: the float32 results
/// rounded once to the output type. Lengths and errors as there.
pub fn dequantize_codebook_into(
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    mut dst: FloatsMut<'_>,
) -> Result<()> {
    dequantize_codebook_into_uninit(codebook, codes, block_size, absmax, dst.as_uninit())
}

/// [`dequantize_codebook_into`] into possibly uninitialised memory.
#[inline]
pub fn dequantize_codebook_into_uninit(
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: FloatsUninit<'_>,
) -> Result<()> {
    let k = crate::kernels::active();
    dequantize_codebook_into_with(k, codebook, codes, block_size, absmax, dst)
}

#[inline(always)]
pub(crate) fn dequantize_codebook_into_with(
    k: &Kernels,
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: FloatsUninit<'_>,
) -> Result<()> {
    check_block_size(block_size)?;
    let n = dst.len();
    if codes.len() < codes_len(n) || absmax.len() < absmax_len(n, block_size) {
        return Err(Error::BufferTooSmall);
    }
    for_each_chunk_into(k, dst, CHUNK, |start, out| {
        (k.blocks.dequantize_codebook)(
            codebook,
            &codes[start / 2..][..codes_len(out.len())],
            block_size,
            &absmax[start / block_size..][..absmax_len(out.len(), block_size)],
            out,
        )
    })
}
