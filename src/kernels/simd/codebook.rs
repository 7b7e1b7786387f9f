//! NF4/FP4 codebook quantization and dequantization (bitsandbytes' layout: per block an absmax,
//! codes two per byte, the first in the high nibble), written once (the macro `kernels!`) over
//! the lane primitives of `lanes` and expanded for AVX2 and AVX-512. Each equals the scalar
//! per-block reference (`codebook::scalar`) bit for bit: the block's absmax is the largest
//! magnitude (the reference finds any bad element, and handles the part of a block after its
//! last whole 32), the codes are the references' encoders of `x * reciprocal(absmax)`
//! (`sorted_codes` for NF4, `sign_magnitude_codes` for FP4: a binary search with AVX2, bucket tables with AVX-512, tested
//! below), and the values are `table[code] * absmax`, one rounding.

use crate::reference::codebook::scalar as cb;
use crate::reference::codebook::Codebook;
use crate::{Error, Result};
use core::mem::MaybeUninit;

/// Values per vector group of the loops.
const QK: usize = 32;

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn quantize_codebook(
                book: Codebook,
                src: &[f32],
                block_size: usize,
                codes: &mut [MaybeUninit<u8>],
                absmax: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                // Below one vector group the scalar loop has no set-up to pay for.
                if src.len() < QK {
                    return cb::quantize_blocks(book, src, block_size, codes, absmax);
                }
                let t = codebook_tables();
                for ((block, bc), am) in src
                    .chunks(block_size)
                    .zip(codes.chunks_mut(block_size / 2))
                    .zip(absmax.iter_mut())
                {
                    let whole = block.len() / QK * QK;
                    // Pass 1: the largest magnitude (as integer bits). NaN and ±Inf have larger |x|
                    // bits than any finite value, so one comparison of the largest bits finds them
                    // and the values beyond the limit.
                    let mut a = splat_i(0);
                    for i in (0..whole).step_by(QK) {
                        let p = block.as_ptr().wrapping_add(i);
                        prefetch(p.wrapping_add(AHEAD));
                        prefetch(p.wrapping_add(AHEAD + 16));
                        // SAFETY: i + 32 <= whole <= block.len().
                        let v = unsafe { load_block(block.as_ptr().add(i)) };
                        for v in v {
                            a = max_u(a, abs_bits(v));
                        }
                    }
                    let bits = max_lane_u(a);
                    let mut amax = f32::from_bits(bits);
                    if bits > cb::MAX_ABS_INPUT.to_bits() || whole < block.len() {
                        // The reference finds the first bad element and its kind (or the tail's part).
                        amax = cb::block_absmax(block)?;
                    }
                    let r = splat(cb::reciprocal(amax));
                    // Pass 2: codes of x * r.
                    assert!(bc.len() >= whole / 2);
                    for i in (0..whole).step_by(QK) {
                        // SAFETY: i + 32 <= whole <= block.len().
                        let v = unsafe { load_block(block.as_ptr().add(i)) };
                        // `inline(always)`: LLVM otherwise calls AVX2's binary search out of
                        // line, 4 calls per block (9% of NF4's in-cache time).
                        let bytes = match book {
                            Codebook::Nf4 => {
                                pack_hi_first(v, #[inline(always)] |x| sorted_codes(mul(x, r), &t))
                            }
                            Codebook::Fp4 => pack_hi_first(v, #[inline(always)] |x| {
                                sign_magnitude_codes(mul(x, r), &t)
                            }),
                        };
                        // SAFETY: 16 bytes at i / 2 (i / 2 + 16 <= whole / 2, asserted).
                        unsafe { store_bytes16(bytes, bc.as_mut_ptr().add(i / 2).cast()) };
                    }
                    cb::quantize_block(book, &block[whole..], amax, &mut bc[whole / 2..]);
                    am.write(amax);
                }
                Ok(())
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_codebook(
                book: Codebook,
                codes: &[u8],
                block_size: usize,
                absmax: &[f32],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                if dst.len() < QK {
                    return cb::dequantize_blocks(book, codes, block_size, absmax, dst);
                }
                let t = float_table(cb::table(book));
                // The blocks before the first bad absmax are written, then its error reported.
                let good = absmax.iter().position(|s| !s.is_finite());
                let absmax = &absmax[..good.unwrap_or(absmax.len())];
                // One block's whole groups of 32 (`chunks_exact`: no length clamps in the loop).
                let groups = |block: &mut [MaybeUninit<f32>], bc: &[u8], s: f32| {
                    let vs = splat(s);
                    for (out, c) in block.chunks_exact_mut(QK).zip(bc.chunks_exact(QK / 2)) {
                        // SAFETY: 16 bytes at c, 32 floats at out (L k + L <= 32).
                        unsafe {
                            let v = codebook_values(c.as_ptr(), t);
                            for (k, v) in v.into_iter().enumerate() {
                                store(mul(v, vs), out.as_mut_ptr().add(L * k).cast());
                            }
                        }
                    }
                };
                // Whole blocks (a block size is a power of two from 32 up: whole groups of 32),
                // then the last, partial block, if any.
                let whole = (dst.len() / block_size).min(absmax.len());
                let (head, tail) = dst.split_at_mut(whole * block_size);
                for ((block, bc), &s) in head
                    .chunks_exact_mut(block_size)
                    .zip(codes.chunks_exact(block_size / 2))
                    .zip(absmax)
                {
                    groups(block, bc, s);
                }
                if let (false, Some(&s)) = (tail.is_empty(), absmax.get(whole)) {
                    let bc = &codes[whole * block_size / 2..];
                    let w = tail.len() / QK * QK;
                    groups(&mut tail[..w], bc, s);
                    if w < tail.len() {
                        cb::dequantize_block(book, &bc[w / 2..], s, &mut tail[w..]);
                    }
                }
                match good {
                    Some(_) => Err(Error::NonFinite),
                    None => Ok(()),
                }
            }
        }
    };
}

instantiate_per_level!();

#[cfg(test)]
mod tests {
    use crate::reference::codebook::scalar as cb;
    use crate::reference::codebook::tables::{FP4_THRESHOLDS, NF4_THRESHOLDS};

    /// Each level's encoders against the scalar ones near every threshold and bucket edge, at
    /// the specials and on a dense sweep.
    #[test]
    fn codebook_encoders_match_the_reference() {
        let mut points: Vec<f32> = NF4_THRESHOLDS
            .iter()
            .chain(&FP4_THRESHOLDS)
            .copied()
            .collect();
        points.extend((-17..=17).map(|b| b as f32 / 16.0));
        points.extend([0.0, 1.0, -1.0, 1e-30, -1e-30]);
        let mut xs: Vec<f32> = vec![f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0];
        for p in points {
            for q in [p, -p] {
                for d in 0..2000u32 {
                    xs.push(f32::from_bits(q.to_bits().wrapping_add(d)));
                    xs.push(f32::from_bits(q.to_bits().wrapping_sub(d)));
                }
            }
        }
        xs.extend((0..100_000).map(|i| i as f32 / 40_000.0 - 1.25));
        let xs = &xs[..];
        each_level!(|l, _k, xs: &[f32]| {
            let t = l::codebook_tables();
            for chunk in xs.chunks(l::L) {
                let mut v = [0.0f32; l::L];
                v[..chunk.len()].copy_from_slice(chunk);
                let nf = l::lanes_i(l::sorted_codes(l::from_lanes(v), &t));
                let fp = l::lanes_i(l::sign_magnitude_codes(l::from_lanes(v), &t));
                for ((x, n), f) in v.iter().zip(nf).zip(fp) {
                    let bits = x.to_bits();
                    assert_eq!(
                        n as u8,
                        cb::encode_nf4(*x),
                        "nf4 {x:e} ({bits:#010x}), {}",
                        l::L
                    );
                    assert_eq!(
                        f as u8,
                        cb::encode_fp4(*x),
                        "fp4 {x:e} ({bits:#010x}), {}",
                        l::L
                    );
                }
            }
        });
    }
}
