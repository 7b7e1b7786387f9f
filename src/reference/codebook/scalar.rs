//! Portable per-block reference functions: the oracle that SIMD kernels must equal bit for bit.
//!
//! Semantics are bitsandbytes' blockwise 4-bit quantizer (csrc/kernels.cu `kQuantizeBlockwise`
//! with `dQuantizeNF4` / `dQuantizeFP4`) evaluated in IEEE-754 binary32 without flush-to-zero
//! and with a correctly rounded reciprocal, which is what onnxruntime's CPU port does:
//!
//! - `absmax` = the largest `|x|` of the block (+0.0 for a block of zeros);
//! - `r = 1 / absmax` (one correctly rounded division), or `r = 0` when `absmax` is 0;
//! - every element's code is chosen from `x * r` (one rounding) by the decision thresholds in
//!   [`super::tables`], strictly greater-than, so a value exactly on a threshold takes the
//!   lower code (NF4) or the smaller magnitude (FP4);
//! - two codes per byte, the first element in the HIGH nibble; an odd block length pads the last
//!   low nibble with the code of 0.0 (NF4 7, FP4 0), as bitsandbytes does;
//! - dequantization is `table[code] * absmax`, one rounding.

use core::mem::MaybeUninit;

use super::tables::{FP4_CODE_BY_RANK, FP4_THRESHOLDS, FP4_VALUES, NF4_THRESHOLDS, NF4_VALUES};
use super::Codebook;
use crate::{Error, Result};

/// Largest magnitude accepted in the input: 2^126. Beyond it `1 / absmax` is subnormal (and
/// flushed to zero by bitsandbytes' fast-math CUDA build, which then encodes the whole block as
/// zeros), so the codes would no longer be a faithful encoding.
pub(crate) const MAX_ABS_INPUT: f32 = 8.507_059e37; // 2^126

/// Scans one block: the first NaN or infinity is [`Error::NonFinite`]; then an absmax above
/// [`MAX_ABS_INPUT`] is [`Error::ValueOutOfRange`]. Returns the block's absmax (+0.0 for zeros).
pub(crate) fn block_absmax(block: &[f32]) -> Result<f32> {
    let mut amax = 0.0f32;
    for &x in block {
        if !x.is_finite() {
            return Err(Error::NonFinite);
        }
        let a = x.abs();
        if a > amax {
            amax = a;
        }
    }
    if amax > MAX_ABS_INPUT {
        return Err(Error::ValueOutOfRange);
    }
    Ok(amax)
}

/// The factor elements are multiplied by before encoding: `1 / absmax`, or 0 for a zero block
/// (bitsandbytes' CUDA kernel would compute `0 * inf = NaN` there; onnxruntime's port, and we,
/// use 0, so a zero block gets the codes of 0.0). For `0 < absmax < 2^-128` the reciprocal
/// overflows to +inf, as in bitsandbytes.
#[inline]
pub(crate) fn reciprocal(absmax: f32) -> f32 {
    if absmax == 0.0 {
        0.0
    } else {
        1.0 / absmax
    }
}

/// NF4 code of a scaled value: the number of NF4 thresholds strictly below `v` (NaN: 0). Equal
/// to bitsandbytes' four-level `dQuantizeNF4` tree, which is a binary search over the same
/// ascending thresholds.
#[inline]
pub(crate) fn encode_nf4(v: f32) -> u8 {
    let mut code = 0u8;
    for &t in &NF4_THRESHOLDS {
        code += u8::from(v > t);
    }
    code
}

/// FP4 code of a scaled value: sign bit 8 when `v < 0` (so -0.0 and NaN get no sign), low bits
/// from the rank of `|v|` among the FP4 magnitude thresholds (strictly greater). Equal to
/// bitsandbytes' `dQuantizeFP4` tree.
#[inline]
pub(crate) fn encode_fp4(v: f32) -> u8 {
    let sign = if v < 0.0 { 0b1000 } else { 0 };
    let m = v.abs();
    let mut rank = 0usize;
    for &t in &FP4_THRESHOLDS {
        rank += usize::from(m > t);
    }
    FP4_CODE_BY_RANK[rank] | sign
}

/// Code of a scaled value in `codebook`.
#[inline]
pub(crate) fn encode(codebook: Codebook, v: f32) -> u8 {
    match codebook {
        Codebook::Nf4 => encode_nf4(v),
        Codebook::Fp4 => encode_fp4(v),
    }
}

/// The code table of `codebook`.
#[inline]
pub(crate) fn table(codebook: Codebook) -> &'static [f32; 16] {
    match codebook {
        Codebook::Nf4 => &NF4_VALUES,
        Codebook::Fp4 => &FP4_VALUES,
    }
}

/// Encodes one block whose absmax is `absmax` (from [`block_absmax`]) into
/// `(block.len() + 1) / 2` bytes of `codes` (extra bytes are not touched).
pub(crate) fn quantize_block(
    codebook: Codebook,
    block: &[f32],
    absmax: f32,
    codes: &mut [MaybeUninit<u8>],
) {
    let r = reciprocal(absmax);
    let pad = encode(codebook, 0.0);
    for (pair, out) in block.chunks(2).zip(codes.iter_mut()) {
        let hi = encode(codebook, pair[0] * r);
        let lo = match pair.get(1) {
            Some(&x) => encode(codebook, x * r),
            None => pad,
        };
        out.write((hi << 4) | lo);
    }
}

/// Decodes `dst.len()` values of one block from `codes` (high nibble first) with scale `absmax`:
/// `table[code] * absmax`. `codes` must hold at least `(dst.len() + 1) / 2` bytes; the padding
/// nibble of an odd length is ignored.
pub(crate) fn dequantize_block(
    codebook: Codebook,
    codes: &[u8],
    absmax: f32,
    dst: &mut [MaybeUninit<f32>],
) {
    let t = table(codebook);
    for (pair, &byte) in dst.chunks_mut(2).zip(codes) {
        let mut it = pair.iter_mut();
        if let Some(y) = it.next() {
            y.write(t[usize::from(byte >> 4)] * absmax);
        }
        if let Some(y) = it.next() {
            y.write(t[usize::from(byte & 0x0F)] * absmax);
        }
    }
}

/// Quantizes every block of `src` (the scalar kernel): `codes` and `absmax` are exactly as long
/// as `n` needs, `block_size` is valid. Each block is checked before it is written.
pub(crate) fn quantize_blocks(
    codebook: Codebook,
    src: &[f32],
    block_size: usize,
    codes: &mut [MaybeUninit<u8>],
    absmax: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let bytes_per_block = block_size / 2;
    for ((block, block_codes), scale) in src
        .chunks(block_size)
        .zip(codes.chunks_mut(bytes_per_block))
        .zip(absmax.iter_mut())
    {
        let a = block_absmax(block)?;
        quantize_block(codebook, block, a, block_codes);
        scale.write(a);
    }
    Ok(())
}

/// Dequantizes every block into `dst` (the scalar kernel): `codes` and `absmax` are exactly as
/// long as `dst.len()` needs, `block_size` is valid. A NaN or infinite absmax stops before its
/// block is written.
pub(crate) fn dequantize_blocks(
    codebook: Codebook,
    codes: &[u8],
    block_size: usize,
    absmax: &[f32],
    dst: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let bytes_per_block = block_size / 2;
    for ((block, block_codes), &scale) in dst
        .chunks_mut(block_size)
        .zip(codes.chunks(bytes_per_block))
        .zip(absmax)
    {
        if !scale.is_finite() {
            return Err(Error::NonFinite);
        }
        dequantize_block(codebook, block_codes, scale, block);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A literal transcription of bitsandbytes' `dQuantizeNF4` decision tree (the thresholds as
    /// bitsandbytes wrote them), to prove the counting form equal to it.
    #[allow(clippy::excessive_precision)]
    fn nf4_tree(x: f32) -> u8 {
        if x > 0.03979014977812767 {
            if x > 0.3893125355243683 {
                if x > 0.6427869200706482 {
                    if x > 0.8614784181118011 {
                        0b1111
                    } else {
                        0b1110
                    }
                } else if x > 0.5016634166240692 {
                    0b1101
                } else {
                    0b1100
                }
            } else if x > 0.2035212516784668 {
                if x > 0.2920137718319893 {
                    0b1011
                } else {
                    0b1010
                }
            } else if x > 0.1202552504837513 {
                0b1001
            } else {
                0b1000
            }
        } else if x > -0.33967943489551544 {
            if x > -0.13791173323988914 {
                if x > -0.045525018125772476 {
                    0b0111
                } else {
                    0b0110
                }
            } else if x > -0.23460740596055984 {
                0b0101
            } else {
                0b0100
            }
        } else if x > -0.6106329262256622 {
            if x > -0.4599952697753906 {
                0b0011
            } else {
                0b0010
            }
        } else if x > -0.8480964004993439 {
            0b0001
        } else {
            0b0000
        }
    }

    /// A literal transcription of bitsandbytes' `dQuantizeFP4` decision tree.
    #[allow(clippy::excessive_precision)]
    fn fp4_tree(x: f32) -> u8 {
        let sign = if x < 0.0 { 0b1000 } else { 0 };
        let x = x.abs();
        let m = if x > 0.29166667 {
            if x > 0.583333 {
                if x > 0.8333333 {
                    0b0011
                } else {
                    0b0010
                }
            } else if x > 0.4166667 {
                0b101
            } else {
                0b100
            }
        } else if x > 0.0859375 {
            if x > 0.20833333 {
                0b0111
            } else {
                0b0110
            }
        } else if x > 0.00260417 {
            0b0001
        } else {
            0b0000
        };
        m + sign
    }

    fn probe_values() -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            1.0,
            -1.0,
            1.0000001,
            -1.0000001,
        ];
        for &t in NF4_THRESHOLDS.iter().chain(&FP4_THRESHOLDS) {
            for s in [t, -t] {
                v.push(s);
                v.push(f32::from_bits(s.to_bits() + 1));
                v.push(f32::from_bits(s.to_bits() - 1));
            }
        }
        v.extend(NF4_VALUES);
        v.extend(FP4_VALUES);
        // a dense sweep of [-1.1, 1.1]
        let mut x = -1.1f32;
        while x < 1.1 {
            v.push(x);
            x += 1.0 / 4096.0;
        }
        v
    }

    #[test]
    fn counting_form_equals_bitsandbytes_trees() {
        for x in probe_values() {
            assert_eq!(encode_nf4(x), nf4_tree(x), "nf4 {x:e}");
            assert_eq!(encode_fp4(x), fp4_tree(x), "fp4 {x:e}");
        }
    }

    #[test]
    fn ties_take_the_lower_code() {
        for (i, &t) in NF4_THRESHOLDS.iter().enumerate() {
            assert_eq!(usize::from(encode_nf4(t)), i);
            assert_eq!(usize::from(encode_nf4(f32::from_bits(t.to_bits() + 1))), {
                // the next float above t (towards +inf for t > 0, towards 0 for t < 0)
                if t > 0.0 {
                    i + 1
                } else {
                    i
                }
            });
        }
        for (r, &t) in FP4_THRESHOLDS.iter().enumerate() {
            assert_eq!(encode_fp4(t), FP4_CODE_BY_RANK[r]);
            assert_eq!(encode_fp4(-t), FP4_CODE_BY_RANK[r] | 8);
        }
    }

    #[test]
    fn max_abs_input_is_two_to_the_126() {
        // 2^126 from its bits (Miri perturbs powi).
        assert_eq!(MAX_ABS_INPUT, f32::from_bits(253 << 23));
        assert_eq!(block_absmax(&[MAX_ABS_INPUT, -1.0]), Ok(MAX_ABS_INPUT));
        let above = f32::from_bits(MAX_ABS_INPUT.to_bits() + 1);
        assert_eq!(block_absmax(&[1.0, -above]), Err(Error::ValueOutOfRange));
        assert_eq!(block_absmax(&[above, f32::NAN]), Err(Error::NonFinite));
    }
}
