//! The ggml/GGUF block formats, described once: each format's module holds its scalar reference
//! (`quantize_block`, `dequantize_block`: ggml's arithmetic, operation by operation) and its
//! [`Spec`]; [`BlockFormat::spec`] is the one place a format is registered. The kernels
//! (`crate::kernels`) run these references or faster equals; the safe API (`crate::formats`)
//! checks lengths on top.
//!
//! Within a 32-value block, byte `j` of the code area holds element `j` in its low nibble and
//! element `j + 16` in its high nibble (the super-block formats say their own layout).

pub(crate) mod common;
pub(crate) mod e2m1;
pub(crate) mod fp16;
#[cfg(test)]
pub(crate) mod golden;
pub(crate) mod iq4_nl;
pub(crate) mod iq4_xs;
pub(crate) mod mxfp4;
pub(crate) mod nl_codebook;
pub(crate) mod nvfp4;
// The element-by-element renderings the references replaced, compared with them.
#[cfg(test)]
mod plain;
pub(crate) mod q4_0;
pub(crate) mod q4_1;
pub(crate) mod q4_k;

use core::mem::MaybeUninit;

use crate::Result;
use common::QK;

/// A ggml/GGUF block format. The discriminants are the C constants `QUANTIZE_FORMAT_*`.
///
/// Everything about a format (name, block size, its scalar reference) is in its `Spec`, found
/// by `BlockFormat::spec`: adding a format is its module, a variant here and one line there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BlockFormat {
    /// 32 values, 18 bytes: fp16 scale, 16 bytes of codes; `x ≈ (q - 8) * d`.
    Q4_0 = 0,
    /// 32 values, 20 bytes: fp16 scale, fp16 minimum, 16 bytes of codes; `x ≈ q * d + m`.
    Q4_1 = 1,
    /// 32 values, 18 bytes: fp16 scale, 16 bytes of indices into a non-linear codebook.
    Iq4Nl = 2,
    /// 32 values, 17 bytes: E8M0 scale byte, 16 bytes of E2M1 (4-bit float) codes. A block with
    /// `0 < max|x| < 2^-125` (where ggml's C is undefined) gets scale byte 0 and the codes
    /// ggml's nearest-value search gives for that scale.
    Mxfp4 = 3,
    /// 256 values, 144 bytes: fp16 super-block scale and minimum, 12 bytes of 6-bit sub-block
    /// scales and minima (8 sub-blocks of 32), 128 bytes of codes; `x ≈ d·s·q - dmin·m`.
    Q4K = 4,
    /// 256 values, 136 bytes: fp16 super-block scale, 6-bit sub-block scales (8 sub-blocks of
    /// 32), 128 bytes of indices into IQ4_NL's codebook.
    Iq4Xs = 5,
    /// 64 values, 36 bytes: 4 UE4M3 sub-block scales (one per 16 values), 32 bytes of E2M1
    /// (4-bit float) codes. A sub-block whose `amax / 6` exceeds 448 (the largest UE4M3 value) is
    /// `ValueOutOfRange`, where ggml would clip it.
    Nvfp4 = 6,
}

/// Quantizes whole blocks: `src.len()` is a multiple of the block's element count and `dst`
/// holds exactly the bytes of that many blocks. On bad data: the error of the first bad block,
/// having written at most the blocks before it.
pub(crate) type QuantizeBlocks = fn(src: &[f32], dst: &mut [MaybeUninit<u8>]) -> Result<()>;
/// Dequantizes whole blocks: `dst.len()` is a multiple of the block's element count and `src`
/// holds exactly the bytes of that many blocks. Errors as for [`QuantizeBlocks`].
pub(crate) type DequantizeBlocks = fn(src: &[u8], dst: &mut [MaybeUninit<f32>]) -> Result<()>;

/// One block format, described once: the lengths, names and C docs follow from it, and its
/// scalar reference is what every SIMD level runs unless it overrides the format.
pub(crate) struct Spec {
    /// The lower-case ggml type name.
    pub name: &'static str,
    /// Values per block.
    pub elements: usize,
    /// Bytes per block.
    pub bytes: usize,
    /// The scalar reference over whole blocks (usually [`quantize_each`] of the module's
    /// per-block function).
    pub quantize: QuantizeBlocks,
    /// The scalar reference over whole blocks (usually [`dequantize_each`]).
    pub dequantize: DequantizeBlocks,
}

// `BlockFormat::blocks_in` shifts by the block size's logarithm.
const _: () = {
    let mut i = 0;
    while i < BlockFormat::COUNT {
        assert!(
            BlockFormat::ALL[i].elements().is_power_of_two(),
            "a block size is not a power of two"
        );
        i += 1;
    }
};

impl BlockFormat {
    /// How many formats there are (the length of tables indexed by `BlockFormat as usize`).
    pub const COUNT: usize = 7;

    /// Every format, in the order of their C constants.
    pub const ALL: [BlockFormat; BlockFormat::COUNT] = [
        BlockFormat::Q4_0,
        BlockFormat::Q4_1,
        BlockFormat::Iq4Nl,
        BlockFormat::Mxfp4,
        BlockFormat::Q4K,
        BlockFormat::Iq4Xs,
        BlockFormat::Nvfp4,
    ];

    /// The format's description: the one place a format is registered.
    pub(crate) const fn spec(self) -> &'static Spec {
        match self {
            BlockFormat::Q4_0 => &q4_0::SPEC,
            BlockFormat::Q4_1 => &q4_1::SPEC,
            BlockFormat::Iq4Nl => &iq4_nl::SPEC,
            BlockFormat::Mxfp4 => &mxfp4::SPEC,
            BlockFormat::Q4K => &q4_k::SPEC,
            BlockFormat::Iq4Xs => &iq4_xs::SPEC,
            BlockFormat::Nvfp4 => &nvfp4::SPEC,
        }
    }

    /// The format whose C constant is `v`, or `None` for an unknown value.
    pub fn from_raw(v: u32) -> Option<BlockFormat> {
        BlockFormat::ALL.into_iter().find(|f| *f as u32 == v)
    }

    /// The format named `name` (its ggml type name, any case), or `None`.
    pub fn from_name(name: &str) -> Option<BlockFormat> {
        BlockFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Values per block.
    pub const fn elements(self) -> usize {
        self.spec().elements
    }

    /// Whole blocks in `n` values (the rest is dropped). A shift: every format's block is a power
    /// of two (checked at compile time below), and a division would cost more than a one-block
    /// kernel.
    pub(crate) const fn blocks_in(self, n: usize) -> usize {
        n >> self.elements().trailing_zeros()
    }

    /// Bytes per block.
    pub const fn bytes(self) -> usize {
        self.spec().bytes
    }

    /// The lower-case ggml type name, e.g. "q4_0" or "mxfp4".
    pub const fn name(self) -> &'static str {
        self.spec().name
    }
}

/// Runs a per-block quantizer over whole blocks of `E` values (`dst.len() == src.len() / E *
/// N`), writing each block only once it has succeeded: the scalar kernels.
pub(crate) fn quantize_each<const E: usize, const N: usize>(
    src: &[f32],
    dst: &mut [MaybeUninit<u8>],
    // Generic (not a fn pointer) so each format's block function is inlined into the loop.
    block: impl Fn(&[f32; E]) -> Result<[u8; N]>,
) -> Result<()> {
    // Whole blocks as arrays: no copy, no bounds checks.
    let (blocks, _) = src.as_chunks::<E>();
    let (outs, _) = dst.as_chunks_mut::<N>();
    for (x, out) in blocks.iter().zip(outs) {
        let bytes = block(x)?;
        for (o, b) in out.iter_mut().zip(bytes) {
            o.write(b);
        }
    }
    Ok(())
}

/// Quantizes whole blocks in runs of `run_blocks` blocks (`bytes` each) with `run`, which may
/// decline a run (returning false, having written nothing: a bad block in it, or a case it does
/// not handle); declined runs and the blocks after the last whole run go to `each`, the
/// block-by-block quantizer that reports the first bad block. The SIMD kernels' outer loop, for
/// the formats of 32-value blocks.
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

/// Runs a per-block dequantizer over whole blocks of `E` values (`src.len() == dst.len() / E *
/// N`), writing each block only once it has succeeded: the scalar kernels.
pub(crate) fn dequantize_each<const E: usize, const N: usize>(
    src: &[u8],
    dst: &mut [MaybeUninit<f32>],
    block: impl Fn(&[u8; N]) -> Result<[f32; E]>,
) -> Result<()> {
    let (blocks, _) = src.as_chunks::<N>();
    let (outs, _) = dst.as_chunks_mut::<E>();
    for (b, out) in blocks.iter().zip(outs) {
        let y = block(b)?;
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
        assert_eq!(bytes, [18, 20, 18, 17, 144, 136, 36]);
        for (i, f) in BlockFormat::ALL.into_iter().enumerate() {
            assert_eq!(BlockFormat::from_raw(i as u32), Some(f));
        }
        let elements: Vec<usize> = BlockFormat::ALL.iter().map(|f| f.elements()).collect();
        assert_eq!(elements, [32, 32, 32, 32, 256, 256, 64]);
        assert_eq!(BlockFormat::from_raw(BlockFormat::COUNT as u32), None);
        assert_eq!(BlockFormat::from_name("MXFP4"), Some(BlockFormat::Mxfp4));
        assert_eq!(BlockFormat::from_name("q4_0"), Some(BlockFormat::Q4_0));
        assert_eq!(BlockFormat::from_name("q4"), None);
        for f in BlockFormat::ALL {
            assert_eq!(BlockFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(BlockFormat::from_raw(u32::MAX), None);
    }
}
