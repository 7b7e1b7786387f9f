//! Block dequantizers (Q4_0, Q4_1, IQ4_NL, MXFP4, int4 groups of a multiple of 32), one block of
//! 32 values at a time, written once (the macro `kernels!`) over the lane primitives of `lanes` and
//! expanded for AVX2 and AVX-512. Each equals the scalar per-block reference bit for bit: a
//! block's codes become exact small integers (`ggml_values`, `ggml_codes`, `unpack_pairs`), multiplied by
//! the block's scale with one rounding (and for Q4_1 the minimum added, a second rounding: no
//! fused multiply-add), as the references compute them; each block's scale is checked first,
//! and a bad one ends the call with its error after the blocks before it.

use crate::kernels::groups::dequantize_groups_with;
use crate::reference::formats::fp16::f16_is_finite;
use crate::reference::formats::{e2m1, iq4_nl, mxfp4, nl_codebook, q4_0, q4_1};
use crate::reference::formats::{BlockFormat, DequantizeBlocks};
use crate::reference::int4::{check_params, Params};
use crate::{Error, Result};
use core::mem::MaybeUninit;

/// Values per block.
const QK: usize = 32;

/// Q4_0's values by code (`q - 8`).
const Q4_0_TABLE: [i8; 16] = [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7];

/// The kernels, written once: expanded inside a module that imports one level's lane
/// primitives (`lanes::x86_64::avx2`, `lanes::x86_64::avx512` or `lanes::aarch64::neon`), with that level's features.
macro_rules! kernels {
    ($features:literal) => {
        use super::*;

        with_features! { $features;
            /// Writes a block's 32 floats at the start of `out`.
            fn put_block(out: &mut [MaybeUninit<f32>], v: Block) {
                assert!(out.len() >= QK);
                for (k, v) in v.into_iter().enumerate() {
                    // SAFETY: L floats at L k < 32 (asserted).
                    unsafe { store(v, out.as_mut_ptr().add(L * k).cast()) };
                }
            }

            /// The finite binary16 at `b[at..at + 2]` as f32, or the reference's error.
            fn f16_field(b: &[u8], at: usize) -> Result<f32> {
                let h = u16::from_le_bytes([b[at], b[at + 1]]);
                if !f16_is_finite(h) {
                    return Err(Error::NonFinite);
                }
                Ok(f16_to_f32(h))
            }

            /// Dequantizes blocks of `N` bytes whose values are `d * t[code]` with small integers
            /// from a table: Q4_0 (q - 8), IQ4_NL and MXFP4 (their codebooks). `scale` reads a
            /// block's d (or its error), `at` is where its 16 code bytes start. The products are the
            /// reference's (exact integers times d, one rounding; multiplication commutes).
            fn dequantize_table<const N: usize>(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
                table: &[i8; 16],
                at: usize,
                scale: impl Fn(&[u8]) -> Result<f32>,
            ) -> Result<()> {
                let t = byte_table(table);
                for (b, out) in src.chunks_exact(N).zip(dst.chunks_exact_mut(QK)) {
                    let d = splat(scale(b)?);
                    assert!(at + 16 <= b.len());
                    // SAFETY: 16 code bytes at `at` (asserted).
                    let v = unsafe { ggml_values(b.as_ptr().add(at), t) };
                    put_block(out, v.map(|v| mul(v, d)));
                }
                Ok(())
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_q4_0(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                dequantize_table::<{ q4_0::BYTES }>(src, dst, &Q4_0_TABLE, 2, |b| f16_field(b, 0))
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_iq4_nl(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                let kv = &nl_codebook::KVALUES;
                dequantize_table::<{ iq4_nl::BYTES }>(src, dst, kv, 2, |b| f16_field(b, 0))
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_mxfp4(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                let scale = |b: &[u8]| match b[0] {
                    0xFF => Err(Error::NonFinite),
                    e => Ok(mxfp4::e8m0_to_f32_half(e)),
                };
                dequantize_table::<{ mxfp4::BYTES }>(src, dst, &e2m1::KVALUES, 1, scale)
            }

            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_q4_1(
                src: &[u8],
                dst: &mut [MaybeUninit<f32>],
            ) -> Result<()> {
                for (b, out) in src.chunks_exact(q4_1::BYTES).zip(dst.chunks_exact_mut(QK)) {
                    let (d, m) = (splat(f16_field(b, 0)?), splat(f16_field(b, 2)?));
                    // SAFETY: 16 code bytes at b[4..20].
                    let v = unsafe { ggml_codes(b.as_ptr().add(4)) };
                    // q * d + m: a multiply, then an add (no fused multiply-add), as the reference.
                    put_block(out, v.map(|v| add(mul(v, d), m)));
                }
                Ok(())
            }

            /// Group-wise dequantization: groups of a multiple of 32 values by
            /// [`dequantize_whole_groups`], other sizes by the group loop over the level's
            /// `dequantize_packed`.
            ///
            /// Safety: the CPU has the level's features.
            pub(crate) unsafe fn dequantize_groups(
                codes: &[u8],
                group_size: usize,
                scales: &[f32],
                zero_points: &[i8],
                dst: &mut [MaybeUninit<f32>],
                dequantize_packed: fn(&[u8], f32, i8, &mut [MaybeUninit<f32>]),
            ) -> Result<()> {
                let (c, s, z) = (codes, scales, zero_points);
                if group_size % QK == 0 {
                    // SAFETY: the same features (the caller's).
                    unsafe { dequantize_whole_groups(c, group_size, s, z, dst, dequantize_packed) }
                } else {
                    dequantize_groups_with(dequantize_packed, c, group_size, s, z, dst)
                }
            }

            /// Dequantizes the whole groups (`group_size` a multiple of 32) 32 values at a time
            /// (`(code - zp) as f32 * scale`, as `scalar::dequantize_one`: an exact integer
            /// difference, converted exactly, one rounding), checking each group's parameters
            /// first as the group loop does; a last partial group goes to that loop, with the
            /// level's `dequantize_packed`.
            ///
            /// Safety: the CPU has the level's features.
            unsafe fn dequantize_whole_groups(
                codes: &[u8],
                group_size: usize,
                scales: &[f32],
                zero_points: &[i8],
                dst: &mut [MaybeUninit<f32>],
                dequantize_packed: fn(&[u8], f32, i8, &mut [MaybeUninit<f32>]),
            ) -> Result<()> {
                let whole = dst.len() / group_size;
                let (head, tail) = dst.split_at_mut(whole * group_size);
                assert!(codes.len() >= whole * group_size / 2 && scales.len() >= whole);
                // (Zipped exact chunks: no index or length check per group. No zero points: 0.)
                let zps = zero_points.iter().copied().chain(core::iter::repeat(0));
                let groups = head
                    .chunks_exact_mut(group_size)
                    .zip(codes.chunks_exact(group_size / 2));
                for ((out, b), (&scale, zero_point)) in groups.zip(scales.iter().zip(zps)) {
                    let p = Params { scale, zero_point };
                    check_params(p)?;
                    let (s, z) = (splat(p.scale), splat_i(i32::from(p.zero_point)));
                    for (out, b) in out.chunks_exact_mut(QK).zip(b.chunks_exact(QK / 2)) {
                        // SAFETY: 16 bytes in `b`.
                        let c = unsafe { unpack_pairs(b.as_ptr()) };
                        put_block(out, c.map(|c| mul(cvt_f(sub_i(c, z)), s)));
                    }
                }
                let zp_rest = zero_points.get(whole..).unwrap_or(&[]);
                dequantize_groups_with(
                    dequantize_packed,
                    &codes[whole * group_size / 2..],
                    group_size,
                    &scales[whole..],
                    zp_rest,
                    tail,
                )
            }
            // The level's entries of the block-format tables (`kernels::format_tables`). They are
            // reached only through the level's `KERNELS`, which `kernels::levels()` hands out only
            // when the CPU has the level's features: the safety argument of each call below.
            pub(crate) const DEQUANTIZE: &[(BlockFormat, DequantizeBlocks)] = &[
                (BlockFormat::Q4_0, |s, d| unsafe { dequantize_q4_0(s, d) }),
                (BlockFormat::Q4_1, |s, d| unsafe { dequantize_q4_1(s, d) }),
                (BlockFormat::Iq4Nl, |s, d| unsafe {
                    dequantize_iq4_nl(s, d)
                }),
                (BlockFormat::Mxfp4, |s, d| unsafe { dequantize_mxfp4(s, d) }),
            ];
        }
    };
}

instantiate_per_level!();
