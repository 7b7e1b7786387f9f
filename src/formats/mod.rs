//! ggml/GGUF 4-bit block formats: Q4_0, Q4_1, IQ4_NL and MXFP4, bit for bit as ggml.
//!
//! Every format packs 32 values per block. Within a block, byte `j` of the code area holds
//! element `j` in its low nibble and element `j + 16` in its high nibble. Quantization equals
//! ggml's `ggml_quantize_chunk` without an importance matrix, byte for byte; dequantization
//! equals ggml's `dequantize_row_*`, bit for bit. Where ggml has no defined behaviour we choose
//! (docs/contract.md §3.5): NaN or infinity in the input is [`Error::NonFinite`]; a block whose
//! fp16 scale or minimum, as ggml computes it, is not a finite fp16 is
//! [`Error::ValueOutOfRange`]; an MXFP4 block with `0 < max|x| < 2^-125` gets scale byte 0 and
//! the codes ggml's nearest-value search gives for that scale; dequantizing a block whose fp16
//! fields are infinite or NaN, or whose E8M0 byte is 0xFF, is [`Error::NonFinite`].
//!
//! Each format has a scalar per-block quantizer and dequantizer (`quantize_block`,
//! `dequantize_block` in its module): the reference that faster kernels are tested against.
//! This module checks lengths; the kernels of the active SIMD level (`crate::kernels`) walk the
//! blocks, the scalar level by calling those references.

pub(crate) mod common;
pub(crate) mod fp16;
pub(crate) mod iq4_nl;
pub(crate) mod mxfp4;
pub(crate) mod q4_0;
pub(crate) mod q4_1;

use core::mem::MaybeUninit;

use crate::{Error, Result};
use common::QK;

/// A ggml/GGUF block format. The discriminants are the C constants `QUANTIZE_FORMAT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BlockFormat {
    /// 32 values, 18 bytes: fp16 scale, 16 bytes of codes; `x ≈ (q - 8) * d`.
    Q4_0 = 0,
    /// 32 values, 20 bytes: fp16 scale, fp16 minimum, 16 bytes of codes; `x ≈ q * d + m`.
    Q4_1 = 1,
    /// 32 values, 18 bytes: fp16 scale, 16 bytes of indices into a non-linear codebook.
    Iq4Nl = 2,
    /// 32 values, 17 bytes: E8M0 scale byte, 16 bytes of FP4 (E2M1) codes.
    Mxfp4 = 3,
}

impl BlockFormat {
    /// Every format, in the order of their C constants.
    pub const ALL: [BlockFormat; 4] = [
        BlockFormat::Q4_0,
        BlockFormat::Q4_1,
        BlockFormat::Iq4Nl,
        BlockFormat::Mxfp4,
    ];

    /// The format whose C constant is `v`, or `None` for an unknown value.
    pub fn from_raw(v: u32) -> Option<BlockFormat> {
        BlockFormat::ALL.into_iter().find(|f| *f as u32 == v)
    }

    /// Values per block (32 for every format).
    pub const fn elements(self) -> usize {
        QK
    }

    /// Bytes per block: 18, 20, 18 and 17.
    pub const fn bytes(self) -> usize {
        match self {
            BlockFormat::Q4_0 => q4_0::BYTES,
            BlockFormat::Q4_1 => q4_1::BYTES,
            BlockFormat::Iq4Nl => iq4_nl::BYTES,
            BlockFormat::Mxfp4 => mxfp4::BYTES,
        }
    }

    /// The lower-case ggml type name: "q4_0", "q4_1", "iq4_nl", "mxfp4".
    pub fn name(self) -> &'static str {
        match self {
            BlockFormat::Q4_0 => "q4_0",
            BlockFormat::Q4_1 => "q4_1",
            BlockFormat::Iq4Nl => "iq4_nl",
            BlockFormat::Mxfp4 => "mxfp4",
        }
    }
}

/// Bytes of blocks holding `n` values.
///
/// Errors, in this order: [`Error::InvalidArgument`] when `n` float32 values would take more
/// than `isize::MAX` bytes (so the float side and the block side both fit in memory);
/// [`Error::Length`] when `n` is not a multiple of 32.
pub fn blocks_len(format: BlockFormat, n: usize) -> Result<usize> {
    if n > isize::MAX as usize / core::mem::size_of::<f32>() {
        return Err(Error::InvalidArgument);
    }
    if !n.is_multiple_of(format.elements()) {
        return Err(Error::Length);
    }
    // n / 32 * bytes <= n * 20 / 32 < n * 4: cannot overflow after the check above.
    (n / format.elements())
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
    let need = blocks_len(format, src.len())?;
    let dst = dst.get_mut(..need).ok_or(Error::BufferTooSmall)?;
    (crate::kernels::active().blocks.quantize_blocks[format as usize])(src, dst)
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
    let need = blocks_len(format, dst.len())?;
    let src = src.get(..need).ok_or(Error::BufferTooSmall)?;
    (crate::kernels::active().blocks.dequantize_blocks[format as usize])(src, dst)
}

/// Runs a per-block quantizer over whole blocks (`dst.len() == src.len() / 32 * N`), writing
/// each block only once it has succeeded: the scalar kernels.
pub(crate) fn quantize_each<const N: usize>(
    src: &[f32],
    dst: &mut [MaybeUninit<u8>],
    block: fn(&[f32; QK]) -> Result<[u8; N]>,
) -> Result<()> {
    for (x, out) in src.chunks_exact(QK).zip(dst.chunks_exact_mut(N)) {
        let mut xb = [0.0f32; QK];
        xb.copy_from_slice(x);
        let bytes = block(&xb)?;
        for (o, b) in out.iter_mut().zip(bytes) {
            o.write(b);
        }
    }
    Ok(())
}

/// Quantizes whole blocks in runs of `run_blocks` blocks (`bytes` each) with `run`, which may
/// decline a run (returning false, having written nothing: a bad block in it, or a case it does
/// not handle); declined runs and the blocks after the last whole run go to `each`, the
/// block-by-block quantizer that reports the first bad block. The SIMD kernels' outer loop.
pub(crate) fn quantize_runs(
    src: &[f32],
    dst: &mut [MaybeUninit<u8>],
    (run_blocks, bytes): (usize, usize),
    mut run: impl FnMut(&[f32], &mut [MaybeUninit<u8>]) -> bool,
    mut each: impl FnMut(&[f32], &mut [MaybeUninit<u8>]) -> Result<()>,
) -> Result<()> {
    let full = src.len() / (QK * run_blocks) * (QK * run_blocks);
    let (head, tail) = dst.split_at_mut(full / QK * bytes);
    for (x, out) in src[..full]
        .chunks_exact(QK * run_blocks)
        .zip(head.chunks_exact_mut(run_blocks * bytes))
    {
        if !run(x, out) {
            each(x, out)?;
        }
    }
    each(&src[full..], tail)
}

/// Runs a per-block dequantizer over whole blocks (`src.len() == dst.len() / 32 * N`), writing
/// each block only once it has succeeded: the scalar kernels.
pub(crate) fn dequantize_each<const N: usize>(
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
    block: fn(&[u8; N]) -> Result<[f32; QK]>,
) -> Result<()> {
    for (b, out) in src.chunks_exact(N).zip(dst.chunks_exact_mut(QK)) {
        let mut bb = [0u8; N];
        bb.copy_from_slice(b);
        let y = block(&bb)?;
        for (o, v) in out.iter_mut().zip(y) {
            o.write(v);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table() {
        let bytes: Vec<usize> = BlockFormat::ALL.iter().map(|f| f.bytes()).collect();
        assert_eq!(bytes, [18, 20, 18, 17]);
        for (i, f) in BlockFormat::ALL.into_iter().enumerate() {
            assert_eq!(BlockFormat::from_raw(i as u32), Some(f));
            assert_eq!(f.elements(), 32);
        }
        assert_eq!(BlockFormat::from_raw(4), None);
        assert_eq!(BlockFormat::from_raw(u32::MAX), None);
    }

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
}
