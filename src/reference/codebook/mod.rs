//! The bitsandbytes codebooks NF4 and FP4 (see `crate::codebook` for the layout): the enum, the
//! block-size rule and buffer sizes, the code tables ([`tables`]) and the scalar reference
//! ([`scalar`]) that every SIMD level is tested against.

pub(crate) mod scalar;
pub(crate) mod tables;

use crate::{Error, Result};

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
