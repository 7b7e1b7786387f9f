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
//! codes 0 there, ours 7) make it differ. See `scalar` for the exact semantics and `tables` for
//! the code tables.

use core::mem::MaybeUninit;

use crate::float::{for_each_chunk, for_each_chunk_into, CHUNK};
use crate::kernels::Kernels;
use crate::{Error, Floats, FloatsMut, FloatsUninit, Result};

pub(crate) mod scalar;
pub(crate) mod tables;

/// A 4-bit codebook. The discriminants are the C constants `QUANTIZE_CODEBOOK_*`.
///
/// (bitsandbytes' own C code numbers them FP4 = 1, NF4 = 2, and onnxruntime FP4 = 0, NF4 = 1;
/// ours are NF4 = 0, FP4 = 1.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Codebook {
    /// 4-bit NormalFloat (QLoRA): 16 quantiles of a normal distribution scaled to [-1, 1],
    /// with an exact zero.
    Nf4 = 0,
    /// bitsandbytes' 4-bit float: sign bit plus the magnitudes 0, 1/192, 1/6, 1/4, 1/3, 1/2,
    /// 2/3, 1 (E2M1's normal values over 6, and its own subnormal).
    Fp4 = 1,
}

impl Codebook {
    /// Every codebook, in numeric order.
    pub const ALL: [Codebook; 2] = [Codebook::Nf4, Codebook::Fp4];

    /// The codebook with C value `v`, if any.
    pub fn from_raw(v: u32) -> Option<Codebook> {
        match v {
            0 => Some(Codebook::Nf4),
            1 => Some(Codebook::Fp4),
            _ => None,
        }
    }

    /// The C value of this codebook.
    pub fn as_raw(self) -> u32 {
        self as u32
    }

    /// Lower-case name: `"nf4"` or `"fp4"` (bitsandbytes' `quant_type` strings).
    pub fn name(self) -> &'static str {
        match self {
            Codebook::Nf4 => "nf4",
            Codebook::Fp4 => "fp4",
        }
    }

    /// The 16 values by code (before scaling by absmax). FP4 code 8 is -0.0.
    pub fn values(self) -> &'static [f32; 16] {
        scalar::table(self)
    }
}

/// Smallest accepted block size.
pub const MIN_BLOCK_SIZE: usize = 32;
/// Largest accepted block size.
pub const MAX_BLOCK_SIZE: usize = 4096;

/// Accepts the block sizes bitsandbytes uses: powers of two from 32 to 4096; anything else is
/// [`Error::InvalidArgument`].
pub fn check_block_size(block_size: usize) -> Result<()> {
    if block_size.is_power_of_two() && (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// Bytes of packed codes for `n` values: `ceil(n / 2)` (never overflows).
pub fn codes_len(n: usize) -> usize {
    n / 2 + n % 2
}

/// Number of absmax values for `n` values in blocks of `block_size`: `ceil(n / block_size)`;
/// 0 when `n` or `block_size` is 0 (never overflows; does not validate `block_size`).
pub fn absmax_len(n: usize, block_size: usize) -> usize {
    if block_size == 0 {
        0
    } else {
        n.div_ceil(block_size)
    }
}

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
